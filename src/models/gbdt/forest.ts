/**
 * Several tree ensembles over the same feature columns (the heavy ranker's heads) compiled
 * into one WebAssembly layout and predicted together on float32 rows: the rows are copied into
 * the kernel's memory once per batch, and one call walks every head asked for. Scores are
 * exactly GbdtModel.predictRaw's: initScore + Σ leaf values in tree order, in f64.
 *
 * Each head is one chain of node records (24 bytes: i32 threshold key, i32 feature byte offset
 * in a prepared row, i32 right and left child addresses, f64 value), its trees one after the
 * other. A step adds the node's value to the walk's sum and moves on:
 *
 *     sum += node.value;  node = load(node + 8 + 4·(row[node.feature] <= node.threshold))
 *
 * Internal nodes have the value −0 (x + −0 = x for every x, −0 included); a leaf has its leaf
 * value, the largest threshold and both children the next tree's root, so a walk flows through
 * all the head's trees without a branch, and the last tree's leaves lead to a sink that loops
 * onto itself (value −0). Rows are walked WALKS at a time (independent walks overlap their
 * loads) until every walk is at the sink: its address is the one power of two above every
 * record, so that is one AND per walk. Walking a whole head at once wastes little: a block of
 * walks per tree would step until its deepest walk reached a leaf (6.4 steps per tree and row
 * on the demo platform's ranker, against 4.2 for the walks alone), and restart per tree.
 *
 * The child is picked by address arithmetic, not `select`: only the node address is live per
 * walk (a select of both children, loaded first, needs two more registers per walk, and eight
 * walks spilled: measured ~8% slower). Comparing int32 keys instead of float32 values measured
 * ~10% faster (one integer compare against memory, instead of two float loads and a compare).
 *
 * Exactness:
 *  - thresholds are f64 and the rows f32: for a float32 v, v > t ⇔ v > t↓ where t↓ is the
 *    largest float32 ≤ t (roundDownToFloat32);
 *  - float32s compare as their order keys (orderKey: the bits as an int32, the magnitude bits
 *    flipped for negative numbers, so the signed integer order is the float order; −0 and +0
 *    differ by one, which is why a zero threshold is keyed as +0: v <= ±0 ⇔ key(v) <= key(+0));
 *  - missing values: each prepared row holds its features twice, first with NaN keyed as the
 *    smallest int32 (below every threshold: goes left), then as the largest (above every
 *    threshold, +∞ included: goes right); a node reads the copy of its learned default side.
 *    Leaves and the sink have the largest key as their threshold, so both copies go "left". A
 *    NaN threshold (never learned) sends every value left, as `v > NaN` is false: it is keyed
 *    as +∞.
 */
import type { GbdtModel } from './model.js';
import { ADD, AND, BR_IF, END, F64, f64Load, f64Store, F64_ADD, get, I32, i32, IF, LE_S, load32, LOOP, LT_U, moduleBytes, MUL, set, SHL, tee, uleb, V128, vec, wasm } from '../wasm-encoder.js';

/** Rows walked together (8 measured best: 6, 10 and 12 were 5–20% slower, 16 spilled). */
export const FOREST_WALKS = 8;
/** Rows per kernel call: each head's records are walked for this many rows before the next head's. */
const CHUNK_ROWS = 128;
const RECORD = 24;

// Instructions the shared encoder does not define.
const SUB = [0x6b];
const EQZ = [0x45];
const RETURN = [0x0f];
const V128_LOAD = (offset: number): number[] => [0xfd, 0x00, 4, ...uleb(offset)];
const V128_STORE = (offset: number): number[] => [0xfd, 0x0b, 4, ...uleb(offset)];
const F32X4_EQ = [0xfd, ...uleb(0x41)];
const I32X4_SHR_S = [0xfd, ...uleb(0xac)];
const V128_AND = [0xfd, ...uleb(0x4e)];
const V128_XOR = [0xfd, ...uleb(0x51)];
const V128_BITSELECT = [0xfd, ...uleb(0x52)];
const v128Const = (bytes: Uint8Array): number[] => [0xfd, 0x0c, ...bytes];

/** One float32 and its bits. */
const f32 = new Float32Array(1);
const f32Bits = new Int32Array(f32.buffer);

/** The largest float32 ≤ t (+∞ for NaN: see above). */
export function roundDownToFloat32(t: number): number {
  if (t !== t) return Infinity;
  const f = Math.fround(t);
  if (f <= t) return f;
  if (f === Infinity) return 3.4028234663852886e38;
  if (f === 0) return -1.401298464324817e-45;
  // The next float32 towards −∞: one unit less in magnitude when positive, more when negative.
  f32[0] = f;
  f32Bits[0] += f > 0 ? -1 : 1;
  return f32[0]!;
}

/**
 * The int32 whose signed order is the order of the float32 x (not NaN): its bits, with the 31
 * low bits flipped when negative. −0 is keyed as +0 (for thresholds; see above).
 */
export function orderKey(x: number): number {
  f32[0] = x === 0 ? 0 : x;
  const bits = f32Bits[0]!;
  return bits < 0 ? bits ^ 0x7fffffff : bits;
}

/** Threshold key of leaves and the sink: every row value (NaN keys included) is <= it. */
const ALWAYS_LEFT = 0x7fffffff;

interface Geometry {
  /** Features per row in the caller's matrix, and per copy in a prepared row (a multiple of 4). */
  d: number;
  dp: number;
  /** Bytes per prepared row (two copies). */
  rowBytes: number;
  /** Address of the sink record: a power of two above every other record. */
  sink: number;
}

/**
 * `walk(list, count, rows, blocks, outAdd)`: for each of `count` entries (i32 first node of a
 * chain, i32 output address) at `list`, adds the chain's leaf values for `blocks`·walks prepared
 * rows from `rows` to the f64 outputs from entry.output + outAdd.
 * `prep(src, dst, n)` (SIMD): n rows of d f32 at src into prepared rows (keys) at dst.
 */
function forestModule(g: Geometry, walks: number, simd: boolean): Uint8Array {
  // walk: params, i32 locals, then the walks' f64 sums.
  const LIST = 0, COUNT = 1, ROWS = 2, BLOCKS = 3, OUTADD = 4, PARAMS = 5;
  const E = PARAMS, END_E = E + 1, START = E + 2, OUTP = E + 3, RB = E + 4, B = E + 5, A0 = E + 6, S0 = A0 + walks;
  const code: number[] = [];
  const emit = (...parts: number[][]) => {
    for (const p of parts) code.push(...p);
  };
  emit(get(COUNT), EQZ, IF, RETURN, END);
  emit(get(LIST), set(E), get(LIST), get(COUNT), i32(8), MUL, ADD, set(END_E));
  emit(LOOP); // chains
  emit(get(E), load32(0), set(START), get(E), load32(4), get(OUTADD), ADD, set(OUTP));
  emit(get(ROWS), set(RB), get(BLOCKS), set(B));
  emit(LOOP); // blocks of rows
  for (let w = 0; w < walks; w++) emit(get(START), set(A0 + w), get(OUTP), f64Load(8 * w), set(S0 + w));
  emit(LOOP); // steps, until every walk is at the sink
  for (let w = 0; w < walks; w++) {
    const a = A0 + w;
    emit(get(S0 + w), get(a), f64Load(16), F64_ADD, set(S0 + w));
    emit(get(a), get(a), load32(4), get(RB), ADD, load32(w * g.rowBytes), get(a), load32(0), LE_S, i32(2), SHL, ADD, load32(8), set(a));
  }
  const all: number[] = [...get(A0)];
  for (let w = 1; w < walks; w++) all.push(...get(A0 + w), ...AND);
  emit(all, i32(g.sink), AND, EQZ, BR_IF(0), END);
  for (let w = 0; w < walks; w++) emit(get(OUTP), get(S0 + w), f64Store(8 * w));
  emit(get(OUTP), i32(8 * walks), ADD, set(OUTP), get(RB), i32(walks * g.rowBytes), ADD, set(RB));
  emit(get(B), i32(1), SUB, tee(B), BR_IF(0), END);
  emit(get(E), i32(8), ADD, tee(E), get(END_E), LT_U, BR_IF(0), END);
  const walkBody = [...vec([[...uleb(A0 + walks - PARAMS), I32], [...uleb(walks), F64]]), ...code, ...END];
  if (!simd) return moduleBytes(PARAMS, [0x00, ...uleb(1)], ['walk'], [walkBody]);

  // prep: per row, per 4 features v: key = bits ^ ((bits >> 31) & 0x7fffffff); the first copy
  // keeps the key where v == v and has INT_MIN for NaN, the second INT_MAX.
  const SRC = 0, DST = 1, N = 2, R = 3, J = 4, SP = PARAMS, DP = SP + 1, V = DP + 1, KEY = V + 1, NUM = V + 2;
  const p: number[] = [];
  const pe = (...parts: number[][]) => {
    for (const x of parts) p.push(...x);
  };
  const splat = (x: number) => {
    const b = new Uint8Array(16);
    new Int32Array(b.buffer).fill(x);
    return v128Const(b);
  };
  pe(get(N), EQZ, IF, RETURN, END);
  pe(i32(0), set(R), get(SRC), set(SP), get(DST), set(DP));
  pe(LOOP); // rows
  pe(i32(0), set(J));
  pe(LOOP); // groups of 4 features (the last may read past the row: its extra lanes are never used)
  pe(get(SP), get(J), ADD, V128_LOAD(0), tee(V), get(V), i32(31), I32X4_SHR_S, splat(0x7fffffff), V128_AND, V128_XOR, set(KEY));
  pe(get(V), get(V), F32X4_EQ, set(NUM));
  pe(get(DP), get(J), ADD, get(KEY), splat(-0x80000000), get(NUM), V128_BITSELECT, V128_STORE(0));
  pe(get(DP), get(J), ADD, get(KEY), splat(0x7fffffff), get(NUM), V128_BITSELECT, V128_STORE(4 * g.dp));
  pe(get(J), i32(16), ADD, tee(J), i32(4 * g.dp), LT_U, BR_IF(0), END);
  pe(get(SP), i32(4 * g.d), ADD, set(SP), get(DP), i32(g.rowBytes), ADD, set(DP));
  pe(get(R), i32(1), ADD, tee(R), get(N), LT_U, BR_IF(0), END);
  const prepBody = [...vec([[...uleb(2), I32], [...uleb(3), V128]]), ...p, ...END];
  return moduleBytes(PARAMS, [0x00, ...uleb(1)], ['walk', 'prep'], [walkBody, prepBody]);
}

type Walk = (list: number, count: number, rows: number, blocks: number, outAdd: number) => void;
type Prep = (src: number, dst: number, n: number) => void;

export interface ForestOptions {
  /** Rows walked together (default FOREST_WALKS). */
  walks?: number;
  /** Rows per kernel call (default CHUNK_ROWS; rounded to a multiple of `walks`). */
  chunkRows?: number;
  /** false: prepare the rows in JavaScript, as without WebAssembly SIMD (default true). */
  simd?: boolean;
}

/** The heads' ensembles compiled together (see the top of the file). */
export class GbdtForest {
  readonly numFeatures: number;
  readonly numHeads: number;
  /** 'wasm-simd' when the rows are prepared by SIMD code, else 'wasm' (prepared in JavaScript). */
  readonly kernel: 'wasm-simd' | 'wasm';
  private readonly g: Geometry;
  private readonly walks: number;
  private readonly chunkRows: number;
  private readonly memory: { readonly buffer: ArrayBuffer | SharedArrayBuffer; grow(pages: number): number };
  private readonly walk: Walk;
  private readonly prep: Prep | undefined;
  private readonly initScore: Float64Array;
  /** First node of each head's chain (the sink for a head without trees). */
  private readonly chainStart: Int32Array;
  /** Byte address of the per-call chain list, and of the row data after it. */
  private readonly listAt: number;
  private readonly dataAt: number;

  private constructor(models: readonly GbdtModel[], g: Geometry, walks: number, chunkRows: number, memory: GbdtForest['memory'], walk: Walk, prep: Prep | undefined, chainStart: Int32Array, listAt: number, dataAt: number) {
    this.numFeatures = g.d;
    this.numHeads = models.length;
    this.g = g;
    this.walks = walks;
    this.chunkRows = chunkRows;
    this.memory = memory;
    this.walk = walk;
    this.prep = prep;
    this.kernel = prep ? 'wasm-simd' : 'wasm';
    this.initScore = Float64Array.from(models, (m) => m.initScore);
    this.chainStart = chainStart;
    this.listAt = listAt;
    this.dataAt = dataAt;
  }

  /** Compiles the models (same feature columns); undefined without WebAssembly or when they do not fit the layout. */
  static create(models: readonly GbdtModel[], options: ForestOptions = {}): GbdtForest | undefined {
    if (!wasm || models.length === 0) return undefined;
    const d = models[0]!.numFeatures;
    if (d === 0 || models.some((m) => m.numFeatures !== d)) return undefined;
    const walks = Math.max(1, Math.floor(options.walks ?? FOREST_WALKS));
    const chunkRows = Math.max(walks, Math.floor((options.chunkRows ?? CHUNK_ROWS) / walks) * walks);
    let records = 0;
    for (const m of models) for (const t of m.trees) records += 2 * t.numLeaves - 1;
    const dp = Math.ceil(d / 4) * 4;
    // Records from address 0, the sink at the next power of two (addresses stay far below 2^31).
    const sink = 2 ** Math.ceil(Math.log2(Math.max(RECORD, records * RECORD)));
    if (sink > 2 ** 29 || 8 * dp > 2 ** 20) return undefined;
    const g: Geometry = { d, dp, rowBytes: 8 * dp, sink };
    const listAt = sink + RECORD;
    const dataAt = Math.ceil((listAt + 8 * models.length) / 64) * 64;
    try {
      const memory = new wasm.Memory({ initial: Math.ceil((dataAt + 1) / 65536) });
      let simd = options.simd !== false;
      let bytes = forestModule(g, walks, simd);
      if (!wasm.validate(bytes)) {
        bytes = forestModule(g, walks, false);
        simd = false;
        if (!wasm.validate(bytes)) return undefined;
      }
      const exports = new wasm.Instance(new wasm.Module(bytes), { env: { memory } }).exports;
      const view = new DataView(memory.buffer);
      const record = (at: number, threshold: number, feature: number, right: number, left: number, value: number) => {
        view.setInt32(at, threshold, true);
        view.setInt32(at + 4, feature, true);
        view.setInt32(at + 8, right, true);
        view.setInt32(at + 12, left, true);
        view.setFloat64(at + 16, value, true);
      };
      // The sink loops onto itself and adds −0.
      record(sink, ALWAYS_LEFT, 0, sink, sink, -0);
      const chainStart = new Int32Array(models.length).fill(sink);
      let at = 0;
      models.forEach((m, h) => {
        // Tree i at roots[i] (internal nodes, then leaves; a one-leaf tree is its leaf).
        const bases: number[] = [];
        const roots: number[] = [];
        for (const t of m.trees) {
          bases.push(at);
          roots.push(at + (t.numLeaves > 1 ? 0 : RECORD * (t.numLeaves - 1)));
          at += RECORD * (2 * t.numLeaves - 1);
        }
        if (m.trees.length > 0) chainStart[h] = roots[0]!;
        m.trees.forEach((t, i) => {
          const base = bases[i]!;
          const leaves = base + RECORD * (t.numLeaves - 1);
          const child = (c: number) => (c >= 0 ? base + RECORD * c : leaves + RECORD * ~c);
          const next = i + 1 < m.trees.length ? roots[i + 1]! : sink;
          for (let j = 0; j < t.numLeaves - 1; j++) {
            const th = t.threshold[j]!;
            const f = t.splitFeature[j]!;
            record(base + RECORD * j, orderKey(roundDownToFloat32(th === 'Infinity' ? Infinity : th)), 4 * (t.defaultLeft[j] ? f : dp + f), child(t.right[j]!), child(t.left[j]!), -0);
          }
          for (let l = 0; l < t.numLeaves; l++) record(leaves + RECORD * l, ALWAYS_LEFT, 0, next, next, t.leafValue[l]!);
        });
      });
      return new GbdtForest(models, g, walks, chunkRows, memory, exports.walk as Walk, simd ? (exports.prep as Prep) : undefined, chainStart, listAt, dataAt);
    } catch {
      return undefined;
    }
  }

  /**
   * Raw scores of the heads `heads` (indices into the models given to create, each at most
   * once) for n float32 rows of numFeatures values: out[j·n + i] is head heads[j]'s score of row i.
   */
  predictRaw(matrix: Float32Array, n: number, heads: ArrayLike<number>, out: Float64Array): Float64Array {
    const { d, dp, rowBytes } = this.g;
    if (matrix.length < n * d) throw new Error(`matrix: ${matrix.length} values for ${n} rows × ${d} features`);
    if (out.length < n * heads.length) throw new Error(`out: room for ${out.length} scores, ${n} rows × ${heads.length} heads`);
    for (let j = 0; j < heads.length; j++) {
      const h = heads[j]!;
      if (!(h >= 0 && h < this.numHeads)) throw new Error(`heads: no head ${h}`);
      for (let k = 0; k < j; k++) if (heads[k] === h) throw new Error(`heads: head ${h} twice`);
    }
    if (n === 0 || heads.length === 0) return out;
    const W = this.walks;
    const nPad = Math.ceil(n / W) * W;
    // Data: the caller's rows (+16 bytes the SIMD copy may read past them), the prepared rows
    // (the padding rows hold whatever was there: any keys walk to the sink), the outputs.
    const srcAt = this.dataAt;
    const rowsAt = Math.ceil((srcAt + 4 * n * d + 16) / 64) * 64;
    const outAt = rowsAt + nPad * rowBytes;
    const need = outAt + 8 * nPad * heads.length;
    const have = this.memory.buffer.byteLength;
    if (need > have) this.memory.grow(Math.ceil((need - have) / 65536));
    const buffer = this.memory.buffer;
    if (this.prep) {
      new Float32Array(buffer, srcAt, n * d).set(matrix.length === n * d ? matrix : matrix.subarray(0, n * d));
      this.prep(srcAt, rowsAt, n);
    } else {
      // The same keys as prep: a float32's bits as an ordered int32 (see orderKey), NaN as the
      // smallest int32 in the first copy and the largest in the second.
      const floats = new Float32Array(buffer, rowsAt, nPad * 2 * dp);
      const keys = new Int32Array(buffer, rowsAt, nPad * 2 * dp);
      for (let i = 0; i < n; i++) {
        const o = i * 2 * dp;
        for (let f = 0; f < d; f++) {
          const v = matrix[i * d + f]!;
          floats[o + f] = v;
          const b = keys[o + f]!;
          const key = b < 0 ? b ^ 0x7fffffff : b;
          keys[o + f] = v === v ? key : -0x80000000;
          keys[o + dp + f] = v === v ? key : 0x7fffffff;
        }
      }
    }
    // The chain list: each head asked for, with its output row (filled with its initial score).
    const list = new Int32Array(buffer, this.listAt, 2 * heads.length);
    const scores = new Float64Array(buffer, outAt, nPad * heads.length);
    for (let j = 0; j < heads.length; j++) {
      const h = heads[j]!;
      scores.fill(this.initScore[h]!, j * nPad, (j + 1) * nPad);
      list[2 * j] = this.chainStart[h]!;
      list[2 * j + 1] = outAt + 8 * j * nPad;
    }
    for (let r = 0; r < nPad; r += this.chunkRows) {
      const m = Math.min(this.chunkRows, nPad - r);
      this.walk(this.listAt, heads.length, rowsAt + r * rowBytes, m / W, 8 * r);
    }
    for (let j = 0; j < heads.length; j++) out.set(scores.subarray(j * nPad, j * nPad + n), j * n);
    return out;
  }
}
