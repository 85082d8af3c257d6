/**
 * A small multi-task perceptron: shared hidden layers and one logit per head, for the heavy
 * ranker's probabilities as an alternative (or a blend partner) to its gradient-boosted trees.
 *
 *     x (features) → encode → [dense + ReLU] × layers → dense → one logit per head
 *
 * **Encoding** (fixed at fit, saved with the model): per feature column, a column whose values
 * reach beyond ±10 is compressed by sign(x)·log(1 + |x|) (ranks, raw counts); then it is
 * standardized with the fitting rows' mean and deviation and clipped to ±5. A missing value (NaN)
 * becomes 0 — the mean — and a column that had missing values in the fitting rows gets a second
 * input, 1 when missing: the trees send NaN their own way, and this lets the network do the same.
 *
 * **Training**: the sum of every head's logloss (a row's labels are 0/1 per head), minibatches in
 * a seeded order, Adam with decoupled weight decay, an epoch at a time; after each epoch the
 * validation rows' loss decides early stopping and the best epoch's weights are kept.
 * Deterministic for a seed (plain loops, no threads).
 *
 * All arithmetic is in Float32Array/Float64Array loops whose innermost loop runs over a
 * contiguous row of the weight matrix (row-major, inputs × outputs).
 */
import { Rng } from '../../eval/prng.js';
import { logLossOfRaw, softplus } from '../gbdt/metrics.js';
import { DenseStack } from './dense-kernel.js';

export const MLP_FORMAT = 'lenta.mlp.v1';

export interface MlpOptions {
  /** Units per shared hidden layer. */
  hidden: readonly number[];
  /** Most passes over the fitting rows. */
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Decoupled weight decay per step (times the learning rate). */
  weightDecay: number;
  /** Stop after this many epochs without a better validation loss. */
  patience: number;
  seed: number;
}

export const DEFAULT_MLP_OPTIONS: MlpOptions = { hidden: [32, 16], epochs: 30, batchSize: 256, learningRate: 0.002, weightDecay: 1e-4, patience: 3, seed: 42 };

export interface MlpData {
  /** Row-major features, `d` per row (NaN = missing). */
  X: Float32Array;
  n: number;
  d: number;
  /** One label array per head, 0 or 1 per row. */
  labels: readonly Float32Array[];
}

export interface MlpReport {
  /** Continued from an earlier model. */
  warmStart?: boolean;
  epochs: number;
  bestEpoch: number;
  /** Mean logloss per row (summed over heads) on the validation rows, per epoch. */
  validLoss: number[];
  trainLoss: number[];
  seconds: number;
}

export interface MlpJson {
  format: typeof MLP_FORMAT;
  heads: string[];
  features: number;
  /** Per feature column: log-compressed, mean, scale (1 / deviation), missing-indicator input (−1: none). */
  encode: { log: number[]; mean: number[]; scale: number[]; missing: number[] };
  /** Layer sizes, inputs first. */
  sizes: number[];
  /** Per layer: weights (inputs × outputs, row-major) and biases. */
  weights: number[][];
  biases: number[][];
  report?: MlpReport;
}

const CLIP = 5;
/** Rows per forward pass when predicting. */
const CHUNK = 256;
const LOG_ABOVE = 10;

/** The input encoding of one model (see the file's comment). */
export class MlpEncoder {
  constructor(
    readonly d: number,
    readonly log: Uint8Array,
    readonly mean: Float64Array,
    readonly scale: Float64Array,
    /** Per column, the index of its missing indicator among the inputs (−1: none). */
    readonly missing: Int32Array,
    readonly inputs: number,
  ) {}

  static fit(X: Float32Array, n: number, d: number): MlpEncoder {
    const log = new Uint8Array(d);
    const mean = new Float64Array(d);
    const scale = new Float64Array(d);
    const missing = new Int32Array(d).fill(-1);
    const hasNaN = new Uint8Array(d);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) {
        const v = X[i * d + j]!;
        if (v !== v) hasNaN[j] = 1;
        else if (v > LOG_ABOVE || v < -LOG_ABOVE) log[j] = 1;
      }
    }
    const count = new Float64Array(d);
    const sq = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) {
        const v = X[i * d + j]!;
        if (v !== v || !Number.isFinite(v)) continue;
        const x = log[j] ? compress(v) : v;
        count[j]!++;
        mean[j]! += x;
        sq[j]! += x * x;
      }
    }
    let inputs = d;
    for (let j = 0; j < d; j++) {
      const m = count[j]! > 0 ? mean[j]! / count[j]! : 0;
      const variance = count[j]! > 0 ? Math.max(0, sq[j]! / count[j]! - m * m) : 0;
      mean[j] = m;
      scale[j] = variance > 1e-12 ? 1 / Math.sqrt(variance) : 0;
      if (hasNaN[j]) missing[j] = inputs++;
    }
    return new MlpEncoder(d, log, mean, scale, missing, inputs);
  }

  /** Encodes rows [start, start + m) of X (or of the rows listed in `index`) into out (m × inputs). */
  encode(X: Float32Array, rows: ArrayLike<number> | undefined, start: number, m: number, out: Float32Array): void {
    const { d, inputs, log, mean, scale, missing } = this;
    for (let r = 0; r < m; r++) {
      const base = (rows ? rows[start + r]! : start + r) * d;
      const at = r * inputs;
      if (inputs > d) out.fill(0, at + d, at + inputs);
      for (let j = 0; j < d; j++) {
        let v = X[base + j]!;
        // NaN and ±Infinity (v − v is NaN for both): missing.
        if (!(v - v === 0)) {
          out[at + j] = 0;
          const mj = missing[j]!;
          if (mj >= 0) out[at + mj] = 1;
          continue;
        }
        if (log[j] === 1) v = v >= 0 ? Math.log1p(v) : -Math.log1p(-v);
        const z = (v - mean[j]!) * scale[j]!;
        out[at + j] = z > CLIP ? CLIP : z < -CLIP ? -CLIP : z;
      }
    }
  }
}

function compress(v: number): number {
  return v >= 0 ? Math.log1p(v) : -Math.log1p(-v);
}

/** Per-layer activations and gradients of one minibatch (grow-only). */
class Workspace {
  acts: Float32Array[] = [];
  grads: Float32Array[] = [];
  constructor(readonly sizes: readonly number[]) {}

  ensure(m: number): void {
    if ((this.acts[0]?.length ?? 0) >= m * this.sizes[0]!) return;
    this.acts = this.sizes.map((s) => new Float32Array(m * s));
    this.grads = this.sizes.map((s) => new Float32Array(m * s));
  }
}

export class MultiTaskMlp {
  /** Inference scratch (grow-only). */
  private work: Workspace;
  /** The layers in WebAssembly SIMD (dense-kernel.ts), made at the first prediction; null: unavailable. */
  private stack: DenseStack | null | undefined;

  private constructor(
    readonly heads: readonly string[],
    readonly encoder: MlpEncoder,
    /** Layer sizes, the encoded inputs first, the heads last. */
    readonly sizes: readonly number[],
    readonly weights: Float32Array[],
    readonly biases: Float32Array[],
    readonly report?: MlpReport,
  ) {
    this.work = new Workspace(sizes);
  }

  get numFeatures(): number {
    return this.encoder.d;
  }

  /**
   * Fits on `fit`, stopping early on `valid` (the best epoch's weights are kept). Heads are
   * named for the saved model; their number must match the label arrays. `warm`: an earlier
   * model to continue (its encoding and weights as the start; the epoch 0 loss on `valid` is
   * its own), used when it has these heads, features and hidden layers.
   */
  static fit(
    fit: MlpData,
    valid: MlpData,
    heads: readonly string[],
    options: Partial<MlpOptions> = {},
    onEpoch?: (epoch: number, epochs: number, validLoss: number) => void,
    warm?: MultiTaskMlp,
  ): MultiTaskMlp {
    const o = { ...DEFAULT_MLP_OPTIONS, ...options };
    const t0 = performance.now();
    if (fit.labels.length !== heads.length || valid.labels.length !== heads.length) throw new Error(`mlp: ${heads.length} heads but ${fit.labels.length} fit and ${valid.labels.length} validation label arrays`);
    if (fit.d !== valid.d) throw new Error(`mlp: ${fit.d} fit features but ${valid.d} validation features`);
    if (fit.n === 0) throw new Error('mlp: no fitting rows');
    for (const h of o.hidden) if (!(Number.isInteger(h) && h >= 1)) throw new Error(`mlp: hidden layer sizes must be positive integers, got ${h}`);
    // Warm start: the earlier model's encoding and weights, when its heads, features and
    // layers are these (otherwise a fresh start).
    const init = warm && warm.heads.join('\0') === heads.join('\0') && warm.numFeatures === fit.d && warm.sizes.slice(1, -1).join() === o.hidden.join() ? warm : undefined;
    const encoder = init ? init.encoder : MlpEncoder.fit(fit.X, fit.n, fit.d);
    const sizes = [encoder.inputs, ...o.hidden, heads.length];
    const rng = new Rng(o.seed);
    const weights: Float32Array[] = [];
    const biases: Float32Array[] = [];
    if (init) {
      for (let l = 0; l < init.weights.length; l++) {
        weights.push(init.weights[l]!.slice());
        biases.push(init.biases[l]!.slice());
      }
    } else {
      // He initialisation for the ReLU layers; the output biases start at each head's base rate's logit.
      for (let l = 0; l + 1 < sizes.length; l++) {
        const a = sizes[l]!;
        const b = sizes[l + 1]!;
        const w = new Float32Array(a * b);
        const sd = Math.sqrt(2 / a);
        for (let k = 0; k < w.length; k++) w[k] = rng.normal() * sd;
        weights.push(w);
        biases.push(new Float32Array(b));
      }
      const out = biases[biases.length - 1]!;
      for (let h = 0; h < heads.length; h++) {
        let pos = 0;
        for (let i = 0; i < fit.n; i++) if (fit.labels[h]![i]! > 0) pos++;
        const rate = Math.min(1 - 1e-4, Math.max(1e-4, pos / fit.n));
        out[h] = Math.log(rate / (1 - rate));
      }
    }
    const model = new MultiTaskMlp(heads, encoder, sizes, weights, biases);

    // Adam state.
    const m1 = weights.map((w) => new Float32Array(w.length));
    const v1 = weights.map((w) => new Float32Array(w.length));
    const mb = biases.map((b) => new Float32Array(b.length));
    const vb = biases.map((b) => new Float32Array(b.length));
    const gw = weights.map((w) => new Float32Array(w.length));
    const gb = biases.map((b) => new Float32Array(b.length));
    let step = 0;

    const order = Uint32Array.from({ length: fit.n }, (_, i) => i);
    const B = Math.max(1, Math.min(o.batchSize, fit.n));
    const work = new Workspace(sizes);
    work.ensure(B);
    const trainLoss: number[] = [];
    const validLoss: number[] = [];
    // A continued model competes with where it started: epoch 0.
    let best = init ? model.loss(valid) : Infinity;
    let bestEpoch = 0;
    let bestWeights = weights.map((w) => w.slice());
    let bestBiases = biases.map((b) => b.slice());
    let epoch = 0;
    for (epoch = 1; epoch <= o.epochs; epoch++) {
      // Seeded shuffle of the fitting rows.
      for (let i = fit.n - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const t = order[i]!;
        order[i] = order[j]!;
        order[j] = t;
      }
      let lossSum = 0;
      for (let start = 0; start < fit.n; start += B) {
        const m = Math.min(B, fit.n - start);
        encoder.encode(fit.X, order, start, m, work.acts[0]!);
        model.forward(work, m);
        lossSum += model.backward(work, m, fit.labels, order, start, gw, gb);
        step++;
        const lr = o.learningRate;
        const c1 = 1 - Math.pow(ADAM_BETA1, step);
        const c2 = 1 - Math.pow(ADAM_BETA2, step);
        const decay = 1 - lr * o.weightDecay;
        for (let l = 0; l < weights.length; l++) {
          adam(weights[l]!, gw[l]!, m1[l]!, v1[l]!, lr, c1, c2, decay);
          adam(biases[l]!, gb[l]!, mb[l]!, vb[l]!, lr, c1, c2, 1);
        }
      }
      trainLoss.push(lossSum / fit.n);
      const vl = model.loss(valid);
      validLoss.push(vl);
      onEpoch?.(epoch, o.epochs, vl);
      if (vl < best - 1e-6) {
        best = vl;
        bestEpoch = epoch;
        bestWeights = weights.map((w) => w.slice());
        bestBiases = biases.map((b) => b.slice());
      } else if (epoch - bestEpoch >= o.patience) break;
    }
    const report: MlpReport = { ...(init ? { warmStart: true } : {}), epochs: Math.min(epoch, o.epochs), bestEpoch, validLoss: validLoss.map(round6), trainLoss: trainLoss.map(round6), seconds: Math.round((performance.now() - t0) / 10) / 100 };
    return new MultiTaskMlp(heads, encoder, sizes, bestWeights, bestBiases, report);
  }

  /** Hidden layers with ReLU and the output layer, on the encoded inputs in work.acts[0] (m rows). */
  private forward(work: Workspace, m: number): void {
    const L = this.weights.length;
    for (let l = 0; l < L; l++) {
      const a = this.sizes[l]!;
      const b = this.sizes[l + 1]!;
      const x = work.acts[l]!;
      const y = work.acts[l + 1]!;
      const w = this.weights[l]!;
      const bias = this.biases[l]!;
      for (let r = 0; r < m; r++) {
        const yo = r * b;
        for (let j = 0; j < b; j++) y[yo + j] = bias[j]!;
        const xo = r * a;
        for (let k = 0; k < a; k++) {
          const xv = x[xo + k]!;
          if (xv === 0) continue;
          const wo = k * b;
          for (let j = 0; j < b; j++) y[yo + j] += xv * w[wo + j]!;
        }
        if (l + 1 < L) for (let j = 0; j < b; j++) if (y[yo + j]! < 0) y[yo + j] = 0;
      }
    }
  }

  /**
   * Gradients of the batch's summed logloss (mean over the batch) into gw / gb, from the
   * forward pass in `work`; returns the batch's summed loss.
   */
  private backward(work: Workspace, m: number, labels: readonly Float32Array[], rows: ArrayLike<number>, start: number, gw: Float32Array[], gb: Float32Array[]): number {
    const L = this.weights.length;
    const H = this.heads.length;
    const z = work.acts[L]!;
    const dz = work.grads[L]!;
    let loss = 0;
    for (let r = 0; r < m; r++) {
      const i = rows[start + r]!;
      for (let h = 0; h < H; h++) {
        const s = z[r * H + h]!;
        const y = labels[h]![i]!;
        // logloss = log(1 + e^s) − y·s; its derivative σ(s) − y.
        loss += softplus(s) - y * s;
        dz[r * H + h] = (1 / (1 + Math.exp(-s)) - y) / m;
      }
    }
    for (let l = L - 1; l >= 0; l--) {
      const a = this.sizes[l]!;
      const b = this.sizes[l + 1]!;
      const x = work.acts[l]!;
      const dy = work.grads[l + 1]!;
      const w = this.weights[l]!;
      const g = gw[l]!;
      const gBias = gb[l]!;
      g.fill(0);
      gBias.fill(0);
      const dx = l > 0 ? work.grads[l]! : undefined;
      for (let r = 0; r < m; r++) {
        const yo = r * b;
        for (let j = 0; j < b; j++) gBias[j]! += dy[yo + j]!;
        const xo = r * a;
        for (let k = 0; k < a; k++) {
          const xv = x[xo + k]!;
          const wo = k * b;
          if (xv !== 0) for (let j = 0; j < b; j++) g[wo + j]! += xv * dy[yo + j]!;
          if (dx) {
            // Through the ReLU: no gradient where the unit was off.
            if (xv <= 0) {
              dx[xo + k] = 0;
              continue;
            }
            let s = 0;
            for (let j = 0; j < b; j++) s += w[wo + j]! * dy[yo + j]!;
            dx[xo + k] = s;
          }
        }
      }
    }
    return loss;
  }

  /** Mean summed logloss per row of `data` (each head's mean logloss, summed over the heads). */
  loss(data: MlpData): number {
    if (data.n === 0) return 0;
    const logits = this.predictRawJs(data.X, data.n);
    let loss = 0;
    for (let h = 0; h < this.heads.length; h++) loss += logLossOfRaw(logits.subarray(h * data.n, (h + 1) * data.n), data.labels[h]!);
    return loss;
  }

  /**
   * Every head's logit for n rows of the row-major matrix (numFeatures columns), head-major:
   * out[h·n + i]. `out` is reused when large enough.
   */
  predictRaw(X: Float32Array, n: number, out?: Float64Array): Float64Array {
    if (this.stack === undefined) this.stack = DenseStack.create(this.sizes, this.weights, this.biases, CHUNK) ?? null;
    const stack = this.stack;
    if (!stack) return this.predictRawJs(X, n, out);
    const d = this.encoder.d;
    if (X.length < n * d) throw new Error(`mlp: matrix of ${X.length} values for ${n} rows × ${d} features`);
    const H = this.heads.length;
    const res = out && out.length >= n * H ? out : new Float64Array(n * H);
    const P = stack.outputsPadded;
    for (let start = 0; start < n; start += CHUNK) {
      const m = Math.min(CHUNK, n - start);
      this.encoder.encode(X, undefined, start, m, stack.input);
      stack.forward(m);
      const logits = stack.output;
      for (let r = 0; r < m; r++) for (let h = 0; h < H; h++) res[h * n + start + r] = logits[r * P + h]!;
    }
    return res;
  }

  /** The JavaScript path of predictRaw (training's arithmetic; the reference of the WebAssembly kernel). */
  predictRawJs(X: Float32Array, n: number, out?: Float64Array): Float64Array {
    const d = this.encoder.d;
    if (X.length < n * d) throw new Error(`mlp: matrix of ${X.length} values for ${n} rows × ${d} features`);
    const H = this.heads.length;
    const res = out && out.length >= n * H ? out : new Float64Array(n * H);
    const work = this.work;
    work.ensure(Math.min(CHUNK, Math.max(1, n)));
    for (let start = 0; start < n; start += CHUNK) {
      const m = Math.min(CHUNK, n - start);
      this.encoder.encode(X, undefined, start, m, work.acts[0]!);
      this.forward(work, m);
      const logits = work.acts[this.weights.length]!;
      for (let r = 0; r < m; r++) for (let h = 0; h < H; h++) res[h * n + start + r] = logits[r * H + h]!;
    }
    return res;
  }

  toJSON(): MlpJson {
    const e = this.encoder;
    return {
      format: MLP_FORMAT,
      heads: [...this.heads],
      features: e.d,
      encode: { log: Array.from(e.log), mean: Array.from(e.mean), scale: Array.from(e.scale), missing: Array.from(e.missing) },
      sizes: [...this.sizes],
      weights: this.weights.map((w) => Array.from(w)),
      biases: this.biases.map((b) => Array.from(b)),
      ...(this.report ? { report: this.report } : {}),
    };
  }

  /** Restores a saved model; throws naming the field when the file is inconsistent. */
  static fromJSON(json: MlpJson): MultiTaskMlp {
    if (json.format !== MLP_FORMAT) throw new Error(`mlp model: format must be ${MLP_FORMAT}, got ${String(json.format)}`);
    const d = json.features;
    const { log, mean, scale, missing } = json.encode;
    if (![log, mean, scale, missing].every((a) => Array.isArray(a) && a.length === d)) throw new Error(`mlp model: encode arrays must have ${d} entries (features)`);
    const inputs = d + missing.filter((x) => x >= 0).length;
    const sizes = json.sizes;
    if (sizes[0] !== inputs) throw new Error(`mlp model: sizes[0] is ${sizes[0]}, the encoding gives ${inputs} inputs`);
    if (sizes[sizes.length - 1] !== json.heads.length) throw new Error(`mlp model: the last layer has ${sizes[sizes.length - 1]} outputs for ${json.heads.length} heads`);
    if (json.weights.length !== sizes.length - 1 || json.biases.length !== sizes.length - 1) throw new Error(`mlp model: ${sizes.length - 1} layers need as many weight and bias arrays`);
    for (let l = 0; l + 1 < sizes.length; l++) {
      if (json.weights[l]!.length !== sizes[l]! * sizes[l + 1]!) throw new Error(`mlp model: weights[${l}] has ${json.weights[l]!.length} values, expected ${sizes[l]! * sizes[l + 1]!}`);
      if (json.biases[l]!.length !== sizes[l + 1]!) throw new Error(`mlp model: biases[${l}] has ${json.biases[l]!.length} values, expected ${sizes[l + 1]!}`);
    }
    const encoder = new MlpEncoder(d, Uint8Array.from(log), Float64Array.from(mean), Float64Array.from(scale), Int32Array.from(missing), inputs);
    return new MultiTaskMlp(
      json.heads,
      encoder,
      sizes,
      json.weights.map((w) => Float32Array.from(w)),
      json.biases.map((b) => Float32Array.from(b)),
      json.report,
    );
  }
}

/** Adam's moment decay rates. */
const ADAM_BETA1 = 0.9;
const ADAM_BETA2 = 0.999;

/** One Adam step (decoupled weight decay `decay` = 1 − lr·λ applied first; c1, c2 the bias corrections). */
function adam(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, c1: number, c2: number, decay: number): void {
  for (let k = 0; k < p.length; k++) {
    const gk = g[k]!;
    const mk = (m[k] = ADAM_BETA1 * m[k]! + (1 - ADAM_BETA1) * gk);
    const vk = (v[k] = ADAM_BETA2 * v[k]! + (1 - ADAM_BETA2) * gk * gk);
    p[k] = p[k]! * decay - (lr * (mk / c1)) / (Math.sqrt(vk / c2) + 1e-8);
  }
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
