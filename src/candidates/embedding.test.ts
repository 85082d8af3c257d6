import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogRecord } from '../domain/types.js';
import type { FeedQuery, SourceTrainingContext } from '../pipeline/types.js';
import { EmbeddingSource } from './embedding.js';
import { openPlatform } from './test-platform.js';
import { ExactMipsIndex, HnswMipsIndex, HnswWorkerIndex, loadHnswlib, TopKHeap } from '../models/ann/mips-index.js';
import { Rng } from '../eval/prng.js';

/**
 * Two clear clusters: users a0…a19 like only items A0…A19 (by author "pa"), users b0…b19 only
 * B0…B19 (by author "pb"); each user likes 8 random items of their cluster.
 */
async function world(t: TestContext) {
  const rng = new Rng(7);
  const records: LogRecord[] = [];
  for (const c of ['A', 'B']) for (let i = 0; i < 20; i++) records.push({ kind: 'item', item: { id: `${c}${i}`, authorId: `p${c.toLowerCase()}` } });
  let ts = 1000;
  for (const c of ['a', 'b']) {
    for (let u = 0; u < 20; u++) {
      const picked = new Set<number>();
      while (picked.size < 8) picked.add(Math.floor(rng.next() * 20));
      for (const i of picked) records.push({ kind: 'event', event: { userId: `${c}${u}`, itemId: `${c.toUpperCase()}${i}`, type: 'like', timestamp: ts++ } });
    }
  }
  records.push({ kind: 'edge', edge: { userId: 'a0', targetId: 'pa', kind: 'follow', timestamp: 1 } });
  const p = await openPlatform(t, records);
  return { ...p, cluster: (i: number) => p.store.itemIds[i]![0] };
}

const options = { factors: 2, iterations: 10, regularization: 0.1, alpha: 10 };

test('embedding: proposes items of the user’s own cluster, best first, with the candidate contract', async (t) => {
  const w = await world(t);
  const source = new EmbeddingSource(options);
  const progress: number[] = [];
  await source.train({ ...w.ctx, onProgress: (done) => progress.push(done) });
  assert.ok(progress.length > 0);
  assert.equal(source.info?.index, 'exact');
  for (const name of ['a3', 'b5']) {
    const q = w.query(name);
    const got = await source.fetch(q, 10);
    assert.equal(got.length, 10);
    const own = new Set(w.state.history.recentValues(q.user));
    for (const [k, c] of got.entries()) {
      assert.equal(w.cluster(c.item), name[0]!.toUpperCase(), `${name} got ${w.store.itemIds[c.item]}`);
      assert.ok(!own.has(c.item));
      assert.deepEqual(c.sources, [{ source: 'embedding', score: c.score, rank: k + 1 }]);
      assert.equal(c.author, w.state.author(c.item));
      if (k > 0) assert.ok(got[k - 1]!.score >= c.score);
    }
  }
  // inNetwork: a0 follows pa, the author of every A item
  const a0 = await source.fetch(w.query('a0'), 5);
  assert.ok(a0.length > 0 && a0.every((c) => c.inNetwork));
  assert.ok((await source.fetch(w.query('b0'), 5)).every((c) => !c.inNetwork));
});

test('embedding: a user newer than the training is folded in near its cluster; history changes refresh it', async (t) => {
  const w = await world(t);
  const source = new EmbeddingSource(options);
  await source.train(w.ctx);
  await w.ingest([
    { kind: 'event', event: { userId: 'newcomer', itemId: 'B1', type: 'like', timestamp: 5000 } },
    { kind: 'event', event: { userId: 'newcomer', itemId: 'B2', type: 'like', timestamp: 5001 } },
    { kind: 'event', event: { userId: 'newcomer', itemId: 'B3', type: 'click', timestamp: 5002 } },
  ]);
  const q = w.query('newcomer');
  assert.ok(q.user >= 0);
  const got = await source.fetch(q, 8);
  assert.equal(got.length, 8);
  assert.ok(got.every((c) => w.cluster(c.item) === 'B'), got.map((c) => w.store.itemIds[c.item]).join(','));
  assert.ok(!got.some((c) => [w.item('B1'), w.item('B2'), w.item('B3')].includes(c.item)));
  // A trained user of cluster A who now engages heavily with B is folded in again and moves towards B.
  const before = (await source.fetch(w.query('a1'), 10)).filter((c) => w.cluster(c.item) === 'B').length;
  const recs: LogRecord[] = [];
  for (let i = 0; i < 12; i++) recs.push({ kind: 'event', event: { userId: 'a1', itemId: `B${i}`, type: 'like', timestamp: 6000 + i } });
  await w.ingest(recs);
  const after = await source.fetch(w.query('a1'), 10);
  assert.equal(before, 0);
  assert.ok(after.filter((c) => w.cluster(c.item) === 'B').length >= 4, after.map((c) => w.store.itemIds[c.item]).join(','));
  assert.ok(!after.some((c) => c.item === w.item('B0')), 'history items are skipped');
});

test('embedding: skipping rules, unknown and history-less users, no model', async (t) => {
  const w = await world(t);
  const source = new EmbeddingSource(options);
  assert.deepEqual(await source.fetch(w.query('a2'), 10), []); // not trained: nothing, no throw
  assert.equal(source.enabled(w.query('a2')), false);
  await source.train(w.ctx);
  assert.deepEqual(await source.fetch(w.query('nobody', { user: -1 }), 10), []);
  await w.ingest([{ kind: 'edge', edge: { userId: 'follower-only', targetId: 'pa', kind: 'follow', timestamp: 9000 } }]);
  const fo = w.query('follower-only');
  assert.ok(fo.user >= 0);
  assert.deepEqual(await source.fetch(fo, 10), []);
  const all = await source.fetch(w.query('a2'), 40);
  const own = new Set(w.state.history.recentValues(w.user('a2')));
  assert.equal(all.length, 40 - own.size);
  const exclude = new Set([all[0]!.item]);
  const seen = new Set([all[1]!.item]);
  const served = new Set([all[2]!.item]);
  const rest = await source.fetch(w.query('a2', { exclude, seen, served }), 40);
  assert.equal(rest.length, all.length - 3);
  assert.ok(!rest.some((c) => exclude.has(c.item) || seen.has(c.item) || served.has(c.item) || own.has(c.item)));
  assert.deepEqual(await source.fetch(w.query('a2'), 0), []);
});

test('embedding: save/load round trip; load refuses a missing or mismatched model', async (t) => {
  const w = await world(t);
  const dir = mkdtempSync(join(tmpdir(), 'lenta-emb-'));
  try {
    const source = new EmbeddingSource(options);
    assert.equal(await source.load(dir, w.ctx), false);
    await source.train(w.ctx);
    await source.save(dir);
    assert.ok(existsSync(join(dir, 'embedding.json')));
    const copy = new EmbeddingSource(options);
    assert.equal(await copy.load(dir, w.ctx), true);
    for (const name of ['a4', 'b7']) assert.deepEqual(await copy.fetch(w.query(name), 15), await source.fetch(w.query(name), 15));
    assert.equal(await new EmbeddingSource({ ...options, factors: 4 }).load(dir, w.ctx), false);
    // Another (smaller) database: the model does not fit.
    const empty = await openPlatform(t, []);
    assert.equal(await copy.load(dir, empty.ctx), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('exact MIPS index and top-k heap agree with a full sort', () => {
  const rng = new Rng(3);
  const dim = 6;
  const n = 500;
  const v = Float32Array.from({ length: n * dim }, () => rng.normal());
  const index = new ExactMipsIndex(v, dim);
  const q = Float32Array.from({ length: dim }, () => rng.normal());
  const scores = Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let t = 0; t < dim; t++) s += q[t]! * v[i * dim + t]!;
    return { i, s: Math.fround(s) };
  });
  const skip = (i: number) => i % 7 === 0;
  const expected = scores.filter((x) => !skip(x.i)).sort((a, b) => b.s - a.s || b.i - a.i).slice(0, 37).map((x) => x.i);
  assert.deepEqual([...index.search(q, 37, skip).items], expected);
  const heap = new TopKHeap(3);
  for (const [s, i] of [[1, 1], [5, 2], [3, 3], [5, 4], [0, 5]] as const) heap.push(s, i);
  assert.deepEqual([...heap.sorted().items], [4, 2, 3]);
});

test('embedding with the HNSW graph index (runs when hnswlib-node is installed)', async (t) => {
  if (!(await loadHnswlib())) {
    t.skip('hnswlib-node is not installed: the exact scan serves');
    return;
  }
  const w = await world(t);
  const dir = mkdtempSync(join(tmpdir(), 'lenta-emb-'));
  try {
    const source = new EmbeddingSource({ ...options, annMinItems: 1 });
    await source.train(w.ctx);
    assert.equal(source.info?.index, 'hnsw');
    const got = await source.fetch(w.query('b5'), 10);
    assert.equal(got.length, 10);
    assert.ok(got.every((c) => w.cluster(c.item) === 'B'));
    const exact = new EmbeddingSource(options);
    await exact.train(w.ctx);
    assert.deepEqual(got.map((c) => c.item), (await exact.fetch(w.query('b5'), 10)).map((c) => c.item));
    await source.save(dir);
    const copy = new EmbeddingSource({ ...options, annMinItems: 1 });
    assert.equal(await copy.load(dir, w.ctx), true);
    assert.equal(copy.info?.index, 'hnsw');
    assert.deepEqual(await copy.fetch(w.query('b5'), 10), got);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('HNSW graph served by a worker thread: the same answers as in this thread, blocking or not', async (t) => {
  const mod = await loadHnswlib();
  if (!mod) {
    t.skip('hnswlib-node is not installed');
    return;
  }
  const rng = new Rng(5);
  const dim = 8;
  const n = 3000;
  const v = Float32Array.from({ length: n * dim }, () => rng.normal());
  const active = Uint8Array.from({ length: n }, (_, i) => (i % 11 === 0 ? 0 : 1));
  const local = HnswMipsIndex.build(mod, v, dim, active, { expansionSearch: 200 });
  const progress: number[] = [];
  const worker = await HnswWorkerIndex.build(v, dim, active, { expansionSearch: 200 }, (done) => progress.push(done));
  const dir = mkdtempSync(join(tmpdir(), 'lenta-hnsw-'));
  try {
    assert.ok(progress.length > 0);
    const skip = (i: number) => i % 5 === 0;
    for (let r = 0; r < 5; r++) {
      const q = Float32Array.from({ length: dim }, () => rng.normal());
      const expected = local.search(q, 50, skip, 20);
      assert.equal(expected.items.length, 50);
      assert.deepEqual(await worker.searchAsync(q, 50, skip, 20), expected);
      assert.deepEqual(worker.search(q, 50, skip, 20), expected);
    }
    await worker.save(join(dir, 'g.hnsw'));
    const loaded = await HnswWorkerIndex.load(join(dir, 'g.hnsw'), dim, n, { expansionSearch: 200 });
    const q = Float32Array.from({ length: dim }, () => rng.normal());
    assert.deepEqual(await loaded.searchAsync(q, 30), local.search(q, 30));
    await loaded.close();
    await assert.rejects(loaded.searchAsync(q, 30), /closed/);
  } finally {
    await worker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('embedding with a worker-served graph: fetch answers asynchronously with the same candidates', async (t) => {
  if (!(await loadHnswlib())) {
    t.skip('hnswlib-node is not installed');
    return;
  }
  const w = await world(t);
  const dir = mkdtempSync(join(tmpdir(), 'lenta-emb-'));
  try {
    const inThread = new EmbeddingSource({ ...options, annMinItems: 1, annWorkerMinItems: Infinity });
    await inThread.train(w.ctx);
    const source = new EmbeddingSource({ ...options, annMinItems: 1, annWorkerMinItems: 1 });
    await source.train(w.ctx);
    assert.equal(inThread.offThread, false);
    assert.equal(source.offThread, true);
    const pending = source.fetch(w.query('b5'), 10);
    assert.ok(pending instanceof Promise);
    assert.deepEqual(await pending, await inThread.fetch(w.query('b5'), 10));
    await source.save(dir);
    const copy = new EmbeddingSource({ ...options, annMinItems: 1, annWorkerMinItems: 1 });
    assert.equal(await copy.load(dir, w.ctx), true);
    assert.equal(copy.info?.index, 'hnsw');
    assert.equal(copy.offThread, true);
    assert.deepEqual(await copy.fetch(w.query('a3'), 10), await inThread.fetch(w.query('a3'), 10));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
