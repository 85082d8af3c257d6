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
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { allocateDense, invertSpd } from '../models/linalg.js';
import { csrFromCoordinates, mergeDuplicates, transpose, type Csr } from '../models/csr.js';
import type { TopK } from '../models/top-k.js';
import { candidatesFromTopK, heapFor, servable } from './ranked.js';
import type { Candidate, FeedQuery, SourceTrainingContext, TrainableSource } from '../pipeline/types.js';
import { readPositives } from './communities.js';
import type { CandidateFeatureProvider } from '../features/registry.js';
import { fillMissing, RequestMemo } from './request-memo.js';

export interface EaseSourceOptions {
  lambda: number;
  /** Largest side of the dense matrix (users in the dual form, items in the primal form). */
  maxDim: number;
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
const EASE_FEATURES: readonly string[] = Object.freeze(['score', 'rel', 'z']);

/** One request's scores of every trained item. */
interface UserScores {
  /** Per compact item. */
  scores: Float64Array;
  inHistory: Uint8Array;
  /** Items in the history ring (any polarity): never proposed. */
  blocked: Set<number>;
  /** Outside the history: the best score, the mean and the standard deviation (when the features ask). */
  best?: number;
  mean?: number;
  sd?: number;
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
    this.options = { lambda: 500, maxDim: 3000, ...options };
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
    const model = this.model;
    if (!model || q.user < 0 || budget <= 0) return [];
    const u = this.userScores(q, model);
    if (!u) return [];
    const { scores, inHistory, blocked } = u;
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
    return candidatesFromTopK(top, this.name, q);
  }

  /**
   * Feature columns (CandidateFeatureProvider): for every candidate, its EASE score for the user
   * (`score`, the same number fetch() ranks by), that score over the user's best score outside
   * the history (`rel`), and its standard score among the user's scores of every item outside
   * the history (`z`). `rel` and `z` do not depend on the scale of the scores, which grows with
   * the size of the training data and of the history (the ranker learns on a shadow trained on
   * less). The scores come from fetch() when it ran in the same request; else the user is
   * scored here. NaN for a user without a trained history item and for items the model does
   * not know. Empty when the source is off.
   */
  featureNames(): readonly string[] {
    return this.model ? EASE_FEATURES : [];
  }

  candidateFeatures(q: FeedQuery, candidates: readonly Candidate[], out: Float32Array, stride: number, offset: number): void {
    const model = this.model;
    const u = model && q.user >= 0 ? this.userScores(q, model) : undefined;
    if (!model || !u) return fillMissing(out, candidates.length, stride, offset, EASE_FEATURES.length);
    const { scores, inHistory } = u;
    if (u.best === undefined) {
      // One pass over the catalogue per request: the best score, mean and deviation outside the history.
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
      u.best = best;
      u.mean = mean;
      u.sd = count > 1 ? Math.sqrt(Math.max(0, sq / count - mean * mean)) : NaN;
    }
    const { best, mean, sd } = u as Required<UserScores>;
    const compact = this.compactItemOf;
    for (let i = 0; i < candidates.length; i++) {
      const item = candidates[i]!.item;
      const row = i * stride + offset;
      const c = item >= 0 && item < compact.length ? compact[item]! : -1;
      if (c < 0) {
        out[row] = out[row + 1] = out[row + 2] = NaN;
        continue;
      }
      const x = scores[c]!;
      out[row] = x;
      out[row + 1] = best > 0 ? x / best : NaN;
      out[row + 2] = sd > 0 ? (x - mean) / sd : NaN;
    }
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
    // The user's positive history (compact ids, distinct); any history item is never proposed.
    const history: number[] = [];
    const inHistory = new Uint8Array(n);
    const blocked = new Set<number>();
    state.history.forEachRecent(q.user, (item, type) => {
      blocked.add(item);
      if (!(state.polarity[type]! > 0)) return;
      const c = item < this.compactItemOf.length ? this.compactItemOf[item]! : -1;
      if (c >= 0 && !inHistory[c]) (inHistory[c] = 1), history.push(c);
    });
    if (history.length === 0) {
      this.memo.set(q, model, null);
      return undefined;
    }
    const scores = new Float64Array(n);
    if (model.form === 'dual') {
      const m = model.users.length;
      const { itemUsers, userItems, dense } = model;
      // a = X h (overlap of every training user with the history), b = K⁻¹ a, c = Xᵀ b
      const a = new Float64Array(m);
      for (const i of history) for (let p = itemUsers.offsets[i]!; p < itemUsers.offsets[i + 1]!; p++) a[itemUsers.indices[p]!]! += 1;
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
      for (const i of history) {
        const row = i * n;
        for (let j = 0; j < n; j++) scores[j]! += dense[row + j]!;
      }
      for (let j = 0; j < n; j++) scores[j] = -scores[j]! / diag[j]!;
    }
    return this.memo.set(q, model, { scores, inHistory, blocked }) ?? undefined;
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
    if (header.format !== FORMAT || header.version !== VERSION || JSON.stringify(header.options) !== JSON.stringify(this.options)) return false;
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

function binary(m: Csr): Csr {
  m.values.fill(1);
  return m;
}
