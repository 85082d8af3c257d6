import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogRecord } from '../domain/types.js';
import { EventTypeRegistry } from '../domain/event-types.js';
import { buildDataset, type EvalDataset } from './dataset.js';
import { accuracyAtK, accuracyMetrics, beyondAccuracyMetrics, popularityDeciles, popularityOrder, type RankingInput } from './metrics.js';
import { buildTrainMatrix } from './protocols.js';

const types = new EventTypeRegistry();
const close = (a: number, b: number, eps = 1e-9): void => assert.ok(Math.abs(a - b) < eps, `${a} ≠ ${b}`);

function like(userId: string, itemId: string, timestamp: number): LogRecord {
  return { kind: 'event', event: { userId, itemId, type: 'like', timestamp } };
}

test('accuracy@k on a hand-computed list: hits at ranks 2 and 4 of 4, two positives', () => {
  const list = [10, 11, 12, 13];
  const pos = new Set([11, 13]);
  const a = accuracyAtK(list, 0, 4, (i) => pos.has(i), 2);
  close(a.recall, 1); // 2 hits / min(4, 2)
  close(a.ndcg, (1 / Math.log2(3) + 1 / Math.log2(5)) / (1 + 1 / Math.log2(3))); // 0.650921
  close(a.ndcg, 0.6509209298);
  close(a.map, (1 / 2 + 2 / 4) / 2); // 0.5
  close(a.hitRate, 1);
  close(a.mrr, 0.5);
  const b = accuracyAtK(list, 0, 2, (i) => pos.has(i), 2);
  close(b.recall, 0.5); // 1 hit / min(2, 2)
  close(b.ndcg, 1 / Math.log2(3) / (1 + 1 / Math.log2(3))); // 0.386853
  close(b.map, 0.5 / 2);
  close(b.mrr, 0.5);
});

test('accuracy@k: more positives than k, misses, padding, offsets', () => {
  // list of user 1 starts at offset 3; the -1 slot is empty
  const lists = [0, 0, 0, 7, -1, 5];
  const pos = new Set([5, 6, 8, 9]);
  const a = accuracyAtK(lists, 3, 3, (i) => pos.has(i), 4);
  close(a.recall, 1 / 3); // 1 hit / min(3, 4)
  close(a.ndcg, 0.5 / (1 + 1 / Math.log2(3) + 0.5)); // hit at rank 3 → 1/log2(4) = 0.5
  close(a.map, 1 / 3 / 3); // precision@3 = 1/3, divided by min(3, 4)
  close(a.mrr, 1 / 3);
  const miss = accuracyAtK(lists, 3, 2, (i) => pos.has(i), 4);
  assert.deepEqual(miss, { recall: 0, ndcg: 0, map: 0, hitRate: 0, mrr: 0 });
  assert.deepEqual(accuracyAtK([1], 0, 1, () => true, 0), { recall: 0, ndcg: 0, map: 0, hitRate: 0, mrr: 0 });
});

test('leave-one-out special case: recall = hit rate and map = mrr', () => {
  const a = accuracyAtK([3, 1, 2], 0, 3, (i) => i === 2, 1);
  close(a.recall, a.hitRate);
  close(a.map, a.mrr);
  close(a.ndcg, 1 / Math.log2(4));
});

/** u0: A B · u1: A C · u2: A · u3: B D  (A=0, B=1, C=2, D=3 by first appearance) */
async function fixture(extra: LogRecord[] = []): Promise<EvalDataset> {
  const records: LogRecord[] = [like('u0', 'A', 1), like('u0', 'B', 2), like('u1', 'A', 3), like('u1', 'C', 4), like('u2', 'A', 5), like('u3', 'B', 6), like('u3', 'D', 7), ...extra];
  return buildDataset(records, { name: 't', explicitRatings: false, types });
}

function input(ds: EvalDataset, lists: number[], vectors?: 'interactions' | 'tags'): RankingInput {
  const train = buildTrainMatrix(ds, new Uint8Array(ds.size));
  const users = Int32Array.from([2, 3]);
  const positives = { rows: 2, cols: ds.numItems, offsets: Int32Array.from([0, 1, 2]), indices: Int32Array.from([2, 0]), values: new Float64Array(2) };
  return { train, users, positives, lists: Int32Array.from(lists), listLength: 2, vectors };
}

test('beyond-accuracy metrics on a hand-computed case', async () => {
  const ds = await fixture([{ kind: 'edge', edge: { userId: 'u2', targetId: 'u3', kind: 'follow', timestamp: 0 } }, { kind: 'edge', edge: { userId: 'u3', targetId: 'u1', kind: 'follow', timestamp: 0 } }]);
  assert.deepEqual(ds.itemIds, ['A', 'B', 'C', 'D']);
  // u2 gets [B, C], u3 gets [A, C]
  const inp = input(ds, [1, 2, 0, 2]);
  const m = beyondAccuracyMetrics(inp, 2);
  close(m['coverage@2'], 3 / 4);
  // popularity shares among 4 training users: A 3/4, B 2/4, C 1/4
  close(m['novelty@2'], (1 + 2 + -Math.log2(3 / 4) + 2) / 4);
  // cos(B,C) = 0; cos(A,C) = |{u1}| / √(3·1)
  close(m['intra_list_diversity@2'], (1 + (1 - 1 / Math.sqrt(3))) / 2);
  // top 10% of 4 candidates = ⌈0.4⌉ = 1 item: A
  close(m['popularity_bias@2'], 1 / 4);
  // u2 follows u3 (B, D): B in network; u3 follows u1 (A, C): both in network
  close(m['in_network_share@2'], 3 / 4);
  const acc = accuracyMetrics(inp, 2);
  // u2's positive C at rank 2; u3's positive A at rank 1
  close(acc['recall@2'], 1);
  close(acc['ndcg@2'], (1 / Math.log2(3) + 1) / 2);
  close(acc['mrr@2'], (0.5 + 1) / 2);
  const deciles = popularityDeciles(inp, 2);
  close(deciles.reduce((a, b) => a + b, 0), 1);
});

test('popularity order breaks ties towards the newer item', async () => {
  const ds = await fixture();
  const train = buildTrainMatrix(ds, new Uint8Array(ds.size));
  // A(3) B(2) then C and D with one each: D appeared later → first
  assert.deepEqual([...popularityOrder(train)], [0, 1, 3, 2]);
});

test('in-network share by item author and diversity over tags', async () => {
  const ds = await fixture([
    { kind: 'item', item: { id: 'A', authorId: 'u1', tags: ['x', 'y'] } },
    { kind: 'item', item: { id: 'B', tags: ['x'] } },
    { kind: 'item', item: { id: 'C', authorId: 'u3', tags: ['y'] } },
    { kind: 'edge', edge: { userId: 'u2', targetId: 'u3', kind: 'follow', timestamp: 0 } },
    { kind: 'edge', edge: { userId: 'u3', targetId: 'u1', kind: 'follow', timestamp: 0 } },
    { kind: 'edge', edge: { userId: 'u3', targetId: 'u0', kind: 'follow', timestamp: 0 } },
    { kind: 'edge', edge: { userId: 'u3', targetId: 'u0', kind: 'follow', timestamp: 1, removed: true } },
  ]);
  const inp = input(ds, [1, 2, 0, 2], 'tags');
  const m = beyondAccuracyMetrics(inp, 2);
  // u2 [B, C]: C by u3, followed → 1; u3 [A, C]: A by u1, followed → 1
  close(m['in_network_share@2'], 2 / 4);
  // tags: cos(B,C) = 0; cos(A,C) = 1/√2
  close(m['intra_list_diversity@2'], (1 + (1 - 1 / Math.sqrt(2))) / 2);
});
