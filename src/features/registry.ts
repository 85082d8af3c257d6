/**
 * The feature registry: every feature the rankers see, defined once over the online state and
 * the candidate's source hits, and used both when serving (rank/heavy-ranker.ts) and when
 * building training sets (train/ranker-dataset.ts) — the training set's features are computed
 * by this same code on a shadow state that holds only what was known before the labels.
 *
 * Features come in families (one object each, below); a family declares its columns from the
 * schema (counter windows, event types, source names) and fills them for a request's
 * candidates into one row-major Float32Array. Broken values never throw and never reach a
 * model as absurd numbers: counts are read as log(1 + max(0, count)); ±Infinity becomes NaN
 * (`sanitize`), which the tree learner treats as "missing"; a creation time in the future gives
 * age 0 and a flag column; a family or provider that throws leaves its columns missing.
 */
import type { Candidate, FeedQuery } from '../pipeline/types.js';
import type { OnlineState } from '../state/online-state.js';
import { ItemCounterRows } from '../state/item-rows.js';
import { authorAffinity, engagementWeights, smoothedRate, TagAffinityProfile, userCounterTypes } from './affinity.js';

/** A source (or model) that can describe any candidate, not only those it proposed. */
export interface CandidateFeatureProvider {
  /** Column names (without prefix), fixed once the provider is trained; [] when it has nothing. */
  featureNames(): readonly string[];
  /** Writes `featureNames().length` values per candidate at out[i·stride + offset + j]; NaN = unknown. */
  candidateFeatures(q: FeedQuery, candidates: readonly Candidate[], out: Float32Array, stride: number, offset: number): void;
}

export function isFeatureProvider<T extends { name: string }>(x: T): x is T & CandidateFeatureProvider {
  const p = x as Partial<CandidateFeatureProvider>;
  return typeof p.featureNames === 'function' && typeof p.candidateFeatures === 'function';
}

/** What the columns depend on: the state's windows and event types, the pipeline's sources. */
export interface FeatureSchemaContext {
  state: OnlineState;
  sources: readonly string[];
  providers: readonly (CandidateFeatureProvider & { name: string })[];
  /** Numeric item attributes read as features (rank.attributeFeatures; kept by the state). */
  attributes?: readonly string[];
}

/** Per-request values shared by all candidates (computed once per request). */
export interface RequestContext {
  q: FeedQuery;
  state: OnlineState;
  user: number;
  now: number;
  tags: TagAffinityProfile;
  weights: Float64Array;
  /** What the registry worked out once from its schema (not per request). */
  fixed: RegistryConstants;
  /** Memo of sameAuthor() for one candidate list. */
  authorRows?: { of: readonly Candidate[]; first: Int32Array; author: number[] };
}

/** Per-registry constants the families read on every request. */
export interface RegistryConstants {
  /** Source name → its column pair. */
  sourceIndex: ReadonlyMap<string, number>;
  /** Event type codes with a negative signal. */
  negativeTypes: readonly number[];
}

export interface FeatureFamily {
  readonly name: string;
  /**
   * A candidate's columns depend on other candidates of the list (e.g. scores relative to the
   * request's best): computed for the whole list only, never deferred to a subset (the
   * heavy ranker's cascade computes the other families for the candidates it keeps).
   */
  readonly acrossCandidates?: boolean;
  /** What the family measures (printed by `lenta train ranker --features`). */
  readonly description: string;
  columns(s: FeatureSchemaContext): string[];
  fill(r: RequestContext, s: FeatureSchemaContext, candidates: readonly Candidate[], out: Float32Array, stride: number, offset: number): void;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function windowLabel(ms: number): string {
  if (ms >= 1e12) return 'all';
  if (ms >= DAY && ms % DAY === 0) return `${ms / DAY}d`;
  if (ms >= HOUR && ms % HOUR === 0) return `${ms / HOUR}h`;
  return `${Math.round(ms / 60_000)}m`;
}

function windowLabels(state: OnlineState): string[] {
  return Array.from(state.userCounts.windows, windowLabel);
}

/** log(1 + count), with a negative or unknown count read as 0. */
function log1p(count: number): number {
  return count > 0 ? Math.log1p(count) : 0;
}

/** Grow-only scratch arrays of the families (fill() runs to completion, so one set serves every registry). */
const scratch = { i32: [new Int32Array(0), new Int32Array(0)], f64: [new Float64Array(0), new Float64Array(0)], authorStamp: new Int32Array(0), authorFirst: new Int32Array(0), stamp: 0 };
/** Authors from this index on (not a dense user index: garbage), or not integers, are tracked in a Map instead. */
const AUTHOR_TABLE_LIMIT = 1 << 22;

function i32Scratch(k: number, n: number): Int32Array {
  if (scratch.i32[k]!.length < n) scratch.i32[k] = new Int32Array(Math.max(n, 2 * scratch.i32[k]!.length));
  return scratch.i32[k]!;
}

function f64Scratch(k: number, n: number): Float64Array {
  if (scratch.f64[k]!.length < n) scratch.f64[k] = new Float64Array(Math.max(n, 2 * scratch.f64[k]!.length));
  return scratch.f64[k]!;
}

/**
 * Per candidate, its author (`author`, or the state's author of the item; −1 unknown) and the
 * first candidate of the list with the same author (`first`, itself for the first). Families
 * whose columns depend only on the author (and the request) compute each author once and copy
 * the row: a request's 1,000 candidates have ~165 authors on the demo platform.
 */
function sameAuthor(r: RequestContext, candidates: readonly Candidate[]): { first: Int32Array; author: number[] } {
  const memo = r.authorRows;
  if (memo && memo.of === candidates) return memo;
  const n = candidates.length;
  const first = new Int32Array(n);
  const author = new Array<number>(n);
  // First candidate per author: a table indexed by author, its entries valid when stamped with
  // this call's stamp (no clearing between calls).
  scratch.stamp = (scratch.stamp + 1) | 0;
  if (scratch.stamp === 0) {
    scratch.authorStamp.fill(0);
    scratch.stamp = 1;
  }
  const stamp = scratch.stamp;
  let far: Map<number, number> | undefined;
  let unknown = -1;
  for (let i = 0; i < n; i++) {
    const c = candidates[i]!;
    const a = c.author >= 0 ? c.author : r.state.author(c.item);
    author[i] = a;
    first[i] = i;
    if (a < 0) {
      // Unknown authors all get NaN columns: they share them too.
      if (unknown < 0) unknown = i;
      else first[i] = unknown;
    } else if (!(a < AUTHOR_TABLE_LIMIT && a === (a | 0))) {
      far ??= new Map();
      const j = far.get(a);
      if (j === undefined) far.set(a, i);
      else first[i] = j;
    } else {
      if (a >= scratch.authorStamp.length) {
        const size = Math.min(AUTHOR_TABLE_LIMIT, Math.max(a + 1, 2 * scratch.authorStamp.length, 1024));
        const stamps = new Int32Array(size);
        stamps.set(scratch.authorStamp);
        scratch.authorStamp = stamps;
        const firsts = new Int32Array(size);
        firsts.set(scratch.authorFirst);
        scratch.authorFirst = firsts;
      }
      if (scratch.authorStamp[a] === stamp) first[i] = scratch.authorFirst[a]!;
      else {
        scratch.authorStamp[a] = stamp;
        scratch.authorFirst[a] = i;
      }
    }
  }
  r.authorRows = { of: candidates, first, author };
  return r.authorRows;
}

/** Copies `width` columns from offset `from` to offset `to` of the same Float32Array (a row computed earlier). */
function copyColumns(out: Float32Array, from: number, to: number, width: number): void {
  for (let k = 0; k < width; k++) out[to + k] = out[from + k]!;
}

/**
 * The candidate sources: rank and score in each (NaN when the source did not propose it), how
 * many proposed it, the light ranker's score. A score is relative to the source's best score in
 * the request (score / max |score|): raw scales drift with the size of the user's history and
 * the model's training data, which would make a tree's thresholds wrong for the next model.
 */
const sourceFamily: FeatureFamily = {
  name: 'source',
  acrossCandidates: true,
  description: "per source: rank of the candidate in that source and its score relative to the source's best in the request (missing when not proposed); number of sources; the light ranker (fusion) score relative to the request's best and the candidate's position in its order (the fine order at the top, which quantile bins of a score would blur)",
  columns: (s) => [...s.sources.flatMap((n) => [`src_${n}_rank`, `src_${n}_score`]), 'src_count', 'fusion_score', 'light_rank'],
  fill(r, s, candidates, out, stride, offset) {
    const ns = s.sources.length;
    const index = r.fixed.sourceIndex;
    const top = new Float64Array(ns);
    // Each hit is read once, with its source's column looked up once, into flat arrays (column,
    // rank, score): hits are small objects spread over the heap, so reading one mostly waits
    // for memory, and the second pass below reads the arrays instead.
    const n = candidates.length;
    let hits = 0;
    for (let i = 0; i < n; i++) hits += candidates[i]!.sources.length;
    const hitStart = i32Scratch(0, n + 1);
    const hitK = i32Scratch(1, hits);
    const hitRank = f64Scratch(0, hits);
    const hitScore = f64Scratch(1, hits);
    let fusionTop = 0;
    let at = 0;
    for (let i = 0; i < n; i++) {
      const c = candidates[i]!;
      const sources = c.sources;
      hitStart[i] = at;
      for (let j = 0; j < sources.length; j++) {
        const h = sources[j]!;
        const k = index.get(h.source);
        const score = h.score;
        hitK[at] = k ?? -1;
        hitRank[at] = h.rank;
        hitScore[at] = score;
        at++;
        if (k !== undefined && Math.abs(score) > top[k]!) top[k] = Math.abs(score);
      }
      if (Math.abs(c.score) > fusionTop) fusionTop = Math.abs(c.score);
    }
    hitStart[n] = at;
    for (let i = 0; i < n; i++) {
      const c = candidates[i]!;
      const row = i * stride + offset;
      for (let k = 0; k < 2 * ns; k++) out[row + k] = NaN;
      for (let j = hitStart[i]!; j < hitStart[i + 1]!; j++) {
        const k = hitK[j]!;
        if (k < 0) continue;
        out[row + 2 * k] = hitRank[j]!;
        out[row + 2 * k + 1] = top[k]! > 0 ? hitScore[j]! / top[k]! : hitScore[j]!;
      }
      out[row + 2 * ns] = hitStart[i + 1]! - hitStart[i]!;
      out[row + 2 * ns + 1] = fusionTop > 0 ? c.score / fusionTop : c.score;
      out[row + 2 * ns + 2] = c.lightRank ?? NaN;
    }
  },
};


/** The item: engagement and impression counts per window, smoothed engagement rates, per-type counts, age. */
const itemFamily: FeatureFamily = {
  name: 'item',
  description: 'the item: engagements, impressions and smoothed engagement rate per counter window; each signal type over the longest window; age in hours (flag when its time is in the future)',
  columns: (s) => {
    const w = windowLabels(s.state);
    const types = s.state.signalTypes.map((t) => `item_${s.state.types.name(t)}_${w[w.length - 1]}`);
    return [...w.map((x) => `item_engaged_${x}`), ...w.map((x) => `item_impressions_${x}`), ...w.map((x) => `item_rate_${x}`), ...types, 'item_age_hours', 'item_age_future'];
  },
  fill(r, _s, candidates, out, stride, offset) {
    const st = r.state;
    // Each post's counters in one read (state/item-rows.ts: a row per post, cached until its next event).
    const rows = ItemCounterRows.of(st);
    const nw = rows.nw;
    const k = rows.types.length;
    const v = new Float64Array(rows.width);
    for (let i = 0; i < candidates.length; i++) {
      const item = candidates[i]!.item;
      const row = i * stride + offset;
      rows.read(item, r.now, v);
      for (let w = 0; w < nw; w++) {
        const eng = v[w]!;
        const imp = v[nw + w]!;
        out[row + w] = log1p(eng);
        out[row + nw + w] = log1p(imp);
        out[row + 2 * nw + w] = smoothedRate(eng, imp);
      }
      let p = row + 3 * nw;
      for (let j = 0; j < k; j++) out[p++] = log1p(v[2 * nw + j]!);
      const created = st.createdAt(item);
      const age = (r.now - created) / HOUR;
      out[p++] = Number.isFinite(age) ? Math.max(0, age) : NaN;
      out[p] = age < 0 ? 1 : 0;
    }
  },
};

/** The item's author: engagement counts per window, followers, engagement rate. */
const authorFamily: FeatureFamily = {
  name: 'author',
  description: "the item's author: engagements per window, follower count, smoothed engagement rate over the longest window",
  columns: (s) => [...windowLabels(s.state).map((x) => `author_engaged_${x}`), 'author_followers', 'author_rate'],
  fill(r, _s, candidates, out, stride, offset) {
    const st = r.state;
    const table = st.authorCounts;
    const nw = table.windows.length;
    const eng = new Float64Array(nw);
    const { first, author: authors } = sameAuthor(r, candidates);
    for (let i = 0; i < candidates.length; i++) {
      const author = authors[i]!;
      const row = i * stride + offset;
      if (first[i] !== i) {
        copyColumns(out, first[i]! * stride + offset, row, nw + 2);
        continue;
      }
      if (author < 0) {
        for (let k = 0; k < nw + 2; k++) out[row + k] = NaN;
        continue;
      }
      table.getAll(author, 0, st.ENGAGED, r.now, eng);
      for (let w = 0; w < nw; w++) out[row + w] = log1p(eng[w]!);
      out[row + nw] = log1p(st.followers.size(author));
      const shown = st.impressionType >= 0 ? table.get(author, 0, st.impressionType, nw - 1, r.now) : 0;
      out[row + nw + 1] = smoothedRate(eng[nw - 1]!, shown);
    }
  },
};

/** The requesting user: activity per window, follows, history size (the same for every candidate of a request). */
const userFamily: FeatureFamily = {
  name: 'user',
  description: 'the requesting user: engagements and impressions per window, accounts followed, engagements kept in history',
  columns: (s) => {
    const w = windowLabels(s.state);
    return [...w.map((x) => `user_engaged_${x}`), ...w.map((x) => `user_impressions_${x}`), 'user_following', 'user_history'];
  },
  fill(r, _s, candidates, out, stride, offset) {
    const st = r.state;
    const nw = st.userCounts.windows.length;
    const values = new Float32Array(2 * nw + 2).fill(NaN);
    if (r.user >= 0) {
      const eng = new Float64Array(nw);
      const imp = new Float64Array(nw);
      st.userCounts.getAll(r.user, 0, st.ENGAGED, r.now, eng);
      if (st.impressionType >= 0) st.userCounts.getAll(r.user, 0, st.impressionType, r.now, imp);
      for (let w = 0; w < nw; w++) {
        values[w] = log1p(eng[w]!);
        values[nw + w] = log1p(imp[w]!);
      }
      values[2 * nw] = log1p(st.following.size(r.user));
      values[2 * nw + 1] = log1p(st.history.size(r.user));
    }
    for (let i = 0; i < candidates.length; i++) out.set(values, i * stride + offset);
  },
};

/** User × author: engagement per window, negative feedback, days since the last interaction, follow edges, affinity. */
const userAuthorFamily: FeatureFamily = {
  name: 'user_author',
  description: 'user × author: engagements per window, negative feedback (longest window), days since the last engagement, follows the author, followed back by the author, weighted affinity',
  columns: (s) => [...windowLabels(s.state).map((x) => `ua_engaged_${x}`), 'ua_negative', 'ua_days_since', 'ua_follows', 'ua_followed_by', 'ua_affinity'],
  fill(r, _s, candidates, out, stride, offset) {
    const st = r.state;
    const table = st.userAuthorCounts;
    const nw = table.windows.length;
    // A (user, author, type) counter exists only if the user's own (user, type) one does: types
    // the user never gave are not looked up (most users have no negative feedback at all).
    const has = r.user >= 0 ? userCounterTypes(st, r.user) : undefined;
    const negatives = has ? r.fixed.negativeTypes.filter((t) => has[t] === 1) : r.fixed.negativeTypes;
    const engagedKnown = has !== undefined && has[st.ENGAGED] === 1;
    const eng = new Float64Array(nw);
    const { first, author: authors } = sameAuthor(r, candidates);
    for (let i = 0; i < candidates.length; i++) {
      const author = authors[i]!;
      const row = i * stride + offset;
      if (first[i] !== i) {
        copyColumns(out, first[i]! * stride + offset, row, nw + 5);
        continue;
      }
      if (author < 0 || r.user < 0) {
        for (let k = 0; k < nw + 5; k++) out[row + k] = NaN;
        continue;
      }
      // One lookup of the ENGAGED entry for its windows and its last update.
      const e = engagedKnown ? table.find(r.user, author, st.ENGAGED) : -1;
      if (e >= 0) table.entryValues(e, r.now, eng);
      else eng.fill(0);
      for (let w = 0; w < nw; w++) out[row + w] = log1p(eng[w]!);
      let neg = 0;
      for (const t of negatives) neg += table.get(r.user, author, t, nw - 1, r.now);
      out[row + nw] = log1p(neg);
      out[row + nw + 1] = e >= 0 ? Math.max(0, r.now - table.entryLast(e)) / DAY : NaN;
      out[row + nw + 2] = st.following.has(r.user, author) ? 1 : 0;
      out[row + nw + 3] = st.following.has(author, r.user) ? 1 : 0;
      out[row + nw + 4] = authorAffinity(st, r.weights, r.user, author, r.now, engagedKnown ? e : -1);
    }
  },
};

/** User × topic: the share of the user's engagement that went to the item's tags. */
const topicFamily: FeatureFamily = {
  name: 'topic',
  description: "user × tag: the share of the user's engagements on the item's tags (longest window); the item's number of tags",
  columns: () => ['tag_affinity', 'tag_count'],
  fill(r, _s, candidates, out, stride, offset) {
    for (let i = 0; i < candidates.length; i++) {
      const tags = r.state.tags(candidates[i]!.item);
      out[i * stride + offset] = r.tags.affinity(tags);
      out[i * stride + offset + 1] = tags ? tags.length : 0;
    }
  },
};

/**
 * Numeric item attributes (rank.attributeFeatures): per attribute the item's value and its
 * difference from the mean value over the user's positive history items that have one (NaN
 * without such items). An attribute the state does not keep gives missing columns.
 */
const attributeFamily: FeatureFamily = {
  name: 'attribute',
  description: "numeric item attributes (rank.attributeFeatures): the item's value, and that value less the mean over the user's positive history",
  columns: (s) => (s.attributes ?? []).flatMap((a) => [`attr_${a}`, `attr_${a}_diff`]),
  fill(r, s, candidates, out, stride, offset) {
    const state = r.state;
    const cols = (s.attributes ?? []).map((name) => state.numberColumn(name));
    // The history's mean per attribute, in one walk.
    const sum = new Float64Array(cols.length);
    const count = new Float64Array(cols.length);
    if (r.user >= 0 && cols.some((c) => c >= 0)) {
      state.history.forEachRecent(r.user, (item, type) => {
        if (!(state.polarity[type]! > 0)) return;
        for (let k = 0; k < cols.length; k++) {
          const v = cols[k]! >= 0 ? state.numberAt(cols[k]!, item) : NaN;
          if (Number.isFinite(v)) (sum[k]! += v), count[k]!++;
        }
      });
    }
    cols.forEach((col, k) => {
      const at = offset + 2 * k;
      const mean = count[k]! > 0 ? sum[k]! / count[k]! : NaN;
      for (let i = 0; i < candidates.length; i++) {
        const v = col >= 0 ? state.numberAt(col, candidates[i]!.item) : NaN;
        out[i * stride + at] = v;
        out[i * stride + at + 1] = v - mean;
      }
    });
  },
};

/** Model similarities for every candidate, from the sources that provide them (embedding dot product, EASE score, …). */
const providerFamily: FeatureFamily = {
  name: 'model',
  description: 'similarities computed for every candidate by trained sources that provide them (e.g. the embedding dot product, the EASE score, co-engagement similarity)',
  columns: (s) => s.providers.flatMap((p) => p.featureNames().map((n) => `${p.name}_${n}`)),
  fill(r, s, candidates, out, stride, offset) {
    let o = offset;
    for (const p of s.providers) {
      const width = p.featureNames().length;
      if (width === 0) continue;
      try {
        p.candidateFeatures(r.q, candidates, out, stride, o);
      } catch {
        // A provider that fails leaves its columns missing: the ranker still ranks.
        for (let i = 0; i < candidates.length; i++) for (let j = 0; j < width; j++) out[i * stride + o + j] = NaN;
      }
      o += width;
    }
  },
};

/**
 * The slot a training row was shown in, log(1 + slot): reactions depend on the position on the
 * page, and a model that knows it can tell the post's appeal from its slot. Serving asks for
 * slot 0 (the probabilities of a post shown at the top), so every candidate is scored alike.
 */
const slotFamily: FeatureFamily = {
  name: 'slot',
  description: 'log(1 + slot the post was shown in) for training rows from impressions (missing when the impression did not say); 0 when serving and for catalogue rows',
  columns: () => ['slot'],
  fill(_r, _s, candidates, out, stride, offset) {
    for (let i = 0; i < candidates.length; i++) {
      const p = candidates[i]!.position;
      out[i * stride + offset] = p === undefined ? 0 : p >= 0 ? Math.log1p(p) : NaN;
    }
  },
};

/** Every family, in column order. */
export const FEATURE_FAMILIES: readonly FeatureFamily[] = [sourceFamily, itemFamily, authorFamily, userFamily, userAuthorFamily, topicFamily, attributeFamily, providerFamily, slotFamily];

/**
 * The columns of one pipeline (its state's windows and types, its sources and providers), and
 * the function that fills them for a request's candidates.
 */
export class FeatureRegistry {
  readonly names: readonly string[];
  /** Families with their first column and width. */
  readonly layout: readonly { family: FeatureFamily; offset: number; width: number }[];
  private readonly schema: FeatureSchemaContext;
  /** Non-finite values turned into missing since the registry was made. */
  repaired = 0;
  private readonly fixed: RegistryConstants;
  private readonly weights: Float64Array;

  constructor(schema: FeatureSchemaContext, families: readonly FeatureFamily[] = FEATURE_FAMILIES) {
    this.schema = schema;
    const names: string[] = [];
    const layout: { family: FeatureFamily; offset: number; width: number }[] = [];
    for (const family of families) {
      const cols = family.columns(schema);
      layout.push({ family, offset: names.length, width: cols.length });
      names.push(...cols);
    }
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) throw new Error(`feature registry: duplicate feature name "${dup}"`);
    this.names = names;
    this.layout = layout;
    const state = schema.state;
    this.fixed = {
      sourceIndex: new Map(schema.sources.map((n, i) => [n, i])),
      negativeTypes: state.signalTypes.filter((t) => state.polarity[t]! < 0),
    };
    this.weights = engagementWeights(state);
  }

  get width(): number {
    return this.names.length;
  }

  /** The per-request context: the user's tag profile and the affinity weights. */
  request(q: FeedQuery): RequestContext {
    const state = q.state;
    return { q, state, user: q.user, now: q.now, tags: new TagAffinityProfile(state, q.user, q.now), weights: this.weights, fixed: this.fixed };
  }

  /**
   * Features of the candidates, row-major (candidate i's features at [i·width, (i+1)·width)).
   * `out` is reused when large enough. Never throws for data: a family that fails leaves its
   * columns missing. `familyMs` (benchmarks): each family's time is added at its index in `layout`.
   * `only` (per family of `layout`, 1 = compute): the other families' columns are left as they
   * are in `out` (to fill them later, e.g. for a subset: FeatureFamily.acrossCandidates).
   */
  compute(q: FeedQuery, candidates: readonly Candidate[], out?: Float32Array, familyMs?: Float64Array, only?: Uint8Array): Float32Array {
    const d = this.names.length;
    const need = candidates.length * d;
    const buf = out && out.length >= need ? out.subarray(0, need) : new Float32Array(need);
    const r = this.request(q);
    for (let k = 0; k < this.layout.length; k++) {
      const { family, offset, width } = this.layout[k]!;
      if (width === 0 || (only && only[k] !== 1)) continue;
      const start = familyMs ? performance.now() : 0;
      try {
        family.fill(r, this.schema, candidates, buf, d, offset);
      } catch {
        for (let i = 0; i < candidates.length; i++) buf.fill(NaN, i * d + offset, i * d + offset + width);
      }
      if (familyMs) familyMs[k]! += performance.now() - start;
    }
    this.sanitize(buf, candidates.length);
    return buf;
  }

  /** ±Infinity becomes missing (NaN) — counts were already clamped at 0 by their families. */
  sanitize(buf: Float32Array, rows: number): void {
    const n = rows * this.names.length;
    // On the bits: ±Infinity are the float32s with all exponent bits set and no mantissa bits
    // (an integer compare per value, ~2× faster than reading each as a double).
    const bits = new Int32Array(buf.buffer, buf.byteOffset, n);
    for (let i = 0; i < n; i++) {
      if ((bits[i]! & 0x7fffffff) === 0x7f800000) {
        buf[i] = NaN;
        this.repaired++;
      }
    }
  }

  /**
   * Per column, 1 unless it belongs to one of `families` (by name): the columns a cascade's first
   * pass may read when those families are deferred. Throws, naming `field`, for an unknown family
   * or one whose columns depend on the other candidates (it cannot be computed for a subset).
   */
  columnsWithout(families: readonly string[], field: string): Uint8Array {
    const allowed = new Uint8Array(this.width).fill(1);
    for (const name of families) {
      const at = this.layout.find((l) => l.family.name === name);
      if (!at) throw new Error(`${field}: unknown feature family "${name}" (known: ${this.layout.map((l) => l.family.name).join(', ')})`);
      if (at.family.acrossCandidates) throw new Error(`${field}: the family "${name}" depends on the whole candidate list and cannot be deferred`);
      allowed.fill(0, at.offset, at.offset + at.width);
    }
    return allowed;
  }

  /** One line per family: name, columns, what it measures. */
  describe(): { family: string; columns: number; description: string; names: string[] }[] {
    return this.layout.map(({ family, offset, width }) => ({ family: family.name, columns: width, description: family.description, names: this.names.slice(offset, offset + width) }));
  }
}
