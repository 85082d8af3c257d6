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

  /** The unit vectors of these items (undefined where an item has none), to pass to `similarity`. */
  unitVectors(items: readonly number[]): (Float32Array | undefined)[] {
    return items.map((i) => {
      const v = this.vectors?.itemVector(i);
      if (!v) return undefined;
      let n = 0;
      for (let k = 0; k < v.length; k++) n += v[k]! * v[k]!;
      if (n === 0) return undefined;
      const inv = 1 / Math.sqrt(n);
      const out = new Float32Array(v.length);
      for (let k = 0; k < v.length; k++) out[k] = v[k]! * inv;
      return out;
    });
  }

  similarity(state: OnlineState, a: number, b: number, va: Float32Array | undefined, vb: Float32Array | undefined): number {
    if (va && vb) {
      let dot = 0;
      for (let k = 0; k < va.length; k++) dot += va[k]! * vb[k]!;
      return dot > 0 ? Math.min(1, dot) : 0;
    }
    return tagJaccard(state.tags(a), state.tags(b));
  }
}

export function tagJaccard(x: Int32Array | undefined, y: Int32Array | undefined): number {
  if (!x || !y || x.length === 0 || y.length === 0) return 0;
  if (x === y) return 1; // items with the same tag list share one array
  let common = 0;
  for (let i = 0; i < x.length; i++) for (let j = 0; j < y.length; j++) if (x[i] === y[j]) common++;
  return common / (x.length + y.length - common);
}
