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

test('replay --candidates on the tiny platform: per-source recall of the next day’s engagements, union ≥ every source', async () => {
  const r = await replayEvaluation({ sim: { ...SIM_PRESETS.tiny }, ks: [5], algorithms: ['lenta'], candidates: 300 });
  const c = r.candidates!;
  assert.equal(c.n, 300);
  assert.equal(c.k, 5);
  for (const name of ['in_network', 'popular', 'fresh', 'communities', 'embedding', 'item_to_item', 'ease', 'social_graph']) assert.ok(name in c.sources, name);
  for (const [name, v] of Object.entries(c.sources)) {
    assert.ok(v.recall >= 0 && v.recall <= c.union.recall + 1e-12, `${name}: ${v.recall} > union ${c.union.recall}`);
    assert.ok(v.meanCount <= 300, name);
    assert.ok(v.topRecall <= v.recall + 1e-12, `${name}: top recall ${v.topRecall} > recall ${v.recall}`);
    assert.ok(v.marginalGain >= 0 && v.marginalGain <= v.recall + 1e-12, name);
  }
  // On a social platform the follow graph matters: in-network and popular find next-day engagements.
  assert.ok(c.sources.in_network!.recall > 0.1 && c.sources.popular!.recall > 0.1, JSON.stringify(c.sources));
  assert.ok(c.union.recall > 0.5, `union ${c.union.recall}`);
});
