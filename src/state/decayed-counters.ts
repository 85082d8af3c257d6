/**
 * Windowed counters as exponentially decayed sums, in one open-addressing hash table over
 * typed arrays (no object per entry).
 *
 * A key is (a, b, type): e.g. (user, author, like). Each entry keeps one value per window and
 * the time of its last update; a window of length W is an exponential window with time
 * constant W (an event of age x counts exp(−x/W)), the usual streaming stand-in for a sliding
 * window — it needs O(1) memory per key and handles events that arrive out of order
 * (an old event is added already decayed to the entry's time).
 */

const EMPTY = -1;
/** Keys (a, 0, t) with a below this are indexed directly (see `DecayedCounterTable` options). */
const DIRECT_LIMIT = 1 << 24;

export interface DecayedCounterTableOptions {
  /**
   * Type codes [0, directTypes) of keys (a, 0, t) — per-item, per-user and per-author counters
   * over dense ids — are found through a direct index (a · directTypes + t → entry) instead of
   * the hash: one read of a row that holds every type of `a`, so a lookup of an absent type costs
   * nothing more and a present one a single miss (the record), where the hash costs a miss on its
   * slot and then one on the record. 4·(directTypes + 1) bytes per `a` up to the largest `a`
   * counted: the row's last word counts the updates of `a`'s counters (`rowVersion`).
   */
  directTypes?: number;
}

/**
 * Entry record layout in 4-byte words: key a, key b, key type, pad, last update (float64, words
 * 4–5), then one float32 per window (padded to an even word count). One record per entry keeps
 * a lookup's reads — the key compare, the time and the windows — in one or two cache lines (the
 * tables are hundreds of MB: a lookup costs its cache misses, and parallel arrays per field
 * cost one miss each).
 */
const KEY_A = 0;
const KEY_B = 1;
const KEY_T = 2;
const LAST_WORD = 4;
const VALUES_WORD = 6;

export class DecayedCounterTable {
  readonly windows: Float64Array;
  readonly name: string;
  private capacity: number;
  private mask: number;
  private size = 0;
  /** Entries in the hash (not in the direct index); the slots are kept at least twice as many. */
  private hashed = 0;
  /** Hash slots → entry index (−1 empty). */
  private slots: Int32Array;
  /** Entry records (see the layout above): three views of one buffer. */
  private ints: Int32Array;
  private floats: Float32Array;
  private doubles: Float64Array;
  private readonly nw: number;
  /** Words per record (even, so that the float64 of each record is aligned). */
  private readonly stride: number;
  /**
   * Direct index (options.directTypes): entry + 1 of key (a, 0, t) at a·directStride + t, 0 when
   * absent; a·directStride + directTypes counts the updates of the row's keys (rowVersion).
   */
  private direct: Int32Array;
  private readonly directTypes: number;
  private readonly directStride: number;

  constructor(name: string, windowsMs: readonly number[], initialCapacity = 1024, options: DecayedCounterTableOptions = {}) {
    if (windowsMs.length === 0) throw new Error('DecayedCounterTable: at least one window');
    this.name = name;
    this.windows = Float64Array.from(windowsMs);
    this.nw = windowsMs.length;
    this.stride = VALUES_WORD + this.nw + (this.nw % 2);
    this.capacity = 1 << Math.max(4, Math.ceil(Math.log2(initialCapacity)));
    this.directTypes = Math.max(0, Math.floor(options.directTypes ?? 0));
    this.directStride = this.directTypes + 1;
    // The hash holds only the keys outside the direct index: a table whose keys are all direct
    // keeps a token slot array.
    const slots = this.directTypes > 0 ? 16 : this.capacity * 2;
    this.mask = slots - 1;
    this.slots = new Int32Array(slots).fill(EMPTY);
    const buffer = new ArrayBuffer(this.capacity * this.stride * 4);
    this.ints = new Int32Array(buffer);
    this.floats = new Float32Array(buffer);
    this.doubles = new Float64Array(buffer);
    this.direct = new Int32Array(0);
  }

  get entries(): number {
    return this.size;
  }

  /** Bytes held by the table's arrays. */
  get bytes(): number {
    return this.slots.byteLength + this.ints.byteLength + this.direct.byteLength;
  }

  /** Whether a key lives in the direct index (not in the hash). */
  private isDirect(a: number, b: number, t: number): boolean {
    return b === 0 && t >= 0 && t < this.directTypes && a >= 0 && a < DIRECT_LIMIT && a === (a | 0) && t === (t | 0);
  }

  private static hash(a: number, b: number, t: number): number {
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b) ^ Math.imul(t + 1, 0xc2b2ae35);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 13;
    return h >>> 0;
  }

  /** Entry index of a key, or −1. */
  find(a: number, b: number, t: number): number {
    if (this.isDirect(a, b, t)) {
      const at = a * this.directStride + t;
      return at < this.direct.length ? this.direct[at]! - 1 : -1;
    }
    const ints = this.ints;
    const stride = this.stride;
    let s = DecayedCounterTable.hash(a, b, t) & this.mask;
    for (;;) {
      const e = this.slots[s]!;
      if (e === EMPTY) return -1;
      const r = e * stride;
      if (ints[r + KEY_A] === a && ints[r + KEY_B] === b && ints[r + KEY_T] === t) return e;
      s = (s + 1) & this.mask;
    }
  }

  private findOrInsert(a: number, b: number, t: number): number {
    const e0 = this.find(a, b, t);
    if (e0 >= 0) return e0;
    if (this.size === this.capacity) this.growRecords();
    const direct = this.isDirect(a, b, t);
    // The hash at most half full (rebuilt before this entry exists: rehash reads the records).
    if (!direct && 2 * (this.hashed + 1) > this.slots.length) this.rehash(2 * this.slots.length);
    const e = this.size++;
    if (direct) {
      const row = a * this.directStride;
      const at = row + t;
      if (at >= this.direct.length) {
        const rows = Math.max(a + 1, Math.ceil((1.5 * this.direct.length) / this.directStride), 1024);
        const grown = new Int32Array(rows * this.directStride);
        grown.set(this.direct);
        this.direct = grown;
      }
      this.direct[at] = e + 1;
    } else {
      this.hashed++;
      let s = DecayedCounterTable.hash(a, b, t) & this.mask;
      while (this.slots[s] !== EMPTY) s = (s + 1) & this.mask;
      this.slots[s] = e;
    }
    const r = e * this.stride;
    this.ints[r + KEY_A] = a;
    this.ints[r + KEY_B] = b;
    this.ints[r + KEY_T] = t;
    this.doubles[(r + LAST_WORD) >> 1] = -Infinity;
    for (let w = 0; w < this.nw; w++) this.floats[r + VALUES_WORD + w] = 0;
    return e;
  }

  private growRecords(): void {
    const cap = this.capacity * 2;
    const buffer = new ArrayBuffer(cap * this.stride * 4);
    const ints = new Int32Array(buffer);
    ints.set(this.ints);
    this.ints = ints;
    this.floats = new Float32Array(buffer);
    this.doubles = new Float64Array(buffer);
    this.capacity = cap;
  }

  /** Rebuilds the hash over the entries outside the direct index, with `slots` slots (a power of two). */
  private rehash(slots: number): void {
    const ints = this.ints;
    this.mask = slots - 1;
    this.slots = new Int32Array(slots).fill(EMPTY);
    for (let e = 0; e < this.size; e++) {
      const r = e * this.stride;
      if (this.isDirect(ints[r + KEY_A]!, ints[r + KEY_B]!, ints[r + KEY_T]!)) continue;
      let s = DecayedCounterTable.hash(ints[r + KEY_A]!, ints[r + KEY_B]!, ints[r + KEY_T]!) & this.mask;
      while (this.slots[s] !== EMPTY) s = (s + 1) & this.mask;
      this.slots[s] = e;
    }
  }

  /**
   * How many times the counters of `a` in the direct index (keys (a, 0, t), t < directTypes)
   * were updated: unchanged means every one of them is as it was (a cache of values derived
   * from them is still valid). −1 when `a`'s counters are not all in the direct index.
   */
  rowVersion(a: number): number {
    if (this.directTypes === 0 || !(a >= 0 && a < DIRECT_LIMIT && a === (a | 0))) return -1;
    const at = a * this.directStride + this.directTypes;
    return at < this.direct.length ? this.direct[at]! : 0;
  }

  /** Adds `amount` at time `ts` to every window of the key. */
  add(a: number, b: number, t: number, ts: number, amount = 1): void {
    const e = this.findOrInsert(a, b, t);
    if (this.isDirect(a, b, t)) this.direct[a * this.directStride + this.directTypes]!++;
    const r = e * this.stride;
    const base = r + VALUES_WORD;
    const li = (r + LAST_WORD) >> 1;
    const values = this.floats;
    const last = this.doubles[li]!;
    if (ts >= last) {
      const dt = last === -Infinity ? 0 : ts - last;
      for (let w = 0; w < this.nw; w++) {
        values[base + w] = values[base + w]! * (dt === 0 ? 1 : Math.exp(-dt / this.windows[w]!)) + amount;
      }
      this.doubles[li] = ts;
    } else {
      const dt = last - ts;
      for (let w = 0; w < this.nw; w++) values[base + w] += amount * Math.exp(-dt / this.windows[w]!);
    }
  }

  /** Decayed value of the key's window `w` at time `now` (0 when absent). */
  get(a: number, b: number, t: number, w: number, now: number): number {
    const e = this.find(a, b, t);
    if (e < 0) return 0;
    return this.valueAt(e, w, now);
  }

  /** Writes all windows of the key at `now` into `out` (zeros when absent); returns whether it exists. */
  getAll(a: number, b: number, t: number, now: number, out: Float64Array | number[], offset = 0): boolean {
    const e = this.find(a, b, t);
    if (e < 0) {
      for (let w = 0; w < this.nw; w++) out[offset + w] = 0;
      return false;
    }
    for (let w = 0; w < this.nw; w++) out[offset + w] = this.valueAt(e, w, now);
    return true;
  }

  /** Writes all windows of entry `e` (from find()) at `now` into `out`. */
  entryValues(e: number, now: number, out: Float64Array | number[], offset = 0): void {
    for (let w = 0; w < this.nw; w++) out[offset + w] = this.valueAt(e, w, now);
  }

  /** Time of entry `e`'s latest update (e from find()). */
  entryLast(e: number): number {
    return this.doubles[(e * this.stride + LAST_WORD) >> 1]!;
  }

  /** Time of the key's latest update, or −Infinity. */
  lastUpdate(a: number, b: number, t: number): number {
    const e = this.find(a, b, t);
    return e < 0 ? -Infinity : this.entryLast(e);
  }

  private valueAt(e: number, w: number, now: number): number {
    const r = e * this.stride;
    const v = this.floats[r + VALUES_WORD + w]!;
    const dt = now - this.doubles[(r + LAST_WORD) >> 1]!;
    return dt <= 0 ? v : v * Math.exp(-dt / this.windows[w]!);
  }

  /** Calls `fn` for every entry (in insertion order). */
  forEach(fn: (a: number, b: number, t: number, last: number, values: Float32Array) => void): void {
    for (let e = 0; e < this.size; e++) {
      const r = e * this.stride;
      fn(this.ints[r + KEY_A]!, this.ints[r + KEY_B]!, this.ints[r + KEY_T]!, this.doubles[(r + LAST_WORD) >> 1]!, this.floats.subarray(r + VALUES_WORD, r + VALUES_WORD + this.nw));
    }
  }
}
