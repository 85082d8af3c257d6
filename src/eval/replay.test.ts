import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SIM_PRESETS } from '../sim/index.js';
import { gini, replayEvaluation } from './replay.js';

test('gini: 0 for equal exposure, (n-1)/n when one author gets everything', () => {
  assert.equal(gini([3, 3, 3, 3]), 0);
  assert.ok(Math.abs(gini([0, 0, 0, 8]) - 0.75) < 1e-12);
  assert.ok(Math.abs(gini([1, 2, 3]) - 2 / 9) < 1e-12);
  assert.equal(gini([]), 0);
});

test('replay on the tiny platform: the pipeline beats random against the truth, and the numbers are well-formed', async () => {
  const r = await replayEvaluation({ sim: { ...SIM_PRESETS.tiny }, ks: [5] });
  assert.ok(r.testUsers > 20, `test users ${r.testUsers}`);
  assert.ok(r.trainEvents > 1000);
  const lenta = r.results.lenta!;
  const random = r.results.random!;
  assert.ok(lenta['truth_ndcg@5']! > random['truth_ndcg@5']!, JSON.stringify({ lenta, random }));
  assert.ok(lenta['expected_value@5']! > random['expected_value@5']!);
  assert.equal(r.results.following!['in_network_share@5'], 1);
  for (const res of Object.values(r.results)) {
    for (const [key, v] of Object.entries(res)) {
      if (key.startsWith('expected_value')) continue;
      assert.ok(v >= 0 && v <= 1, `${key} = ${v}`);
    }
  }
});
