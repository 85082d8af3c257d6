/**
 * Per-node lists on typed arrays: adjacency sets (follow graph) and bounded rings (recent
 * history, engagers, seen items). One small typed array per node that has entries, grown by
 * doubling; nodes without entries cost nothing.
 */

const EMPTY_INTS = new Int32Array(0);

/** Sets of ints per node (e.g. who a user follows). Insert/remove are O(degree). */
export class AdjacencySets {
  private lists: (Int32Array | undefined)[] = [];
  private lengths: number[] = [];
  private total = 0;

  get edges(): number {
    return this.total;
  }

  get bytes(): number {
    let b = 0;
    for (const l of this.lists) if (l) b += l.byteLength;
    return b;
  }

  size(node: number): number {
    return this.lengths[node] ?? 0;
  }

  /** Largest node index that ever had an entry (−1 when none). */
  get maxNode(): number {
    return this.lists.length - 1;
  }

  /** The node's members (a view: copy it before mutating the set). */
  get(node: number): Int32Array {
    const l = this.lists[node];
    return l ? l.subarray(0, this.lengths[node]) : EMPTY_INTS;
  }

  has(node: number, value: number): boolean {
    const l = this.lists[node];
    if (!l) return false;
    const n = this.lengths[node];
    for (let i = 0; i < n; i++) if (l[i] === value) return true;
    return false;
  }

  /** Adds; returns false when already present. */
  add(node: number, value: number): boolean {
    if (this.has(node, value)) return false;
    let l = this.lists[node];
    const n = this.lengths[node] ?? 0;
    if (!l) {
      l = new Int32Array(4);
      this.lists[node] = l;
    } else if (n === l.length) {
      const grown = new Int32Array(l.length * 2);
      grown.set(l);
      l = grown;
      this.lists[node] = l;
    }
    l[n] = value;
    this.lengths[node] = n + 1;
    this.total++;
    return true;
  }

  /** Removes (order is not kept); returns false when absent. */
  remove(node: number, value: number): boolean {
    const l = this.lists[node];
    if (!l) return false;
    const n = this.lengths[node];
    for (let i = 0; i < n; i++) {
      if (l[i] === value) {
        l[i] = l[n - 1];
        this.lengths[node] = n - 1;
        this.total--;
        return true;
      }
    }
    return false;
  }
}

/**
 * The latest `capacity` entries per node, each entry an int value with a type code and a
 * timestamp (e.g. a user's recent engagements: item, event type, time). Oldest entries are
 * overwritten first.
 */
export class RingLists {
  readonly capacity: number;
  private values: (Int32Array | undefined)[] = [];
  private types: (Uint8Array | undefined)[] = [];
  private times: (Float64Array | undefined)[] = [];
  /** Total entries ever pushed per node (position of the next write = count % capacity). */
  private counts: number[] = [];
  private readonly withMeta: boolean;

  constructor(capacity: number, withMeta = true) {
    if (!(capacity >= 1)) throw new Error('RingLists: capacity must be ≥ 1');
    this.capacity = capacity;
    this.withMeta = withMeta;
  }

  get bytes(): number {
    let b = 0;
    for (const l of this.values) if (l) b += l.byteLength;
    for (const l of this.types) if (l) b += l.byteLength;
    for (const l of this.times) if (l) b += l.byteLength;
    return b;
  }

  /** Largest node index that ever had an entry (−1 when none). */
  get maxNode(): number {
    return this.counts.length - 1;
  }

  /** Entries currently held for the node. */
  size(node: number): number {
    return Math.min(this.counts[node] ?? 0, this.capacity);
  }

  push(node: number, value: number, type = 0, ts = 0): void {
    const count = this.counts[node] ?? 0;
    let vals = this.values[node];
    if (!vals || (count < this.capacity && count === vals.length)) {
      const len = Math.min(this.capacity, Math.max(4, (vals?.length ?? 0) * 2));
      const grown = new Int32Array(len);
      if (vals) grown.set(vals);
      vals = grown;
      this.values[node] = vals;
      if (this.withMeta) {
        const t = new Uint8Array(len);
        const old = this.types[node];
        if (old) t.set(old);
        this.types[node] = t;
        const ti = new Float64Array(len);
        const oldT = this.times[node];
        if (oldT) ti.set(oldT);
        this.times[node] = ti;
      }
    }
    const pos = count % this.capacity;
    vals[pos] = value;
    if (this.withMeta) {
      this.types[node]![pos] = type;
      this.times[node]![pos] = ts;
    }
    this.counts[node] = count + 1;
  }

  /** Visits the node's entries from newest to oldest; stop early by returning false. */
  forEachRecent(node: number, fn: (value: number, type: number, ts: number) => boolean | void): void {
    const count = this.counts[node] ?? 0;
    if (count === 0) return;
    const vals = this.values[node]!;
    const types = this.types[node];
    const times = this.times[node];
    const n = Math.min(count, this.capacity);
    for (let k = 0; k < n; k++) {
      const pos = (count - 1 - k) % this.capacity;
      if (fn(vals[pos], types ? types[pos] : 0, times ? times[pos] : 0) === false) return;
    }
  }

  /**
   * Raw access for hot loops (no callback per entry). The node holds `size(node)` entries at
   * positions 0..size−1 of these arrays (views: do not write); the newest is at
   * `newestPos(node)` and each older one at the position before it, wrapping from 0 to
   * capacity − 1 (a full ring is exactly `capacity` long). Visiting newest first:
   *
   *   for (let k = 0, pos = ring.newestPos(n); k < size; k++, pos = pos === 0 ? ring.capacity - 1 : pos - 1) …
   */
  valuesOf(node: number): Int32Array {
    return this.values[node] ?? EMPTY_INTS;
  }

  typesOf(node: number): Uint8Array | undefined {
    return this.types[node];
  }

  timesOf(node: number): Float64Array | undefined {
    return this.times[node];
  }

  /** Position of the node's newest entry (−1 when it has none). */
  newestPos(node: number): number {
    const count = this.counts[node] ?? 0;
    return count === 0 ? -1 : (count - 1) % this.capacity;
  }

  /** The node's values, newest first. */
  recentValues(node: number, limit = this.capacity): number[] {
    const out: number[] = [];
    this.forEachRecent(node, (v) => {
      out.push(v);
      return out.length < limit;
    });
    return out;
  }
}
