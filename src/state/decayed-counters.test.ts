import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecayedCounterTable } from './decayed-counters.js';
import { AdjacencySets, RingLists } from './lists.js';

const DAY = 86_400_000;

test('decayed counts: exp(-age/window) per window, out-of-order events land already decayed', () => {
  const t = new DecayedCounterTable('x', [DAY, 10 * DAY], 4);
  t.add(1, 2, 3, 0);
  t.add(1, 2, 3, DAY);
  // at t = DAY: 1·e^-1 + 1 in the 1-day window, 1·e^-0.1 + 1 in the 10-day window
  assert.ok(Math.abs(t.get(1, 2, 3, 0, DAY) - (Math.exp(-1) + 1)) < 1e-6);
  assert.ok(Math.abs(t.get(1, 2, 3, 1, DAY) - (Math.exp(-0.1) + 1)) < 1e-6);
  // read later: decays further
  assert.ok(Math.abs(t.get(1, 2, 3, 0, 2 * DAY) - (Math.exp(-2) + Math.exp(-1))) < 1e-6);
  // an event from the past
  t.add(1, 2, 3, 0);
  assert.ok(Math.abs(t.get(1, 2, 3, 0, DAY) - (2 * Math.exp(-1) + 1)) < 1e-6);
  assert.equal(t.get(1, 2, 4, 0, DAY), 0);
  assert.equal(t.lastUpdate(1, 2, 3), DAY);
});

test('the table grows past its initial capacity without losing keys', () => {
  const t = new DecayedCounterTable('x', [DAY], 16);
  for (let i = 0; i < 5000; i++) t.add(i % 500, i % 7, i % 3, 0, 1);
  assert.equal(t.entries, new Set(Array.from({ length: 5000 }, (_, i) => `${i % 500},${i % 7},${i % 3}`)).size);
  let total = 0;
  t.forEach((_a, _b, _t, _l, v) => (total += v[0]!));
  assert.equal(total, 5000);
  // 500, 7 and 3 are coprime and 5000 < 500·7·3, so every key was added exactly once.
  assert.equal(t.entries, 5000);
  assert.equal(t.get(499, 499 % 7, 499 % 3, 0, 0), 1);
});

test('adjacency sets and rings', () => {
  const s = new AdjacencySets();
  assert.ok(s.add(3, 7));
  assert.ok(!s.add(3, 7));
  for (let k = 0; k < 10; k++) s.add(3, 100 + k);
  assert.equal(s.size(3), 11);
  assert.ok(s.remove(3, 7));
  assert.ok(!s.has(3, 7));
  assert.equal(s.edges, 10);
  const r = new RingLists(3);
  for (let k = 0; k < 5; k++) r.push(0, k, k % 2, k * 10);
  assert.deepEqual(r.recentValues(0), [4, 3, 2]);
  const seen: number[][] = [];
  r.forEachRecent(0, (v, t, ts) => void seen.push([v, t, ts]));
  assert.deepEqual(seen, [[4, 0, 40], [3, 1, 30], [2, 0, 20]]);
  assert.equal(r.size(1), 0);
});
