/**
 * Training the heavy ranker (rank/heavy-ranker.ts) on held-out examples.
 *
 * 1. The training set (train/ranker-dataset.ts, built by the engine): features from the shadow, one label
 *    per head, one group of rows per held-out user (in the examples' seeded random order).
 * 2. Split by group: the first `rank.fitShare` of the groups fit the trees; of the rest, one
 *    half stops the boosting early and fits the calibration, the other half only measures
 *    (per-head AUC and ECE, and ndcg/recall@10 of the weighted score against the light
 *    ranker's order). With impression rows the groups are requests in time order, so this is a
 *    time split: the model is measured on the window's latest requests. With candidate rows
 *    they are held-out users in random order (the first share being the users the fusion was
 *    fitted on).
 * 3. One gradient-boosted model per head: `engaged` with `rank.objective` (LambdaMART by
 *    default: it learns the order within a user's candidates), the event-type heads with logloss.
 *    Each head's raw score is calibrated into a probability (isotonic or Platt).
 * 4. Warm start: given the model in use, each head continues from its trees (boosting starts
 *    from the old model's predictions) instead of starting over.
 * 5. The cascade's first pass (rank.cascade): each head's first trees, calibrated on their own.
 *    With deferred feature families (rank.cascade.deferFamilies) they are boosted on their own
 *    without those families, and the rest continue from them. A continued model keeps the
 *    first pass it had.
 * 6. The multi-task network (rank.mlp, impression rows): one network for every head on the same
 *    fitting rows, stopped early on the calibration slice; each head's calibration is then
 *    fitted on (1 − blend) · trees + blend · network — per head (rank.mlp.perHead), only where
 *    that blend's AUC on the calibration slice is at least the trees' alone, else on the trees
 *    alone — and the report gives the trees' and the network's AUC alone and the trees'
 *    weighted score alone. A warm start continues it.
 */
import type { EventTypeRegistry } from '../domain/event-types.js';
import type { Config } from '../domain/config.js';
import { BinMapper, binMatrix } from '../models/gbdt/binning.js';
import { trainGbdt, type GbdtTrainOptions } from '../models/gbdt/booster.js';
import { GbdtModel } from '../models/gbdt/model.js';
import { MultiTaskMlp } from '../models/mlp/mlp.js';
import { expectedCalibrationError, fitIsotonic, fitPlatt, rocAuc, type Calibrator } from '../rank/calibration.js';
import { blendLogits, RANKER_FORMAT, featureMismatch, type RankerHeadFile, type RankerHeadReport, type RankerModelFile } from '../rank/heavy-ranker.js';
import { headWeight } from '../rank/score-formula.js';
import { accuracyAtK } from '../eval/metrics.js';
import type { HoldoutExamples } from './holdout.js';
import { concatGroups, ENGAGED_HEAD, sliceGroups, type RankerDataset } from './ranker-dataset.js';

export interface RankerTrainingOptions {
  /** The training set (train/ranker-dataset.ts) built from the same examples. */
  dataset: RankerDataset;
  settings: Config['rank'];
  types: EventTypeRegistry;
  /** The model to continue (warm start); heads it lacks start from scratch. */
  warmStart?: RankerModelFile;
  /** Per feature column, 1 when the cascade's first pass may read it (FeatureRegistry.columnsWithout); default every column. */
  firstPassColumns?: Uint8Array;
  seed?: number;
  onProgress?: (done: number, total: number, note?: string) => void;
}

export async function trainRanker(examples: HoldoutExamples, o: RankerTrainingOptions): Promise<RankerModelFile> {
  const t0 = performance.now();
  const progress = o.onProgress ?? (() => {});
  const s0 = o.settings;
  const ds = o.dataset;
  const g = ds.groupUser.length;
  const unit = ds.kind === 'impressions' ? 'requests' : 'users';
  if (g < 10) throw new Error(`ranker: ${g} ${ds.kind === 'impressions' ? 'requests with impressions' : 'held-out users with a retrieved engagement'} (need 10)`);
  if (o.warmStart) {
    const mismatch = featureMismatch(o.warmStart.features, ds.features);
    if (mismatch) throw new Error(`ranker warm start: ${mismatch}`);
  }
  // Held-out candidate rows: the deployment check cross-validates the engaged head over all the
  // groups (below). With rank.selectLeaves it does so per leaf count first, and the trees take the best.
  const canCv = ds.kind === 'candidates' && s0.gateFolds >= 2 && g >= 2 * s0.gateFolds;
  const cvLight = canCv ? lightScores(ds) : undefined;
  const chosenCv = cvLight && !o.warmStart ? chooseLeaves(ds, s0, cvLight, o.seed ?? 42, (leaves, f) => progress(1, 100, `cross-validation, ${leaves} leaves, fold ${f + 1}/${s0.gateFolds}`)) : undefined;
  const s = chosenCv ? { ...s0, leaves: chosenCv.leaves.chosen } : s0;
  const fitEnd = Math.max(1, Math.min(g - 2, Math.round(g * s.fitShare)));
  const calEnd = fitEnd + Math.max(1, Math.floor((g - fitEnd) / 2));
  const fit = sliceGroups(ds, 0, fitEnd);
  const cal = sliceGroups(ds, fitEnd, calEnd);
  const test = sliceGroups(ds, calEnd, g);

  // The light ranker's score of the test rows: the order the heavy ranker must improve on.
  const light = lightScores(test);
  const heads: RankerHeadFile[] = [];
  const reports: RankerHeadReport[] = [];
  const testProbs: Float64Array[] = [];
  const firstPassProbs: Float64Array[] = [];
  let importance: { feature: string; gain: number }[] = [];
  // Bin the fitting rows once for every head.
  const mapper = BinMapper.fit(fit.X, fit.n, ds.d, { maxBin: 255, sampleRows: 200_000, seed: o.seed ?? 42 });
  const binned = binMatrix(mapper, fit.X, fit.n);
  const warm: Record<string, number> = {};
  // The multi-task network (rank.mlp), on the same rows, stopped early on the calibration slice.
  // Its logits for the calibration and test rows blend with each head's trees below. Impression
  // rows only: with held-out candidate rows (catalogues) the deployment check cross-validates
  // the trees' engaged head, which would not judge a blend.
  const net = s.mlp.enabled && ds.kind === 'impressions' ? fitNetwork(ds, fit, cal, s, o, progress) : undefined;
  const netCal = net?.predictRaw(cal.X, cal.n);
  const netTest = net?.predictRaw(test.X, test.n);
  const blend = net ? s.mlp.blend : 0;
  const gbdtProbs: Float64Array[] = [];
  for (let h = 0; h < ds.heads.length; h++) {
    const name = ds.heads[h]!;
    const objective = name === ENGAGED_HEAD ? s.objective : 'binary';
    const init = o.warmStart?.heads.find((x) => x.name === name);
    if (init) warm[name] = init.model.trees.length;
    const positives = countPositives(ds.labels[h]!);
    // Percent of the whole job: the training set was the first 20% (Engine.trainRankers), the network the next 10%.
    const from = net ? 30 : 20;
    const onProgress = (i: number, total: number) => progress(from + Math.round(((100 - from) * (h + i / Math.max(1, total))) / ds.heads.length), 100, `head ${name}`);
    // The cascade's first pass. With deferred families and no model to continue, the first
    // trees are boosted on their own (at most treeShare · rank.trees, stopped early) from the
    // columns it may read, and the rest continue from them on every column. Without deferred
    // families they are the first treeShare of one boosting. A continued model keeps its first pass.
    let firstTrees: number;
    let model: GbdtModel;
    if (init) {
      model = fitHead(fit, cal, h, objective, s, o.seed ?? 42, { binned, initModel: GbdtModel.fromJSON(init.model), onProgress });
      firstTrees = init.firstPass?.trees ?? Math.ceil(s.cascade.treeShare * model.numTrees);
    } else if (s.cascade.treeShare < 1 && o.firstPassColumns?.includes(0)) {
      const rounds = Math.max(1, Math.ceil(s.cascade.treeShare * s.trees));
      const head = fitHead(fit, cal, h, objective, { ...s, trees: rounds }, o.seed ?? 42, { binned, allowedFeatures: o.firstPassColumns, onProgress: (i) => onProgress(i, s.trees) });
      model = s.trees > head.numTrees ? fitHead(fit, cal, h, objective, { ...s, trees: s.trees - head.numTrees }, o.seed ?? 42, { binned, initModel: head, onProgress: (i) => onProgress(head.numTrees + i, s.trees) }) : head;
      firstTrees = head.numTrees;
    } else {
      // Nothing deferred: one boosting, the first pass its first treeShare of the trees.
      model = fitHead(fit, cal, h, objective, s, o.seed ?? 42, { binned, onProgress });
      firstTrees = Math.ceil(s.cascade.treeShare * model.numTrees);
    }
    // Calibrate on the earlier validation half; measure on the later one. With the network,
    // the served logit is the blend of the trees' and the network's, calibrated the same way.
    // rank.mlp.perHead: the head takes the network only when the blend orders the calibration
    // rows at least as well as its trees alone.
    const treesCal = predict(model, cal);
    const treesTest = predict(model, test);
    let headBlend = blend;
    let calRaw = netCal ? blendLogits(treesCal, netCal.subarray(h * cal.n, (h + 1) * cal.n), blend) : treesCal;
    if (netCal && s.mlp.perHead && rocAuc(calRaw, cal.labels[h]!) < rocAuc(treesCal, cal.labels[h]!)) {
      headBlend = 0;
      calRaw = treesCal;
    }
    const testRaw = netTest && headBlend > 0 ? blendLogits(treesTest, netTest.subarray(h * test.n, (h + 1) * test.n), headBlend) : treesTest;
    const calibrator = fitCalibrator(s, calRaw, cal.labels[h]!);
    const p = testRaw.map((x) => calibrator.apply(x));
    const pRaw = testRaw.map((x) => 1 / (1 + Math.exp(-x)));
    testProbs.push(p);
    let netReport: Pick<RankerHeadReport, 'treesAuc' | 'mlpAuc' | 'blend'> = {};
    if (netTest) {
      const treesCalibrator = fitCalibrator(s, treesCal, cal.labels[h]!);
      gbdtProbs.push(treesTest.map((x) => treesCalibrator.apply(x)));
      netReport = { treesAuc: round(rocAuc(treesTest, test.labels[h]!)), mlpAuc: round(rocAuc(netTest.subarray(h * test.n, (h + 1) * test.n), test.labels[h]!)), blend: headBlend };
    }
    // The cascade's first pass: the head's first trees, calibrated on their own (their raw
    // scores are the full model's shrunk towards the start, so the full calibration would misjudge them).
    let firstPass: RankerHeadFile['firstPass'];
    let firstPassAuc = NaN;
    if (firstTrees < model.numTrees) {
      const firstCal = fitCalibrator(s, predict(model, cal, firstTrees), cal.labels[h]!);
      const q = predict(model, test, firstTrees).map((x) => firstCal.apply(x));
      firstPassProbs.push(q);
      firstPassAuc = rocAuc(q, test.labels[h]!);
      firstPass = { trees: firstTrees, calibration: firstCal.toJSON() };
    } else firstPassProbs.push(p);
    reports.push({
      name,
      positives,
      trees: model.numTrees,
      auc: round(rocAuc(p, test.labels[h]!)),
      ...netReport,
      ...(firstPass ? { firstPassTrees: firstPass.trees, firstPassAuc: round(firstPassAuc) } : {}),
      lightAuc: round(rocAuc(light, test.labels[h]!)),
      ece: round(expectedCalibrationError(p, test.labels[h]!)),
      eceRaw: round(expectedCalibrationError(pRaw, test.labels[h]!)),
    });
    heads.push({ name, ...(ds.headWeights[name] !== undefined ? { weight: ds.headWeights[name] } : {}), positives, model: model.toJSON(), calibration: calibrator.toJSON(), ...(firstPass ? { firstPass } : {}), ...(net ? { blend: headBlend } : {}) });
    if (name === ENGAGED_HEAD) importance = topImportance(model.featureImportance(), 15);
  }

  // The weighted score against the light ranker's order, on the test users.
  const weights = ds.heads.map((h) => headWeight(h, s, o.types, ds.heads, ds.headWeights[h]));
  const score = weightedSum(testProbs, weights, test.n);
  const heavyRank = rankingQuality(test, score, 10);
  const lightRank = rankingQuality(test, light, 10);
  const engagedRank = rankingQuality(test, testProbs[0]!, 10);
  // The cascade as served: the first pass keeps its best `keep` of `maxCandidates` (the same share of each test group) for the full score.
  const first = weightedSum(firstPassProbs, weights, test.n);
  const keepShare = Math.min(1, s.cascade.keep / s.maxCandidates);
  const cascaded = cascadeScores(test, first, score, keepShare);
  const cascadeRank = rankingQuality(test, cascaded.score, 10);

  // Realized value: each test row's gain is the summed weight of the reactions that followed
  // (a click 11, a report −369, types without a head included), discounted by the position the
  // order gives it. The weighted score must earn at least the light ranker's.
  const typeWeight = (t: number) => s.weights[o.types.name(t)] ?? o.types.spec(t).weight;
  const gain = Float64Array.from(test.reactions, (types) => types.reduce((a, t) => a + typeWeight(t), 0));
  const heavyGroups = groupValues(test, score, gain, 10);
  const lightGroups = groupValues(test, light, gain, 10);
  const heavyValue = mean(heavyGroups);
  // With the network: the trees' weighted score alone, for comparison.
  const treesScore = net ? weightedSum(gbdtProbs, weights, test.n) : undefined;
  const treesRank = treesScore ? rankingQuality(test, treesScore, 10) : undefined;
  const treesOnly = treesScore && treesRank ? { ndcg: round(treesRank.ndcg), recall: round(treesRank.recall), value: round(mean(groupValues(test, treesScore, gain, 10))) } : undefined;
  const lightValue = mean(lightGroups);
  // Realized value is noisy (one report weighs −369, a like 0.5): the score fails only when it is
  // clearly worse — by more than two standard errors of the paired per-group difference.
  const { mean: diffMean, se: diffSe } = pairedDifference(heavyGroups, lightGroups);

  const where = `on ${g - calEnd} test ${unit}${ds.kind === 'impressions' ? ' (the latest)' : ''}`;
  const valueOk = diffMean >= -2 * diffSe - s.gateTolerance * Math.abs(lightValue);
  const valueReason = `weighted score's realized value@10 ${heavyValue.toFixed(4)} vs the light ranker's ${lightValue.toFixed(4)}: difference ${diffMean.toFixed(4)} ± ${diffSe.toFixed(4)} (standard error) ${valueOk ? 'is not' : 'is'} clearly below 0 ${where}`;
  // Held-out candidate rows: a few hundred users, one small test slice is noise. The order
  // check cross-validates the engaged head over all of them instead, and asks for a clear gain.
  const cv = chosenCv ?? (cvLight ? crossValidate(ds, s, cvLight, s.gateFolds, o.seed ?? 42, (f) => progress(99, 100, `cross-validation fold ${f + 1}/${s.gateFolds}`)) : undefined);
  let gate: { passed: boolean; reason: string };
  if (cv) {
    const evidence = cv.positives >= s.gateMinPositives;
    const orderOk = cv.diff > cv.se;
    gate = {
      passed: evidence && orderOk && valueOk,
      reason:
        (evidence ? '' : `only ${cv.positives} engaged rows (< rank.gateMinPositives ${s.gateMinPositives}): too few to trust the model; `) +
        `${s.gateFolds}-fold cross-validation over ${cv.groups} users${chosenCv?.leaves ? ` (${chosenCv.leaves.tried.map((t) => `${t.leaves} leaves ${t.ndcg.toFixed(4)}`).join(', ')}: ${chosenCv.leaves.chosen} chosen)` : ''}: engaged head ndcg@10 ${cv.ndcg.toFixed(4)} vs light ranker ${cv.lightNdcg.toFixed(4)}, difference ${cv.diff.toFixed(4)} ± ${cv.se.toFixed(4)} (standard error) ${orderOk ? 'is' : 'is not'} a clear gain; ` +
        valueReason,
    };
  } else {
    const orderOk = engagedRank.ndcg >= lightRank.ndcg * (1 - s.gateTolerance);
    const testPositives = countPositives(test.labels[0]!);
    const evidence = testPositives >= s.gateMinPositives;
    gate = {
      passed: evidence && orderOk && valueOk,
      reason:
        (evidence ? '' : `only ${testPositives} engaged test rows (< rank.gateMinPositives ${s.gateMinPositives}): too few to trust the model; `) +
        `engaged head ndcg@10 ${engagedRank.ndcg.toFixed(4)} ${orderOk ? '≥' : '<'} light ranker ${lightRank.ndcg.toFixed(4)} × (1 − ${s.gateTolerance}); ` +
        valueReason,
    };
  }
  return {
    format: RANKER_FORMAT,
    features: ds.features,
    sources: examples.sources,
    heads,
    ...(net ? { mlp: { blend, model: net.toJSON() } } : {}),
    report: {
      gate,
      examples: ds.kind,
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
        value: round(heavyValue),
        lightValue: round(lightValue),
        ...(treesOnly ? { trees: treesOnly } : {}),
      },
      ...(net?.report ? { mlp: { blend, hidden: [...s.mlp.hidden], ...net.report } } : {}),
      cascade: { treeShare: s.cascade.treeShare, keepShare: round(keepShare), ndcg: round(cascadeRank.ndcg), recall: round(cascadeRank.recall), top10Kept: round(cascaded.top10Kept) },
      importance,
      ...(cv ? { crossValidation: { folds: s.gateFolds, users: cv.groups, engagedNdcg: round(cv.ndcg), lightNdcg: round(cv.lightNdcg), difference: round(cv.diff), se: round(cv.se), ...(chosenCv?.leaves ? { leaves: chosenCv.leaves } : {}) } } : {}),
      seconds: Math.round((performance.now() - t0) / 10) / 100,
      ...(o.warmStart ? { warmStart: warm } : {}),
    },
  };
}

/**
 * The multi-task network on the fitting rows, every head at once, stopped early on the
 * calibration slice; continues the model in use when it has one with these heads and layers.
 */
function fitNetwork(ds: RankerDataset, fit: RankerDataset, cal: RankerDataset, s: Config['rank'], o: RankerTrainingOptions, progress: (done: number, total: number, note?: string) => void): MultiTaskMlp {
  const warm = o.warmStart?.mlp ? MultiTaskMlp.fromJSON(o.warmStart.mlp.model) : undefined;
  const { enabled: _enabled, blend: _blend, perHead: _perHead, ...options } = s.mlp;
  return MultiTaskMlp.fit(
    { X: fit.X, n: fit.n, d: ds.d, labels: fit.labels },
    { X: cal.X, n: cal.n, d: ds.d, labels: cal.labels },
    ds.heads,
    { ...options, seed: o.seed ?? 42 },
    (epoch, epochs, loss) => progress(20 + Math.round((10 * epoch) / epochs), 100, `network epoch ${epoch}/${epochs}, validation loss ${loss.toFixed(4)}`),
    warm,
  );
}

/** Per row, Σ weights[h] · probs[h][row] (the score formula's heads). */
function weightedSum(probs: readonly Float64Array[], weights: readonly number[], n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let h = 0; h < weights.length; h++) out[i] += weights[h]! * probs[h]![i]!;
  return out;
}

/** The light ranker's score (the `fusion_score` feature) of every row. */
function lightScores(ds: RankerDataset): Float64Array {
  const col = ds.features.indexOf('fusion_score');
  return Float64Array.from({ length: ds.n }, (_, i) => (col >= 0 ? ds.X[i * ds.d + col]! : 0));
}

/**
 * rank.selectLeaves: the engaged head's cross-validation (rank.gateFolds folds) with `leaves`
 * and each other count of `selectLeaves`; the best by mean ndcg@10 (the first, `leaves`, on a
 * tie) with every count's result. Undefined when there is nothing to choose.
 */
export function chooseLeaves(ds: RankerDataset, s: Config['rank'], light: Float64Array, seed: number, onFold: (leaves: number, f: number) => void = () => {}) {
  const counts = [s.leaves, ...new Set(s.selectLeaves.filter((l) => l !== s.leaves))];
  if (counts.length < 2) return undefined;
  const tried: { leaves: number; ndcg: number }[] = [];
  let best: (ReturnType<typeof crossValidate> & { leaves: { tried: typeof tried; chosen: number } }) | undefined;
  for (const leaves of counts) {
    const r = crossValidate(ds, { ...s, leaves }, light, s.gateFolds, seed, (f) => onFold(leaves, f));
    tried.push({ leaves, ndcg: round(r.ndcg) });
    if (!best || r.ndcg > best.ndcg) best = { ...r, leaves: { tried, chosen: leaves } };
  }
  return best;
}

/**
 * k-fold cross-validation of the `engaged` head over the groups (contiguous folds of the
 * examples' random order): fold f is scored by a model fitted on the other folds but fold
 * f + 1, which stops its boosting. Returns the mean ndcg@10 over groups with an engagement, for
 * the model and the light ranker, and the paired difference with its standard error.
 */
export function crossValidate(ds: RankerDataset, s: Config['rank'], light: Float64Array, folds: number, seed: number, onFold: (f: number) => void = () => {}) {
  const g = ds.groupUser.length;
  const edge = (f: number) => Math.round((f * g) / folds);
  const score = new Float64Array(ds.n);
  for (let f = 0; f < folds; f++) {
    onFold(f);
    const v = (f + 1) % folds;
    const ranges: [number, number][] = [];
    for (let k = 0; k < folds; k++) if (k !== f && k !== v) ranges.push([edge(k), edge(k + 1)]);
    const fit = concatGroups(ds, ranges);
    const valid = sliceGroups(ds, edge(v), edge(v + 1));
    const test = sliceGroups(ds, edge(f), edge(f + 1));
    const model = fitHead(fit, valid, 0, s.objective, s, seed);
    score.set(predict(model, test), ds.groups[edge(f)]!);
  }
  const heavy = groupAccuracy(ds, score, 10).map((x) => x.ndcg);
  const base = groupAccuracy(ds, light, 10).map((x) => x.ndcg);
  const { mean: diff, se } = pairedDifference(heavy, base);
  return { groups: heavy.length, positives: countPositives(ds.labels[0]!), ndcg: mean(heavy), lightNdcg: mean(base), diff, se };
}

/** Head `h`'s trees on `fit`, stopped early on `valid` (LambdaMART on the groups, else logloss). */
function fitHead(fit: RankerDataset, valid: RankerDataset, h: number, objective: Config['rank']['objective'], s: Config['rank'], seed: number, options: GbdtTrainOptions = {}): GbdtModel {
  const lambdarank = objective === 'lambdarank';
  return trainGbdt(
    { features: fit.X, numRows: fit.n, featureNames: fit.features, labels: fit.labels[h]!, groups: lambdarank ? fit.groups : undefined },
    {
      objective,
      numRounds: s.trees,
      numLeaves: s.leaves,
      learningRate: s.learningRate,
      minDataInLeaf: s.minDataInLeaf,
      earlyStoppingRounds: s.earlyStopping,
      metric: lambdarank ? 'ndcg' : 'logloss',
      ndcgAt: 10,
      seed,
    },
    { ...options, valid: { features: valid.X, numRows: valid.n, featureNames: valid.features, labels: valid.labels[h]!, groups: lambdarank ? valid.groups : undefined } },
  );
}

function predict(model: GbdtModel, ds: RankerDataset, trees = model.numTrees): Float64Array {
  const out = new Float64Array(ds.n);
  model.predictRaw(ds.X, ds.n, out, trees);
  return out;
}

/** Platt or isotonic per `rank.calibration` (Platt when fewer than 20 positives: isotonic would overfit). */
function fitCalibrator(s: Config['rank'], raw: Float64Array, labels: Float32Array): Calibrator {
  return s.calibration === 'platt' || countPositives(labels) < 20 ? fitPlatt(raw, labels) : fitIsotonic(raw, labels);
}

/**
 * The cascade's scores per group, as served (rank/heavy-ranker.ts): the first pass's best
 * `keepShare` of the group's rows (at least 10) get the full score, the others keep the first
 * pass's. Also the share of the full score's top 10 (per group, averaged) that the first pass keeps.
 */
export function cascadeScores(ds: RankerDataset, first: Float64Array, full: Float64Array, keepShare: number): { score: Float64Array; top10Kept: number } {
  const out = Float64Array.from(first);
  let kept = 0;
  let groups = 0;
  for (let g = 0; g + 1 < ds.groups.length; g++) {
    const a = ds.groups[g]!;
    const b = ds.groups[g + 1]!;
    if (b <= a) continue;
    const rows = Array.from({ length: b - a }, (_, i) => a + i);
    const keep = Math.min(rows.length, Math.max(10, Math.ceil(keepShare * rows.length)));
    const inKeep = new Set([...rows].sort((x, y) => first[y]! - first[x]! || x - y).slice(0, keep));
    for (const r of inKeep) out[r] = full[r]!;
    const top = [...rows].sort((x, y) => full[y]! - full[x]! || x - y).slice(0, 10);
    kept += top.filter((r) => inKeep.has(r)).length / top.length;
    groups++;
  }
  return { score: out, top10Kept: groups > 0 ? kept / groups : 1 };
}

function countPositives(y: Float32Array): number {
  let n = 0;
  for (let i = 0; i < y.length; i++) if (y[i]! > 0) n++;
  return n;
}

/** Mean ndcg@k and recall@k (the evaluation's definitions, eval/metrics.ts) of the `engaged` labels over the groups with one. */
export function rankingQuality(ds: RankerDataset, score: Float64Array, k: number): { ndcg: number; recall: number } {
  const per = groupAccuracy(ds, score, k);
  return { ndcg: mean(per.map((x) => x.ndcg)), recall: mean(per.map((x) => x.recall)) };
}

/** ndcg@k and recall@k of the `engaged` labels per group that has one. */
function groupAccuracy(ds: RankerDataset, score: Float64Array, k: number): { ndcg: number; recall: number }[] {
  const y = ds.labels[0]!;
  const positive = (row: number) => y[row]! > 0;
  const out: { ndcg: number; recall: number }[] = [];
  for (let gi = 0; gi + 1 < ds.groups.length; gi++) {
    const a = ds.groups[gi]!;
    const b = ds.groups[gi + 1]!;
    let pos = 0;
    for (let r = a; r < b; r++) if (positive(r)) pos++;
    if (pos === 0) continue;
    const order = Array.from({ length: b - a }, (_, i) => a + i).sort((i, j) => score[j]! - score[i]! || i - j);
    const acc = accuracyAtK(order, 0, Math.min(k, order.length), positive, pos);
    out.push({ ndcg: acc.ndcg, recall: acc.recall });
  }
  return out;
}

/** Mean of the paired differences a[i] − b[i] and its standard error. */
function pairedDifference(a: readonly number[], b: readonly number[]): { mean: number; se: number } {
  const diff = a.map((x, i) => x - b[i]!);
  const m = mean(diff);
  const se = Math.sqrt(diff.reduce((acc, x) => acc + (x - m) ** 2, 0) / Math.max(1, diff.length - 1) / Math.max(1, diff.length));
  return { mean: m, se };
}

function mean(x: readonly number[]): number {
  return x.length > 0 ? x.reduce((a, v) => a + v, 0) / x.length : 0;
}

/**
 * Discounted value@k per group: Σ over the first k of the order of gain / log2(rank + 1)
 * (gains may be negative: a reported post costs). Groups whose rows are all worth 0 are skipped.
 */
export function groupValues(ds: RankerDataset, score: Float64Array, gain: Float64Array, k: number): number[] {
  const out: number[] = [];
  for (let gi = 0; gi + 1 < ds.groups.length; gi++) {
    const a = ds.groups[gi]!;
    const b = ds.groups[gi + 1]!;
    let any = false;
    for (let r = a; r < b && !any; r++) any = gain[r] !== 0;
    if (!any) continue;
    const order = Array.from({ length: b - a }, (_, i) => a + i).sort((i, j) => score[j]! - score[i]! || i - j);
    let dcg = 0;
    for (let r = 0; r < Math.min(k, order.length); r++) dcg += gain[order[r]!]! / Math.log2(r + 2);
    out.push(dcg);
  }
  return out;
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
