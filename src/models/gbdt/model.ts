/**
 * A trained tree ensemble: raw score = initScore + Σ trees, probability = σ(raw) for `binary`.
 *
 * Prediction works on raw feature values (no binning): a split sends `value <= threshold`
 * left, `value > threshold` right, and NaN its learned default way. All trees are flattened
 * into typed arrays — per node one Int32Array quad (feature, NaN-goes-right, left, right
 * child; a child < 0 is leaf ~child) and a Float64Array threshold. The child is picked
 * arithmetically (`children[v > t]`) instead of by a branch, and a batch walks each tree for
 * 8 rows at once: the 8 independent walks overlap their memory latency, and with no
 * mispredicted branches this is ~2× faster than one row at a time. Float32 batches run the
 * same walk in WebAssembly (predict-kernel.ts, another ~1.7×); Float64 input, single rows and
 * environments without WebAssembly use the JavaScript walk. Both give identical scores.
 *
 * The JSON form (`format: 'lenta.gbdt.v1'`) keeps each tree as parallel arrays; non-finite
 * thresholds are written as the string "Infinity" since JSON has no infinity.
 */
import { BinMapper, type BinMapperJson } from './binning.js';
import type { ObjectiveName } from './objectives.js';
import { WasmEnsemble } from './predict-kernel.js';

export const GBDT_FORMAT = 'lenta.gbdt.v1';

/** Rows per call of the WebAssembly prediction kernel. */
const PREDICT_CHUNK_ROWS = 16_384;

export interface GbdtTreeJson {
  numLeaves: number;
  /** Per internal node (numLeaves − 1): feature column, threshold, default side, children. */
  splitFeature: number[];
  threshold: (number | 'Infinity')[];
  defaultLeft: (0 | 1)[];
  /** Child: >= 0 internal node, < 0 leaf ~child. */
  left: number[];
  right: number[];
  splitGain: number[];
  /** Leaf outputs, learning rate included. */
  leafValue: number[];
  leafCount: number[];
}

export interface GbdtReport {
  objective: ObjectiveName;
  metric: string;
  /** Rounds kept: the best iteration when early stopping ran (with initModel: new trees only). */
  bestIteration: number;
  bestScore: number | null;
  iterations: number;
  /** Per iteration: the training and (when a validation set is given) validation metrics. */
  history: { train: Record<string, number>; valid?: Record<string, number> }[];
  fitSeconds: number;
  /** Total split gain per feature, descending; features never split on are left out. */
  importance: { feature: string; gain: number; splits: number }[];
}

export interface GbdtModelJson {
  format: typeof GBDT_FORMAT;
  objective: ObjectiveName;
  params: Record<string, unknown>;
  featureNames: string[];
  initScore: number;
  trees: GbdtTreeJson[];
  binMapper?: BinMapperJson;
  report?: GbdtReport;
}

export class GbdtModel {
  readonly numFeatures: number;
  /** Flattened ensemble: root of each tree (< 0: a single leaf ~root). */
  private readonly roots: Int32Array;
  /** Per node: feature, NaN goes right (0/1), left child, right child. */
  private readonly nodes: Int32Array;
  private readonly threshold: Float64Array;
  private readonly leafValue: Float64Array;
  /** The WebAssembly copy of the ensemble, made at the first batch (null: unavailable). */
  private wasm: WasmEnsemble | null | undefined;

  constructor(
    readonly objective: ObjectiveName,
    readonly featureNames: readonly string[],
    readonly initScore: number,
    readonly trees: readonly GbdtTreeJson[],
    readonly params: Record<string, unknown> = {},
    readonly binMapper?: BinMapper,
    readonly report?: GbdtReport,
  ) {
    this.numFeatures = featureNames.length;
    let nodes = 0;
    let leaves = 0;
    for (const t of trees) {
      nodes += t.numLeaves - 1;
      leaves += t.numLeaves;
    }
    this.roots = new Int32Array(trees.length);
    this.nodes = new Int32Array(4 * nodes);
    this.threshold = new Float64Array(nodes);
    this.leafValue = new Float64Array(leaves);
    let nodeBase = 0;
    let leafBase = 0;
    const child = (c: number, ti: number) => {
      if (c >= 0 ? c >= trees[ti]!.numLeaves - 1 : ~c >= trees[ti]!.numLeaves) throw new Error(`trees[${ti}]: child ${c} out of range`);
      return c >= 0 ? nodeBase + c : ~(leafBase + ~c);
    };
    trees.forEach((t, ti) => {
      const s = t.numLeaves - 1;
      this.roots[ti] = s === 0 ? ~leafBase : nodeBase;
      for (let i = 0; i < s; i++) {
        const f = t.splitFeature[i]!;
        if (!(f >= 0 && f < this.numFeatures)) throw new Error(`trees[${ti}].splitFeature[${i}]: feature ${f} out of range`);
        const q = 4 * (nodeBase + i);
        this.nodes[q] = f;
        this.nodes[q + 1] = t.defaultLeft[i] ? 0 : 1;
        this.nodes[q + 2] = child(t.left[i]!, ti);
        this.nodes[q + 3] = child(t.right[i]!, ti);
        const th = t.threshold[i]!;
        this.threshold[nodeBase + i] = th === 'Infinity' ? Infinity : th;
      }
      for (let l = 0; l < t.numLeaves; l++) this.leafValue[leafBase + l] = t.leafValue[l]!;
      nodeBase += s;
      leafBase += t.numLeaves;
    });
  }

  get numTrees(): number {
    return this.trees.length;
  }

  /** Per feature column, 1 when some split of these trees reads it. */
  usedFeatures(): Uint8Array {
    const used = new Uint8Array(this.numFeatures);
    for (let q = 0; q < this.nodes.length; q += 4) used[this.nodes[q]!] = 1;
    return used;
  }

  /**
   * The trees [start, end) as a model of their own (the initial score only when start is 0), so
   * that the raw scores of consecutive ranges add up to this model's (a cascade's passes).
   */
  treeRange(start: number, end = this.trees.length): GbdtModel {
    return new GbdtModel(this.objective, this.featureNames, start === 0 ? this.initScore : 0, this.trees.slice(start, end), this.params, this.binMapper);
  }

  /**
   * Raw scores of n rows of the row-major matrix (numFeatures columns) into `out`. `trees`
   * limits the sum to the first trees (e.g. to evaluate an earlier iteration).
   */
  predictRaw<T extends Float64Array | Float32Array>(matrix: Float32Array | Float64Array, n: number, out: T, trees = this.roots.length): T {
    const d = this.numFeatures;
    if (matrix.length < n * d) throw new Error(`matrix: ${matrix.length} values for ${n} rows × ${d} features`);
    if (out.length < n) throw new Error(`out: room for ${out.length} scores, ${n} rows`);
    const T = Math.min(trees, this.roots.length);
    // Float32 batches go to the WebAssembly kernel (same arithmetic, ~3× faster).
    if (matrix instanceof Float32Array && n >= 8 && T > 0) {
      if (this.wasm === undefined) this.wasm = WasmEnsemble.create(this.nodes, this.threshold, this.roots, this.leafValue) ?? null;
      if (this.wasm) {
        // In chunks, so the WebAssembly memory stays small whatever the batch.
        for (let r = 0; r < n; r += PREDICT_CHUNK_ROWS) {
          const m = Math.min(PREDICT_CHUNK_ROWS, n - r);
          this.wasm.predict(matrix.subarray(r * d, (r + m) * d), m, d, this.initScore, T, out.subarray(r, r + m));
        }
        return out;
      }
    }
    return this.predictRawJs(matrix, n, out, T);
  }

  /** The JavaScript path of predictRaw (also the reference for the WebAssembly kernel). */
  predictRawJs<T extends Float64Array | Float32Array>(matrix: Float32Array | Float64Array, n: number, out: T, trees = this.roots.length): T {
    const d = this.numFeatures;
    const { roots, nodes, threshold: th, leafValue } = this;
    const T = Math.min(trees, roots.length);
    out.fill(this.initScore, 0, n);
    // A step of a walk (written out below, closures measured 1.5× slower): q = 4·node,
    // v = the row's value of the node's feature, next = children[v > t, or for NaN the default].
    const n8 = n - (n % 8);
    for (let t = 0; t < T; t++) {
      const root = roots[t]!;
      if (root < 0) {
        const v = leafValue[~root]!;
        for (let r = 0; r < n; r++) out[r] += v;
        continue;
      }
      for (let r = 0; r < n8; r += 8) {
        const b = r * d;
        let a0 = root, a1 = root, a2 = root, a3 = root, a4 = root, a5 = root, a6 = root, a7 = root;
        let q = 0;
        let v = 0;
        // Until all eight walks reached a leaf (negative).
        while ((a0 & a1 & a2 & a3 & a4 & a5 & a6 & a7) >= 0) {
          if (a0 >= 0) {
            q = a0 << 2;
            v = matrix[b + nodes[q]!]!;
            a0 = nodes[q + 2 + (+(v > th[a0]!) | (+(v !== v) & nodes[q + 1]!))]!;
          }
          if (a1 >= 0) {
            q = a1 << 2;
            v = matrix[b + d + nodes[q]!]!;
            a1 = nodes[q + 2 + (+(v > th[a1]!) | (+(v !== v) & nodes[q + 1]!))]!;
          }
          if (a2 >= 0) {
            q = a2 << 2;
            v = matrix[b + 2 * d + nodes[q]!]!;
            a2 = nodes[q + 2 + (+(v > th[a2]!) | (+(v !== v) & nodes[q + 1]!))]!;
          }
          if (a3 >= 0) {
            q = a3 << 2;
            v = matrix[b + 3 * d + nodes[q]!]!;
            a3 = nodes[q + 2 + (+(v > th[a3]!) | (+(v !== v) & nodes[q + 1]!))]!;
          }
          if (a4 >= 0) {
            q = a4 << 2;
            v = matrix[b + 4 * d + nodes[q]!]!;
            a4 = nodes[q + 2 + (+(v > th[a4]!) | (+(v !== v) & nodes[q + 1]!))]!;
          }
          if (a5 >= 0) {
            q = a5 << 2;
            v = matrix[b + 5 * d + nodes[q]!]!;
            a5 = nodes[q + 2 + (+(v > th[a5]!) | (+(v !== v) & nodes[q + 1]!))]!;
          }
          if (a6 >= 0) {
            q = a6 << 2;
            v = matrix[b + 6 * d + nodes[q]!]!;
            a6 = nodes[q + 2 + (+(v > th[a6]!) | (+(v !== v) & nodes[q + 1]!))]!;
          }
          if (a7 >= 0) {
            q = a7 << 2;
            v = matrix[b + 7 * d + nodes[q]!]!;
            a7 = nodes[q + 2 + (+(v > th[a7]!) | (+(v !== v) & nodes[q + 1]!))]!;
          }
        }
        out[r] += leafValue[~a0]!;
        out[r + 1] += leafValue[~a1]!;
        out[r + 2] += leafValue[~a2]!;
        out[r + 3] += leafValue[~a3]!;
        out[r + 4] += leafValue[~a4]!;
        out[r + 5] += leafValue[~a5]!;
        out[r + 6] += leafValue[~a6]!;
        out[r + 7] += leafValue[~a7]!;
      }
      for (let r = n8; r < n; r++) {
        let a = root;
        while (a >= 0) {
          const q = a << 2;
          const v = matrix[r * d + nodes[q]!]!;
          a = nodes[q + 2 + (+(v > th[a]!) | (+(v !== v) & nodes[q + 1]!))]!;
        }
        out[r] += leafValue[~a]!;
      }
    }
    return out;
  }

  /** Probabilities σ(raw) of n rows (binary objective). */
  predictProba<T extends Float64Array | Float32Array>(matrix: Float32Array | Float64Array, n: number, out: T, trees?: number): T {
    this.predictRaw(matrix, n, out, trees);
    for (let i = 0; i < n; i++) out[i] = 1 / (1 + Math.exp(-out[i]!));
    return out;
  }

  /** Raw score of one row (numFeatures values; numbers are compared as given). */
  predictRowRaw(row: ArrayLike<number>): number {
    if (row.length < this.numFeatures) throw new Error(`row: ${row.length} values, the model has ${this.numFeatures} features`);
    const { roots, nodes, threshold: th, leafValue } = this;
    let sum = this.initScore;
    for (let t = 0; t < roots.length; t++) {
      let a = roots[t]!;
      while (a >= 0) {
        const q = a << 2;
        const v = row[nodes[q]!]!;
        a = nodes[q + 2 + (+(v > th[a]!) | (+(v !== v) & nodes[q + 1]!))]!;
      }
      sum += leafValue[~a]!;
    }
    return sum;
  }

  predictRowProba(row: ArrayLike<number>): number {
    return 1 / (1 + Math.exp(-this.predictRowRaw(row)));
  }

  /** Total split gain and split count per feature (all features, in column order). */
  featureImportance(): { feature: string; gain: number; splits: number }[] {
    const gain = new Float64Array(this.numFeatures);
    const splits = new Int32Array(this.numFeatures);
    for (const t of this.trees) {
      for (let i = 0; i < t.numLeaves - 1; i++) {
        gain[t.splitFeature[i]!] += t.splitGain[i]!;
        splits[t.splitFeature[i]!]++;
      }
    }
    return this.featureNames.map((feature, f) => ({ feature, gain: gain[f]!, splits: splits[f]! }));
  }

  toJSON(): GbdtModelJson {
    return {
      format: GBDT_FORMAT,
      objective: this.objective,
      params: this.params,
      featureNames: [...this.featureNames],
      initScore: this.initScore,
      trees: this.trees as GbdtTreeJson[],
      ...(this.binMapper ? { binMapper: this.binMapper.toJSON() } : {}),
      ...(this.report ? { report: this.report } : {}),
    };
  }

  static fromJSON(json: GbdtModelJson): GbdtModel {
    if (!json || json.format !== GBDT_FORMAT) throw new Error(`format: expected "${GBDT_FORMAT}", got ${JSON.stringify(json?.format)}`);
    if (json.objective !== 'binary' && json.objective !== 'lambdarank') throw new Error(`objective: unknown objective ${JSON.stringify(json.objective)}`);
    if (!Array.isArray(json.featureNames)) throw new Error('featureNames: missing');
    if (!Array.isArray(json.trees)) throw new Error('trees: missing');
    return new GbdtModel(json.objective, json.featureNames, json.initScore, json.trees, json.params ?? {}, json.binMapper ? BinMapper.fromJSON(json.binMapper) : undefined, json.report);
  }
}

/** Raw value of a grown tree's threshold for JSON. */
export function thresholdToJson(x: number): number | 'Infinity' {
  return x === Infinity ? 'Infinity' : x;
}
