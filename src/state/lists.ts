/**
 * Per-node lists on typed arrays: adjacency sets (follow graph: one small typed array per node
 * that has members, grown by doubling) and bounded rings (recent history, engagers, seen items:
 * blocks of a few shared arrays, see RingLists). Nodes without entries cost nothing.
 */

const EMPTY_INTS = new Int32Array(0);

/** Nodes with at least this many members also get a hash index (has() in O(1)). */
const INDEX_MIN_DEGREE = 128;

/**
 * Sets of ints per node (e.g. who a user follows). Members are kept in insertion order (a
 * removal moves the last member into the hole). Small sets are scanned; a node with
 * `INDEX_MIN_DEGREE` or more members also keeps an open-addressing hash index (slot → member
 * position + 1, 0 empty; load ≤ 1/2), so has(), add() and remove() stay O(1) for accounts that
 * follow or are followed by thousands.
 */
export class AdjacencySets {
  private lists: (Int32Array | undefined)[] = [];
  private lengths: number[] = [];
  private index: (Int32Array | undefined)[] = [];
  private total = 0;

  get edges(): number {
    return this.total;
  }

  get bytes(): number {
    let b = 0;
    for (const l of this.lists) if (l) b += l.byteLength;
    for (const x of this.index) if (x) b += x.byteLength;
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
    const x = this.index[node];
    if (x) return probe(x, l, value) >= 0;
    const n = this.lengths[node]!;
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
    const x = this.index[node];
    if (x && 2 * (n + 1) <= x.length) insertSlot(x, l, n);
    else if (x || n + 1 >= INDEX_MIN_DEGREE) this.index[node] = buildIndex(l, n + 1);
    return true;
  }

  /** Removes (the last member moves into the hole); returns false when absent. */
  remove(node: number, value: number): boolean {
    const l = this.lists[node];
    if (!l) return false;
    const n = this.lengths[node]!;
    const x = this.index[node];
    let i = -1;
    if (x) {
      const s = probe(x, l, value);
      if (s >= 0) {
        i = x[s]! - 1;
        deleteSlot(x, l, s);
        if (i !== n - 1) {
          // The last member moves to position i: repoint its slot.
          x[probe(x, l, l[n - 1]!)] = i + 1;
        }
      }
    } else {
      for (let k = 0; k < n; k++) {
        if (l[k] === value) {
          i = k;
          break;
        }
      }
    }
    if (i < 0) return false;
    l[i] = l[n - 1]!;
    this.lengths[node] = n - 1;
    this.total--;
    return true;
  }
}

function slotOf(value: number, mask: number): number {
  let h = Math.imul(value, 0x9e3779b1);
  h ^= h >>> 16;
  return h & mask;
}

/** The slot holding `value` (members in `l`), or −1. */
function probe(x: Int32Array, l: Int32Array, value: number): number {
  const mask = x.length - 1;
  for (let s = slotOf(value, mask); ; s = (s + 1) & mask) {
    const p = x[s]!;
    if (p === 0) return -1;
    if (l[p - 1] === value) return s;
  }
}

/** Indexes the member at position `pos` (not yet indexed). */
function insertSlot(x: Int32Array, l: Int32Array, pos: number): void {
  const mask = x.length - 1;
  let s = slotOf(l[pos]!, mask);
  while (x[s] !== 0) s = (s + 1) & mask;
  x[s] = pos + 1;
}

/** Empties slot `s` (linear probing: later entries of its run shift back). */
function deleteSlot(x: Int32Array, l: Int32Array, s: number): void {
  const mask = x.length - 1;
  let hole = s;
  for (let j = (s + 1) & mask; x[j] !== 0; j = (j + 1) & mask) {
    const home = slotOf(l[x[j]! - 1]!, mask);
    // Move j into the hole unless its home lies cyclically in (hole, j].
    if (hole <= j ? home <= hole || home > j : home <= hole && home > j) {
      x[hole] = x[j]!;
      hole = j;
    }
  }
  x[hole] = 0;
}

/** A hash index of the first `n` members of `l`, with room to grow (load ≤ 1/4 after a build). */
function buildIndex(l: Int32Array, n: number): Int32Array {
  let cap = 16;
  while (cap < 4 * n) cap *= 2;
  const x = new Int32Array(cap);
  for (let p = 0; p < n; p++) insertSlot(x, l, p);
  return x;
}

/**
 * The latest `capacity` entries per node, each entry an int value with a type code and a
 * timestamp (e.g. a user's recent engagements: item, event type, time). Oldest entries are
 * overwritten first.
 *
 * Storage is pooled: every node's entries live in a block of a few large shared arrays (slabs),
 * so a million nodes cost a few typed arrays, not three each — millions of small typed arrays
 * made the V8 heap large, and every minor GC walks the old generation's pages (a pause that grows
 * with the heap). A node's block grows by doubling up to `capacity` (4, 8, 16, …, capacity
 * entries); the block it leaves goes to a free list of its size, which the next node to grow
 * through that size reuses.
 */
export class RingLists {
  readonly capacity: number;
  private readonly withMeta: boolean;
  private valueSlabs: Int32Array[] = [];
  private typeSlabs: Uint8Array[] = [];
  private timeSlabs: Float64Array[] = [];
  /** With `withStrength`: each entry's strength (an event's value: rating stars, dwell; NaN for none). */
  private strengthSlabs: Float32Array[] = [];
  private readonly withStrength: boolean;
  /** Entries used in the newest slab (blocks are cut from its end). */
  private slabUsed = 0;
  /** Per node: its slab, the block's first entry in it, the block's length (0: no block). */
  private slabOf = new Int32Array(0);
  private baseOf = new Int32Array(0);
  private allocOf = new Int32Array(0);
  /** Total entries ever pushed per node (position of the next write = count % capacity). */
  private counts = new Float64Array(0);
  private maxPushed = -1;
  /** Free blocks per block length: [slab, base, slab, base, …]. */
  private readonly free = new Map<number, number[]>();

  constructor(capacity: number, withMeta = true, withStrength = false) {
    if (!(capacity >= 1)) throw new Error('RingLists: capacity must be ≥ 1');
    this.capacity = capacity;
    this.withMeta = withMeta;
    this.withStrength = withMeta && withStrength;
  }

  get bytes(): number {
    let b = this.slabOf.byteLength + this.baseOf.byteLength + this.allocOf.byteLength + this.counts.byteLength;
    for (const l of this.valueSlabs) b += l.byteLength;
    for (const l of this.typeSlabs) b += l.byteLength;
    for (const l of this.timeSlabs) b += l.byteLength;
    for (const l of this.strengthSlabs) b += l.byteLength;
    return b;
  }

  /** Largest node index that ever had an entry (−1 when none). */
  get maxNode(): number {
    return this.maxPushed;
  }

  /** Entries currently held for the node. */
  size(node: number): number {
    return node < this.counts.length ? Math.min(this.counts[node]!, this.capacity) : 0;
  }

  push(node: number, value: number, type = 0, ts = 0, strength = NaN): void {
    if (node >= this.counts.length) this.growNodes(node + 1);
    if (node > this.maxPushed) this.maxPushed = node;
    const count = this.counts[node]!;
    const alloc = this.allocOf[node]!;
    if (alloc === 0 || (count < this.capacity && count === alloc)) this.growBlock(node, alloc, Math.min(this.capacity, Math.max(4, alloc * 2)));
    const at = this.baseOf[node]! + (count % this.capacity);
    const slab = this.slabOf[node]!;
    this.valueSlabs[slab]![at] = value;
    if (this.withMeta) {
      this.typeSlabs[slab]![at] = type;
      this.timeSlabs[slab]![at] = ts;
      if (this.withStrength) this.strengthSlabs[slab]![at] = strength;
    }
    this.counts[node] = count + 1;
  }

  /** Visits the node's entries from newest to oldest (strength: NaN without `withStrength`); stop early by returning false. */
  forEachRecent(node: number, fn: (value: number, type: number, ts: number, strength: number) => boolean | void): void {
    const count = node < this.counts.length ? this.counts[node]! : 0;
    if (count === 0) return;
    const slab = this.slabOf[node]!;
    const base = this.baseOf[node]!;
    const vals = this.valueSlabs[slab]!;
    const types = this.withMeta ? this.typeSlabs[slab] : undefined;
    const times = this.withMeta ? this.timeSlabs[slab] : undefined;
    const strengths = this.withStrength ? this.strengthSlabs[slab] : undefined;
    const n = Math.min(count, this.capacity);
    for (let k = 0; k < n; k++) {
      const at = base + ((count - 1 - k) % this.capacity);
      if (fn(vals[at]!, types ? types[at]! : 0, times ? times[at]! : 0, strengths ? strengths[at]! : NaN) === false) return;
    }
  }

  /**
   * Raw access for hot loops (no callback per entry). The node's `size(node)` entries are at
   * `base(node) + p` for positions p = 0..size−1 of these shared arrays (do not write); the
   * newest is at position `newestPos(node)` and each older one at the position before it,
   * wrapping from 0 to capacity − 1 (a full ring is exactly `capacity` long). Newest first:
   *
   *   const vals = ring.valuesOf(n), b = ring.base(n);
   *   for (let k = 0, pos = ring.newestPos(n); k < size; k++, pos = pos === 0 ? ring.capacity - 1 : pos - 1) … vals[b + pos] …
   */
  valuesOf(node: number): Int32Array {
    return node < this.allocOf.length && this.allocOf[node]! > 0 ? this.valueSlabs[this.slabOf[node]!]! : EMPTY_INTS;
  }

  typesOf(node: number): Uint8Array | undefined {
    return this.withMeta && node < this.allocOf.length && this.allocOf[node]! > 0 ? this.typeSlabs[this.slabOf[node]!] : undefined;
  }

  timesOf(node: number): Float64Array | undefined {
    return this.withMeta && node < this.allocOf.length && this.allocOf[node]! > 0 ? this.timeSlabs[this.slabOf[node]!] : undefined;
  }

  /** Index of the node's position 0 in the arrays of valuesOf/typesOf/timesOf (0 without entries). */
  base(node: number): number {
    return node < this.baseOf.length ? this.baseOf[node]! : 0;
  }

  /** Position of the node's newest entry (−1 when it has none). */
  newestPos(node: number): number {
    const count = node < this.counts.length ? this.counts[node]! : 0;
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

  private growNodes(n: number): void {
    const cap = Math.max(n, this.counts.length * 2, 1024);
    const grow = <T extends Int32Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const next = make(cap);
      next.set(old);
      return next;
    };
    this.slabOf = grow(this.slabOf, (c) => new Int32Array(c));
    this.baseOf = grow(this.baseOf, (c) => new Int32Array(c));
    this.allocOf = grow(this.allocOf, (c) => new Int32Array(c));
    this.counts = grow(this.counts, (c) => new Float64Array(c));
  }

  /** Moves the node's `alloc` entries (positions 0..alloc−1) to a new block of `len`. */
  private growBlock(node: number, alloc: number, len: number): void {
    let slab: number;
    let base: number;
    const reuse = this.free.get(len);
    if (reuse && reuse.length > 0) {
      base = reuse.pop()!;
      slab = reuse.pop()!;
    } else {
      const last = this.valueSlabs.length - 1;
      if (last < 0 || this.slabUsed + len > this.valueSlabs[last]!.length) {
        // A new slab, twice the previous one (from 1,024 up to ~1M entries; at least one block).
        const prev = last < 0 ? 0 : this.valueSlabs[last]!.length;
        const size = Math.max(len, Math.min(SLAB_MAX_ENTRIES, Math.max(1024, prev * 2)));
        this.valueSlabs.push(new Int32Array(size));
        if (this.withMeta) {
          this.typeSlabs.push(new Uint8Array(size));
          this.timeSlabs.push(new Float64Array(size));
          if (this.withStrength) this.strengthSlabs.push(new Float32Array(size));
        }
        this.slabUsed = 0;
      }
      slab = this.valueSlabs.length - 1;
      base = this.slabUsed;
      this.slabUsed += len;
    }
    if (alloc > 0) {
      const oldSlab = this.slabOf[node]!;
      const oldBase = this.baseOf[node]!;
      this.valueSlabs[slab]!.set(this.valueSlabs[oldSlab]!.subarray(oldBase, oldBase + alloc), base);
      if (this.withMeta) {
        this.typeSlabs[slab]!.set(this.typeSlabs[oldSlab]!.subarray(oldBase, oldBase + alloc), base);
        this.timeSlabs[slab]!.set(this.timeSlabs[oldSlab]!.subarray(oldBase, oldBase + alloc), base);
        if (this.withStrength) this.strengthSlabs[slab]!.set(this.strengthSlabs[oldSlab]!.subarray(oldBase, oldBase + alloc), base);
      }
      let list = this.free.get(alloc);
      if (!list) this.free.set(alloc, (list = []));
      list.push(oldSlab, oldBase);
    }
    this.slabOf[node] = slab;
    this.baseOf[node] = base;
    this.allocOf[node] = len;
  }
}

/** Entries per slab of a ring (more only when one block needs more). */
const SLAB_MAX_ENTRIES = 1 << 20;
