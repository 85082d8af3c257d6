import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogRecord } from '../domain/types.js';
import { EventTypeRegistry } from '../domain/event-types.js';
import { buildDataset, type EvalDataset } from './dataset.js';
import { hashUniform, Rng } from './prng.js';
import { prepareSplit, splitInteractions } from './protocols.js';
import './algorithms.js';
import { evaluate } from './evaluate.js';
import { createAlgorithm } from './recommender.js';

const types = new EventTypeRegistry();

function ev(userId: string, itemId: string, timestamp: number, value?: number, type = 'rating'): LogRecord {
  return { kind: 'event', event: { userId, itemId, type, timestamp, value } };
}

/** A random data set with many equal timestamps (ties) and some duplicate pairs. */
async function randomData(n: number, seed: number, explicit = true): Promise<EvalDataset> {
  const rng = new Rng(seed);
  const records: LogRecord[] = [];
  for (let i = 0; i < n; i++) {
    records.push(ev(`u${rng.int(40)}`, `i${rng.int(60)}`, 1000 + rng.int(50), 1 + rng.int(5), explicit ? 'rating' : 'play'));
  }
  return buildDataset(records, { name: 'rand', explicitRatings: explicit, types });
}

test('dataset: engagement events only; duplicate pairs keep the latest (ties: later in the file)', async () => {
  const ds = await buildDataset(
    [
      ev('a', 'x', 10, 2),
      ev('a', 'x', 30, 5), // latest → kept
      ev('a', 'x', 20, 1),
      ev('b', 'x', 5, 3),
      ev('b', 'x', 5, 4), // same time, later in the file → kept
      { kind: 'event', event: { userId: 'c', itemId: 'y', type: 'impression', timestamp: 1, context: { position: 0, propensity: 0.5 } } },
      { kind: 'event', event: { userId: 'c', itemId: 'y', type: 'hide', timestamp: 2 } },
      { kind: 'event', event: { userId: 'c', itemId: 'z', type: 'click', timestamp: 3 } },
    ],
    { name: 'd', explicitRatings: true, types },
  );
  assert.equal(ds.eventsRead, 6);
  assert.equal(ds.size, 3);
  assert.deepEqual(ds.userIds.slice(0, ds.numUsers), ['a', 'b', 'c']);
  assert.deepEqual(ds.itemIds, ['x', 'z']);
  assert.deepEqual([...ds.value], [5, 4, 1]);
  assert.deepEqual([...ds.timestamp], [30, 5, 3]);
  // file order of the kept events: positions 1, 4, 5 among the 6 engagement events
  assert.deepEqual([...ds.order], [1, 4, 5]);
});

test('temporal split: the first 80% by (time, file order) train; no test event precedes a training event', async () => {
  const ds = await randomData(2000, 1);
  const isTest = splitInteractions(ds, { protocol: 'temporal' });
  const nTest = isTest.reduce((a, b) => a + b, 0);
  assert.equal(ds.size - nTest, Math.floor(0.8 * ds.size));
  let maxTrain = -Infinity;
  let minTest = Infinity;
  for (let i = 0; i < ds.size; i++) {
    if (isTest[i]) minTest = Math.min(minTest, ds.timestamp[i]);
    else maxTrain = Math.max(maxTrain, ds.timestamp[i]);
  }
  assert.ok(minTest >= maxTrain, 'no test event precedes a training event');
  // At the shared timestamp (ties straddling the cut) the file order decides.
  for (let i = 0; i < ds.size; i++) {
    for (let j = 0; j < ds.size; j++) {
      if (isTest[i] && !isTest[j] && ds.timestamp[i] === ds.timestamp[j]) assert.ok(ds.order[i] > ds.order[j]);
    }
  }
});

test('loo split: exactly one test interaction per user, the latest (ties: later in the file)', async () => {
  const ds = await randomData(1500, 2);
  const isTest = splitInteractions(ds, { protocol: 'loo' });
  const perUser = new Map<number, number[]>();
  for (let i = 0; i < ds.size; i++) {
    const list = perUser.get(ds.user[i]) ?? [];
    list.push(i);
    perUser.set(ds.user[i], list);
  }
  for (const list of perUser.values()) {
    const tests = list.filter((i) => isTest[i]);
    assert.equal(tests.length, 1);
    const t = tests[0];
    for (const i of list) {
      if (i === t) continue;
      assert.ok(ds.timestamp[i] < ds.timestamp[t] || (ds.timestamp[i] === ds.timestamp[t] && ds.order[i] < ds.order[t]));
    }
  }
  const ties = await buildDataset([ev('u', 'a', 5), ev('u', 'b', 7), ev('u', 'c', 7), ev('u', 'd', 6)], { name: 't', explicitRatings: false, types });
  assert.deepEqual([...splitInteractions(ties, { protocol: 'loo' })], [0, 0, 1, 0]);
});

test('random split: seeded, reproducible, about 20% test', async () => {
  const ds = await randomData(20000, 3);
  const a = splitInteractions(ds, { protocol: 'random', seed: 42 });
  const b = splitInteractions(ds, { protocol: 'random', seed: 42 });
  const c = splitInteractions(ds, { protocol: 'random', seed: 7 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const share = a.reduce((x, y) => x + y, 0) / ds.size;
  assert.ok(Math.abs(share - 0.2) < 0.015, `test share ${share}`);
  // the assignment of interaction i depends only on (seed, i)
  for (let i = 0; i < 50; i++) assert.equal(a[i], hashUniform(42, i) < 0.2 ? 1 : 0);
  // uniformity of the generator
  let s = 0;
  for (let i = 0; i < 100000; i++) s += hashUniform(9, i);
  assert.ok(Math.abs(s / 100000 - 0.5) < 0.005);
});

test('evaluated users and test positives follow the protocol', async () => {
  const records = [
    // u1: train x, y; test z with rating 5 → positive
    ev('u1', 'x', 1, 5), ev('u1', 'y', 2, 3), ev('u1', 'z', 9, 5),
    // u2: test item w rated 3 → below the threshold → not evaluated
    ev('u2', 'x', 1, 4), ev('u2', 'w', 9, 3),
    // u3: test item q has no training interaction (not a candidate) → not evaluated
    ev('u3', 'y', 1, 4), ev('u3', 'q', 9, 5),
    // u4: a single interaction → no training → not evaluated
    ev('u4', 'z', 9, 5),
    // u5: z at time 1 (train for z) + w later
    ev('u5', 'z', 1, 2), ev('u5', 'w', 3, 4),
  ];
  const explicit = await buildDataset(records, { name: 'e', explicitRatings: true, types });
  const split = prepareSplit(explicit, { protocol: 'loo' });
  const name = (u: number): string => explicit.userIds[u];
  assert.deepEqual([...split.users].map(name), ['u1']);
  assert.deepEqual([...split.positives.indices].map((i) => explicit.itemIds[i]), ['z']);
  // w is a candidate? only held out → not a candidate; so u5 (test w) is out as well
  assert.equal(split.train.candidates[explicit.itemIds.indexOf('w')], 0);
  // threshold 3 lets u2's rating count, but w is still not a candidate
  assert.deepEqual([...prepareSplit(explicit, { protocol: 'loo', threshold: 3 }).users].map(name), ['u1']);
  // implicit data: every held-out interaction is positive
  const implicit = await buildDataset(records.concat([ev('u6', 'x', 1, 1), ev('u6', 'y', 2, 1)]), { name: 'i', explicitRatings: false, types });
  const s2 = prepareSplit(implicit, { protocol: 'loo' });
  assert.deepEqual([...s2.users].map((u) => implicit.userIds[u]), ['u1', 'u6']);
});

test('training items never appear in the rankings and every list ranks candidates only', async () => {
  const ds = await randomData(3000, 4, false);
  for (const protocol of ['temporal', 'random', 'loo'] as const) {
    const split = prepareSplit(ds, { protocol });
    for (const name of ['popularity', 'itemknn', 'ease', 'ials']) {
      const algo = createAlgorithm(name, { seed: 1, options: { 'ials.iterations': 3 } });
      await algo.fit(split.train);
      const k = 15;
      const lists = await algo.recommend(split.users, k, { excludeTrainItems: true });
      const { offsets, indices } = split.train.userItems;
      for (let r = 0; r < split.users.length; r++) {
        const u = split.users[r];
        const seen = new Set(indices.subarray(offsets[u], offsets[u + 1]));
        const list = [...lists.subarray(r * k, (r + 1) * k)].filter((i) => i >= 0);
        assert.equal(new Set(list).size, list.length, `${name}: duplicates`);
        for (const i of list) {
          assert.ok(!seen.has(i), `${name}/${protocol}: training item ${i} recommended`);
          assert.equal(split.train.candidates[i], 1);
        }
        // as many items as there are unseen candidates, up to k
        assert.equal(list.length, Math.min(k, split.train.numCandidates - seen.size));
      }
    }
  }
});

test('evaluate() reports every metric at every k and rejects unknown algorithms', async () => {
  const ds = await randomData(3000, 5, false);
  const r = await evaluate(ds, { protocol: 'random', ks: [5, 10], algorithms: ['popularity', 'itemknn'] });
  assert.equal(r.results.length, 2);
  for (const a of r.results) {
    for (const k of [5, 10]) {
      for (const m of ['recall', 'ndcg', 'map', 'hit_rate', 'mrr', 'coverage', 'novelty', 'intra_list_diversity', 'popularity_bias']) {
        const v = a.metrics[`${m}@${k}`];
        assert.ok(Number.isFinite(v), `${a.name} ${m}@${k}`);
      }
    }
    assert.ok(a.metrics['recall@10'] >= a.metrics['recall@5'] - 1e-12 || a.metrics['recall@5'] > 0);
  }
  await assert.rejects(evaluate(ds, { protocol: 'loo', algorithms: ['nope'] }), /algorithm "nope" is not registered/);
});
