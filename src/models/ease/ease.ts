/**
 * EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019): an item–item
 * weight matrix in closed form,
 *
 *     P = (XᵀX + λI)⁻¹,   B = I − P·diag(1/diag(P))   (so B_ii = 0, B_ij = −P_ij / P_jj)
 *
 * over the binary training matrix X (users × candidate items), and score(u, ·) = x_u B.
 *
 * Two exact ways to get the scores, chosen by `solver` (default `auto` = the smaller matrix):
 * - `primal`: invert the n×n item Gram matrix (n = candidate items) with the blocked SPD
 *   inverse of linalg.ts (two threads, SIMD kernel) and keep B densely.
 * - `dual`: when there are fewer users m than items, invert the m×m matrix K = XXᵀ + λI
 *   instead. By the push-through identity x_u P = (K⁻¹X)_u = Σ_v K⁻¹_uv x_v, and by Woodbury
 *   P_ii = (1 − x_iᵀ K⁻¹ x_i) / λ (x_i = item i's column), so for i ∉ I(u)
 *       score(u, i) = x_ui − (x_u P)_i / P_ii = −(Σ_v K⁻¹_uv x_vi) / P_ii,
 *   the same numbers as the primal form up to rounding, at O(m³) instead of O(n³).
 */
import { recommendFromScores, type FitOptions, type Recommender, type RecommendOptions, type TrainMatrix } from '../../eval/recommender.js';
import { allocateDense, invertSpd, type DenseMatrix, type InvertStats } from '../linalg.js';

export type EaseSolver = 'auto' | 'primal' | 'dual';

export interface EaseOptions {
  /** L2 regularisation λ (default 500). */
  lambda?: number;
  solver?: EaseSolver;
  /** Threads of the dense inverse (default: up to 2). */
  threads?: number;
}

export class EaseRecommender implements Recommender {
  readonly name = 'ease';
  readonly lambda: number;
  readonly solver: EaseSolver;
  private readonly threads: number | undefined;
  private train?: TrainMatrix;
  /** compact index ↔ item / user id */
  private itemOf = new Int32Array(0);
  private compactItem = new Int32Array(0);
  private compactUser = new Int32Array(0);
  private matrix?: DenseMatrix;
  /** dual: P_ii per compact item */
  private diagP = new Float64Array(0);
  /** What the last fit did (for reports). */
  stats?: { solver: 'primal' | 'dual'; size: number; invert: InvertStats };

  constructor(options: EaseOptions = {}) {
    this.lambda = options.lambda ?? 500;
    this.solver = options.solver ?? 'auto';
    this.threads = options.threads;
    if (!(this.lambda > 0)) throw new Error(`ease: lambda must be > 0, got ${this.lambda}`);
  }

  async fit(train: TrainMatrix, options: FitOptions = {}): Promise<void> {
    this.train = train;
    const n = train.numCandidates;
    this.itemOf = new Int32Array(n);
    this.compactItem = new Int32Array(train.numItems).fill(-1);
    for (let i = 0, c = 0; i < train.numItems; i++) {
      if (train.candidates[i]) {
        this.itemOf[c] = i;
        this.compactItem[i] = c++;
      }
    }
    this.compactUser = new Int32Array(train.numUsers).fill(-1);
    let m = 0;
    for (let u = 0; u < train.numUsers; u++) if (train.userItems.offsets[u + 1] > train.userItems.offsets[u]) this.compactUser[u] = m++;
    const solver = this.solver === 'auto' ? (m < n ? 'dual' : 'primal') : this.solver;
    if (solver === 'primal') await this.fitPrimal(train, options);
    else await this.fitDual(train, m, options);
  }

  private async fitPrimal(train: TrainMatrix, options: FitOptions): Promise<void> {
    const n = this.itemOf.length;
    const g = allocateDense(n);
    const { ld, data } = g;
    // Lower triangle of XᵀX + λI: one pass over each user's (sorted) items.
    const { offsets, indices } = train.userItems;
    const cols: number[] = [];
    for (let u = 0; u < train.numUsers; u++) {
      cols.length = 0;
      for (let p = offsets[u]; p < offsets[u + 1]; p++) cols.push(this.compactItem[indices[p]]);
      for (let a = 0; a < cols.length; a++) {
        const row = cols[a] * ld;
        for (let b = 0; b <= a; b++) data[row + cols[b]] += 1;
      }
    }
    for (let i = 0; i < n; i++) data[i * ld + i] += this.lambda;
    const invert = await invertSpd(g, { threads: this.threads, onProgress: options.onProgress });
    // B_ij = −P_ij / P_jj, B_ii = 0 (rows contiguous).
    const d = new Float64Array(n);
    for (let j = 0; j < n; j++) d[j] = -1 / data[j * ld + j];
    for (let i = 0; i < n; i++) {
      const row = i * ld;
      for (let j = 0; j < n; j++) data[row + j] *= d[j];
      data[row + i] = 0;
    }
    this.matrix = g;
    this.stats = { solver: 'primal', size: n, invert };
  }

  private async fitDual(train: TrainMatrix, m: number, options: FitOptions): Promise<void> {
    const n = this.itemOf.length;
    const k = allocateDense(m);
    const { ld, data } = k;
    const { offsets, indices } = train.itemUsers;
    const rows: number[] = [];
    for (let i = 0; i < train.numItems; i++) {
      rows.length = 0;
      for (let p = offsets[i]; p < offsets[i + 1]; p++) rows.push(this.compactUser[indices[p]]);
      for (let a = 0; a < rows.length; a++) {
        const row = rows[a] * ld;
        for (let b = 0; b <= a; b++) data[row + rows[b]] += 1;
      }
    }
    for (let u = 0; u < m; u++) data[u * ld + u] += this.lambda;
    const invert = await invertSpd(k, { threads: this.threads, onProgress: options.onProgress });
    // P_ii = (1 − Σ_{v,w ∈ U(i)} K⁻¹_vw) / λ
    this.diagP = new Float64Array(n);
    for (let c = 0; c < n; c++) {
      const i = this.itemOf[c];
      let q = 0;
      for (let p = offsets[i]; p < offsets[i + 1]; p++) {
        const row = this.compactUser[indices[p]] * ld;
        for (let r = offsets[i]; r < offsets[i + 1]; r++) q += data[row + this.compactUser[indices[r]]];
      }
      this.diagP[c] = (1 - q) / this.lambda;
    }
    this.matrix = k;
    this.stats = { solver: 'dual', size: m, invert };
  }

  recommend(users: Int32Array, k: number, options: RecommendOptions): Int32Array {
    const train = this.train;
    const matrix = this.matrix;
    if (!train || !matrix || !this.stats) throw new Error('ease: recommend() before fit()');
    const { ld, data } = matrix;
    const n = this.itemOf.length;
    const itemOf = this.itemOf;
    const acc = new Float64Array(n);
    if (this.stats.solver === 'primal') {
      const { offsets, indices } = train.userItems;
      return recommendFromScores(train, users, k, options, (u, scores) => {
        acc.fill(0);
        for (let p = offsets[u]; p < offsets[u + 1]; p++) {
          const row = this.compactItem[indices[p]] * ld;
          for (let j = 0; j < n; j++) acc[j] += data[row + j];
        }
        for (let c = 0; c < n; c++) scores[itemOf[c]] = acc[c];
      });
    }
    const { offsets, indices } = train.userItems;
    const diagP = this.diagP;
    const compactUser = this.compactUser;
    const compactItem = this.compactItem;
    return recommendFromScores(train, users, k, options, (u, scores) => {
      scores.fill(0);
      const cu = compactUser[u];
      if (cu < 0) return;
      const row = cu * ld;
      // y = Σ_v K⁻¹_uv x_v
      for (let v = 0; v < train.numUsers; v++) {
        const cv = compactUser[v];
        if (cv < 0) continue;
        const w = data[row + cv];
        for (let p = offsets[v]; p < offsets[v + 1]; p++) scores[indices[p]] += w;
      }
      for (let i = 0; i < scores.length; i++) {
        const c = compactItem[i];
        scores[i] = c >= 0 ? -scores[i] / diagP[c] : 0;
      }
    });
  }
}
