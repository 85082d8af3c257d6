/**
 * The worker thread behind HnswWorkerIndex (mips-index.ts): loads or builds one HNSW graph
 * (hnswlib-node) and answers searches — nearest `want` items and their ip distances — by
 * message (searchAsync) or into shared memory (the blocking search()), and saves the graph.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { HnswMipsIndex, loadHnswlib, slotViews, type HnswSlotLayout, type HnswWorkerInit, type HnswWorkerReply } from './mips-index.js';

interface SearchMessage {
  type: 'search';
  id: number;
  want: number;
  /** The query by value (blocking callers), or in `slot` (searchAsync: the answer goes there too). */
  query?: Float32Array;
  slot?: number;
  /** Blocking callers: [state, count] Int32 header, then `want` Int32 ids and `want` Float32 distances. */
  shared?: SharedArrayBuffer;
}

/** Registers an exchange slot (mips-index.ts HnswSlotLayout). */
interface SlotMessage {
  type: 'slot';
  slot: number;
  buffer: SharedArrayBuffer;
  layout: HnswSlotLayout;
}

const slots: ReturnType<typeof slotViews>[] = [];

interface SaveMessage {
  type: 'save';
  id: number;
  path: string;
}

const port = parentPort!;
const reply = (m: HnswWorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

async function start(init: HnswWorkerInit): Promise<HnswMipsIndex> {
  const mod = await loadHnswlib();
  if (!mod) throw new Error('hnswlib-node does not load in the worker');
  if (init.kind === 'load') return HnswMipsIndex.load(mod, init.path, init.dim, init.size, init.options);
  return HnswMipsIndex.build(mod, init.vectors, init.dim, init.active, init.options, (done, total) => reply({ type: 'progress', done, total }));
}

let index: HnswMipsIndex | undefined;
const init = workerData as HnswWorkerInit;
try {
  index = await start(init);
} catch (err) {
  reply({ type: 'failed', message: String(err) }); // the owner terminates this worker
}
// The graph keeps its own copy of the vectors: drop this thread's (workerData stays referenced).
if (init.kind === 'build') {
  const built = init as { vectors?: Float32Array; active?: Uint8Array };
  built.vectors = undefined;
  built.active = undefined;
}
if (index) serve(index);

function serve(index: HnswMipsIndex): void {
  port.on('message', (m: SearchMessage | SaveMessage | SlotMessage) => onMessage(index, m));
  reply({ type: 'ready', count: index.count, ef: index.ef });
}

function onMessage(index: HnswMipsIndex, m: SearchMessage | SaveMessage | SlotMessage): void {
  if (m.type === 'slot') {
    slots[m.slot] = slotViews(m.buffer, m.layout);
    return;
  }
  if (m.type === 'save') {
    try {
      index.save(m.path);
      reply({ type: 'result', id: m.id });
    } catch (err) {
      reply({ type: 'result', id: m.id, error: String(err) });
    }
    return;
  }
  const slot = m.slot === undefined ? undefined : slots[m.slot];
  let neighbors: number[] = [];
  let distances: number[] = [];
  let error: string | undefined;
  try {
    if (m.slot !== undefined && (!slot || slot.neighbors.length < m.want)) throw new Error(`no slot ${m.slot} for ${m.want} answers`);
    ({ neighbors, distances } = index.knn(slot ? slot.query : m.query!, m.want));
  } catch (err) {
    error = String(err);
  }
  if (slot && error === undefined) {
    const n = Math.min(neighbors.length, m.want);
    for (let k = 0; k < n; k++) {
      slot.neighbors[k] = neighbors[k]!;
      slot.distances[k] = distances[k]!;
    }
    Atomics.store(slot.ctrl, 0, n);
    reply({ type: 'result', id: m.id, count: n });
    return;
  }
  if (m.shared) {
    const ctrl = new Int32Array(m.shared, 0, 2);
    if (error === undefined) {
      const n = Math.min(neighbors.length, m.want);
      new Int32Array(m.shared, 8, n).set(neighbors.slice(0, n));
      new Float32Array(m.shared, 8 + 4 * m.want, n).set(distances.slice(0, n));
      ctrl[1] = n;
    }
    Atomics.store(ctrl, 0, error === undefined ? 1 : -1);
    Atomics.notify(ctrl, 0);
    return;
  }
  if (error !== undefined) {
    reply({ type: 'result', id: m.id, error });
    return;
  }
  const ids = Int32Array.from(neighbors);
  const dist = Float32Array.from(distances);
  reply({ type: 'result', id: m.id, neighbors: ids, distances: dist }, [ids.buffer, dist.buffer]);
}
