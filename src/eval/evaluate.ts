/**
 * One evaluation run: split the data set by a protocol, fit each algorithm on the training part,
 * rank all candidate items for every evaluated user, and compute the protocol's metrics at
 * every k. Used by `lenta eval`, the report and the tests.
 */
import { popularityDeciles, rankingMetrics, type MetricValues } from './metrics.js';
import { prepareSplit, type EvalSplit, type ProtocolName } from './protocols.js';
import { createAlgorithm, type Recommender } from './recommender.js';
import type { EvalDataset } from './dataset.js';
import { candidateRecall, type CandidateRecall } from './candidate-recall.js';

export interface StageProgress {
  update(done: number, note?: string): void;
  finish(note?: string): void;
}

export interface EvaluationOptions {
  protocol: ProtocolName;
  seed?: number;
  threshold?: number;
  ks?: number[];
  algorithms: string[];
  /** Algorithm settings, keyed like `ease.lambda` (see algorithms.ts). */
  algorithmOptions?: Record<string, number | string | boolean | undefined>;
  /** The user's Lenta config as given (AlgorithmParams.config). */
  algorithmConfig?: Record<string, unknown>;
  /** Item vectors for intra-list diversity. */
  diversityVectors?: 'interactions' | 'tags';
  /** Also measure candidate recall@N of algorithms with candidate sources (lenta). */
  candidates?: number;
  /** Creates a progress display for a long step (e.g. the CLI's progress bar). */
  progress?: (label: string, total: number, unit: string) => StageProgress;
}

export interface AlgorithmResult {
  name: string;
  metrics: MetricValues;
  fitSeconds: number;
  recommendSeconds: number;
  /** Share of recommended slots per popularity decile (0 = most popular), per k. */
  popularityDeciles: Record<number, number[]>;
  /** Free-form facts about the fit (e.g. EASE solver and matrix size). */
  notes: Record<string, string | number>;
  /** Candidate recall of the algorithm's sources (with `candidates: N`). */
  candidates?: CandidateRecall;
}

export interface EvaluationResult {
  dataset: string;
  protocol: ProtocolName;
  seed: number;
  threshold: number;
  explicitRatings: boolean;
  ks: number[];
  users: number;
  items: number;
  interactions: number;
  train: number;
  test: number;
  testUsers: number;
  candidates: number;
  results: AlgorithmResult[];
  /** Interactions dropped as duplicate (user, item) pairs. */
  duplicates: number;
  startedAt: string;
  seconds: number;
}

const noProgress: StageProgress = { update() {}, finish() {} };

export async function evaluate(ds: EvalDataset, options: EvaluationOptions): Promise<EvaluationResult> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const seed = options.seed ?? 42;
  const threshold = options.threshold ?? 4;
  const ks = [...new Set(options.ks ?? [10, 20])].sort((a, b) => a - b);
  if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1)) throw new Error(`k must be positive integers, got ${ks.join(',')}`);
  const maxK = ks[ks.length - 1];
  const progress = options.progress ?? (() => noProgress);

  // Create every algorithm first, so that an unknown name fails before any long work.
  const algorithms: (Recommender | undefined)[] = options.algorithms.map((name) => createAlgorithm(name, { seed, protocol: options.protocol, threshold, options: options.algorithmOptions ?? {}, config: options.algorithmConfig }));
  const split: EvalSplit = prepareSplit(ds, { protocol: options.protocol, seed, threshold });
  const results: AlgorithmResult[] = [];
  for (let a = 0; a < algorithms.length; a++) {
    results.push(await evaluateAlgorithm(algorithms[a]!, split, ks, maxK, options, progress));
    algorithms[a] = undefined; // let a fitted model (e.g. EASE's dense matrix) be collected
  }
  return {
    dataset: ds.name,
    protocol: options.protocol,
    seed,
    threshold,
    explicitRatings: ds.explicitRatings,
    ks,
    users: ds.numUsers,
    items: ds.numItems,
    interactions: ds.size,
    train: split.numTrain,
    test: split.numTest,
    testUsers: split.users.length,
    candidates: split.train.numCandidates,
    results,
    duplicates: ds.eventsRead - ds.size,
    startedAt,
    seconds: (performance.now() - started) / 1000,
  };
}

export async function evaluateAlgorithm(
  algo: Recommender,
  split: EvalSplit,
  ks: number[],
  maxK: number,
  options: Pick<EvaluationOptions, 'diversityVectors' | 'candidates'>,
  progress: (label: string, total: number, unit: string) => StageProgress,
): Promise<AlgorithmResult> {
  const t0 = performance.now();
  let fitBar: StageProgress | undefined;
  let fitTotal = -1;
  let fitNote: string | undefined;
  await algo.fit(split.train, {
    onProgress: (done, total, note) => {
      // A fit with phases of their own size (lenta: replay the log, then train each source)
      // gets one bar per phase: a single bar would show the next phase's steps against the
      // first one's total (and an eta of hours).
      if (total !== fitTotal) {
        fitBar?.finish(fitNote);
        fitBar = progress(`fit ${algo.name}`, total, 'steps');
        fitTotal = total;
      }
      fitNote = note;
      fitBar!.update(done, note);
    },
  });
  fitBar?.finish(fitNote);
  const t1 = performance.now();
  const recBar = progress(`recommend ${algo.name}`, split.users.length, 'users');
  const lists = await algo.recommend(split.users, maxK, { excludeTrainItems: true, onProgress: (done) => recBar.update(done) });
  recBar.finish();
  const t2 = performance.now();
  if (lists.length !== split.users.length * maxK) throw new Error(`${algo.name}: recommend() returned ${lists.length} entries, expected ${split.users.length * maxK}`);
  checkLists(algo.name, split, lists, maxK);
  const input = { train: split.train, users: split.users, positives: split.positives, lists, listLength: maxK, vectors: options.diversityVectors };
  const metrics = rankingMetrics(input, ks);
  const deciles: Record<number, number[]> = {};
  for (const k of ks) deciles[k] = popularityDeciles(input, k);
  const notes: Record<string, string | number> = { ...algo.notes?.() };
  const stats = (algo as { stats?: { solver?: string; size?: number; invert?: { seconds: number; threads: number; kernel: string } } }).stats;
  if (stats?.solver) {
    notes.solver = stats.solver;
    if (stats.size !== undefined) notes.matrix = `${stats.size}×${stats.size}`;
    if (stats.invert) notes.inverse = `${stats.invert.seconds.toFixed(2)} s, ${stats.invert.threads} thread(s), ${stats.invert.kernel}`;
  }
  const result: AlgorithmResult = { name: algo.name, metrics, fitSeconds: (t1 - t0) / 1000, recommendSeconds: (t2 - t1) / 1000, popularityDeciles: deciles, notes };
  if (options.candidates && algo.candidates) {
    const bar = progress(`candidates ${algo.name}`, split.users.length, 'users');
    const sets = await algo.candidates(split.users, options.candidates, { excludeTrainItems: true, onProgress: (done) => bar.update(done) });
    bar.finish();
    result.candidates = candidateRecall(sets, split.positives, options.candidates, ks[0]);
  }
  return result;
}

/** The protocol's ranking rules, enforced on every algorithm's output. */
function checkLists(name: string, split: EvalSplit, lists: Int32Array, k: number): void {
  const { candidates, userItems } = split.train;
  const seen = new Uint8Array(split.train.numItems);
  for (let r = 0; r < split.users.length; r++) {
    const u = split.users[r];
    for (let p = userItems.offsets[u]; p < userItems.offsets[u + 1]; p++) seen[userItems.indices[p]] = 1;
    for (let q = 0; q < k; q++) {
      const item = lists[r * k + q];
      if (item < 0) continue;
      if (item >= split.train.numItems || !candidates[item]) throw new Error(`${name}: recommended item ${item}, which is not a candidate item`);
      if (seen[item] !== 0) throw new Error(`${name}: recommended item ${item} twice or one the user interacted with in training`);
      seen[item] = 2;
    }
    for (let p = userItems.offsets[u]; p < userItems.offsets[u + 1]; p++) seen[userItems.indices[p]] = 0;
    for (let q = 0; q < k; q++) if (lists[r * k + q] >= 0) seen[lists[r * k + q]] = 0;
  }
}
