/**
 * Feature binning for histogram boosting: each feature's values are mapped to at most `maxBin`
 * quantile bins (computed on a row sample) plus one dedicated missing bin, and the whole matrix
 * is stored as bytes (see BinnedMatrix for the two layouts).
 *
 * Bin 0 is the missing bin (NaN). Value bins are 1..numBins, bin b holding the values
 * `upper[b-1] < v <= upper[b]` (`upper[0]` is -∞ conceptually, the last upper bound is +∞).
 * ±Infinity are ordinary values clamped into the first / last value bin — the raw-threshold
 * comparisons used at prediction time (`v <= threshold`) send them the same way, so training
 * and prediction agree without any binning at predict time.
 *
 * A feature whose sample holds a single value and no missing value is constant: it is kept in
 * the mapper (so the model's feature list stays the caller's) but not binned nor split on.
 */
import { Rng } from '../../eval/prng.js';

export interface BinMapperJson {
  maxBin: number;
  /** Per feature: value-bin upper bounds (the last one is "Infinity"); empty for an unused feature. */
  upper: (number | 'Infinity')[][];
}

export class BinMapper {
  /** Per feature, the value-bin upper bounds (bin b = 1..n has upper bound upper[f][b - 1]). */
  readonly upper: Float64Array[];
  /** Original feature columns that are binned (non-constant), in order. */
  readonly usedFeatures: Int32Array;

  constructor(
    readonly maxBin: number,
    upper: Float64Array[],
  ) {
    this.upper = upper;
    const used: number[] = [];
    for (let f = 0; f < upper.length; f++) if (upper[f]!.length > 0) used.push(f);
    this.usedFeatures = Int32Array.from(used);
  }

  get numFeatures(): number {
    return this.upper.length;
  }

  /** Number of value bins of feature f (0 when unused). */
  numBins(f: number): number {
    return this.upper[f]!.length;
  }

  /** The bin of value v for feature f (0 = missing). */
  bin(f: number, v: number): number {
    if (v !== v) return 0;
    const u = this.upper[f]!;
    let lo = 0;
    let hi = u.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (v <= u[mid]!) hi = mid;
      else lo = mid + 1;
    }
    return lo + 1;
  }

  /**
   * Fits the bins of every feature on (a sample of) the row-major matrix. `sampleRows` bounds the
   * rows looked at; the sample is drawn with `seed` so the same data gives the same bins.
   */
  static fit(matrix: Float32Array, numRows: number, numFeatures: number, options: { maxBin?: number; sampleRows?: number; seed?: number } = {}): BinMapper {
    const maxBin = options.maxBin ?? 255;
    if (!(maxBin >= 2 && maxBin <= 255)) throw new Error(`maxBin: must be in [2, 255], got ${maxBin}`);
    const rows = sampleRowIndices(numRows, options.sampleRows ?? 200_000, options.seed ?? 1);
    const m = rows.length;
    const d = numFeatures;
    // The sample column-major, gathered in one forward pass over the rows.
    const sample = new Float32Array(d * m);
    for (let i = 0; i < m; i++) {
      const base = rows[i]! * d;
      for (let f = 0; f < d; f++) sample[f * m + i] = matrix[base + f]!;
    }
    const values = new Float32Array(m);
    const scratch = { keys: new Uint32Array(m), tmp: new Uint32Array(m), distinct: new Float64Array(m), counts: new Int32Array(m) };
    const upper: Float64Array[] = [];
    for (let f = 0; f < d; f++) {
      let k = 0;
      for (let i = f * m, end = i + m; i < end; i++) {
        const v = sample[i]!;
        if (v === v) values[k++] = v;
      }
      upper.push(featureBounds(values.subarray(0, k), maxBin, k < m, scratch));
    }
    return new BinMapper(maxBin, upper);
  }

  toJSON(): BinMapperJson {
    return { maxBin: this.maxBin, upper: this.upper.map((u) => Array.from(u, (x) => (x === Infinity ? 'Infinity' : x))) };
  }

  static fromJSON(json: BinMapperJson): BinMapper {
    return new BinMapper(
      json.maxBin,
      json.upper.map((u) => Float64Array.from(u, (x) => (x === 'Infinity' ? Infinity : x))),
    );
  }
}

/** `k` distinct row indices out of n in increasing order (all rows when n <= k): selection sampling. */
export function sampleRowIndices(n: number, k: number, seed: number): Int32Array {
  if (n <= k) {
    const all = new Int32Array(n);
    for (let i = 0; i < n; i++) all[i] = i;
    return all;
  }
  const rng = new Rng(seed);
  const out = new Int32Array(k);
  let picked = 0;
  for (let i = 0; i < n && picked < k; i++) {
    if (rng.next() * (n - i) < k - picked) out[picked++] = i;
  }
  return out;
}

/**
 * Sorts float32 values ascending in place: LSD radix sort (3 passes of 11 bits) on their bits
 * mapped to unsigned integers of the same order (~10× faster than the generic typed-array sort
 * on 200k values). NaN must have been removed.
 */
function radixSortFloat32(values: Float32Array, keys: Uint32Array, tmp: Uint32Array): void {
  const n = values.length;
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  // Negative floats: flip all bits; positive: flip the sign bit.
  for (let i = 0; i < n; i++) {
    const u = bits[i]!;
    keys[i] = u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
  }
  const count = new Int32Array(2048);
  let src = keys;
  let dst = tmp;
  for (let shift = 0; shift < 32; shift += 11) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[(src[i]! >>> shift) & 2047]++;
    let sum = 0;
    for (let b = 0; b < 2048; b++) {
      const c = count[b]!;
      count[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const key = src[i]!;
      dst[count[(key >>> shift) & 2047]++] = key;
    }
    const t = src;
    src = dst;
    dst = t;
  }
  for (let i = 0; i < n; i++) {
    const k = src[i]!;
    bits[i] = k & 0x80000000 ? (k & 0x7fffffff) >>> 0 : ~k >>> 0;
  }
}

/**
 * Value-bin upper bounds of one feature from its non-missing sample values (sorted in place).
 * Few distinct values: one bin each. Otherwise greedy equal-frequency bins over the distinct
 * values, a value heavier than the running target getting a bin of its own. Bounds are the
 * midpoints between neighbouring distinct values; the last bound is +∞. Returns an empty array
 * for a constant feature (one value, no missing) or an all-missing one.
 */
function featureBounds(values: Float32Array, maxBin: number, hasMissing: boolean, scratch: { keys: Uint32Array; tmp: Uint32Array; distinct: Float64Array; counts: Int32Array }): Float64Array {
  radixSortFloat32(values, scratch.keys, scratch.tmp);
  const distinct = scratch.distinct;
  const counts = scratch.counts;
  let d = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (d > 0 && distinct[d - 1] === v) counts[d - 1]++;
    else {
      distinct[d] = v;
      counts[d++] = 1;
    }
  }
  if (d === 0 || (d === 1 && !hasMissing)) return new Float64Array(0);
  const mid = (i: number) => {
    // Bound between distinct[i] and distinct[i + 1]; ±Infinity neighbours keep the finite side.
    const a = distinct[i]!;
    const b = distinct[i + 1]!;
    if (a === -Infinity) return b === Infinity ? 0 : b - 1;
    if (b === Infinity) return a;
    const m = a + (b - a) / 2;
    return m >= b ? a : m;
  };
  if (d <= maxBin) {
    const out = new Float64Array(d);
    for (let i = 0; i < d - 1; i++) out[i] = mid(i);
    out[d - 1] = Infinity;
    return out;
  }
  const bounds: number[] = [];
  let remaining = values.length;
  let acc = 0;
  for (let i = 0; i < d - 1; i++) {
    acc += counts[i]!;
    const binsLeft = maxBin - bounds.length;
    const target = remaining / binsLeft;
    // Close the bin when it reached its share, or when the next value alone would overshoot it.
    if (acc >= target || acc + counts[i + 1]! > target * 1.5) {
      bounds.push(mid(i));
      remaining -= acc;
      acc = 0;
      if (bounds.length === maxBin - 1) break;
    }
  }
  bounds.push(Infinity);
  return Float64Array.from(bounds);
}

/**
 * A matrix binned by a BinMapper, in both layouts: `bins[row * numUsed + k]` (row-major, what
 * histograms read: a leaf's rows are scattered, and one row's bins are one cache line; measured
 * 6 vs 9 ns per (row, feature) for column-major in plain JS on 400k × 60) and
 * `columns[k * numRows + row]` (column-major, what partitions read: one column, forward).
 * Column k is original feature mapper.usedFeatures[k].
 */
export interface BinnedMatrix {
  mapper: BinMapper;
  numRows: number;
  numUsed: number;
  bins: Uint8Array;
  columns: Uint8Array;
}

export function binMatrix(mapper: BinMapper, matrix: Float32Array, numRows: number): BinnedMatrix {
  const d = mapper.numFeatures;
  const used = mapper.usedFeatures;
  const du = used.length;
  const n = numRows;
  if (matrix.length < n * d) throw new Error(`binMatrix: ${matrix.length} values for ${n} rows × ${d} features`);
  const bins = new Uint8Array(n * du);
  const columns = new Uint8Array(n * du);
  // Blocks of rows small enough to stay in cache while each feature of the block is binned.
  const BLOCK = 1024;
  for (let r0 = 0; r0 < n; r0 += BLOCK) {
    const r1 = Math.min(n, r0 + BLOCK);
    for (let k = 0; k < du; k++) {
      const f = used[k]!;
      const u = mapper.upper[f]!;
      const nb = u.length;
      const col = k * n;
      for (let r = r0; r < r1; r++) {
        const v = matrix[r * d + f]!;
        let b = 0;
        if (v === v) {
          // Branch-free binary search for the first bound >= v (mispredicted branches were
          // two thirds of the time).
          let lo = 0;
          let len = nb;
          while (len > 1) {
            const half = len >>> 1;
            lo += half & -+(u[lo + half - 1]! < v);
            len -= half;
          }
          b = lo + 1;
        }
        columns[col + r] = b;
        bins[r * du + k] = b;
      }
    }
  }
  return { mapper, numRows: n, numUsed: du, bins, columns };
}
