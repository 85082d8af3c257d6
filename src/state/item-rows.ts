/**
 * A post's counters read together: engaged and impressions over every window, and each event
 * type with a signal (positive or negative) over the longest window — what the heavy ranker's
 * item features and the in-network source's engagement rate read for each candidate.
 *
 * The counters are kept as one row per post, as of the post's latest counter update `ts`.
 * Every counter then decays from `ts` to the request's time by its window's factor. That is the
 * same value, up to float64 rounding, as decaying each counter from its own last update (an
 * exponential window's factor over [last, now] is the product of those over [last, ts] and
 * [ts, now]). The row is computed this way whether it was cached or not, so a read never
 * depends on what was cached.
 *
 * Rows are cached per state in a direct-mapped table of SLOTS rows. A row stays valid while
 * the counter table's `rowVersion` of the post is unchanged (it counts every update of the
 * post's counters). A request's ~1,000 candidates then read one row each, instead of one
 * counter record per type. A request at a time before the post's latest update (a replay's
 * clock) reads each counter at that time instead.
 */
import type { OnlineState } from './online-state.js';

const SLOTS = 1 << 16;
const MASK = SLOTS - 1;

export class ItemCounterRows {
  /** Counter windows, and the signal types read over the longest one (type codes, ascending). */
  readonly nw: number;
  readonly types: readonly number[];
  /** Values per read: engaged × nw, impressions × nw, one per signal type. */
  readonly width: number;
  private readonly rowWidth: number;
  private readonly item: Int32Array;
  private readonly version: Int32Array;
  /** SLOTS rows of [ts, values…], then one scratch row for posts outside the direct index. */
  private readonly rows: Float64Array;
  private readonly decay: Float64Array;

  private constructor(private readonly state: OnlineState) {
    this.nw = state.itemCounts.windows.length;
    this.types = state.signalTypes;
    this.width = 2 * this.nw + this.types.length;
    this.rowWidth = 1 + this.width;
    this.item = new Int32Array(SLOTS).fill(-1);
    this.version = new Int32Array(SLOTS);
    this.rows = new Float64Array((SLOTS + 1) * this.rowWidth);
    this.decay = new Float64Array(this.nw);
  }

  /** The rows of `state` (made on first use). */
  static of(state: OnlineState): ItemCounterRows {
    let rows = caches.get(state);
    if (!rows) {
      rows = new ItemCounterRows(state);
      caches.set(state, rows);
    }
    return rows;
  }

  /** The post's counters at `now` into out[offset…offset + width): engaged × nw, impressions × nw, each signal type. */
  read(item: number, now: number, out: Float64Array, offset = 0): void {
    const st = this.state;
    const table = st.itemCounts;
    const nw = this.nw;
    const version = table.rowVersion(item);
    let base: number;
    if (version >= 0) {
      const slot = item & MASK;
      base = slot * this.rowWidth;
      if (this.item[slot] !== item || this.version[slot] !== version) {
        this.compute(item, base);
        this.item[slot] = item;
        this.version[slot] = version;
      }
    } else {
      base = SLOTS * this.rowWidth;
      this.compute(item, base);
    }
    const rows = this.rows;
    const ts = rows[base]!;
    if (now >= ts) {
      const dt = now - ts;
      const decay = this.decay;
      for (let w = 0; w < nw; w++) decay[w] = dt > 0 ? Math.exp(-dt / table.windows[w]!) : 1;
      for (let w = 0; w < nw; w++) {
        out[offset + w] = rows[base + 1 + w]! * decay[w]!;
        out[offset + nw + w] = rows[base + 1 + nw + w]! * decay[w]!;
      }
      const last = decay[nw - 1]!;
      for (let j = 0; j < this.types.length; j++) out[offset + 2 * nw + j] = rows[base + 1 + 2 * nw + j]! * last;
      return;
    }
    table.getAll(item, 0, st.ENGAGED, now, out, offset);
    if (st.impressionType >= 0) table.getAll(item, 0, st.impressionType, now, out, offset + nw);
    else out.fill(0, offset + nw, offset + 2 * nw);
    for (let j = 0; j < this.types.length; j++) out[offset + 2 * nw + j] = table.get(item, 0, this.types[j]!, nw - 1, now);
  }

  /**
   * Engaged and impressions of the post in window `w` at `now`, from its cached row when that
   * is valid, else from the two counters (no row is computed: a source visiting many posts
   * would pay for every type's counter and flush the rows the features read).
   */
  engagedAndShown(item: number, w: number, now: number, out: Float64Array): void {
    const st = this.state;
    const table = st.itemCounts;
    const version = table.rowVersion(item);
    const slot = item & MASK;
    const base = slot * this.rowWidth;
    const rows = this.rows;
    if (version >= 0 && this.item[slot] === item && this.version[slot] === version && now >= rows[base]!) {
      const dt = now - rows[base]!;
      const decay = dt > 0 ? Math.exp(-dt / table.windows[w]!) : 1;
      out[0] = rows[base + 1 + w]! * decay;
      out[1] = rows[base + 1 + this.nw + w]! * decay;
      return;
    }
    out[0] = table.get(item, 0, st.ENGAGED, w, now);
    out[1] = st.impressionType >= 0 ? table.get(item, 0, st.impressionType, w, now) : 0;
  }

  /** The post's row as of its latest counter update, at rows[base…]. */
  private compute(item: number, base: number): void {
    const st = this.state;
    const table = st.itemCounts;
    const nw = this.nw;
    const rows = this.rows;
    const e = table.find(item, 0, st.ENGAGED);
    const m = st.impressionType >= 0 ? table.find(item, 0, st.impressionType) : -1;
    let ts = -Infinity;
    if (e >= 0) ts = Math.max(ts, table.entryLast(e));
    if (m >= 0) ts = Math.max(ts, table.entryLast(m));
    for (const t of this.types) ts = Math.max(ts, table.lastUpdate(item, 0, t));
    rows[base] = ts;
    if (e >= 0) table.entryValues(e, ts, rows, base + 1);
    else rows.fill(0, base + 1, base + 1 + nw);
    if (m >= 0) table.entryValues(m, ts, rows, base + 1 + nw);
    else rows.fill(0, base + 1 + nw, base + 1 + 2 * nw);
    for (let j = 0; j < this.types.length; j++) rows[base + 1 + 2 * nw + j] = table.get(item, 0, this.types[j]!, nw - 1, ts);
  }
}

const caches = new WeakMap<OnlineState, ItemCounterRows>();
