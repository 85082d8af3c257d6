/**
 * The sequence graph: items that users engage with *close together in time*. Where the
 * co-engagement graph (candidates/item-to-item.ts) links two items when the same users engaged
 * with both at any time, this one links them when they sit within `window` positions of each
 * other in a user's timeline of positive engagements (a session, a binge, a rating spree):
 *
 *   W(i, j) = Σ_{users, positions p of i, 1 ≤ d ≤ window, j at p ± d} 1/d  /  √(occ(i) · occ(j))
 *
 * symmetric, each row's top `neighbours` kept (CSR, typed arrays). A user's score of an item is
 * the sum of its weights from the user's positive history items. EASE sees a history as a set
 * and misses which items were rated together; on MovieLens (random 20% split) the heavy ranker
 * gains from this signal next to EASE (README: Recommendation quality).
 */
import { TopK, TopRowsWriter } from '../top-k.js';

export interface SequenceGraphOptions {
  /** Positions on either side of an engagement that count as "close" (weighted 1/distance). */
  window: number;
  /** Neighbours kept per item. */
  neighbours: number;
}

export const DEFAULT_SEQUENCE_OPTIONS: SequenceGraphOptions = { window: 3, neighbours: 100 };

export interface SequenceGraphArrays {
  items: number;
  offsets: Int32Array;
  targets: Int32Array;
  weights: Float32Array;
}

/**
 * Builds the graph from users' timelines: `seq[start[u] .. start[u+1])` is user u's positive
 * items in time order (repeats allowed: a repeat is not its own neighbour). `items` bounds the
 * item ids; ids outside [0, items) are skipped.
 */
export function buildSequenceGraph(seq: Int32Array, start: Int32Array, items: number, options: SequenceGraphOptions = DEFAULT_SEQUENCE_OPTIONS): SequenceGraphArrays {
  const users = start.length - 1;
  const window = Math.max(1, Math.floor(options.window));
  // Each position's owner, and item → its positions (CSR).
  const owner = new Int32Array(seq.length);
  const occ = new Int32Array(items);
  for (let u = 0; u < users; u++) {
    for (let p = start[u]!; p < start[u + 1]!; p++) {
      owner[p] = u;
      const i = seq[p]!;
      if (i >= 0 && i < items) occ[i]!++;
    }
  }
  const posStart = new Int32Array(items + 1);
  for (let i = 0; i < items; i++) posStart[i + 1] = posStart[i]! + occ[i]!;
  const positions = new Int32Array(posStart[items]!);
  const fill = posStart.slice(0, items);
  for (let p = 0; p < seq.length; p++) {
    const i = seq[p]!;
    if (i >= 0 && i < items) positions[fill[i]!++] = p;
  }
  const acc = new Float64Array(items);
  const touched = new Int32Array(items);
  const heap = new TopK(options.neighbours);
  const rows = new TopRowsWriter(items, options.neighbours);
  for (let i = 0; i < items; i++) {
    let nt = 0;
    for (let q = posStart[i]!; q < posStart[i + 1]!; q++) {
      const p = positions[q]!;
      const u = owner[p]!;
      const lo = start[u]!;
      const hi = start[u + 1]!;
      for (let d = 1; d <= window; d++) {
        const w = 1 / d;
        if (p - d >= lo) {
          const j = seq[p - d]!;
          if (j !== i && j >= 0 && j < items) {
            if (acc[j] === 0) touched[nt++] = j;
            acc[j] += w;
          }
        }
        if (p + d < hi) {
          const j = seq[p + d]!;
          if (j !== i && j >= 0 && j < items) {
            if (acc[j] === 0) touched[nt++] = j;
            acc[j] += w;
          }
        }
      }
    }
    heap.reset();
    const oi = occ[i]!;
    for (let t = 0; t < nt; t++) {
      const j = touched[t]!;
      heap.push(j, acc[j]! / Math.sqrt(oi * occ[j]!));
      acc[j] = 0;
    }
    rows.append(i, heap, heap.drainSorted(), 1);
  }
  return { items, ...rows.finish() };
}

/**
 * A request's scores on the sequence graph: sum(history) adds each history item's row (its
 * neighbours) into a generation-stamped accumulator, keeping the largest sum of an item outside
 * the history (best()); score(j) reads an item's sum (0 when no history item links to it).
 */
export class SequenceScores {
  private acc = new Float64Array(0);
  private stamp = new Uint32Array(0);
  private inHistory = new Uint32Array(0);
  private distinct = new Int32Array(0);
  private generation = 0;
  private top = 0;
  /** History items summed in this generation. */
  summed = 0;

  constructor(readonly graph: SequenceGraphArrays) {}

  /**
   * A new request: the sums of the rows of `history[0..n)` (each item once; items outside the
   * graph are ignored). The history is marked first, so the best sum outside it is kept on the
   * way (the weights are positive: a sum only grows).
   */
  sum(history: Int32Array, n: number): void {
    const g = this.graph;
    if (this.acc.length < g.items) {
      this.acc = new Float64Array(g.items);
      this.stamp = new Uint32Array(g.items);
      this.inHistory = new Uint32Array(g.items);
      this.generation = 0;
    }
    if (this.distinct.length < n) this.distinct = new Int32Array(Math.max(n, 2 * this.distinct.length));
    if (++this.generation === 0xffffffff) {
      this.stamp.fill(0);
      this.inHistory.fill(0);
      this.generation = 1;
    }
    const gen = this.generation;
    const { acc, stamp, inHistory: marked, distinct } = this;
    let m = 0;
    for (let k = 0; k < n; k++) {
      const item = history[k]!;
      if (item >= 0 && item < g.items && marked[item] !== gen) (marked[item] = gen), (distinct[m++] = item);
    }
    this.summed = m;
    let top = 0;
    for (let k = 0; k < m; k++) {
      const item = distinct[k]!;
      for (let p = g.offsets[item]!; p < g.offsets[item + 1]!; p++) {
        const j = g.targets[p]!;
        if (stamp[j] !== gen) (stamp[j] = gen), (acc[j] = 0);
        const s = (acc[j] += g.weights[p]!);
        if (s > top && marked[j] !== gen) top = s;
      }
    }
    this.top = top;
  }

  /** The item's summed weight; NaN for a history item or an item outside the graph. */
  score(item: number): number {
    if (item < 0 || item >= this.graph.items || this.inHistory[item] === this.generation) return NaN;
    return this.stamp[item] === this.generation ? this.acc[item]! : 0;
  }

  /** The largest sum of an item outside the history (0 when none). */
  best(): number {
    return this.top;
  }
}
