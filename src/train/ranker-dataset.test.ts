import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../domain/config.js';
import { EventTypeRegistry } from '../domain/event-types.js';
import { Engine } from '../engine.js';
import { SIM_PRESETS, simulate } from '../sim/index.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { LOG_EVENT } from '../store/store.js';
import { collectHoldoutExamples } from './holdout.js';
import { buildRankerDataset, withoutUnweighted } from './ranker-dataset.js';
import { makeCandidate } from '../pipeline/types.js';

const DAY = 86_400_000;

test('ranker training set from impressions: one row per post shown after the cutoff, its slot, the reactions that followed, requests in time order', async () => {
  const config = parseConfig({ store: { db: ':memory:' } });
  const store = SqliteStore.open({ path: ':memory:', types: new EventTypeRegistry(config.eventTypes), synchronous: 'OFF' });
  const engine = await Engine.open(config, { store, logImpressions: false });
  try {
    await engine.importStream(simulate({ ...SIM_PRESETS.tiny }));
    const state = engine.state;

    // What the log says happened after the cutoff, read independently of the builder.
    let last = -Infinity;
    const rows: { user: number; item: number; type: number; ts: number; context: string | null }[] = [];
    for await (const c of engine.store.readLog(0, 65536, true)) {
      for (let r = 0; r < c.length; r++) {
        last = Math.max(last, c.ts[r]!);
        if (c.kind[r] === LOG_EVENT) rows.push({ user: c.user[r]!, item: c.target[r]!, type: c.type[r]!, ts: c.ts[r]!, context: c.context[r] ?? null });
      }
    }
    const cutoff = last - DAY;
    const shownAt = new Map<string, number>(); // user:item → slot of the first showing after the cutoff
    const reactedAfter = new Map<string, Set<number>>();
    const reactedBefore = new Set<string>();
    for (const e of rows) {
      const key = `${e.user}:${e.item}`;
      if (e.type === state.impressionType) {
        if (e.ts > cutoff && !shownAt.has(key)) shownAt.set(key, (JSON.parse(e.context!) as { position: number }).position);
      } else if (state.polarity[e.type]! !== 0) {
        if (e.ts <= cutoff) reactedBefore.add(key);
        else {
          let s = reactedAfter.get(key);
          if (!s) reactedAfter.set(key, (s = new Set()));
          s.add(e.type);
        }
      }
    }
    assert.ok(shownAt.size > 1000, `${shownAt.size} impressions after the cutoff`);

    const examples = await collectHoldoutExamples(engine, { ...config.feed.fusion, users: 50, impressions: 'auto', minImpressions: 1000, impressionUsers: 1000 });
    assert.ok(!('skipped' in examples), 'skipped' in examples ? examples.skipped : '');
    try {
      assert.equal(examples.kind, 'impressions');
      const shadow = examples.shadow;
      const registry = shadow.featureRegistry();
      const ds = buildRankerDataset(examples, registry, (u, x) => shadow.requestQuery(u, x), (q, c) => shadow.fusion.score(q, c), {
        candidatesPerUser: 300,
        maxCandidates: 1000,
        minPositives: 20,
        seed: 1,
      });
      assert.equal(ds.kind, 'impressions');
      assert.ok(ds.n > 1000, `${ds.n} rows`);
      assert.ok(ds.heads.includes('engaged') && ds.heads.length > 1, ds.heads.join(','));
      const slot = ds.features.indexOf('slot');
      const srcCount = ds.features.indexOf('src_count');
      const rankColumns = ds.features.flatMap((f, j) => (/^src_.*_rank$/.test(f) ? [j] : []));
      const engaged = ds.labels[0]!;
      const click = ds.labels[ds.heads.indexOf('click')];
      let positives = 0;
      let unretrieved = 0;
      for (let g = 0; g < ds.groupUser.length; g++) {
        // Requests in time order (the later ones are the validation slice).
        if (g > 0) assert.ok(ds.groupTime[g]! >= ds.groupTime[g - 1]!);
        const user = ds.groupUser[g]!;
        for (let r = ds.groups[g]!; r < ds.groups[g + 1]!; r++) {
          const key = `${user}:${ds.item[r]}`;
          // Every row is a post the user was shown after the cutoff and had not reacted to before.
          assert.ok(shownAt.has(key), `row ${r} (${key}) was not shown after the cutoff`);
          assert.ok(!reactedBefore.has(key));
          assert.ok(Math.abs(ds.X[r * ds.d + slot]! - Math.log1p(shownAt.get(key)!)) < 1e-6, `slot of ${key}`);
          // Labels: the reactions that followed.
          const after = reactedAfter.get(key);
          const isEngaged = after !== undefined && [...after].some((t) => state.polarity[t]! > 0);
          assert.equal(engaged[r], isEngaged ? 1 : 0, `engaged label of ${key}`);
          if (click) assert.equal(click[r], after?.has(state.types.code('click')) ? 1 : 0);
          if (isEngaged) positives++;
          if (ds.X[r * ds.d + srcCount] === 0) {
            unretrieved++;
            for (const j of rankColumns) assert.ok(Number.isNaN(ds.X[r * ds.d + j]!), `${ds.features[j]} of unretrieved ${key}`);
          }
        }
      }
      assert.ok(positives > 20, `${positives} engaged rows`);
      // Most shown posts are among the shadow's candidates (those that are not are rows too, without source features).
      assert.ok(unretrieved < ds.n / 2, `${unretrieved} of ${ds.n} rows not retrieved`);
    } finally {
      await examples.shadow.close();
    }

    // Without impressions (or when told so): one group per held-out user, from the candidates.
    const byCandidates = await collectHoldoutExamples(engine, { ...config.feed.fusion, users: 50, impressions: 'never' });
    assert.ok(!('skipped' in byCandidates));
    try {
      assert.equal(byCandidates.kind, 'candidates');
      const shadow = byCandidates.shadow;
      const ds = buildRankerDataset(byCandidates, shadow.featureRegistry(), (u, x) => shadow.requestQuery(u, x), (q, c) => shadow.fusion.score(q, c), {
        candidatesPerUser: 60,
        maxCandidates: 1000,
        minPositives: 20,
        seed: 1,
      });
      assert.equal(ds.kind, 'candidates');
      assert.equal(new Set(ds.groupUser).size, ds.groupUser.length);
      const slot = ds.features.indexOf('slot');
      for (let r = 0; r < ds.n; r++) assert.equal(ds.X[r * ds.d + slot], 0);
      for (let g = 0; g < ds.groupUser.length; g++) assert.ok(ds.groups[g + 1]! - ds.groups[g]! <= 60);

      // Sources the fusion weighs 0 are not fetched when serving: their hits are off the rows too.
      const unweighted = new Set(['embedding', 'social_graph', 'communities']);
      const skipped = buildRankerDataset(byCandidates, shadow.featureRegistry(), (u, x) => shadow.requestQuery(u, x), (q, c) => shadow.fusion.score(q, c), {
        candidatesPerUser: 60,
        // A scope of 5: the weighted sources always leave that many (no fallback to every source).
        maxCandidates: 5,
        minPositives: 20,
        seed: 1,
        unweighted,
      });
      const column = (name: string) => skipped.features.indexOf(name);
      let weightedHits = 0;
      for (let r = 0; r < skipped.n; r++) {
        for (const name of unweighted) assert.ok(Number.isNaN(skipped.X[r * skipped.d + column(`src_${name}_rank`)]!), `src_${name}_rank of row ${r}`);
        if (!Number.isNaN(skipped.X[r * skipped.d + column('src_in_network_rank')]!)) weightedHits++;
      }
      assert.ok(weightedHits > 0, 'rows keep the weighted sources');
      const full = (name: string) => Array.from({ length: ds.n }, (_, r) => ds.X[r * ds.d + ds.features.indexOf(`src_${name}_rank`)]!).filter((v) => !Number.isNaN(v)).length;
      assert.ok(full('embedding') > 0, 'without the option the rows have embedding ranks');
    } finally {
      await byCandidates.shadow.close();
    }
  } finally {
    await engine.close();
  }
});

test('withoutUnweighted: hits of the sources weighed 0 removed, candidates only they proposed dropped, all kept when the rest are too few', () => {
  const hit = (source: string, rank: number) => ({ source, score: 1 / rank, rank });
  const make = (item: number, ...sources: string[]) => {
    const c = makeCandidate(item, -1, false, hit(sources[0]!, item + 1), 0);
    for (const s of sources.slice(1)) c.sources.push(hit(s, item + 1));
    return c;
  };
  const candidates = [make(0, 'a'), make(1, 'a', 'z'), make(2, 'z'), ...Array.from({ length: 20 }, (_, k) => make(10 + k, 'a'))];
  const before = JSON.stringify(candidates);
  const out = withoutUnweighted(candidates, new Set(['z']), 22);
  assert.deepEqual(out.map((c) => c.item), candidates.filter((c) => c.item !== 2).map((c) => c.item));
  assert.deepEqual(out.find((c) => c.item === 1)!.sources.map((h) => h.source), ['a']);
  assert.equal(out[0], candidates[0]); // untouched candidates are the same objects
  assert.equal(JSON.stringify(candidates), before); // the examples are not changed
  // 22 weighted candidates, fewer than a scope of 23: serving would fetch the others too.
  assert.equal(withoutUnweighted(candidates, new Set(['z']), 23).length, candidates.length);
});

test('engine: the sources a learned fusion weighs 0 are not fetched for a request, unless switched off', async () => {
  for (const skip of [true, false]) {
    const config = parseConfig({ store: { db: ':memory:' }, feed: { fusion: { learn: false, skipUnweighted: skip } }, rank: { learn: false, maxCandidates: 100 } });
    const store = SqliteStore.open({ path: ':memory:', types: new EventTypeRegistry(config.eventTypes), synchronous: 'OFF' });
    const engine = await Engine.open(config, { store, logImpressions: false });
    try {
      await engine.importStream(simulate({ ...SIM_PRESETS.tiny }));
      const names = engine.sources.map((e) => e.source.name);
      assert.equal(engine.unweightedSources(), undefined, 'no learned fusion: every source runs');
      const weights = Object.fromEntries(names.map((n) => [n, n === 'popular' || n === 'in_network' ? 1 : 0]));
      engine.fusion.setModel({ format: 'lenta.fusion.v2', sources: names, weights, k0: 60, report: { users: 0, validationUsers: 0, positives: 0, k: 10, validation: { learned: 0, rrf: 0, sources: {} }, seconds: 0, phases: { shadow: 0, examples: 0, ascent: 0 } } });
      const off = engine.unweightedSources();
      if (!skip) {
        assert.equal(off, undefined);
        continue;
      }
      assert.deepEqual([...off!].sort(), names.filter((n) => weights[n] === 0).sort());
      // Per request: the weighted sources alone when they leave at least the heavy ranker's scope
      // (rank.maxCandidates 100 here) after the filters; else every source (the filters are per
      // item: the weighted candidates among the result are what the first round left).
      let skipped = 0;
      let fallback = 0;
      const users = engine.store.userIds.map((_, u) => u).filter((u) => engine.state.following.size(u) > 0 && engine.state.history.size(u) > 0);
      for (const user of users.slice(0, 40)) {
        const candidates = await engine.retrieve(user);
        const weighted = candidates.filter((c) => c.sources.some((h) => !off!.has(h.source))).length;
        if (candidates.some((c) => c.sources.some((h) => off!.has(h.source)))) {
          fallback++;
          assert.ok(weighted < 100, `user ${user}: the others fetched with ${weighted} weighted candidates`);
        } else {
          skipped++;
          assert.ok(weighted >= 100, `user ${user}: ${weighted} candidates without the others`);
        }
      }
      assert.ok(skipped > 0, `${skipped} requests skipped the unweighted sources, ${fallback} fell back`);
    } finally {
      await engine.close();
    }
  }
});
