import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../eval/prng.js';
import { trainGbdt, type GbdtDataset } from './booster.js';
import { GbdtForest, roundDownToFloat32 } from './forest.js';
import { GbdtModel, type GbdtTreeJson } from './model.js';

/** A random tree of `leaves` leaves grown like the learner (split a random leaf), thresholds from `threshold()`. */
function randomTree(rng: Rng, leaves: number, d: number, threshold: () => number): GbdtTreeJson {
  const s = leaves - 1;
  const t: GbdtTreeJson = {
    numLeaves: leaves,
    splitFeature: [],
    threshold: [],
    defaultLeft: [],
    left: [],
    right: [],
    splitGain: new Array<number>(s).fill(1),
    leafValue: Array.from({ length: leaves }, () => (rng.next() - 0.5) * 2 ** Math.floor(rng.next() * 20 - 10)),
    leafCount: new Array<number>(leaves).fill(1),
  };
  const parent: number[] = [-1];
  const isLeft: boolean[] = [false];
  for (let l = 1; l < leaves; l++) {
    const target = Math.floor(rng.next() * l);
    const node = l - 1;
    const th = threshold();
    t.splitFeature.push(Math.floor(rng.next() * d));
    t.threshold.push(th === Infinity ? 'Infinity' : th);
    t.defaultLeft.push(rng.next() < 0.5 ? 1 : 0);
    t.left.push(~target);
    t.right.push(~l);
    const p = parent[target]!;
    if (p >= 0) (isLeft[target] ? t.left : t.right)[p] = node;
    parent[target] = parent[l] = node;
    isLeft[target] = true;
    isLeft[l] = false;
  }
  return t;
}

/** Row-major float32 rows: NaN, ±∞, ±0, values on and next to the thresholds, and ordinary values. */
function randomRows(rng: Rng, n: number, d: number, near: number[]): Float32Array {
  const x = new Float32Array(n * d);
  for (let i = 0; i < n * d; i++) {
    const u = rng.next();
    if (u < 0.15) x[i] = NaN;
    else if (u < 0.18) x[i] = rng.next() < 0.5 ? Infinity : -Infinity;
    else if (u < 0.22) x[i] = rng.next() < 0.5 ? 0 : -0;
    else if (u < 0.6) {
      // On a threshold (as float32, rounded either way) or one float32 step away.
      const t = Math.fround(near[Math.floor(rng.next() * near.length)]!);
      const bits = new Int32Array(new Float32Array([t]).buffer);
      bits[0] += Math.floor(rng.next() * 3) - 1;
      x[i] = Number.isFinite(t) ? new Float32Array(bits.buffer)[0]! : t;
    } else x[i] = rng.normal() * 3;
  }
  return x;
}

/** The reference: each model's JavaScript walk (f64 out), checked against its single-row walk. */
function reference(models: readonly GbdtModel[], x: Float32Array, n: number, heads: readonly number[]): Float64Array {
  const out = new Float64Array(n * heads.length);
  heads.forEach((h, j) => {
    const m = models[h]!;
    m.predictRawJs(x, n, out.subarray(j * n, (j + 1) * n));
    for (let i = 0; i < n; i += 37) assert.ok(Object.is(m.predictRowRaw(x.subarray(i * m.numFeatures, (i + 1) * m.numFeatures)), out[j * n + i]));
  });
  return out;
}

function assertSame(got: Float64Array, want: Float64Array, what: string): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) assert.fail(`${what}: score ${i} is ${got[i]}, the reference ${want[i]}`);
}

test('roundDownToFloat32: v > t ⇔ v > t↓ for every float32 v', () => {
  const rng = new Rng(1);
  const specials = [0, -0, Infinity, -Infinity, 3.4028235677973366e38, -3.4028235677973366e38, 1e39, -1e39, 1e-46, -1e-46, 1.401298464324817e-45, -1.401298464324817e-45];
  const ts = [...specials, ...Array.from({ length: 3000 }, () => rng.normal() * 10 ** Math.floor(rng.next() * 12 - 6))];
  for (const t of ts) {
    const r = roundDownToFloat32(t);
    assert.equal(Math.fround(r), r, `${t}: ${r} is not a float32`);
    assert.ok(r <= t, `${t}: ${r} above it`);
    const f32 = new Float32Array(1);
    const bits = new Int32Array(f32.buffer);
    f32[0] = r;
    for (const step of [-2, -1, 1, 2]) {
      bits[0] = new Int32Array(new Float32Array([r]).buffer)[0]! + step;
      const v = f32[0]!;
      if (v === v) assert.equal(v > t, v > r, `t ${t}, v ${v}`);
    }
  }
  assert.equal(roundDownToFloat32(NaN), Infinity);
});

test('compiled forest: the exact scores of each model, NaN to the learned side, on random trees and rows', () => {
  const rng = new Rng(7);
  const d = 13;
  // Thresholds: not float32-representable, exact float32 values, ±∞, ±0, huge and tiny.
  const thresholdPool = [...Array.from({ length: 40 }, () => rng.normal() * 3), ...Array.from({ length: 20 }, () => Math.fround(rng.normal() * 3)), Infinity, -Infinity, 0, -0, 1e39, -1e39, 1e-46, -1e-46];
  const threshold = () => thresholdPool[Math.floor(rng.next() * thresholdPool.length)]!;
  const names = Array.from({ length: d }, (_, j) => `f${j}`);
  const models = [
    new GbdtModel('binary', names, -0.25, Array.from({ length: 40 }, () => randomTree(rng, 31, d, threshold))),
    new GbdtModel('binary', names, 0.5, Array.from({ length: 7 }, (_, i) => randomTree(rng, 1 + (i % 4) * 9, d, threshold))),
    new GbdtModel('binary', names, 0, [randomTree(rng, 1, d, threshold), randomTree(rng, 2, d, threshold)]),
    new GbdtModel('binary', names, 1.5, []),
    new GbdtModel('lambdarank', names, -0, Array.from({ length: 12 }, () => randomTree(rng, 32, d, threshold))),
  ];
  // Sums that stay −0: no tree, or trees of −0 leaves (an added +0 would turn them into +0).
  const zeros = Array.from({ length: 3 }, () => randomTree(rng, 9, d, threshold));
  for (const t of zeros) t.leafValue.fill(-0);
  models.push(new GbdtModel('binary', names, -0, []), new GbdtModel('binary', names, -0, zeros));
  // A threshold no learner writes (NaN): every value goes left, a missing one its default way.
  const odd = randomTree(rng, 6, d, threshold);
  odd.threshold[0] = NaN;
  models.push(new GbdtModel('binary', names, 0, [odd, ...Array.from({ length: 3 }, () => randomTree(rng, 17, d, threshold))]));
  const all = models.map((_, h) => h);
  for (const options of [{}, { walks: 4, chunkRows: 8 }, { walks: 5, chunkRows: 1000, simd: false }]) {
    const forest = GbdtForest.create(models, options);
    assert.ok(forest, 'WebAssembly is available in the test runtime');
    assert.equal(forest.kernel, options.simd === false ? 'wasm' : 'wasm-simd');
    for (const n of [0, 1, 7, 8, 9, 130, 1001]) {
      const x = randomRows(rng, n, d, thresholdPool);
      for (const heads of [all, [4, 0], [3], [7, 2, 1], [5, 6]]) {
        const got = forest.predictRaw(x, n, heads, new Float64Array(n * heads.length));
        assertSame(got, reference(models, x, n, heads), `n ${n}, heads ${heads.join(',')}, ${JSON.stringify(options)}`);
      }
    }
    // A longer matrix than n rows, and a reused forest (its memory grown and shrunk in use).
    const x = randomRows(rng, 300, d, thresholdPool);
    assertSame(forest.predictRaw(x, 250, [0], new Float64Array(250)), reference(models, x, 250, [0]), 'n < rows');
    assert.throws(() => forest.predictRaw(x, 10, [0, 0], new Float64Array(20)), /twice/);
    assert.throws(() => forest.predictRaw(x, 10, [models.length], new Float64Array(10)), /no head/);
    assert.throws(() => forest.predictRaw(x, 301, [0], new Float64Array(301)), /matrix/);
  }
  // Models over different features do not compile together.
  assert.equal(GbdtForest.create([models[0]!, new GbdtModel('binary', ['a'], 0, [])]), undefined);
});

test('compiled forest: trained heads on data with missing values agree exactly with predictRaw', () => {
  const rng = new Rng(11);
  const n = 3000;
  const names = ['a', 'b', 'c', 'd'];
  const features = new Float32Array(n * 4);
  const labels = [new Float32Array(n), new Float32Array(n)];
  for (let i = 0; i < n; i++) {
    const x = features.subarray(i * 4, i * 4 + 4);
    x[0] = rng.next() < 0.2 ? NaN : rng.normal();
    x[1] = rng.next() < 0.05 ? -Infinity : rng.normal();
    x[2] = Math.floor(rng.next() * 6);
    x[3] = rng.next() < 0.5 ? NaN : rng.next();
    labels[0]![i] = rng.next() < 1 / (1 + Math.exp(-(x[0] === x[0] ? x[0]! : 1.5) - 0.3 * x[2]!)) ? 1 : 0;
    labels[1]![i] = rng.next() < (x[3] === x[3] ? 0.2 : 0.6) + 0.1 * Math.sign(x[1]!) ? 1 : 0;
  }
  const models = labels.map((y) => trainGbdt({ features, numRows: n, featureNames: names, labels: y } as GbdtDataset, { numRounds: 25, numLeaves: 31, minDataInLeaf: 20 }));
  const forest = GbdtForest.create(models)!;
  const got = forest.predictRaw(features, n, [0, 1], new Float64Array(2 * n));
  for (const h of [0, 1]) assertSame(got.subarray(h * n, (h + 1) * n), models[h]!.predictRaw(features, n, new Float64Array(n)), `head ${h}`);
});
