import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../eval/prng.js';
import { rocAuc } from '../gbdt/metrics.js';
import { DenseStack, padTo } from './dense-kernel.js';
import { MLP_FORMAT, MultiTaskMlp, type MlpData, type MlpJson } from './mlp.js';

/**
 * Three heads on six features: `ring` is 1 inside a ring of (x0, x1) (no linear model can tell
 * it), `linear` follows 2·x2 − x3 with noise, `missing` is 1 mostly when x4 is missing — which
 * only the missing-value inputs show. x5 is a count up to 5,000 (log-compressed by the encoding).
 */
function data(n: number, seed: number): MlpData {
  const rng = new Rng(seed);
  const d = 6;
  const X = new Float32Array(n * d);
  const labels = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
  for (let i = 0; i < n; i++) {
    const x = Array.from({ length: 4 }, () => 2 * rng.next() - 1);
    const missing = rng.next() < 0.3;
    X.set([...x, missing ? NaN : rng.next(), Math.floor(rng.next() * 5000)], i * d);
    const r = Math.hypot(x[0]!, x[1]!);
    labels[0]![i] = r > 0.4 && r < 0.8 ? 1 : 0;
    labels[1]![i] = 2 * x[2]! - x[3]! + 0.3 * rng.normal() > 0 ? 1 : 0;
    labels[2]![i] = (missing ? rng.next() < 0.8 : rng.next() < 0.1) ? 1 : 0;
  }
  return { X, n, d, labels };
}

const HEADS = ['ring', 'linear', 'missing'];

test('mlp: the shared layers learn a non-linear head, a linear one and one told by missing values, on held-out rows', () => {
  const fit = data(6000, 1);
  const valid = data(1500, 2);
  const test = data(3000, 3);
  const model = MultiTaskMlp.fit(fit, valid, HEADS, { hidden: [64, 32], epochs: 40, patience: 4, seed: 7 });
  const logits = model.predictRaw(test.X, test.n);
  const auc = HEADS.map((_, h) => rocAuc(logits.subarray(h * test.n, (h + 1) * test.n), test.labels[h]!));
  assert.ok(auc[0]! > 0.9, `ring AUC ${auc[0]}`);
  assert.ok(auc[1]! > 0.9, `linear AUC ${auc[1]}`);
  // 80% vs 10% positives by missingness: the best possible AUC is 0.85.
  assert.ok(auc[2]! > 0.8, `missing AUC ${auc[2]}`);
  const report = model.report!;
  assert.ok(report.bestEpoch >= 1 && report.bestEpoch <= report.epochs && report.epochs <= 40, JSON.stringify(report));
  assert.equal(report.validLoss.length, report.epochs);
  // The kept weights are the best epoch's: the validation loss now is that epoch's.
  assert.ok(Math.abs(model.loss(valid) - report.validLoss[report.bestEpoch - 1]!) < 1e-5, `${model.loss(valid)} vs ${report.validLoss[report.bestEpoch - 1]}`);
  // Seeded: the same fit twice gives the same weights.
  const again = MultiTaskMlp.fit(fit, valid, HEADS, { epochs: 3, seed: 7 });
  const third = MultiTaskMlp.fit(fit, valid, HEADS, { epochs: 3, seed: 7 });
  assert.deepEqual(again.toJSON().weights, third.toJSON().weights);
});

test('mlp: the WebAssembly SIMD forward pass gives the JavaScript path\'s logits; saved and loaded, the same predictions; a bad file names the field', () => {
  const fit = data(2000, 4);
  const model = MultiTaskMlp.fit(fit, data(500, 5), HEADS, { hidden: [20, 7], epochs: 3, seed: 3 });
  const rows = data(700, 6); // more than one chunk of 256 rows, and a tail
  const js = model.predictRawJs(rows.X, rows.n);
  const fast = model.predictRaw(rows.X, rows.n);
  // Layers of 20 and 7 units are padded to 32 and 16 in the kernel's layout.
  assert.equal(padTo(20), 32);
  assert.ok(DenseStack.create(model.sizes, model.weights, model.biases, 16), 'WebAssembly SIMD is available on Node 20');
  for (let i = 0; i < js.length; i++) assert.ok(Math.abs(js[i]! - fast[i]!) < 1e-4 * Math.max(1, Math.abs(js[i]!)), `logit ${i}: ${fast[i]} vs ${js[i]}`);
  const json = JSON.parse(JSON.stringify(model.toJSON())) as MlpJson;
  assert.equal(json.format, MLP_FORMAT);
  const loaded = MultiTaskMlp.fromJSON(json);
  assert.deepEqual(Array.from(loaded.predictRaw(rows.X, rows.n)), Array.from(fast));
  assert.deepEqual(loaded.heads, HEADS);
  assert.throws(() => MultiTaskMlp.fromJSON({ ...json, weights: json.weights.slice(1) }), /weight and bias arrays/);
  assert.throws(() => MultiTaskMlp.fromJSON({ ...json, biases: [json.biases[0]!, [1], json.biases[2]!] }), /biases\[1\] has 1 values, expected 7/);
  assert.throws(() => MultiTaskMlp.fromJSON({ ...json, format: 'other' as typeof MLP_FORMAT }), /format must be lenta\.mlp\.v1/);
  assert.throws(() => MultiTaskMlp.fit(fit, data(10, 1), ['only one'], {}), /1 heads but 3 fit/);
  assert.throws(() => model.predictRaw(rows.X, rows.n + 1), /matrix of/);
});

test('mlp: a warm start continues from the old model (its encoding and weights, its predictions at step 0) and is never worse on the validation rows', () => {
  const valid = data(1500, 8);
  const old = MultiTaskMlp.fit(data(3000, 7), valid, HEADS, { epochs: 2, seed: 1 });
  const newer = data(3000, 9);
  // With a learning rate too small to move anything, the continued model predicts what the old one did.
  const still = MultiTaskMlp.fit(newer, valid, HEADS, { epochs: 1, learningRate: 1e-12, weightDecay: 0, seed: 2 }, undefined, old);
  assert.equal(still.report!.warmStart, true);
  const rows = data(300, 10);
  const a = old.predictRawJs(rows.X, rows.n);
  const b = still.predictRawJs(rows.X, rows.n);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-6, `${a[i]} vs ${b[i]}`);
  // The old encoding is kept (fitted on the old rows), not refitted on the new ones.
  assert.deepEqual(still.toJSON().encode, old.toJSON().encode);
  // Trained on: at least as good as the old model on the validation rows (it competes as epoch 0).
  const continued = MultiTaskMlp.fit(newer, valid, HEADS, { epochs: 5, seed: 2 }, undefined, old);
  assert.ok(continued.loss(valid) <= old.loss(valid) + 1e-9, `${continued.loss(valid)} vs ${old.loss(valid)}`);
  // Other heads or layers: a fresh start.
  const fresh = MultiTaskMlp.fit(newer, valid, HEADS, { hidden: [8], epochs: 1, seed: 2 }, undefined, old);
  assert.equal(fresh.report!.warmStart, undefined);
});
