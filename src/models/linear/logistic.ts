/**
 * L2-penalised logistic regression on standardised features, fitted by Newton's method
 * (iteratively reweighted least squares). Small and exact: the feature count is tens, the
 * Hessian is d×d and solved by Cholesky each iteration. Rows may carry weights (e.g. to undo
 * negative sampling). Used by the real-graph affinity model and the learned source fusion.
 */

export interface LogisticModel {
  /** Per-feature weights on standardised features, then the intercept (length d + 1). */
  weights: number[];
  mean: number[];
  scale: number[];
}

export interface LogisticFitOptions {
  /** L2 penalty on the (standardised) feature weights; the intercept is not penalised. */
  l2?: number;
  maxIterations?: number;
  /** Per-row weights (default 1). */
  rowWeights?: ArrayLike<number>;
}

/** Fits the model on rows `xs` (each of length d) with 0/1 labels `ys`. */
export function fitLogistic(xs: readonly ArrayLike<number>[], ys: ArrayLike<number>, d: number, options: LogisticFitOptions = {}): LogisticModel {
  const l2 = options.l2 ?? 1;
  const n = xs.length;
  const rw = options.rowWeights;
  let total = 0;
  for (let i = 0; i < n; i++) total += rw ? rw[i]! : 1;
  const mean = new Float64Array(d);
  const scale = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const x = xs[i]!;
    const wi = rw ? rw[i]! : 1;
    for (let j = 0; j < d; j++) mean[j]! += (wi * x[j]!) / Math.max(total, 1e-12);
  }
  for (let i = 0; i < n; i++) {
    const x = xs[i]!;
    const wi = rw ? rw[i]! : 1;
    for (let j = 0; j < d; j++) scale[j]! += (wi * (x[j]! - mean[j]!) ** 2) / Math.max(total, 1e-12);
  }
  for (let j = 0; j < d; j++) scale[j] = Math.sqrt(scale[j]!) || 1;
  const p = d + 1;
  const w = new Float64Array(p);
  const z = new Float64Array(p);
  const grad = new Float64Array(p);
  const hess = new Float64Array(p * p);
  for (let iter = 0; iter < (options.maxIterations ?? 15); iter++) {
    grad.fill(0);
    hess.fill(0);
    for (let i = 0; i < n; i++) {
      const x = xs[i]!;
      for (let j = 0; j < d; j++) z[j] = (x[j]! - mean[j]!) / scale[j]!;
      z[d] = 1;
      let s = 0;
      for (let j = 0; j < p; j++) s += w[j]! * z[j]!;
      const pr = 1 / (1 + Math.exp(-s));
      const wi = rw ? rw[i]! : 1;
      const g = wi * (pr - ys[i]!);
      const h = wi * Math.max(pr * (1 - pr), 1e-9);
      for (let j = 0; j < p; j++) {
        grad[j]! += g * z[j]!;
        const hz = h * z[j]!;
        for (let k = 0; k <= j; k++) hess[j * p + k]! += hz * z[k]!;
      }
    }
    for (let j = 0; j < d; j++) {
      grad[j]! += l2 * w[j]!;
      hess[j * p + j]! += l2;
    }
    hess[d * p + d]! += 1e-6;
    for (let j = 0; j < p; j++) for (let k = 0; k < j; k++) hess[k * p + j] = hess[j * p + k]!;
    const step = solveSpd(hess, grad, p);
    let change = 0;
    for (let j = 0; j < p; j++) {
      w[j]! -= step[j]!;
      change = Math.max(change, Math.abs(step[j]!));
    }
    if (change < 1e-6) break;
  }
  return { weights: Array.from(w), mean: Array.from(mean), scale: Array.from(scale) };
}

/** The linear score (log-odds) of one row. */
export function logisticMargin(model: LogisticModel, x: ArrayLike<number>): number {
  const d = model.mean.length;
  let z = model.weights[d]!;
  for (let j = 0; j < d; j++) z += model.weights[j]! * ((x[j]! - model.mean[j]!) / model.scale[j]!);
  return z;
}

/** Solves A x = b for a small symmetric positive-definite A (Cholesky). */
export function solveSpd(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / l[j * n + j]!;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * n + k]! * y[k]!;
    y[i] = s / l[i * n + i]!;
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * x[k]!;
    x[i] = s / l[i * n + i]!;
  }
  return x;
}
