/**
 * Worker thread of the dense SPD inverse (linalg.ts): attaches to the shared memory, runs its
 * share of the block sweep and reports which kernel it used.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { simdBlockUpdate, type WasmMemory } from './linalg-simd.js';
import { NotPositiveDefiniteError, SweepContext, type SweepLayout } from './linalg.js';

interface SolverThreadData {
  memory?: WasmMemory;
  buffer?: SharedArrayBuffer;
  pages?: number;
  layout: SweepLayout;
  thread: number;
  threads: number;
  simd: boolean;
}

const data = workerData as SolverThreadData;
try {
  const update = data.simd && data.memory && data.pages ? simdBlockUpdate(data.memory, data.pages, true) : undefined;
  const buffer = data.memory ? (data.memory.buffer as SharedArrayBuffer) : data.buffer!;
  const ctx = new SweepContext(buffer, data.layout, update, data.thread, data.threads);
  ctx.run();
  parentPort?.postMessage({ kernel: update ? 'wasm-simd' : 'js', timings: ctx.timings });
} catch (err) {
  const e = err as Error;
  parentPort?.postMessage(e instanceof NotPositiveDefiniteError ? { error: e.message, index: e.index, pivot: e.pivot } : { error: e.message });
}
