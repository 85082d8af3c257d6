/**
 * Two threads building one histogram: a helper thread shares the learner's linear memory, and
 * a large histogram job is cut into P pieces of consecutive rows (P = 2 or 4), each with its own
 * accumulator — piece 0 the target histogram, piece i a scratch histogram. Both threads claim
 * free pieces with compare-and-swap (the main thread from the first, the helper from the last),
 * and the main thread finally adds the scratch accumulators into the target in piece order.
 *
 * So the sums never depend on which thread did what (training stays deterministic), and a
 * helper that the OS has not scheduled (the machine is busy) costs at most the piece it holds:
 * the main thread simply takes the rest. When the main thread still spends over 20% of the
 * helped jobs waiting, the helper is paused for the next 512 jobs (the main thread then runs
 * the same pieces alone, so the sums stay the same). A blocking hand-off with a fixed half for
 * each thread had measured 1.7× slower than one thread on a machine loaded by other processes.
 *
 * Hand-over through a control block in the shared memory with Atomics (no messages, training
 * stays synchronous): i32 [state, sequence, begin, end, ncols, pieces, target, all, piece states…].
 */
import { Worker } from 'node:worker_threads';
import type { HistKernels, KernelMemory } from './hist-kernel.js';

export const MAX_PIECES = 4;
export const CONTROL_INTS = 8 + MAX_PIECES;
const STATE = 0;
const SEQUENCE = 1;
const BEGIN = 2;
const END = 3;
const NCOLS = 4;
const PIECES = 5;
const TARGET = 6;
const ALL = 7;
const PIECE = 8;
export const HELPER_STARTING = 0;
export const HELPER_READY = 1;
export const HELPER_EXIT = 2;
const FREE = 0;
const TAKEN = 1;
const DONE = 2;
/** Every this many helped jobs: if this thread waited more than this share of their time… */
const PAUSE_WINDOW_JOBS = 64;
const PAUSE_WAIT_SHARE = 0.2;
/** …the next this many jobs run without the helper. */
const PAUSE_JOBS = 512;

/** Pointers (bytes) into the shared memory, fixed for the learner's lifetime. */
export interface HelperLayout {
  rows: number;
  bins: number;
  du: number;
  gh: number;
  /** Column list (pairs) for the `list` kernel, slot offsets of all columns for `all`. */
  cols: number;
  offs: number;
  /** MAX_PIECES − 1 scratch histograms of histBytes each, from `scratch` on. */
  scratch: number;
  histBytes: number;
  /** Control block: CONTROL_INTS × i32. */
  ctrl: number;
}

export interface HelperData extends HelperLayout {
  memory?: object;
  buffer: ArrayBuffer | SharedArrayBuffer;
  pages: number;
}

/** One histogram job: rows[begin..end) over the first ncols kernel columns, in `pieces` pieces. */
interface Job {
  begin: number;
  end: number;
  ncols: number;
  pieces: number;
  /** Byte pointer of piece 0's accumulator (the target histogram). */
  target: number;
  /** Tag of this job's piece states: (published sequence number) << 2. */
  tag: number;
  /** 1: all columns (the `all` kernel), 0: the column list. */
  all: number;
}

/**
 * Claims and runs the free pieces of `job`, from the first or from the last. A piece's
 * accumulator is zeroed over `zeroRanges` (pairs of f64 index ranges; undefined: all of it) by
 * whoever takes it; piece 0's (the target) was zeroed by the poster. Piece states carry the
 * job's tag, so a late helper can never claim a piece of a newer job with an old job's bounds.
 */
function runPieces(ctrl: Int32Array | undefined, kernels: HistKernels, layout: HelperLayout, f64: Float64Array, job: Job, fromLast: boolean, zeroRanges: Int32Array | undefined): void {
  const size = Math.ceil((job.end - job.begin) / job.pieces);
  for (let k = 0; k < job.pieces; k++) {
    const i = fromLast ? job.pieces - 1 - k : k;
    // Without a control block (helper paused) every piece is this thread's.
    if (ctrl && Atomics.compareExchange(ctrl, PIECE + i, job.tag | FREE, job.tag | TAKEN) !== (job.tag | FREE)) continue;
    const hist = i === 0 ? job.target : layout.scratch + (i - 1) * layout.histBytes;
    if (i > 0) {
      const base = hist >> 3;
      if (zeroRanges) for (let r = 0; r < zeroRanges.length; r += 2) f64.fill(0, base + zeroRanges[r]!, base + zeroRanges[r + 1]!);
      else f64.fill(0, base, base + layout.histBytes / 8);
    }
    const b = job.begin + i * size;
    const build = job.all ? kernels.all : kernels.list;
    build(layout.rows, b, Math.min(job.end, b + size), layout.bins, layout.du, layout.gh, hist, job.all ? layout.offs : layout.cols, job.ncols);
    if (ctrl) {
      Atomics.store(ctrl, PIECE + i, job.tag | DONE);
      Atomics.notify(ctrl, PIECE + i);
    }
  }
}

export class HistHelper {
  private readonly worker: Worker;
  private readonly ctrl: Int32Array;
  private readonly f64: Float64Array;
  private dead = false;
  /** Jobs still to run without the helper, and the current window's waiting statistics. */
  private pausedJobs = 0;
  private jobs = 0;
  private waited = 0;
  private elapsed = 0;

  constructor(
    mem: KernelMemory,
    readonly layout: HelperLayout,
  ) {
    this.ctrl = new Int32Array(mem.buffer, layout.ctrl, CONTROL_INTS);
    this.f64 = new Float64Array(mem.buffer);
    Atomics.store(this.ctrl, STATE, HELPER_STARTING);
    const data: HelperData = { ...layout, memory: mem.memory, buffer: mem.buffer, pages: mem.pages };
    // Not the parent's exec flags (e.g. --input-type from `node -e` breaks a file worker).
    this.worker = new Worker(new URL('./hist-worker.js', import.meta.url), { workerData: data, execArgv: [] });
    this.worker.unref();
    this.worker.on('error', () => {
      this.dead = true;
    });
  }

  /** Waits (at most `timeoutMs`) until the thread is up; false if it did not come up. */
  waitReady(timeoutMs = 10_000): boolean {
    const until = performance.now() + timeoutMs;
    while (Atomics.load(this.ctrl, STATE) === HELPER_STARTING && performance.now() < until) Atomics.wait(this.ctrl, STATE, HELPER_STARTING, 50);
    return Atomics.load(this.ctrl, STATE) === HELPER_READY;
  }

  /**
   * Builds rows[begin..end) into `target` (a byte pointer, already zeroed over the scanned
   * columns) with the helper's help, in `pieces` pieces; `zeroRanges` are the scanned columns'
   * f64 index ranges within a histogram. `addScratch(j)` adds scratch histogram j into the
   * target; it is called for the pieces 1.. in order.
   */
  build(kernels: HistKernels, all: boolean, target: number, begin: number, end: number, ncols: number, pieces: number, zeroRanges: Int32Array | undefined, addScratch: (j: number) => void): void {
    const ctrl = this.ctrl;
    if (this.pausedJobs > 0) {
      // Helper paused: the same pieces and accumulators, all on this thread (same sums).
      this.pausedJobs--;
      runPieces(undefined, kernels, this.layout, this.f64, { begin, end, ncols, pieces, target, tag: 0, all: all ? 1 : 0 }, false, zeroRanges);
      for (let i = 1; i < pieces; i++) addScratch(i - 1);
      return;
    }
    const started = performance.now();
    // Seqlock: odd while the job is written, even once published.
    const seq = Atomics.add(ctrl, SEQUENCE, 1) + 2;
    const job: Job = { begin, end, ncols, pieces, target, tag: seq << 2, all: all ? 1 : 0 };
    ctrl[BEGIN] = begin;
    ctrl[END] = end;
    ctrl[NCOLS] = ncols;
    ctrl[PIECES] = pieces;
    ctrl[TARGET] = target;
    ctrl[ALL] = job.all;
    for (let i = 0; i < MAX_PIECES; i++) ctrl[PIECE + i] = job.tag | (i < pieces ? FREE : DONE);
    Atomics.add(ctrl, SEQUENCE, 1);
    Atomics.notify(ctrl, SEQUENCE);
    runPieces(ctrl, kernels, this.layout, this.f64, job, false, zeroRanges);
    // Wait for the pieces the helper holds, then reduce in piece order.
    const waitFrom = performance.now();
    const until = waitFrom + 120_000;
    for (let i = 0; i < pieces; i++) {
      while (Atomics.load(ctrl, PIECE + i) !== (job.tag | DONE)) {
        Atomics.wait(ctrl, PIECE + i, job.tag | TAKEN, 100);
        if (this.dead || performance.now() > until) throw new Error('gbdt: the histogram helper thread stopped answering');
      }
    }
    for (let i = 1; i < pieces; i++) addScratch(i - 1);
    // A helper that keeps this thread waiting (the machine's cores are busy elsewhere) is
    // paused for a while: this thread alone is then faster than waiting for it.
    const now = performance.now();
    this.waited += now - waitFrom;
    this.elapsed += now - started;
    if (++this.jobs === PAUSE_WINDOW_JOBS) {
      if (this.waited > PAUSE_WAIT_SHARE * this.elapsed) this.pausedJobs = PAUSE_JOBS;
      this.jobs = 0;
      this.waited = 0;
      this.elapsed = 0;
    }
  }

  close(): void {
    Atomics.store(this.ctrl, STATE, HELPER_EXIT);
    Atomics.add(this.ctrl, SEQUENCE, 2);
    Atomics.notify(this.ctrl, SEQUENCE);
    void this.worker.terminate().catch(() => {});
  }
}

/** The helper thread's loop (hist-worker.ts): run pieces of each newly published job, from the last. */
export function helperLoop(data: HelperData, kernels: HistKernels): void {
  const ctrl = new Int32Array(data.buffer, data.ctrl, CONTROL_INTS);
  const f64 = new Float64Array(data.buffer);
  let seen = Atomics.load(ctrl, SEQUENCE);
  Atomics.store(ctrl, STATE, HELPER_READY);
  Atomics.notify(ctrl, STATE);
  for (;;) {
    Atomics.wait(ctrl, SEQUENCE, seen);
    if (Atomics.load(ctrl, STATE) === HELPER_EXIT) return;
    const seq = Atomics.load(ctrl, SEQUENCE);
    seen = seq;
    if (seq & 1) continue; // being written: wait for the publication
    const job: Job = { begin: ctrl[BEGIN]!, end: ctrl[END]!, ncols: ctrl[NCOLS]!, pieces: ctrl[PIECES]!, target: ctrl[TARGET]!, tag: seq << 2, all: ctrl[ALL]! };
    if (Atomics.load(ctrl, SEQUENCE) !== seq) continue; // a newer job is being written
    // The helper zeroes whole scratch histograms: it does not know the scanned columns.
    runPieces(ctrl, kernels, data, f64, job, true, undefined);
  }
}
