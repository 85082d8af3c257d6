import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, cumulative, hashString, mix32 } from './random.js';

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function variance(xs: number[]): number {
  const m = mean(xs);
  return xs.reduce((a, b) => a + (b - m) * (b - m), 0) / xs.length;
}

test('the same seed and stream give the same numbers; other seeds or streams differ', () => {
  const a = new Rng(42, 'x');
  const b = new Rng(42, 'x');
  const c = new Rng(43, 'x');
  const d = new Rng(42, 'y');
  const sa = Array.from({ length: 100 }, () => a.uint32());
  const sb = Array.from({ length: 100 }, () => b.uint32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, Array.from({ length: 100 }, () => c.uint32()));
  assert.notDeepEqual(sa, Array.from({ length: 100 }, () => d.uint32()));
  // Pinned values: the stream must not change between versions (simulations are reproducible from their seed).
  const r = new Rng(1);
  assert.deepEqual([r.uint32(), r.uint32(), r.uint32()], [876127513, 988143655, 231076350]);
  assert.equal(typeof mix32(1), 'number');
  assert.notEqual(hashString('a'), hashString('b'));
});

test('uniform draws are in [0, 1) with mean 1/2, and int(n) covers 0..n-1', () => {
  const r = new Rng(7);
  const xs = Array.from({ length: 50_000 }, () => r.next());
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.ok(Math.abs(mean(xs) - 0.5) < 0.01);
  const seen = new Set(Array.from({ length: 1000 }, () => r.int(7)));
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4, 5, 6]);
});

test('normal, gamma, poisson and log-normal have the right moments', () => {
  const r = new Rng(11);
  const n = Array.from({ length: 40_000 }, () => r.normal());
  assert.ok(Math.abs(mean(n)) < 0.03);
  assert.ok(Math.abs(variance(n) - 1) < 0.05);
  for (const shape of [0.3, 1, 4.5]) {
    const g = Array.from({ length: 40_000 }, () => r.gamma(shape));
    assert.ok(Math.abs(mean(g) - shape) < 0.05 * Math.max(1, shape), `gamma(${shape}) mean ${mean(g)}`);
  }
  for (const lambda of [0.5, 3, 80]) {
    const p = Array.from({ length: 40_000 }, () => r.poisson(lambda));
    assert.ok(p.every((k) => Number.isInteger(k) && k >= 0));
    assert.ok(Math.abs(mean(p) - lambda) < 0.03 * Math.max(1, lambda), `poisson(${lambda}) mean ${mean(p)}`);
  }
  const ln = Array.from({ length: 40_000 }, () => r.logNormalWithMean(5, 0.8));
  assert.ok(Math.abs(mean(ln) - 5) < 0.25);
  const w = r.dirichlet(5, 0.5);
  assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 1) < 1e-12);
});

test('categorical draws follow the weights', () => {
  const r = new Rng(3);
  const cum = cumulative([1, 0, 3, 6]);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 50_000; i++) counts[r.categorical(cum)]++;
  assert.equal(counts[1], 0);
  assert.ok(Math.abs(counts[0] / 50_000 - 0.1) < 0.01);
  assert.ok(Math.abs(counts[2] / 50_000 - 0.3) < 0.01);
  assert.ok(Math.abs(counts[3] / 50_000 - 0.6) < 0.01);
});

test('shuffle permutes', () => {
  const r = new Rng(5);
  const a = Array.from({ length: 50 }, (_, i) => i);
  r.shuffle(a);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.notDeepEqual(a, Array.from({ length: 50 }, (_, i) => i));
});
