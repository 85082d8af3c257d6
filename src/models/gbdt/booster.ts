/**
 * Gradient boosting of histogram trees (`trainGbdt`) and several binary heads on one binned
 * matrix (`trainHeads`).
 *
 * Each round: the objective turns the current raw scores into gradient/hessian pairs, a tree is
 * grown on them (rows of the bag, columns of the feature fraction), its leaf outputs are shrunk
 * by the learning rate and added to the scores — in-bag rows through the leaf partitions the
 * learner already holds, out-of-bag rows by walking the tree on their bins. With a validation
 * set its scores are advanced by the new tree on raw values and the metric can stop training
 * after `earlyStoppingRounds` rounds without improvement, keeping the best round's trees.
 *
 * Warm start (`initModel`): the scores start from the old model's raw predictions on the new
 * data instead of the initial constant, and the new trees are appended to the old ones, so the
 * continued model's score is exactly old score + new trees. The new trees are binned on the new
 * data (old trees keep their raw thresholds), so drifted value ranges get fresh bins.
 */
import { availableParallelism } from 'node:os';
import { Rng } from '../../eval/prng.js';
import { BinMapper, binMatrix, type BinnedMatrix } from './binning.js';
import { logLossOfRaw, NdcgEvaluator, rocAuc } from './metrics.js';
import { GbdtModel, thresholdToJson, type GbdtReport, type GbdtTreeJson } from './model.js';
import { binaryObjective, lambdarankObjective, type Objective, type ObjectiveName } from './objectives.js';
import { TreeLearner, type GrownTree } from './tree.js';

/** Rows of features (row-major, NaN = missing) with their names, query groups and weights. */
export interface GbdtMatrix {
  /**
   * numRows × featureNames.length values, row-major. NaN (an empty CSV field) is missing;
   * ±Infinity are ordinary values that fall into the first / last bin (see binning.ts).
   */
  features: Float32Array;
  numRows: number;
  featureNames: readonly string[];
  /** Query-group offsets (length groups + 1, from 0 to numRows); rows of a group are contiguous. */
  groups?: Int32Array;
  /** Non-negative row weights (for lambdarank the weight of a group's first row applies). */
  weights?: Float32Array;
}

export interface GbdtDataset extends GbdtMatrix {
  /** 0/1 (or a probability in [0, 1]) for binary; graded relevance >= 0 for lambdarank. */
  labels: Float32Array;
}

export type GbdtMetric = 'logloss' | 'auc' | 'ndcg';

export interface GbdtParams {
  objective?: ObjectiveName;
  numRounds?: number;
  learningRate?: number;
  numLeaves?: number;
  /** <= 0: unlimited. */
  maxDepth?: number;
  minDataInLeaf?: number;
  minSumHessianInLeaf?: number;
  lambdaL2?: number;
  minGainToSplit?: number;
  /** Share of features each tree may split on (drawn per tree). */
  featureFraction?: number;
  /** Share of rows (of query groups for lambdarank) each tree sees, redrawn every baggingFreq rounds. */
  baggingFraction?: number;
  baggingFreq?: number;
  maxBin?: number;
  /** Rows sampled to place the bin boundaries. */
  binSampleRows?: number;
  seed?: number;
  /** k of NDCG@k, for the lambdarank objective and the ndcg metric. */
  ndcgAt?: number;
  /** Early-stopping / reporting metric: logloss (binary default) or auc, ndcg (lambdarank default). */
  metric?: GbdtMetric;
  /** Stop after this many rounds without a better validation metric (0 = never). */
  earlyStoppingRounds?: number;
  /** Record the training-set metric every round (one pass over the scores; off in benchmarks). */
  recordTrainMetric?: boolean;
  /**
   * Threads building histograms: 1, or 2 (a helper thread takes half of each large histogram).
   * 0 = automatic: 2 when the machine has 2+ cores and the data has >= 2M values, else 1.
   */
  numThreads?: number;
}

export const GBDT_DEFAULTS: Required<GbdtParams> = {
  objective: 'binary',
  numRounds: 100,
  learningRate: 0.1,
  numLeaves: 31,
  maxDepth: -1,
  minDataInLeaf: 20,
  minSumHessianInLeaf: 1e-3,
  lambdaL2: 1,
  minGainToSplit: 0,
  featureFraction: 1,
  baggingFraction: 1,
  baggingFreq: 0,
  maxBin: 255,
  binSampleRows: 200_000,
  seed: 1,
  ndcgAt: 10,
  metric: 'logloss',
  earlyStoppingRounds: 0,
  recordTrainMetric: true,
  numThreads: 0,
};

export type GbdtProgress = (iteration: number, total: number, note: string) => void;

export interface GbdtTrainOptions {
  /** Validation set for the metric history and early stopping (same feature columns). */
  valid?: GbdtDataset;
  /** Continue boosting from this model (same feature names, same objective). */
  initModel?: GbdtModel;
  onProgress?: GbdtProgress;
  /** Bins already computed for exactly `data` (trainHeads bins once for all heads). */
  binned?: BinnedMatrix;
  /** Only these feature columns may be split on (1 = allowed; e.g. a cascade's cheap first pass); default all. */
  allowedFeatures?: Uint8Array;
}

/** Resolves and validates the parameters (errors name the parameter). */
export function resolveGbdtParams(params: GbdtParams): Required<GbdtParams> {
  const p = { ...GBDT_DEFAULTS };
  for (const [key, value] of Object.entries(params)) if (value !== undefined) (p as Record<string, unknown>)[key] = value;
  if (params.metric === undefined) p.metric = p.objective === 'lambdarank' ? 'ndcg' : 'logloss';
  const check = (ok: boolean, name: keyof GbdtParams, what: string) => {
    if (!ok) throw new Error(`params.${name}: ${what}, got ${JSON.stringify(p[name])}`);
  };
  check(p.objective === 'binary' || p.objective === 'lambdarank', 'objective', 'must be "binary" or "lambdarank"');
  check(Number.isInteger(p.numRounds) && p.numRounds >= 0, 'numRounds', 'must be an integer >= 0');
  check(p.learningRate > 0, 'learningRate', 'must be > 0');
  check(Number.isInteger(p.numLeaves) && p.numLeaves >= 2 && p.numLeaves <= 4096, 'numLeaves', 'must be an integer in [2, 4096]');
  check(Number.isInteger(p.maxDepth), 'maxDepth', 'must be an integer (<= 0: unlimited)');
  check(Number.isInteger(p.minDataInLeaf) && p.minDataInLeaf >= 1, 'minDataInLeaf', 'must be an integer >= 1');
  check(p.minSumHessianInLeaf >= 0, 'minSumHessianInLeaf', 'must be >= 0');
  check(p.lambdaL2 >= 0, 'lambdaL2', 'must be >= 0');
  check(p.minGainToSplit >= 0, 'minGainToSplit', 'must be >= 0');
  check(p.featureFraction > 0 && p.featureFraction <= 1, 'featureFraction', 'must be in (0, 1]');
  check(p.baggingFraction > 0 && p.baggingFraction <= 1, 'baggingFraction', 'must be in (0, 1]');
  check(Number.isInteger(p.baggingFreq) && p.baggingFreq >= 0, 'baggingFreq', 'must be an integer >= 0');
  check(Number.isInteger(p.maxBin) && p.maxBin >= 2 && p.maxBin <= 255, 'maxBin', 'must be an integer in [2, 255]');
  check(Number.isInteger(p.binSampleRows) && p.binSampleRows >= 1, 'binSampleRows', 'must be an integer >= 1');
  check(Number.isInteger(p.ndcgAt) && p.ndcgAt >= 1, 'ndcgAt', 'must be an integer >= 1');
  check(p.objective === 'binary' ? p.metric === 'logloss' || p.metric === 'auc' : p.metric === 'ndcg', 'metric', p.objective === 'binary' ? 'binary supports "logloss" or "auc"' : 'lambdarank supports "ndcg"');
  check(Number.isInteger(p.earlyStoppingRounds) && p.earlyStoppingRounds >= 0, 'earlyStoppingRounds', 'must be an integer >= 0');
  check(p.numThreads === 0 || p.numThreads === 1 || p.numThreads === 2, 'numThreads', 'must be 0 (automatic), 1 or 2');
  return p;
}

/** Checks shapes and values of a dataset; `name` prefixes the field in errors (e.g. "valid"). */
export function validateGbdtDataset(data: GbdtDataset, objective: ObjectiveName, name: string): void {
  const n = data.numRows;
  const d = data.featureNames.length;
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}.numRows: must be an integer >= 0, got ${n}`);
  if (data.features.length !== n * d) throw new Error(`${name}.features: ${data.features.length} values, expected numRows × features = ${n} × ${d}`);
  if (data.labels.length !== n) throw new Error(`${name}.labels: ${data.labels.length} labels for ${n} rows`);
  const seen = new Set<string>();
  for (const f of data.featureNames) {
    if (seen.has(f)) throw new Error(`${name}.featureNames: duplicate feature "${f}"`);
    seen.add(f);
  }
  checkLabels(data.labels, objective, `${name}.labels`);
  if (data.weights) {
    if (data.weights.length !== n) throw new Error(`${name}.weights: ${data.weights.length} weights for ${n} rows`);
    for (let i = 0; i < n; i++) if (!(data.weights[i]! >= 0 && data.weights[i]! < Infinity)) throw new Error(`${name}.weights[${i}]: ${data.weights[i]} is not a finite weight >= 0`);
  }
  if (data.groups) {
    const g = data.groups;
    if (g.length < 1 || g[0] !== 0 || g[g.length - 1] !== n) throw new Error(`${name}.groups: offsets must start at 0 and end at numRows (${n})`);
    for (let i = 1; i < g.length; i++) if (g[i]! < g[i - 1]!) throw new Error(`${name}.groups[${i}]: offsets must not decrease`);
  } else if (objective === 'lambdarank') throw new Error(`${name}.groups: required by the lambdarank objective`);
}

/** Binary labels in [0, 1], lambdarank relevance in [0, 31]; `name` is the field in errors. */
function checkLabels(labels: Float32Array, objective: ObjectiveName, name: string): void {
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (objective === 'binary' ? !(y >= 0 && y <= 1) : !(y >= 0 && y < 32)) {
      throw new Error(`${name}[${i}]: ${y} is outside ${objective === 'binary' ? '[0, 1] (binary objective)' : '[0, 31] (lambdarank relevance)'}`);
    }
  }
}

function makeObjective(p: Required<GbdtParams>, data: GbdtDataset): Objective {
  return p.objective === 'binary' ? binaryObjective(data.labels, data.weights) : lambdarankObjective(data.labels, data.groups!, { k: p.ndcgAt }, data.weights);
}

/** Metric values of raw scores (the first key is the early-stopping metric). */
function evaluate(p: Required<GbdtParams>, scores: Float64Array, data: GbdtDataset, full: boolean, ndcg: NdcgEvaluator | undefined): Record<string, number> {
  if (p.objective === 'lambdarank') return { [`ndcg@${p.ndcgAt}`]: ndcg!.evaluate(scores) };
  if (p.metric === 'auc') return full ? { auc: rocAuc(scores, data.labels, data.weights), logloss: logLossOfRaw(scores, data.labels, data.weights) } : { logloss: logLossOfRaw(scores, data.labels, data.weights) };
  return { logloss: logLossOfRaw(scores, data.labels, data.weights) };
}

function treeToJson(t: GrownTree, learningRate: number): GbdtTreeJson {
  const s = t.numLeaves - 1;
  return {
    numLeaves: t.numLeaves,
    splitFeature: Array.from(t.splitFeature.subarray(0, s)),
    threshold: Array.from(t.threshold.subarray(0, s), thresholdToJson),
    defaultLeft: Array.from(t.defaultLeft.subarray(0, s), (x) => (x ? 1 : 0)),
    left: Array.from(t.left.subarray(0, s)),
    right: Array.from(t.right.subarray(0, s)),
    splitGain: Array.from(t.splitGain.subarray(0, s)),
    leafValue: Array.from(t.leafValue.subarray(0, t.numLeaves), (v) => v * learningRate),
    leafCount: Array.from(t.leafCount.subarray(0, t.numLeaves)),
  };
}

/** Trains a boosted tree ensemble on `data`; the model carries its training report. */
export function trainGbdt(data: GbdtDataset, params: GbdtParams = {}, options: GbdtTrainOptions = {}): GbdtModel {
  const started = performance.now();
  const p = resolveGbdtParams(params);
  const progress = options.onProgress ?? (() => {});
  validateGbdtDataset(data, p.objective, 'data');
  const d = data.featureNames.length;
  const valid = options.valid;
  if (valid) {
    validateGbdtDataset(valid, p.objective, 'valid');
    checkSameFeatures(data.featureNames, valid.featureNames, 'valid');
  }
  const init = options.initModel;
  if (init) {
    if (init.objective !== p.objective) throw new Error(`initModel: objective "${init.objective}" differs from params.objective "${p.objective}"`);
    checkSameFeatures(init.featureNames, data.featureNames, 'data');
  }
  const n = data.numRows;
  if (n === 0) throw new Error('data.numRows: no rows to train on');

  let binned = options.binned;
  if (!binned) {
    const t0 = performance.now();
    const mapper = BinMapper.fit(data.features, n, d, { maxBin: p.maxBin, sampleRows: p.binSampleRows, seed: p.seed });
    binned = binMatrix(mapper, data.features, n);
    progress(0, p.numRounds, `binned ${n} rows × ${d} features (${binned.numUsed} non-constant) in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  } else if (binned.numRows !== n || binned.mapper.numFeatures !== d) throw new Error('options.binned: does not match data');

  const objective = makeObjective(p, data);
  const initScore = init ? init.initScore : objective.initScore();
  const scores = new Float64Array(n);
  if (init) init.predictRaw(data.features, n, scores);
  else scores.fill(initScore);
  const validScores = valid ? new Float64Array(valid.numRows) : undefined;
  if (valid) {
    if (init) init.predictRaw(valid.features, valid.numRows, validScores!);
    else validScores!.fill(initScore);
  }
  const treeScores = valid ? new Float64Array(valid.numRows) : undefined;

  const threads = p.numThreads || (availableParallelism() >= 2 && n * binned.numUsed >= 2_000_000 ? 2 : 1);
  const learner = new TreeLearner(binned, p, threads);
  try {
    const rng = new Rng(p.seed ^ 0x5eed);
    const du = binned.numUsed;
    const bagging = p.baggingFraction < 1 && p.baggingFreq > 0;
    const bag = bagging ? new Int32Array(n) : undefined;
    const inBag = bagging ? new Uint8Array(n) : undefined;
    let bagSize = n;
    const allowed = options.allowedFeatures;
    if (allowed && allowed.length !== d) throw new Error(`options.allowedFeatures: ${allowed.length} flags for ${d} features`);
    const used = binned.mapper.usedFeatures;
    const colPool = Int32Array.from({ length: du }, (_, k) => k).filter((k) => !allowed || allowed[used[k]!] === 1);
    const numCols = Math.min(colPool.length, Math.max(1, Math.round(p.featureFraction * colPool.length)));
    const restricted = colPool.length < du;
    const randomized = bagging || numCols < colPool.length;

    const trees: GbdtTreeJson[] = [];
    const history: GbdtReport['history'] = [];
    const higherIsBetter = p.metric !== 'logloss';
    let bestScore = NaN;
    let bestIteration = 0;
    const metricName = p.objective === 'lambdarank' ? `ndcg@${p.ndcgAt}` : p.metric;
    const ranking = p.objective === 'lambdarank';
    const trainNdcg = ranking && p.recordTrainMetric ? new NdcgEvaluator(data.labels, data.groups!, p.ndcgAt) : undefined;
    const validNdcg = ranking && valid ? new NdcgEvaluator(valid.labels, valid.groups!, p.ndcgAt) : undefined;

    for (let it = 0; it < p.numRounds; it++) {
      objective.gradients(scores, learner.gh);
      if (bagging && it % p.baggingFreq === 0) bagSize = drawBag(rng, n, p.baggingFraction, data.groups, p.objective === 'lambdarank', bag!, inBag!);
      let columns: Int32Array | undefined;
      if (numCols < colPool.length) {
        // Partial Fisher–Yates: the first numCols of the shuffled pool, in column order.
        for (let i = 0; i < numCols; i++) {
          const j = i + rng.int(colPool.length - i);
          const tmp = colPool[i]!;
          colPool[i] = colPool[j]!;
          colPool[j] = tmp;
        }
        columns = colPool.slice(0, numCols).sort();
      } else if (restricted) columns = colPool;
      const tree = learner.grow(bag, bagSize, columns);
      const lr = p.learningRate;
      // In-bag rows: through the leaf partitions.
      for (let l = 0; l < tree.numLeaves; l++) {
        const v = lr * tree.leafValue[l]!;
        const begin = learner.leafBegin[l]!;
        const end = begin + learner.leafCount[l]!;
        for (let i = begin; i < end; i++) scores[learner.rows[i]!] += v;
      }
      if (bagging) {
        for (let r = 0; r < n; r++) if (!inBag![r]) scores[r] += lr * tree.leafValue[learner.leafOfRow(tree, r)]!;
      }
      const json = treeToJson(tree, lr);
      trees.push(json);

      const entry: GbdtReport['history'][number] = { train: p.recordTrainMetric ? evaluate(p, scores, data, false, trainNdcg) : {} };
      if (valid) {
        // One tree: the JavaScript walk, without copying the rows into WebAssembly memory.
        new GbdtModel(p.objective, data.featureNames, 0, [json]).predictRawJs(valid.features, valid.numRows, treeScores!);
        for (let i = 0; i < valid.numRows; i++) validScores![i] += treeScores![i]!;
        entry.valid = evaluate(p, validScores!, valid, true, validNdcg);
        const score = entry.valid[metricName]!;
        if (it === 0 || (higherIsBetter ? score > bestScore : score < bestScore)) {
          bestScore = score;
          bestIteration = it + 1;
        }
      } else bestIteration = it + 1;
      history.push(entry);
      const fmt = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(5)}`).join(', ');
      progress(it + 1, p.numRounds, `train ${fmt(entry.train)}${entry.valid ? `; valid ${fmt(entry.valid)}` : ''}; ${tree.numLeaves} leaves`);
      if (valid && p.earlyStoppingRounds > 0 && it + 1 - bestIteration >= p.earlyStoppingRounds) {
        progress(it + 1, p.numRounds, `early stop: best iteration ${bestIteration} (valid ${metricName} ${bestScore.toFixed(5)})`);
        break;
      }
      if (tree.numLeaves === 1 && !randomized) {
        progress(it + 1, p.numRounds, 'stopped: no split improves the loss any more');
        break;
      }
    }

    const kept = trees.slice(0, bestIteration);
    const allTrees = init ? [...init.trees, ...kept] : kept;
    const { earlyStoppingRounds: _e, recordTrainMetric: _r, numThreads: _t, ...modelParams } = p;
    const draft = new GbdtModel(p.objective, data.featureNames, initScore, allTrees, modelParams, binned.mapper);
    const report: GbdtReport = {
      objective: p.objective,
      metric: metricName,
      bestIteration,
      bestScore: valid && Number.isFinite(bestScore) ? bestScore : null,
      iterations: history.length,
      history,
      fitSeconds: (performance.now() - started) / 1000,
      importance: draft
        .featureImportance()
        .filter((x) => x.splits > 0)
        .sort((a, b) => b.gain - a.gain),
    };
    return new GbdtModel(p.objective, data.featureNames, initScore, allTrees, modelParams, binned.mapper, report);
  } finally {
    learner.close();
  }
}

function checkSameFeatures(expected: readonly string[], actual: readonly string[], name: string): void {
  const m = Math.max(expected.length, actual.length);
  for (let i = 0; i < m; i++) {
    if (expected[i] !== actual[i]) {
      const want = expected[i];
      const got = actual[i];
      if (want === undefined) throw new Error(`${name}.featureNames[${i}]: unexpected extra feature "${got}" (the model has ${expected.length} features)`);
      if (got === undefined) throw new Error(`${name}.featureNames: feature "${want}" is missing (expected at column ${i})`);
      throw new Error(`${name}.featureNames[${i}]: feature "${got}" where the model has "${want}"`);
    }
  }
}

/** Draws a bag of rows (or of whole query groups) into `bag`; returns its size. */
function drawBag(rng: Rng, n: number, fraction: number, groups: Int32Array | undefined, byGroup: boolean, bag: Int32Array, inBag: Uint8Array): number {
  inBag.fill(0);
  let size = 0;
  if (byGroup && groups) {
    for (let g = 0; g + 1 < groups.length; g++) {
      if (rng.next() >= fraction) continue;
      for (let r = groups[g]!; r < groups[g + 1]!; r++) {
        bag[size++] = r;
        inBag[r] = 1;
      }
    }
  } else {
    for (let r = 0; r < n; r++) {
      if (rng.next() >= fraction) continue;
      bag[size++] = r;
      inBag[r] = 1;
    }
  }
  return size;
}

/**
 * Trains one binary model per head on the same rows and features, binning the matrix once.
 * `labels[head]` holds that head's 0/1 labels; `valid`, when given, holds the validation rows
 * and each head's validation labels. Returns `{ [head]: model }`.
 */
export function trainHeads(
  data: GbdtMatrix,
  labels: Record<string, Float32Array>,
  params: GbdtParams = {},
  options: { valid?: GbdtMatrix & { labels: Record<string, Float32Array> }; onProgress?: (head: string, iteration: number, total: number, note: string) => void } = {},
): Record<string, GbdtModel> {
  const p = resolveGbdtParams({ ...params, objective: 'binary' });
  const d = data.featureNames.length;
  if (data.features.length !== data.numRows * d) throw new Error(`data.features: ${data.features.length} values, expected ${data.numRows} × ${d}`);
  const mapper = BinMapper.fit(data.features, data.numRows, d, { maxBin: p.maxBin, sampleRows: p.binSampleRows, seed: p.seed });
  const binned = binMatrix(mapper, data.features, data.numRows);
  const out: Record<string, GbdtModel> = {};
  for (const [head, y] of Object.entries(labels)) {
    if (y.length !== data.numRows) throw new Error(`labels.${head}: ${y.length} labels for ${data.numRows} rows`);
    checkLabels(y, 'binary', `labels.${head}`);
  }
  for (const [head, y] of Object.entries(labels)) {
    const validLabels = options.valid?.labels[head];
    if (options.valid && !validLabels) throw new Error(`valid.labels.${head}: missing validation labels for head "${head}"`);
    out[head] = trainGbdt({ ...data, labels: y }, p, {
      binned,
      valid: options.valid && validLabels ? { ...options.valid, labels: validLabels } : undefined,
      onProgress: options.onProgress ? (it, total, note) => options.onProgress!(head, it, total, note) : undefined,
    });
  }
  return out;
}
