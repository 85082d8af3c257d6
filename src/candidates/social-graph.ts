/**
 * Social-graph source (as GraphJet / UTEG): posts engaged with recently by the people around
 * the user, read straight from the online state's user–item graph — no training, always fresh.
 *
 * (a) Follows: the newest positive engagements of each account the user follows (their history
 *     rings), weighted by the user's affinity to that account (1 + authorAffinity, the +1 being
 *     the follow itself) and by recency (rank in the follow's history and, on a live clock, age).
 * (b) Similar users: a two-hop walk user → recent items → their recent engagers (state.engagers)
 *     → those users' recent items. Engagers are scored by how many of the user's recent items
 *     they share, each item down-weighted by its number of engagers (a popular item says little
 *     about taste) and by its age in the user's history; the best `similarUsers` engagers then
 *     vote for their own recent items with that similarity.
 *
 * The two parts are scaled to a maximum of 1 each and added (`followWeight` × a + b). Scratch
 * accumulators are generation-stamped typed arrays reused across requests.
 */
import { authorAffinity, engagementWeights } from '../features/affinity.js';
import type { Candidate, CandidateSource, FeedQuery } from '../pipeline/types.js';
import type { TopK } from '../models/top-k.js';
import { candidatesFromTopK, heapFor, keepBest, requestLookups, servable } from './ranked.js';

export interface SocialGraphOptions {
  /** Follows considered per request, strongest affinity first. */
  maxFollows: number;
  /** Newest positive engagements read per follow. */
  itemsPerFollow: number;
  /** Newest positive history items of the user that seed the walk. */
  seedItems: number;
  /** Newest engagers read per seed item (≤ the state's engagersPerItem). */
  engagersPerItem: number;
  /** Similar users kept after the first hop. */
  similarUsers: number;
  /** Newest positive history items read per similar user. */
  itemsPerSimilarUser: number;
  /** Recency by rank: the k-th newest entry weighs 1 / (1 + k / recencyRank). */
  recencyRank: number;
  /** Age half-life (ms) of follow engagements; 0 = no age decay (catalogue replays). */
  recencyHalfLife: number;
  /** Weight of part (a), follows' engagements, against part (b), similar users. */
  followWeight: number;
  /** Similar users' votes are divided by (their history length)^activityDamping. */
  activityDamping: number;
}

export const DEFAULT_SOCIAL_GRAPH_OPTIONS: SocialGraphOptions = {
  maxFollows: 200,
  itemsPerFollow: 50,
  seedItems: 100,
  engagersPerItem: 64,
  similarUsers: 200,
  itemsPerSimilarUser: 200,
  recencyRank: 25,
  recencyHalfLife: 0,
  followWeight: 1,
  activityDamping: 0.5,
};

/**
 * A float accumulator over dense ids with generation stamps: reset in O(1) per request. Each
 * id's stamp and score sit side by side (one cache line per id touched: the walk's ids are
 * scattered over the catalogue, so the accumulator costs about one cache miss per new id).
 */
class StampedScores {
  /** [stamp, score] per id. */
  cells = new Float64Array(0);
  touched = new Int32Array(0);
  count = 0;
  gen = 0;
  private size = 0;

  begin(n: number): void {
    if (this.size < n) {
      const cap = Math.max(n, this.size * 2, 1024);
      this.cells = new Float64Array(2 * cap);
      this.touched = new Int32Array(cap);
      this.size = cap;
      this.gen = 0;
    }
    if (++this.gen === 0xffffffff) {
      this.cells.fill(0);
      this.gen = 1;
    }
    this.count = 0;
  }

  /** Grows (keeping values) when an id beyond the current size shows up. */
  private grow(id: number): void {
    const cap = Math.max(id + 1, this.size * 2);
    const c = new Float64Array(2 * cap);
    c.set(this.cells);
    const t = new Int32Array(cap);
    t.set(this.touched);
    this.cells = c;
    this.touched = t;
    this.size = cap;
  }

  add(id: number, v: number): void {
    if (id >= this.size) this.grow(id);
    const k = 2 * id;
    if (this.cells[k] !== this.gen) {
      this.cells[k] = this.gen;
      this.cells[k + 1] = v;
      this.touched[this.count++] = id;
    } else {
      this.cells[k + 1] += v;
    }
  }

  /** The score of an id added in this generation. */
  score(id: number): number {
    return this.cells[2 * id + 1]!;
  }

  /** Replaces the score of an id added in this generation. */
  set(id: number, v: number): void {
    this.cells[2 * id + 1] = v;
  }

  get(id: number): number {
    return this.has(id) ? this.cells[2 * id + 1]! : 0;
  }

  has(id: number): boolean {
    return id < this.size && this.cells[2 * id] === this.gen;
  }
}

export class SocialGraphSource implements CandidateSource {
  readonly name = 'social_graph';
  readonly options: SocialGraphOptions;
  private weights: Float64Array | undefined;
  /** The request's lookups: `own.inHistory(item)` = the user's own history (any polarity). */
  private readonly own = requestLookups;
  private readonly fromFollows = new StampedScores();
  private readonly fromSimilar = new StampedScores();
  private readonly similar = new StampedScores();
  private top: TopK | undefined;
  private bestUsers: TopK | undefined;
  private bestFollows: TopK | undefined;
  private followScratch = new Int32Array(0);
  private strengthScratch = new Float64Array(0);

  constructor(options: Partial<SocialGraphOptions> = {}) {
    this.options = { ...DEFAULT_SOCIAL_GRAPH_OPTIONS, ...options };
  }

  enabled(q: FeedQuery): boolean {
    return q.user >= 0 && (q.state.history.size(q.user) > 0 || q.state.following.size(q.user) > 0);
  }

  fetch(q: FeedQuery, budget: number): Candidate[] {
    const state = q.state;
    const user = q.user;
    if (user < 0 || budget <= 0) return [];
    const hasHistory = state.history.size(user) > 0;
    const hasFollows = state.following.size(user) > 0;
    if (!hasHistory && !hasFollows) return [];
    const n = Math.max(state.items, 1);
    this.fromFollows.begin(n);
    this.fromSimilar.begin(n);
    // The user's own history (any polarity) is never proposed.
    this.own.forQuery(q);
    let maxA = 0;
    let maxB = 0;
    if (hasFollows) maxA = this.collectFollows(q);
    if (hasHistory) maxB = this.collectSimilar(q);
    if (maxA <= 0 && maxB <= 0) return [];

    // The two parts, scaled and added, straight into the heap (no merged accumulator).
    const a = this.fromFollows;
    const b = this.fromSimilar;
    const scaleA = maxA > 0 ? this.options.followWeight / maxA : 0;
    const scaleB = maxB > 0 ? 1 / maxB : 0;
    const own = this.own;
    const top = (this.top = heapFor(this.top, budget));
    for (let t = 0; t < a.count; t++) {
      const j = a.touched[t]!;
      let s = a.score(j) * scaleA;
      if (b.has(j)) s += b.score(j) * scaleB;
      if (!top.accepts(j, s) || own.inHistory(j) || !servable(q, j)) continue;
      top.push(j, s);
    }
    for (let t = 0; t < b.count; t++) {
      const j = b.touched[t]!;
      if (a.has(j)) continue;
      const s = b.score(j) * scaleB;
      if (!top.accepts(j, s) || own.inHistory(j) || !servable(q, j)) continue;
      top.push(j, s);
    }
    return candidatesFromTopK(top, this.name, q);
  }

  /** Part (a): the follows' recent positive engagements; returns the largest score. */
  private collectFollows(q: FeedQuery): number {
    const state = q.state;
    const user = q.user;
    const { maxFollows, itemsPerFollow, recencyRank, recencyHalfLife } = this.options;
    this.weights ??= engagementWeights(state);
    const follows = state.following.get(user);
    // Strength per follow on reused typed arrays; more follows than `maxFollows`: the strongest
    // (then the smaller id), visited strongest first — a bounded heap instead of a full sort.
    if (this.followScratch.length < follows.length) {
      this.followScratch = new Int32Array(Math.max(follows.length, 2 * this.followScratch.length, 64));
      this.strengthScratch = new Float64Array(this.followScratch.length);
    }
    const order = this.followScratch;
    const strengths = this.strengthScratch;
    for (let k = 0; k < follows.length; k++) {
      const f = follows[k]!;
      order[k] = f;
      strengths[k] = Math.max(0.05, 1 + authorAffinity(state, this.weights, user, f, q.now));
    }
    const nf = keepBest((this.bestFollows = heapFor(this.bestFollows, maxFollows, -Infinity)), order, strengths, follows.length);
    const polarity = state.polarity;
    const acc = this.fromFollows;
    const own = this.own;
    const ring = state.history;
    const cap = ring.capacity;
    const decay = recencyHalfLife > 0 && Number.isFinite(q.now);
    for (let r = 0; r < nf; r++) {
      const follow = order[r]!;
      const strength = strengths[r]!;
      if (own.hides(follow)) continue;
      const size = ring.size(follow);
      if (size === 0) continue;
      const items = ring.valuesOf(follow);
      const types = ring.typesOf(follow)!;
      const times = ring.timesOf(follow)!;
      const at = ring.base(follow);
      let k = 0;
      for (let e = 0, pos = ring.newestPos(follow); e < size; e++, pos = pos === 0 ? cap - 1 : pos - 1) {
        if (!(polarity[types[at + pos]!]! > 0)) continue;
        const item = items[at + pos]!;
        let w = strength / (1 + k / recencyRank);
        if (decay) w *= Math.pow(0.5, Math.max(0, q.now - times[at + pos]!) / recencyHalfLife);
        k++;
        if (!own.inHistory(item)) acc.add(item, w);
        if (k >= itemsPerFollow) break;
      }
    }
    let max = 0;
    for (let t = 0; t < acc.count; t++) max = Math.max(max, acc.score(acc.touched[t]!));
    return max;
  }

  /** Part (b): two hops on the user–item graph; returns the largest score. */
  private collectSimilar(q: FeedQuery): number {
    const state = q.state;
    const user = q.user;
    const { seedItems, engagersPerItem, similarUsers, itemsPerSimilarUser, recencyRank, activityDamping } = this.options;
    const polarity = state.polarity;
    const sim = this.similar;
    sim.begin(1024);
    const ring = state.history;
    const cap = ring.capacity;
    // Hop 1: seed items → their recent engagers.
    let k = 0;
    const seedSeen = this.fromSimilar; // temporarily marks seeds (reset below)
    {
      const size = ring.size(user);
      const items = ring.valuesOf(user);
      const types = ring.typesOf(user)!;
      const at = ring.base(user);
      const engagersRing = state.engagers;
      const ecap = engagersRing.capacity;
      for (let h = 0, pos = ring.newestPos(user); h < size; h++, pos = pos === 0 ? cap - 1 : pos - 1) {
        const item = items[at + pos]!;
        if (!(polarity[types[at + pos]!]! > 0) || seedSeen.has(item)) continue;
        seedSeen.add(item, 0);
        const engagers = engagersRing.size(item);
        if (engagers <= 1) {
          k++;
          if (k < seedItems) continue;
          break;
        }
        const w = 1 / (1 + k / recencyRank) / Math.log(1 + engagers);
        k++;
        const users = engagersRing.valuesOf(item);
        const eat = engagersRing.base(item);
        const n = Math.min(engagers, Math.max(1, engagersPerItem));
        for (let e = 0, epos = engagersRing.newestPos(item); e < n; e++, epos = epos === 0 ? ecap - 1 : epos - 1) {
          const v = users[eat + epos]!;
          if (v !== user && v >= 0) sim.add(v, w);
        }
        if (k >= seedItems) break;
      }
    }
    const numItems = Math.max(state.items, 1);
    this.fromSimilar.begin(numItems);
    if (sim.count === 0) return 0;
    // Keep the best `similarUsers` engagers (damped by how much they engage overall), best
    // first; ties to the smaller user id (the heap keeps ~id: larger ~id = smaller id).
    const best = (this.bestUsers = heapFor(this.bestUsers, similarUsers));
    for (let t = 0; t < sim.count; t++) {
      const v = sim.touched[t]!;
      const len = ring.size(v);
      const s = sim.score(v) / Math.pow(Math.max(1, len), activityDamping);
      sim.set(v, s);
      best.push(~v, s);
    }
    const nb = best.drainSorted();
    // Hop 2: similar users → their recent positive items.
    const acc = this.fromSimilar;
    const own = this.own;
    const damp = 4 * recencyRank;
    for (let b = 0; b < nb; b++) {
      const v = ~best.outItems[b]!;
      const s = sim.score(v);
      if (!(s > 0)) continue;
      const size = ring.size(v);
      const items = ring.valuesOf(v);
      const types = ring.typesOf(v)!;
      const at = ring.base(v);
      let r = 0;
      for (let h = 0, pos = ring.newestPos(v); h < size; h++, pos = pos === 0 ? cap - 1 : pos - 1) {
        if (!(polarity[types[at + pos]!]! > 0)) continue;
        const item = items[at + pos]!;
        const w = s / (1 + r / damp);
        r++;
        if (!own.inHistory(item)) acc.add(item, w);
        if (r >= itemsPerSimilarUser) break;
      }
    }
    let max = 0;
    for (let t = 0; t < acc.count; t++) max = Math.max(max, acc.score(acc.touched[t]!));
    return max;
  }
}
