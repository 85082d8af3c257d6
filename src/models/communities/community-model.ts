/**
 * Sparse community vectors for users and items, as SimClusters builds them:
 *
 * 1. KnownFor: producers — followed accounts and well-engaged items — are clustered by the
 *    consumers they share (louvain.ts). With no follow graph (a catalogue such as MovieLens)
 *    only items are producers: communities of co-engaged items.
 * 2. InterestedIn (users): the communities of whom the user follows, plus those of what the
 *    user engaged with (the item's own community, else its author's), each part L1-normalised,
 *    top few kept. Computed at request time from the follow set, the training-time engagement
 *    counts, and the history newer than the training — so a new follow counts at once.
 * 3. Item vectors: the sum of the InterestedIn vectors of the item's engagers, with forward
 *    time decay (weights are stored as w·2^((t−t0)/halfLife), so that items compare correctly
 *    at any later time without touching them), in a few slots per item; a prior from the item's
 *    own or its author's community puts a new post in place before anyone engaged.
 * 4. The index: per community, the items with the largest weight there (bounded).
 *
 * Online: addEngagement() adds an engager's vector to the item and refreshes the index.
 */
import type { OnlineState } from '../../state/online-state.js';
import { TopK } from '../top-k.js';
import { bipartiteFromEdges, clusterProducers, type Clustering } from './louvain.js';

export interface CommunityModelOptions {
  /** Modularity resolution of the clustering (larger → smaller communities). */
  resolution: number;
  maxPasses: number;
  /** Communities kept per user vector. */
  userCommunities: number;
  /** Community slots per item vector. */
  itemSlots: number;
  /** Items kept per community in the index. */
  perCommunity: number;
  /** Half-life (ms) of engagement weight in item vectors; 0 = no decay (catalogues). */
  halfLife: number;
  /** Edges per consumer in the clustering (most recent engagements kept). */
  maxConsumerDegree: number;
  /** Items need this many distinct engagers to be clustered as producers. */
  minItemEngagers: number;
  maxItemProducers: number;
  /** Weight of an item's own/author's community in its vector, in engager units. */
  itemPrior: number;
  followWeight: number;
  engagementWeight: number;
  /** Scale each community's item weights by its top item's (true) or use them raw. */
  normalizeCommunities: boolean;
  seed: number;
}

export const DEFAULT_COMMUNITY_OPTIONS: CommunityModelOptions = {
  resolution: 1.5,
  maxPasses: 10,
  userCommunities: 12,
  itemSlots: 8,
  perCommunity: 1000,
  halfLife: 0,
  maxConsumerDegree: 400,
  minItemEngagers: 2,
  maxItemProducers: 200_000,
  itemPrior: 1,
  followWeight: 1,
  engagementWeight: 1,
  normalizeCommunities: true,
  seed: 1,
};

/** A user's vector: top communities with L1-normalised weights, best first. */
export interface SparseVector {
  comm: Int32Array;
  w: Float64Array;
  n: number;
}

export interface PositiveEvents {
  length: number;
  user: Int32Array;
  item: Int32Array;
  ts: Float64Array;
}

export interface TrainStats {
  communities: number;
  producers: number;
  clusteredProducers: number;
  consumers: number;
  edges: number;
  passes: number;
  seconds: number;
}

const FORMAT_VERSION = 1;
const MAX_EXPONENT = 40;

export class CommunityModel {
  readonly options: CommunityModelOptions;
  count = 0;
  users = 0;
  /** KnownFor of users as producers (followed accounts), −1 when none. */
  userLabel = new Int32Array(0);
  /** KnownFor of items as producers, −1 when none. */
  itemLabel = new Int32Array(0);
  /** Training-time engagement counts per user over communities (CSR). */
  engOffsets = new Int32Array(1);
  engComm = new Int32Array(0);
  engW = new Float32Array(0);
  /** Latest event time folded in at training. */
  trainClock = -Infinity;
  /** Forward-decay reference time. */
  t0 = 0;
  /** Item vectors: `itemSlots` slots per item. */
  private itemCap = 0;
  itemComm = new Int32Array(0);
  itemW = new Float32Array(0);
  /** Index: `perCommunity` slots per community. */
  indexItems = new Int32Array(0);
  indexScore = new Float32Array(0);
  indexCount = new Int32Array(0);
  private indexMin = new Int32Array(0);
  /** Scratch. */
  private acc = new Float64Array(0);
  private touched = new Int32Array(0);
  private scoreOf = new Float64Array(0);
  private scoreStamp = new Uint32Array(0);
  private scoreGen = 0;
  private found = new Int32Array(0);

  constructor(options: Partial<CommunityModelOptions> = {}) {
    this.options = { ...DEFAULT_COMMUNITY_OPTIONS, ...options };
  }

  get trained(): boolean {
    return this.count > 0;
  }

  /** Bytes held by the model's arrays. */
  get bytes(): number {
    return (
      this.userLabel.byteLength +
      this.itemLabel.byteLength +
      this.engOffsets.byteLength +
      this.engComm.byteLength +
      this.engW.byteLength +
      this.itemComm.byteLength +
      this.itemW.byteLength +
      this.indexItems.byteLength +
      this.indexScore.byteLength
    );
  }

  // ---------------------------------------------------------------- training

  /**
   * Builds everything from the current follow graph (state.following) and the positive
   * engagements of the log (in log order).
   */
  train(state: OnlineState, users: number, items: number, events: PositiveEvents, onProgress?: (done: number, total: number, note?: string) => void): TrainStats {
    const started = performance.now();
    const o = this.options;
    const U = Math.max(users, state.following.maxNode + 1, state.followers.maxNode + 1);
    const I = Math.max(items, state.items);
    let clock = -Infinity;
    for (let e = 0; e < events.length; e++) {
      if (events.user[e] >= U || events.item[e] >= I || events.user[e] < 0 || events.item[e] < 0) continue;
      if (events.ts[e] > clock) clock = events.ts[e];
    }
    this.trainClock = clock;
    this.t0 = Number.isFinite(clock) ? clock : 0;
    this.users = U;

    // Events grouped by user (CSR over event indices, log order kept).
    const perUser = new Int32Array(U + 1);
    for (let e = 0; e < events.length; e++) {
      const u = events.user[e];
      if (u >= 0 && u < U && events.item[e] >= 0 && events.item[e] < I) perUser[u + 1]++;
    }
    for (let u = 0; u < U; u++) perUser[u + 1] += perUser[u];
    const byUser = new Int32Array(perUser[U]);
    {
      const fill = perUser.slice(0, U);
      for (let e = 0; e < events.length; e++) {
        const u = events.user[e];
        if (u >= 0 && u < U && events.item[e] >= 0 && events.item[e] < I) byUser[fill[u]++] = e;
      }
    }

    // Which items are producers: enough distinct engagers (counted once per user×item).
    const engagers = new Int32Array(I);
    {
      const lastUser = new Int32Array(I).fill(-1);
      for (let u = 0; u < U; u++) {
        for (let p = perUser[u]; p < perUser[u + 1]; p++) {
          const it = events.item[byUser[p]];
          if (lastUser[it] !== u) {
            lastUser[it] = u;
            engagers[it]++;
          }
        }
      }
    }
    const itemIsProducer = new Uint8Array(I);
    {
      const eligible: number[] = [];
      for (let i = 0; i < I; i++) if (engagers[i] >= o.minItemEngagers) eligible.push(i);
      if (eligible.length > o.maxItemProducers) {
        eligible.sort((a, b) => engagers[b] - engagers[a] || a - b);
        eligible.length = o.maxItemProducers;
      }
      for (const i of eligible) itemIsProducer[i] = 1;
    }

    // Consumer → producer edges: follows (producer id = user), engagements (id = U + item).
    const from: number[] = [];
    const to: number[] = [];
    const wts: number[] = [];
    for (let u = 0; u < U; u++) {
      const follows = state.following.get(u);
      const nf = Math.min(follows.length, o.maxConsumerDegree);
      for (let k = 0; k < nf; k++) {
        if (follows[k] === u || follows[k] >= U) continue;
        from.push(u);
        to.push(follows[k]);
        wts.push(o.followWeight);
      }
      const room = Math.max(0, o.maxConsumerDegree - nf);
      const start = Math.max(perUser[u], perUser[u + 1] - room * 2);
      let added = 0;
      for (let p = perUser[u + 1] - 1; p >= start && added < room; p--) {
        const it = events.item[byUser[p]];
        if (!itemIsProducer[it]) continue;
        from.push(u);
        to.push(U + it);
        wts.push(o.engagementWeight);
        added++;
      }
    }
    onProgress?.(1, 4, 'graph');
    const graph = bipartiteFromEdges(U, U + I, from, to, wts);
    for (let e = 0; e < graph.weights.length; e++) if (graph.weights[e] > 1) graph.weights[e] = 1;
    from.length = 0;
    to.length = 0;
    wts.length = 0;
    const clustering: Clustering = clusterProducers(graph, { resolution: o.resolution, maxPasses: o.maxPasses, seed: o.seed });
    onProgress?.(2, 4, 'clusters');
    this.count = clustering.count;
    this.userLabel = clustering.labels.slice(0, U);
    this.itemLabel = new Int32Array(I).fill(-1);
    this.itemLabel.set(clustering.labels.subarray(U, U + I));
    const K = this.count;
    this.acc = new Float64Array(K);
    this.touched = new Int32Array(K);

    // Engagement part of InterestedIn: counts over the engaged items' (or authors') communities.
    const engOffsets = new Int32Array(U + 1);
    const engComm: number[] = [];
    const engW: number[] = [];
    const keep = o.userCommunities * 2;
    for (let u = 0; u < U; u++) {
      let nt = 0;
      for (let p = perUser[u]; p < perUser[u + 1]; p++) {
        const c = this.itemCommunity(state, events.item[byUser[p]]);
        if (c < 0) continue;
        if (this.acc[c] === 0) this.touched[nt++] = c;
        this.acc[c] += 1;
      }
      const top = this.topTouched(nt, keep);
      for (const c of top) {
        engComm.push(c);
        engW.push(this.acc[c]);
      }
      for (let t = 0; t < nt; t++) this.acc[this.touched[t]] = 0;
      engOffsets[u + 1] = engComm.length;
    }
    this.engOffsets = engOffsets;
    this.engComm = Int32Array.from(engComm);
    this.engW = Float32Array.from(engW);
    onProgress?.(3, 4, 'user vectors');

    // Item vectors: priors, then every positive engagement in log order.
    this.itemCap = 0;
    this.itemComm = new Int32Array(0);
    this.itemW = new Float32Array(0);
    this.ensureItems(I);
    this.indexItems = new Int32Array(K * o.perCommunity).fill(-1);
    this.indexScore = new Float32Array(K * o.perCommunity);
    this.indexCount = new Int32Array(K);
    this.indexMin = new Int32Array(K);
    for (let i = 0; i < I; i++) this.addPrior(state, i, false);
    const vec: SparseVector = { comm: new Int32Array(o.userCommunities), w: new Float64Array(o.userCommunities), n: 0 };
    // One vector per user (training-time), reused for all of the user's engagements.
    for (let u = 0; u < U; u++) {
      if (perUser[u + 1] === perUser[u]) continue;
      this.userVector(state, u, vec, false);
      if (vec.n === 0) continue;
      for (let p = perUser[u]; p < perUser[u + 1]; p++) {
        const e = byUser[p];
        this.addToItem(events.item[e], vec, this.decayWeight(events.ts[e]), false);
      }
    }
    this.rebuildIndex();
    onProgress?.(4, 4, 'index');
    let clustered = 0;
    for (let p = 0; p < clustering.labels.length; p++) if (clustering.labels[p] >= 0) clustered++;
    let producers = 0;
    for (let p = 0; p < U + I; p++) if (p < U ? state.followers.size(p) > 0 : itemIsProducer[p - U]) producers++;
    return {
      communities: K,
      producers,
      clusteredProducers: clustered,
      consumers: U,
      edges: graph.targets.length,
      passes: clustering.passes,
      seconds: (performance.now() - started) / 1000,
    };
  }

  /** The community an engagement with `item` speaks for: the item's own, else its author's. */
  itemCommunity(state: OnlineState, item: number): number {
    const c = item < this.itemLabel.length ? this.itemLabel[item] : -1;
    if (c >= 0) return c;
    const a = state.author(item);
    return a >= 0 && a < this.userLabel.length ? this.userLabel[a] : -1;
  }

  /** Indices into `touched[0..nt)` of the `limit` largest `acc` values, best first. */
  private topTouched(nt: number, limit: number): number[] {
    const list: number[] = [];
    for (let t = 0; t < nt; t++) list.push(this.touched[t]);
    list.sort((a, b) => this.acc[b] - this.acc[a] || a - b);
    if (list.length > limit) list.length = limit;
    return list;
  }

  // ---------------------------------------------------------------- user vectors

  /**
   * InterestedIn of a user into `out` (top communities, L1-normalised): follows' communities
   * and engaged items' communities; with `fresh`, the user's history newer than the training
   * counts too (and items without a community contribute their own vectors).
   */
  userVector(state: OnlineState, user: number, out: SparseVector, fresh = true): void {
    out.n = 0;
    const K = this.count;
    if (K === 0 || user < 0) return;
    const o = this.options;
    const acc = this.acc;
    const touched = this.touched;
    let nt = 0;
    // Follows.
    const follows = state.following.get(user);
    let fsum = 0;
    for (let k = 0; k < follows.length; k++) {
      const f = follows[k];
      const c = f < this.userLabel.length ? this.userLabel[f] : -1;
      if (c < 0) continue;
      fsum++;
    }
    if (fsum > 0) {
      const w = o.followWeight / fsum;
      for (let k = 0; k < follows.length; k++) {
        const f = follows[k];
        const c = f < this.userLabel.length ? this.userLabel[f] : -1;
        if (c < 0) continue;
        if (acc[c] === 0) touched[nt++] = c;
        acc[c] += w;
      }
    }
    // Engagements: training counts + newer history.
    const engStart = user < this.users ? this.engOffsets[user] : 0;
    const engEnd = user < this.users ? this.engOffsets[user + 1] : 0;
    let esum = 0;
    for (let p = engStart; p < engEnd; p++) esum += this.engW[p];
    const fresh1: number[] = [];
    if (fresh) {
      const polarity = state.polarity;
      const since = this.trainClock;
      state.history.forEachRecent(user, (item, type, ts) => {
        if (ts <= since) return false;
        if (polarity[type] > 0) fresh1.push(item);
      });
    }
    let unlabeled = 0;
    for (const item of fresh1) {
      if (this.itemCommunity(state, item) >= 0) esum++;
      else if (item < this.itemCap) unlabeled++;
    }
    // With no labelled signal at all, fall back to the vectors of the user's recent items.
    const fallback: number[] = [];
    if (fsum === 0 && esum === 0 && unlabeled === 0) {
      state.history.forEachRecent(user, (item, type) => {
        if (state.polarity[type] > 0 && item < this.itemCap) fallback.push(item);
        return fallback.length < 50;
      });
    }
    const etotal = esum + unlabeled + fallback.length;
    if (etotal > 0) {
      const w = o.engagementWeight / etotal;
      for (let p = engStart; p < engEnd; p++) {
        const c = this.engComm[p];
        if (acc[c] === 0) touched[nt++] = c;
        acc[c] += w * this.engW[p];
      }
      const slots = o.itemSlots;
      for (const item of fresh1.length ? fresh1 : fallback) {
        const c = this.itemCommunity(state, item);
        if (c >= 0) {
          if (acc[c] === 0) touched[nt++] = c;
          acc[c] += w;
          continue;
        }
        if (item >= this.itemCap) continue;
        let s = 0;
        for (let k = item * slots; k < item * slots + slots; k++) if (this.itemComm[k] >= 0) s += this.itemW[k];
        if (s <= 0) continue;
        for (let k = item * slots; k < item * slots + slots; k++) {
          const cc = this.itemComm[k];
          if (cc < 0) continue;
          if (acc[cc] === 0) touched[nt++] = cc;
          acc[cc] += (w * this.itemW[k]) / s;
        }
      }
    }
    if (nt === 0) return;
    const top = this.topTouched(nt, out.comm.length);
    let total = 0;
    for (const c of top) total += acc[c];
    for (let k = 0; k < top.length; k++) {
      out.comm[k] = top[k];
      out.w[k] = acc[top[k]] / total;
    }
    out.n = top.length;
    for (let t = 0; t < nt; t++) acc[touched[t]] = 0;
  }

  // ---------------------------------------------------------------- item vectors

  private decayWeight(ts: number): number {
    const h = this.options.halfLife;
    if (!(h > 0) || !Number.isFinite(ts)) return 1;
    return Math.pow(2, (ts - this.t0) / h);
  }

  /** Moves the forward-decay reference to `ts` (all weights scaled alike) when they grow large. */
  private maybeRebase(ts: number): void {
    const h = this.options.halfLife;
    if (!(h > 0) || !Number.isFinite(ts) || (ts - this.t0) / h < MAX_EXPONENT) return;
    const f = Math.pow(2, -(ts - this.t0) / h);
    for (let k = 0; k < this.itemW.length; k++) this.itemW[k] *= f;
    for (let k = 0; k < this.indexScore.length; k++) this.indexScore[k] *= f;
    this.t0 = ts;
  }

  private ensureItems(n: number): void {
    if (n <= this.itemCap) return;
    let cap = Math.max(1024, this.itemCap);
    while (cap < n) cap *= 2;
    const s = this.options.itemSlots;
    const comm = new Int32Array(cap * s).fill(-1);
    comm.set(this.itemComm);
    const w = new Float32Array(cap * s);
    w.set(this.itemW);
    this.itemComm = comm;
    this.itemW = w;
    const labels = new Int32Array(cap).fill(-1);
    labels.set(this.itemLabel.subarray(0, Math.min(this.itemLabel.length, cap)));
    this.itemLabel = labels;
    this.itemCap = cap;
  }

  /** The prior of a (new) item: its own community, else its author's. */
  addPrior(state: OnlineState, item: number, online = true): void {
    if (this.count === 0 || this.options.itemPrior <= 0) return;
    const c = this.itemCommunity(state, item);
    if (c < 0) return;
    this.ensureItems(item + 1);
    const created = state.createdAt(item);
    const ts = Number.isFinite(created) ? created : this.t0;
    if (online) this.maybeRebase(ts);
    const one: SparseVector = { comm: Int32Array.of(c), w: Float64Array.of(1), n: 1 };
    this.addToItem(item, one, this.options.itemPrior * this.decayWeight(ts), online);
  }

  /** Adds weight × vec to the item's slots (evicting the weakest slot when full). */
  private addToItem(item: number, vec: SparseVector, weight: number, updateIndex: boolean): void {
    this.ensureItems(item + 1);
    const slots = this.options.itemSlots;
    const base = item * slots;
    for (let k = 0; k < vec.n; k++) {
      const c = vec.comm[k];
      const add = vec.w[k] * weight;
      if (!(add > 0)) continue;
      let slot = -1;
      let empty = -1;
      let min = -1;
      for (let s = base; s < base + slots; s++) {
        const sc = this.itemComm[s];
        if (sc === c) {
          slot = s;
          break;
        }
        if (sc < 0) {
          if (empty < 0) empty = s;
        } else if (min < 0 || this.itemW[s] < this.itemW[min]) min = s;
      }
      if (slot >= 0) this.itemW[slot] += add;
      else if (empty >= 0) {
        slot = empty;
        this.itemComm[slot] = c;
        this.itemW[slot] = add;
      } else if (min >= 0 && add > this.itemW[min]) {
        slot = min;
        this.itemComm[slot] = c;
        this.itemW[slot] = add;
      } else continue;
      if (updateIndex) this.offer(c, item, this.itemW[slot]);
    }
  }

  /** Puts (item, score) into community c's top list if it belongs there. */
  private offer(c: number, item: number, score: number): void {
    const n = this.options.perCommunity;
    const base = c * n;
    const count = this.indexCount[c];
    for (let s = base; s < base + count; s++) {
      if (this.indexItems[s] === item) {
        this.indexScore[s] = score;
        if (s - base === this.indexMin[c]) this.recomputeMin(c);
        return;
      }
    }
    if (count < n) {
      this.indexItems[base + count] = item;
      this.indexScore[base + count] = score;
      this.indexCount[c] = count + 1;
      if (count === 0 || score < this.indexScore[base + this.indexMin[c]]) this.indexMin[c] = count;
      return;
    }
    const m = base + this.indexMin[c];
    if (score <= this.indexScore[m]) return;
    this.indexItems[m] = item;
    this.indexScore[m] = score;
    this.recomputeMin(c);
  }

  private recomputeMin(c: number): void {
    const n = this.options.perCommunity;
    const base = c * n;
    let m = 0;
    for (let k = 1; k < this.indexCount[c]; k++) if (this.indexScore[base + k] < this.indexScore[base + m]) m = k;
    this.indexMin[c] = m;
  }

  /** Rebuilds the community → top items index from the item vectors. */
  rebuildIndex(): void {
    const K = this.count;
    const n = this.options.perCommunity;
    const slots = this.options.itemSlots;
    const counts = new Int32Array(K + 1);
    for (let s = 0; s < this.itemComm.length; s++) if (this.itemComm[s] >= 0) counts[this.itemComm[s] + 1]++;
    for (let c = 0; c < K; c++) counts[c + 1] += counts[c];
    const fill = counts.slice(0, K);
    const bucket = new Int32Array(counts[K]);
    for (let s = 0; s < this.itemComm.length; s++) if (this.itemComm[s] >= 0) bucket[fill[this.itemComm[s]]++] = s;
    this.indexItems = new Int32Array(K * n).fill(-1);
    this.indexScore = new Float32Array(K * n);
    this.indexCount = new Int32Array(K);
    this.indexMin = new Int32Array(K);
    for (let c = 0; c < K; c++) {
      const list = Array.from(bucket.subarray(counts[c], counts[c + 1]));
      list.sort((a, b) => this.itemW[b] - this.itemW[a] || a - b);
      const m = Math.min(n, list.length);
      for (let k = 0; k < m; k++) {
        this.indexItems[c * n + k] = Math.floor(list[k] / slots);
        this.indexScore[c * n + k] = this.itemW[list[k]];
      }
      this.indexCount[c] = m;
      this.indexMin[c] = Math.max(0, m - 1);
    }
  }

  /** Online: `user` engaged positively with `item` at `ts`. */
  addEngagement(state: OnlineState, user: number, item: number, ts: number, vec: SparseVector): void {
    if (this.count === 0 || user < 0 || item < 0) return;
    this.userVector(state, user, vec, true);
    if (vec.n === 0) return;
    this.maybeRebase(ts);
    this.addToItem(item, vec, this.decayWeight(ts), true);
  }

  /** The item's vector (community, weight) pairs, strongest first (for explanations and tests). */
  itemVector(item: number): { community: number; weight: number }[] {
    if (item < 0 || item >= this.itemCap) return [];
    const slots = this.options.itemSlots;
    const out: { community: number; weight: number }[] = [];
    for (let s = item * slots; s < item * slots + slots; s++) if (this.itemComm[s] >= 0) out.push({ community: this.itemComm[s], weight: this.itemW[s] });
    return out.sort((a, b) => b.weight - a.weight);
  }

  // ---------------------------------------------------------------- retrieval

  /**
   * Where the item's `itemSlots` slots start in `itemComm` / `itemW` (community −1 = an empty
   * slot), or −1 for an item the model has no slots for.
   */
  itemSlotStart(item: number): number {
    return item >= 0 && item < this.itemCap ? item * this.options.itemSlots : -1;
  }

  /**
   * What retrieval multiplies community c's index weights by for a user weight `uw`: uw over
   * the community's largest item weight (with `normalizeCommunities`, so that big communities
   * do not drown small ones), else uw; 0 for an empty community.
   */
  communityFactor(c: number, uw: number): number {
    if (!(c >= 0 && c < this.count)) return 0;
    const base = c * this.options.perCommunity;
    const end = base + this.indexCount[c]!;
    let best = 0;
    for (let s = base; s < end; s++) if (this.indexScore[s]! > best) best = this.indexScore[s]!;
    if (!(best > 0)) return 0;
    return this.options.normalizeCommunities ? uw / best : uw;
  }

  /**
   * Items from the user's communities: score = Σ_c user(c) × item weight in c (index scores,
   * forward-decayed), best first, at most `budget`; `skip(item)` drops items.
   */
  retrieve(vec: SparseVector, budget: number, skip: (item: number) => boolean): { items: Int32Array; scores: Float64Array } {
    const top = new TopK(Math.max(0, Math.floor(budget)));
    this.retrieveTop(vec, top, skip);
    const n = top.drainSorted();
    return { items: top.outItems.slice(0, n), scores: top.outScores.slice(0, n) };
  }

  /**
   * retrieve() into a caller's (reused, reset here) heap: it holds the best items after the
   * call (drain it with drainSorted()). The scores are summed over the
   * communities first (a generation-stamped scratch over items, no per-request allocation);
   * `skip` is asked only for items that would enter the heap.
   */
  retrieveTop(vec: SparseVector, top: TopK, skip: (item: number) => boolean): void {
    const n = this.options.perCommunity;
    if (this.scoreOf.length < this.itemCap) {
      this.scoreOf = new Float64Array(this.itemCap);
      this.scoreStamp = new Uint32Array(this.itemCap);
      this.found = new Int32Array(Math.min(this.itemCap, n * this.options.userCommunities) || 16);
      this.scoreGen = 0;
    }
    if (++this.scoreGen === 0xffffffff) {
      this.scoreStamp.fill(0);
      this.scoreGen = 1;
    }
    const gen = this.scoreGen;
    const scoreOf = this.scoreOf;
    const stamp = this.scoreStamp;
    const indexItems = this.indexItems;
    const indexScore = this.indexScore;
    let found = this.found;
    let nf = 0;
    for (let k = 0; k < vec.n; k++) {
      const c = vec.comm[k]!;
      const uw = vec.w[k]!;
      const f = this.communityFactor(c, uw);
      if (!(f > 0)) continue;
      const base = c * n;
      const end = base + this.indexCount[c]!;
      if (nf + (end - base) > found.length) {
        const g = new Int32Array(Math.max(found.length * 2, nf + (end - base)));
        g.set(found.subarray(0, nf));
        found = this.found = g;
      }
      for (let s = base; s < end; s++) {
        const item = indexItems[s]!;
        const w = indexScore[s]!;
        if (item < 0 || !(w > 0)) continue;
        if (stamp[item] !== gen) {
          stamp[item] = gen;
          scoreOf[item] = 0;
          found[nf++] = item;
        }
        scoreOf[item] += f * w;
      }
    }
    top.reset();
    for (let t = 0; t < nf; t++) {
      const item = found[t]!;
      const score = scoreOf[item]!;
      if (top.accepts(item, score) && !skip(item)) top.push(item, score);
    }
  }

  // ---------------------------------------------------------------- persistence

  /** Header (JSON) and the arrays (one binary blob, sections listed in the header). */
  serialize(): { header: Record<string, unknown>; blob: Buffer } {
    const arrays: Record<string, Int32Array | Float32Array> = {
      userLabel: this.userLabel,
      itemLabel: this.itemLabel,
      engOffsets: this.engOffsets,
      engComm: this.engComm,
      engW: this.engW,
      itemComm: this.itemComm,
      itemW: this.itemW,
      indexItems: this.indexItems,
      indexScore: this.indexScore,
      indexCount: this.indexCount,
    };
    const sections: { name: string; type: string; offset: number; length: number }[] = [];
    const parts: Buffer[] = [];
    let offset = 0;
    for (const [name, a] of Object.entries(arrays)) {
      const buf = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
      sections.push({ name, type: a instanceof Int32Array ? 'i32' : 'f32', offset, length: a.length });
      parts.push(buf);
      offset += buf.byteLength;
    }
    const header = {
      format: 'lenta-communities',
      version: FORMAT_VERSION,
      count: this.count,
      users: this.users,
      itemCap: this.itemCap,
      trainClock: Number.isFinite(this.trainClock) ? this.trainClock : null,
      t0: this.t0,
      options: this.options,
      sections,
    };
    return { header, blob: Buffer.concat(parts) };
  }

  /** Restores from serialize()'s output; false when the header does not fit this model. */
  deserialize(header: Record<string, unknown>, blob: Buffer): boolean {
    if (header.format !== 'lenta-communities' || header.version !== FORMAT_VERSION) return false;
    const opts = header.options as Partial<CommunityModelOptions> | undefined;
    if (!opts || opts.itemSlots !== this.options.itemSlots || opts.perCommunity !== this.options.perCommunity) return false;
    const sections = header.sections as { name: string; type: string; offset: number; length: number }[];
    const bytesOf = (name: string): ArrayBuffer => {
      const s = sections.find((x) => x.name === name);
      if (!s) throw new Error(`communities: section ${name} missing`);
      const bytes = s.length * 4;
      if (s.offset + bytes > blob.byteLength) throw new Error(`communities: section ${name} truncated`);
      const copy = new Uint8Array(bytes);
      copy.set(blob.subarray(s.offset, s.offset + bytes));
      return copy.buffer;
    };
    const getI = (name: string) => new Int32Array(bytesOf(name));
    const getF = (name: string) => new Float32Array(bytesOf(name));
    this.count = header.count as number;
    this.users = header.users as number;
    this.itemCap = header.itemCap as number;
    this.trainClock = header.trainClock === null ? -Infinity : (header.trainClock as number);
    this.t0 = header.t0 as number;
    this.userLabel = getI('userLabel');
    this.itemLabel = getI('itemLabel');
    this.engOffsets = getI('engOffsets');
    this.engComm = getI('engComm');
    this.engW = getF('engW');
    this.itemComm = getI('itemComm');
    this.itemW = getF('itemW');
    this.indexItems = getI('indexItems');
    this.indexScore = getF('indexScore');
    this.indexCount = getI('indexCount');
    this.indexMin = new Int32Array(this.count);
    for (let c = 0; c < this.count; c++) this.recomputeMin(c);
    this.acc = new Float64Array(this.count);
    this.touched = new Int32Array(this.count);
    return true;
  }
}
