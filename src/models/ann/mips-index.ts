/**
 * Maximum-inner-product search over item vectors (rows of a Float32Array, `dim` numbers each).
 *
 * Two implementations behind one interface:
 * - `ExactMipsIndex`: a scan in TypeScript with a bounded min-heap; exact, no build time, fine up
 *   to ~100k items (≈ 4 ms per query at 64 factors), ~40–150 ms at 1M items.
 * - `HnswMipsIndex`: an HNSW graph from the `hnswlib-node` package (native; inner-product
 *   space); approximate, ~2–7 ms per top-1500 query at 1M items depending on ef. The package is
 *   optional: it is loaded with a dynamic import, and `createMipsIndex` falls back to the exact
 *   scan when it is not installed or its addon fails to load. (usearch 2.25.3 was measured too:
 *   faster multi-threaded build, but lower recall per ms, and its JS binding cannot change the
 *   search expansion after construction; 2.26+ needs Node ≥ 22.)
 *
 * Large graphs are served by a worker thread (`HnswWorkerIndex`, hnsw-worker.ts): the same
 * answers, but the native search no longer holds the request's thread.
 *
 * `skip(item)` filters results (seen, excluded, the user's own history): the exact scan applies
 * it inside the scan; the graph search over-fetches by `skipHint` and filters afterwards.
 */

import { Worker } from 'node:worker_threads';

export interface MipsResult {
  items: Int32Array;
  scores: Float32Array;
}

export interface MipsIndex {
  readonly kind: 'exact' | 'hnsw';
  readonly size: number;
  readonly dim: number;
  /** Up to k items with the largest ⟨query, item⟩, best first; `skipHint` = how many items skip() may reject. */
  search(query: Float32Array, k: number, skip?: (item: number) => boolean, skipHint?: number): MipsResult;
  /**
   * search() answered from another thread (an index served by a worker): the calling thread
   * stays free meanwhile. Present only on such indexes; `skip` runs on the calling thread.
   */
  searchAsync?(query: Float32Array, k: number, skip?: (item: number) => boolean, skipHint?: number): Promise<MipsResult>;
  /** Writes the index structure (not the vectors) to `path`; the exact index writes nothing. */
  save(path: string): void | Promise<void>;
  /** Releases what the index holds outside the heap (a worker thread); it must not be used after. */
  close?(): Promise<void>;
}

/** A bounded min-heap of (score, item): keeps the k best pushed so far. */
export class TopKHeap {
  readonly scores: Float32Array;
  readonly items: Int32Array;
  size = 0;

  constructor(readonly k: number) {
    this.scores = new Float32Array(Math.max(1, k));
    this.items = new Int32Array(Math.max(1, k));
  }

  /** The smallest kept score (−∞ until the heap is full). */
  get threshold(): number {
    return this.size < this.k ? -Infinity : this.scores[0];
  }

  push(score: number, item: number): void {
    const { scores, items } = this;
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!worse(score, item, scores[parent], items[parent])) break;
        scores[i] = scores[parent];
        items[i] = items[parent];
        i = parent;
      }
      scores[i] = score;
      items[i] = item;
      return;
    }
    if (this.k === 0 || !worse(scores[0], items[0], score, item)) return;
    // replace the root and sift down
    let i = 0;
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && worse(scores[r], items[r], scores[l], items[l]) ? r : l;
      if (!worse(scores[c], items[c], score, item)) break;
      scores[i] = scores[c];
      items[i] = items[c];
      i = c;
    }
    scores[i] = score;
    items[i] = item;
  }

  /** The kept entries, best first (ties: higher item id first). */
  sorted(): MipsResult {
    const order = Array.from({ length: this.size }, (_, i) => i);
    order.sort((a, b) => this.scores[b] - this.scores[a] || this.items[b] - this.items[a]);
    return { items: Int32Array.from(order, (i) => this.items[i]), scores: Float32Array.from(order, (i) => this.scores[i]) };
  }
}

/** Is (s1, i1) ranked below (s2, i2)? Lower score, or equal score and lower id. */
function worse(s1: number, i1: number, s2: number, i2: number): boolean {
  return s1 < s2 || (s1 === s2 && i1 < i2);
}

export class ExactMipsIndex implements MipsIndex {
  readonly kind = 'exact';
  readonly size: number;

  /** `active[i] = 0` leaves item i out (e.g. items without factors). */
  constructor(
    readonly vectors: Float32Array,
    readonly dim: number,
    private readonly active?: Uint8Array,
  ) {
    this.size = Math.floor(vectors.length / dim);
  }

  search(query: Float32Array, k: number, skip?: (item: number) => boolean): MipsResult {
    const { vectors: v, dim, size, active } = this;
    const heap = new TopKHeap(Math.max(0, Math.min(k, size)));
    if (heap.k === 0) return { items: new Int32Array(0), scores: new Float32Array(0) };
    const d4 = dim & ~3;
    for (let i = 0; i < size; i++) {
      if (active && !active[i]) continue;
      const b = i * dim;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let t = 0;
      for (; t < d4; t += 4) {
        s0 += query[t] * v[b + t];
        s1 += query[t + 1] * v[b + t + 1];
        s2 += query[t + 2] * v[b + t + 2];
        s3 += query[t + 3] * v[b + t + 3];
      }
      for (; t < dim; t++) s0 += query[t] * v[b + t];
      const s = Math.fround(s0 + s1 + s2 + s3);
      if (s < heap.threshold || Number.isNaN(s)) continue;
      if (skip && skip(i)) continue;
      heap.push(s, i);
    }
    return heap.sorted();
  }

  save(): void {}
}

/** The part of the `hnswlib-node` package used here (declared locally: the package is optional). */
interface HnswIndex {
  initIndex(maxElements: number, m?: number, efConstruction?: number, randomSeed?: number): void;
  addPoint(point: number[], label: number): void;
  searchKnn(query: number[], k: number): { distances: number[]; neighbors: number[] };
  setEf(ef: number): void;
  getCurrentCount(): number;
  readIndexSync(path: string): void;
  writeIndexSync(path: string): void;
}
export interface HnswModule {
  HierarchicalNSW: new (space: 'ip' | 'l2' | 'cosine', dim: number) => HnswIndex;
}

export interface GraphOptions {
  /** Edges per node (HNSW M, default 16). */
  connectivity?: number;
  /** Candidate list size while building (default 64). */
  expansionAdd?: number;
  /** Candidate list size while searching (default 1000; the search uses at least k). */
  expansionSearch?: number;
  seed?: number;
}

let hnswModule: Promise<HnswModule | undefined> | undefined;

/** The `hnswlib-node` package when it is installed and its native addon loads, else undefined. */
export function loadHnswlib(): Promise<HnswModule | undefined> {
  hnswModule ??= (async () => {
    try {
      const name = 'hnswlib-node'; // a variable: the package is optional, so no static import
      const mod = (await import(name)) as Partial<HnswModule> & { default?: Partial<HnswModule> };
      const HierarchicalNSW = mod.HierarchicalNSW ?? mod.default?.HierarchicalNSW;
      return HierarchicalNSW ? { HierarchicalNSW } : undefined;
    } catch {
      return undefined;
    }
  })();
  return hnswModule;
}

/**
 * HNSW (hnswlib) with the inner-product space. Measured at 1M items × 64 factors, top-1500:
 * ef 1500 → recall .51, p50 2.1 ms; ef 3000 → .65, 3.5 ms; ef 6000 → .69, 6.4 ms (see the PR).
 * The embedding source's top-500 on the bench platform (368k items in the graph, the request's
 * skip set, `bench candidates --ann-recall`): recall of the exact top-500 .661 at ef 500, .668 at
 * ef 1000, .675 at ef 3000, for 0.7 / 0.9 / 1.8 ms per search — the graph (M 16, efConstruction
 * 64) caps recall near .7 whatever the ef, so the default is 1000. (A denser graph, efConstruction
 * 200, gave +.03 for 10× the build time; the L2 reduction of MIPS, one extra coordinate, was far
 * worse on these factors: .41 at ef 1000.)
 */
export class HnswMipsIndex implements MipsIndex {
  readonly kind = 'hnsw';
  /** Candidate list size while searching (the search uses at least the number of results asked). */
  ef: number;

  private constructor(
    private readonly index: HnswIndex,
    readonly dim: number,
    readonly size: number,
    options: GraphOptions,
  ) {
    this.ef = options.expansionSearch ?? DEFAULT_EF;
  }

  /** Builds the graph over the active rows of `vectors`. */
  static build(mod: HnswModule, vectors: Float32Array, dim: number, active: Uint8Array | undefined, options: GraphOptions = {}, onProgress?: (done: number, total: number) => void): HnswMipsIndex {
    const n = Math.floor(vectors.length / dim);
    let count = 0;
    for (let i = 0; i < n; i++) if (!active || active[i]) count++;
    const index = new mod.HierarchicalNSW('ip', dim);
    index.initIndex(Math.max(1, count), options.connectivity ?? 16, options.expansionAdd ?? 64, options.seed ?? 42);
    const point = new Array<number>(dim);
    let done = 0;
    for (let i = 0; i < n; i++) {
      if (active && !active[i]) continue;
      for (let t = 0; t < dim; t++) point[t] = vectors[i * dim + t];
      index.addPoint(point, i);
      if (++done % 65536 === 0) onProgress?.(done, count);
    }
    onProgress?.(count, count);
    return new HnswMipsIndex(index, dim, n, options);
  }

  static load(mod: HnswModule, path: string, dim: number, size: number, options: GraphOptions = {}): HnswMipsIndex {
    const index = new mod.HierarchicalNSW('ip', dim);
    index.readIndexSync(path);
    return new HnswMipsIndex(index, dim, size, options);
  }

  /** Items in the graph. */
  get count(): number {
    return this.index.getCurrentCount();
  }

  /** One graph search for the `want` nearest items (search expansion at least `want`), nearest first. */
  knn(query: ArrayLike<number>, want: number): { neighbors: number[]; distances: number[] } {
    this.index.setEf(Math.max(this.ef, want));
    return this.index.searchKnn(Array.from(query), want);
  }

  search(query: Float32Array, k: number, skip?: (item: number) => boolean, skipHint = 0): MipsResult {
    const count = this.count;
    let want = firstWant(k, skip ? skipHint : 0, count);
    for (let attempt = 0; ; attempt++) {
      if (want <= 0) return { items: new Int32Array(0), scores: new Float32Array(0) };
      const r = this.knn(query, want);
      const got = takeAnswer(r.neighbors, r.distances, k, skip, want, count, attempt);
      if (typeof got !== 'number') return got;
      want = got;
    }
  }

  save(path: string): void {
    this.index.writeIndexSync(path);
  }
}

/**
 * How many answers to ask the graph for first: k plus room for every item skip() may reject
 * (`skipHint`: the request's history and seen items). Capping it at the search expansion was
 * measured (`bench candidates --ann-recall`): the seen items rank high, so capped asks were
 * often short and asked again — slower at p50 and p99 than one search at ef = k + hint.
 */
function firstWant(k: number, skipHint: number, count: number): number {
  return Math.min(count, k + skipHint);
}

/**
 * One graph answer (nearest first) with `skip` applied: the result (best first) when it is
 * final, else how many to ask for next — too many skipped: ask for twice as many, at most twice.
 */
function takeAnswer(neighbors: ArrayLike<number>, distances: ArrayLike<number>, k: number, skip: ((item: number) => boolean) | undefined, want: number, count: number, attempt: number, answered = neighbors.length): MipsResult | number {
  const items: number[] = [];
  const scores: number[] = [];
  for (let p = 0; p < answered && items.length < k; p++) {
    const item = neighbors[p]!;
    if (skip && skip(item)) continue;
    items.push(item);
    scores.push(1 - distances[p]!); // ip distance = 1 − ⟨q, y⟩
  }
  if (items.length >= k || want >= count || attempt >= 2) return bestFirst(items, scores);
  return Math.min(count, want * 2);
}

/** What a graph worker (hnsw-worker.ts) starts from: a saved graph, or vectors to build it from. */
export type HnswWorkerInit =
  | { kind: 'load'; path: string; dim: number; size: number; options: GraphOptions }
  | { kind: 'build'; vectors: Float32Array; dim: number; active: Uint8Array | undefined; options: GraphOptions };

/** Messages from a graph worker. */
export type HnswWorkerReply =
  | { type: 'ready'; count: number; ef: number }
  | { type: 'progress'; done: number; total: number }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; neighbors?: Int32Array; distances?: Float32Array; count?: number; error?: string };

/**
 * A reusable exchange area in shared memory for one search in flight (searchAsync): the query
 * (`dim` floats), then up to `capacity` neighbour ids and distances. Registered with the worker
 * once; a search then sends only its id, slot and size — no array buffer is created per search
 * on either thread (young array buffers made the worker's minor GCs slow to sweep).
 */
export interface HnswSlotLayout {
  dim: number;
  capacity: number;
}

export function slotViews(buffer: SharedArrayBuffer, { dim, capacity }: HnswSlotLayout): { ctrl: Int32Array; query: Float32Array; neighbors: Int32Array; distances: Float32Array } {
  // [answer count (written last, atomically), pad] [query] [neighbours] [distances]
  return {
    ctrl: new Int32Array(buffer, 0, 2),
    query: new Float32Array(buffer, 8, dim),
    neighbors: new Int32Array(buffer, 8 + 4 * dim, capacity),
    distances: new Float32Array(buffer, 8 + 4 * dim + 4 * capacity, capacity),
  };
}

/** Bytes of a slot's shared buffer. */
export function slotBytes({ dim, capacity }: HnswSlotLayout): number {
  return 8 + 4 * dim + 8 * capacity;
}

interface Slot {
  index: number;
  capacity: number;
  ctrl: Int32Array;
  query: Float32Array;
  neighbors: Int32Array;
  distances: Float32Array;
}

/**
 * The HNSW graph served by a worker thread (hnsw-worker.ts): the same graph and answers as
 * HnswMipsIndex, but searchAsync() leaves the calling thread free while the native search runs
 * (a few ms at 1M items), so the other candidate sources of a request run meanwhile. The graph
 * lives only in the worker. search() (synchronous) also works: it blocks until the worker answers.
 * The worker does not keep the process alive while no search is in flight.
 */
export class HnswWorkerIndex implements MipsIndex {
  readonly kind = 'hnsw';
  private readonly pending = new Map<number, { resolve: (r: HnswWorkerReply & { type: 'result' }) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private failure: Error | undefined;
  private readonly freeSlots: Slot[] = [];
  private slotCount = 0;
  private readonly inFlight = new Set<Promise<unknown>>();

  private constructor(
    private readonly worker: Worker,
    readonly dim: number,
    readonly size: number,
    private readonly count: number,
    /** The graph's search expansion (the worker's). */
    readonly ef: number,
  ) {
    worker.on('message', (m: HnswWorkerReply) => {
      if (m.type !== 'result') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if (m.error) p.reject(new Error(`hnsw worker: ${m.error}`));
      else p.resolve(m);
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      for (const p of this.pending.values()) p.reject(this.failure);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`hnsw worker exited (code ${code})`)));
    worker.unref();
  }

  /** A worker serving the graph saved at `path`. */
  static load(path: string, dim: number, size: number, options: GraphOptions = {}): Promise<HnswWorkerIndex> {
    return HnswWorkerIndex.start({ kind: 'load', path, dim, size, options: graphOptions(options) }, dim, size);
  }

  /** A worker building the graph over the active rows of `vectors` (copied to the worker). */
  static build(vectors: Float32Array, dim: number, active: Uint8Array | undefined, options: GraphOptions = {}, onProgress?: (done: number, total: number) => void): Promise<HnswWorkerIndex> {
    return HnswWorkerIndex.start({ kind: 'build', vectors, dim, active, options: graphOptions(options) }, dim, Math.floor(vectors.length / dim), onProgress);
  }

  private static start(init: HnswWorkerInit, dim: number, size: number, onProgress?: (done: number, total: number) => void): Promise<HnswWorkerIndex> {
    return new Promise((resolve, reject) => {
      // A young generation large enough that the worker (which allocates the native search's
      // answer arrays) rarely collects.
      const worker = new Worker(new URL('./hnsw-worker.js', import.meta.url), { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: 32 } });
      const onMessage = (m: HnswWorkerReply) => {
        if (m.type === 'progress') onProgress?.(m.done, m.total);
        else if (m.type === 'ready') {
          cleanup();
          resolve(new HnswWorkerIndex(worker, dim, size, m.count, m.ef));
        } else if (m.type === 'failed') {
          cleanup();
          void worker.terminate();
          reject(new Error(`hnsw worker: ${m.message}`));
        }
      };
      const onError = (err: Error) => {
        cleanup();
        reject(err);
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new Error(`hnsw worker exited (code ${code}) before it was ready`));
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  private call(message: Record<string, unknown>): Promise<HnswWorkerReply & { type: 'result' }> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const answer = new Promise<HnswWorkerReply & { type: 'result' }>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id });
    });
    this.inFlight.add(answer);
    const done = () => void this.inFlight.delete(answer);
    answer.then(done, done);
    return answer;
  }

  async searchAsync(query: Float32Array, k: number, skip?: (item: number) => boolean, skipHint = 0): Promise<MipsResult> {
    const count = this.count;
    let want = firstWant(k, skip ? skipHint : 0, count);
    for (let attempt = 0; ; attempt++) {
      if (want <= 0) return { items: new Int32Array(0), scores: new Float32Array(0) };
      const slot = this.acquire(want);
      try {
        slot.query.set(query.subarray(0, this.dim));
        await this.call({ type: 'search', slot: slot.index, want });
        // The worker stores the count atomically after the answer: reading it orders the reads after.
        const got = takeAnswer(slot.neighbors, slot.distances, k, skip, want, count, attempt, Atomics.load(slot.ctrl, 0));
        if (typeof got !== 'number') return got;
        want = got;
      } finally {
        this.freeSlots.push(slot);
      }
    }
  }

  /** A free exchange slot for `want` answers (a new one, registered with the worker, if none fits). */
  private acquire(want: number): Slot {
    for (let k = this.freeSlots.length - 1; k >= 0; k--) {
      const slot = this.freeSlots[k]!;
      if (slot.capacity >= want) {
        this.freeSlots[k] = this.freeSlots[this.freeSlots.length - 1]!;
        this.freeSlots.pop();
        return slot;
      }
    }
    let capacity = 1024;
    while (capacity < want) capacity *= 2;
    const layout = { dim: this.dim, capacity };
    const buffer = new SharedArrayBuffer(slotBytes(layout));
    const index = this.slotCount++;
    this.worker.postMessage({ type: 'slot', slot: index, buffer, layout });
    return { index, capacity, ...slotViews(buffer, layout) };
  }

  search(query: Float32Array, k: number, skip?: (item: number) => boolean, skipHint = 0): MipsResult {
    const count = this.count;
    let want = firstWant(k, skip ? skipHint : 0, count);
    for (let attempt = 0; ; attempt++) {
      if (want <= 0) return { items: new Int32Array(0), scores: new Float32Array(0) };
      const r = this.searchBlocking(query, want);
      const got = takeAnswer(r.neighbors, r.distances, k, skip, want, count, attempt);
      if (typeof got !== 'number') return got;
      want = got;
    }
  }

  /** One search, waiting (blocked) for the worker to write the answer into shared memory. */
  private searchBlocking(query: Float32Array, want: number): { neighbors: Int32Array; distances: Float32Array } {
    if (this.failure) throw this.failure;
    const shared = new SharedArrayBuffer(8 + 8 * want);
    const ctrl = new Int32Array(shared, 0, 2);
    this.worker.postMessage({ type: 'search', id: 0, query: Float32Array.from(query), want, shared });
    // 0 = pending, 1 = done (ctrl[1] results), −1 = failed; a dead worker never answers.
    while (Atomics.load(ctrl, 0) === 0) {
      Atomics.wait(ctrl, 0, 0, 1000);
      if (this.failure) throw this.failure;
    }
    if (ctrl[0] !== 1) throw new Error('hnsw worker: search failed');
    const n = ctrl[1]!;
    return { neighbors: new Int32Array(shared, 8, n), distances: new Float32Array(shared, 8 + 4 * want, n) };
  }

  async save(path: string): Promise<void> {
    await this.call({ type: 'save', path });
  }

  /** Stops the worker once the searches in flight have answered; later searches fail. */
  async close(): Promise<void> {
    this.failure ??= new Error('hnsw worker: closed');
    await Promise.allSettled([...this.inFlight]);
    await this.worker.terminate();
  }
}

function graphOptions(o: GraphOptions): GraphOptions {
  return { connectivity: o.connectivity, expansionAdd: o.expansionAdd, expansionSearch: o.expansionSearch, seed: o.seed };
}

export interface MipsBuildOptions extends GraphOptions {
  /** Use the graph index from this many items on (default 50,000); below, the exact scan. */
  annMinItems?: number;
  /** 'auto' (default): graph when large and `hnswlib-node` loads; 'exact': always the scan. */
  ann?: 'auto' | 'exact';
  /**
   * Graphs of at least this many items are served by a worker thread (HnswWorkerIndex), so a
   * search overlaps the request's other work (default 200,000; Infinity = never).
   */
  annWorkerMinItems?: number;
}

/** The index for `vectors`: an HNSW graph for large catalogues when available, else the exact scan. */
export async function createMipsIndex(vectors: Float32Array, dim: number, active: Uint8Array | undefined, options: MipsBuildOptions = {}, onProgress?: (done: number, total: number) => void): Promise<MipsIndex> {
  let count = 0;
  const n = Math.floor(vectors.length / dim);
  for (let i = 0; i < n; i++) if (!active || active[i]) count++;
  if (options.ann !== 'exact' && count >= (options.annMinItems ?? 50_000)) {
    const mod = await loadHnswlib();
    if (mod) {
      if (count >= (options.annWorkerMinItems ?? DEFAULT_WORKER_MIN_ITEMS)) {
        try {
          return await HnswWorkerIndex.build(vectors, dim, active, options, onProgress);
        } catch (err) {
          process.stderr.write(`lenta: ${String(err)}; the graph is built and searched on the main thread\n`);
        }
      }
      return HnswMipsIndex.build(mod, vectors, dim, active, options, onProgress);
    }
  }
  return new ExactMipsIndex(vectors, dim, active);
}

const DEFAULT_WORKER_MIN_ITEMS = 200_000;
const DEFAULT_EF = 1000;

/** Loads a graph saved by save(): served by a worker when it is large enough (see annWorkerMinItems), else in this thread. */
export async function loadHnswIndex(mod: HnswModule, path: string, dim: number, size: number, activeCount: number, options: MipsBuildOptions = {}): Promise<MipsIndex> {
  if (activeCount >= (options.annWorkerMinItems ?? DEFAULT_WORKER_MIN_ITEMS)) {
    try {
      return await HnswWorkerIndex.load(path, dim, size, options);
    } catch (err) {
      process.stderr.write(`lenta: ${String(err)}; the graph is searched on the main thread\n`);
    }
  }
  return HnswMipsIndex.load(mod, path, dim, size, options);
}

/**
 * The results best first (higher score, then higher item id). hnswlib answers nearest first,
 * so the list is usually in order already (checked in one pass); only ties in the wrong order
 * (or an out-of-order answer) pay for the sort.
 */
function bestFirst(items: number[], scores: number[]): MipsResult {
  let ordered = true;
  for (let j = 1; j < items.length; j++) {
    const d = scores[j - 1]! - scores[j]!;
    if (d < 0 || (d === 0 && items[j - 1]! < items[j]!) || Number.isNaN(d)) {
      ordered = false;
      break;
    }
  }
  if (ordered) return { items: Int32Array.from(items), scores: Float32Array.from(scores) };
  const order = items.map((_, j) => j).sort((a, b) => scores[b]! - scores[a]! || items[b]! - items[a]!);
  return { items: Int32Array.from(order, (j) => items[j]!), scores: Float32Array.from(order, (j) => scores[j]!) };
}
