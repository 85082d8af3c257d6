import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../domain/config.js';
import { EventTypeRegistry } from '../domain/event-types.js';
import { Engine } from '../engine.js';
import { SIM_PRESETS, simulate } from '../sim/index.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Candidate } from '../pipeline/types.js';
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
