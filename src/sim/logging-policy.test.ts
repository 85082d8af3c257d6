import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CandidatePool, SharedPool, newPageBuffer, samplePage } from './logging-policy.js';
import { Rng } from './random.js';

/**
 * Empirical check of the logged propensities: over many pages, the frequency with which
 * each post lands in a slot, given the same earlier slots, must equal the logged propensity.
 * Slot 0 has no earlier slots, so its frequencies are directly comparable.
 */
function checkFirstSlot(makePools: () => { inPool: CandidatePool | SharedPool; outPool: CandidatePool | SharedPool }, trials: number): void {
  const rng = new Rng(99, 'policy-test');
  const page = newPageBuffer(4);
  const freq = new Map<number, number>();
  const logged = new Map<number, number>();
  for (let t = 0; t < trials; t++) {
    const { inPool, outPool } = makePools();
    const n = samplePage(inPool, outPool, 4, 0.5, 0.1, rng, page);
    assert.ok(n > 0);
    const items = Array.from(page.items.subarray(0, n));
    assert.equal(new Set(items).size, n, 'no post twice on a page');
    for (let k = 0; k < n; k++) assert.ok(page.propensity[k] > 0 && page.propensity[k] <= 1);
    const first = page.items[0];
    freq.set(first, (freq.get(first) ?? 0) + 1);
    const p = page.propensity[0];
    const before = logged.get(first);
    if (before !== undefined) assert.ok(Math.abs(before - p) < 1e-9, 'slot-0 propensity of a post is the same in every trial');
    logged.set(first, p);
  }
  let sum = 0;
  for (const [item, p] of logged) {
    sum += p;
    const f = (freq.get(item) ?? 0) / trials;
    const sd = Math.sqrt((p * (1 - p)) / trials);
    assert.ok(Math.abs(f - p) < 5 * sd + 1e-3, `post ${item}: frequency ${f.toFixed(4)} vs propensity ${p.toFixed(4)}`);
  }
  assert.ok(sum <= 1 + 1e-9 && sum > 0.95, `slot-0 propensities of the posts seen sum to ${sum}`);
}

test('logged propensities match how often the policy picks each post (per-request pools)', () => {
  checkFirstSlot(() => {
    const inPool = new CandidatePool(4);
    [1, 2, 3].forEach((it, k) => inPool.push(it, [1, 2, 5][k]));
    inPool.build();
    const outPool = new CandidatePool(4);
    [10, 11, 12, 13, 14, 15].forEach((it, k) => outPool.push(it, k + 1));
    outPool.build();
    return { inPool, outPool };
  }, 40_000);
});

test('logged propensities stay exact with the shared out-of-network pool and exclusions', () => {
  // 8 trending posts by authors 0..3; the user (author 9) follows author 1 and saw post 104.
  const items = Int32Array.from([100, 101, 102, 103, 104, 105, 106, 107]);
  const authors = Int32Array.from([0, 1, 1, 2, 3, 3, 0, 2]);
  const weights = Float64Array.from([5, 1, 2, 3, 4, 1, 2, 6]);
  const shared = new SharedPool(10, 16);
  shared.set(items, authors, weights, 8, 200);
  const itemMark = new Int32Array(200);
  const authorMark = new Int32Array(10);
  let stamp = 0;
  checkFirstSlot(() => {
    stamp++;
    authorMark[9] = stamp;
    authorMark[1] = stamp;
    itemMark[104] = stamp;
    const exWeight = shared.authorWeight(9) + shared.authorWeight(1) + shared.itemWeight(104);
    const exCount = shared.authorCount(9) + shared.authorCount(1) + 1;
    shared.begin(itemMark, authorMark, stamp, exWeight, exCount);
    assert.equal(shared.remaining, 5);
    assert.equal(shared.total, 5 + 3 + 1 + 2 + 6);
    const inPool = new CandidatePool(4);
    inPool.push(1, 2);
    inPool.push(2, 1);
    inPool.build();
    return { inPool, outPool: shared };
  }, 40_000);
});

test('when exclusions cover most of the shared list, the request draws from an explicit copy with the same propensities', () => {
  const items = Int32Array.from([100, 101, 102, 103, 104, 105, 106, 107]);
  const authors = Int32Array.from([0, 1, 1, 2, 3, 3, 0, 2]);
  const weights = Float64Array.from([5, 1, 2, 3, 4, 1, 2, 6]);
  const shared = new SharedPool(10, 16);
  shared.set(items, authors, weights, 8, 200);
  const itemMark = new Int32Array(200);
  const authorMark = new Int32Array(10);
  let stamp = 0;
  checkFirstSlot(() => {
    stamp++;
    // Only posts 104 and 105 (author 3) stay eligible.
    for (const a of [0, 1, 2]) authorMark[a] = stamp;
    const exWeight = [0, 1, 2].reduce((s, a) => s + shared.authorWeight(a), 0);
    const exCount = [0, 1, 2].reduce((s, a) => s + shared.authorCount(a), 0);
    shared.begin(itemMark, authorMark, stamp, exWeight, exCount);
    assert.equal(shared.remaining, 2);
    assert.equal(shared.total, 5);
    const inPool = new CandidatePool(4);
    inPool.push(1, 1);
    inPool.build();
    return { inPool, outPool: shared };
  }, 30_000);
  // A later list replaces the old one completely.
  shared.set(Int32Array.from([150]), Int32Array.from([4]), Float64Array.from([2]), 1, 200);
  assert.equal(shared.itemWeight(100), -1);
  assert.equal(shared.itemWeight(150), 2);
  assert.equal(shared.authorWeight(3), 0);
  assert.equal(shared.authorCount(4), 1);
});

test('an exhausted pool gives its share to the other, and pages stop when both are empty', () => {
  const rng = new Rng(1);
  const inPool = new CandidatePool(2);
  inPool.push(1, 1);
  inPool.build();
  const outPool = new CandidatePool(2);
  outPool.push(2, 1);
  outPool.push(3, 3);
  outPool.build();
  const page = newPageBuffer(10);
  const n = samplePage(inPool, outPool, 10, 0.5, 0.1, rng, page);
  assert.equal(n, 3);
  assert.deepEqual([...page.items.subarray(0, 3)].sort(), [1, 2, 3]);
  // The last post left is certain.
  assert.equal(page.propensity[2], 1);
});
