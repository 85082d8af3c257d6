/**
 * Bounded top-k selection of (item, score) pairs on parallel typed arrays: a min-heap with
 * the worst kept pair at the root. Higher score wins; among equal scores the newer (larger)
 * item id. Used by the candidate sources that rank many items per request.
 */
/** Higher score first; among equal scores the newer (larger) item id. */
export function better(sa: number, a: number, sb: number, b: number): boolean {
  return sa > sb || (sa === sb && a > b);
}

/** Min-heap (worst at the root) on parallel arrays. */
export function siftUp(items: Int32Array, scores: Float64Array, pos: number): void {
  const it = items[pos]!;
  const s = scores[pos]!;
  while (pos > 0) {
    const parent = (pos - 1) >> 1;
    if (!better(scores[parent]!, items[parent]!, s, it)) break;
    items[pos] = items[parent]!;
    scores[pos] = scores[parent]!;
    pos = parent;
  }
  items[pos] = it;
  scores[pos] = s;
}

export function siftDown(items: Int32Array, scores: Float64Array, size: number, pos: number): void {
  const it = items[pos]!;
  const s = scores[pos]!;
  for (;;) {
    let child = 2 * pos + 1;
    if (child >= size) break;
    if (child + 1 < size && better(scores[child]!, items[child]!, scores[child + 1]!, items[child + 1]!)) child++;
    if (!better(s, it, scores[child]!, items[child]!)) break;
    items[pos] = items[child]!;
    scores[pos] = scores[child]!;
    pos = child;
  }
  items[pos] = it;
  scores[pos] = s;
}

/** A bounded top-k of (item, score) pairs, drained best first into outItems/outScores. */
export class TopK {
  private items: Int32Array;
  private scores: Float64Array;
  private size = 0;
  readonly outItems: Int32Array;
  readonly outScores: Float64Array;

  /**
   * Only scores above `floor` are kept: 0 by default (a source's zero score means "no
   * evidence"); −Infinity for sources whose real scores may be 0 or negative (e.g. a recency
   * decay that underflows on an old catalogue).
   */
  constructor(
    readonly k: number,
    readonly floor = 0,
  ) {
    this.items = new Int32Array(k);
    this.scores = new Float64Array(k);
    this.outItems = new Int32Array(k);
    this.outScores = new Float64Array(k);
  }

  reset(): void {
    this.size = 0;
  }

  /** Whether k pairs are kept (a push now replaces the worst). */
  get full(): boolean {
    return this.size >= this.k;
  }

  /** The worst kept score (NaN when empty). */
  get worstScore(): number {
    return this.size > 0 ? this.scores[0]! : NaN;
  }

  /** Whether push(item, score) would keep the pair now (to skip costlier checks first). */
  accepts(item: number, score: number): boolean {
    return score > this.floor && (this.size < this.k || (this.k > 0 && better(score, item, this.scores[0]!, this.items[0]!)));
  }

  push(item: number, score: number): void {
    if (!(score > this.floor)) return;
    if (this.size < this.k) {
      this.items[this.size] = item;
      this.scores[this.size] = score;
      siftUp(this.items, this.scores, this.size++);
    } else if (this.k > 0 && better(score, item, this.scores[0]!, this.items[0]!)) {
      this.items[0] = item;
      this.scores[0] = score;
      siftDown(this.items, this.scores, this.size, 0);
    }
  }

  /** Moves the kept pairs, best first, to outItems/outScores; returns their count. */
  drainSorted(): number {
    const n = this.size;
    for (let r = n - 1; r >= 0; r--) {
      this.outItems[r] = this.items[0]!;
      this.outScores[r] = this.scores[0]!;
      this.items[0] = this.items[r]!;
      this.scores[0] = this.scores[r]!;
      siftDown(this.items, this.scores, r, 0);
    }
    this.size = 0;
    return n;
  }
}

/**
 * Rows of a top-k graph, written one after the other into growing CSR arrays: row i = a drained
 * TopK's entries (best first), each weight divided by `scale` (0 when scale ≤ 0).
 */
export class TopRowsWriter {
  private readonly offsets: Int32Array;
  private targets: Int32Array;
  private weights: Float32Array;
  private nnz = 0;

  constructor(rows: number, perRow: number) {
    this.offsets = new Int32Array(rows + 1);
    this.targets = new Int32Array(Math.min(rows * perRow, 1 << 20) || 16);
    this.weights = new Float32Array(this.targets.length);
  }

  /** Row `row` (rows in order): the `n` entries the heap just drained (`heap.drainSorted()`'s count). */
  append(row: number, heap: TopK, n: number, scale: number): void {
    if (this.nnz + n > this.targets.length) {
      const targets = new Int32Array(Math.max(this.targets.length * 2, this.nnz + n));
      targets.set(this.targets);
      this.targets = targets;
      const weights = new Float32Array(targets.length);
      weights.set(this.weights);
      this.weights = weights;
    }
    for (let k = 0; k < n; k++) {
      this.targets[this.nnz + k] = heap.outItems[k]!;
      this.weights[this.nnz + k] = scale > 0 ? heap.outScores[k]! / scale : 0;
    }
    this.nnz += n;
    this.offsets[row + 1] = this.nnz;
  }

  finish(): { offsets: Int32Array; targets: Int32Array; weights: Float32Array } {
    return { offsets: this.offsets, targets: this.targets.slice(0, this.nnz), weights: this.weights.slice(0, this.nnz) };
  }
}

/**
 * Indices 0…n−1 into out[0…n), ordered by score descending, then by tie (ascending): the order
 * of `sort((a, b) => scores[b] − scores[a] || ties[a] − ties[b])` when the ties are distinct,
 * with NaN scores last. A quicksort on typed arrays: no comparator calls (each would box the
 * score difference), and no garbage but two closures a call.
 */
export function orderByScore(scores: ArrayLike<number>, ties: ArrayLike<number>, n: number, out: Int32Array): Int32Array {
  if (out.length < n) throw new Error(`out: room for ${out.length} indices, ${n} needed`);
  if (orderKeys.s.length < n) orderKeys = { s: new Float64Array(Math.max(n, 2 * orderKeys.s.length)), t: new Float64Array(Math.max(n, 2 * orderKeys.s.length)) };
  const { s, t } = orderKeys;
  for (let i = 0; i < n; i++) {
    const v = scores[i]!;
    s[i] = v === v ? v : -Infinity;
    t[i] = ties[i]!;
    out[i] = i;
  }
  // before(i, j): i comes first.
  const before = (i: number, j: number): boolean => s[i]! > s[j]! || (s[i] === s[j] && (t[i]! < t[j]! || (t[i] === t[j] && i < j)));
  const sortRange = (lo: number, hi: number): void => {
    while (hi - lo > 16) {
      // The median of three as the pivot.
      const a = out[lo]!;
      const b = out[(lo + hi) >> 1]!;
      const c = out[hi]!;
      const pivot = before(a, b) ? (before(b, c) ? b : before(a, c) ? c : a) : before(a, c) ? a : before(b, c) ? c : b;
      let x: number;
      let i = lo;
      let j = hi;
      while (i <= j) {
        while (before(out[i]!, pivot)) i++;
        while (before(pivot, out[j]!)) j--;
        if (i <= j) {
          x = out[i]!;
          out[i++] = out[j]!;
          out[j--] = x;
        }
      }
      // The smaller side by recursion, the larger by the loop (depth O(log n)).
      if (j - lo < hi - i) {
        sortRange(lo, j);
        lo = i;
      } else {
        sortRange(i, hi);
        hi = j;
      }
    }
    for (let k = lo + 1; k <= hi; k++) {
      const x = out[k]!;
      let m = k - 1;
      while (m >= lo && before(x, out[m]!)) {
        out[m + 1] = out[m]!;
        m--;
      }
      out[m + 1] = x;
    }
  };
  if (n > 1) sortRange(0, n - 1);
  return out;
}

let orderKeys = { s: new Float64Array(0), t: new Float64Array(0) };
