/**
 * One regression tree grown leaf-wise (best-first) on binned features from per-row gradient /
 * hessian pairs: the leaf whose best split gains most is split next until `numLeaves`.
 *
 * Per leaf the learner keeps its rows as a contiguous range of one index array (children are
 * a stable in-place partition of the parent's range, so rows stay in increasing order) and a
 * gradient histogram (Σg, Σh, count per feature bin). Only the smaller child's histogram is
 * built from rows; the larger one is the parent's minus the smaller's, computed in the parent's
 * buffer, so a tree of L leaves keeps at most L histograms alive and reads each row about
 * log2(L)/2 times.
 *
 * Histograms are accumulated by the kernel of hist-kernel.ts (WebAssembly SIMD) over one linear
 * memory holding the row-major bins, the row indices, the gradients and a pool of L histograms
 * (each feature gets numBins + 1 slots, not 256, so a histogram stays cache-sized). Partitions
 * read the column-major copy of the bins, forward, with a branch-free two-sided write. With
 * `numThreads` 2 a helper thread (hist-threads.ts) takes pieces of every large histogram.
 *
 * Missing values sit in bin 0 and are not ordered: for each threshold the split is scored
 * with the missing rows on the left and on the right, and the better side becomes the split's
 * default direction. When the leaf has no missing rows the default is the side with more rows.
 */
import type { BinnedMatrix } from './binning.js';
import { allocateKernelMemory, jsHistKernels, simdHistKernels, SLOT_BYTES, type HistKernels } from './hist-kernel.js';
import { CONTROL_INTS, HistHelper, MAX_PIECES } from './hist-threads.js';

export interface TreeParams {
  numLeaves: number;
  /** Maximum depth (root = depth 0 splits into depth 1 leaves); <= 0 = unlimited. */
  maxDepth: number;
  minDataInLeaf: number;
  minSumHessianInLeaf: number;
  lambdaL2: number;
  minGainToSplit: number;
}

/** A grown tree: internal nodes 0..numLeaves-2, child < 0 is leaf ~child. */
export interface GrownTree {
  numLeaves: number;
  /** Original feature column of each split. */
  splitFeature: Int32Array;
  /** Binned column (index into the used features) of each split; for traversal on bins. */
  splitColumn: Int32Array;
  /** Rows with bin <= splitBin (non-missing) go left. */
  splitBin: Uint8Array;
  /** Raw-value threshold: value <= threshold goes left. */
  threshold: Float64Array;
  defaultLeft: Uint8Array;
  left: Int32Array;
  right: Int32Array;
  splitGain: Float64Array;
  /** Newton leaf output -G / (H + λ), before shrinkage. */
  leafValue: Float64Array;
  leafCount: Int32Array;
}

interface SplitCandidate {
  gain: number;
  column: number;
  bin: number;
  defaultLeft: boolean;
  leftG: number;
  leftH: number;
  leftC: number;
}

/** Doubles per histogram slot (Σg, Σh, count, padding). */
const SLOT = SLOT_BYTES / 8;
/** Smallest histogram (rows × columns) worth cutting into pieces for two threads (4 pieces from 4×). */
const PARALLEL_MIN_UPDATES = 200_000;

export class TreeLearner {
  /** Row indices, partitioned so each leaf owns [leafBegin, leafBegin + leafCount). */
  readonly rows: Int32Array;
  readonly leafBegin: Int32Array;
  readonly leafCount: Int32Array;
  /** Interleaved gradient/hessian per row (gh[2r], gh[2r+1]); the booster's objective fills it. */
  readonly gh: Float64Array;
  /** Which histogram kernel runs ('wasm-simd' or 'js'). */
  readonly kernel: 'wasm-simd' | 'js';
  private readonly kernels: HistKernels;
  private readonly numRows: number;
  private readonly du: number;
  /** Bins column-major (`byColumn[k * n + r]`): partitions and out-of-bag rows read one column. */
  private readonly byColumn: Uint8Array;
  private readonly scratch: Int32Array;
  private readonly goesLeft = new Uint8Array(256);
  private readonly gathered: Uint8Array;
  private readonly leafG: Float64Array;
  private readonly leafH: Float64Array;
  private readonly leafDepth: Int32Array;
  /** Histogram (pool index) of each live leaf, -1 when none. */
  private readonly leafHist: Int32Array;
  private readonly hists: Float64Array[];
  private readonly freeHists: number[] = [];
  private readonly best: SplitCandidate[];
  /** Parent node and side of each leaf, to attach it when it is split. */
  private readonly leafParent: Int32Array;
  private readonly leafIsLeft: Uint8Array;
  private readonly numBins: Int32Array;
  /** First histogram slot of each binned column. */
  private readonly slotOf: Int32Array;
  /** Byte pointers into the kernel memory. */
  private readonly ptr: { bins: number; rows: number; gh: number; cols: number; offs: number; hist: number[] };
  /** Kernel column list: (column, byte offset of its first slot) pairs of the scanned columns. */
  private readonly colPairs: Int32Array;
  /** Binned columns scanned in the current tree (feature fraction). */
  private columns: Int32Array;
  private readonly everyColumn: Int32Array;

  /** The helper thread that takes pieces of each large histogram (numThreads 2). */
  private readonly helper: HistHelper | undefined;
  private readonly scratchHists: Float64Array[] | undefined;
  /** f64 index ranges of the scanned columns within a histogram (undefined: all columns). */
  private zeroRanges: Int32Array | undefined;

  constructor(
    readonly data: BinnedMatrix,
    readonly params: TreeParams,
    /** 1, or 2 to build large histograms on two threads. */
    numThreads = 1,
  ) {
    const n = data.numRows;
    const du = data.numUsed;
    const L = params.numLeaves;
    this.numRows = n;
    this.du = du;
    const mapper = data.mapper;
    this.numBins = Int32Array.from(mapper.usedFeatures, (f) => mapper.numBins(f));
    this.slotOf = new Int32Array(du);
    let slots = 0;
    for (let k = 0; k < du; k++) {
      this.slotOf[k] = slots;
      slots += this.numBins[k]! + 1;
    }
    // One linear memory for the kernel: bins, rows, gradients, column list, L histograms.
    let bytes = 0;
    const take = (size: number) => {
      const at = bytes;
      bytes += Math.ceil(size / 64) * 64;
      return at;
    };
    const histBytes = Math.max(1, slots) * SLOT_BYTES;
    this.ptr = { bins: take(n * du), rows: take(4 * n), gh: take(16 * n), cols: take(8 * Math.max(1, du)), offs: take(4 * Math.max(1, du)), hist: Array.from({ length: L }, () => take(histBytes)) };
    const threaded = numThreads > 1;
    const scratchAt = threaded ? take((MAX_PIECES - 1) * histBytes) : 0;
    const ctrlAt = threaded ? take(4 * CONTROL_INTS) : 0;
    const mem = allocateKernelMemory(bytes, threaded);
    this.kernels = simdHistKernels(mem) ?? jsHistKernels(mem.buffer);
    this.kernel = this.kernels.kind;
    new Uint8Array(mem.buffer, this.ptr.bins, n * du).set(data.bins.subarray(0, n * du));
    this.rows = new Int32Array(mem.buffer, this.ptr.rows, n);
    this.gh = new Float64Array(mem.buffer, this.ptr.gh, 2 * n);
    this.colPairs = new Int32Array(mem.buffer, this.ptr.cols, 2 * du);
    const offs = new Int32Array(mem.buffer, this.ptr.offs, du);
    for (let k = 0; k < du; k++) offs[k] = this.slotOf[k]! * SLOT_BYTES;
    this.hists = this.ptr.hist.map((at) => new Float64Array(mem.buffer, at, histBytes / 8));
    if (threaded) {
      this.scratchHists = Array.from({ length: MAX_PIECES - 1 }, (_, j) => new Float64Array(mem.buffer, scratchAt + j * histBytes, histBytes / 8));
      const helper = new HistHelper(mem, { rows: this.ptr.rows, bins: this.ptr.bins, du, gh: this.ptr.gh, cols: this.ptr.cols, offs: this.ptr.offs, scratch: scratchAt, histBytes, ctrl: ctrlAt });
      // Waiting once for the thread keeps the split of work (and so the sums) deterministic.
      if (helper.waitReady()) this.helper = helper;
      else helper.close();
    }
    for (let i = L - 1; i >= 0; i--) this.freeHists.push(i);

    this.byColumn = data.columns;

    this.scratch = new Int32Array(n);
    this.gathered = new Uint8Array(n);
    this.leafBegin = new Int32Array(L);
    this.leafCount = new Int32Array(L);
    this.leafG = new Float64Array(L);
    this.leafH = new Float64Array(L);
    this.leafDepth = new Int32Array(L);
    this.leafParent = new Int32Array(L);
    this.leafIsLeft = new Uint8Array(L);
    this.leafHist = new Int32Array(L).fill(-1);
    this.best = Array.from({ length: L }, () => ({ gain: -Infinity, column: -1, bin: 0, defaultLeft: false, leftG: 0, leftH: 0, leftC: 0 }));
    this.everyColumn = Int32Array.from({ length: du }, (_, k) => k);
    this.columns = this.everyColumn;
  }

  /**
   * Grows one tree on the rows `bag[0..bagSize)` (all rows when `bag` is undefined) from the
   * gradients in `this.gh`, scanning only the binned columns in `columns` (all when undefined).
   * Afterwards leaf l's rows are rows[leafBegin[l] .. leafBegin[l] + leafCount[l]).
   */
  grow(bag: Int32Array | undefined, bagSize: number, columns?: Int32Array): GrownTree {
    const { numLeaves: maxLeaves, maxDepth } = this.params;
    const rows = this.rows;
    const gh = this.gh;
    if (bag) rows.set(bag.subarray(0, bagSize));
    else for (let i = 0; i < bagSize; i++) rows[i] = i;
    this.columns = columns && columns.length < this.du ? columns : this.everyColumn;
    this.zeroRanges = this.columns === this.everyColumn ? undefined : new Int32Array(2 * this.columns.length);
    for (let q = 0; q < this.columns.length; q++) {
      const k = this.columns[q]!;
      this.colPairs[2 * q] = k;
      this.colPairs[2 * q + 1] = this.slotOf[k]! * SLOT_BYTES;
      if (this.zeroRanges) {
        this.zeroRanges[2 * q] = this.slotOf[k]! * SLOT;
        this.zeroRanges[2 * q + 1] = (this.slotOf[k]! + this.numBins[k]! + 1) * SLOT;
      }
    }

    const tree: GrownTree = {
      numLeaves: 1,
      splitFeature: new Int32Array(maxLeaves - 1),
      splitColumn: new Int32Array(maxLeaves - 1),
      splitBin: new Uint8Array(maxLeaves - 1),
      threshold: new Float64Array(maxLeaves - 1),
      defaultLeft: new Uint8Array(maxLeaves - 1),
      left: new Int32Array(maxLeaves - 1),
      right: new Int32Array(maxLeaves - 1),
      splitGain: new Float64Array(maxLeaves - 1),
      leafValue: new Float64Array(maxLeaves),
      leafCount: new Int32Array(maxLeaves),
    };

    // Root.
    let G = 0;
    let H = 0;
    for (let i = 0; i < bagSize; i++) {
      const r = rows[i]!;
      G += gh[2 * r]!;
      H += gh[2 * r + 1]!;
    }
    this.leafBegin[0] = 0;
    this.leafCount[0] = bagSize;
    this.leafG[0] = G;
    this.leafH[0] = H;
    this.leafDepth[0] = 0;
    this.leafParent[0] = -1;
    this.leafHist[0] = this.buildHist(0, bagSize);
    this.findBestSplit(0);

    let leaves = 1;
    while (leaves < maxLeaves) {
      // The splittable leaf with the largest gain.
      let target = -1;
      let bestGain = -Infinity;
      for (let l = 0; l < leaves; l++) {
        const g = this.best[l]!.gain;
        if (g > bestGain && (maxDepth <= 0 || this.leafDepth[l]! < maxDepth)) {
          bestGain = g;
          target = l;
        }
      }
      if (target < 0 || !(bestGain > this.params.minGainToSplit) || !(bestGain > 0)) break;
      this.split(tree, target, leaves);
      leaves++;
    }

    // Free the remaining histograms and finish the leaves.
    for (let l = 0; l < leaves; l++) {
      if (this.leafHist[l]! >= 0) this.freeHists.push(this.leafHist[l]!);
      this.leafHist[l] = -1;
      tree.leafValue[l] = -this.leafG[l]! / (this.leafH[l]! + this.params.lambdaL2);
      tree.leafCount[l] = this.leafCount[l]!;
    }
    tree.numLeaves = leaves;
    return leaves === maxLeaves ? tree : trimTree(tree, leaves);
  }

  /** Leaf of row r in `tree` (a tree this learner grew), walking its bins: for rows outside the bag. */
  leafOfRow(tree: GrownTree, r: number): number {
    if (tree.numLeaves === 1) return 0;
    const n = this.numRows;
    const byColumn = this.byColumn;
    let node = 0;
    for (;;) {
      const b = byColumn[tree.splitColumn[node]! * n + r]!;
      const next = (b === 0 ? tree.defaultLeft[node] === 1 : b <= tree.splitBin[node]!) ? tree.left[node]! : tree.right[node]!;
      if (next < 0) return ~next;
      node = next;
    }
  }

  /** Splits leaf `l` by its best candidate: left child keeps id l, the right child is `newLeaf`. */
  private split(tree: GrownTree, l: number, newLeaf: number): void {
    const c = this.best[l]!;
    const node = newLeaf - 1;
    const mapper = this.data.mapper;
    const feature = mapper.usedFeatures[c.column]!;
    tree.splitFeature[node] = feature;
    tree.splitColumn[node] = c.column;
    tree.splitBin[node] = c.bin;
    tree.threshold[node] = mapper.upper[feature]![c.bin - 1]!;
    tree.defaultLeft[node] = c.defaultLeft ? 1 : 0;
    tree.splitGain[node] = c.gain;
    tree.left[node] = ~l;
    tree.right[node] = ~newLeaf;
    const parent = this.leafParent[l]!;
    if (parent >= 0) {
      if (this.leafIsLeft[l]) tree.left[parent] = node;
      else tree.right[parent] = node;
    }

    // Stable partition of the leaf's rows (they stay in increasing order, so the column is read
    // forward): left rows in place, right rows via the scratch buffer.
    const begin = this.leafBegin[l]!;
    const count = this.leafCount[l]!;
    const rows = this.rows;
    const scratch = this.scratch;
    const column = this.byColumn.subarray(c.column * this.numRows, (c.column + 1) * this.numRows);
    // First gather the rows' bins (independent loads, so the cache misses of a sparse leaf
    // overlap: 4× faster than reading them inside the partition loop), then partition
    // branch-free: a 0/1 "goes left" table per bin, every row written to both sides.
    const gathered = this.gathered;
    for (let i = 0; i < count; i++) gathered[i] = column[rows[begin + i]!]!;
    const goesLeft = this.goesLeft;
    goesLeft.fill(0);
    goesLeft.fill(1, 1, c.bin + 1);
    goesLeft[0] = c.defaultLeft ? 1 : 0;
    let nl = 0;
    let nr = 0;
    for (let i = 0; i < count; i++) {
      const r = rows[begin + i]!;
      const left = goesLeft[gathered[i]!]!;
      rows[begin + nl] = r;
      scratch[nr] = r;
      nl += left;
      nr += left ^ 1;
    }
    rows.set(scratch.subarray(0, nr), begin + nl);

    const depth = this.leafDepth[l]! + 1;
    const G = this.leafG[l]!;
    const H = this.leafH[l]!;
    this.leafBegin[newLeaf] = begin + nl;
    this.leafCount[newLeaf] = nr;
    this.leafG[newLeaf] = G - c.leftG;
    this.leafH[newLeaf] = H - c.leftH;
    this.leafDepth[newLeaf] = depth;
    this.leafParent[newLeaf] = node;
    this.leafIsLeft[newLeaf] = 0;
    this.leafCount[l] = nl;
    this.leafG[l] = c.leftG;
    this.leafH[l] = c.leftH;
    this.leafDepth[l] = depth;
    this.leafParent[l] = node;
    this.leafIsLeft[l] = 1;

    // Histograms: build the smaller child, the larger is parent − smaller (in the parent's
    // buffer). A child that can never be split (too few rows, at maxDepth, or this was the
    // tree's last split) needs no histogram of its own.
    const { minDataInLeaf, maxDepth } = this.params;
    const splittable = (leaf: number) => this.leafCount[leaf]! >= 2 * minDataInLeaf && (maxDepth <= 0 || depth < maxDepth) && newLeaf + 1 < this.params.numLeaves;
    const parentHist = this.leafHist[l]!;
    const small = nl <= nr ? l : newLeaf;
    const large = small === l ? newLeaf : l;
    this.leafHist[l] = this.leafHist[newLeaf] = -1;
    this.best[l]!.gain = this.best[newLeaf]!.gain = -Infinity;
    const largeOk = splittable(large);
    const smallOk = splittable(small);
    if (largeOk || smallOk) {
      const smallHist = this.buildHist(this.leafBegin[small]!, this.leafBegin[small]! + this.leafCount[small]!);
      if (largeOk) this.subtractHist(this.hists[parentHist]!, this.hists[smallHist]!);
      if (smallOk) this.leafHist[small] = smallHist;
      else this.freeHists.push(smallHist);
    }
    if (largeOk) this.leafHist[large] = parentHist;
    else this.freeHists.push(parentHist);
    if (smallOk) this.findBestSplit(small);
    if (largeOk) this.findBestSplit(large);
  }

  /** Σg, Σh and count per (column, bin) of rows[begin..end) into a pool histogram; returns its index. */
  private buildHist(begin: number, end: number): number {
    const index = this.freeHists.pop();
    if (index === undefined) throw new Error('gbdt: histogram pool exhausted');
    const hist = this.hists[index]!;
    const cols = this.columns;
    if (this.zeroRanges) for (let r = 0; r < this.zeroRanges.length; r += 2) hist.fill(0, this.zeroRanges[r], this.zeroRanges[r + 1]);
    else hist.fill(0);
    const all = cols === this.everyColumn;
    const updates = (end - begin) * cols.length;
    if (this.helper && updates >= PARALLEL_MIN_UPDATES) {
      const scratch = this.scratchHists!;
      this.helper.build(this.kernels, all, this.ptr.hist[index]!, begin, end, cols.length, updates >= 4 * PARALLEL_MIN_UPDATES ? 4 : 2, this.zeroRanges, (j) => {
        const add = scratch[j]!;
        for (let q = 0; q < cols.length; q++) {
          const k = cols[q]!;
          const stop = (this.slotOf[k]! + this.numBins[k]! + 1) * SLOT;
          for (let i = this.slotOf[k]! * SLOT; i < stop; i += SLOT) {
            hist[i] += add[i]!;
            hist[i + 1] += add[i + 1]!;
            hist[i + 2] += add[i + 2]!;
          }
        }
      });
      return index;
    }
    if (all) this.kernels.all(this.ptr.rows, begin, end, this.ptr.bins, this.du, this.ptr.gh, this.ptr.hist[index]!, this.ptr.offs, this.du);
    else this.kernels.list(this.ptr.rows, begin, end, this.ptr.bins, this.du, this.ptr.gh, this.ptr.hist[index]!, this.ptr.cols, cols.length);
    return index;
  }

  /** Stops the helper thread (if any). */
  close(): void {
    this.helper?.close();
  }

  private subtractHist(target: Float64Array, minus: Float64Array): void {
    const cols = this.columns;
    for (let q = 0; q < cols.length; q++) {
      const k = cols[q]!;
      const end = (this.slotOf[k]! + this.numBins[k]! + 1) * SLOT;
      for (let j = this.slotOf[k]! * SLOT; j < end; j += SLOT) {
        target[j] -= minus[j]!;
        target[j + 1] -= minus[j + 1]!;
        target[j + 2] -= minus[j + 2]!;
      }
    }
  }

  /** Scores every threshold of every scanned column for leaf `l` and keeps the best in best[l]. */
  private findBestSplit(l: number): void {
    const out = this.best[l]!;
    out.gain = -Infinity;
    out.column = -1;
    const { minDataInLeaf, minSumHessianInLeaf, lambdaL2: lambda } = this.params;
    const C = this.leafCount[l]!;
    if (C < 2 * minDataInLeaf) return;
    const G = this.leafG[l]!;
    const H = this.leafH[l]!;
    const hist = this.hists[this.leafHist[l]!]!;
    const parentScore = (G * G) / (H + lambda);
    const cols = this.columns;
    let bestGain = -Infinity;
    for (let q = 0; q < cols.length; q++) {
      const k = cols[q]!;
      const o = this.slotOf[k]! * SLOT;
      const nb = this.numBins[k]!;
      const mg = hist[o]!;
      const mh = hist[o + 1]!;
      const mc = hist[o + 2]!;
      let ag = 0;
      let ah = 0;
      let ac = 0;
      for (let t = 1; t <= nb; t++) {
        const j = o + t * SLOT;
        ag += hist[j]!;
        ah += hist[j + 1]!;
        ac += hist[j + 2]!;
        const rc = C - ac;
        // Right sides only shrink from here on.
        if (rc < minDataInLeaf) break;
        if (ac < minDataInLeaf && ac + mc < minDataInLeaf) continue;
        // Missing rows to the right (at t = nb: all values left, missing right).
        if (ac >= minDataInLeaf && (t < nb || mc > 0)) {
          const rh = H - ah;
          if (ah >= minSumHessianInLeaf && rh >= minSumHessianInLeaf) {
            const rg = G - ag;
            const gain = (ag * ag) / (ah + lambda) + (rg * rg) / (rh + lambda) - parentScore;
            if (gain > bestGain) {
              bestGain = gain;
              out.column = k;
              out.bin = t;
              // Without missing rows the default follows the larger side.
              out.defaultLeft = mc === 0 && ac >= rc;
              out.leftG = ag;
              out.leftH = ah;
              out.leftC = ac;
            }
          }
        }
        // Missing rows to the left.
        if (mc > 0 && t < nb) {
          const lc = ac + mc;
          const lh = ah + mh;
          const rh = H - lh;
          if (lc >= minDataInLeaf && C - lc >= minDataInLeaf && lh >= minSumHessianInLeaf && rh >= minSumHessianInLeaf) {
            const lg = ag + mg;
            const rg = G - lg;
            const gain = (lg * lg) / (lh + lambda) + (rg * rg) / (rh + lambda) - parentScore;
            if (gain > bestGain) {
              bestGain = gain;
              out.column = k;
              out.bin = t;
              out.defaultLeft = true;
              out.leftG = lg;
              out.leftH = lh;
              out.leftC = lc;
            }
          }
        }
      }
    }
    out.gain = bestGain;
  }
}

/** Copies a tree grown to fewer leaves than planned into arrays of the right length. */
function trimTree(t: GrownTree, leaves: number): GrownTree {
  const s = leaves - 1;
  return {
    numLeaves: leaves,
    splitFeature: t.splitFeature.slice(0, s),
    splitColumn: t.splitColumn.slice(0, s),
    splitBin: t.splitBin.slice(0, s),
    threshold: t.threshold.slice(0, s),
    defaultLeft: t.defaultLeft.slice(0, s),
    left: t.left.slice(0, s),
    right: t.right.slice(0, s),
    splitGain: t.splitGain.slice(0, s),
    leafValue: t.leafValue.slice(0, leaves),
    leafCount: t.leafCount.slice(0, leaves),
  };
}
