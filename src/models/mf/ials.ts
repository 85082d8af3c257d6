/**
 * Implicit alternating least squares (Hu, Koren & Volinsky, ICDM 2008) with the conjugate-
 * gradient row solver of Takács, Pilászy & Tikk (RecSys 2011).
 *
 * Every (user, item) cell has preference p = 1 if the user interacted with the item in training
 * and 0 otherwise, with confidence c = 1 + α·r (r = 1 for every interaction with the default
 * `weighting: 'binary'`, or r = log(1 + value) with `'log'`, e.g. for play counts). Minimises
 *     Σ_{u,i} c_ui (p_ui − x_uᵀ y_i)² + λ (Σ_u ‖x_u‖² + Σ_i ‖y_i‖²)
 * by alternating exact-in-the-limit updates of user and item factors. For a user,
 *     (YᵀY + Σ_{i∈I(u)} (c_ui − 1) y_i y_iᵀ + λI) x_u = Σ_{i∈I(u)} c_ui y_i
 * and YᵀY is shared by all users, so one CG step costs O(f² + |I(u)|·f). Each row runs
 * `cgSteps` CG steps warm-started from its previous value. The rows of a half-step run their CG
 * in lock-step, so that the dense part (P·YᵀY for all rows at once) is one block product on the
 * SIMD kernel (linalg.ts); the sparse part stays per row. Scoring is batched the same way.
 * Only candidate items get factors; the others stay zero. Initialisation is seeded (prng.ts).
 * An odd number of factors is padded with one always-zero factor.
 */
import { Rng } from '../../eval/prng.js';
import { recommendFromScores, type FitOptions, type Recommender, type RecommendOptions, type TrainMatrix } from '../../eval/recommender.js';
import type { Csr } from '../csr.js';
import { KernelWorkspace } from '../linalg.js';

export interface IalsOptions {
  factors?: number;
  /** λ (default 0.1). */
  regularization?: number;
  /** α in c = 1 + α·r (default 10). */
  alpha?: number;
  iterations?: number;
  cgSteps?: number;
  weighting?: 'binary' | 'log';
  seed?: number;
}

export class IalsRecommender implements Recommender {
  readonly name = 'ials';
  readonly factors: number;
  readonly regularization: number;
  readonly alpha: number;
  readonly iterations: number;
  readonly cgSteps: number;
  readonly weighting: 'binary' | 'log';
  private readonly seed: number;
  private train?: TrainMatrix;
  userFactors = new Float64Array(0);
  itemFactors = new Float64Array(0);

  constructor(options: IalsOptions = {}) {
    this.factors = options.factors ?? 64;
    this.regularization = options.regularization ?? 0.1;
    this.alpha = options.alpha ?? 10;
    this.iterations = options.iterations ?? 15;
    this.cgSteps = options.cgSteps ?? 3;
    this.weighting = options.weighting ?? 'binary';
    this.seed = options.seed ?? 42;
    if (!(this.factors >= 1) || !Number.isInteger(this.factors)) throw new Error(`ials: factors must be a positive integer, got ${this.factors}`);
    if (!(this.regularization >= 0)) throw new Error('ials: regularization must be ≥ 0');
    if (!(this.alpha >= 0)) throw new Error('ials: alpha must be ≥ 0');
  }

  /** Row stride of the factor matrices (factors rounded up to even). */
  get stride(): number {
    return this.factors + (this.factors & 1);
  }

  fit(train: TrainMatrix, options: FitOptions = {}): void {
    this.train = train;
    this.fitFactors(train.userItems, train.itemUsers, train.candidates, options);
  }

  /**
   * Fits user and item factors on a user×item matrix (`userItems`, with its transpose
   * `itemUsers`); only items with `itemMask[i]` set get factors (all when omitted). Sets
   * `userFactors` (rows × stride) and `itemFactors` (cols × stride). This is what fit() runs;
   * candidate sources call it on their own matrices.
   */
  fitFactors(userItems: Csr, itemUsers: Csr, itemMask?: Uint8Array, options: FitOptions = {}): void {
    const f = this.stride;
    const numUsers = userItems.rows;
    const numItems = itemUsers.rows;
    const rng = new Rng(this.seed);
    const X = new Float64Array(numUsers * f);
    const Y = new Float64Array(numItems * f);
    const scale = 0.01;
    for (let u = 0; u < numUsers; u++) {
      if (userItems.offsets[u + 1] === userItems.offsets[u]) continue;
      for (let t = 0; t < this.factors; t++) X[u * f + t] = rng.normal() * scale;
    }
    for (let i = 0; i < numItems; i++) {
      if (itemMask ? !itemMask[i] : itemUsers.offsets[i + 1] === itemUsers.offsets[i]) continue;
      for (let t = 0; t < this.factors; t++) Y[i * f + t] = rng.normal() * scale;
    }
    const confUser = this.confidences(userItems);
    const confItem = this.confidences(itemUsers);
    const maxRows = Math.max(numUsers, numItems) + 4;
    const ws = new KernelWorkspace(f * f + 4 * maxRows * f);
    for (let it = 0; it < this.iterations; it++) {
      this.halfStep(ws, userItems, confUser, X, Y, numItems);
      this.halfStep(ws, itemUsers, confItem, Y, X, numUsers);
      options.onProgress?.(it + 1, this.iterations);
    }
    this.userFactors = X;
    this.itemFactors = Y;
  }

  /** c − 1 = α·r per stored entry. */
  private confidences(m: Csr): Float64Array {
    const out = new Float64Array(m.values.length);
    for (let p = 0; p < out.length; p++) out[p] = this.alpha * (this.weighting === 'log' ? Math.log1p(Math.max(0, m.values[p])) : 1);
    return out;
  }

  /**
   * Updates the rows of `target` (users or items) given the fixed `other` factors: `cgSteps`
   * CG steps for every non-empty row, in lock-step. Workspace layout (doubles): −G (f×f), then
   * X, R, P, AP (rows×f each) for the active rows.
   */
  private halfStep(ws: KernelWorkspace, m: Csr, conf: Float64Array, target: Float64Array, other: Float64Array, numOther: number): void {
    const f = this.stride;
    const h = ws.h;
    const gram = gramMatrix(other, numOther, f, this.regularization);
    for (let q = 0; q < f * f; q++) h[q] = -gram[q];
    const { offsets, indices } = m;
    const rows: number[] = [];
    for (let r = 0; r < m.rows; r++) if (offsets[r + 1] > offsets[r]) rows.push(r);
    const n = rows.length;
    const nPad = (n + 3) & ~3;
    const X = f * f;
    const R = X + nPad * f;
    const P = R + nPad * f;
    const AP = P + nPad * f;
    h.fill(0, X, AP + nPad * f);
    for (let k = 0; k < n; k++) h.set(target.subarray(rows[k] * f, rows[k] * f + f), X + k * f);

    /** AP = V·G + Σ conf·(y·v) y per row, for V at offset v. */
    const apply = (v: number): void => {
      h.fill(0, AP, AP + nPad * f);
      ws.blockUpdate(AP, f, v, 0, nPad, f, f); // AP −= V·(−G)ᵀ
      for (let k = 0; k < n; k++) {
        const row = rows[k];
        const vo = v + k * f;
        const ao = AP + k * f;
        for (let q = offsets[row]; q < offsets[row + 1]; q++) {
          const base = indices[q] * f;
          // four partial sums: one accumulator would make the loop wait on each addition
          let d0 = 0;
          let d1 = 0;
          let d2 = 0;
          let d3 = 0;
          let t = 0;
          for (; t + 3 < f; t += 4) {
            d0 += other[base + t] * h[vo + t];
            d1 += other[base + t + 1] * h[vo + t + 1];
            d2 += other[base + t + 2] * h[vo + t + 2];
            d3 += other[base + t + 3] * h[vo + t + 3];
          }
          for (; t < f; t++) d0 += other[base + t] * h[vo + t];
          const w = conf[q] * (d0 + d1 + d2 + d3);
          for (let t2 = 0; t2 < f; t2++) h[ao + t2] += w * other[base + t2];
        }
      }
    };

    // r = b − A x,  b = Σ (1 + conf) y;  p = r
    apply(X);
    const rs = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const row = rows[k];
      const ro = R + k * f;
      const ao = AP + k * f;
      for (let t = 0; t < f; t++) h[ro + t] = -h[ao + t];
      for (let q = offsets[row]; q < offsets[row + 1]; q++) {
        const base = indices[q] * f;
        const c = 1 + conf[q];
        for (let t = 0; t < f; t++) h[ro + t] += c * other[base + t];
      }
      let s = 0;
      for (let t = 0; t < f; t++) {
        const r = h[ro + t];
        h[P + k * f + t] = r;
        s += r * r;
      }
      rs[k] = s;
    }
    for (let step = 0; step < this.cgSteps; step++) {
      apply(P);
      for (let k = 0; k < n; k++) {
        const old = rs[k];
        if (!(old > 1e-20)) continue;
        const xo = X + k * f;
        const ro = R + k * f;
        const po = P + k * f;
        const ao = AP + k * f;
        let pap = 0;
        for (let t = 0; t < f; t++) pap += h[po + t] * h[ao + t];
        if (!(pap > 0)) {
          rs[k] = 0;
          continue;
        }
        const alpha = old / pap;
        let rsNew = 0;
        for (let t = 0; t < f; t++) {
          h[xo + t] += alpha * h[po + t];
          const r = h[ro + t] - alpha * h[ao + t];
          h[ro + t] = r;
          rsNew += r * r;
        }
        const beta = rsNew / old;
        for (let t = 0; t < f; t++) h[po + t] = h[ro + t] + beta * h[po + t];
        rs[k] = rsNew;
      }
    }
    for (let k = 0; k < n; k++) target.set(h.subarray(X + k * f, X + k * f + f), rows[k] * f);
  }

  recommend(users: Int32Array, k: number, options: RecommendOptions): Int32Array {
    const train = this.train;
    if (!train) throw new Error('ials: recommend() before fit()');
    const f = this.stride;
    const X = this.userFactors;
    const Y = this.itemFactors;
    const cands: number[] = [];
    for (let i = 0; i < train.numItems; i++) if (train.candidates[i]) cands.push(i);
    const nc = cands.length;
    const ncPad = (nc + 1) & ~1;
    const BATCH = 64;
    // workspace: item factors of candidates (ncPad×f), a batch of user factors, the score block
    const items = 0;
    const batchUsers = ncPad * f;
    const block = batchUsers + BATCH * f;
    const ws = new KernelWorkspace(block + BATCH * ncPad);
    const h = ws.h;
    for (let c = 0; c < nc; c++) h.set(Y.subarray(cands[c] * f, cands[c] * f + f), items + c * f);
    let next = 0; // index in `users` of the next user to score
    let batchStart = 0;
    let batchSize = 0;
    return recommendFromScores(train, users, k, options, (u, scores) => {
      if (next >= batchStart + batchSize) {
        batchStart = next;
        batchSize = Math.min(BATCH, users.length - batchStart);
        h.fill(0, batchUsers, block + BATCH * ncPad);
        for (let b = 0; b < batchSize; b++) h.set(X.subarray(users[batchStart + b] * f, users[batchStart + b] * f + f), batchUsers + b * f);
        ws.blockUpdate(block, ncPad, batchUsers, items, (batchSize + 3) & ~3, ncPad, f); // −scores
      }
      const row = block + (next - batchStart) * ncPad;
      for (let c = 0; c < nc; c++) scores[cands[c]] = -h[row + c];
      next++;
    });
  }
}

/** otherᵀ·other + λI (f×f, full): the shared part of every row's iALS equation. */
export function gramMatrix(other: Float64Array, numOther: number, f: number, lambda: number): Float64Array {
  const gram = new Float64Array(f * f);
  for (let o = 0; o < numOther; o++) {
    const base = o * f;
    for (let a = 0; a < f; a++) {
      const va = other[base + a];
      if (va === 0) continue;
      const ga = a * f;
      for (let b = 0; b <= a; b++) gram[ga + b] += va * other[base + b];
    }
  }
  for (let a = 0; a < f; a++) {
    gram[a * f + a] += lambda;
    for (let b = 0; b < a; b++) gram[b * f + a] = gram[a * f + b];
  }
  return gram;
}

/**
 * Folds one user into fixed item factors: solves the iALS user equation
 *     (G + Σ_{i∈I(u)} conf_i y_i y_iᵀ) x = Σ_{i∈I(u)} (1 + conf_i) y_i,   G = YᵀY + λI,
 * exactly (Cholesky on the f×f system), for a user with items `items` and confidences − 1
 * `conf` (α·r). `itemFactors` has rows of `stride` numbers (Float32 or Float64); the result has
 * `stride` numbers. Returns zeros for an empty history or a system that is not positive definite.
 */
export function foldInUser(
  itemFactors: Float32Array | Float64Array,
  stride: number,
  gram: Float64Array,
  items: ArrayLike<number>,
  conf: ArrayLike<number>,
): Float64Array {
  const f = stride;
  const a = Float64Array.from(gram);
  const x = new Float64Array(f);
  if (items.length === 0) return x;
  for (let k = 0; k < items.length; k++) {
    const base = items[k] * f;
    const c = conf[k];
    for (let p = 0; p < f; p++) {
      const yp = itemFactors[base + p];
      x[p] += (1 + c) * yp;
      if (yp === 0) continue;
      const w = c * yp;
      const row = p * f;
      for (let q = 0; q <= p; q++) a[row + q] += w * itemFactors[base + q];
    }
  }
  // Cholesky A = L Lᵀ in the lower triangle, then two triangular solves.
  for (let j = 0; j < f; j++) {
    let d = a[j * f + j];
    for (let k = 0; k < j; k++) d -= a[j * f + k] * a[j * f + k];
    if (!(d > 0)) return new Float64Array(f);
    const l = Math.sqrt(d);
    a[j * f + j] = l;
    for (let i = j + 1; i < f; i++) {
      let s = a[i * f + j];
      for (let k = 0; k < j; k++) s -= a[i * f + k] * a[j * f + k];
      a[i * f + j] = s / l;
    }
  }
  for (let i = 0; i < f; i++) {
    let s = x[i];
    for (let k = 0; k < i; k++) s -= a[i * f + k] * x[k];
    x[i] = s / a[i * f + i];
  }
  for (let i = f - 1; i >= 0; i--) {
    let s = x[i];
    for (let k = i + 1; k < f; k++) s -= a[k * f + i] * x[k];
    x[i] = s / a[i * f + i];
  }
  return x;
}
