/**
 * Item-based k-nearest-neighbours with cosine similarity over the binary training user–item
 * matrix X: sim(i, j) = |U_i ∩ U_j| / √(|U_i|·|U_j|), and score(u, i) = Σ_{j ∈ I(u)} sim(i, j).
 *
 * With all neighbours (`neighbors = 0`, the default) the item–item matrix is never built:
 *   score(u, i) = (1/√|U_i|) · Σ_v x_vi · w_v,   w_v = Σ_{j ∈ I(u) ∩ I(v)} 1/√|U_j|
 * i.e. one pass over the users of u's items (to get w) and one over the items of the users
 * with w_v ≠ 0 — exact, in O(Σ_{j∈I(u)} |U_j| + Σ_{v: w_v≠0} |I(v)|) per user.
 *
 * With `neighbors = k > 0` each item keeps only its k most similar items (ties as in
 * rankings, see compareRanked), stored as CSR, and score(u, i) = Σ_{j ∈ I(u)} sim_k(j → i): the neighbourhoods of
 * the items the user interacted with vote for their neighbours.
 */
import { compareRanked, recommendFromScores, type Recommender, type RecommendOptions, type TrainMatrix } from '../../eval/recommender.js';
import type { Csr } from '../csr.js';

export interface ItemKnnOptions {
  /** Neighbours kept per item; 0 = all (exact full cosine). */
  neighbors?: number;
}

export class ItemKnnRecommender implements Recommender {
  readonly name = 'itemknn';
  private readonly neighbors: number;
  private train?: TrainMatrix;
  private invNorm = new Float64Array(0);
  private sims?: Csr;

  constructor(options: ItemKnnOptions = {}) {
    this.neighbors = options.neighbors ?? 0;
  }

  fit(train: TrainMatrix, options: { onProgress?: (done: number, total: number) => void } = {}): void {
    this.train = train;
    const n = train.numItems;
    this.invNorm = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const c = train.itemCounts[i];
      this.invNorm[i] = c > 0 ? 1 / Math.sqrt(c) : 0;
    }
    if (this.neighbors > 0) this.sims = this.buildNeighbors(train, options.onProgress);
  }

  /** Top-k cosine neighbours of every item, from co-occurrence counts. */
  private buildNeighbors(train: TrainMatrix, onProgress?: (done: number, total: number) => void): Csr {
    const n = train.numItems;
    const k = this.neighbors;
    const { offsets: io, indices: iu } = train.itemUsers;
    const { offsets: uo, indices: ui } = train.userItems;
    const co = new Float64Array(n);
    const touched = new Int32Array(n);
    const offsets = new Int32Array(n + 1);
    const idx: number[] = [];
    const val: number[] = [];
    const candI: number[] = [];
    for (let i = 0; i < n; i++) {
      let t = 0;
      for (let p = io[i]; p < io[i + 1]; p++) {
        const v = iu[p];
        for (let q = uo[v]; q < uo[v + 1]; q++) {
          const j = ui[q];
          if (j === i) continue;
          if (co[j] === 0) touched[t++] = j;
          co[j] += 1;
        }
      }
      candI.length = 0;
      for (let s = 0; s < t; s++) candI.push(touched[s]);
      const ni = this.invNorm[i];
      candI.sort((a, b) => compareRanked(co[a] * this.invNorm[a], a, co[b] * this.invNorm[b], b));
      const keep = Math.min(k, candI.length);
      const kept = candI.slice(0, keep).sort((a, b) => a - b);
      for (const j of kept) {
        idx.push(j);
        val.push(co[j] * ni * this.invNorm[j]);
      }
      for (let s = 0; s < t; s++) co[touched[s]] = 0;
      offsets[i + 1] = idx.length;
      if (onProgress && (i & 1023) === 1023) onProgress(i + 1, n);
    }
    return { rows: n, cols: n, offsets, indices: Int32Array.from(idx), values: Float64Array.from(val) };
  }

  recommend(users: Int32Array, k: number, options: RecommendOptions): Int32Array {
    const train = this.train;
    if (!train) throw new Error('itemknn: recommend() before fit()');
    const { offsets: io, indices: iu } = train.itemUsers;
    const { offsets: uo, indices: ui } = train.userItems;
    const invNorm = this.invNorm;
    const sims = this.sims;
    const w = new Float64Array(train.numUsers);
    const touchedUsers = new Int32Array(train.numUsers);
    return recommendFromScores(train, users, k, options, (u, scores) => {
      scores.fill(0);
      if (sims) {
        for (let p = uo[u]; p < uo[u + 1]; p++) {
          const j = ui[p];
          for (let q = sims.offsets[j]; q < sims.offsets[j + 1]; q++) scores[sims.indices[q]] += sims.values[q];
        }
        return;
      }
      let t = 0;
      for (let p = uo[u]; p < uo[u + 1]; p++) {
        const j = ui[p];
        const wj = invNorm[j];
        for (let q = io[j]; q < io[j + 1]; q++) {
          const v = iu[q];
          if (w[v] === 0) touchedUsers[t++] = v;
          w[v] += wj;
        }
      }
      for (let s = 0; s < t; s++) {
        const v = touchedUsers[s];
        const wv = w[v];
        for (let q = uo[v]; q < uo[v + 1]; q++) scores[ui[q]] += wv;
        w[v] = 0;
      }
      for (let i = 0; i < scores.length; i++) scores[i] *= invNorm[i];
    });
  }
}
