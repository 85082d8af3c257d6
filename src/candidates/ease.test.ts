import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../domain/config.js';
import { DEFAULT_EVENT_TYPES, EventTypeRegistry } from '../domain/event-types.js';
import type { LogRecord } from '../domain/types.js';
import { Engine } from '../engine.js';
import type { FeedQuery } from '../pipeline/types.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { EaseSource, likedWeights, recencyWeights } from './ease.js';

const T0 = Date.UTC(2026, 0, 1);

/** Users u0…u{users-1} like items by a seeded pattern: two taste groups plus noise. */
function likes(users: number, items: number, seed = 1): LogRecord[] {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
  const out: LogRecord[] = [];
  let ts = T0;
  for (let u = 0; u < users; u++) {
    const group = u % 2;
    for (let i = 0; i < items; i++) {
      const p = (i % 2 === group ? 0.45 : 0.08) * (1 - i / (2 * items));
      if (rnd() < p) out.push({ kind: 'event', event: { userId: `u${u}`, itemId: `i${i}`, type: 'like', timestamp: (ts += 1000) } });
    }
  }
  return out;
}

async function engineWith(records: LogRecord[], given: Record<string, unknown> = {}): Promise<Engine> {
  const config = parseConfig({ feed: { maxPostAge: 0, fusion: { learn: false } }, ...given });
  const store = SqliteStore.open({ path: ':memory:', types: new EventTypeRegistry(config.eventTypes), synchronous: 'OFF' });
  const engine = await Engine.open(config, { store, logImpressions: false });
  await engine.importStream(records);
  return engine;
}

function query(engine: Engine, userId: string): FeedQuery {
  return { user: engine.store.userIndex(userId)!, userId, limit: 20, now: engine.now(), requestId: 't', variant: 'default', served: new Set(), seen: new Set(), exclude: new Set(), state: engine.state, mix: engine.config.mix, feed: engine.config.feed };
}

/**
 * P = (XᵀX + λI)⁻¹ by Gauss–Jordan over the engine's binary user × item histories (the
 * reference both by-the-book scorers below start from), and X itself.
 */
function referenceP(engine: Engine, lambda: number): { n: number; x: number[][]; P: (i: number, j: number) => number } {
  const n = engine.state.items;
  const users = engine.store.userIds.length;
  const x: number[][] = Array.from({ length: users }, () => new Array<number>(n).fill(0));
  for (let u = 0; u < users; u++) engine.state.history.forEachRecent(u, (item) => void (x[u]![item] = 1));
  const a: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: 2 * n }, (_, j) => (j === n + i ? 1 : 0)));
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let u = 0; u < users; u++) a[i]![j]! += x[u]![i]! * x[u]![j]!;
  for (let i = 0; i < n; i++) a[i]![i]! += lambda;
  for (let c = 0; c < n; c++) {
    const piv = a[c]![c]!;
    for (let j = 0; j < 2 * n; j++) a[c]![j]! /= piv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r]![c]!;
      for (let j = 0; j < 2 * n; j++) a[r]![j]! -= f * a[c]![j]!;
    }
  }
  return { n, x, P: (i, j) => a[i]![n + j]! };
}

/** EASE by the book: B = I − P·diag(1/diag(P)), scores = x_u B. */
function referenceScores(engine: Engine, lambda: number, user: number): Map<number, number> {
  const { n, x, P } = referenceP(engine, lambda);
  const out = new Map<number, number>();
  for (let j = 0; j < n; j++) {
    if (x[user]![j]) continue;
    let s = 0;
    for (let i = 0; i < n; i++) if (x[user]![i] && i !== j) s += -P(i, j) / P(j, j);
    out.set(j, s);
  }
  return out;
}

for (const [label, users, items, form] of [
  ['dual form (few users, many items)', 30, 60, 'dual'],
  ['primal form (few items, many users)', 100, 20, 'primal'],
] as const) {
  test(`ease: ${label} scores equal EASE computed by the book`, async () => {
    const engine = await engineWith(likes(users, items));
    try {
      const source = new EaseSource({ lambda: 5 });
      await source.train({ state: engine.state, store: engine.store, now: engine.now() });
      assert.equal(source.offBecause, undefined);
      assert.equal(source.form, form);
      for (const userId of ['u0', 'u1', 'u7']) {
        const q = query(engine, userId);
        const got = source.fetch(q, 1000);
        const ref = referenceScores(engine, 5, q.user);
        const positive = [...ref].filter(([, s]) => s > 0).sort((a, b) => b[1] - a[1] || b[0] - a[0]);
        assert.equal(got.length, positive.length, userId);
        for (const c of got) assert.ok(Math.abs(c.score - ref.get(c.item)!) < 1e-6 * Math.max(1, Math.abs(c.score)), `${userId} item ${c.item}: ${c.score} vs ${ref.get(c.item)}`);
        got.forEach((c, r) => assert.equal(c.sources[0]!.rank, r + 1));
        for (let r = 1; r < got.length; r++) assert.ok(got[r - 1]!.score >= got[r]!.score);
        // Never the user's own history.
        const history = new Set<number>();
        engine.state.history.forEachRecent(q.user, (item) => void history.add(item));
        assert.ok(got.every((c) => !history.has(c.item)));
        // The recency-weighted list is EASE of the row h_i = 1 / (1 + k) for the k-th newest item.
        const h = new Map<number, number>();
        engine.state.history.forEachRecent(q.user, (item) => void (h.has(item) || h.set(item, 1 / (1 + h.size))));
        const weighted = referenceWeightedScores(engine, 5, h);
        const recent = source.recentSource().fetch(q, 1000);
        assert.equal(recent.length, [...weighted.values()].filter((s) => s > 0).length, `${userId} recent`);
        for (const c of recent) assert.ok(Math.abs(c.score - weighted.get(c.item)!) < 1e-6 * Math.max(1, Math.abs(c.score)), `${userId} recent item ${c.item}: ${c.score} vs ${weighted.get(c.item)}`);
      }
    } finally {
      await engine.close();
    }
  });
}

test('ease: a new engagement after training changes the user’s candidates at once; exclusions hold', async () => {
  const engine = await engineWith(likes(30, 60, 3));
  try {
    const source = new EaseSource({ lambda: 5 });
    await source.train({ state: engine.state, store: engine.store, now: engine.now() });
    const before = source.fetch(query(engine, 'u0'), 10).map((c) => c.item);
    const top = before[0]!;
    await engine.ingest([{ kind: 'event', event: { userId: 'u0', itemId: engine.store.itemIds[top]!, type: 'like', timestamp: engine.now() + 1000 } }]);
    const after = source.fetch(query(engine, 'u0'), 10).map((c) => c.item);
    assert.ok(!after.includes(top), 'the newly liked item is history now');
    assert.notDeepEqual(after, before.slice(1, 11));
    const q = query(engine, 'u0');
    const excluded = new Set(after.slice(0, 3));
    const filtered = source.fetch({ ...q, exclude: excluded }, 10).map((c) => c.item);
    assert.ok(filtered.every((i) => !excluded.has(i)));
    assert.deepEqual(source.fetch(query(engine, 'u0'), 0), []);
  } finally {
    await engine.close();
  }
});

test('ease: save/load round trip gives the same candidates; too large a catalogue leaves the source off', async () => {
  const engine = await engineWith(likes(30, 60, 5));
  const dir = mkdtempSync(join(tmpdir(), 'lenta-ease-'));
  try {
    const ctx = { state: engine.state, store: engine.store, now: engine.now() };
    const source = new EaseSource({ lambda: 5 });
    await source.train(ctx);
    await source.save(dir);
    const loaded = new EaseSource({ lambda: 5 });
    assert.equal(await loaded.load(dir, ctx), true);
    assert.deepEqual(loaded.fetch(query(engine, 'u3'), 50), source.fetch(query(engine, 'u3'), 50));
    // Other settings: the saved model does not fit.
    assert.equal(await new EaseSource({ lambda: 50 }).load(dir, ctx), false);

    const small = new EaseSource({ lambda: 5, maxDim: 10 });
    await small.train(ctx);
    assert.match(small.offBecause ?? '', /too large for ease \(maxDim 10\)/);
    assert.equal(small.enabled(query(engine, 'u3')), false);
    await small.save(dir);
    const reloaded = new EaseSource({ lambda: 5, maxDim: 10 });
    assert.equal(await reloaded.load(dir, ctx), true);
    assert.equal(reloaded.enabled(query(engine, 'u3')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await engine.close();
  }
});

/** EASE by the book for a weighted history row h (item → weight): score_j = Σ_i h_i · B_ij, B_ij = −P_ij / P_jj. */
function referenceWeightedScores(engine: Engine, lambda: number, h: Map<number, number>): Map<number, number> {
  const { n, P } = referenceP(engine, lambda);
  const out = new Map<number, number>();
  for (let j = 0; j < n; j++) {
    if (h.has(j)) continue;
    let s = 0;
    for (const [i, w] of h) s += (w * -P(i, j)) / P(j, j);
    out.set(j, s);
  }
  return out;
}

/**
 * Two neighbourhoods: `old` is co-liked with `oldMate` by 14 users, `new` with `newMate` by 8
 * (plus shared background items); the user `t` liked `old`, then (later) `new`. As a set, the
 * history favours the stronger pair; weighted by recency, the newest item's neighbour comes first.
 */
function twoNeighbourhoods(tTimes: [number, number]): LogRecord[] {
  const out: LogRecord[] = [];
  let ts = T0;
  const like = (u: string, i: string, at = (ts += 1000)) => out.push({ kind: 'event', event: { userId: u, itemId: i, type: 'like', timestamp: at } });
  for (let u = 0; u < 14; u++) for (const i of ['old', 'oldMate', `bg${u % 5}`]) like(`o${u}`, i);
  for (let u = 0; u < 8; u++) for (const i of ['new', 'newMate', `bg${u % 5}`]) like(`n${u}`, i);
  for (let u = 0; u < 6; u++) for (const i of [`bg${u % 5}`, `bg${(u + 1) % 5}`]) like(`x${u}`, i);
  like('t', 'old', T0 + tTimes[0]);
  like('t', 'new', T0 + tTimes[1]);
  return out;
}

test('ease: recency weighting ranks a neighbour of the newest item above one of an older item (the set order is the other way)', async () => {
  const engine = await engineWith(twoNeighbourhoods([1e6, 2e6]));
  try {
    const source = new EaseSource({ lambda: 2, recencyRank: 1 });
    await source.train({ state: engine.state, store: engine.store, now: engine.now() });
    const recent = source.recentSource();
    assert.equal(recent.name, 'ease_recent');
    const item = (id: string) => engine.store.itemIndex(id)!;
    const q = query(engine, 't');
    assert.ok(recent.enabled(q));
    const set = source.fetch(q, 10).map((c) => c.item);
    const byRecency = recent.fetch(q, 10);
    assert.deepEqual(set.slice(0, 2), [item('oldMate'), item('newMate')], 'as a set: the stronger pair first');
    assert.deepEqual(byRecency.slice(0, 2).map((c) => c.item), [item('newMate'), item('oldMate')], 'by recency: the newest item’s neighbour first');
    assert.ok(byRecency.every((c, r) => c.sources[0]!.source === 'ease_recent' && c.sources[0]!.rank === r + 1));
    // The numbers are EASE's of the weighted row h = (old: 1/2, new: 1), by the book.
    const ref = referenceWeightedScores(engine, 2, new Map([[item('new'), 1], [item('old'), 0.5]]));
    for (const c of byRecency) assert.ok(Math.abs(c.score - ref.get(c.item)!) < 1e-6, `${engine.store.itemIds[c.item]}: ${c.score} vs ${ref.get(c.item)}`);
    // Features: the recent columns describe the same scores (rel = score / best).
    assert.deepEqual([...source.featureNames()], ['score', 'rel', 'z', 'liked_score', 'liked_rel', 'liked_z', 'recent_score', 'recent_rel', 'recent_z']);
    const out = new Float32Array(2 * 9);
    source.candidateFeatures(q, byRecency.slice(0, 2), out, 9, 0);
    assert.ok(Math.abs(out[6]! - byRecency[0]!.score) < 1e-4 && Math.abs(out[7]! - 1) < 1e-6 && Math.abs(out[9 + 7]! - byRecency[1]!.score / byRecency[0]!.score) < 1e-5);
    assert.ok(out[6 + 2]! > out[9 + 6 + 2]!, 'recent_z follows the recent score');
    // Likes carry no value: the liked columns are missing.
    assert.ok([3, 4, 5, 12, 13, 14].every((j) => Number.isNaN(out[j]!)), String(out));
    // recencyRank 0: no recency list, the three set columns only.
    const plain = new EaseSource({ lambda: 2, recencyRank: 0 });
    await plain.train({ state: engine.state, store: engine.store, now: engine.now() });
    assert.equal(plain.recentSource().enabled(q), false);
    assert.deepEqual(plain.recentSource().fetch(q, 10), []);
    assert.deepEqual([...plain.featureNames()], ['score', 'rel', 'z', 'liked_score', 'liked_rel', 'liked_z']);
  } finally {
    await engine.close();
  }
});

test('ease: a history engaged all at one time has no order — no recency list, recent features missing', async () => {
  const engine = await engineWith(twoNeighbourhoods([1e6, 1e6]));
  try {
    const source = new EaseSource({ lambda: 2 });
    await source.train({ state: engine.state, store: engine.store, now: engine.now() });
    const q = query(engine, 't');
    assert.ok(source.fetch(q, 10).length > 0);
    assert.deepEqual(source.recentSource().fetch(q, 10), []);
    const out = new Float32Array(9);
    source.candidateFeatures(q, source.fetch(q, 1), out, 9, 0);
    assert.ok([0, 1, 2].every((j) => Number.isFinite(out[j]!)) && [6, 7, 8].every((j) => Number.isNaN(out[j]!)), String(out));
  } finally {
    await engine.close();
  }
});

test('ease: recency weights count the items engaged strictly later (ties share a weight)', async () => {
  assert.deepEqual(Array.from(recencyWeights([9, 7, 7, 3], 1)!), [1, 1 / 2, 1 / 2, 1 / 4]);
  assert.deepEqual(Array.from(recencyWeights([9, 7, 3], 2)!), [1, 1 / 1.5, 1 / 2]);
  assert.equal(recencyWeights([5, 5, 5], 1), undefined);
  assert.equal(recencyWeights([5], 1), undefined);
});

test('ease: the liked history (ratings at least the user’s mean) scores a neighbour of the highly rated item first', async () => {
  // `hi` and `lo` each have a mate co-rated by other users (lo's pair the stronger); the user `t`
  // rated `hi` 5 stars and `lo` 2: as a set the stronger pair wins, liked (≥ 3.5) only hi's mate scores.
  const out: LogRecord[] = [];
  let ts = T0;
  const rate = (u: string, i: string, value: number) => out.push({ kind: 'event', event: { userId: u, itemId: i, type: 'rating', timestamp: (ts += 1000), value } });
  for (let u = 0; u < 8; u++) for (const i of ['hi', 'hiMate', `bg${u % 4}`]) rate(`h${u}`, i, 4);
  for (let u = 0; u < 14; u++) for (const i of ['lo', 'loMate', `bg${u % 4}`]) rate(`l${u}`, i, 4);
  rate('t', 'hi', 5);
  rate('t', 'lo', 2);
  const eventTypes = DEFAULT_EVENT_TYPES.map((x) => (x.name === 'rating' ? { ...x, positiveFrom: 4 } : { ...x }));
  const engine = await engineWith(out, { eventTypes });
  try {
    const source = new EaseSource({ lambda: 2, recencyRank: 0 });
    await source.train({ state: engine.state, store: engine.store, now: engine.now() });
    const item = (id: string) => engine.store.itemIndex(id)!;
    const q = query(engine, 't');
    const mates = [item('hiMate'), item('loMate')].map((i) => ({ item: i, author: -1, inNetwork: false, score: 0, sources: [] }));
    const f = new Float32Array(2 * 6);
    source.candidateFeatures(q, mates, f, 6, 0);
    assert.ok(f[6]! > f[0]!, `as a set the stronger pair first: hiMate ${f[0]} loMate ${f[6]}`);
    // liked = EASE of the row with hi alone, by the book.
    const ref = referenceWeightedScores(engine, 2, new Map([[item('hi'), 1]]));
    assert.ok(Math.abs(f[3]! - ref.get(item('hiMate'))!) < 1e-5 && Math.abs(f[6 + 3]! - ref.get(item('loMate'))!) < 1e-5, String(f));
    assert.ok(f[3]! > f[6 + 3]! && f[4]! === 1, 'liked: hi’s mate first, the best liked score');
  } finally {
    await engine.close();
  }
  // Without positiveFrom the values are not known to be preferences: the columns are missing.
  const plain = await engineWith(out);
  try {
    const source = new EaseSource({ lambda: 2, recencyRank: 0 });
    await source.train({ state: plain.state, store: plain.store, now: plain.now() });
    const f = new Float32Array(6);
    source.candidateFeatures(query(plain, 't'), [{ item: plain.store.itemIndex('hiMate')!, author: -1, inNetwork: false, score: 0, sources: [] }], f, 6, 0);
    assert.ok(Number.isFinite(f[0]!) && [3, 4, 5].every((j) => Number.isNaN(f[j]!)), String(f));
  } finally {
    await plain.close();
  }
});

test('ease: liked weights: the ratings at least the user’s mean; none without ratings', () => {
  assert.deepEqual(Array.from(likedWeights([5, 2, 4, NaN])!), [1, 0, 1, 0]);
  assert.deepEqual(Array.from(likedWeights([3, 3])!), [1, 1]);
  assert.equal(likedWeights([NaN, NaN]), undefined);
  assert.equal(likedWeights([]), undefined);
});
