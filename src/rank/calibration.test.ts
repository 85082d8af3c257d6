import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../eval/prng.js';
import { calibratorFromJson, expectedCalibrationError, fitIsotonic, fitPlatt, rocAuc } from './calibration.js';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

test('rocAuc: perfect ranking 1, reversed 0, all tied 0.5, ties count one half', () => {
  const labels = [0, 0, 0, 1, 1];
  assert.equal(rocAuc([1, 2, 3, 4, 5], labels), 1);
  assert.equal(rocAuc([5, 4, 3, 2, 1], labels), 0);
  assert.equal(rocAuc([7, 7, 7, 7, 7], labels), 0.5);
  // One positive tied with one negative, the other positive above all: (1 + 3 + 0.5 + 3) / 6.
  assert.equal(rocAuc([1, 2, 3, 3, 4], [0, 0, 0, 1, 1]), (3 + 2.5) / 6);
  // The weighted path agrees with the unweighted one under unit weights, and weights count.
  const rng = new Rng(3);
  const s = Array.from({ length: 500 }, () => Math.round(rng.next() * 20));
  const y = s.map((x) => (rng.next() < x / 20 ? 1 : 0));
  assert.ok(Math.abs(rocAuc(s, y) - rocAuc(s, y, new Array(500).fill(1))) < 1e-12);
  assert.equal(rocAuc([1, 2, 3], [1, 0, 1], [1, 1, 0]), 0);
  assert.ok(Number.isNaN(rocAuc([1, 2], [1, 1])));
});

test('expectedCalibrationError: equal-width bins weighted by count', () => {
  assert.ok(Math.abs(expectedCalibrationError([0.1, 0.1, 0.9, 0.9], [0, 0, 1, 1]) - 0.1) < 1e-12);
  // Two bins: [0, .5) holds 0.2 (observed 1 of 2), [.5, 1] holds 0.7, 0.7 (observed 2 of 2).
  assert.ok(Math.abs(expectedCalibrationError([0.2, 0.2, 0.7, 0.7], [0, 1, 1, 1], 2) - (2 * 0.3 + 2 * 0.3) / 4) < 1e-12);
  assert.throws(() => expectedCalibrationError([0.5], [1, 0]), /1 probabilities but 2 labels/);
});

test('Platt scaling recovers a known sigmoid', () => {
  const rng = new Rng(11);
  const n = 20_000;
  const s = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s[i] = 3 + 2 * rng.normal();
    y[i] = rng.next() < sigmoid(1.5 * s[i]! - 5) ? 1 : 0;
  }
  const platt = fitPlatt(s, y);
  assert.ok(Math.abs(platt.a - 1.5) < 0.1, `a = ${platt.a}`);
  assert.ok(Math.abs(platt.b + 5) < 0.35, `b = ${platt.b}`);
  const back = calibratorFromJson(JSON.parse(JSON.stringify(platt.toJSON())));
  assert.equal(back.apply(2.5), platt.apply(2.5));
  // Separable data stays finite.
  const sep = fitPlatt([-2, -1, 1, 2], [0, 0, 1, 1]);
  assert.ok(Number.isFinite(sep.a) && sep.a > 0 && sep.apply(2) > 0.9);
  assert.throws(() => fitPlatt([1, 2], [0, 2]), /labels\[1\] = 2 is outside \[0, 1\]/);
});

test('isotonic regression is monotone, clamped, and fixes miscalibrated scores', () => {
  const rng = new Rng(5);
  const n = 20_000;
  const score = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = 0.02 + 0.96 * rng.next();
    score[i] = p ** 3; // a monotone but badly calibrated "probability"
    y[i] = rng.next() < p ? 1 : 0;
  }
  const half = n / 2;
  const iso = fitIsotonic(score.subarray(0, half), y.subarray(0, half));
  let prev = -Infinity;
  for (let x = -0.5; x <= 1.5; x += 0.001) {
    const p = iso.apply(x);
    assert.ok(p >= prev - 1e-15, `not monotone at ${x}`);
    assert.ok(p >= 1e-6 && p <= 1 - 1e-6);
    prev = p;
  }
  const testScores = score.subarray(half);
  const testY = y.subarray(half);
  const before = expectedCalibrationError(testScores, testY);
  const after = expectedCalibrationError(testScores.map((s) => iso.apply(s)), testY);
  assert.ok(before > 0.15, `uncalibrated ECE ${before}`);
  assert.ok(after < 0.03, `calibrated ECE ${after}`);
  assert.ok(after < before / 5);
  // Ranking is preserved (up to ties introduced by flat blocks).
  assert.ok(rocAuc(testScores.map((s) => iso.apply(s)), testY) > rocAuc(testScores, testY) - 0.01);
  const back = calibratorFromJson(JSON.parse(JSON.stringify(iso.toJSON())));
  for (const x of [0, 0.01, 0.1, 0.5, 0.9]) assert.equal(back.apply(x), iso.apply(x));
});

test('isotonic: pools violators and interpolates between block centres', () => {
  // Scores 1..4 with labels 0, 1, 0, 1: the middle pair pools to 0.5 at centre 2.5.
  const iso = fitIsotonic([1, 2, 3, 4], [0, 1, 0, 1], { eps: 0 });
  const json = iso.toJSON();
  assert.deepEqual(json.x, [1, 2.5, 4]);
  assert.deepEqual(json.y, [0, 0.5, 1]);
  assert.equal(iso.apply(1.75), 0.25);
  assert.equal(iso.apply(10), 1);
  assert.equal(iso.apply(-10), 0);
  assert.throws(() => calibratorFromJson({ kind: 'nope' } as never), /unknown calibrator/);
});
