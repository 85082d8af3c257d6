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
 * `skip(item)` filters results (seen, excluded, the user's own history): the exact scan applies
 * it inside the scan; the graph search over-fetches by `skipHint` and filters afterwards.
 */

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
  /** Writes the index structure (not the vectors) to `path`; the exact index writes nothing. */
  save(path: string): void;
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
  /** Candidate list size while searching (default 3000; the search uses at least k). */
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
 */
export class HnswMipsIndex implements MipsIndex {
  readonly kind = 'hnsw';
  private readonly ef: number;

  private constructor(
    private readonly index: HnswIndex,
    readonly dim: number,
    readonly size: number,
    options: GraphOptions,
  ) {
    this.ef = options.expansionSearch ?? 3000;
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

  search(query: Float32Array, k: number, skip?: (item: number) => boolean, skipHint = 0): MipsResult {
    const count = this.index.getCurrentCount();
    const q = Array.from(query);
    let want = Math.min(count, k + (skip ? skipHint : 0));
    for (let attempt = 0; ; attempt++) {
      if (want <= 0) return { items: new Int32Array(0), scores: new Float32Array(0) };
      this.index.setEf(Math.max(this.ef, want));
      const r = this.index.searchKnn(q, want);
      const items: number[] = [];
      const scores: number[] = [];
      for (let p = 0; p < r.neighbors.length && items.length < k; p++) {
        const item = r.neighbors[p];
        if (skip && skip(item)) continue;
        items.push(item);
        scores.push(1 - r.distances[p]); // ip distance = 1 − ⟨q, y⟩
      }
      // Too many skipped: ask for more (at most twice).
      if (items.length >= k || want >= count || attempt >= 2) {
        const order = items.map((_, j) => j).sort((a, b) => scores[b] - scores[a] || items[b] - items[a]);
        return { items: Int32Array.from(order, (j) => items[j]), scores: Float32Array.from(order, (j) => scores[j]) };
      }
      want = Math.min(count, want * 2);
    }
  }

  save(path: string): void {
    this.index.writeIndexSync(path);
  }
}

export interface MipsBuildOptions extends GraphOptions {
  /** Use the graph index from this many items on (default 50,000); below, the exact scan. */
  annMinItems?: number;
  /** 'auto' (default): graph when large and `hnswlib-node` loads; 'exact': always the scan. */
  ann?: 'auto' | 'exact';
}

/** The index for `vectors`: an HNSW graph for large catalogues when available, else the exact scan. */
export async function createMipsIndex(vectors: Float32Array, dim: number, active: Uint8Array | undefined, options: MipsBuildOptions = {}, onProgress?: (done: number, total: number) => void): Promise<MipsIndex> {
  let count = 0;
  const n = Math.floor(vectors.length / dim);
  for (let i = 0; i < n; i++) if (!active || active[i]) count++;
  if (options.ann !== 'exact' && count >= (options.annMinItems ?? 50_000)) {
    const mod = await loadHnswlib();
    if (mod) return HnswMipsIndex.build(mod, vectors, dim, active, options, onProgress);
  }
  return new ExactMipsIndex(vectors, dim, active);
}
