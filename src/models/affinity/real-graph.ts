/**
 * The "real graph": a model of the probability that a user interacts with an author in the
 * next day, from the user×author counters of the online state. In-network retrieval ranks the
 * user's follows by it.
 *
 * Features of a (user, author) pair at time t (features/…: all from the state as it was at t):
 * log1p of decayed counts of the user's positive engagements with the author and of
 * impressions of the author's posts, per window; log1p of the long-window count per main
 * engagement type; negative feedback; days since the last engagement; whether the user follows
 * the author, the author follows the user (reciprocity), and the author's own engagement with
 * the user's posts.
 *
 * Training by replay: the log is folded into a fresh state in order; at each day boundary a
 * sample of pairs (follows and pairs with any interaction) is snapshotted, and labelled 1 when
 * the user positively engaged with one of the author's posts during the following day.
 * Logistic regression on standardised features, full-batch Newton steps (IRLS) with an L2
 * penalty: few features, so exact and fast.
 */
import { fitLogistic } from '../linear/logistic.js';
import { userCounterTypes } from '../../features/affinity.js';
import type { EventTypeRegistry } from '../../domain/event-types.js';
import { OnlineState, type StateOptions } from '../../state/online-state.js';
import { LOG_EVENT, type LogChunk, type Store } from '../../store/store.js';

const DAY = 86_400_000;
const MAIN_TYPES = ['click', 'like', 'reply', 'repost', 'share', 'profile_click', 'dwell', 'play', 'rating'];
const NEGATIVE_TYPES = ['not_interested', 'hide', 'report'];

export interface RealGraphOptions {
  /** Day boundaries snapshotted, the most recent ones (default 7). */
  days?: number;
  /** Pairs sampled per boundary (default 50,000). */
  pairsPerDay?: number;
  /** L2 penalty on standardised weights (default 1). */
  l2?: number;
  seed?: number;
}

export interface RealGraphReport {
  examples: number;
  positives: number;
  /** AUC on the last snapshotted day, with the model trained on the earlier days. */
  validationAuc: number;
  features: string[];
}

/** See RealGraphModel.prepare(). */
export interface UserHints {
  user: number;
  state: OnlineState | undefined;
  /** Per event type code (and ENGAGED): whether the user has any entry of it. */
  userTypes: Uint8Array;
  engagedByOthers: boolean;
  hasFollowers: boolean;
}

export class RealGraphModel {
  weights: Float64Array = new Float64Array(0);
  mean: Float64Array = new Float64Array(0);
  scale: Float64Array = new Float64Array(0);
  readonly featureNames: string[];
  private readonly mainCodes: number[];
  private readonly negativeCodes: number[];
  private readonly scratch: Float64Array;
  private readonly windowScratch: Float64Array;
  private readonly hints: UserHints = { user: -1, state: undefined, userTypes: new Uint8Array(0), engagedByOthers: false, hasFollowers: false };

  constructor(types: EventTypeRegistry, windows: number) {
    this.mainCodes = MAIN_TYPES.map((t) => types.code(t)).filter((c) => c >= 0);
    this.negativeCodes = NEGATIVE_TYPES.map((t) => types.code(t)).filter((c) => c >= 0);
    const names: string[] = [];
    for (let w = 0; w < windows; w++) names.push(`engaged_w${w}`);
    for (let w = 0; w < windows; w++) names.push(`impressions_w${w}`);
    for (const c of this.mainCodes) names.push(`${types.name(c)}_long`);
    names.push('negative_long', 'days_since_engaged', 'never_engaged', 'follows', 'followed_back', 'author_engages_user');
    this.featureNames = names;
    this.scratch = new Float64Array(names.length);
    this.windowScratch = new Float64Array(windows);
  }

  get trained(): boolean {
    return this.weights.length === this.featureNames.length + 1;
  }

  /**
   * What the user's own counters say can exist for any of the user's pairs (one request's worth,
   * for predict() over many authors): a (user, author, type) entry exists only if the user's
   * (user, type) entry does, an (author, user, ENGAGED) entry only if someone engaged with the
   * user's posts, and the author follows the user only if the user has followers. Lookups that
   * these rule out are skipped — the features are the same. Valid while the state is unchanged
   * (one synchronous run, e.g. one source's fetch).
   */
  prepare(state: OnlineState, user: number): UserHints {
    const h = this.hints;
    h.user = user;
    h.state = state;
    const types = userCounterTypes(state, user);
    if (h.userTypes.length < types.length) h.userTypes = new Uint8Array(types.length);
    h.userTypes.set(types);
    h.engagedByOthers = state.authorCounts.find(user, 0, state.ENGAGED) >= 0;
    h.hasFollowers = state.followers.size(user) > 0;
    return h;
  }

  /**
   * Features of (user, author) at `now` into `out`. `follows` may say whether the user follows
   * the author when the caller already knows (in-network ranks the user's own follows), which
   * saves a scan of the follow list; `hints` from prepare(state, user) skip lookups that must miss.
   */
  features(state: OnlineState, user: number, author: number, now: number, out: Float64Array = this.scratch, follows?: boolean, hints?: UserHints): Float64Array {
    const t = state.userAuthorCounts;
    const nw = t.windows.length;
    const ws = this.windowScratch;
    const h = hints && hints.user === user && hints.state === state ? hints : undefined;
    const may = (type: number) => h === undefined || h.userTypes[type] === 1;
    let f = 0;
    // One lookup of the pair's ENGAGED entry serves its windows and its last update; without it
    // no positive type has an entry either (every positive event also counts as ENGAGED), so
    // those lookups are skipped — the same values (0) without the hash probes.
    const engagedEntry = may(state.ENGAGED) ? t.find(user, author, state.ENGAGED) : -1;
    if (engagedEntry >= 0) t.entryValues(engagedEntry, now, ws);
    else ws.fill(0);
    for (let w = 0; w < nw; w++) out[f++] = Math.log1p(ws[w]!);
    if (state.impressionType >= 0 && may(state.impressionType)) t.getAll(user, author, state.impressionType, now, ws);
    else ws.fill(0);
    for (let w = 0; w < nw; w++) out[f++] = Math.log1p(ws[w]!);
    const polarity = state.polarity;
    for (const c of this.mainCodes) out[f++] = (engagedEntry < 0 && polarity[c]! > 0) || !may(c) ? 0 : Math.log1p(t.get(user, author, c, nw - 1, now));
    let neg = 0;
    for (const c of this.negativeCodes) neg += (engagedEntry < 0 && polarity[c]! > 0) || !may(c) ? 0 : t.get(user, author, c, nw - 1, now);
    out[f++] = Math.log1p(neg);
    const last = engagedEntry < 0 ? -Infinity : t.entryLast(engagedEntry);
    const never = last === -Infinity;
    out[f++] = never ? 0 : Math.log1p(Math.max(0, now - last) / DAY);
    out[f++] = never ? 1 : 0;
    out[f++] = (follows ?? state.following.has(user, author)) ? 1 : 0;
    out[f++] = (h === undefined || h.hasFollowers) && state.following.has(author, user) ? 1 : 0;
    out[f++] = h === undefined || h.engagedByOthers ? Math.log1p(t.get(author, user, state.ENGAGED, nw - 1, now)) : 0;
    return out;
  }

  /** P(user engages with the author's posts in the next day); `follows` and `hints` as in features(). */
  predict(state: OnlineState, user: number, author: number, now: number, follows?: boolean, hints?: UserHints): number {
    if (!this.trained) return NaN;
    const x = this.features(state, user, author, now, this.scratch, follows, hints);
    let z = this.weights[x.length]!;
    for (let j = 0; j < x.length; j++) z += this.weights[j]! * ((x[j]! - this.mean[j]!) / this.scale[j]!);
    return 1 / (1 + Math.exp(-z));
  }

  /** Trains by replaying the store's log into a fresh state (see the file comment). */
  async train(store: Store, types: EventTypeRegistry, stateOptions: Partial<StateOptions>, options: RealGraphOptions = {}, onProgress?: (done: number, total: number) => void): Promise<RealGraphReport> {
    const days = options.days ?? 7;
    const perDay = options.pairsPerDay ?? 50_000;
    const state = new OnlineState(types, stateOptions);
    for await (const items of store.readItems()) state.applyItems(items);
    const counts = await store.counts();
    // First pass over timestamps is avoided: boundaries are found as the replay goes, and
    // only the last `days` snapshots are kept (a ring of snapshots).
    type Snapshot = { x: Float64Array[]; pairs: Map<number, number>; labels: Uint8Array; boundary: number };
    const snapshots: Snapshot[] = [];
    let pending: Snapshot | undefined;
    let nextBoundary = NaN;
    let rng = (options.seed ?? 42) >>> 0 || 1;
    const random = () => {
      rng ^= rng << 13;
      rng >>>= 0;
      rng ^= rng >>> 17;
      rng ^= rng << 5;
      rng >>>= 0;
      return rng / 4294967296;
    };
    const snapshot = (boundary: number): Snapshot => {
      // Candidate pairs: every follow and every pair with an interaction so far.
      const keys: number[] = [];
      const seen = new Set<number>();
      const addPair = (u: number, a: number) => {
        if (u === a || a < 0) return;
        const key = u * 2_000_000 + a;
        if (!seen.has(key)) {
          seen.add(key);
          keys.push(key);
        }
      };
      for (let u = 0; u <= state.following.maxNode; u++) {
        const f = state.following.get(u);
        for (let k = 0; k < f.length; k++) addPair(u, f[k]!);
      }
      state.userAuthorCounts.forEach((u, a, t) => {
        if (t === state.ENGAGED || t === state.impressionType) addPair(u, a);
      });
      // Sample without replacement.
      for (let i = keys.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [keys[i], keys[j]] = [keys[j]!, keys[i]!];
      }
      if (keys.length > perDay) keys.length = perDay;
      const x: Float64Array[] = [];
      const pairs = new Map<number, number>();
      keys.forEach((key, idx) => {
        const u = Math.floor(key / 2_000_000);
        const a = key - u * 2_000_000;
        x.push(Float64Array.from(this.features(state, u, a, boundary, new Float64Array(this.featureNames.length))));
        pairs.set(key, idx);
      });
      return { x, pairs, labels: new Uint8Array(keys.length), boundary };
    };
    let rows = 0;
    for await (const chunk of store.readLog(0, 65536, false)) {
      let applied = 0;
      for (let r = 0; r < chunk.length; r++) {
        const ts = chunk.ts[r]!;
        if (Number.isNaN(nextBoundary)) nextBoundary = Math.floor(ts / DAY) * DAY + DAY;
        if (ts >= nextBoundary) {
          // Fold everything before this row, then snapshot the state at the boundary.
          state.applyLog(sliceChunk(chunk, applied, r));
          applied = r;
          while (ts >= nextBoundary) {
            if (pending) {
              snapshots.push(pending);
              if (snapshots.length > days) snapshots.shift();
            }
            pending = snapshot(nextBoundary);
            nextBoundary += DAY;
          }
        }
        if (pending && chunk.kind[r] === LOG_EVENT && state.polarity[chunk.type[r]!]! > 0) {
          const author = state.author(chunk.target[r]!);
          if (author >= 0) {
            const idx = pending.pairs.get(chunk.user[r]! * 2_000_000 + author);
            if (idx !== undefined) pending.labels[idx] = 1;
          }
        }
      }
      state.applyLog(sliceChunk(chunk, applied, chunk.length));
      rows += chunk.length;
      onProgress?.(rows, counts.events + counts.edges);
    }
    // (the last, incomplete day is not a training day)
    if (snapshots.length < 2) {
      this.weights = new Float64Array(0);
      return { examples: 0, positives: 0, validationAuc: NaN, features: this.featureNames };
    }
    const trainSet = snapshots.slice(0, -1);
    const valid = snapshots[snapshots.length - 1]!;
    this.fit(trainSet, options.l2 ?? 1);
    const validScores = valid.x.map((x) => this.score(x));
    const validationAuc = auc(validScores, valid.labels);
    // Final model on every day.
    this.fit(snapshots, options.l2 ?? 1);
    let examples = 0;
    let positives = 0;
    for (const s of snapshots) {
      examples += s.x.length;
      for (const l of s.labels) positives += l;
    }
    return { examples, positives, validationAuc, features: this.featureNames };
  }

  private score(x: Float64Array): number {
    let z = this.weights[x.length]!;
    for (let j = 0; j < x.length; j++) z += this.weights[j]! * ((x[j]! - this.mean[j]!) / this.scale[j]!);
    return z;
  }

  /** Standardised L2 logistic regression (models/linear/logistic.ts). */
  private fit(snapshots: { x: Float64Array[]; labels: Uint8Array }[], l2: number): void {
    const xs: Float64Array[] = [];
    const ys: number[] = [];
    for (const s of snapshots) s.x.forEach((x, i) => (xs.push(x), ys.push(s.labels[i]!)));
    const model = fitLogistic(xs, ys, this.featureNames.length, { l2, maxIterations: 12 });
    this.weights = Float64Array.from(model.weights);
    this.mean = Float64Array.from(model.mean);
    this.scale = Float64Array.from(model.scale);
  }

  toJSON(): { features: string[]; weights: number[]; mean: number[]; scale: number[] } {
    return { features: this.featureNames, weights: Array.from(this.weights), mean: Array.from(this.mean), scale: Array.from(this.scale) };
  }

  /** Restores saved parameters; false when they were saved for other features. */
  restore(saved: { features: string[]; weights: number[]; mean: number[]; scale: number[] }): boolean {
    if (saved.features.join(',') !== this.featureNames.join(',')) return false;
    this.weights = Float64Array.from(saved.weights);
    this.mean = Float64Array.from(saved.mean);
    this.scale = Float64Array.from(saved.scale);
    return this.trained;
  }
}

function sliceChunk(c: LogChunk, from: number, to: number): LogChunk {
  return {
    length: to - from,
    seq: c.seq.subarray(from, to),
    kind: c.kind.subarray(from, to),
    user: c.user.subarray(from, to),
    target: c.target.subarray(from, to),
    type: c.type.subarray(from, to),
    ts: c.ts.subarray(from, to),
    value: c.value.subarray(from, to),
    context: c.context.slice(from, to),
  };
}

/** Area under the ROC curve (ties count half). */
export function auc(scores: readonly number[], labels: ArrayLike<number>): number {
  const idx = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let pos = 0;
  let neg = 0;
  let rankSum = 0;
  let i = 0;
  while (i < idx.length) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[idx[k]!]) {
        pos++;
        rankSum += avgRank;
      } else neg++;
    }
    i = j + 1;
  }
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}
