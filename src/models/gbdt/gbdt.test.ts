import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../eval/prng.js';
import { BinMapper, binMatrix } from './binning.js';
import { trainGbdt, trainHeads, type GbdtDataset } from './booster.js';
import { parseNumberBytes, readTrainingCsv } from './csv.js';
import { allocateKernelMemory, jsHistKernels, simdHistKernels } from './hist-kernel.js';
import { logLossOfRaw, ndcgAtK, rocAuc, sortGroupByScore } from './metrics.js';
import { GbdtModel, type GbdtModelJson } from './model.js';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** A dataset from a row generator: features(row) fills x, returns the label. */
function makeData(n: number, names: string[], seed: number, row: (rng: Rng, x: Float32Array, i: number) => number): GbdtDataset {
  const rng = new Rng(seed);
  const d = names.length;
  const features = new Float32Array(n * d);
  const labels = new Float32Array(n);
  for (let i = 0; i < n; i++) labels[i] = row(rng, features.subarray(i * d, (i + 1) * d), i);
  return { features, numRows: n, featureNames: names, labels };
}

function predict(model: GbdtModel, data: { features: Float32Array; numRows: number }): Float64Array {
  return model.predictRaw(data.features, data.numRows, new Float64Array(data.numRows));
}

function column(data: GbdtDataset, f: number): Float64Array {
  const d = data.featureNames.length;
  return Float64Array.from({ length: data.numRows }, (_, i) => data.features[i * d + f]!);
}

/** y = (x0 > 0) XOR (x1 > 0) with 5% flipped labels, plus three noise features. */
const xorRow = (rng: Rng, x: Float32Array) => {
  for (let j = 0; j < 5; j++) x[j] = rng.next() * 2 - 1;
  const y = x[0]! > 0 !== x[1]! > 0 ? 1 : 0;
  return rng.next() < 0.05 ? 1 - y : y;
};
const XOR_NAMES = ['x0', 'x1', 'noise0', 'noise1', 'noise2'];

test('gbdt learns an interaction no single feature shows (XOR), and reports it', () => {
  const train = makeData(6000, XOR_NAMES, 1, xorRow);
  const valid = makeData(3000, XOR_NAMES, 2, xorRow);
  for (let f = 0; f < 5; f++) {
    const auc = rocAuc(column(valid, f), valid.labels);
    assert.ok(Math.max(auc, 1 - auc) < 0.6, `feature ${f} alone has AUC ${auc}`);
  }
  const notes: string[] = [];
  const model = trainGbdt(train, { numRounds: 60, numLeaves: 8, learningRate: 0.2 }, { valid, onProgress: (i, total, note) => notes.push(`${i}/${total} ${note}`) });
  const auc = rocAuc(predict(model, valid), valid.labels);
  assert.ok(auc > 0.9, `AUC ${auc}`);
  const report = model.report!;
  assert.equal(report.iterations, 60);
  assert.equal(report.history.length, 60);
  assert.ok(report.history[59]!.train.logloss! < report.history[0]!.train.logloss!);
  assert.ok(report.fitSeconds > 0);
  // The two interacting features carry nearly all the gain.
  const top = report.importance.slice(0, 2).map((x) => x.feature).sort();
  assert.deepEqual(top, ['x0', 'x1']);
  const gain = report.importance.reduce((s, x) => s + x.gain, 0);
  assert.ok((report.importance[0]!.gain + report.importance[1]!.gain) / gain > 0.8);
  assert.match(notes[0]!, /^0\/60 binned 6000 rows × 5 features/);
  assert.match(notes.at(-1)!, /^60\/60 train logloss .*; valid logloss/);
  // predictProba and the single-row path agree with the batch raw scores.
  const p = model.predictProba(valid.features, 10, new Float64Array(10));
  for (let i = 0; i < 10; i++) {
    const row = valid.features.subarray(i * 5, i * 5 + 5);
    assert.ok(Math.abs(model.predictRowProba(row) - p[i]!) < 1e-12);
    assert.ok(Math.abs(sigmoid(model.predictRowRaw(Array.from(row))) - p[i]!) < 1e-12);
  }
});

test('gbdt uses missingness itself as a signal (learned default direction)', () => {
  // m is missing for 30% of rows; missing rows are mostly positive, present values say nothing.
  const row = (rng: Rng, x: Float32Array) => {
    const missing = rng.next() < 0.3;
    x[0] = missing ? NaN : rng.normal();
    x[1] = rng.normal();
    return rng.next() < (missing ? 0.8 : 0.2) ? 1 : 0;
  };
  const train = makeData(5000, ['m', 'noise'], 3, row);
  const valid = makeData(2000, ['m', 'noise'], 4, row);
  const model = trainGbdt(train, { numRounds: 30, numLeaves: 4 });
  assert.ok(rocAuc(predict(model, valid), valid.labels) > 0.75);
  assert.equal(model.report!.importance[0]!.feature, 'm');
  assert.ok(model.predictRowProba([NaN, 0]) > 0.7);
  assert.ok(model.predictRowProba([0.3, 0]) < 0.3);
  assert.ok(model.predictRowProba([-2, 0]) < 0.3);
});

test('±Infinity are clamped to the extreme bins, consistently in training and prediction', () => {
  // x = +Infinity behaves like a large value (positive), -Infinity like a small one.
  const row = (rng: Rng, x: Float32Array) => {
    const u = rng.next();
    x[0] = u < 0.1 ? Infinity : u < 0.2 ? -Infinity : rng.normal();
    x[1] = 5; // constant: skipped
    return x[0]! > 0 ? 1 : 0;
  };
  const train = makeData(3000, ['x', 'constant'], 5, row);
  const model = trainGbdt(train, { numRounds: 20, numLeaves: 4 });
  assert.deepEqual(Array.from(model.binMapper!.usedFeatures), [0]);
  assert.equal(model.featureImportance()[1]!.splits, 0);
  assert.ok(model.predictRowProba([Infinity, 5]) > 0.9);
  assert.ok(model.predictRowProba([-Infinity, 5]) < 0.1);
  assert.ok(model.predictRowProba([1e30, 5]) > 0.9);
});

test('lambdarank learns an interaction within query groups (ndcg@10 on held-out groups)', () => {
  // Graded relevance from a smooth interaction of a and b (neither ranks alone) plus noise.
  const make = (groups: number, seed: number): GbdtDataset => {
    const size = 30;
    const data = makeData(groups * size, ['a', 'b', 'c'], seed, (rng, x) => {
      x[0] = rng.next();
      x[1] = rng.next();
      x[2] = rng.next();
      const z = 12 * (x[0]! - 0.5) * (x[1]! - 0.5) + 0.5 * x[2]! + 0.5 * rng.normal();
      return z > 1.2 ? 3 : z > 0.5 ? 2 : z > 0 ? 1 : 0;
    });
    return { ...data, groups: Int32Array.from({ length: groups + 1 }, (_, g) => g * size) };
  };
  const train = make(200, 6);
  const valid = make(100, 7);
  const model = trainGbdt(train, { objective: 'lambdarank', metric: 'ndcg', ndcgAt: 10, numRounds: 40, numLeaves: 8, minDataInLeaf: 10 }, { valid });
  const ndcg = ndcgAtK(predict(model, valid), valid.labels, valid.groups!, 10);
  const rng = new Rng(8);
  const shuffled = ndcgAtK(Float64Array.from({ length: valid.numRows }, () => rng.next()), valid.labels, valid.groups!, 10);
  const bestSingle = Math.max(...[0, 1, 2].flatMap((f) => [ndcgAtK(column(valid, f), valid.labels, valid.groups!, 10), ndcgAtK(column(valid, f).map((v) => -v), valid.labels, valid.groups!, 10)]));
  assert.ok(ndcg > 0.85, `ndcg@10 ${ndcg}`);
  assert.ok(ndcg > shuffled + 0.3, `model ${ndcg} vs shuffled ${shuffled}`);
  assert.ok(ndcg > bestSingle + 0.3, `model ${ndcg} vs best single feature ${bestSingle}`);
  assert.equal(model.report!.metric, 'ndcg@10');
  // Boosting matters: later rounds rank better than the first tree.
  const history = model.report!.history.map((h) => h.valid!['ndcg@10']!);
  assert.ok(history.at(-1)! > history[0]! + 0.1, history.join(' '));
  assert.throws(() => trainGbdt({ ...train, groups: undefined }, { objective: 'lambdarank' }), /data\.groups: required by the lambdarank objective/);
  assert.throws(() => trainGbdt(train, { objective: 'lambdarank', metric: 'auc' }), /params\.metric: lambdarank supports "ndcg"/);
});

test('early stopping keeps the best iteration', () => {
  // Mostly noise with a weak signal: deep trees with a high rate overfit quickly.
  const row = (rng: Rng, x: Float32Array) => {
    for (let j = 0; j < 6; j++) x[j] = rng.normal();
    return rng.next() < sigmoid(0.8 * x[0]!) ? 1 : 0;
  };
  const names = ['s', 'n1', 'n2', 'n3', 'n4', 'n5'];
  const train = makeData(1500, names, 9, row);
  const valid = makeData(1500, names, 10, row);
  const model = trainGbdt(train, { numRounds: 200, numLeaves: 31, minDataInLeaf: 5, learningRate: 0.3, earlyStoppingRounds: 10 }, { valid });
  const r = model.report!;
  const losses = r.history.map((h) => h.valid!.logloss!);
  const best = losses.indexOf(Math.min(...losses)) + 1;
  assert.ok(r.iterations < 200, 'stopped early');
  assert.equal(r.iterations, best + 10);
  assert.equal(r.bestIteration, best);
  assert.equal(model.numTrees, best);
  assert.equal(r.bestScore, losses[best - 1]);
  // The kept model scores exactly the best round's validation loss.
  assert.ok(Math.abs(logLossOfRaw(predict(model, valid), valid.labels) - losses[best - 1]!) < 1e-9);
  // AUC as the early-stopping metric is maximised.
  const byAuc = trainGbdt(train, { numRounds: 200, numLeaves: 31, minDataInLeaf: 5, learningRate: 0.3, earlyStoppingRounds: 10, metric: 'auc' }, { valid });
  const aucs = byAuc.report!.history.map((h) => h.valid!.auc!);
  assert.equal(byAuc.report!.bestIteration, aucs.indexOf(Math.max(...aucs)) + 1);
});

test('save and load: JSON round trip gives identical predictions', () => {
  const row = (rng: Rng, x: Float32Array) => {
    x[0] = rng.next() < 0.2 ? NaN : rng.normal();
    x[1] = rng.next() < 0.05 ? Infinity : rng.normal();
    x[2] = Math.floor(rng.next() * 4);
    return rng.next() < sigmoid(x[0]! === x[0]! ? x[0]! * x[2]! : 1) ? 1 : 0;
  };
  const data = makeData(3000, ['a', 'b', 'c'], 12, row);
  const model = trainGbdt(data, { numRounds: 25, numLeaves: 15, featureFraction: 0.7, baggingFraction: 0.8, baggingFreq: 1, seed: 3 });
  const json = JSON.parse(JSON.stringify(model)) as GbdtModelJson;
  assert.equal(json.format, 'lenta.gbdt.v1');
  const loaded = GbdtModel.fromJSON(json);
  assert.deepEqual(predict(loaded, data), predict(model, data));
  assert.deepEqual(loaded.featureNames, ['a', 'b', 'c']);
  assert.equal(loaded.binMapper!.bin(0, 0.5), model.binMapper!.bin(0, 0.5));
  // Same seed, same model; another seed, another model.
  assert.deepEqual(JSON.parse(JSON.stringify(trainGbdt(data, { numRounds: 25, numLeaves: 15, featureFraction: 0.7, baggingFraction: 0.8, baggingFreq: 1, seed: 3 }))).trees, json.trees);
  assert.notDeepEqual(JSON.parse(JSON.stringify(trainGbdt(data, { numRounds: 25, numLeaves: 15, featureFraction: 0.7, baggingFraction: 0.8, baggingFreq: 1, seed: 4 }))).trees, json.trees);
  assert.throws(() => GbdtModel.fromJSON({ ...json, format: 'other' } as never), /format: expected "lenta.gbdt.v1"/);
});

test('warm start: boosting continues from the old model’s scores and appends trees', () => {
  // Old slice: y depends on x0. Newer slice: drifted, y depends on x0 and (more) on x1.
  const old = (rng: Rng, x: Float32Array) => {
    for (let j = 0; j < 3; j++) x[j] = rng.normal();
    return rng.next() < sigmoid(1.5 * x[0]!) ? 1 : 0;
  };
  const drifted = (rng: Rng, x: Float32Array) => {
    for (let j = 0; j < 3; j++) x[j] = rng.normal();
    return rng.next() < sigmoid(1.5 * x[0]! + 2 * x[1]! - 0.5) ? 1 : 0;
  };
  const names = ['x0', 'x1', 'x2'];
  const oldData = makeData(4000, names, 20, old);
  const newData = makeData(4000, names, 21, drifted);
  const newTest = makeData(4000, names, 22, drifted);
  const params = { numRounds: 40, numLeaves: 8, learningRate: 0.1 };
  const oldModel = trainGbdt(oldData, params);

  // 1. One unsplittable round: its single leaf is the Newton step from the old model's scores.
  const step = trainGbdt(newData, { ...params, numRounds: 1, minGainToSplit: 1e12 }, { initModel: oldModel });
  assert.equal(step.numTrees, oldModel.numTrees + 1);
  const oldRaw = predict(oldModel, newData);
  let G = 0;
  let H = 0;
  for (let i = 0; i < newData.numRows; i++) {
    const p = sigmoid(oldRaw[i]!);
    G += p - newData.labels[i]!;
    H += p * (1 - p);
  }
  const newTree = step.trees.at(-1)!;
  assert.equal(newTree.numLeaves, 1);
  assert.ok(Math.abs(newTree.leafValue[0]! - (-0.1 * G) / (H + 1)) < 1e-9, `${newTree.leafValue[0]} vs ${(-0.1 * G) / (H + 1)}`);

  // 2. A real continuation: old trees first, then new ones; score = old score + new trees.
  const continued = trainGbdt(newData, params, { initModel: oldModel });
  assert.equal(continued.numTrees, oldModel.numTrees + 40);
  assert.deepEqual(continued.trees.slice(0, oldModel.numTrees), oldModel.trees);
  assert.equal(continued.initScore, oldModel.initScore);
  const onlyNew = GbdtModel.fromJSON({ ...continued.toJSON(), initScore: 0, trees: continued.trees.slice(oldModel.numTrees) });
  const newPart = predict(onlyNew, newTest);
  const sum = predict(oldModel, newTest).map((v, i) => v + newPart[i]!);
  const cont = predict(continued, newTest);
  for (let i = 0; i < newTest.numRows; i++) assert.ok(Math.abs(cont[i]! - sum[i]!) < 1e-9);
  // On the newer slice the continued model beats the old one.
  const aucOld = rocAuc(predict(oldModel, newTest), newTest.labels);
  const aucNew = rocAuc(cont, newTest.labels);
  assert.ok(aucNew >= aucOld + 0.02, `continued ${aucNew} vs old ${aucOld}`);
  assert.ok(logLossOfRaw(cont, newTest.labels) < logLossOfRaw(predict(oldModel, newTest), newTest.labels));

  // 3. Feature names must match, and the error names the feature.
  assert.throws(() => trainGbdt({ ...newData, featureNames: ['x0', 'x9', 'x2'] }, params, { initModel: oldModel }), /data\.featureNames\[1\]: feature "x9" where the model has "x1"/);
  assert.throws(() => trainGbdt({ ...newData, features: newData.features.subarray(0, 2 * newData.numRows), featureNames: ['x0', 'x1'] }, params, { initModel: oldModel }), /feature "x2" is missing/);
});

test('input errors name the field', () => {
  const data = makeData(100, ['a', 'b'], 30, (rng, x) => {
    x[0] = rng.next();
    x[1] = rng.next();
    return 0;
  });
  data.labels[7] = 2;
  assert.throws(() => trainGbdt(data), /data\.labels\[7\]: 2 is outside \[0, 1\] \(binary objective\)/);
  data.labels[7] = NaN;
  assert.throws(() => trainGbdt(data), /data\.labels\[7\]: NaN is outside/);
  data.labels[7] = 1;
  assert.throws(() => trainGbdt(data, { numLeaves: 1 }), /params\.numLeaves: must be an integer in \[2, 4096\]/);
  assert.throws(() => trainGbdt({ ...data, features: data.features.subarray(1) }), /data\.features: 199 values, expected numRows × features = 100 × 2/);
  assert.throws(() => trainHeads(data, { click: Float32Array.from(data.labels, (_, i) => (i === 3 ? -1 : 0)) }), /labels\.click\[3\]: -1 is outside \[0, 1\]/);
});

test('trainHeads: several binary heads on one binning', () => {
  const n = 3000;
  const data = makeData(n, ['a', 'b', 'c'], 40, (rng, x) => {
    for (let j = 0; j < 3; j++) x[j] = rng.normal();
    return 0;
  });
  const rng = new Rng(41);
  const click = Float32Array.from({ length: n }, (_, i) => (rng.next() < sigmoid(2 * data.features[i * 3]!) ? 1 : 0));
  const like = Float32Array.from({ length: n }, (_, i) => (rng.next() < sigmoid(2 * data.features[i * 3 + 2]! - 2) ? 1 : 0));
  const heads = trainHeads(data, { click, like }, { numRounds: 20, numLeaves: 4 });
  assert.deepEqual(Object.keys(heads), ['click', 'like']);
  assert.equal(heads.click!.binMapper, heads.like!.binMapper);
  assert.equal(heads.click!.report!.importance[0]!.feature, 'a');
  assert.equal(heads.like!.report!.importance[0]!.feature, 'c');
});

test('binning: quantile bins with a missing bin, constant features unused', () => {
  const n = 10_000;
  const d = 3;
  const m = new Float32Array(n * d);
  const rng = new Rng(50);
  for (let i = 0; i < n; i++) {
    m[i * d] = rng.normal();
    m[i * d + 1] = i % 10 === 0 ? NaN : i % 3; // three values and missing
    m[i * d + 2] = 7;
  }
  const mapper = BinMapper.fit(m, n, d, { maxBin: 16 });
  assert.equal(mapper.numBins(0), 16);
  assert.equal(mapper.numBins(1), 3);
  assert.equal(mapper.numBins(2), 0);
  assert.deepEqual(Array.from(mapper.usedFeatures), [0, 1]);
  const binned = binMatrix(mapper, m, n);
  // Equal-frequency: every bin of the normal feature holds roughly n / 16 rows.
  const counts = new Array(17).fill(0);
  for (let i = 0; i < n; i++) counts[binned.bins[i * 2]!]++;
  assert.equal(counts[0], 0);
  for (let b = 1; b <= 16; b++) assert.ok(Math.abs(counts[b] - n / 16) < n / 40, `bin ${b}: ${counts[b]}`);
  for (let i = 0; i < n; i++) {
    assert.equal(binned.bins[i * 2 + 1], i % 10 === 0 ? 0 : (i % 3) + 1);
    assert.equal(binned.columns[n + i], binned.bins[i * 2 + 1]);
    assert.equal(binned.bins[i * 2], mapper.bin(0, m[i * d]!));
  }
});

test('histogram kernels: WebAssembly SIMD and JavaScript agree, over a column list and all columns', (t) => {
  const n = 2000;
  const du = 7;
  const slotsPerCol = 256;
  const bytes = { bins: 0, rows: 16384, gh: 32768, cols: 65536, offs: 65536 + 64, hist: 65536 + 128 };
  const histBytes = du * slotsPerCol * 32;
  const mem = allocateKernelMemory(bytes.hist + 2 * histBytes);
  const simd = simdHistKernels(mem);
  if (!simd) return t.skip('WebAssembly SIMD unavailable');
  const js = jsHistKernels(mem.buffer);
  const rng = new Rng(60);
  const bins = new Uint8Array(mem.buffer, bytes.bins, n * du);
  for (let i = 0; i < bins.length; i++) bins[i] = rng.int(256);
  const rows = new Int32Array(mem.buffer, bytes.rows, 1000);
  for (let i = 0; i < 1000; i++) rows[i] = 2 * i;
  const gh = new Float64Array(mem.buffer, bytes.gh, 2 * n);
  for (let i = 0; i < gh.length; i++) gh[i] = rng.normal();
  // List: columns 6, 0 and 3 only, in that order. All: the 7 columns (an odd count).
  new Int32Array(mem.buffer, bytes.cols, 6).set([6, 0, 0, slotsPerCol * 32, 3, 2 * slotsPerCol * 32]);
  new Int32Array(mem.buffer, bytes.offs, du).set(Array.from({ length: du }, (_, k) => k * slotsPerCol * 32));
  const a = new Float64Array(mem.buffer, bytes.hist, histBytes / 8);
  const b = new Float64Array(mem.buffer, bytes.hist + histBytes, histBytes / 8);
  for (const [kind, cols, ncols] of [['list', bytes.cols, 3], ['all', bytes.offs, du]] as const) {
    a.fill(0);
    b.fill(0);
    simd[kind](bytes.rows, 17, 1000, bytes.bins, du, bytes.gh, bytes.hist, cols, ncols);
    js[kind](bytes.rows, 17, 1000, bytes.bins, du, bytes.gh, bytes.hist + histBytes, cols, ncols);
    a[3] = b[3] = 0; // the kernel parks its touch loads in slot 0's unused lane
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-9, `${kind}: slot value ${i}`);
    let count = 0;
    for (let i = 2; i < a.length; i += 4) count += a[i]!;
    assert.equal(count, ncols * 983);
  }
});

test('CSV reader: header roles, quotes, empty fields, CRLF, chunk boundaries', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lenta-gbdt-'));
  try {
    const path = join(dir, 'train.csv');
    const lines = ['t,user,item,group,label_click,f1,"f,2",label_like'];
    for (let i = 0; i < 300; i++) lines.push(`${1000 + i},"u,${i}",i${i},${Math.floor(i / 10)},${i % 2},${i % 7 === 0 ? '' : (i * 0.25).toString()},${-i}e-2,${i % 3 === 0 ? 1 : 0}`);
    writeFileSync(path, lines.join('\r\n'));
    for (const chunkBytes of [64, 1 << 20]) {
      const csv = readTrainingCsv(path, { chunkBytes });
      assert.equal(csv.numRows, 300);
      assert.deepEqual(csv.featureNames, ['f1', 'f,2']);
      assert.deepEqual(csv.heads, ['click', 'like']);
      assert.equal(csv.time[299], 1299);
      assert.equal(csv.group![299], 29);
      assert.ok(Number.isNaN(csv.features[0]!));
      assert.equal(csv.features[2 * 5], 1.25);
      assert.equal(csv.features[2 * 5 + 1], Math.fround(-0.05));
      assert.equal(csv.labels[0]![5], 1);
      assert.equal(csv.labels[1]![6], 1);
    }
    writeFileSync(path, 't,f\n1,2\n3\n');
    assert.throws(() => readTrainingCsv(path), /train\.csv:3: 1 fields, the header has 2/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const bytes = (s: string) => new TextEncoder().encode(s);
  for (const s of ['0', '-1.5', '3.25e2', '1e-7', '0.000123', '123456789012345678', '.5', '-0', 'inf', '-Infinity', 'NaN', '12abc']) {
    const b = bytes(s);
    const want = s === 'inf' ? Infinity : s === '12abc' ? NaN : Number(s);
    assert.ok(Object.is(parseNumberBytes(b, 0, b.length), want), `${s} → ${parseNumberBytes(b, 0, b.length)}`);
  }
});

test('two histogram threads grow the same trees as one', () => {
  const data = makeData(30_000, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], 70, (rng, x) => {
    for (let j = 0; j < 8; j++) x[j] = rng.next() < 0.1 ? NaN : rng.normal();
    return rng.next() < sigmoid(x[0]! * x[1]! + (x[2]! > 0.5 ? 1 : -0.5)) ? 1 : 0;
  });
  const params = { numRounds: 8, numLeaves: 31, recordTrainMetric: false };
  const one = trainGbdt(data, { ...params, numThreads: 1 });
  const two = trainGbdt(data, { ...params, numThreads: 2 });
  assert.deepEqual(
    two.trees.map((t) => t.splitFeature),
    one.trees.map((t) => t.splitFeature),
  );
  // Two threads are exactly reproducible (pieces have fixed bounds and accumulators)…
  assert.deepEqual(trainGbdt(data, { ...params, numThreads: 2 }).trees, two.trees);
  // …and differ from one thread only in the order of floating-point sums.
  const a = predict(one, data);
  const b = predict(two, data);
  for (let i = 0; i < data.numRows; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-9);
});

test('batch prediction: the WebAssembly kernel and the JavaScript loop agree exactly', () => {
  const data = makeData(4000, ['a', 'b', 'c'], 80, (rng, x) => {
    x[0] = rng.next() < 0.15 ? NaN : rng.normal();
    x[1] = rng.next() < 0.02 ? -Infinity : rng.normal();
    x[2] = Math.floor(rng.next() * 5);
    return rng.next() < sigmoid(x[0] === x[0] ? x[0]! + x[1]! * 0.5 : x[2]! - 2) ? 1 : 0;
  });
  const model = trainGbdt(data, { numRounds: 30, numLeaves: 31, featureFraction: 0.8, baggingFraction: 0.7, baggingFreq: 2 });
  assert.ok(rocAuc(predict(model, data), data.labels) > 0.75);
  for (const n of [8, 13, 1001]) {
    for (const trees of [1, 17, 30]) {
      const fast = model.predictRaw(data.features, n, new Float64Array(n), trees);
      const js = model.predictRawJs(data.features, n, new Float64Array(n), trees);
      assert.deepEqual(fast, js);
    }
  }
  // Float32 output and a Float64 input matrix (JavaScript path) give the same scores.
  const f32 = model.predictRaw(data.features, 100, new Float32Array(100));
  const f64 = model.predictRaw(Float64Array.from(data.features.subarray(0, 300)), 100, new Float64Array(100));
  for (let i = 0; i < 100; i++) assert.equal(f32[i], Math.fround(f64[i]!));
});

test('ranking helpers: group sort (ties by position) and NDCG@k', () => {
  const rng = new Rng(90);
  for (const m of [1, 5, 48, 49, 200]) {
    const scores = Float64Array.from({ length: m + 3 }, () => Math.round(rng.next() * 10));
    const order = Int32Array.from({ length: m }, (_, i) => i);
    sortGroupByScore(order, m, scores, 3);
    const want = Array.from({ length: m }, (_, i) => i).sort((a, b) => scores[3 + b]! - scores[3 + a]! || a - b);
    assert.deepEqual(Array.from(order), want);
  }
  // Group 1: perfect order; group 2: relevant row last of 3 (k = 2 sees none of it); group 3: no relevant row.
  const labels = [2, 1, 0, 0, 0, 1, 0, 0];
  const scores = [3, 2, 1, 3, 2, 1, 5, 4];
  const groups = Int32Array.from([0, 3, 6, 8]);
  assert.equal(ndcgAtK(scores, labels, groups, 3), (1 + 0.5) / 2);
  assert.equal(ndcgAtK(scores, labels, groups, 2), (1 + 0) / 2);
  assert.ok(Number.isNaN(ndcgAtK([1, 2], [0, 0], Int32Array.from([0, 2]), 10)));
});

test('gbdt with allowedFeatures splits only on the allowed columns, and a warm start from it may use every column', () => {
  const train = makeData(6000, XOR_NAMES, 1, xorRow);
  const valid = makeData(3000, XOR_NAMES, 2, xorRow);
  // x0 is not allowed: XOR of x0 and x1 cannot be learned from the rest.
  const allowed = Uint8Array.from(XOR_NAMES, (_, f) => (f === 0 ? 0 : 1));
  const first = trainGbdt(train, { numRounds: 20, numLeaves: 8, learningRate: 0.2 }, { valid, allowedFeatures: allowed });
  for (const t of first.trees) assert.ok(!t.splitFeature.includes(0), `a tree splits on x0: ${t.splitFeature}`);
  assert.ok(rocAuc(predict(first, valid), valid.labels) < 0.65);
  const full = trainGbdt(train, { numRounds: 40, numLeaves: 8, learningRate: 0.2 }, { valid, initModel: first });
  assert.deepEqual(full.trees.slice(0, first.numTrees), first.trees);
  assert.ok(full.trees.slice(first.numTrees).some((t) => t.splitFeature.includes(0)));
  assert.ok(rocAuc(predict(full, valid), valid.labels) > 0.9);
  assert.throws(() => trainGbdt(train, {}, { allowedFeatures: new Uint8Array(2) }), /allowedFeatures: 2 flags for 5 features/);
});
