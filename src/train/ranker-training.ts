/**
 * Training the heavy ranker (rank/heavy-ranker.ts) on held-out examples.
 *
 * 1. The training set (train/ranker-dataset.ts, built by the engine): features from the shadow, one label
 *    per head, one group of rows per held-out user (in the examples' seeded random order).
 * 2. Split by user: the first `rank.fitShare` of the users fit the trees (the same users the
 *    fusion was fitted on); of the rest, one half stops the boosting early and fits the
 *    calibration, the other half only measures (per-head AUC and ECE, and ndcg/recall@10 of
 *    the weighted score against the light ranker's order).
 * 3. One gradient-boosted model per head: `engaged` with `rank.objective` (LambdaMART by
 *    default: it learns the order within a user's candidates), the event-type heads with logloss.
 *    Each head's raw score is calibrated into a probability (isotonic or Platt).
 * 4. Warm start: given the model in use, each head continues from its trees (boosting starts
 *    from the old model's predictions) instead of starting over.
 */
import type { EventTypeRegistry } from '../domain/event-types.js';
import type { Config } from '../domain/config.js';
import { BinMapper, binMatrix } from '../models/gbdt/binning.js';
import { trainGbdt } from '../models/gbdt/booster.js';
import { GbdtModel } from '../models/gbdt/model.js';
import { expectedCalibrationError, fitIsotonic, fitPlatt, rocAuc } from '../rank/calibration.js';
import { RANKER_FORMAT, featureMismatch, type RankerHeadFile, type RankerHeadReport, type RankerModelFile } from '../rank/heavy-ranker.js';
import { headWeight } from '../rank/score-formula.js';
import { accuracyAtK } from '../eval/metrics.js';
import type { HoldoutExamples } from './holdout.js';
import { ENGAGED_HEAD, sliceGroups, type RankerDataset } from './ranker-dataset.js';

export interface RankerTrainingOptions {
  /** The training set (train/ranker-dataset.ts) built from the same examples. */
  dataset: RankerDataset;
  settings: Config['rank'];
  types: EventTypeRegistry;
  /** The model to continue (warm start); heads it lacks start from scratch. */
  warmStart?: RankerModelFile;
  seed?: number;
  onProgress?: (done: number, total: number, note?: string) => void;
}

export async function trainRanker(examples: HoldoutExamples, o: RankerTrainingOptions): Promise<RankerModelFile> {
  const t0 = performance.now();
  const progress = o.onProgress ?? (() => {});
  const s = o.settings;
  const ds = o.dataset;
  const g = ds.groupUser.length;
  if (g < 10) throw new Error(`ranker: ${g} held-out users with a retrieved engagement (need 10)`);
  if (o.warmStart) {
    const mismatch = featureMismatch(o.warmStart.features, ds.features);
    if (mismatch) throw new Error(`ranker warm start: ${mismatch}`);
  }
  const fitEnd = Math.max(1, Math.min(g - 2, Math.round(g * s.fitShare)));
  const calEnd = fitEnd + Math.max(1, Math.floor((g - fitEnd) / 2));
  const fit = sliceGroups(ds, 0, fitEnd);
  const cal = sliceGroups(ds, fitEnd, calEnd);
  const test = sliceGroups(ds, calEnd, g);

  const heads: RankerHeadFile[] = [];
  const reports: RankerHeadReport[] = [];
  const testProbs: Float64Array[] = [];
  let importance: { feature: string; gain: number }[] = [];
  // Bin the fitting rows once for every head.
  const mapper = BinMapper.fit(fit.X, fit.n, ds.d, { maxBin: 255, sampleRows: 200_000, seed: o.seed ?? 42 });
  const binned = binMatrix(mapper, fit.X, fit.n);
  const warm: Record<string, number> = {};
  for (let h = 0; h < ds.heads.length; h++) {
    const name = ds.heads[h]!;
    const objective = name === ENGAGED_HEAD ? s.objective : 'binary';
    const init = o.warmStart?.heads.find((x) => x.name === name);
    if (init) warm[name] = init.model.trees.length;
    const positives = countPositives(ds.labels[h]!);
    const model = trainGbdt(
      { features: fit.X, numRows: fit.n, featureNames: ds.features, labels: fit.labels[h]!, groups: objective === 'lambdarank' ? fit.groups : undefined },
      {
        objective,
        numRounds: s.trees,
        numLeaves: s.leaves,
        learningRate: s.learningRate,
        minDataInLeaf: s.minDataInLeaf,
        earlyStoppingRounds: s.earlyStopping,
        metric: objective === 'lambdarank' ? 'ndcg' : 'logloss',
        ndcgAt: 10,
        seed: o.seed ?? 42,
      },
      {
        binned,
        valid: { features: cal.X, numRows: cal.n, featureNames: ds.features, labels: cal.labels[h]!, groups: objective === 'lambdarank' ? cal.groups : undefined },
        initModel: init ? GbdtModel.fromJSON(init.model) : undefined,
        // Percent of the whole job: the training set was the first 20% (Engine.trainRankers).
        onProgress: (i, total) => progress(20 + Math.round((80 * (h + i / Math.max(1, total))) / ds.heads.length), 100, `head ${name}`),
      },
    );
    // Calibrate on the earlier validation half; measure on the later one.
    const calRaw = predict(model, cal);
    const calibrator = s.calibration === 'platt' || countPositives(cal.labels[h]!) < 20 ? fitPlatt(calRaw, cal.labels[h]!) : fitIsotonic(calRaw, cal.labels[h]!);
    const testRaw = predict(model, test);
    const p = testRaw.map((x) => calibrator.apply(x));
    const pRaw = testRaw.map((x) => 1 / (1 + Math.exp(-x)));
    testProbs.push(p);
    reports.push({
      name,
      positives,
      trees: model.numTrees,
      auc: round(rocAuc(p, test.labels[h]!)),
      ece: round(expectedCalibrationError(p, test.labels[h]!)),
      eceRaw: round(expectedCalibrationError(pRaw, test.labels[h]!)),
    });
    heads.push({ name, positives, model: model.toJSON(), calibration: calibrator.toJSON() });
    if (name === ENGAGED_HEAD) importance = topImportance(model.featureImportance(), 15);
  }

  // The weighted score against the light ranker's order, on the test users.
  const weights = ds.heads.map((h) => headWeight(h, s, o.types));
  const score = new Float64Array(test.n);
  for (let i = 0; i < test.n; i++) for (let h = 0; h < weights.length; h++) score[i] += weights[h]! * testProbs[h]![i]!;
  const fusionCol = ds.features.indexOf('fusion_score');
  const light = Float64Array.from({ length: test.n }, (_, i) => (fusionCol >= 0 ? test.X[i * ds.d + fusionCol]! : 0));
  const heavyRank = rankingQuality(test, score, 10);
  const lightRank = rankingQuality(test, light, 10);
  const engagedRank = rankingQuality(test, testProbs[0]!, 10);

  const bar = lightRank.ndcg * (1 - s.gateTolerance);
  const passed = engagedRank.ndcg >= bar;
  const gate = {
    passed,
    reason: `engaged head ndcg@10 ${engagedRank.ndcg.toFixed(4)} ${passed ? '≥' : '<'} light ranker ${lightRank.ndcg.toFixed(4)} × (1 − ${s.gateTolerance}) on ${g - calEnd} test users`,
  };
  return {
    format: RANKER_FORMAT,
    features: ds.features,
    sources: examples.sources,
    heads,
    report: {
      gate,
      rows: ds.n,
      users: g,
      validationUsers: g - fitEnd,
      features: ds.d,
      objective: s.objective,
      heads: reports,
      validation: {
        k: 10,
        ndcg: round(heavyRank.ndcg),
        recall: round(heavyRank.recall),
        engagedNdcg: round(engagedRank.ndcg),
        engagedRecall: round(engagedRank.recall),
        lightNdcg: round(lightRank.ndcg),
        lightRecall: round(lightRank.recall),
      },
      importance,
      seconds: Math.round((performance.now() - t0) / 10) / 100,
      ...(o.warmStart ? { warmStart: warm } : {}),
    },
  };
}

function predict(model: GbdtModel, ds: RankerDataset): Float64Array {
  const out = new Float64Array(ds.n);
  model.predictRaw(ds.X, ds.n, out);
  return out;
}

function countPositives(y: Float32Array): number {
  let n = 0;
  for (let i = 0; i < y.length; i++) if (y[i]! > 0) n++;
  return n;
}

/** Mean ndcg@k and recall@k (the evaluation's definitions, eval/metrics.ts) of the `engaged` labels over the groups with one. */
export function rankingQuality(ds: RankerDataset, score: Float64Array, k: number): { ndcg: number; recall: number } {
  const y = ds.labels[0]!;
  const positive = (row: number) => y[row]! > 0;
  let ndcg = 0;
  let recall = 0;
  let users = 0;
  for (let gi = 0; gi + 1 < ds.groups.length; gi++) {
    const a = ds.groups[gi]!;
    const b = ds.groups[gi + 1]!;
    let pos = 0;
    for (let r = a; r < b; r++) if (positive(r)) pos++;
    if (pos === 0) continue;
    const order = Array.from({ length: b - a }, (_, i) => a + i).sort((i, j) => score[j]! - score[i]! || i - j);
    const acc = accuracyAtK(order, 0, Math.min(k, order.length), positive, pos);
    ndcg += acc.ndcg;
    recall += acc.recall;
    users++;
  }
  return { ndcg: ndcg / Math.max(1, users), recall: recall / Math.max(1, users) };
}

/** The features with the largest share of the total split gain. */
function topImportance(importance: readonly { feature: string; gain: number }[], n: number): { feature: string; gain: number }[] {
  const total = importance.reduce((a, x) => a + x.gain, 0);
  return [...importance]
    .sort((a, b) => b.gain - a.gain)
    .slice(0, n)
    .map((x) => ({ feature: x.feature, gain: total > 0 ? round(x.gain / total) : 0 }));
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
