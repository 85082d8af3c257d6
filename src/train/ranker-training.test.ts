import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../domain/config.js';
import { Rng } from '../sim/random.js';
import { concatGroups, sliceGroups, type RankerDataset } from './ranker-dataset.js';
import { cascadeScores, chooseLeaves, crossValidate } from './ranker-training.js';

/**
 * Held-out candidate rows of `users` users × 60 candidates: the light ranker's score
 * (`fusion_score`) carries part of the label; `hidden` carries the rest only when `signal`, and
 * `noise` never does.
 */
function dataset(users: number, signal: boolean, seed: number): RankerDataset {
  const rng = new Rng(seed);
  const per = 60;
  const n = users * per;
  const features = ['fusion_score', 'hidden', 'noise'];
  const d = features.length;
  const X = new Float32Array(n * d);
  const y = new Float32Array(n);
  const groups = new Int32Array(users + 1);
  for (let u = 0; u < users; u++) {
    groups[u] = u * per;
    for (let k = 0; k < per; k++) {
      const r = u * per + k;
      const fusion = rng.normal();
      const hidden = rng.normal();
      X[r * d] = fusion;
      X[r * d + 1] = hidden;
      X[r * d + 2] = rng.normal();
      // A positive when a latent utility is high: the light ranker sees half of it, `hidden`
      // (a threshold the trees find, a linear order cannot) the rest.
      const utility = fusion + (signal ? 3 * (hidden > 0.5 ? 1 : 0) : 0) + rng.normal();
      y[r] = utility > 2.6 ? 1 : 0;
    }
  }
  groups[users] = n;
  return {
    kind: 'candidates',
    features,
    n,
    d,
    X,
    heads: ['engaged'],
    headWeights: {},
    labels: [y],
    groups,
    groupUser: Int32Array.from({ length: users }, (_, u) => u),
    groupTime: new Float64Array(users),
    item: Int32Array.from({ length: n }, (_, r) => r % per),
    reactions: Array.from({ length: n }, (_, r) => (y[r] ? [1] : [])),
  };
}

const fusionScores = (ds: RankerDataset) => Float64Array.from({ length: ds.n }, (_, r) => ds.X[r * ds.d]!);

test('ranker gate cross-validation: a clear gain when a feature carries what the light ranker misses, none when it does not', () => {
  const rank = parseConfig({ rank: { trees: 60, minDataInLeaf: 20, earlyStopping: 15 } }).rank;
  const useful = dataset(200, true, 1);
  const cv = crossValidate(useful, rank, fusionScores(useful), 5, 42);
  assert.equal(cv.groups > 150, true, `${cv.groups} users with an engagement`);
  assert.ok(cv.ndcg > cv.lightNdcg + 0.05, `useful feature: ${cv.ndcg} vs light ${cv.lightNdcg}`);
  assert.ok(cv.diff > 3 * cv.se, `useful feature: difference ${cv.diff} ± ${cv.se}`);

  // Only noise beside the light score: the trees cannot beat it by a clear margin.
  const useless = dataset(200, false, 2);
  const none = crossValidate(useless, rank, fusionScores(useless), 5, 42);
  assert.ok(!(none.diff > none.se), `noise features: difference ${none.diff} ± ${none.se} must not look like a gain`);
});

test('concatGroups joins group ranges with their rows, labels and offsets', () => {
  const ds = dataset(10, true, 3);
  const joined = concatGroups(ds, [
    [0, 2],
    [5, 7],
  ]);
  assert.equal(joined.groupUser.length, 4);
  assert.deepEqual([...joined.groupUser], [0, 1, 5, 6]);
  assert.deepEqual([...joined.groups], [0, 60, 120, 180, 240]);
  assert.equal(joined.n, 240);
  const part = sliceGroups(ds, 5, 7);
  assert.deepEqual(joined.X.subarray(120 * ds.d, 240 * ds.d), part.X);
  assert.deepEqual(joined.labels[0]!.subarray(120, 240), part.labels[0]);
  assert.equal(joined.reactions.length, 240);
});

test('cascade report: the first pass keeps its best share of each group for the full score, the rest keep the first-pass score, and it counts the full top 10 it keeps', () => {
  // Two groups of 40 rows: in the first the first pass agrees with the full score; in the
  // second the full score's best 10 are the first pass's worst 10.
  const ds = dataset(2, false, 3);
  const n = 80;
  const groups = Int32Array.from([0, 40, 80]);
  const sized = { ...ds, n, X: ds.X.subarray(0, n * ds.d), labels: [ds.labels[0]!.subarray(0, n)], groups, groupUser: Int32Array.from([0, 1]), groupTime: new Float64Array(2) };
  const first = Float64Array.from({ length: n }, (_, r) => 100 - (r % 40));
  const full = Float64Array.from({ length: n }, (_, r) => (r < 40 ? 1000 - r : r % 40));
  const { score, top10Kept } = cascadeScores(sized, first, full, 0.25);
  // keep = max(10, 25% of 40) = 10 per group: rows 0–9 and 40–49.
  for (let r = 0; r < n; r++) assert.equal(score[r], r % 40 < 10 ? full[r] : first[r], `row ${r}`);
  // Group 1 keeps all of its full top 10, group 2 none of it.
  assert.equal(top10Kept, 0.5);
});

test('rank.selectLeaves: the cross-validation per leaf count picks the best, the same numbers as each count on its own', () => {
  const rank = parseConfig({ rank: { trees: 40, minDataInLeaf: 20, earlyStopping: 10, gateFolds: 4, leaves: 31, selectLeaves: [3, 31] } }).rank;
  const ds = dataset(120, true, 5);
  const light = fusionScores(ds);
  const folds: string[] = [];
  const r = chooseLeaves(ds, rank, light, 42, (leaves, f) => folds.push(`${leaves}:${f}`))!;
  assert.deepEqual(r.leaves.tried.map((t) => t.leaves), [31, 3], 'leaves first, each other count once');
  assert.deepEqual(folds, ['31:0', '31:1', '31:2', '31:3', '3:0', '3:1', '3:2', '3:3']);
  for (const t of r.leaves.tried) {
    const alone = crossValidate(ds, { ...rank, leaves: t.leaves }, light, 4, 42);
    assert.ok(Math.abs(alone.ndcg - t.ndcg) < 1e-4, `${t.leaves} leaves: ${alone.ndcg} vs ${t.ndcg}`);
  }
  const best = r.leaves.tried.reduce((a, b) => (b.ndcg > a.ndcg ? b : a));
  assert.equal(r.leaves.chosen, best.leaves);
  assert.ok(Math.abs(r.ndcg - best.ndcg) < 1e-4, 'the result is the chosen count’s cross-validation');
  assert.notEqual(r.leaves.tried[0]!.ndcg, r.leaves.tried[1]!.ndcg, 'the counts fit differently');
  // Nothing to choose: leaves only.
  assert.equal(chooseLeaves(ds, { ...rank, selectLeaves: [31] }, light, 42), undefined);
  assert.equal(chooseLeaves(ds, { ...rank, selectLeaves: [] }, light, 42), undefined);
});
