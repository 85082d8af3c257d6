import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../domain/config.js';
import { EventTypeRegistry } from '../domain/event-types.js';
import { Engine } from '../engine.js';
import { SIM_PRESETS, simulate } from '../sim/index.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { makeCandidate, type Candidate } from '../pipeline/types.js';
import { itemEngagementRate } from './affinity.js';
import { FEATURE_FAMILIES, FeatureRegistry, type CandidateFeatureProvider } from './registry.js';

async function tinyPlatform(): Promise<Engine> {
  const config = parseConfig({ rank: { learn: false }, feed: { fusion: { learn: false } } });
  const store = SqliteStore.open({ path: ':memory:', types: new EventTypeRegistry(config.eventTypes), synchronous: 'OFF' });
  const engine = await Engine.open(config, { store, logImpressions: false });
  await engine.importStream(simulate({ ...SIM_PRESETS.tiny }));
  return engine;
}

test('features: one column per name, filled from the state for a real request', async () => {
  const engine = await tinyPlatform();
  try {
    await engine.trainSources();
    const registry = engine.featureRegistry();
    const names = registry.names;
    assert.equal(new Set(names).size, names.length);
    assert.ok(names.length >= 50, `${names.length} features`);
    for (const s of engine.sources) assert.ok(names.includes(`src_${s.source.name}_rank`));
    // Families are laid out back to back.
    let offset = 0;
    for (const l of registry.layout) {
      assert.equal(l.offset, offset);
      offset += l.width;
    }
    assert.equal(offset, names.length);
    // A cascade's deferred families: their columns off, the rest on; unknown or list-wide families refused.
    const allowed = registry.columnsWithout(['user_author', 'model'], 'rank.cascade.deferFamilies');
    for (const l of registry.layout) for (let j = l.offset; j < l.offset + l.width; j++) assert.equal(allowed[j], l.family.name === 'user_author' || l.family.name === 'model' ? 0 : 1, names[j]);
    assert.throws(() => registry.columnsWithout(['usr'], 'rank.cascade.deferFamilies'), /rank\.cascade\.deferFamilies: unknown feature family "usr"/);
    assert.throws(() => registry.columnsWithout(['source'], 'rank.cascade.deferFamilies'), /"source" depends on the whole candidate list/);

    let user = -1;
    let candidates: Candidate[] = [];
    for (let u = 0; u < engine.store.userIds.length && candidates.length <= 50; u++) {
      if (engine.state.history.size(u) > 5 && engine.state.following.size(u) > 0) [user, candidates] = [u, await engine.retrieve(u)];
    }
    assert.ok(candidates.length > 20);
    const X = registry.compute(engine.requestQuery(user), candidates);
    const d = registry.width;
    assert.equal(X.length, candidates.length * d);
    const col = (name: string) => names.indexOf(name);
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i]!;
      for (let j = 0; j < d; j++) assert.ok(!Number.isFinite(X[i * d + j]!) ? Number.isNaN(X[i * d + j]!) : true, `${names[j]} is ±Infinity`);
      // User features are the same for every candidate of the request.
      assert.equal(X[i * d + col('user_following')], X[col('user_following')]);
      // Follow edge and source membership match the state and the candidate.
      assert.equal(X[i * d + col('ua_follows')], c.author >= 0 && engine.state.following.has(user, c.author) ? 1 : 0);
      assert.equal(X[i * d + col('src_count')], c.sources.length);
      for (const h of c.sources) assert.equal(X[i * d + col(`src_${h.source}_rank`)], h.rank);
      // Counts: the item's longest-window engagement is log(1 + decayed count).
      const nw = engine.state.itemCounts.windows.length;
      const expected = Math.log1p(engine.state.itemCounts.get(c.item, 0, engine.state.ENGAGED, nw - 1, engine.now()));
      const longest = names.filter((n) => n.startsWith('item_engaged_')).at(-1)!;
      assert.equal(longest, 'item_engaged_50d');
      assert.ok(Math.abs(X[i * d + col(longest)]! - expected) < 1e-4, `${X[i * d + col(longest)]} vs ${expected}`);
    }
    // Sources a candidate did not come from are missing, not 0.
    const some = candidates.findIndex((c) => !c.sources.some((h) => h.source === 'popular'));
    if (some >= 0) assert.ok(Number.isNaN(X[some * d + col('src_popular_rank')]!));
  } finally {
    await engine.close();
  }
});

test('features: absurd inputs are repaired or flagged, a failing provider leaves its columns missing, nothing throws', async () => {
  const engine = await tinyPlatform();
  try {
    const broken: CandidateFeatureProvider & { name: string } = {
      name: 'broken',
      featureNames: () => ['a', 'b'],
      candidateFeatures: () => {
        throw new Error('model file is corrupt');
      },
    };
    const infinite: CandidateFeatureProvider & { name: string } = {
      name: 'wild',
      featureNames: () => ['x'],
      candidateFeatures: (_q, cands, out, stride, offset) => cands.forEach((_, i) => (out[i * stride + offset] = i % 2 ? Infinity : -Infinity)),
    };
    const registry = new FeatureRegistry({ state: engine.state, sources: ['popular'], providers: [broken, infinite] }, FEATURE_FAMILIES);
    const q = engine.requestQuery(0);
    const future = engine.now() + 86_400_000;
    const items = engine.state.items;
    const garbage: Candidate[] = [
      // An item the state has never seen, with no author, from an unknown source with a NaN score.
      { item: items + 50, author: -1, inNetwork: false, sources: [{ source: 'nope', score: NaN, rank: -3 }], score: NaN },
      { item: 0, author: 999_999, inNetwork: true, sources: [{ source: 'popular', score: Infinity, rank: 1 }], score: Infinity },
    ];
    // An item created in the future: age 0 and the flag.
    engine.state.applyItems([{ index: items + 60, author: -1, createdAt: future, tags: [] }]);
    garbage.push({ item: items + 60, author: -1, inNetwork: false, sources: [], score: 0 });
    const X = registry.compute(q, garbage);
    const d = registry.width;
    const col = (n: string) => registry.names.indexOf(n);
    for (let j = 0; j < X.length; j++) assert.ok(Number.isNaN(X[j]!) || Number.isFinite(X[j]!), `${registry.names[j % d]} = ${X[j]}`);
    for (let i = 0; i < garbage.length; i++) {
      assert.ok(Number.isNaN(X[i * d + col('broken_a')]!) && Number.isNaN(X[i * d + col('broken_b')]!));
      assert.ok(Number.isNaN(X[i * d + col('wild_x')]!));
    }
    assert.ok(Number.isNaN(X[1 * d + col('src_popular_score')]!), 'an infinite source score is missing');
    assert.equal(X[2 * d + col('item_age_hours')], 0);
    assert.equal(X[2 * d + col('item_age_future')], 1);
    assert.ok(registry.repaired >= 3, `repaired ${registry.repaired}`);
  } finally {
    await engine.close();
  }
});

test('item features: the per-item row cache gives every counter as decayed from its own update, after new events, for a request before the latest update, and for items sharing a cache slot', async () => {
  const engine = await tinyPlatform();
  try {
    const registry = engine.featureRegistry();
    const st = engine.state;
    const table = st.itemCounts;
    const nw = table.windows.length;
    const names = registry.names;
    const d = registry.width;
    const labels = names.filter((n) => n.startsWith('item_engaged_')).map((n) => n.slice('item_engaged_'.length));
    assert.equal(labels.length, nw);
    const typeCols = st.types.specs.map((s, t) => ({ t, name: `item_${s.name}_${labels[nw - 1]}` })).filter((x) => names.includes(x.name));
    assert.ok(typeCols.length >= 3, typeCols.map((x) => x.name).join(','));
    // The item columns computed counter by counter, each decayed from its own last update.
    const expected = (item: number, now: number): Map<string, number> => {
      const eng = new Float64Array(nw);
      const imp = new Float64Array(nw);
      table.getAll(item, 0, st.ENGAGED, now, eng);
      if (st.impressionType >= 0) table.getAll(item, 0, st.impressionType, now, imp);
      const m = new Map<string, number>();
      labels.forEach((l, k) => {
        m.set(`item_engaged_${l}`, Math.log1p(eng[k]!));
        m.set(`item_impressions_${l}`, Math.log1p(imp[k]!));
        m.set(`item_rate_${l}`, (eng[k]! + 0.4) / (Math.max(imp[k]!, eng[k]!) + 20));
      });
      for (const { t, name } of typeCols) m.set(name, Math.log1p(table.get(item, 0, t, nw - 1, now)));
      return m;
    };
    const check = (candidates: Candidate[], now: number, what: string) => {
      const q = { ...engine.requestQuery(0), now };
      const X = registry.compute(q, candidates);
      candidates.forEach((c, i) => {
        for (const [name, v] of expected(c.item, now)) {
          const got = X[i * d + names.indexOf(name)]!;
          assert.ok(Math.abs(got - v) <= 1e-6 * Math.max(1, Math.abs(v)), `${what}: item ${c.item} ${name} ${got} vs ${v}`);
        }
      });
    };
    const busy = Array.from({ length: st.items }, (_, i) => i).filter((i) => table.rowVersion(i) > 3).slice(0, 40);
    assert.ok(busy.length >= 20, `${busy.length} items with counters`);
    const candidates = busy.map((item) => ({ item, author: st.author(item), inNetwork: false, sources: [], score: 1 }) as Candidate);
    const now = engine.now();
    check(candidates, now, 'first request');
    check(candidates, now + 3_600_000, 'cached rows, an hour later');
    // New events on two of the items: their rows are recomputed (the version moved), the others reused.
    const [a, b] = [candidates[0]!.item, candidates[1]!.item];
    const before = table.rowVersion(a);
    const like = st.types.code('like');
    table.add(a, 0, like, now + 7_200_000);
    table.add(b, 0, st.ENGAGED, now + 7_200_000);
    assert.ok(table.rowVersion(a) > before);
    check(candidates, now + 10_800_000, 'after new events');
    // A request before the items' latest update (a replay's clock): each counter at that time.
    check(candidates, now + 3_600_000, 'before the latest update');
    // The in-network source's engagement rate reads a cached row when there is one, else the two counters: the same value.
    const direct = (item: number, w: number, at: number) => {
      const e = table.get(item, 0, st.ENGAGED, w, at);
      const m = st.impressionType >= 0 ? table.get(item, 0, st.impressionType, w, at) : 0;
      return (e + 0.4) / (Math.max(m, e) + 20);
    };
    const uncached = Array.from({ length: st.items }, (_, i) => i).find((i) => table.rowVersion(i) > 0 && !busy.includes(i))!;
    for (const item of [...busy.slice(0, 5), uncached]) {
      for (let w = 0; w < nw; w++) {
        const got = itemEngagementRate(st, item, w, now + 10_800_000);
        const want = direct(item, w, now + 10_800_000);
        assert.ok(Math.abs(got - want) <= 1e-12, `rate of ${item} in window ${w}: ${got} vs ${want}`);
      }
    }
    // Items in the same cache slot (ids 65,536 apart) take turns without mixing their rows.
    const far = a + 65_536;
    table.add(far, 0, st.ENGAGED, now, 5);
    const pair = [candidates[0]!, { item: far, author: -1, inNetwork: false, sources: [], score: 1 } as Candidate];
    check(pair, now + 10_800_000, 'slot shared (1)');
    check([...pair].reverse(), now + 10_800_000, 'slot shared (2)');
  } finally {
    await engine.close();
  }
});

test('attribute features (rank.attributeFeatures): the item’s value and its difference from the mean over the user’s positive history', async () => {
  const config = parseConfig({ feed: { maxPostAge: 0, fusion: { learn: false } }, rank: { attributeFeatures: ['year', 'price'] } });
  const store = SqliteStore.open({ path: ':memory:', types: new EventTypeRegistry(config.eventTypes), synchronous: 'OFF' });
  const engine = await Engine.open(config, { store, logImpressions: false });
  try {
    const t = Date.UTC(2026, 0, 1);
    const movie = (id: string, year?: number) => ({ kind: 'item' as const, item: { id, ...(year === undefined ? {} : { attributes: { year } }) } });
    const like = (u: string, i: string, k: number, type = 'like') => ({ kind: 'event' as const, event: { userId: u, itemId: i, type, timestamp: t + k * 1000 } });
    await engine.importStream([movie('m1', 1990), movie('m2', 2000), movie('m3', 2010), movie('m4'), movie('m5', 1950), like('u', 'm1', 1), like('u', 'm2', 2), like('u', 'm5', 3, 'not_interested'), like('v', 'm4', 4)]);
    const registry = engine.featureRegistry();
    const at = registry.names.indexOf('attr_year');
    assert.deepEqual(registry.names.slice(at, at + 4), ['attr_year', 'attr_year_diff', 'attr_price', 'attr_price_diff']);
    const row = (userId: string, itemId: string) => {
      const X = registry.compute(engine.requestQuery(engine.store.userIndex(userId)!), [makeCandidate(engine.store.itemIndex(itemId)!, -1, false, undefined, 0)]);
      return Array.from(X.subarray(at, at + 4));
    };
    // u liked 1990 and 2000 (the not_interested 1950 is not a positive): mean 1995.
    assert.deepEqual(row('u', 'm3'), [2010, 15, NaN, NaN]);
    assert.deepEqual(row('u', 'm4'), [NaN, NaN, NaN, NaN]);
    // v's only positive item has no year: no mean.
    assert.deepEqual(row('v', 'm1'), [1990, NaN, NaN, NaN]);
  } finally {
    await engine.close();
  }
});
