/**
 * Turning a model's raw scores into calibrated probabilities, fitted on held-out (score, label)
 * pairs, and the metrics to check it.
 *
 * - Platt scaling: p = σ(a·s + b), a and b by Newton's method on the log loss (scores are
 *   standardised while fitting for conditioning; a tiny ridge on a keeps separable data finite).
 * - Isotonic regression: the non-decreasing step function of score that best fits the labels
 *   in squared error, found by pool-adjacent-violators. Prediction interpolates linearly between
 *   the blocks' (mean score, mean label) points — smoother than the raw steps and still
 *   monotone — and is clamped to [ε, 1 − ε] so a log loss downstream stays finite.
 *
 * Both serialise to plain JSON (`toJSON`, `calibratorFromJson`).
 */
import { rocAuc, softplus } from '../models/gbdt/metrics.js';

export { rocAuc };

export interface PlattJson {
  kind: 'platt';
  a: number;
  b: number;
}

export interface IsotonicJson {
  kind: 'isotonic';
  /** Block centres (mean score), increasing. */
  x: number[];
  /** Block means (mean label), non-decreasing. */
  y: number[];
  eps: number;
}

export type CalibratorJson = PlattJson | IsotonicJson;

export interface Calibrator {
  readonly kind: CalibratorJson['kind'];
  /** Calibrated probability of a raw score. */
  apply(score: number): number;
  toJSON(): CalibratorJson;
}

export class PlattCalibrator implements Calibrator {
  readonly kind = 'platt';

  constructor(
    readonly a: number,
    readonly b: number,
  ) {}

  apply(score: number): number {
    return 1 / (1 + Math.exp(-(this.a * score + this.b)));
  }

  toJSON(): PlattJson {
    return { kind: 'platt', a: this.a, b: this.b };
  }
}

export class IsotonicCalibrator implements Calibrator {
  readonly kind = 'isotonic';
  private readonly xs: Float64Array;
  private readonly ys: Float64Array;

  constructor(
    x: ArrayLike<number>,
    y: ArrayLike<number>,
    readonly eps = 1e-6,
  ) {
    if (x.length !== y.length || x.length === 0) throw new Error(`isotonic: need matching non-empty x and y (got ${x.length} and ${y.length})`);
    this.xs = Float64Array.from(x);
    this.ys = Float64Array.from(y);
  }

  apply(score: number): number {
    const xs = this.xs;
    const ys = this.ys;
    const n = xs.length;
    let v: number;
    if (!(score > xs[0]!)) v = ys[0]!;
    else if (score >= xs[n - 1]!) v = ys[n - 1]!;
    else {
      // Last centre <= score (binary search), then linear interpolation to the next.
      let lo = 0;
      let hi = n - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >>> 1;
        if (xs[mid]! <= score) lo = mid;
        else hi = mid;
      }
      const t = (score - xs[lo]!) / (xs[hi]! - xs[lo]!);
      v = ys[lo]! + t * (ys[hi]! - ys[lo]!);
    }
    return Math.min(1 - this.eps, Math.max(this.eps, v));
  }

  toJSON(): IsotonicJson {
    return { kind: 'isotonic', x: Array.from(this.xs), y: Array.from(this.ys), eps: this.eps };
  }
}

export function calibratorFromJson(json: CalibratorJson): Calibrator {
  if (json?.kind === 'platt') {
    if (!Number.isFinite(json.a) || !Number.isFinite(json.b)) throw new Error('calibration: platt a and b must be finite numbers');
    return new PlattCalibrator(json.a, json.b);
  }
  if (json?.kind === 'isotonic') return new IsotonicCalibrator(json.x, json.y, json.eps);
  throw new Error(`calibration.kind: unknown calibrator ${JSON.stringify((json as { kind?: unknown })?.kind)}`);
}

function checkPairs(scores: ArrayLike<number>, labels: ArrayLike<number>, weights?: ArrayLike<number>): void {
  if (scores.length !== labels.length) throw new Error(`calibration: ${scores.length} scores but ${labels.length} labels`);
  if (weights && weights.length !== scores.length) throw new Error(`calibration: ${weights.length} weights for ${scores.length} scores`);
  if (scores.length === 0) throw new Error('calibration: no (score, label) pairs to fit');
  for (let i = 0; i < labels.length; i++) {
    if (!(labels[i]! >= 0 && labels[i]! <= 1)) throw new Error(`calibration: labels[${i}] = ${labels[i]} is outside [0, 1]`);
    if (!Number.isFinite(scores[i]!)) throw new Error(`calibration: scores[${i}] = ${scores[i]} is not finite`);
  }
}

/** Fits Platt scaling σ(a·s + b) by Newton's method (step-halving on the log loss). */
export function fitPlatt(scores: ArrayLike<number>, labels: ArrayLike<number>, options: { weights?: ArrayLike<number>; ridge?: number; maxIterations?: number } = {}): PlattCalibrator {
  checkPairs(scores, labels, options.weights);
  const n = scores.length;
  const w = options.weights;
  const ridge = options.ridge ?? 1e-6;
  let total = 0;
  let mean = 0;
  for (let i = 0; i < n; i++) {
    const wi = w ? w[i]! : 1;
    total += wi;
    mean += wi * scores[i]!;
  }
  mean /= total;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (w ? w[i]! : 1) * (scores[i]! - mean) ** 2;
  const sd = Math.sqrt(variance / total) || 1;
  // Loss of (a, b) on standardised scores z = (s − mean) / sd, per unit weight.
  const loss = (a: number, b: number) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const m = a * ((scores[i]! - mean) / sd) + b;
      sum += (w ? w[i]! : 1) * (softplus(m) - labels[i]! * m);
    }
    return sum / total + 0.5 * ridge * a * a;
  };
  let a = 1;
  let b = 0;
  let current = loss(a, b);
  for (let it = 0; it < (options.maxIterations ?? 100); it++) {
    let ga = 0;
    let gb = 0;
    let haa = 0;
    let hab = 0;
    let hbb = 0;
    for (let i = 0; i < n; i++) {
      const z = (scores[i]! - mean) / sd;
      const p = 1 / (1 + Math.exp(-(a * z + b)));
      const wi = (w ? w[i]! : 1) / total;
      const r = wi * (p - labels[i]!);
      const q = wi * p * (1 - p);
      ga += r * z;
      gb += r;
      haa += q * z * z;
      hab += q * z;
      hbb += q;
    }
    ga += ridge * a;
    haa += ridge + 1e-12;
    hbb += 1e-12;
    const det = haa * hbb - hab * hab;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    let step = 1;
    let next = loss(a - da, b - db);
    while (next > current && step > 1e-8) {
      step /= 2;
      next = loss(a - step * da, b - step * db);
    }
    if (!(next <= current)) break;
    a -= step * da;
    b -= step * db;
    const improvement = current - next;
    current = next;
    if (improvement < 1e-12 && Math.abs(step * da) + Math.abs(step * db) < 1e-9) break;
  }
  // Back to raw scores: a·z + b = (a / sd)·s + (b − a·mean / sd).
  return new PlattCalibrator(a / sd, b - (a * mean) / sd);
}

/** Fits isotonic regression by pool-adjacent-violators (ties in score pooled first). */
export function fitIsotonic(scores: ArrayLike<number>, labels: ArrayLike<number>, options: { weights?: ArrayLike<number>; eps?: number } = {}): IsotonicCalibrator {
  checkPairs(scores, labels, options.weights);
  const n = scores.length;
  const w = options.weights;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((i, j) => scores[i]! - scores[j]!);
  // Blocks as a stack: weight, Σw·label, Σw·score.
  const bw = new Float64Array(n);
  const by = new Float64Array(n);
  const bx = new Float64Array(n);
  let top = 0;
  for (let k = 0; k < n; ) {
    // Equal scores form one starting block (they must get one value).
    const s = scores[order[k]!]!;
    let sw = 0;
    let sy = 0;
    for (; k < n && scores[order[k]!] === s; k++) {
      const wi = w ? w[order[k]!]! : 1;
      sw += wi;
      sy += wi * labels[order[k]!]!;
    }
    if (sw <= 0) continue;
    bw[top] = sw;
    by[top] = sy;
    bx[top] = sw * s;
    top++;
    // Pool while the previous block's mean exceeds the new one's.
    while (top > 1 && by[top - 2]! / bw[top - 2]! >= by[top - 1]! / bw[top - 1]!) {
      bw[top - 2] += bw[top - 1]!;
      by[top - 2] += by[top - 1]!;
      bx[top - 2] += bx[top - 1]!;
      top--;
    }
  }
  if (top === 0) throw new Error('calibration: all weights are zero');
  const x = new Float64Array(top);
  const y = new Float64Array(top);
  for (let i = 0; i < top; i++) {
    x[i] = bx[i]! / bw[i]!;
    y[i] = by[i]! / bw[i]!;
  }
  return new IsotonicCalibrator(x, y, options.eps ?? 1e-6);
}

/**
 * Expected calibration error: probabilities in `bins` equal-width bins over [0, 1]; the mean
 * over bins (weighted by their row counts) of |mean predicted − observed rate|.
 */
export function expectedCalibrationError(p: ArrayLike<number>, y: ArrayLike<number>, bins = 10): number {
  if (p.length !== y.length) throw new Error(`expectedCalibrationError: ${p.length} probabilities but ${y.length} labels`);
  if (!(Number.isInteger(bins) && bins >= 1)) throw new Error(`expectedCalibrationError: bins must be an integer >= 1, got ${bins}`);
  const count = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  for (let i = 0; i < p.length; i++) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p[i]! * bins)));
    count[b]++;
    sumP[b] += p[i]!;
    sumY[b] += y[i]!;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) ece += Math.abs(sumP[b]! - sumY[b]!);
  return p.length > 0 ? ece / p.length : NaN;
}
