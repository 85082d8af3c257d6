import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../eval/prng.js';
import { orderByScore } from './top-k.js';

test('orderByScore: the comparator sort (score descending, then tie ascending), NaN last, any size', () => {
  const rng = new Rng(7);
  for (const n of [0, 1, 2, 3, 16, 17, 18, 100, 1450, 5000]) {
    // Few distinct scores (many ties) and distinct tie keys, as a request's candidates have.
    const scores = Float64Array.from({ length: n }, () => Math.floor(rng.next() * 20) / 4 - 1);
    const ties = Float64Array.from({ length: n }, (_, i) => (i * 7919) % 100_003);
    const expected = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || ties[a]! - ties[b]!);
    const out = new Int32Array(n + 3).fill(-5);
    orderByScore(scores, ties, n, out);
    assert.deepEqual(Array.from(out.subarray(0, n)), expected, `n = ${n}`);
    assert.deepEqual(Array.from(out.subarray(n)), [-5, -5, -5]);
  }
  // Already sorted and reversed input (the quicksort's worst orders without a median pivot).
  const up = Float64Array.from({ length: 3000 }, (_, i) => i);
  const out = orderByScore(up, up, 3000, new Int32Array(3000));
  assert.equal(out[0], 2999);
  assert.equal(out[2999], 0);
  // NaN and −Infinity go last, in tie order; +Infinity first.
  assert.deepEqual(Array.from(orderByScore([0.5, NaN, Infinity, -Infinity, 0.5], [4, 0, 9, 1, 2], 5, new Int32Array(5))), [2, 4, 0, 1, 3]);
  assert.throws(() => orderByScore([1, 2], [1, 2], 2, new Int32Array(1)), /out: room for 1 indices, 2 needed/);
});
