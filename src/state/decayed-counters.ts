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

export class DecayedCounterTable {
  readonly windows: Float64Array;
  readonly name: string;
  private capacity: number;
  private mask: number;
  private size = 0;
  /** Hash slots → entry index (−1 empty). */
  private slots: Int32Array;
  private keyA: Int32Array;
  private keyB: Int32Array;
  private keyT: Int16Array;
  private last: Float64Array;
  private values: Float32Array;
  private readonly nw: number;

  constructor(name: string, windowsMs: readonly number[], initialCapacity = 1024) {
    if (windowsMs.length === 0) throw new Error('DecayedCounterTable: at least one window');
    this.name = name;
    this.windows = Float64Array.from(windowsMs);
    this.nw = windowsMs.length;
    this.capacity = 1 << Math.max(4, Math.ceil(Math.log2(initialCapacity)));
    this.mask = this.capacity * 2 - 1;
    this.slots = new Int32Array(this.capacity * 2).fill(EMPTY);
    this.keyA = new Int32Array(this.capacity);
    this.keyB = new Int32Array(this.capacity);
    this.keyT = new Int16Array(this.capacity);
    this.last = new Float64Array(this.capacity);
    this.values = new Float32Array(this.capacity * this.nw);
  }

  get entries(): number {
    return this.size;
  }

  /** Bytes held by the table's arrays. */
  get bytes(): number {
    return this.slots.byteLength + this.keyA.byteLength * 2 + this.keyT.byteLength + this.last.byteLength + this.values.byteLength;
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
    let s = DecayedCounterTable.hash(a, b, t) & this.mask;
    for (;;) {
      const e = this.slots[s];
      if (e === EMPTY) return -1;
      if (this.keyA[e] === a && this.keyB[e] === b && this.keyT[e] === t) return e;
      s = (s + 1) & this.mask;
    }
  }

  private findOrInsert(a: number, b: number, t: number): number {
    let s = DecayedCounterTable.hash(a, b, t) & this.mask;
    for (;;) {
      const e = this.slots[s];
      if (e === EMPTY) break;
      if (this.keyA[e] === a && this.keyB[e] === b && this.keyT[e] === t) return e;
      s = (s + 1) & this.mask;
    }
    if (this.size === this.capacity) {
      this.grow();
      return this.findOrInsert(a, b, t);
    }
    const e = this.size++;
    this.slots[s] = e;
    this.keyA[e] = a;
    this.keyB[e] = b;
    this.keyT[e] = t;
    this.last[e] = -Infinity;
    return e;
  }

  private grow(): void {
    const cap = this.capacity * 2;
    const keyA = new Int32Array(cap);
    keyA.set(this.keyA);
    const keyB = new Int32Array(cap);
    keyB.set(this.keyB);
    const keyT = new Int16Array(cap);
    keyT.set(this.keyT);
    const last = new Float64Array(cap);
    last.set(this.last);
    const values = new Float32Array(cap * this.nw);
    values.set(this.values);
    this.keyA = keyA;
    this.keyB = keyB;
    this.keyT = keyT;
    this.last = last;
    this.values = values;
    this.capacity = cap;
    this.mask = cap * 2 - 1;
    this.slots = new Int32Array(cap * 2).fill(EMPTY);
    for (let e = 0; e < this.size; e++) {
      let s = DecayedCounterTable.hash(keyA[e], keyB[e], keyT[e]) & this.mask;
      while (this.slots[s] !== EMPTY) s = (s + 1) & this.mask;
      this.slots[s] = e;
    }
  }

  /** Adds `amount` at time `ts` to every window of the key. */
  add(a: number, b: number, t: number, ts: number, amount = 1): void {
    const e = this.findOrInsert(a, b, t);
    const base = e * this.nw;
    const last = this.last[e];
    if (ts >= last) {
      const dt = last === -Infinity ? 0 : ts - last;
      for (let w = 0; w < this.nw; w++) {
        this.values[base + w] = this.values[base + w] * (dt === 0 ? 1 : Math.exp(-dt / this.windows[w])) + amount;
      }
      this.last[e] = ts;
    } else {
      const dt = last - ts;
      for (let w = 0; w < this.nw; w++) this.values[base + w] += amount * Math.exp(-dt / this.windows[w]);
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

  /** Time of the key's latest update, or −Infinity. */
  lastUpdate(a: number, b: number, t: number): number {
    const e = this.find(a, b, t);
    return e < 0 ? -Infinity : this.last[e];
  }

  private valueAt(e: number, w: number, now: number): number {
    const v = this.values[e * this.nw + w];
    const dt = now - this.last[e];
    return dt <= 0 ? v : v * Math.exp(-dt / this.windows[w]);
  }

  /** Calls `fn` for every entry (in insertion order). */
  forEach(fn: (a: number, b: number, t: number, last: number, values: Float32Array) => void): void {
    for (let e = 0; e < this.size; e++) {
      fn(this.keyA[e], this.keyB[e], this.keyT[e], this.last[e], this.values.subarray(e * this.nw, (e + 1) * this.nw));
    }
  }
}
