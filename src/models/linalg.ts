/**
 * Dense symmetric positive-definite inverse for EASE (and any other closed-form model), on
 * Float64Array, blocked, optionally on two threads with a WebAssembly SIMD inner kernel.
 *
 * Algorithm: the block **sweep operator** (Gauss–Jordan elimination with symmetric, diagonal
 * block pivots). For each diagonal block K of width b, with R = all other indices:
 *
 *     D = A_KK = L Lᵀ               (Cholesky of the b×b pivot block; it stays positive
 *                                    definite because it is a Schur complement of the SPD input)
 *     W = A_RK L⁻ᵀ                  (rows of K are set to 0)
 *     A_RR ← A_RR − W Wᵀ            (the symmetric rank-b update: nearly all of the work)
 *     A_RK ← W L⁻¹ = A_RK D⁻¹
 *     A_KK ← −D⁻¹
 *
 * After all blocks are swept, A holds −A⁻¹. Only the lower triangle is maintained (n³/2
 * multiply–adds in total, the same as Cholesky + triangular inverse + product, but as one
 * kernel). The rank-b update runs in tiles of b×b over the lower triangle; tile rows are dealt
 * to the threads cyclically, and threads meet at a barrier (Atomics.wait) three times per block.
 *
 * Storage: row-major n×n with a padded leading dimension (`ld`, a multiple of b); element (i, j)
 * is `data[i*ld + j]`. Padding rows are identity rows. The caller writes the lower triangle (or
 * the whole matrix); `invertSpd` leaves the full symmetric inverse in the same array.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { blockUpdateJs, simdBlockUpdate, wasmApi, type BlockUpdate, type WasmMemory } from './linalg-simd.js';

export const SWEEP_BLOCK = 64;

export class NotPositiveDefiniteError extends Error {
  readonly index: number;
  readonly pivot: number;
  constructor(index: number, pivot: number) {
    super(`matrix is not positive definite (pivot ${index} = ${pivot})`);
    this.name = 'NotPositiveDefiniteError';
    this.index = index;
    this.pivot = pivot;
  }
}

/** A square matrix in row-major storage with leading dimension `ld` (≥ n). */
export interface DenseMatrix {
  n: number;
  ld: number;
  data: Float64Array;
  /** Where the storage lives: wasm shared memory, a SharedArrayBuffer, or a plain buffer. */
  storage: 'wasm' | 'shared' | 'plain';
  /** @internal the wasm memory, pages and byte layout of the solver's shared block */
  memory?: WasmMemory;
  pages?: number;
  /** Byte offsets: control words (Int32), pivot scratch, W panel, the matrix. */
  layout: SweepLayout;
}

export interface SweepLayout {
  n: number;
  ld: number;
  block: number;
  ctlByte: number;
  pivotByte: number;
  panelByte: number;
  scratchByte: number;
  matrixByte: number;
  totalBytes: number;
}

const CTL_WORDS = 16;
const CTL_COUNT = 0;
const CTL_GENERATION = 1;
const CTL_PROGRESS = 2;
const CTL_ERROR = 3;

function layoutFor(n: number, block: number): SweepLayout {
  const ld = Math.max(block, Math.ceil(n / block) * block);
  const ctlByte = 0;
  const pivotByte = 64;
  const panelByte = pivotByte + 3 * block * block * 8;
  const scratchByte = panelByte + ld * block * 8;
  const matrixByte = scratchByte + ld * block * 8;
  const totalBytes = matrixByte + ld * ld * 8;
  return { n, ld, block, ctlByte, pivotByte, panelByte, scratchByte, matrixByte, totalBytes };
}

const WASM_PAGE = 65536;
const MAX_WASM_PAGES = 65536;

/**
 * Allocates a matrix for `invertSpd`. With `shared` (default) the storage is a shared wasm
 * memory (for the SIMD kernel and worker threads) when it fits in 4 GiB, else a SharedArrayBuffer.
 */
export function allocateDense(n: number, options: { shared?: boolean; block?: number } = {}): DenseMatrix {
  const block = options.block ?? SWEEP_BLOCK;
  const layout = layoutFor(n, block);
  const shared = options.shared ?? true;
  const pages = Math.ceil(layout.totalBytes / WASM_PAGE);
  if (wasmApi && pages <= MAX_WASM_PAGES) {
    try {
      const memory = new wasmApi.Memory({ initial: pages, maximum: pages, shared });
      const data = new Float64Array(memory.buffer, layout.matrixByte, layout.ld * layout.ld);
      return { n, ld: layout.ld, data, storage: 'wasm', memory, pages, layout };
    } catch {
      // fall through to a plain buffer
    }
  }
  const buffer = shared ? new SharedArrayBuffer(layout.totalBytes) : new ArrayBuffer(layout.totalBytes);
  const data = new Float64Array(buffer, layout.matrixByte, layout.ld * layout.ld);
  return { n, ld: layout.ld, data, storage: shared ? 'shared' : 'plain', layout };
}

export interface InvertOptions {
  /** Threads for the rank-b updates (default: min(2, available cores); 1 for small n). */
  threads?: number;
  /** Use the WebAssembly SIMD kernel when available (default true). */
  simd?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface InvertStats {
  seconds: number;
  threads: number;
  kernel: 'wasm-simd' | 'js';
}

/** Inverts the SPD matrix in place (reads the lower triangle; writes the full symmetric inverse). */
export async function invertSpd(m: DenseMatrix, options: InvertOptions = {}): Promise<InvertStats> {
  const started = performance.now();
  const { layout } = m;
  const blocks = layout.ld / layout.block;
  let threads = options.threads ?? Math.min(2, availableParallelism());
  if (m.n < 768 || (m.storage === 'plain' && threads > 1)) threads = 1;
  const buffer = m.data.buffer as ArrayBuffer | SharedArrayBuffer;
  prepareInput(m);

  let kernel: InvertStats['kernel'] = 'js';
  if (threads === 1) {
    let update: BlockUpdate | undefined;
    if (options.simd !== false && m.storage === 'wasm' && m.memory) update = simdBlockUpdate(m.memory, m.pages!, true);
    kernel = update ? 'wasm-simd' : 'js';
    const ctx = new SweepContext(buffer, layout, update, 0, 1);
    ctx.run((done) => options.onProgress?.(done, blocks));
  } else {
    const ctl = new Int32Array(buffer, layout.ctlByte, CTL_WORDS);
    Atomics.store(ctl, CTL_COUNT, 0);
    Atomics.store(ctl, CTL_GENERATION, 0);
    Atomics.store(ctl, CTL_PROGRESS, 0);
    Atomics.store(ctl, CTL_ERROR, 0);
    const workerUrl = new URL('./linalg-worker.js', import.meta.url);
    const useSimd = options.simd !== false && m.storage === 'wasm';
    const workers = Array.from({ length: threads }, (_, t) =>
      new Worker(workerUrl, {
        // None of the parent's flags: `--input-type` (a process started with `-e`) breaks a file
        // worker, and V8 flags (`--max-semi-space-size`, which `bin/lenta.js` starts with;
        // `--max-old-space-size`) make the constructor throw when passed to a worker.
        execArgv: [],
        workerData: { memory: m.memory, buffer: m.memory ? undefined : buffer, pages: m.pages, layout, thread: t, threads, simd: useSimd } }),
    );
    const timer = options.onProgress ? setInterval(() => options.onProgress!(Atomics.load(ctl, CTL_PROGRESS), blocks), 200) : undefined;
    try {
      const results = await Promise.all(
        workers.map(
          (w) =>
            new Promise<string>((resolve, reject) => {
              w.once('message', (msg: { kernel?: string; error?: string; index?: number; pivot?: number }) => {
                if (msg.error) reject(msg.index !== undefined ? new NotPositiveDefiniteError(msg.index, msg.pivot ?? NaN) : new Error(msg.error));
                else resolve(msg.kernel ?? 'js');
              });
              w.once('error', reject);
              w.once('exit', (code) => (code !== 0 ? reject(new Error(`solver thread exited with code ${code}`)) : undefined));
            }),
        ),
      );
      kernel = results[0] === 'wasm-simd' ? 'wasm-simd' : 'js';
    } finally {
      if (timer) clearInterval(timer);
      await Promise.all(workers.map((w) => w.terminate()));
    }
    options.onProgress?.(blocks, blocks);
  }
  finishOutput(m);
  return { seconds: (performance.now() - started) / 1000, threads, kernel };
}

/** Padding rows/columns become identity; the upper triangle is ignored. */
function prepareInput(m: DenseMatrix): void {
  const { n, ld, data } = m;
  for (let i = n; i < ld; i++) {
    data.fill(0, i * ld, i * ld + i);
    data[i * ld + i] = 1;
  }
}

/** A holds −A⁻¹ in its lower triangle: negate and mirror into the upper triangle. */
function finishOutput(m: DenseMatrix): void {
  const { n, ld, data } = m;
  for (let i = 0; i < n; i++) {
    const row = i * ld;
    for (let j = 0; j <= i; j++) {
      const v = -data[row + j];
      data[row + j] = v;
      data[j * ld + i] = v;
    }
  }
}

/**
 * The sweep, run by each thread of a team over the shared buffer. Thread 0 does the small
 * serial parts (pivot factorisation); all threads share row solves and the rank-b update.
 */
export class SweepContext {
  private readonly a: Float64Array;
  private readonly w: Float64Array;
  private readonly q: Float64Array;
  private readonly piv: Float64Array;
  private readonly ctl: Int32Array;
  private readonly h: Float64Array;

  constructor(
    buffer: ArrayBuffer | SharedArrayBuffer,
    private readonly layout: SweepLayout,
    private readonly update: BlockUpdate | undefined,
    private readonly thread: number,
    private readonly threads: number,
  ) {
    const { ld, block } = layout;
    this.h = new Float64Array(buffer, 0, layout.totalBytes / 8);
    this.a = new Float64Array(buffer, layout.matrixByte, ld * ld);
    this.w = new Float64Array(buffer, layout.panelByte, ld * block);
    this.q = new Float64Array(buffer, layout.scratchByte, ld * block);
    this.piv = new Float64Array(buffer, layout.pivotByte, 3 * block * block);
    this.ctl = new Int32Array(buffer, layout.ctlByte, CTL_WORDS);
  }

  private barrier(): void {
    if (this.threads === 1) return;
    const ctl = this.ctl;
    const gen = Atomics.load(ctl, CTL_GENERATION);
    if (Atomics.add(ctl, CTL_COUNT, 1) === this.threads - 1) {
      Atomics.store(ctl, CTL_COUNT, 0);
      Atomics.add(ctl, CTL_GENERATION, 1);
      Atomics.notify(ctl, CTL_GENERATION);
    } else {
      while (Atomics.load(ctl, CTL_GENERATION) === gen) Atomics.wait(ctl, CTL_GENERATION, gen);
    }
  }

  /** Milliseconds spent per phase by this thread (solves, update, waiting at barriers). */
  readonly timings = { solve: 0, update: 0, wait: 0 };

  run(onStep?: (done: number) => void): void {
    const { ld, block: b } = this.layout;
    const blocks = ld / b;
    const t = this.timings;
    if (this.thread === 0) this.factorPivot(0);
    this.barrier();
    for (let kb = 0; kb < blocks; kb++) {
      if (Atomics.load(this.ctl, CTL_ERROR) !== 0) throw new Error('solver aborted: the matrix is not positive definite');
      const k0 = kb * b;
      let t0 = performance.now();
      this.solveRows(k0);
      let t1 = performance.now();
      t.solve += t1 - t0;
      this.barrier();
      t0 = performance.now();
      t.wait += t0 - t1;
      this.rankUpdate(kb);
      t1 = performance.now();
      t.update += t1 - t0;
      this.barrier();
      t.wait += performance.now() - t1;
      if (this.thread === 0) {
        this.writePivotInverse(k0);
        if (kb + 1 < blocks) this.factorPivot(k0 + b);
        Atomics.store(this.ctl, CTL_PROGRESS, kb + 1);
        onStep?.(kb + 1);
      }
      this.barrier();
    }
  }

  /**
   * Cholesky of the pivot block A[K,K] into piv[0 … b²) (lower, row-major b×b), then
   * piv[b² … 2b²) = −L⁻¹ and piv[2b² … 3b²) = −L⁻ᵀ, the right-hand panels of the row solves.
   */
  private factorPivot(k0: number): void {
    const { ld, block: b } = this.layout;
    const a = this.a;
    const L = this.piv;
    for (let i = 0; i < b; i++) {
      for (let j = 0; j <= i; j++) {
        let s = a[(k0 + i) * ld + k0 + j];
        for (let t = 0; t < j; t++) s -= L[i * b + t] * L[j * b + t];
        if (i === j) {
          if (!(s > 0)) {
            Atomics.store(this.ctl, CTL_ERROR, 1);
            throw new NotPositiveDefiniteError(k0 + i, s);
          }
          L[i * b + i] = Math.sqrt(s);
        } else {
          L[i * b + j] = s / L[j * b + j];
        }
      }
      for (let j = i + 1; j < b; j++) L[i * b + j] = 0;
    }
    const inv = this.piv.subarray(b * b, 2 * b * b);
    const invT = this.piv.subarray(2 * b * b, 3 * b * b);
    inv.fill(0);
    for (let j = 0; j < b; j++) {
      inv[j * b + j] = 1 / L[j * b + j];
      for (let i = j + 1; i < b; i++) {
        let s = 0;
        for (let t = j; t < i; t++) s -= L[i * b + t] * inv[t * b + j];
        inv[i * b + j] = s / L[i * b + i];
      }
    }
    for (let i = 0; i < b; i++) for (let j = 0; j < b; j++) invT[i * b + j] = -inv[j * b + i];
    for (let i = 0; i < b * b; i++) inv[i] = -inv[i];
  }

  /**
   * For this thread's rows r ∉ K: w_r = L⁻¹ a_r (into the panel W) and a_r ← L⁻ᵀ w_r = D⁻¹ a_r.
   * Both solves are products with the precomputed inverse factor, done by the block-update
   * kernel on a gathered copy Q of the rows: W = Q·L⁻ᵀ (as C −= A·Bᵀ with B = −L⁻¹), then
   * Q = W·L⁻¹ with B = −L⁻ᵀ. Rows are dealt in contiguous block-aligned chunks per thread.
   */
  private solveRows(k0: number): void {
    const { ld, block: b, panelByte, scratchByte, pivotByte } = this.layout;
    const a = this.a;
    const W = this.w;
    const Q = this.q;
    const chunk = Math.ceil(ld / b / this.threads) * b;
    const r0 = Math.min(ld, this.thread * chunk);
    const r1 = Math.min(ld, r0 + chunk);
    if (r1 <= r0) return;
    // gather Q[r, t] = A[r, k0+t] (rows of K are zero)
    for (let r = r0; r < r1; r++) {
      const qr = r * b;
      if (r >= k0 + b) {
        const ar = r * ld + k0;
        for (let t = 0; t < b; t++) Q[qr + t] = a[ar + t];
      } else if (r >= k0) Q.fill(0, qr, qr + b);
    }
    const upTo = Math.min(r1, k0);
    for (let t = 0; t < b; t++) {
      const at = (k0 + t) * ld;
      for (let r = r0; r < upTo; r++) Q[r * b + t] = a[at + r];
    }
    W.fill(0, r0 * b, r1 * b);
    const rows = r1 - r0;
    const update = this.update;
    const negInv = pivotByte + b * b * 8;
    const negInvT = pivotByte + 2 * b * b * 8;
    if (update) update(panelByte + r0 * b * 8, b, scratchByte + r0 * b * 8, negInv, rows, b, b);
    else blockUpdateJs(this.h, panelByte / 8 + r0 * b, b, scratchByte / 8 + r0 * b, negInv / 8, rows, b, b);
    Q.fill(0, r0 * b, r1 * b);
    if (update) update(scratchByte + r0 * b * 8, b, panelByte + r0 * b * 8, negInvT, rows, b, b);
    else blockUpdateJs(this.h, scratchByte / 8 + r0 * b, b, panelByte / 8 + r0 * b, negInvT / 8, rows, b, b);
    // scatter back
    for (let r = Math.max(r0, k0 + b); r < r1; r++) {
      const qr = r * b;
      const ar = r * ld + k0;
      for (let t = 0; t < b; t++) a[ar + t] = Q[qr + t];
    }
    for (let t = 0; t < b; t++) {
      const at = (k0 + t) * ld;
      for (let r = r0; r < upTo; r++) a[at + r] = Q[r * b + t];
    }
  }

  /** A[i, j] −= W_i · W_j over the lower triangle, in b×b tiles; tile rows dealt cyclically. */
  private rankUpdate(kb: number): void {
    const { ld, block: b, matrixByte, panelByte } = this.layout;
    const tiles = ld / b;
    const update = this.update;
    const aElem = matrixByte / 8;
    const wElem = panelByte / 8;
    for (let ti = this.thread; ti < tiles; ti += this.threads) {
      // the tile row of the pivot block only changes by zero: skip it, and skip the pivot tile column
      if (ti === kb) continue;
      for (let tj = 0; tj <= ti; tj++) {
        if (tj === kb) continue;
        const cOff = (ti * b) * ld + tj * b;
        if (update) update(matrixByte + cOff * 8, ld, panelByte + ti * b * b * 8, panelByte + tj * b * b * 8, b, b, b);
        else blockUpdateJs(this.h, aElem + cOff, ld, wElem + ti * b * b, wElem + tj * b * b, b, b, b);
      }
    }
  }

  /** A[K,K] ← −D⁻¹ = −L⁻ᵀ L⁻¹ (lower triangle), from the stored −L⁻¹. */
  private writePivotInverse(k0: number): void {
    const { ld, block: b } = this.layout;
    const negInv = this.piv.subarray(b * b, 2 * b * b);
    const a = this.a;
    for (let i = 0; i < b; i++) {
      for (let j = 0; j <= i; j++) {
        // (L⁻ᵀ L⁻¹)[i, j] = Σ_t L⁻¹[t, i] · L⁻¹[t, j], t ≥ max(i, j) = i
        let s = 0;
        for (let t = i; t < b; t++) s += negInv[t * b + i] * negInv[t * b + j];
        a[(k0 + i) * ld + k0 + j] = -s;
      }
    }
  }
}

/** Cholesky factorisation in place of a small dense SPD matrix (lower triangle, row-major n×n). */
export function choleskyInPlace(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let t = 0; t < j; t++) s -= a[i * n + t] * a[j * n + t];
      if (i === j) {
        if (!(s > 0)) throw new NotPositiveDefiniteError(i, s);
        a[i * n + i] = Math.sqrt(s);
      } else a[i * n + j] = s / a[j * n + j];
    }
    for (let j = i + 1; j < n; j++) a[i * n + j] = 0;
  }
}

/** Solves L Lᵀ x = b in place (L from choleskyInPlace). */
export function choleskySolve(l: Float64Array, n: number, x: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let s = x[i];
    for (let t = 0; t < i; t++) s -= l[i * n + t] * x[t];
    x[i] = s / l[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i];
    for (let t = i + 1; t < n; t++) s -= l[t * n + i] * x[t];
    x[i] = s / l[i * n + i];
  }
}

/**
 * A single-threaded scratch memory for dense block products (the SIMD kernel when available,
 * else JavaScript): `h` is the whole memory as doubles; offsets below are in doubles.
 * Used by iALS (batched CG products with the Gram matrix, batched scoring).
 */
export class KernelWorkspace {
  readonly h: Float64Array;
  readonly kernel: 'wasm-simd' | 'js';
  private readonly update?: BlockUpdate;

  constructor(doubles: number, options: { simd?: boolean } = {}) {
    const pages = Math.max(1, Math.ceil((doubles * 8) / WASM_PAGE));
    let update: BlockUpdate | undefined;
    let h: Float64Array | undefined;
    if (options.simd !== false && wasmApi && pages <= MAX_WASM_PAGES) {
      try {
        const memory = new wasmApi.Memory({ initial: pages, maximum: pages, shared: false });
        update = simdBlockUpdate(memory, pages, false);
        if (update) h = new Float64Array(memory.buffer, 0, doubles);
      } catch {
        update = undefined;
      }
    }
    this.h = h ?? new Float64Array(doubles);
    this.update = update;
    this.kernel = update ? 'wasm-simd' : 'js';
  }

  /**
   * h[c + i·ldc + j] −= Σ_t h[a + i·depth + t] · h[b + j·depth + t] for i < rows, j < cols,
   * t < depth (rows % 4 = 0, cols % 2 = 0, depth % 2 = 0).
   */
  blockUpdate(c: number, ldc: number, a: number, b: number, rows: number, cols: number, depth: number): void {
    if (this.update) this.update(c * 8, ldc, a * 8, b * 8, rows, cols, depth);
    else blockUpdateJs(this.h, c, ldc, a, b, rows, cols, depth);
  }
}
