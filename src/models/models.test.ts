import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogRecord } from '../domain/types.js';
import { EventTypeRegistry } from '../domain/event-types.js';
import { buildDataset } from '../eval/dataset.js';
import { buildTrainMatrix } from '../eval/protocols.js';
import { TopKSelector, type TrainMatrix } from '../eval/recommender.js';
import { Rng } from '../eval/prng.js';
import { PopularityRecommender } from './popularity.js';
import { ItemKnnRecommender } from './knn/item-knn.js';
import { EaseRecommender } from './ease/ease.js';
import { IalsRecommender } from './mf/ials.js';

const types = new EventTypeRegistry();

/** A training matrix from rows of item indices per user (items named i0, i1, … in order). */
async function matrix(rows: number[][], numItems: number): Promise<TrainMatrix> {
  const records: LogRecord[] = [];
  rows.forEach((r, u) => {
    for (const i of r) if (i < numItems) records.push({ kind: 'event', event: { userId: `u${u}`, itemId: `i${i}`, type: 'like', timestamp: 100 + i } });
  });
  const ds = await buildDataset(records, { name: 'm', explicitRatings: false, types });
  // dense ids follow first appearance: tests translate names with userIndex / itemIndex
  return buildTrainMatrix(ds, new Uint8Array(ds.size));
}

const userIndex = (t: TrainMatrix, name: string): number => t.dataset.userIds.indexOf(name);
const itemIndex = (t: TrainMatrix, name: string): number => t.dataset.itemIds.indexOf(name);

test('TopKSelector: best first, ties to the newer (higher) id, blocked and NaN handled, padding', () => {
  const sel = new TopKSelector(4);
  const out = new Int32Array(6).fill(99);
  const scores = [0.5, 2, NaN, 2, 1, 0.5, 3];
  const blocked = Uint8Array.from([0, 0, 0, 0, 0, 0, 1]);
  assert.equal(sel.select(scores, 7, blocked, out, 1), 4);
  assert.deepEqual([...out], [99, 3, 1, 4, 5, 99]);
  const few = new Int32Array(4);
  assert.equal(sel.select([1, 2], 2, new Uint8Array(2), few, 0), 2);
  assert.deepEqual([...few], [1, 0, -1, -1]);
  // random cross-check against a full sort
  const rng = new Rng(5);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + rng.int(60);
    const k = 1 + rng.int(12);
    const s = Array.from({ length: n }, () => rng.int(6));
    const b = Uint8Array.from({ length: n }, () => (rng.next() < 0.2 ? 1 : 0));
    const expected = s
      .map((v, i) => [v, i])
      .filter(([, i]) => !b[i])
      .sort((x, y) => y[0] - x[0] || y[1] - x[1])
      .slice(0, k)
      .map(([, i]) => i);
    const got = new Int32Array(k);
    new TopKSelector(k).select(s, n, b, got, 0);
    assert.deepEqual([...got].filter((i) => i >= 0), expected);
  }
});

test('popularity ranks by training count, skipping the user’s items', async () => {
  const t = await matrix([[0, 1], [0, 2], [0, 1], [3]], 4);
  const pop = new PopularityRecommender();
  pop.fit(t);
  const users = Int32Array.from([userIndex(t, 'u3'), userIndex(t, 'u1')]);
  const lists = pop.recommend(users, 3, { excludeTrainItems: true });
  // counts: i0 3, i1 2, i2 1, i3 1 → order 0, 1, 3 (newer of the tie), 2
  assert.deepEqual([...lists], [0, 1, 2, 1, 3, -1]);
});

test('item-kNN equals the brute-force cosine sum, with all or top-k neighbours', async () => {
  const rng = new Rng(11);
  const rows = Array.from({ length: 30 }, () => [...new Set(Array.from({ length: 1 + rng.int(6) }, () => rng.int(20)))].sort((a, b) => a - b));
  const t = await matrix(rows, 20);
  const n = t.numItems;
  const cols = Array.from({ length: n }, (_, i) => new Set(t.itemUsers.indices.subarray(t.itemUsers.offsets[i], t.itemUsers.offsets[i + 1])));
  const sim = (i: number, j: number): number => {
    let c = 0;
    for (const u of cols[i]) if (cols[j].has(u)) c++;
    return c / Math.sqrt(cols[i].size * cols[j].size);
  };
  for (const neighbors of [0, 3]) {
    const knn = new ItemKnnRecommender({ neighbors });
    knn.fit(t);
    for (let u = 0; u < t.numUsers; u++) {
      const own = t.userItems.indices.subarray(t.userItems.offsets[u], t.userItems.offsets[u + 1]);
      // neighbourhoods for the top-k variant: the 3 most similar items of j (ties to the higher id)
      const nb = (j: number): Set<number> =>
        new Set(
          Array.from({ length: n }, (_, i) => i)
            .filter((i) => i !== j && sim(i, j) > 0)
            .sort((a, b) => sim(j, b) - sim(j, a) || b - a)
            .slice(0, neighbors),
        );
      const scores = Array.from({ length: n }, (_, i) => [...own].reduce((s, j) => s + (i === j || (neighbors > 0 && !nb(j).has(i)) ? 0 : sim(i, j)), 0));
      const expected = scores
        .map((s, i) => [s, i])
        .filter(([, i]) => !own.includes(i))
        .sort((a, b) => b[0] - a[0] || b[1] - a[1])
        .slice(0, 5);
      const got = knn.recommend(Int32Array.from([u]), 5, { excludeTrainItems: true });
      // compare scores rank by rank (equal scores may differ in the last bits)
      for (let r = 0; r < 5; r++) assert.ok(Math.abs(scores[got[r]] - expected[r][0]) < 1e-12, `user ${u} rank ${r} (neighbors ${neighbors})`);
    }
  }
});

/** Naive EASE: B = I − P·diag(1/diag P), P = (XᵀX + λI)⁻¹ by Gauss–Jordan, diagonal 0. */
function naiveEase(t: TrainMatrix, lambda: number): number[][] {
  const n = t.numItems;
  const g = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let u = 0; u < t.numUsers; u++) {
    const items = [...t.userItems.indices.subarray(t.userItems.offsets[u], t.userItems.offsets[u + 1])];
    for (const a of items) for (const b of items) g[a][b] += 1;
  }
  for (let i = 0; i < n; i++) g[i][i] += lambda;
  const inv = g.map((row, i) => row.map((_, j) => (i === j ? 1 : 0)));
  for (let c = 0; c < n; c++) {
    const d = g[c][c];
    for (let j = 0; j < n; j++) {
      g[c][j] /= d;
      inv[c][j] /= d;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = g[r][c];
      for (let j = 0; j < n; j++) {
        g[r][j] -= f * g[c][j];
        inv[r][j] -= f * inv[c][j];
      }
    }
  }
  return inv.map((row, i) => row.map((p, j) => (i === j ? 0 : -p / inv[j][j])));
}

test('EASE (primal and dual solvers) matches a naive dense inverse', async () => {
  const rng = new Rng(21);
  const rows = Array.from({ length: 25 }, () => [...new Set(Array.from({ length: 2 + rng.int(8) }, () => rng.int(40)))].sort((a, b) => a - b));
  const t = await matrix(rows, 40);
  const lambda = 3;
  const B = naiveEase(t, lambda);
  const n = t.numItems;
  const users = Int32Array.from({ length: t.numUsers }, (_, u) => u);
  const k = 8;
  const lists: Int32Array[] = [];
  for (const solver of ['primal', 'dual'] as const) {
    const ease = new EaseRecommender({ lambda, solver });
    await ease.fit(t);
    assert.equal(ease.stats?.solver, solver);
    const got = ease.recommend(users, k, { excludeTrainItems: true });
    lists.push(got);
    for (let u = 0; u < t.numUsers; u++) {
      const own = new Set(t.userItems.indices.subarray(t.userItems.offsets[u], t.userItems.offsets[u + 1]));
      const scores = Array.from({ length: n }, (_, j) => [...own].reduce((s, i) => s + B[i][j], 0));
      const expected = scores
        .map((s, i) => [s, i])
        .filter(([, i]) => !own.has(i))
        .sort((a, b) => b[0] - a[0] || b[1] - a[1])
        .slice(0, k);
      for (let r = 0; r < k; r++) assert.ok(Math.abs(scores[got[u * k + r]] - expected[r][0]) < 1e-9, `${solver}: user ${u} rank ${r}`);
    }
  }
  // B has a zero diagonal and −P_ij/P_jj off it: an item similar to one the user has ranks high
  const tiny = await matrix([[0, 1], [0, 1], [0, 1], [2, 3], [2, 3], [0]], 4);
  const ease = new EaseRecommender({ lambda: 0.5, solver: 'primal' });
  await ease.fit(tiny);
  const rec = ease.recommend(Int32Array.from([userIndex(tiny, 'u5')]), 1, { excludeTrainItems: true });
  assert.deepEqual([...rec], [itemIndex(tiny, 'i1')]);
});

test('iALS learns block structure and is reproducible with a seed', async () => {
  // two communities: users 0-9 like items 0-9, users 10-19 like items 10-19 (each user misses one)
  const rows = Array.from({ length: 20 }, (_, u) => {
    const base = u < 10 ? 0 : 10;
    return Array.from({ length: 10 }, (_, j) => base + j).filter((i) => i !== base + (u % 10));
  });
  const t = await matrix(rows, 20);
  const a = new IalsRecommender({ factors: 8, iterations: 10, alpha: 10, regularization: 0.1, seed: 3 });
  a.fit(t);
  const users = Int32Array.from({ length: 20 }, (_, u) => userIndex(t, `u${u}`));
  const lists = a.recommend(users, 1, { excludeTrainItems: true });
  for (let u = 0; u < 20; u++) {
    const base = u < 10 ? 0 : 10;
    assert.equal(t.dataset.itemIds[lists[u]], `i${base + (u % 10)}`, `user ${u} gets the missing item of its block`);
  }
  const b = new IalsRecommender({ factors: 8, iterations: 10, alpha: 10, regularization: 0.1, seed: 3 });
  b.fit(t);
  assert.deepEqual(a.itemFactors, b.itemFactors);
  // predictions: observed cells near 1, cross-block cells near 0
  const f = 8;
  const dot = (u: number, i: number): number => {
    let s = 0;
    for (let q = 0; q < f; q++) s += a.userFactors[u * f + q] * a.itemFactors[i * f + q];
    return s;
  };
  const u0 = userIndex(t, 'u0');
  const i5 = itemIndex(t, 'i5');
  const i15 = itemIndex(t, 'i15');
  assert.ok(dot(u0, i5) > 0.7, `observed ${dot(u0, i5)}`);
  assert.ok(Math.abs(dot(u0, i15)) < 0.2, `cross-block ${dot(u0, i15)}`);
});
