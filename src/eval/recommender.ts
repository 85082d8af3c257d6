/**
 * What an algorithm must do to be evaluated: fit on the training part of a split, then return
 * a top-k list per user. Baselines (popularity, itemknn, ease, ials) and the Lenta pipeline
 * register themselves by name with `registerAlgorithm`, and `lenta eval --algos a,b` looks
 * them up with `createAlgorithm`.
 */
import type { Csr } from '../models/csr.js';
import type { EvalDataset } from './dataset.js';

/** The training data of a split, in the shapes numeric models want. */
export interface TrainMatrix {
  numUsers: number;
  numItems: number;
  /** user → items (sorted), values = the interaction's value (stars, play count, 1). */
  userItems: Csr;
  /** item → users (sorted), same values. */
  itemUsers: Csr;
  /** Training interactions per item (= its training popularity). */
  itemCounts: Int32Array;
  /** 1 for items with at least one training interaction: the only items ever ranked. */
  candidates: Uint8Array;
  numCandidates: number;
  /** The whole data set and which of its interactions are training ones, for algorithms that
   *  replay the training log (timestamps, external ids, follow graph, item metadata). */
  dataset: EvalDataset;
  isTrain: Uint8Array;
}

export interface FitOptions {
  /** Progress of a long fit: `done` out of `total` steps. */
  onProgress?: (done: number, total: number, note?: string) => void;
}

export interface RecommendOptions {
  /** Leave each user's training items out of the ranking (the protocol always sets this). */
  excludeTrainItems: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface Recommender {
  readonly name: string;
  fit(train: TrainMatrix, options?: FitOptions): void | Promise<void>;
  /**
   * Top-k lists for `users`: entries `[r*k, (r+1)*k)` of the result are the items for
   * `users[r]`, best first, padded with -1 when fewer than k items can be ranked. Only
   * candidate items (`train.candidates`) may appear.
   */
  recommend(users: Int32Array, k: number, options: RecommendOptions): Int32Array | Promise<Int32Array>;
  /**
   * Optional, for multi-stage pipelines: each candidate source's first-stage candidates (up to
   * `n` per source) for each user, with the users' training items excluded.
   */
  candidates?(users: Int32Array, n: number, options: RecommendOptions): Promise<Map<string, Int32Array[]>>;
  /** Optional: what the fit measured or decided, for the results' notes column. */
  notes?(): Record<string, string | number>;
}

/** Options handed to an algorithm factory: the run's seed and algorithm-specific settings
 *  (from command-line flags such as `--ease-lambda`, keyed like `ease.lambda`). */
export interface AlgorithmParams {
  seed: number;
  /** The evaluation protocol, for algorithms that tune themselves on a split like it. */
  protocol?: string;
  /** Test positives of explicit data: ratings from this value on (`--threshold`). */
  threshold?: number;
  options: Record<string, number | string | boolean | undefined>;
  /** The user's Lenta config as given (`--config`, LENTA_* variables), for algorithms built on the engine. */
  config?: Record<string, unknown>;
}

export type AlgorithmFactory = (params: AlgorithmParams) => Recommender;

interface Registration {
  factory: AlgorithmFactory;
  description: string;
}

const registry = new Map<string, Registration>();

export class UnknownAlgorithmError extends Error {
  readonly algorithm: string;
  constructor(name: string) {
    const known = [...registry.keys()].join(', ') || 'none';
    const hint = 'check the spelling';
    super(`algorithm "${name}" is not registered: ${hint}. Registered algorithms: ${known}`);
    this.name = 'UnknownAlgorithmError';
    this.algorithm = name;
  }
}

/** Makes an algorithm available to `lenta eval --algos <name>`. Re-registering replaces. */
export function registerAlgorithm(name: string, factory: AlgorithmFactory, description = ''): void {
  if (!/^[a-z][a-z0-9_-]*$/.test(name)) throw new Error(`algorithm name "${name}" must be lower-case letters, digits, - or _`);
  registry.set(name, { factory, description });
}

export function isAlgorithmRegistered(name: string): boolean {
  return registry.has(name);
}

export function listAlgorithms(): { name: string; description: string }[] {
  return [...registry.entries()].map(([name, r]) => ({ name, description: r.description }));
}

export function createAlgorithm(name: string, params: AlgorithmParams): Recommender {
  const r = registry.get(name);
  if (!r) throw new UnknownAlgorithmError(name);
  return r.factory(params);
}

/**
 * How every ranking breaks ties between equal scores: the **newer** item first, i.e. the item
 * whose first interaction comes later in the data set (the higher dense id, see dataset.ts).
 * In a feed, a fresh item is the better pick among equals. This rule matters for baselines
 * with many exact ties (popularity counts); it is the rule under which `popularity` reproduces
 * the reference numbers of issue 3 (ml-latest-small, loo: with "older first" one user's
 * held-out item moves from rank 11 to rank 10).
 */
export const TIE_BREAK = 'newer' as 'newer' | 'older';

/** Compares two items for ranking: negative when (scoreA, a) ranks before (scoreB, b). */
export function compareRanked(scoreA: number, a: number, scoreB: number, b: number): number {
  if (scoreA !== scoreB) return scoreA > scoreB ? -1 : 1;
  return TIE_BREAK === 'newer' ? b - a : a - b;
}

/**
 * Keeps the k best items of a score vector: higher score first, ties by TIE_BREAK.
 * Items with `blocked[i] !== 0` are skipped; NaN scores rank below every number.
 * Writes the items into `out[outStart … outStart+k)`, padding with -1.
 */
export class TopKSelector {
  private readonly heapKey: Int32Array;
  private readonly heapScore: Float64Array;

  constructor(readonly k: number) {
    this.heapKey = new Int32Array(Math.max(1, k));
    this.heapScore = new Float64Array(Math.max(1, k));
  }

  select(scores: ArrayLike<number>, n: number, blocked: Uint8Array, out: Int32Array, outStart: number): number {
    const k = this.k;
    const hk = this.heapKey;
    const hs = this.heapScore;
    // Ties are decided on a key: the smaller key ranks first.
    const newer = TIE_BREAK === 'newer';
    let size = 0;
    // Min-heap on "goodness": the root is the worst kept item (lowest score, then largest key).
    for (let i = 0; i < n; i++) {
      if (blocked[i] !== 0) continue;
      let s = scores[i];
      if (s !== s) s = -Infinity;
      const key = newer ? n - 1 - i : i;
      if (size < k) {
        let c = size++;
        while (c > 0) {
          const p = (c - 1) >> 1;
          const ps = hs[p];
          if (ps < s || (ps === s && hk[p] > key)) break; // parent already worse
          hs[c] = ps;
          hk[c] = hk[p];
          c = p;
        }
        hs[c] = s;
        hk[c] = key;
      } else {
        const rs = hs[0];
        if (s < rs || (s === rs && key > hk[0])) continue; // not better than the worst kept
        let c = 0;
        for (;;) {
          const l = 2 * c + 1;
          if (l >= k) break;
          let w = l;
          const r = l + 1;
          if (r < k && (hs[r] < hs[l] || (hs[r] === hs[l] && hk[r] > hk[l]))) w = r;
          if (hs[w] < s || (hs[w] === s && hk[w] > key)) {
            hs[c] = hs[w];
            hk[c] = hk[w];
            c = w;
          } else break;
        }
        hs[c] = s;
        hk[c] = key;
      }
    }
    // Pop the heap (worst first) into descending order.
    const got = size;
    for (let pos = size - 1; pos >= 0; pos--) {
      out[outStart + pos] = newer ? n - 1 - hk[0] : hk[0];
      const lastS = hs[size - 1];
      const lastK = hk[size - 1];
      size--;
      let c = 0;
      for (;;) {
        const l = 2 * c + 1;
        if (l >= size) break;
        let w = l;
        const r = l + 1;
        if (r < size && (hs[r] < hs[l] || (hs[r] === hs[l] && hk[r] > hk[l]))) w = r;
        if (hs[w] < lastS || (hs[w] === lastS && hk[w] > lastK)) {
          hs[c] = hs[w];
          hk[c] = hk[w];
          c = w;
        } else break;
      }
      hs[c] = lastS;
      hk[c] = lastK;
    }
    for (let pos = got; pos < k; pos++) out[outStart + pos] = -1;
    return got;
  }
}

/**
 * The common recommend loop of scoring models: for each user, `score(u, out)` fills a score per
 * item; non-candidates and (optionally) the user's training items are blocked; the top k are
 * kept.
 */
export function recommendFromScores(
  train: TrainMatrix,
  users: Int32Array,
  k: number,
  options: RecommendOptions,
  score: (user: number, out: Float64Array) => void,
): Int32Array {
  const n = train.numItems;
  const out = new Int32Array(users.length * k);
  const scores = new Float64Array(n);
  const blocked = new Uint8Array(n);
  for (let i = 0; i < n; i++) blocked[i] = train.candidates[i] ? 0 : 1;
  const selector = new TopKSelector(k);
  const { offsets, indices } = train.userItems;
  for (let r = 0; r < users.length; r++) {
    const u = users[r];
    score(u, scores);
    if (options.excludeTrainItems) for (let p = offsets[u]; p < offsets[u + 1]; p++) blocked[indices[p]] = 1;
    selector.select(scores, n, blocked, out, r * k);
    if (options.excludeTrainItems) for (let p = offsets[u]; p < offsets[u + 1]; p++) blocked[indices[p]] = train.candidates[indices[p]] ? 0 : 1;
    if (options.onProgress && (r & 255) === 255) options.onProgress(r + 1, users.length);
  }
  options.onProgress?.(users.length, users.length);
  return out;
}
