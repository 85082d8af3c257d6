/**
 * Item-to-item source: neighbours of the posts the user engaged with recently, on a
 * co-engagement graph (two items are close when the same users engaged with both).
 *
 * The graph is trained from the positive events of the log (each (user, item) pair once;
 * only the latest `maxItemsPerUser` positives of a user, to bound the O(Σ deg(u)²) cost):
 *
 *   rp3b:   W(i→j) = Σ_u P(u|i)·P(j|u) / pop(j)^β = Σ_u 1/deg(i) · 1/deg(u) / deg(j)^β
 *           (a three-step random walk item → user → item, popular targets damped, RP3β)
 *   cosine: W(i→j) = co(i, j) / √(deg(i)·deg(j))
 *
 * Each row keeps its top `neighbours` targets and is scaled so that its largest weight is 1
 * (so an item with a few engagers weighs as much in a history as a popular one). The graph is
 * stored as CSR in typed arrays. Items with few co-engagements can get extra edges to items
 * sharing their rarest tags (`tagEdges`).
 *
 * A request sums the neighbour weights of the user's newest positive history items, each
 * weighted by its recency rank, into a generation-stamped scratch accumulator (no per-request
 * allocation of item-sized arrays) and returns the best `budget` items the user may see.
 *
 * Online: items and engagements that arrive after training are not in the graph until the next
 * training; update() counts them (`staleEvents`) so a job can decide to retrain.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OnlineState } from '../state/online-state.js';
import { LOG_EVENT, type ItemRecord, type LogChunk } from '../store/store.js';
import type { Candidate, FeedQuery, SourceTrainingContext, TrainableSource } from '../pipeline/types.js';
import { TopK, TopRowsWriter } from '../models/top-k.js';
import { candidatesFromTopK, heapFor, servable } from './ranked.js';
import type { CandidateFeatureProvider } from '../features/registry.js';
import { fillMissing, RequestMemo } from './request-memo.js';
import { buildSequenceGraph, DEFAULT_SEQUENCE_OPTIONS, SequenceScores, type SequenceGraphOptions } from '../models/knn/sequence-graph.js';

export interface ItemToItemOptions {
  weighting: 'rp3b' | 'cosine';
  /** Popularity damping of the target (RP3β's β). */
  beta: number;
  /** Neighbours kept per item. */
  neighbours: number;
  /** Newest positive history items used per request. */
  historyItems: number;
  /** Recency weighting of history items: the k-th newest weighs 1 / (1 + k / recencyRank). */
  recencyRank: number;
  /** Positive (user, item) pairs per user used in training (the newest ones). */
  maxItemsPerUser: number;
  /** Add tag edges to items with fewer than this many graph neighbours (0 = off). */
  tagEdges: number;
  /** Weight of a tag edge relative to the row's strongest co-engagement edge. */
  tagEdgeWeight: number;
  /** 'max': each row scaled to a largest weight of 1; 'none': the raw weights (RP3β rows then sum to ≈ 1 before damping). */
  rowNormalize: 'max' | 'none';
  /** The sequence graph (models/knn/sequence-graph.ts) behind the `seq` features: items engaged close together in users' timelines. */
  sequence: SequenceGraphOptions;
}

export const DEFAULT_ITEM_TO_ITEM_OPTIONS: ItemToItemOptions = {
  weighting: 'rp3b',
  beta: 0.25,
  neighbours: 200,
  historyItems: 200,
  recencyRank: 50,
  maxItemsPerUser: 1000,
  tagEdges: 0,
  tagEdgeWeight: 0.3,
  rowNormalize: 'max',
  sequence: DEFAULT_SEQUENCE_OPTIONS,
};

const FORMAT_VERSION = 2;

interface Graph {
  items: number;
  offsets: Int32Array;
  targets: Int32Array;
  weights: Float32Array;
}

interface Header {
  format: 'lenta-item-to-item';
  version: number;
  items: number;
  edges: number;
  /** Edges of the sequence graph. */
  sequenceEdges: number;
  options: ItemToItemOptions;
  trainedAtSeq: number;
  trainedEvents: number;
}

/** The feature columns (CandidateFeatureProvider), fixed for every trained graph. */
const ITEM_TO_ITEM_FEATURES: readonly string[] = Object.freeze(['score', 'max', 'rel', 'links', 'seq', 'seq_rel']);

export class ItemToItemSource implements TrainableSource, CandidateFeatureProvider {
  readonly name = 'item_to_item';
  readonly options: ItemToItemOptions;
  private graph: Graph | undefined;
  /** The sequence graph and its per-request sums (trained with the graph), and the request's positive history items. */
  private sequence: SequenceScores | undefined;
  private seqHistory = new Int32Array(0);
  /** The request whose history the sequence scores hold (its features read them again without summing). */
  private readonly seqSummed = new RequestMemo<true>();
  private trainedAtSeq = 0;
  private trainedEvents = 0;
  /** Positive events applied since the graph was trained or loaded. */
  staleEvents = 0;

  // Per-request scratch (reused; grown with the catalogue): the history walk's sum, strongest
  // edge and links per touched item (walk()), and the user's whole history (blocked).
  private acc = new Float64Array(0);
  private max = new Float32Array(0);
  private links = new Uint16Array(0);
  private stamp = new Uint32Array(0);
  private blocked = new Uint32Array(0);
  private generation = 0;
  private touched = new Int32Array(0);
  private top: TopK | undefined;
  /** The request whose walk the scratch holds (fetch's, reused by the features of the same request). */
  private readonly walked = new RequestMemo<{ generation: number; touched: number; walked: number }>();

  constructor(options: Partial<ItemToItemOptions> = {}) {
    this.options = { ...DEFAULT_ITEM_TO_ITEM_OPTIONS, ...options };
  }

  /** Items in the trained graph and its edge count (0 before training). */
  get size(): { items: number; edges: number } {
    return { items: this.graph?.items ?? 0, edges: this.graph?.targets.length ?? 0 };
  }

  /** The item's neighbours, strongest first (for tests and explanations). */
  neighboursOf(item: number): { item: number; weight: number }[] {
    const g = this.graph;
    if (!g || item < 0 || item >= g.items) return [];
    const out: { item: number; weight: number }[] = [];
    for (let p = g.offsets[item]!; p < g.offsets[item + 1]!; p++) out.push({ item: g.targets[p]!, weight: g.weights[p]! });
    return out;
  }

  enabled(q: FeedQuery): boolean {
    return q.user >= 0 && this.graph !== undefined && q.state.history.size(q.user) > 0;
  }

  async train(ctx: SourceTrainingContext): Promise<void> {
    const { state, store } = ctx;
    // 1. Positive (user, item) pairs of the log, in log order.
    let users: number[] = [];
    let items: number[] = [];
    let lastSeq = 0;
    let events = 0;
    let maxUser = -1;
    let maxItem = state.items - 1;
    const pu: number[] = [];
    const pi: number[] = [];
    for await (const chunk of store.readLog(0, 65536, false)) {
      for (let r = 0; r < chunk.length; r++) {
        if (chunk.seq[r]! > lastSeq) lastSeq = chunk.seq[r]!;
        if (chunk.kind[r] !== LOG_EVENT) continue;
        const type = chunk.type[r]!;
        if (!(state.polarity[type]! > 0)) continue;
        const u = chunk.user[r]!;
        const i = chunk.target[r]!;
        if (u < 0 || i < 0) continue;
        pu.push(u);
        pi.push(i);
        events++;
        if (u > maxUser) maxUser = u;
        if (i > maxItem) maxItem = i;
      }
      ctx.onProgress?.(0, 1, `read ${events} positive events`);
    }
    users = pu;
    items = pi;
    const numItems = maxItem + 1;
    const numUsers = maxUser + 1;

    // 2. user → distinct items (newest `maxItemsPerUser`), as CSR.
    const perUser = new Int32Array(numUsers);
    for (let e = 0; e < users.length; e++) perUser[users[e]!]!++;
    const uStart = new Int32Array(numUsers + 1);
    for (let u = 0; u < numUsers; u++) uStart[u + 1] = uStart[u]! + perUser[u]!;
    const raw = new Int32Array(users.length);
    const fill = uStart.slice(0, numUsers);
    for (let e = 0; e < users.length; e++) raw[fill[users[e]!]!++] = items[e]!;
    users = [];
    items = [];
    const mark = new Int32Array(numItems).fill(-1);
    const uOffsets = new Int32Array(numUsers + 1);
    const uItems: number[] = [];
    const cap = this.options.maxItemsPerUser;
    for (let u = 0; u < numUsers; u++) {
      let kept = 0;
      // newest first, distinct
      for (let p = uStart[u + 1]! - 1; p >= uStart[u]! && kept < cap; p--) {
        const i = raw[p]!;
        if (mark[i] === u) continue;
        mark[i] = u;
        uItems.push(i);
        kept++;
      }
      uOffsets[u + 1] = uItems.length;
    }
    const userItems = Int32Array.from(uItems);
    // item → users
    const itemDeg = new Int32Array(numItems);
    for (let p = 0; p < userItems.length; p++) itemDeg[userItems[p]!]!++;
    const iOffsets = new Int32Array(numItems + 1);
    for (let i = 0; i < numItems; i++) iOffsets[i + 1] = iOffsets[i]! + itemDeg[i]!;
    const itemUsers = new Int32Array(userItems.length);
    const ifill = iOffsets.slice(0, numItems);
    for (let u = 0; u < numUsers; u++) for (let p = uOffsets[u]!; p < uOffsets[u + 1]!; p++) itemUsers[ifill[userItems[p]!]!++] = u;

    // 3. Rows of the item graph: top `neighbours` per item.
    const { weighting, beta, neighbours: M } = this.options;
    const targetNorm = new Float64Array(numItems);
    for (let j = 0; j < numItems; j++) {
      const d = itemDeg[j]!;
      targetNorm[j] = d === 0 ? 0 : weighting === 'rp3b' ? 1 / Math.pow(d, beta) : 1 / Math.sqrt(d);
    }
    const userWeight = new Float64Array(numUsers);
    for (let u = 0; u < numUsers; u++) {
      const d = uOffsets[u + 1]! - uOffsets[u]!;
      userWeight[u] = d === 0 ? 0 : weighting === 'rp3b' ? 1 / d : 1;
    }
    const acc = new Float64Array(numItems);
    const touched = new Int32Array(numItems);
    const heap = new TopK(M);
    const rows = new TopRowsWriter(numItems, M);
    const progressEvery = Math.max(1, Math.floor(numItems / 100));
    for (let i = 0; i < numItems; i++) {
      let nt = 0;
      for (let p = iOffsets[i]!; p < iOffsets[i + 1]!; p++) {
        const u = itemUsers[p]!;
        const wu = userWeight[u]!;
        for (let q = uOffsets[u]!; q < uOffsets[u + 1]!; q++) {
          const j = userItems[q]!;
          if (j === i) continue;
          if (acc[j] === 0) touched[nt++] = j;
          acc[j] += wu;
        }
      }
      heap.reset();
      for (let t = 0; t < nt; t++) {
        const j = touched[t]!;
        heap.push(j, acc[j]! * targetNorm[j]!);
        acc[j] = 0;
      }
      const n = heap.drainSorted();
      const deg = itemDeg[i]!;
      const top = n === 0 ? 0 : this.options.rowNormalize === 'max' ? heap.outScores[0]! : weighting === 'rp3b' ? deg : Math.sqrt(deg);
      rows.append(i, heap, n, top);
      if (i % progressEvery === 0) {
        ctx.onProgress?.(i, numItems, 'item graph');
        if (i % (progressEvery * 10) === 0) await yieldToLoop();
      }
    }
    // 4. The sequence graph, from each user's newest `maxItemsPerUser` positive events in log order.
    ctx.onProgress?.(numItems, numItems, 'sequence graph');
    const seqStart = new Int32Array(numUsers + 1);
    for (let u = 0; u < numUsers; u++) seqStart[u + 1] = seqStart[u]! + Math.min(cap, uStart[u + 1]! - uStart[u]!);
    const seq = new Int32Array(seqStart[numUsers]!);
    for (let u = 0; u < numUsers; u++) seq.set(raw.subarray(uStart[u + 1]! - (seqStart[u + 1]! - seqStart[u]!), uStart[u + 1]!), seqStart[u]!);
    await yieldToLoop();
    this.sequence = new SequenceScores(buildSequenceGraph(seq, seqStart, numItems, this.options.sequence));
    let graph: Graph = { items: numItems, ...rows.finish() };
    if (this.options.tagEdges > 0) graph = addTagEdges(graph, state, itemDeg, this.options);
    this.graph = graph;
    this.trainedAtSeq = lastSeq;
    this.trainedEvents = events;
    this.staleEvents = 0;
    ctx.onProgress?.(numItems, numItems, 'item graph');
  }

  update(state: OnlineState, _items: readonly ItemRecord[], chunk: LogChunk): void {
    for (let r = 0; r < chunk.length; r++) {
      if (chunk.kind[r] === LOG_EVENT && state.polarity[chunk.type[r]!]! > 0) this.staleEvents++;
    }
  }

  async save(dir: string): Promise<void> {
    const g = this.graph;
    const sg = this.sequence?.graph;
    if (!g || !sg) throw new Error('item_to_item: save() before train()');
    const header: Header = {
      format: 'lenta-item-to-item',
      version: FORMAT_VERSION,
      items: g.items,
      edges: g.targets.length,
      sequenceEdges: sg.targets.length,
      options: this.options,
      trainedAtSeq: this.trainedAtSeq,
      trainedEvents: this.trainedEvents,
    };
    await writeFile(join(dir, `${this.name}.offsets.bin`), bytesOf(g.offsets));
    await writeFile(join(dir, `${this.name}.targets.bin`), bytesOf(g.targets));
    await writeFile(join(dir, `${this.name}.weights.bin`), bytesOf(g.weights));
    await writeFile(join(dir, `${this.name}.seq-offsets.bin`), bytesOf(sg.offsets));
    await writeFile(join(dir, `${this.name}.seq-targets.bin`), bytesOf(sg.targets));
    await writeFile(join(dir, `${this.name}.seq-weights.bin`), bytesOf(sg.weights));
    // The header last: a reader that finds it finds complete arrays.
    await writeFile(join(dir, `${this.name}.json`), JSON.stringify(header, null, 2) + '\n');
  }

  async load(dir: string, ctx: SourceTrainingContext): Promise<boolean> {
    let header: Header;
    try {
      header = JSON.parse(await readFile(join(dir, `${this.name}.json`), 'utf8')) as Header;
    } catch {
      return false;
    }
    if (header.format !== 'lenta-item-to-item' || header.version !== FORMAT_VERSION) return false;
    // Artifacts of another (or a newer) log do not fit this state.
    if (header.items > Math.max(ctx.state.items, 0) || header.trainedAtSeq > ctx.state.lastSeq) return false;
    try {
      const offsets = new Int32Array(toArrayBuffer(await readFile(join(dir, `${this.name}.offsets.bin`))));
      const targets = new Int32Array(toArrayBuffer(await readFile(join(dir, `${this.name}.targets.bin`))));
      const weights = new Float32Array(toArrayBuffer(await readFile(join(dir, `${this.name}.weights.bin`))));
      if (offsets.length !== header.items + 1 || targets.length !== header.edges || weights.length !== header.edges) return false;
      if (offsets[header.items] !== header.edges) return false;
      const so = new Int32Array(toArrayBuffer(await readFile(join(dir, `${this.name}.seq-offsets.bin`))));
      const st = new Int32Array(toArrayBuffer(await readFile(join(dir, `${this.name}.seq-targets.bin`))));
      const sw = new Float32Array(toArrayBuffer(await readFile(join(dir, `${this.name}.seq-weights.bin`))));
      if (so.length !== header.items + 1 || st.length !== header.sequenceEdges || sw.length !== header.sequenceEdges || so[header.items] !== header.sequenceEdges) return false;
      this.graph = { items: header.items, offsets, targets, weights };
      this.sequence = new SequenceScores({ items: header.items, offsets: so, targets: st, weights: sw });
    } catch {
      return false;
    }
    this.trainedAtSeq = header.trainedAtSeq;
    this.trainedEvents = header.trainedEvents;
    this.staleEvents = 0;
    return true;
  }

  private ensureScratch(n: number): void {
    if (this.acc.length < n) {
      const cap = Math.max(n, this.acc.length * 2, 1024);
      this.acc = new Float64Array(cap);
      this.max = new Float32Array(cap);
      this.links = new Uint16Array(cap);
      this.stamp = new Uint32Array(cap);
      this.blocked = new Uint32Array(cap);
      this.touched = new Int32Array(cap);
      this.generation = 0;
    }
  }

  /**
   * The request's walk of the user's newest positive history items (each once, weighted by
   * recency) over the graph, in a new generation of the scratch: per touched item the weighted
   * sum of edge weights (`acc`; −1 for a history item: not a candidate), the strongest edge and
   * the number of history items linking to it. Kept for the rest of the request: the features
   * of the request fetch() walked for reuse it.
   */
  private walk(q: FeedQuery, g: Graph): { generation: number; touched: number; walked: number } {
    const kept = this.walked.get(q, g);
    if (kept && kept.generation === this.generation) return kept;
    this.ensureScratch(Math.max(q.state.items, g.items));
    if (++this.generation === 0xffffffff) {
      this.stamp.fill(0);
      this.blocked.fill(0);
      this.generation = 1;
    }
    const gen = this.generation;
    const { acc, max, links, stamp, touched } = this;
    const { historyItems, recencyRank } = this.options;
    const polarity = q.state.polarity;
    let nt = 0;
    let k = 0;
    q.state.history.forEachRecent(q.user, (item, type) => {
      if (!(polarity[type]! > 0) || item < 0 || item >= g.items) return;
      // Several engagements with one item: only the newest counts (the stamp marks it once).
      if (stamp[item] === gen && acc[item]! < 0) return;
      const w = 1 / (1 + k / recencyRank);
      k++;
      for (let p = g.offsets[item]!; p < g.offsets[item + 1]!; p++) {
        const j = g.targets[p]!;
        const e = g.weights[p]!;
        if (stamp[j] !== gen) {
          stamp[j] = gen;
          acc[j] = 0;
          max[j] = 0;
          links[j] = 0;
          touched[nt++] = j;
        } else if (acc[j]! < 0) continue;
        acc[j] += w * e;
        if (e > max[j]!) max[j] = e;
        if (links[j]! < 65535) links[j]!++;
      }
      // Mark the history item as used (negative accumulator = "history, not a candidate").
      if (stamp[item] !== gen) touched[nt++] = item;
      stamp[item] = gen;
      acc[item] = -1;
      return k < historyItems;
    });
    return this.walked.set(q, g, { generation: gen, touched: nt, walked: k });
  }

  fetch(q: FeedQuery, budget: number): Candidate[] {
    const g = this.graph;
    const state = q.state;
    const user = q.user;
    if (!g || user < 0 || budget <= 0 || state.history.size(user) === 0) return [];
    const walk = this.walk(q, g);
    // The user's own history (any polarity) is never proposed.
    const { blocked } = this;
    const gen = this.generation;
    const n = blocked.length;
    state.history.forEachRecent(user, (item) => {
      if (item >= 0 && item < n) blocked[item] = gen;
    });
    return this.select(q, walk.touched, budget);
  }

  /**
   * Feature columns (CandidateFeatureProvider): the candidate's similarity to the user's recent
   * positive history on the co-engagement graph, for every candidate — `score`: the
   * recency-weighted sum of the edge weights from the history items to it (the score fetch()
   * ranks by), `max`: the strongest single edge (rows are scaled to a largest weight of 1),
   * `rel`: score over the user's best score of any item outside the history, `links`: the share
   * of those history items that point to it (a share, not a count: counts grow with the history,
   * and the ranker learns on a shadow whose users have shorter histories than when served). 0 for a known item no history item points to; NaN for a user
   * with no history item in the graph and for items newer than the graph. Empty before training.
   */
  featureNames(): readonly string[] {
    return this.graph ? ITEM_TO_ITEM_FEATURES : [];
  }

  candidateFeatures(q: FeedQuery, candidates: readonly Candidate[], out: Float32Array, stride: number, offset: number): void {
    const g = this.graph;
    const width = ITEM_TO_ITEM_FEATURES.length;
    if (!g || q.user < 0 || q.state.history.size(q.user) === 0) return fillMissing(out, candidates.length, stride, offset, width);
    // fetch()'s walk when it ran in this request, else the same walk now.
    const { touched: nt, walked: k } = this.walk(q, g);
    const n = g.items;
    const gen = this.generation;
    if (k === 0) return fillMissing(out, candidates.length, stride, offset, width);
    const { acc, max, links, stamp, touched } = this;
    let best = 0;
    // The best score outside the history (history items, at −1, point at each other).
    for (let t = 0; t < nt; t++) if (acc[touched[t]!]! > best) best = acc[touched[t]!]!;
    for (let i = 0; i < candidates.length; i++) {
      const j = candidates[i]!.item;
      const row = i * stride + offset;
      if (!(j >= 0 && j < n) || (stamp[j] === gen && acc[j]! < 0)) {
        out.fill(NaN, row, row + width);
        continue;
      }
      const hit = stamp[j] === gen;
      const s = hit ? acc[j]! : 0;
      out[row] = s;
      out[row + 1] = hit ? max[j]! : 0;
      out[row + 2] = best > 0 ? s / best : NaN;
      out[row + 3] = hit ? links[j]! / k : 0;
    }
    this.sequenceFeatures(q, candidates, out, stride, offset + 4);
  }

  /**
   * `seq`: the sum of the candidate's sequence-graph weights from every positive history item
   * the state holds (not only the newest `historyItems`, unweighted: which items were engaged
   * together matters, not how long ago); `seq_rel`: over the user's best sum outside the history.
   */
  private sequenceFeatures(q: FeedQuery, candidates: readonly Candidate[], out: Float32Array, stride: number, offset: number): void {
    const sq = this.sequence;
    if (!sq) return fillMissing(out, candidates.length, stride, offset, 2);
    if (!this.seqSummed.get(q, sq)) {
      const polarity = q.state.polarity;
      let n = 0;
      if (this.seqHistory.length < q.state.history.capacity) this.seqHistory = new Int32Array(q.state.history.capacity);
      const items = this.seqHistory;
      q.state.history.forEachRecent(q.user, (item, type) => {
        if (polarity[type]! > 0) items[n++] = item;
      });
      sq.sum(items, n);
      this.seqSummed.set(q, sq, true);
    }
    if (sq.summed === 0) return fillMissing(out, candidates.length, stride, offset, 2);
    const best = sq.best();
    for (let i = 0; i < candidates.length; i++) {
      const row = i * stride + offset;
      const s = sq.score(candidates[i]!.item);
      out[row] = s;
      out[row + 1] = best > 0 && s === s ? s / best : NaN;
    }
  }

  private select(q: FeedQuery, nt: number, budget: number): Candidate[] {
    const { acc, blocked, touched } = this;
    const gen = this.generation;
    const top = (this.top = heapFor(this.top, budget));
    for (let t = 0; t < nt; t++) {
      const j = touched[t]!;
      const s = acc[j]!;
      if (!top.accepts(j, s) || blocked[j] === gen || !servable(q, j)) continue;
      top.push(j, s);
    }
    return candidatesFromTopK(top, this.name, q);
  }
}

/** Items sharing rare tags with a sparsely connected item get weak edges to it (idf-weighted). */
function addTagEdges(g: Graph, state: OnlineState, itemDeg: Int32Array, options: ItemToItemOptions): Graph {
  const n = g.items;
  const tagItems = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const tags = state.tags(i);
    if (!tags) continue;
    for (let k = 0; k < tags.length; k++) {
      let list = tagItems.get(tags[k]!);
      if (!list) tagItems.set(tags[k]!, (list = []));
      list.push(i);
    }
  }
  const maxTagItems = 2000;
  const acc = new Float64Array(n);
  const touched = new Int32Array(n);
  const heap = new TopK(options.neighbours);
  const offsets = new Int32Array(n + 1);
  const targets: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = g.offsets[i]!;
    const end = g.offsets[i + 1]!;
    for (let p = start; p < end; p++) {
      targets.push(g.targets[p]!);
      weights.push(g.weights[p]!);
    }
    const tags = state.tags(i);
    if (end - start < options.tagEdges && tags) {
      let nt = 0;
      for (let k = 0; k < tags.length; k++) {
        const list = tagItems.get(tags[k]!)!;
        if (list.length > maxTagItems || list.length < 2) continue;
        const idf = Math.log(n / list.length);
        for (const j of list) {
          if (j === i || itemDeg[j] === 0) continue;
          if (acc[j] === 0) touched[nt++] = j;
          acc[j] += idf;
        }
      }
      heap.reset();
      for (let t = 0; t < nt; t++) {
        const j = touched[t]!;
        // Prefer engaged items among equally tagged ones (log-popularity tie-break).
        heap.push(j, acc[j]! * (1 + 0.01 * Math.log1p(itemDeg[j]!)));
        acc[j] = 0;
      }
      const m = heap.drainSorted();
      const top = m > 0 ? heap.outScores[0]! : 0;
      let added = 0;
      for (let r = 0; r < m && end - start + added < options.neighbours; r++) {
        const j = heap.outItems[r]!;
        let dup = false;
        for (let p = start; p < end; p++) if (g.targets[p] === j) dup = true;
        if (dup) continue;
        targets.push(j);
        weights.push((options.tagEdgeWeight * heap.outScores[r]!) / top);
        added++;
      }
    }
    offsets[i + 1] = targets.length;
  }
  return { items: n, offsets, targets: Int32Array.from(targets), weights: Float32Array.from(weights) };
}

function bytesOf(a: Int32Array | Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
