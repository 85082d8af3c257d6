/**
 * Turning a source's bounded top-k (models/top-k.ts) into candidates: best first, each with
 * the source's score and 1-based rank. Sources score into typed arrays and a heap, and only the
 * `budget` kept items become objects — no per-item allocation on the scanned pool.
 */
import { TopK } from '../models/top-k.js';
import type { TagAffinityProfile } from '../features/affinity.js';
import type { OnlineState } from '../state/online-state.js';
import { makeCandidate, type Candidate, type FeedQuery } from '../pipeline/types.js';

/** A reusable heap of capacity `budget` (a new one when the budget changes). */
export function heapFor(current: TopK | undefined, budget: number, floor = 0): TopK {
  if (current && current.k === budget && current.floor === floor) {
    current.reset();
    return current;
  }
  return new TopK(budget, floor);
}

/**
 * Keeps the best `heap.k` of the first `n` (id, score) pairs, in place and best first (ties to
 * the smaller id: the heap keeps ~id), through a reused bounded heap instead of a full sort;
 * returns how many are kept. With no more than `heap.k` pairs they stay as they are.
 */
export function keepBest(heap: TopK, ids: Int32Array, scores: Float64Array, n: number): number {
  if (n <= heap.k) return n;
  heap.reset();
  for (let i = 0; i < n; i++) heap.push(~ids[i]!, scores[i]!);
  const kept = heap.drainSorted();
  for (let i = 0; i < kept; i++) {
    ids[i] = ~heap.outItems[i]!;
    scores[i] = heap.outScores[i]!;
  }
  return kept;
}

/** The request may serve `item`: not excluded, seen or served, not the user's own post or a hidden author's. */
export function servable(q: FeedQuery, item: number): boolean {
  if (q.exclude.has(item) || q.seen.has(item) || q.served.has(item)) return false;
  const author = q.state.author(item);
  return !(author >= 0 && (author === q.user || (q.user >= 0 && requestLookups.forQuery(q).hides(author))));
}

/**
 * Per-request lookups that several sources need, built once per request (the first source that
 * asks) on generation-stamped typed arrays reused across requests: the user's history items
 * (any polarity: never proposed back) and the accounts the user follows (a candidate's
 * `inNetwork`). A request is recognised by its FeedQuery object (and the state's event and edge
 * counts, so a query reused after the state changed is rebuilt); a source calls `forQuery(q)`
 * before a run of lookups (requests never interleave inside a synchronous run).
 */
export class RequestLookups {
  private q: FeedQuery | undefined;
  private events = -1;
  private edges = -1;
  private gen = 0;
  private historyStamp: Uint32Array<ArrayBuffer> = new Uint32Array(0);
  private followStamp: Uint32Array<ArrayBuffer> = new Uint32Array(0);
  private historyGen = 0;
  private followGen = 0;
  private historyCount = 0;
  private hidesGen = 0;
  private hidesAny = false;
  /** A bit per hash of the history items (a Bloom filter with one hash). */
  private readonly historyBits = new Int32Array(128);

  forQuery(q: FeedQuery): this {
    if (this.q !== q || this.events !== q.state.events || this.edges !== q.state.edgeRecords) {
      this.q = q;
      this.events = q.state.events;
      this.edges = q.state.edgeRecords;
      if (++this.gen === 0xffffffff) {
        this.historyStamp.fill(0);
        this.followStamp.fill(0);
        this.historyGen = this.followGen = this.hidesGen = 0;
        this.gen = 1;
      }
    }
    return this;
  }

  /** Whether `item` is in the user's history ring (any polarity). */
  inHistory(item: number): boolean {
    if (this.historyGen !== this.gen) this.buildHistory();
    // A 4096-bit filter of the history (≤ a few hundred items) answers most misses from L1,
    // without touching the item-sized stamp array.
    const h = Math.imul(item, 0x9e3779b1) >>> 20;
    if ((this.historyBits[h >>> 5]! & (1 << (h & 31))) === 0) return false;
    return item < this.historyStamp.length && this.historyStamp[item] === this.gen;
  }

  /** Whether the user follows `author`. */
  follows(author: number): boolean {
    if (this.followGen !== this.gen) this.buildFollows();
    return author >= 0 && author < this.followStamp.length && this.followStamp[author] === this.gen;
  }

  /** state.hidesAuthor(user, author), without its three lookups when the user mutes, blocks and is blocked by no one. */
  hides(author: number): boolean {
    const q = this.q!;
    if (this.hidesGen !== this.gen) {
      this.hidesGen = this.gen;
      const s = q.state;
      this.hidesAny = q.user >= 0 && (s.muting.size(q.user) > 0 || s.blocking.size(q.user) > 0 || s.blockedBy.size(q.user) > 0);
    }
    return this.hidesAny && q.state.hidesAuthor(q.user, author);
  }

  /** Distinct history items (builds the history lookup). */
  historySize(): number {
    if (this.historyGen !== this.gen) this.buildHistory();
    return this.historyCount;
  }

  private buildHistory(): void {
    const q = this.q!;
    const gen = this.gen;
    this.historyGen = gen;
    this.historyCount = 0;
    this.historyBits.fill(0);
    if (q.user < 0) return;
    const ring = q.state.history;
    const size = ring.size(q.user);
    if (size === 0) return;
    const values = ring.valuesOf(q.user);
    const at = ring.base(q.user);
    let max = -1;
    for (let k = at; k < at + size; k++) if (values[k]! > max) max = values[k]!;
    if (max >= this.historyStamp.length) this.historyStamp = grown(this.historyStamp, Math.max(max + 1, q.state.items));
    const stamp = this.historyStamp;
    for (let k = at; k < at + size; k++) {
      const item = values[k]!;
      if (item >= 0 && stamp[item] !== gen) {
        stamp[item] = gen;
        this.historyCount++;
        const h = Math.imul(item, 0x9e3779b1) >>> 20;
        this.historyBits[h >>> 5]! |= 1 << (h & 31);
      }
    }
  }

  private buildFollows(): void {
    const q = this.q!;
    const gen = this.gen;
    this.followGen = gen;
    if (q.user < 0) return;
    const follows = q.state.following.get(q.user);
    let max = -1;
    for (let k = 0; k < follows.length; k++) if (follows[k]! > max) max = follows[k]!;
    if (max >= this.followStamp.length) this.followStamp = grown(this.followStamp, max + 1);
    const stamp = this.followStamp;
    for (let k = 0; k < follows.length; k++) if (follows[k]! >= 0) stamp[follows[k]!] = gen;
  }
}

/** A set of dense non-negative ids on a generation-stamped array, emptied in O(1) and reused. */
export class StampedSet {
  private stamps: Uint32Array<ArrayBuffer> = new Uint32Array(0);
  private gen = 0;

  /** Empties the set (ids below `n` expected; larger ones grow it). */
  begin(n: number): this {
    if (n > this.stamps.length) {
      this.stamps = grown(this.stamps, n);
      this.gen = 0;
    }
    if (++this.gen === 0xffffffff) {
      this.stamps.fill(0);
      this.gen = 1;
    }
    return this;
  }

  /** Adds `id`; false when it was already in the set. */
  mark(id: number): boolean {
    if (id >= this.stamps.length) {
      const next = grown(this.stamps, id + 1);
      next.set(this.stamps);
      this.stamps = next;
    }
    if (this.stamps[id] === this.gen) return false;
    this.stamps[id] = this.gen;
    return true;
  }
}

/** A stamp array of at least `n` entries (zeros: stamps of no generation). */
function grown(a: Uint32Array, n: number): Uint32Array<ArrayBuffer> {
  return new Uint32Array(Math.max(n, a.length * 2, 1024));
}

/** The lookups of the request being served (shared by the sources of one process). */
export const requestLookups = new RequestLookups();

export function candidatesFromTopK(top: TopK, source: string, q: FeedQuery): Candidate[] {
  const n = top.drainSorted();
  const state = q.state;
  const lookups = requestLookups.forQuery(q);
  const out: Candidate[] = new Array(n);
  for (let r = 0; r < n; r++) {
    const item = top.outItems[r]!;
    const score = top.outScores[r]!;
    const author = state.author(item);
    out[r] = makeCandidate(item, author, q.user >= 0 && author >= 0 && lookups.follows(author), { source, score, rank: r + 1 }, score);
  }
  return out;
}

/** When a source's shared pool (popular, fresh) was built, and its rebuild limits. */
export interface PoolStamp {
  builtAt: number;
  /** Positive engagements the state had applied (impressions do not count: every served page logs ~20). */
  engagements: number;
  itemCount: number;
  now: number;
}

export interface PoolLimits {
  /** Wall time (ms), new positive engagements and new items after which the pool is rebuilt. */
  refreshMs: number;
  refreshEngagements: number;
  refreshItems: number;
}

export function poolStamp(state: OnlineState, now: number): PoolStamp {
  return { builtAt: performance.now(), engagements: state.engagements, itemCount: state.items, now };
}

/** The pool may still serve a request at `now` (a clock more than a minute away, or going back, rebuilds it). */
export function poolCurrent(p: PoolStamp | undefined, state: OnlineState, now: number, limits: PoolLimits): boolean {
  return (
    p !== undefined &&
    performance.now() - p.builtAt < limits.refreshMs &&
    state.engagements - p.engagements < limits.refreshEngagements &&
    state.items - p.itemCount < limits.refreshItems &&
    now >= p.now &&
    now - p.now < 60_000
  );
}

/**
 * The tags of a pool's items (popular, fresh), each as an index into the pool's distinct tags,
 * so that a request asks the user's tag affinity once per distinct tag instead of once per
 * (item, tag). `affinity(k)` equals `profile.affinity(state.tags(item))` exactly (same sum in the
 * same order); an item whose tags changed since the pool was built is asked directly.
 */
export class PoolTags {
  /** Per pool position: its tags are local[offsets[k]..offsets[k+1]). */
  private readonly offsets: Int32Array;
  private readonly local: Int32Array;
  /** Global tag id per local tag. */
  private readonly tagIds: Int32Array;
  /** The tag array each item had at build time (changed tags are detected by identity). */
  private readonly arrays: (Int32Array | undefined)[];
  private readonly shares: Float64Array;
  private readonly one = new Int32Array(1);
  private profile: TagAffinityProfile | undefined;
  /** The state's tagEdits at build time: while equal, no item's tags changed. */
  private readonly tagEdits: number;
  /** Set by begin(): every pool item still has its build-time tags (no per-item check). */
  private unchanged = false;

  constructor(state: OnlineState, items: Int32Array) {
    this.tagEdits = state.tagEdits;
    const n = items.length;
    this.offsets = new Int32Array(n + 1);
    this.arrays = new Array(n);
    const localOf = new Map<number, number>();
    const local: number[] = [];
    for (let k = 0; k < n; k++) {
      const tags = state.tags(items[k]!);
      this.arrays[k] = tags;
      if (tags) {
        for (let t = 0; t < tags.length; t++) {
          let l = localOf.get(tags[t]!);
          if (l === undefined) localOf.set(tags[t]!, (l = localOf.size));
          local.push(l);
        }
      }
      this.offsets[k + 1] = local.length;
    }
    this.local = Int32Array.from(local);
    this.tagIds = new Int32Array(localOf.size);
    for (const [tag, l] of localOf) this.tagIds[l] = tag;
    this.shares = new Float64Array(localOf.size);
  }

  /**
   * Prepares the user's affinity of every distinct tag (one profile per request). Returns an
   * upper bound of affinity() over the pool (the largest share, with a margin for rounding),
   * or Infinity when some item's tags changed since the pool was built.
   */
  begin(profile: TagAffinityProfile, state: OnlineState, items: Int32Array): number {
    this.profile = profile;
    let max = 0;
    for (let l = 0; l < this.tagIds.length; l++) {
      this.one[0] = this.tagIds[l]!;
      const share = profile.affinity(this.one);
      this.shares[l] = share;
      if (share > max) max = share;
    }
    // Tags changed since the build only if the state counted an edit (then check item by item).
    this.unchanged = state.tagEdits === this.tagEdits;
    if (!this.unchanged) for (let k = 0; k < items.length; k++) if (state.tags(items[k]!) !== this.arrays[k]) return Infinity;
    return max * (1 + 1e-9);
  }

  /** The user's affinity to the tags of the item at pool position k. */
  affinity(state: OnlineState, k: number, item: number): number {
    const start = this.offsets[k]!;
    const end = this.offsets[k + 1]!;
    if (this.unchanged && start !== end) {
      let s = 0;
      for (let p = start; p < end; p++) s += this.shares[this.local[p]!]!;
      return s / (end - start);
    }
    const tags = state.tags(item);
    if (tags !== this.arrays[k]) return this.profile!.affinity(tags);
    if (start === end) return this.profile!.affinity(tags);
    let s = 0;
    for (let p = start; p < end; p++) s += this.shares[this.local[p]!]!;
    return s / (end - start);
  }
}
