/**
 * The heavy ranker: the second stage of the For You feed. For the light ranker's (source
 * fusion's) best `rank.maxCandidates` candidates it computes the registry's features, predicts
 * one calibrated probability per head with gradient-boosted trees (models/gbdt), and combines
 * them with the score formula (rank/score-formula.ts). Candidates beyond the budget keep their
 * light order below every heavy-scored one. The best-scored (EXPLAINED_CANDIDATES) carry their
 * per-head probabilities (`predicted`) for the response's explanation.
 *
 * With a multi-task network in the model (rank.mlp, models/mlp), each head's logit for the
 * candidates scored in full is (1 − blend) · its trees + blend · the network's, before the
 * head's calibration.
 *
 * The model file (`ranker.json`, next to the sources' artifacts) holds the feature names it was
 * trained on; a model whose features differ from the pipeline's registry is not used.
 */
import type { Config } from '../domain/config.js';
import type { FeatureRegistry } from '../features/registry.js';
import { GbdtForest } from '../models/gbdt/forest.js';
import { GbdtModel, type GbdtModelJson } from '../models/gbdt/model.js';
import { MultiTaskMlp, type MlpJson, type MlpReport } from '../models/mlp/mlp.js';
import { orderByScore, TopK } from '../models/top-k.js';
import type { Candidate, CandidateScorer, FeedQuery } from '../pipeline/types.js';
import { calibratorFromJson, type Calibrator, type CalibratorJson } from './calibration.js';
import { boostOf, scoreTerms, valueOf, weightedScore, type ScoreTerms } from './score-formula.js';

export const RANKER_FORMAT = 'lenta.ranker.v1';

/** A request variant served without the heavy ranker: the light ranker's order (replay's `lenta-light`). */
export const LIGHT_RANKER_VARIANT = 'light-ranker';

export interface RankerHeadFile {
  /** An event type, `engaged` (any positive reaction) or `negative` (any negative type without a head of its own). */
  name: string;
  /** The score formula's default weight of a head that is not an event type (`negative`: its types' weights averaged by label count). */
  weight?: number;
  /** Positive training rows. */
  positives: number;
  model: GbdtModelJson;
  calibration: CalibratorJson;
  /** The cascade's first pass (rank.cascade): the model's first `trees` trees and their own calibration. */
  firstPass?: { trees: number; calibration: CalibratorJson };
  /** With the network: this head's share of it (rank.mlp.perHead; absent: the file's mlp.blend). */
  blend?: number;
}

export interface RankerHeadReport {
  name: string;
  positives: number;
  trees: number;
  /** On the test groups (neither fitted nor calibrated on; with impressions, the latest requests): ROC AUC and expected calibration error. */
  auc: number;
  /** ROC AUC of the light ranker's score for the same labels (what the head improves on). */
  lightAuc?: number;
  ece: number;
  /** ECE of the raw (uncalibrated) probability, for comparison. */
  eceRaw: number;
  /** With the network (rank.mlp): the trees' AUC alone and the network's alone (\`auc\` is their blend's), and the head's share of the network. */
  treesAuc?: number;
  mlpAuc?: number;
  blend?: number;
  /** The cascade's first pass: its trees and their AUC on the same test groups. */
  firstPassTrees?: number;
  firstPassAuc?: number;
}

export interface RankerReport {
  /**
   * The deployment check: the model serves only when its \`engaged\` head orders the test
   * groups' engagements at least as well as the light ranker, and its weighted score earns at
   * least the light ranker's realized value (both within \`rank.gateTolerance\`).
   */
  gate: { passed: boolean; reason: string };
  /** The rows: impressions (groups = requests in time order) or held-out candidates (groups = users). */
  examples?: 'impressions' | 'candidates';
  rows: number;
  /** Groups (users, or requests with impression rows), and those not fitted on. */
  users: number;
  validationUsers: number;
  features: number;
  objective: string;
  heads: RankerHeadReport[];
  /**
   * On the test users: ndcg@k / recall@k of the held-out engagements (any positive
   * type) for the weighted score, for the `engaged` head alone, and for the light ranker's order.
   * The weighted score aims at value (a click weighs 11, a like 0.5), not at any engagement, so
   * on platforms with many types its engagement ndcg can be below the `engaged` head's.
   */
  validation: {
    k: number;
    ndcg: number;
    recall: number;
    engagedNdcg: number;
    engagedRecall: number;
    lightNdcg: number;
    lightRecall: number;
    /** Realized value@k: the summed weights of the reactions that followed, discounted by the rank the order gives them (weighted score, light ranker). */
    value?: number;
    lightValue?: number;
    /** With the network (rank.mlp): the trees' weighted score alone. */
    trees?: { ndcg: number; recall: number; value: number };
  };
  /** The network's training (rank.mlp): its share of the served logit, layers, epochs and losses. */
  mlp?: { blend: number; hidden: number[] } & MlpReport;
  /**
   * The cascade (rank.cascade) on the test groups: the first pass keeps the same share of each
   * group as of the served candidates (keep / maxCandidates), the full score orders those;
   * ndcg/recall@10 of that order (compare with `validation`), and the share of the full
   * score's top 10 that the first pass keeps.
   */
  cascade?: { treeShare: number; keepShare: number; ndcg: number; recall: number; top10Kept: number };
  /** With held-out candidate rows: the gate's k-fold cross-validation of the `engaged` head (ndcg@10 over all held-out users). */
  crossValidation?: {
    folds: number;
    users: number;
    engagedNdcg: number;
    lightNdcg: number;
    difference: number;
    se: number;
    /** rank.selectLeaves: the engaged head's cross-validated ndcg@10 per leaf count tried, and the one the trees use. */
    leaves?: { tried: { leaves: number; ndcg: number }[]; chosen: number };
  };
  /** Gain importance of the `engaged` head, top features. */
  importance: { feature: string; gain: number }[];
  seconds: number;
  /** When continued from an earlier model: its trees per head. */
  warmStart?: Record<string, number>;
}

export interface RankerModelFile {
  format: typeof RANKER_FORMAT;
  features: string[];
  sources: string[];
  heads: RankerHeadFile[];
  /**
   * The multi-task network (rank.mlp), when trained: its logits blend with each head's trees
   * (trees · (1 − blend) + network · blend) before the head's calibration.
   */
  mlp?: { blend: number; model: MlpJson };
  report: RankerReport;
}

/** (1 − blend) · trees + blend · network, per row. */
export function blendLogits(trees: Float64Array, network: Float64Array, blend: number): Float64Array {
  const out = new Float64Array(trees.length);
  for (let i = 0; i < trees.length; i++) out[i] = (1 - blend) * trees[i]! + blend * network[i]!;
  return out;
}

interface LoadedHead {
  name: string;
  booster: GbdtModel;
  calibrator: Calibrator;
}

/**
 * Candidates (the best by the weighted score) that carry every head's probability (`predicted`,
 * for their explanations), heads weighing 0 in the score formula included: at least a full page
 * (feed.pageSize ≤ 200). The others are scored only.
 */
export const EXPLAINED_CANDIDATES = 200;

export class HeavyRanker implements CandidateScorer {
  readonly name = 'heavy_ranker';
  private file: RankerModelFile | undefined;
  private heads: LoadedHead[] = [];
  private registry: FeatureRegistry | undefined;
  private terms: ScoreTerms | undefined;
  private features = new Float32Array(0);
  private raw = new Float64Array(0);
  private probs = new Float64Array(0);
  private explainRows = new Float32Array(0);
  /** The cascade's first-pass scores, kept rows (and their flags), second-pass raw scores. */
  private firstScore = new Float64Array(0);
  private firstPassTop: TopK | undefined;
  private keptRows = new Float32Array(0);
  private raw2 = new Float64Array(0);
  private keptFlags = new Uint8Array(0);
  /**
   * The cascade (rank.cascade): each head's first-pass trees and the rest compiled apart, and
   * the first pass's calibrators (a head without a first pass: all its trees, its calibrator).
   */
  private cascade: { first: GbdtForest; second: GbdtForest; firstCalibrators: Calibrator[]; deferred?: Deferred } | undefined;
  /** The multi-task network blended into the heads (rank.mlp; undefined: the trees alone), its output and share per head, its logits' scratch. */
  private net: { model: MultiTaskMlp; blend: Float64Array; output: Int32Array } | undefined;
  private netRaw: Float64Array = new Float64Array(0);
  /**
   * Per scored candidate, its row in netRaw (the network's logits of the rows last scored in
   * full: the cascade's kept candidates, or every candidate), −1 for none: the explanations'
   * silent heads reuse them instead of running the network again.
   */
  private netRowOf = new Int32Array(0);
  private netRows = 0;
  /** Every head's trees compiled together when the model is set (undefined: unavailable). */
  private forest: GbdtForest | undefined;
  /** The best EXPLAINED_CANDIDATES by score (indices into the scored candidates). */
  private readonly best = new TopK(EXPLAINED_CANDIDATES, -Infinity);
  /** The light ranker's scores, items and order of the request's candidates (grow-only scratch). */
  private lightScores = new Float64Array(0);
  private lightItems = new Float64Array(0);
  private lightOrder = new Int32Array(0);

  constructor(private readonly settings: Config['rank']) {}

  /**
   * Off when untrained, for the `light-ranker` variant (the light ranker's order, for
   * comparisons), and for a request the engine orders by the light ranker (FeedQuery.maxCandidates 0: overload).
   */
  enabled(q?: FeedQuery): boolean {
    return this.file !== undefined && q?.variant !== LIGHT_RANKER_VARIANT && q?.maxCandidates !== 0;
  }

  get trained(): RankerModelFile | undefined {
    return this.file;
  }

  /**
   * Uses `file` with `registry` from now on (undefined: off). Throws, naming the first
   * difference, when the model's features are not the registry's.
   */
  setModel(file: RankerModelFile | undefined, registry?: FeatureRegistry, terms?: ScoreTerms): void {
    if (!file) {
      this.file = undefined;
      this.heads = [];
      this.forest = undefined;
      this.cascade = undefined;
      this.net = undefined;
      return;
    }
    if (file.format !== RANKER_FORMAT) throw new Error(`ranker model: format must be ${RANKER_FORMAT}, got ${String(file.format)}`);
    if (!registry || !terms) throw new Error('ranker model: a feature registry and score terms are required');
    const mismatch = featureMismatch(file.features, registry.names);
    if (mismatch) throw new Error(`ranker model: ${mismatch}`);
    this.heads = file.heads.map((h) => ({ name: h.name, booster: GbdtModel.fromJSON(h.model), calibrator: calibratorFromJson(h.calibration) }));
    this.net = loadNetwork(file, registry.width);
    // All heads' trees compiled once per model (undefined where WebAssembly is unavailable).
    this.forest = GbdtForest.create(this.heads.map((hd) => hd.booster));
    this.cascade = undefined;
    if (this.forest && file.heads.some((hd) => hd.firstPass)) {
      const split = file.heads.map((hd, k) => Math.min(hd.firstPass?.trees ?? Infinity, this.heads[k]!.booster.numTrees));
      const first = GbdtForest.create(this.heads.map((hd, k) => hd.booster.treeRange(0, split[k])));
      const second = GbdtForest.create(this.heads.map((hd, k) => hd.booster.treeRange(split[k]!)));
      const firstCalibrators = file.heads.map((hd, k) => (hd.firstPass ? calibratorFromJson(hd.firstPass.calibration) : this.heads[k]!.calibrator));
      const deferred = deferredFamilies(registry, this.heads.map((hd, k) => hd.booster.treeRange(0, split[k])));
      if (first && second) this.cascade = { first, second, firstCalibrators, ...(deferred ? { deferred } : {}) };
    }
    this.registry = registry;
    this.terms = terms;
    this.file = file;
  }

  score(q: FeedQuery, candidates: Candidate[]): void {
    const registry = this.registry;
    // The request's variant may weigh the heads its own way (experiments).
    const terms = this.terms && q.terms && q.terms.weights.length === this.terms.weights.length ? q.terms : this.terms;
    if (!registry || !terms || candidates.length === 0) return;
    // The light ranker's order: by score, then by item (typed arrays: no comparator calls).
    const nc = candidates.length;
    if (this.lightScores.length < nc) {
      this.lightScores = new Float64Array(Math.max(nc, 2 * this.lightScores.length));
      this.lightItems = new Float64Array(this.lightScores.length);
      this.lightOrder = new Int32Array(this.lightScores.length);
    }
    for (let i = 0; i < nc; i++) {
      this.lightScores[i] = candidates[i]!.score;
      this.lightItems[i] = candidates[i]!.item;
    }
    const order = orderByScore(this.lightScores, this.lightItems, nc, this.lightOrder);
    for (let r = 0; r < nc; r++) candidates[order[r]!]!.lightRank = r + 1;
    const n = Math.min(nc, q.maxCandidates ?? this.settings.maxCandidates);
    const scored: Candidate[] = new Array(n);
    for (let r = 0; r < n; r++) scored[r] = candidates[order[r]!]!;
    const d = registry.width;
    if (this.features.length < n * d) this.features = new Float32Array(n * d);
    const cascade = this.cascade;
    const keep = this.settings.cascade.keep;
    const cascading = cascade !== undefined && this.settings.cascade.enabled && n > keep;
    // With the cascade, the families its first pass does not read wait for the kept candidates.
    const deferred = cascading ? cascade.deferred : undefined;
    const X = registry.compute(q, scored, this.features, undefined, deferred?.first);
    const h = this.heads.length;
    if (this.probs.length < n * h) this.probs = new Float64Array(n * h);
    if (this.net) {
      if (this.netRowOf.length < n) this.netRowOf = new Int32Array(n);
      this.netRowOf.fill(-1, 0, n);
    }
    const p = this.probs;
    // Heads that weigh 0 in the formula (e.g. `engaged` beside typed heads) do not move the
    // score: they are predicted below only for the best candidates, whose explanations show them.
    for (const k of terms.silentHeads) for (let i = 0; i < n; i++) p[i * h + k] = 0;
    // Trees give equal scores to many candidates: ties keep the light ranker's order (a nudge
    // far below any meaningful difference of probabilities).
    const formula = (i: number): number => {
      const c = scored[i]!;
      let s = weightedScore(terms, p, i) + boostOf(terms, q.state, c.item, c.author) + 1e-9 * (1 - i / n);
      if (terms.values.length > 0) s += valueOf(terms, q.state, p, i, c.item);
      return Number.isFinite(s) ? s : 0;
    };
    if (cascading) {
      // First pass: every head's first trees on every row, calibrated on their own.
      const ks = terms.scoredHeads;
      if (this.raw.length < n * ks.length) this.raw = new Float64Array(n * ks.length);
      const first = cascade.first.predictRaw(X, n, ks, this.raw);
      for (let j = 0; j < ks.length; j++) {
        const calibrator = cascade.firstCalibrators[ks[j]!]!;
        for (let i = 0; i < n; i++) p[i * h + ks[j]!] = calibrator.apply(first[j * n + i]!);
      }
      const firstScore = this.firstScore.length >= n ? this.firstScore : (this.firstScore = new Float64Array(n));
      if (this.firstPassTop?.k !== keep) this.firstPassTop = new TopK(keep, -Infinity);
      const kept = this.firstPassTop;
      kept.reset();
      for (let i = 0; i < n; i++) kept.push(i, (firstScore[i] = formula(i)));
      const m = kept.drainSorted();
      const rows = kept.outItems;
      // The rest keep the first pass's score (an estimate of the same weighted score, with its
      // probabilities): the mixer's rules may still need them (e.g. the network balance's
      // out-of-network share), and they compare on the same scale.
      const keptRow = this.keptFlags.length >= n ? this.keptFlags.fill(0, 0, n) : (this.keptFlags = new Uint8Array(n));
      for (let r = 0; r < m; r++) keptRow[rows[r]!] = 1;
      for (let i = 0; i < n; i++) {
        const c = scored[i]!;
        c.firstPass = keptRow[i] === 0;
        if (keptRow[i] === 0) c.score = firstScore[i]!;
      }
      // Second pass: the rest of each head's trees on the kept rows, added to the first pass's raw scores.
      if (this.keptRows.length < m * d) this.keptRows = new Float32Array(m * d);
      const Xk = this.keptRows;
      for (let r = 0; r < m; r++) Xk.set(X.subarray(rows[r]! * d, (rows[r]! + 1) * d), r * d);
      if (deferred) {
        registry.compute(q, Array.from(rows.subarray(0, m), (i) => scored[i]!), Xk, undefined, deferred.rest);
        // Their full rows back into X, for the explanations' heads below.
        for (let r = 0; r < m; r++) X.set(Xk.subarray(r * d, (r + 1) * d), rows[r]! * d);
      }
      if (this.raw2.length < m * ks.length) this.raw2 = new Float64Array(m * ks.length);
      const full = cascade.second.predictRaw(Xk, m, ks, this.raw2);
      // The full model's logit: the first pass's trees plus the rest (and the network's share).
      for (let j = 0; j < ks.length; j++) for (let r = 0; r < m; r++) full[j * m + r]! += first[j * n + rows[r]!]!;
      if (this.blendNetwork(Xk, m, ks, full)) for (let r = 0; r < m; r++) this.netRowOf[rows[r]!] = r;
      for (let j = 0; j < ks.length; j++) {
        const k = ks[j]!;
        const calibrator = this.heads[k]!.calibrator;
        for (let r = 0; r < m; r++) p[rows[r]! * h + k] = calibrator.apply(full[j * m + r]!);
      }
      for (let r = 0; r < m; r++) scored[rows[r]!]!.score = formula(rows[r]!);
    } else {
      if (this.predictHeads(terms.scoredHeads, X, n, (i) => i * h)) for (let i = 0; i < n; i++) this.netRowOf[i] = i;
      for (let i = 0; i < n; i++) {
        scored[i]!.score = formula(i);
        scored[i]!.firstPass = undefined;
      }
    }
    let min = Infinity;
    for (let i = 0; i < n; i++) if (scored[i]!.score < min) min = scored[i]!.score;
    // Beyond the budget: below every heavy score, in the light order.
    for (let r = n; r < nc; r++) candidates[order[r]!]!.score = min - 1 - (r - n);
    // Without explanations (`?explain=false`) nobody reads the per-head probabilities.
    if (q.explain === false) return;
    // The best EXPLAINED_CANDIDATES by the weighted score get every head's probability in
    // `predicted` (for their explanations; the page comes from them), the silent heads predicted
    // now on their feature rows copied together. The rest only need their score.
    const top = this.best;
    top.reset();
    for (let i = 0; i < n; i++) top.push(i, scored[i]!.score);
    const m = top.drainSorted();
    const best = top.outItems;
    if (terms.silentHeads.length > 0) {
      if (this.explainRows.length < m * d) this.explainRows = new Float32Array(m * d);
      const Xe = this.explainRows;
      for (let r = 0; r < m; r++) Xe.set(X.subarray(best[r]! * d, (best[r]! + 1) * d), r * d);
      // Candidates only the first pass scored lack the deferred families: computed for these few.
      const partial = deferred ? Array.from(best.subarray(0, m)).filter((i) => scored[i]!.firstPass) : [];
      if (partial.length > 0) {
        const at = new Map(Array.from(best.subarray(0, m), (i, r) => [i, r]));
        const Xp = registry.compute(q, partial.map((i) => scored[i]!), undefined, undefined, deferred!.rest);
        for (let j = 0; j < partial.length; j++) {
          const r = at.get(partial[j]!)!;
          for (const { offset, width } of deferred!.columns) Xe.set(Xp.subarray(j * d + offset, j * d + offset + width), r * d + offset);
        }
      }
      // The network's logits of these rows, when all of them were scored in full just now.
      let cached = this.net !== undefined;
      for (let r = 0; r < m && cached; r++) cached = this.netRowOf[best[r]!]! >= 0;
      this.predictHeads(terms.silentHeads, Xe, m, (r) => best[r]! * h, cached ? (r) => this.netRowOf[best[r]!]! : undefined);
    }
    for (let r = 0; r < m; r++) {
      const i = best[r]!;
      const predicted: Record<string, number> = {};
      for (let k = 0; k < h; k++) predicted[this.heads[k]!.name] = p[i * h + k]!;
      scored[i]!.predicted = predicted;
    }
  }

  /**
   * The calibrated probability of each head in `ks` for each of the `n` rows of X, written to
   * probs[at(row) + k]: all heads in one pass of the compiled forest (models/gbdt/forest.ts),
   * or head by head when it is unavailable. Both give the models' exact raw scores. True when
   * the network ran on these rows (see blendNetwork).
   */
  private predictHeads(ks: readonly number[], X: Float32Array, n: number, at: (row: number) => number, netRow?: (row: number) => number): boolean {
    if (ks.length === 0 || n === 0) return false;
    const p = this.probs;
    const forest = this.forest;
    if (this.raw.length < n * ks.length) this.raw = new Float64Array(n * ks.length);
    let raw: Float64Array = this.raw;
    if (forest) raw = forest.predictRaw(X, n, ks, this.raw);
    else {
      const one = new Float64Array(n);
      ks.forEach((k, j) => raw.set(this.heads[k]!.booster.predictRaw(X, n, one), j * n));
    }
    const ran = this.blendNetwork(X, n, ks, raw, netRow);
    for (let j = 0; j < ks.length; j++) {
      const k = ks[j]!;
      const calibrator = this.heads[k]!.calibrator;
      for (let i = 0; i < n; i++) p[at(i) + k] = calibrator.apply(raw[j * n + i]!);
    }
    return ran && !netRow;
  }

  /**
   * With the network (rank.mlp): raw[j·n + i] (the trees' logit of head ks[j] for row i of X)
   * becomes (1 − b) · trees + b · the network's logit of that head, b the head's share (a head
   * with none keeps the trees' logit). `netRow`: the network is not run, row i's logits are row
   * netRow(i) of its last run. False when nothing was blended: no network, or none of these
   * heads takes a share of it (the network is then not run).
   */
  private blendNetwork(X: Float32Array, n: number, ks: readonly number[], raw: Float64Array, netRow?: (row: number) => number): boolean {
    const net = this.net;
    if (!net || !ks.some((k) => net.blend[k]! > 0)) return false;
    if (!netRow) {
      this.netRaw = net.model.predictRaw(X, n, this.netRaw);
      this.netRows = n;
    }
    const logits = this.netRaw;
    const rows = this.netRows;
    for (let j = 0; j < ks.length; j++) {
      const b = net.blend[ks[j]!]!;
      if (b === 0) continue;
      const o = net.output[ks[j]!]! * rows;
      for (let i = 0; i < n; i++) raw[j * n + i] = (1 - b) * raw[j * n + i]! + b * logits[o + (netRow ? netRow(i) : i)]!;
    }
    return true;
  }
}

/** The cascade's feature families: those its first pass reads, computed for every candidate, and the rest. */
interface Deferred {
  /** Per family of the registry's layout, 1 = computed for every candidate. */
  first: Uint8Array;
  /** 1 = computed for the kept candidates only. */
  rest: Uint8Array;
  /** The deferred families' columns. */
  columns: { offset: number; width: number }[];
}

/**
 * The families no first-pass tree reads (and whose columns depend on the candidate alone), or
 * undefined when there are none — a model whose first trees read every family.
 */
export function deferredFamilies(registry: FeatureRegistry, firstPass: readonly GbdtModel[]): Deferred | undefined {
  const used = new Uint8Array(registry.width);
  for (const model of firstPass) {
    const u = model.usedFeatures();
    for (let j = 0; j < used.length; j++) used[j]! |= u[j]!;
  }
  const layout = registry.layout;
  const first = new Uint8Array(layout.length).fill(1);
  const rest = new Uint8Array(layout.length);
  const columns: { offset: number; width: number }[] = [];
  layout.forEach(({ family, offset, width }, k) => {
    if (width === 0 || family.acrossCandidates) return;
    for (let j = offset; j < offset + width; j++) if (used[j]) return;
    first[k] = 0;
    rest[k] = 1;
    columns.push({ offset, width });
  });
  return columns.length > 0 ? { first, rest, columns } : undefined;
}

/**
 * Each head's share of the model file's network (its own, else the file's mlp.blend); undefined
 * when the file has no network or no head takes any of it. Throws, naming the head, for a share
 * outside [0, 1].
 */
export function networkShares(file: RankerModelFile): Float64Array | undefined {
  if (!file.mlp) return undefined;
  const blend = Float64Array.from(file.heads, (hd, k) => {
    const b = hd.blend ?? file.mlp!.blend;
    if (!(typeof b === 'number' && b >= 0 && b <= 1)) throw new Error(`ranker model: heads[${k}].blend must be a number in [0, 1], got ${String(b)}`);
    return b;
  });
  return blend.some((b) => b > 0) ? blend : undefined;
}

/** The model file's network with, per head, its output and share; undefined when no head takes any of it. Throws, naming the field, when they do not match. */
function loadNetwork(file: RankerModelFile, width: number): { model: MultiTaskMlp; blend: Float64Array; output: Int32Array } | undefined {
  const blend = networkShares(file);
  if (!blend) return undefined;
  const model = MultiTaskMlp.fromJSON(file.mlp!.model);
  if (model.numFeatures !== width) throw new Error(`ranker model: mlp.model has ${model.numFeatures} features, the pipeline ${width}`);
  const output = Int32Array.from(file.heads, (hd) => {
    const o = model.heads.indexOf(hd.name);
    if (o < 0) throw new Error(`ranker model: mlp.model has no output for the head "${hd.name}"`);
    return o;
  });
  return { model, blend, output };
}

/** Why two feature lists differ (the first difference), or undefined when equal. */
export function featureMismatch(model: readonly string[], registry: readonly string[]): string | undefined {
  for (let j = 0; j < Math.max(model.length, registry.length); j++) {
    if (model[j] !== registry[j]) {
      return `feature ${j + 1} is "${model[j] ?? '(none)'}" in the model but "${registry[j] ?? '(none)'}" in the pipeline (retrain with \`lenta train ranker\`)`;
    }
  }
  return undefined;
}
