/**
 * Content diversity by marginal relevance: a slot takes the candidate that maximises
 * λ·relevance − (1 − λ)·(its mean similarity to the posts already above it). The mean, not
 * classic MMR's maximum: with the maximum, once every topic has one post on the page the
 * penalty is the same for all and the page falls back to one topic; the mean keeps each topic's
 * share of the page in check. Similarity is
 * the cosine of the items' embedding factors (clamped at 0) when the embedding source has both,
 * else the Jaccard overlap of their tags; items without either are similar to nothing.
 */
import type { OnlineState } from '../state/online-state.js';

/** What gives items a vector: the embedding source (its trained item factors). */
export interface ItemVectors {
  itemVector(item: number): Float32Array | undefined;
}

export class ItemSimilarity {
  constructor(private readonly vectors?: ItemVectors) {}

  /** The unit vectors of these items, row j for items[j] (`has[j]` = 0 where an item has none). */
  unitVectors(items: readonly number[]): UnitVectors {
    const has = new Uint8Array(items.length);
    let dims = 0;
    let units = new Float32Array(0);
    if (!this.vectors) return { dims, units, has };
    for (let j = 0; j < items.length; j++) {
      const v = this.vectors.itemVector(items[j]!);
      if (!v) continue;
      let n = 0;
      for (let k = 0; k < v.length; k++) n += v[k]! * v[k]!;
      if (n === 0) continue;
      if (dims === 0) {
        dims = v.length;
        units = new Float32Array(items.length * dims);
      }
      const inv = 1 / Math.sqrt(n);
      for (let k = 0, o = j * dims; k < dims; k++) units[o + k] = v[k]! * inv;
      has[j] = 1;
    }
    return { dims, units, has };
  }

  /** Similarity of rows a and b of `u` (items ia and ib): the cosine clamped at 0 when both have vectors, else tag Jaccard. */
  similarity(state: OnlineState, u: UnitVectors, a: number, b: number, ia: number, ib: number): number {
    if (u.has[a] === 1 && u.has[b] === 1) {
      const d = u.dims;
      const x = u.units;
      let dot = 0;
      for (let k = 0, oa = a * d, ob = b * d; k < d; k++) dot += x[oa + k]! * x[ob + k]!;
      return dot > 0 ? Math.min(1, dot) : 0;
    }
    return tagJaccard(state.tags(ia), state.tags(ib));
  }
}

export interface UnitVectors {
  dims: number;
  /** Row-major unit vectors (rows without a vector are zeros). */
  units: Float32Array;
  has: Uint8Array;
}

export function tagJaccard(x: Int32Array | undefined, y: Int32Array | undefined): number {
  if (!x || !y || x.length === 0 || y.length === 0) return 0;
  if (x === y) return 1; // items with the same tag list share one array
  let common = 0;
  for (let i = 0; i < x.length; i++) for (let j = 0; j < y.length; j++) if (x[i] === y[j]) common++;
  return common / (x.length + y.length - common);
}
