import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecayedCounterTable } from './decayed-counters.js';
import { AdjacencySets, RingLists } from './lists.js';
import { EventTypeRegistry } from '../domain/event-types.js';
import { OnlineState } from './online-state.js';

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

test('direct index: per-id keys found without the hash, other keys hashed, both the same as a hash-only table through growth', () => {
  const direct = new DecayedCounterTable('x', [DAY, 10 * DAY], 16, { directTypes: 5 });
  const hashed = new DecayedCounterTable('x', [DAY, 10 * DAY], 16);
  // Direct keys (a ≥ 0 integer, b = 0, t < 5) and keys the direct index must not take: another b,
  // a type past directTypes, a negative or huge id, a negative type.
  const keys: [number, number, number][] = [];
  for (let a = 0; a < 700; a++) keys.push([a, 0, a % 5], [a, 0, (a + 2) % 5]);
  for (let a = 0; a < 300; a++) keys.push([a, 1 + (a % 4), a % 5], [a, 0, 5 + (a % 3)]);
  keys.push([-1, 0, 0], [-7, 0, 3], [1 << 24, 0, 2], [2 ** 31 - 1, 0, 4], [3, 0, -1]);
  let x = 12345;
  const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < 20_000; i++) {
    const [a, b, t] = keys[Math.floor(rnd() * keys.length)]!;
    const ts = Math.floor(rnd() * 30 * DAY);
    direct.add(a, b, t, ts);
    hashed.add(a, b, t, ts);
  }
  assert.equal(direct.entries, keys.length);
  assert.equal(direct.entries, hashed.entries);
  const now = 31 * DAY;
  for (const [a, b, t] of keys) {
    const got = [0, 0];
    const want = [0, 0];
    assert.equal(direct.getAll(a, b, t, now, got), true, `key ${a},${b},${t}`);
    hashed.getAll(a, b, t, now, want);
    assert.deepEqual(got, want, `key ${a},${b},${t}`);
    assert.equal(direct.lastUpdate(a, b, t), hashed.lastUpdate(a, b, t));
  }
  // Absent keys, inside and past the direct index's rows.
  for (const [a, b, t] of [[5, 0, 4], [699, 0, 0], [10_000, 0, 0], [5, 9, 0], [1, 0, 9]] as const) assert.equal(direct.find(a, b, t), -1, `absent ${a},${b},${t}`);
  // Same entries in the same (insertion) order.
  const order = (tb: DecayedCounterTable) => {
    const out: string[] = [];
    tb.forEach((a, b, t) => out.push(`${a},${b},${t}`));
    return out;
  };
  assert.deepEqual(order(direct), order(hashed));
  // Every type of every id counted (items × event types): the direct index is smaller than the
  // hash slots it replaces.
  const dense = new DecayedCounterTable('x', [DAY], 16, { directTypes: 3 });
  const plain = new DecayedCounterTable('x', [DAY], 16);
  for (let a = 0; a < 3000; a++) for (let t = 0; t < 3; t++) for (const tb of [dense, plain]) tb.add(a, 0, t, 0);
  assert.ok(dense.bytes < plain.bytes, `${dense.bytes} < ${plain.bytes}`);
  assert.equal(dense.get(2999, 0, 2, 0, 0), 1);
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

test('adjacency sets: hashed large nodes keep the same members and order as a plain scan', () => {
  const s = new AdjacencySets();
  // A reference with the documented semantics: insertion order, removal moves the last member into the hole.
  const ref = new Map<number, number[]>();
  let rng = 12345;
  const rand = (n: number) => ((rng = (Math.imul(rng, 1103515245) + 12345) >>> 0) >>> 8) % n;
  for (let step = 0; step < 60_000; step++) {
    const node = rand(4);
    // node 0 grows to hundreds, others hover around the index threshold.
    const value = node === 0 ? rand(2000) : rand(192) * 7919;
    const list = ref.get(node) ?? [];
    ref.set(node, list);
    const at = list.indexOf(value);
    if (rand(3) === 0) {
      assert.equal(s.remove(node, value), at >= 0);
      if (at >= 0) {
        list[at] = list[list.length - 1]!;
        list.pop();
      }
    } else {
      assert.equal(s.add(node, value), at < 0);
      if (at < 0) list.push(value);
    }
    const probeValue = node === 0 ? rand(2000) : rand(192) * 7919;
    assert.equal(s.has(node, probeValue), list.includes(probeValue));
  }
  let edges = 0;
  for (const [node, list] of ref) {
    assert.deepEqual(Array.from(s.get(node)), list);
    edges += list.length;
    for (let v = 0; v < 2000; v++) assert.equal(s.has(node, v), list.includes(v));
    for (let v = 0; v < 192; v++) assert.equal(s.has(node, v * 7919), list.includes(v * 7919));
    for (const v of list) assert.ok(s.has(node, v));
  }
  assert.equal(s.edges, edges);
});

test('rings on pooled storage: every node keeps its own newest entries as blocks grow, move and are reused', () => {
  for (const [capacity, withMeta] of [[7, true], [64, true], [200, false]] as const) {
    const r = new RingLists(capacity, withMeta);
    const ref = new Map<number, [number, number, number][]>();
    let rng = 99;
    const rand = (n: number) => ((rng = (Math.imul(rng, 1103515245) + 12345) >>> 0) >>> 8) % n;
    for (let step = 0; step < 40_000; step++) {
      // Skewed: a few busy nodes (wrapping rings) and many small ones (blocks through the free lists).
      const node = rand(3) === 0 ? rand(5) : rand(3000);
      const entry: [number, number, number] = [step, step % 13, step * 1.5];
      r.push(node, ...entry);
      const list = ref.get(node) ?? [];
      ref.set(node, list);
      list.unshift(withMeta ? entry : [step, 0, 0]);
      if (list.length > capacity) list.pop();
    }
    assert.equal(r.maxNode, Math.max(...ref.keys()));
    for (const [node, list] of ref) {
      const seen: [number, number, number][] = [];
      r.forEachRecent(node, (v, t, ts) => void seen.push([v, t, ts]));
      assert.deepEqual(seen, list);
      assert.equal(r.size(node), list.length);
      // Raw access: positions from newestPos backwards, at base(node) in the shared arrays.
      const vals = r.valuesOf(node);
      const at = r.base(node);
      const raw: number[] = [];
      for (let k = 0, pos = r.newestPos(node); k < r.size(node); k++, pos = pos === 0 ? r.capacity - 1 : pos - 1) raw.push(vals[at + pos]!);
      assert.deepEqual(raw, list.map((e) => e[0]));
    }
    assert.equal(r.size(123_456), 0);
    assert.equal(r.newestPos(123_456), -1);
    assert.deepEqual(r.recentValues(123_456), []);
  }
});

test('decayed counters: records keep float32 windows, float64 times and insertion order, through growth', () => {
  const windows = [60_000, DAY, 7 * DAY];
  const t = new DecayedCounterTable('x', windows, 16);
  // Reference: the same arithmetic on a Map (float32 storage = Math.fround).
  const ref = new Map<string, { key: [number, number, number]; last: number; v: number[] }>();
  let rng = 7;
  const rand = (n: number) => ((rng = (Math.imul(rng, 1103515245) + 12345) >>> 0) >>> 8) % n;
  let clock = 1_700_000_000_000;
  for (let i = 0; i < 30_000; i++) {
    const key: [number, number, number] = [rand(300), rand(5), rand(4)];
    clock += rand(50_000);
    const ts = rand(10) === 0 ? clock - rand(3 * DAY) : clock; // some events arrive late
    t.add(...key, ts);
    const k = key.join(',');
    let e = ref.get(k);
    if (!e) ref.set(k, (e = { key, last: -Infinity, v: windows.map(() => 0) }));
    if (ts >= e.last) {
      const dt = e.last === -Infinity ? 0 : ts - e.last;
      e.v = e.v.map((v, w) => Math.fround(v * (dt === 0 ? 1 : Math.exp(-dt / windows[w]!)) + 1));
      e.last = ts;
    } else {
      e.v = e.v.map((v, w) => Math.fround(v + Math.exp(-(e!.last - ts) / windows[w]!)));
    }
  }
  const rows: string[] = [];
  t.forEach((a, b, ty, last, values) => rows.push(`${a},${b},${ty}:${last}:${Array.from(values).join(',')}`));
  assert.deepEqual(rows, [...ref.values()].map((e) => `${e.key.join(',')}:${e.last}:${e.v.join(',')}`));
  const now = clock + DAY;
  const out = new Float64Array(3);
  for (const e of ref.values()) {
    assert.equal(t.lastUpdate(...e.key), e.last);
    assert.ok(t.getAll(...e.key, now, out));
    e.v.forEach((v, w) => {
      const expected = now - e.last <= 0 ? v : v * Math.exp(-(now - e.last) / windows[w]!);
      assert.equal(out[w], expected);
      assert.equal(t.get(...e.key, w, now), expected);
    });
    const entry = t.find(...e.key);
    assert.equal(t.entryLast(entry), e.last);
  }
  assert.equal(t.find(301, 0, 0), -1);
  assert.equal(t.lastUpdate(301, 0, 0), -Infinity);
  assert.ok(!t.getAll(301, 0, 0, now, out));
  assert.equal(t.entries, ref.size);
});

test('item tags: equal tag lists share one array; tagEdits counts re-tagged known items only', () => {
  const state = new OnlineState(new EventTypeRegistry());
  const item = (index: number, tags: string[]) => ({ index, author: 0, createdAt: 1000 + index, tags });
  state.applyItems([item(0, ['a', 'b']), item(1, ['a', 'b']), item(2, ['b', 'a']), item(3, [])]);
  assert.equal(state.tags(0), state.tags(1));
  assert.notEqual(state.tags(0), state.tags(2));
  assert.deepEqual(Array.from(state.tags(2)!, (t) => state.tagNames[t]), ['b', 'a']);
  assert.equal(state.tags(3), undefined);
  assert.equal(state.tagEdits, 0); // new items
  state.applyItems([item(4, ['c'])]);
  assert.equal(state.tagEdits, 0);
  state.applyItems([item(1, ['c'])]); // a known item re-tagged
  assert.equal(state.tagEdits, 1);
  assert.deepEqual(Array.from(state.tags(1)!, (t) => state.tagNames[t]), ['c']);
  assert.deepEqual(Array.from(state.tags(0)!, (t) => state.tagNames[t]), ['a', 'b']);
  state.applyItems([item(3, ['a'])]); // a known item's first tags
  assert.equal(state.tagEdits, 2);
});
