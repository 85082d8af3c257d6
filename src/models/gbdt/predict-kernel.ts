/**
 * Batch prediction of a flattened tree ensemble as a WebAssembly function assembled here byte
 * by byte; GbdtModel uses it for float32 matrices when WebAssembly is available.
 *
 *     for each tree, for rows in blocks of WALKS:
 *       walk all WALKS rows down the tree together until every walk reached a leaf;
 *       a step: v = x[row][feature]; next = [left, right, nanDefault][(v > threshold) + 2·isNaN(v)]
 *       out[row] += leafValue[leaf]
 *
 * The walks of a block are independent, so their loads overlap; the child is picked with
 * arithmetic, not a branch. Same arithmetic as the JavaScript path (f32 value promoted to f64,
 * compared with the f64 threshold), so both give identical scores. Measured ~1.7× faster than
 * the same 8-walk loop in JavaScript (200 trees × 31 leaves, 1,000 rows × 60 features), where
 * V8 keeps reloading the typed arrays' bases and lengths inside the walk.
 *
 * Memory layout (byte pointers): node records of 24 bytes from byte 0 (f64 threshold, i32
 * feature byte offset, i32 left / right / NaN-default child as a record byte offset, or ~leaf
 * for a leaf), i32 roots (same encoding), f64 leaf values, then the input rows (f32,
 * row-major) and the output (f64). Offsets stored pre-multiplied save the walk a multiply.
 */
import {
  ADD, AND, BLOCK, BR_IF, END, F32_LOAD, F64, F64_ADD, F64_GT, F64_NE, F64_PROMOTE, f64Load, f64Store, GE_S, GE_U, get, I32, i32, IF, load32, LOOP, LT_S, LT_U, moduleBytes, MUL, set, SHL, tee, uleb, vec, wasm, XOR,
} from '../wasm-encoder.js';

export const NODE_BYTES = 24;
/** Rows walked together. */
const WALKS = 8;

/**
 * Module bytes: imports `env.memory`, exports `predict(roots, numTrees, leaves, x, n, d, out)`
 * which adds every tree's leaf value to out[0..n) (the caller fills out with the initial
 * score); the node records are at byte 0.
 */
export function predictModule(): Uint8Array {
  // Params, then i32 locals (RB0.. = the block's row bases, A0.. = the walks' nodes), one f64.
  // Node records start at byte 0, so a node is its record's byte offset (no base to add).
  const ROOTS = 0, T = 1, LEAVES = 2, X = 3, N = 4, D = 5, OUT = 6;
  const TREE = 7, ROOT = 8, R = 9, NB = 10, ROWB = 11, OUTP = 12, RB0 = 13, A0 = RB0 + WALKS;
  const VF = A0 + WALKS;
  const rowBytes = [...get(D), ...i32(2), ...SHL]; // d · 4
  /**
   * One step of walk w (no-op once at a leaf): v = row[feature]; the child slot is
   * 12 + 4·((v > t) + 2·isNaN(v)): left, right, or the NaN default.
   */
  const walkStep = (walk: number, rowBase: number) => [
    ...get(A0 + walk), ...i32(0), ...GE_S, ...IF,
    ...get(rowBase), ...get(A0 + walk), ...load32(8), ...ADD, ...F32_LOAD, ...F64_PROMOTE, ...set(VF),
    ...get(A0 + walk),
    ...get(VF), ...get(A0 + walk), ...f64Load(0), ...F64_GT,
    ...get(VF), ...get(VF), ...F64_NE, ...i32(1), ...SHL, ...ADD,
    ...i32(2), ...SHL, ...ADD, ...load32(12), ...set(A0 + walk),
    ...END,
  ];
  const code: number[] = [];
  const emit = (...parts: number[][]) => {
    for (const p of parts) code.push(...p);
  };
  // nb = n rounded down to a multiple of WALKS (a power of two)
  emit(get(N), i32(-WALKS), AND, set(NB));
  emit(i32(0), set(TREE));
  emit(BLOCK, get(TREE), get(T), GE_U, BR_IF(0));
  emit(LOOP); // trees
  emit(get(ROOTS), get(TREE), i32(2), SHL, ADD, load32(0), set(ROOT));
  emit(i32(0), set(R));
  // Blocks of WALKS rows.
  emit(BLOCK, get(R), get(NB), GE_U, BR_IF(0), LOOP);
  for (let w = 0; w < WALKS; w++) emit(get(ROOT), set(A0 + w));
  emit(get(X), get(R), rowBytes, MUL, ADD, set(ROWB));
  for (let w = 0; w < WALKS; w++) emit(get(ROWB), i32(w), rowBytes, MUL, ADD, set(RB0 + w));
  // while (a0 & a1 & … ) >= 0
  const all: number[] = [...get(A0)];
  for (let w = 1; w < WALKS; w++) all.push(...get(A0 + w), ...AND);
  emit(BLOCK, all, i32(0), LT_S, BR_IF(0), LOOP);
  for (let w = 0; w < WALKS; w++) emit(walkStep(w, RB0 + w));
  emit(all, i32(0), GE_S, BR_IF(0), END, END);
  // out[r + w] += leaf[~a_w]
  for (let w = 0; w < WALKS; w++) {
    emit(get(OUT), get(R), i32(w), ADD, i32(3), SHL, ADD, tee(OUTP));
    emit(get(OUTP), f64Load(0), get(LEAVES), get(A0 + w), i32(-1), XOR, i32(3), SHL, ADD, f64Load(0), F64_ADD, f64Store(0));
  }
  emit(get(R), i32(WALKS), ADD, tee(R), get(NB), LT_U, BR_IF(0), END, END);
  // Remaining rows one at a time (walk 0).
  emit(BLOCK, get(R), get(N), GE_U, BR_IF(0), LOOP);
  emit(get(ROOT), set(A0));
  emit(get(X), get(R), rowBytes, MUL, ADD, set(ROWB));
  emit(BLOCK, get(A0), i32(0), LT_S, BR_IF(0), LOOP, walkStep(0, ROWB), get(A0), i32(0), GE_S, BR_IF(0), END, END);
  emit(get(OUT), get(R), i32(3), SHL, ADD, tee(OUTP));
  emit(get(OUTP), f64Load(0), get(LEAVES), get(A0), i32(-1), XOR, i32(3), SHL, ADD, f64Load(0), F64_ADD, f64Store(0));
  emit(get(R), i32(1), ADD, tee(R), get(N), LT_U, BR_IF(0), END, END);
  emit(get(TREE), i32(1), ADD, tee(TREE), get(T), LT_U, BR_IF(0), END, END);
  const locals = vec([[...uleb(VF - TREE), I32], [...uleb(1), F64]]);
  const body = [...locals, ...code, ...END];
  return moduleBytes(7, [0x00, ...uleb(1)], ['predict'], [body]);
}

export type PredictFn = (roots: number, numTrees: number, leaves: number, x: number, n: number, d: number, out: number) => void;

/** An ensemble laid out in a WebAssembly memory with room for a batch of rows. */
export class WasmEnsemble {
  private readonly memory: { readonly buffer: ArrayBuffer | SharedArrayBuffer; grow(pages: number): number };
  private readonly fn: PredictFn;
  private readonly ptr: { roots: number; leaves: number; data: number };
  private rowCapacity = 0;

  private constructor(memory: WasmEnsemble['memory'], fn: PredictFn, ptr: WasmEnsemble['ptr']) {
    this.memory = memory;
    this.fn = fn;
    this.ptr = ptr;
  }

  /** Lays out the flattened ensemble; undefined when WebAssembly is unavailable. */
  static create(nodes: Int32Array, threshold: Float64Array, roots: Int32Array, leafValue: Float64Array): WasmEnsemble | undefined {
    if (!wasm) return undefined;
    try {
      const numNodes = threshold.length;
      const align = (x: number) => Math.ceil(x / 64) * 64;
      const ptr = { roots: align(numNodes * NODE_BYTES), leaves: 0, data: 0 };
      ptr.leaves = ptr.roots + align(roots.length * 4);
      ptr.data = ptr.leaves + align(leafValue.length * 8);
      const memory = new wasm.Memory({ initial: Math.ceil((ptr.data + 1) / 65536) });
      const bytes = predictModule();
      if (!wasm.validate(bytes)) return undefined;
      const fn = new wasm.Instance(new wasm.Module(bytes), { env: { memory } }).exports.predict as PredictFn;
      // Records: f64 threshold, i32 feature byte offset, then the children (left, right, NaN
      // default) as record byte offsets (nodes start at 0), or ~leaf for a leaf.
      const view = new DataView(memory.buffer);
      const child = (c: number) => (c >= 0 ? c * NODE_BYTES : c);
      for (let i = 0; i < numNodes; i++) {
        const at = i * NODE_BYTES;
        const q = 4 * i;
        view.setFloat64(at, threshold[i]!, true);
        view.setInt32(at + 8, nodes[q]! * 4, true);
        view.setInt32(at + 12, child(nodes[q + 2]!), true);
        view.setInt32(at + 16, child(nodes[q + 3]!), true);
        view.setInt32(at + 20, child(nodes[q + 1] ? nodes[q + 3]! : nodes[q + 2]!), true);
      }
      new Int32Array(memory.buffer, ptr.roots, roots.length).set(roots.map(child));
      new Float64Array(memory.buffer, ptr.leaves, leafValue.length).set(leafValue);
      return new WasmEnsemble(memory, fn, ptr);
    } catch {
      return undefined;
    }
  }

  /** out[0..n) = init + Σ of the first `trees` trees, for n float32 rows of d values. */
  predict(matrix: Float32Array, n: number, d: number, init: number, trees: number, out: Float64Array | Float32Array): void {
    const rowBytes = d * 4 + 8;
    if (n > this.rowCapacity) {
      const need = this.ptr.data + n * rowBytes + 64;
      const have = this.memory.buffer.byteLength;
      if (need > have) this.memory.grow(Math.ceil((need - have) / 65536));
      this.rowCapacity = n;
    }
    const outAt = this.ptr.data + Math.ceil((n * d * 4) / 8) * 8;
    const buffer = this.memory.buffer;
    new Float32Array(buffer, this.ptr.data, n * d).set(matrix.length === n * d ? matrix : matrix.subarray(0, n * d));
    const result = new Float64Array(buffer, outAt, n);
    result.fill(init);
    this.fn(this.ptr.roots, trees, this.ptr.leaves, this.ptr.data, n, d, outAt);
    out.set(result);
  }
}
