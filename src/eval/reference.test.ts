/**
 * Real-data checks of the protocol against the independent reference numbers of issue 3
 * (ml-latest-small, format movielens, protocol loo, k = 10). Skipped when the data set is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EventTypeRegistry } from '../domain/event-types.js';
import './algorithms.js';
import { evaluate } from './evaluate.js';
import { loadEvalDataset } from './load.js';

const ML = join(process.cwd(), '../shared/data/ml-latest-small');
const skip = existsSync(ML) ? false : 'data set not present';

const REFERENCE: Record<string, [number, number]> = {
  popularity: [0.0627, 0.0301],
  itemknn: [0.0684, 0.0331],
  ease: [0.1197, 0.0532],
};

test('ml-latest-small, loo, k=10: popularity, itemknn and ease (λ=500) match the reference recall@10 / ndcg@10 (±0.002)', { skip }, async () => {
  const ds = await loadEvalDataset(ML, 'movielens', { types: new EventTypeRegistry() });
  assert.equal(ds.size, 100836);
  const r = await evaluate(ds, { protocol: 'loo', ks: [10], algorithms: ['popularity', 'itemknn', 'ease'], algorithmOptions: { 'ease.lambda': 500 } });
  assert.equal(r.testUsers, 351);
  for (const a of r.results) {
    const [recall, ndcg] = REFERENCE[a.name];
    assert.ok(Math.abs(a.metrics['recall@10'] - recall) <= 0.002, `${a.name} recall@10 ${a.metrics['recall@10']} vs ${recall}`);
    assert.ok(Math.abs(a.metrics['ndcg@10'] - ndcg) <= 0.002, `${a.name} ndcg@10 ${a.metrics['ndcg@10']} vs ${ndcg}`);
  }
});

test('ml-latest-small, temporal: 28 evaluated users', { skip }, async () => {
  const ds = await loadEvalDataset(ML, 'movielens', { types: new EventTypeRegistry() });
  const r = await evaluate(ds, { protocol: 'temporal', ks: [10], algorithms: ['popularity'] });
  assert.equal(r.train, 80668);
  assert.equal(r.testUsers, 28);
});
