import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../domain/config.js';
import { EventTypeRegistry } from '../domain/event-types.js';
import { Engine } from '../engine.js';
import { SIM_PRESETS, simulate } from '../sim/index.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { LOG_EVENT } from '../store/store.js';
import { collectHoldoutExamples } from './holdout.js';
import { buildRankerDataset } from './ranker-dataset.js';

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
    } finally {
      await byCandidates.shadow.close();
    }
  } finally {
    await engine.close();
  }
});
