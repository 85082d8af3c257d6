/**
 * EASE source: the closed-form linear item-to-item model (Steck 2019; the evaluation baseline
 * in models/ease/ease.ts) scoring every item exactly from the user's current history,
 *
 *   P = (XᵀX + λI)⁻¹,  score(u, j) = (h B)_j = −(h P)_j / P_jj   (j not in the history h),
 *
 * where X is the binary user × item matrix of positive engagements at training time and h is the
 * user's positive history *now* (from the online state), so engagements after training count at
 * once. Two exact forms; of those whose dense side fits `maxDim`, the one with the cheaper request:
 *
 *   dual   (users m ≤ maxDim): keep K⁻¹ = (XXᵀ + λI)⁻¹ (m×m) and X; by Woodbury
 *          h P = (h − ((h Xᵀ) K⁻¹) X) / λ and P_jj = (1 − x_jᵀ K⁻¹ x_j) / λ, so a request costs
 *          O(|h|·deg + m² + nnz(X));
 *   primal (items n ≤ maxDim): keep P (n×n); a request costs O(|h|·n).
 *
 * The dense side is bounded by `maxDim` (memory 8·maxDim² bytes): on a larger platform (both
 * sides above it) the source trains to nothing and stays off (the other item-to-item and
 * embedding sources cover it). Items first engaged after training are not scored until the
 * next training.
 *
 * Recency: EASE scores the history as a set, but what a user engages with next is most like
 * what they engaged with last. The same model also scores a recency-weighted history,
 * h_i = 1 / (1 + k / recencyRank) for the k-th newest positive history item (k = 0 the newest),
 * where k counts the history items engaged strictly later (items engaged at the same time are
 * equally recent), which the formulas above take as they are (h P is linear in h): a second ranked list,
 * proposed by the companion source `ease_recent` (EaseRecentSource, the learned fusion weighs
 * it against the set scores), and three more feature columns for the heavy ranker. It costs
 * the request a second pass of the same size. A history whose items all carry the same time has
 * no order: its recency-weighted scores would be the set scores, so the list is empty and the
 * features are missing.
 *
 * Liked: for the event types whose value is a preference (ratings: the types with
 * `positiveFrom`, which also labels the rankers' examples), the same model scores the history of
 * the items the user rated at least at their own average (h_i = 1 for those, 0 for the rest;
 * user-relative, since users use the scale differently): three more columns
 * (`liked_score/rel/z`) that tell "like what the user rated highly" from "like what the user
 * rated at all". Missing for a history without such a type. (Dwell times are values too, but
 * not preferences: on the synthetic platform, liked-by-dwell columns cost the ranker about .01–.03
 * truth_ndcg@10 in three worlds.)
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { allocateDense, invertSpd } from '../models/linalg.js';
import { csrFromCoordinates, mergeDuplicates, transpose, type Csr } from '../models/csr.js';
import type { TopK } from '../models/top-k.js';
import { candidatesFromTopK, heapFor, servable } from './ranked.js';
import type { Candidate, CandidateSource, FeedQuery, SourceTrainingContext, TrainableSource } from '../pipeline/types.js';
import { readPositives } from './communities.js';
import type { CandidateFeatureProvider } from '../features/registry.js';
import { fillMissing, RequestMemo } from './request-memo.js';

export interface EaseSourceOptions {
  lambda: number;
  /** Largest side of the dense matrix (users in the dual form, items in the primal form). */
  maxDim: number;
  /**
   * The recency-weighted scores weigh the k-th newest history item 1 / (1 + k / recencyRank)
   * (the `ease_recent` list and the `recent_*` features); 0 turns them off. Not part of the
   * trained model.
   */
  recencyRank: number;
}

const FORMAT = 'lenta-ease';
const VERSION = 1;

interface Model {
  form: 'dual' | 'primal';
  /** dense id ↔ compact id */
  users: Int32Array;
  items: Int32Array;
  /** compact user → compact items, and back (dual) */
  userItems: Csr;
  itemUsers: Csr;
  /** K⁻¹ (dual, m×m) or P (primal, n×n), row-major */
  dense: Float64Array;
  /** per compact item: P_jj·λ (dual: 1 − x_jᵀK⁻¹x_j; primal: P_jj) */
  diag: Float64Array;
  trainedAtSeq: number;
}

/** The feature columns (CandidateFeatureProvider), fixed for every trained model. */
const EASE_FEATURES: readonly string[] = Object.freeze(['score', 'rel', 'z', 'liked_score', 'liked_rel', 'liked_z']);
const EASE_RECENT_FEATURES: readonly string[] = Object.freeze([...EASE_FEATURES, 'recent_score', 'recent_rel', 'recent_z']);

/** Outside the history: the best score, the mean and the standard deviation (when the features ask). */
interface ScoreStats {
  best: number;
  mean: number;
  sd: number;
}

/** One request's scores of every trained item. */
interface UserScores {
  /** Per compact item. */
  scores: Float64Array;
  /** The user's positive history items (compact ids, distinct), newest first, and when each was engaged. */
  history: number[];
  times: number[];
  /** Per history item: the value of its newest engagement when that is of a type with `positiveFrom` (a rating), else NaN. */
  ratings: number[];
  inHistory: Uint8Array;
  /** Items in the history ring (any polarity): never proposed. */
  blocked: Set<number>;
  stats?: ScoreStats;
  /** The recency-weighted scores (per compact item) and their statistics, when asked for; null: the history has no order. */
  recent?: Float64Array | null;
  recentStats?: ScoreStats;
  /** The liked history's scores (per compact item) and their statistics; null: no type with `positiveFrom` in the history. */
  likedScores?: Float64Array | null;
  likedStats?: ScoreStats;
}

export class EaseSource implements TrainableSource, CandidateFeatureProvider {
  readonly name = 'ease';
  readonly options: EaseSourceOptions;
  private model: Model | undefined;
  /** Why the source is off after training (catalogue too large, no data). */
  offBecause: string | undefined;
  private compactItemOf = new Int32Array(0);
  private top: TopK | undefined;
  /** The request's scores (fetch, then the ranker's features); null: the user has no trained history item. */
  private readonly memo = new RequestMemo<UserScores | null>();

  constructor(options: Partial<EaseSourceOptions> = {}) {
    this.options = { lambda: 500, maxDim: 3000, recencyRank: 1, ...options };
  }

  /** The companion source that proposes the recency-weighted list (`ease_recent`) from this source's model. */
  recentSource(): EaseRecentSource {
    return new EaseRecentSource(this);
  }

  /** The trained form (undefined when off). */
  get form(): 'dual' | 'primal' | undefined {
    return this.model?.form;
  }

  enabled(q: FeedQuery): boolean {
    return this.model !== undefined && q.user >= 0 && q.state.history.size(q.user) > 0;
  }

  async train(ctx: SourceTrainingContext): Promise<void> {
    const { state, store } = ctx;
    const events = await readPositives(state, store.readLog(0, 65536, false));
    const lastSeq = (await store.counts()).lastSeq;
    const numUsers = Math.max(store.userIds.length, state.maxUserSeen + 1);
    const numItems = Math.max(store.itemIds.length, state.items);
    // Compact ids of users and items with a positive engagement.
    const userMap = new Int32Array(numUsers).fill(-1);
    const itemMap = new Int32Array(numItems).fill(-1);
    const users: number[] = [];
    const items: number[] = [];
    for (let e = 0; e < events.length; e++) {
      const u = events.user[e]!;
      const i = events.item[e]!;
      if (userMap[u] === -1) (userMap[u] = users.length), users.push(u);
      if (itemMap[i] === -1) (itemMap[i] = items.length), items.push(i);
    }
    const m = users.length;
    const n = items.length;
    this.model = undefined;
    if (m === 0) {
      this.offBecause = 'no positive engagements';
      return;
    }
    // The form with the cheaper request among those that fit: primal costs |history|·n per
    // request, dual m² + nnz(X).
    const history = Math.min(state.options.historyLength, 200);
    const primalOk = n <= this.options.maxDim;
    const dualOk = m <= this.options.maxDim && events.length <= 5_000_000;
    if (!primalOk && !dualOk) {
      this.offBecause = `${m} users × ${n} items, ${events.length} engagements: too large for ease (maxDim ${this.options.maxDim})`;
      return;
    }
    const form: 'dual' | 'primal' = primalOk && (!dualOk || history * n <= m * m + events.length) ? 'primal' : 'dual';
    this.offBecause = undefined;
    const cu = new Int32Array(events.length);
    const ci = new Int32Array(events.length);
    for (let e = 0; e < events.length; e++) {
      cu[e] = userMap[events.user[e]!]!;
      ci[e] = itemMap[events.item[e]!]!;
    }
    const userItems = binary(mergeDuplicates(csrFromCoordinates(m, n, cu, ci)));
    const itemUsers = transpose(userItems);
    const lambda = this.options.lambda;
    // The Gram matrix of the smaller side, + λI, inverted in place.
    const size = form === 'dual' ? m : n;
    const rowsOf = form === 'dual' ? itemUsers : userItems; // co-occurrence along the other side
    const mat = allocateDense(size);
    const { ld, data } = mat;
    for (let r = 0; r < rowsOf.rows; r++) {
      const s = rowsOf.offsets[r]!;
      const e = rowsOf.offsets[r + 1]!;
      for (let p = s; p < e; p++) {
        const a = rowsOf.indices[p]! * ld;
        for (let q = s; q < e; q++) data[a + rowsOf.indices[q]!]! += 1;
      }
    }
    for (let a = 0; a < size; a++) data[a * ld + a]! += lambda;
    await invertSpd(mat, { onProgress: (d, t) => ctx.onProgress?.(d, t, 'ease inverse') });
    const dense = new Float64Array(size * size);
    for (let a = 0; a < size; a++) dense.set(data.subarray(a * ld, a * ld + size), a * size);
    const diag = new Float64Array(n);
    if (form === 'dual') {
      for (let j = 0; j < n; j++) {
        let q = 0;
        for (let p = itemUsers.offsets[j]!; p < itemUsers.offsets[j + 1]!; p++) {
          const row = itemUsers.indices[p]! * m;
          for (let r = itemUsers.offsets[j]!; r < itemUsers.offsets[j + 1]!; r++) q += dense[row + itemUsers.indices[r]!]!;
        }
        diag[j] = 1 - q;
      }
    } else {
      for (let j = 0; j < n; j++) diag[j] = dense[j * n + j]!;
    }
    this.setModel({ form, users: Int32Array.from(users), items: Int32Array.from(items), userItems, itemUsers, dense, diag, trainedAtSeq: lastSeq });
  }

  private setModel(model: Model): void {
    this.model = model;
    this.memo.clear();
    const maxItem = model.items.reduce((a, b) => Math.max(a, b), -1);
    this.compactItemOf = new Int32Array(maxItem + 1).fill(-1);
    model.items.forEach((i, c) => (this.compactItemOf[i] = c));
  }

  fetch(q: FeedQuery, budget: number): Candidate[] {
    return this.ranked(q, budget, false, this.name);
  }

  /** Whether the recency-weighted list can be asked for (the companion source's switch). */
  recentEnabled(q: FeedQuery): boolean {
    return this.options.recencyRank > 0 && this.enabled(q);
  }

  /** The recency-weighted list (EaseRecentSource.fetch). */
  fetchRecent(q: FeedQuery, budget: number, name: string): Candidate[] {
    return this.options.recencyRank > 0 ? this.ranked(q, budget, true, name) : [];
  }

  private ranked(q: FeedQuery, budget: number, recent: boolean, name: string): Candidate[] {
    const model = this.model;
    if (!model || q.user < 0 || budget <= 0) return [];
    const u = this.userScores(q, model);
    if (!u) return [];
    const { inHistory, blocked } = u;
    const scores = recent ? this.recentScores(u, model) : u.scores;
    if (!scores) return [];
    const n = model.items.length;
    const top = (this.top = heapFor(this.top, budget));
    for (let j = 0; j < n; j++) {
      if (inHistory[j]) continue;
      const s = scores[j]!;
      if (!(s > 0)) continue;
      const item = model.items[j]!;
      if (blocked.has(item) || !top.accepts(item, s) || !servable(q, item)) continue;
      top.push(item, s);
    }
    return candidatesFromTopK(top, name, q);
  }

  /**
   * Feature columns (CandidateFeatureProvider): for every candidate, its EASE score for the user
   * (`score`, the same number fetch() ranks by), that score over the user's best score outside
   * the history (`rel`), and its standard score among the user's scores of every item outside
   * the history (`z`); with `recencyRank` > 0 the same three of the recency-weighted scores
   * (`recent_score`, `recent_rel`, `recent_z`: how close the candidate is to what the user
   * engaged with last). `rel` and `z` do not depend on the scale of the scores, which grows with
   * the size of the training data and of the history (the ranker learns on a shadow trained on
   * less). The scores come from fetch() when it ran in the same request; else the user is
   * scored here. NaN for a user without a trained history item and for items the model does
   * not know. Empty when the source is off.
   */
  featureNames(): readonly string[] {
    return this.model ? this.columns() : [];
  }

  private columns(): readonly string[] {
    return this.options.recencyRank > 0 ? EASE_RECENT_FEATURES : EASE_FEATURES;
  }

  candidateFeatures(q: FeedQuery, candidates: readonly Candidate[], out: Float32Array, stride: number, offset: number): void {
    const model = this.model;
    const width = this.columns().length;
    const u = model && q.user >= 0 ? this.userScores(q, model) : undefined;
    if (!model || !u) return fillMissing(out, candidates.length, stride, offset, width);
    const { scores, inHistory } = u;
    const stats = (u.stats ??= scoreStats(scores, inHistory));
    const liked = this.likedScores(u, model);
    const likedStats = liked ? (u.likedStats ??= scoreStats(liked, inHistory)) : undefined;
    const recent = width > 6 ? this.recentScores(u, model) : undefined;
    const recentStats = recent ? (u.recentStats ??= scoreStats(recent, inHistory)) : undefined;
    const compact = this.compactItemOf;
    for (let i = 0; i < candidates.length; i++) {
      const item = candidates[i]!.item;
      const row = i * stride + offset;
      const c = item >= 0 && item < compact.length ? compact[item]! : -1;
      if (c < 0) {
        out.fill(NaN, row, row + width);
        continue;
      }
      writeScore(out, row, scores[c]!, stats);
      if (liked) writeScore(out, row + 3, liked[c]!, likedStats!);
      else out.fill(NaN, row + 3, row + 6);
      if (recent) writeScore(out, row + 6, recent[c]!, recentStats!);
      else if (width > 6) out.fill(NaN, row + 6, row + 9);
    }
  }

  /** The request's scores of the liked history (computed once per request); null when no history item is of a type with `positiveFrom`. */
  private likedScores(u: UserScores, model: Model): Float64Array | null {
    if (u.likedScores !== undefined) return u.likedScores;
    const weights = likedWeights(u.ratings);
    return (u.likedScores = weights ? scoreHistory(model, u.history, weights) : null);
  }

  /** The request's recency-weighted scores (computed once per request); null when the history has no order. */
  private recentScores(u: UserScores, model: Model): Float64Array | null {
    if (u.recent !== undefined) return u.recent;
    const weights = recencyWeights(u.times, this.options.recencyRank);
    return (u.recent = weights ? scoreHistory(model, u.history, weights) : null);
  }

  /**
   * The user's EASE score of every trained item (compact ids) from the positive history now,
   * kept for the rest of the request; undefined when the history has no trained item.
   */
  private userScores(q: FeedQuery, model: Model): UserScores | undefined {
    const kept = this.memo.get(q, model);
    if (kept !== undefined) return kept ?? undefined;
    const state = q.state;
    const n = model.items.length;
    // The user's positive history (compact ids, distinct, newest first); any history item is never proposed.
    const history: number[] = [];
    const times: number[] = [];
    const ratings: number[] = [];
    const likedFrom = state.likedFrom;
    const inHistory = new Uint8Array(n);
    const blocked = new Set<number>();
    state.history.forEachRecent(q.user, (item, type, ts, value) => {
      blocked.add(item);
      if (!(state.polarity[type]! > 0)) return;
      const c = item < this.compactItemOf.length ? this.compactItemOf[item]! : -1;
      if (c >= 0 && !inHistory[c]) (inHistory[c] = 1), history.push(c), times.push(ts), ratings.push(Number.isNaN(likedFrom[type]!) ? NaN : value);
    });
    if (history.length === 0) {
      this.memo.set(q, model, null);
      return undefined;
    }
    const scores = scoreHistory(model, history, undefined);
    return this.memo.set(q, model, { scores, history, times, ratings, inHistory, blocked }) ?? undefined;
  }

  async save(dir: string): Promise<void> {
    const m = this.model;
    const header = {
      format: FORMAT,
      version: VERSION,
      options: this.options,
      offBecause: this.offBecause ?? null,
      form: m?.form ?? null,
      users: m?.users.length ?? 0,
      items: m?.items.length ?? 0,
      nnz: m?.userItems.indices.length ?? 0,
      trainedAtSeq: m?.trainedAtSeq ?? 0,
    };
    if (m) {
      const parts = [m.users, m.items, m.userItems.offsets, m.userItems.indices, m.dense, m.diag];
      await writeFile(join(dir, `${this.name}.bin`), Buffer.concat(parts.map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength))));
    }
    await writeFile(join(dir, `${this.name}.json`), `${JSON.stringify(header, null, 2)}\n`);
  }

  async load(dir: string, ctx: SourceTrainingContext): Promise<boolean> {
    let header: { format: string; version: number; options: EaseSourceOptions; offBecause: string | null; form: 'dual' | 'primal' | null; users: number; items: number; nnz: number; trainedAtSeq: number };
    try {
      header = JSON.parse(await readFile(join(dir, `${this.name}.json`), 'utf8'));
    } catch {
      return false;
    }
    // recencyRank weighs the history at request time: not part of the trained model.
    const trainedWith = (o: Partial<EaseSourceOptions> | undefined) => JSON.stringify([o?.lambda, o?.maxDim]);
    if (header.format !== FORMAT || header.version !== VERSION || trainedWith(header.options) !== trainedWith(this.options)) return false;
    if (header.trainedAtSeq > ctx.state.lastSeq) return false;
    if (!header.form) {
      this.model = undefined;
      this.offBecause = header.offBecause ?? 'not trained';
      return true;
    }
    try {
      const buf = await readFile(join(dir, `${this.name}.bin`));
      const bytes = new Uint8Array(buf.byteLength);
      bytes.set(buf);
      const { users: m, items: n, nnz } = header;
      const size = header.form === 'dual' ? m : n;
      const expected = 4 * (m + n + m + 1 + nnz) + 8 * (size * size + n);
      if (bytes.byteLength !== expected) return false;
      let o = 0;
      const i32 = (len: number): Int32Array => {
        const a = new Int32Array(bytes.buffer.slice(o, o + 4 * len));
        o += 4 * len;
        return a;
      };
      const f64 = (len: number): Float64Array => {
        const a = new Float64Array(bytes.buffer.slice(o, o + 8 * len));
        o += 8 * len;
        return a;
      };
      const users = i32(m);
      const items = i32(n);
      const offsets = i32(m + 1);
      const indices = i32(nnz);
      const dense = f64(size * size);
      const diag = f64(n);
      if (items.some((i) => i >= Math.max(ctx.state.items, ctx.store.itemIds.length))) return false;
      const userItems: Csr = { rows: m, cols: n, offsets, indices, values: new Float64Array(nnz).fill(1) };
      this.setModel({ form: header.form, users, items, userItems, itemUsers: transpose(userItems), dense, diag, trainedAtSeq: header.trainedAtSeq });
      this.offBecause = undefined;
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * EASE scores of every trained item (compact ids) for a history row h: h_i = weights[p] for the
 * p-th entry of `history` (1 for all when `weights` is undefined: the binary row), 0 elsewhere;
 * score_j = −(h P)_j / P_jj (= (h B)_j off the history).
 */
function scoreHistory(model: Model, history: readonly number[], weights: Float64Array | undefined): Float64Array {
  const n = model.items.length;
  const scores = new Float64Array(n);
  if (model.form === 'dual') {
    const m = model.users.length;
    const { itemUsers, userItems, dense } = model;
    // a = X h (weighted overlap of every training user with the history), b = K⁻¹ a, c = Xᵀ b
    const a = new Float64Array(m);
    for (let p = 0; p < history.length; p++) {
      const i = history[p]!;
      const w = weights ? weights[p]! : 1;
      for (let e = itemUsers.offsets[i]!; e < itemUsers.offsets[i + 1]!; e++) a[itemUsers.indices[e]!]! += w;
    }
    const b = new Float64Array(m);
    for (let v = 0; v < m; v++) {
      const av = a[v]!;
      if (av === 0) continue;
      const row = v * m;
      for (let w = 0; w < m; w++) b[w]! += av * dense[row + w]!;
    }
    for (let v = 0; v < m; v++) {
      const bv = b[v]!;
      for (let p = userItems.offsets[v]!; p < userItems.offsets[v + 1]!; p++) scores[userItems.indices[p]!]! += bv;
    }
    // score_j = −(h P)_j / P_jj = c_j / (1 − d_j) off the history
    for (let j = 0; j < n; j++) scores[j] = model.diag[j]! > 0 ? scores[j]! / model.diag[j]! : 0;
  } else {
    const { dense, diag } = model;
    for (let p = 0; p < history.length; p++) {
      const row = history[p]! * n;
      const w = weights ? weights[p]! : 1;
      for (let j = 0; j < n; j++) scores[j]! += w * dense[row + j]!;
    }
    for (let j = 0; j < n; j++) scores[j] = -scores[j]! / diag[j]!;
  }
  return scores;
}

/**
 * The liked history row from the history's ratings (NaN: not a rating): 1 for the items rated
 * at least at the mean of the ratings, 0 for the rest; undefined when there is no rating.
 */
export function likedWeights(ratings: readonly number[]): Float64Array | undefined {
  let sum = 0;
  let n = 0;
  for (const v of ratings) if (Number.isFinite(v)) (sum += v), n++;
  if (n === 0) return undefined;
  const mean = sum / n;
  return Float64Array.from(ratings, (v) => (Number.isFinite(v) && v >= mean ? 1 : 0));
}

/**
 * Weights of a history newest first (`times` of engagement, non-increasing): 1 / (1 + k / r)
 * where k is the number of items engaged strictly later (ties share the weight). Undefined when
 * every item has the same time (no order: the weights would all be 1).
 */
export function recencyWeights(times: readonly number[], r: number): Float64Array | undefined {
  const weights = new Float64Array(times.length);
  let k = 0;
  for (let p = 0; p < times.length; p++) {
    if (p > 0 && times[p] !== times[p - 1]) k = p;
    weights[p] = 1 / (1 + k / r);
  }
  return k > 0 ? weights : undefined;
}

/** One pass over the catalogue: the best score, mean and deviation outside the history. */
function scoreStats(scores: Float64Array, inHistory: Uint8Array): ScoreStats {
  let best = -Infinity;
  let sum = 0;
  let sq = 0;
  let count = 0;
  for (let j = 0; j < scores.length; j++) {
    if (inHistory[j]) continue;
    const x = scores[j]!;
    if (x > best) best = x;
    sum += x;
    sq += x * x;
    count++;
  }
  const mean = count > 0 ? sum / count : NaN;
  return { best, mean, sd: count > 1 ? Math.sqrt(Math.max(0, sq / count - mean * mean)) : NaN };
}

/** score, score / best, standard score: three feature columns from `row` on. */
function writeScore(out: Float32Array, row: number, x: number, s: ScoreStats): void {
  out[row] = x;
  out[row + 1] = s.best > 0 ? x / s.best : NaN;
  out[row + 2] = s.sd > 0 ? (x - s.mean) / s.sd : NaN;
}

/**
 * `ease_recent`: the EASE source's recency-weighted list as a candidate source of its own, so the
 * learned fusion (and the heavy ranker's per-source features) weigh it apart from the set scores.
 * It shares the EASE source's model and request memo (no training of its own), and is on exactly
 * when the EASE source is trained and `recencyRank` > 0.
 */
export class EaseRecentSource implements CandidateSource {
  readonly name = 'ease_recent';
  constructor(private readonly ease: EaseSource) {}

  enabled(q: FeedQuery): boolean {
    return this.ease.recentEnabled(q);
  }

  fetch(q: FeedQuery, budget: number): Candidate[] {
    return this.ease.fetchRecent(q, budget, this.name);
  }
}

function binary(m: Csr): Csr {
  m.values.fill(1);
  return m;
}
