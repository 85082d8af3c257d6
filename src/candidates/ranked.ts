/**
 * Turning a source's bounded top-k (models/top-k.ts) into candidates: best first, each with
 * the source's score and 1-based rank. Sources score into typed arrays and a heap, and only the
 * `budget` kept items become objects — no per-item allocation on the scanned pool.
 */
import { TopK } from '../models/top-k.js';
import type { Candidate, FeedQuery } from '../pipeline/types.js';

/** A reusable heap of capacity `budget` (a new one when the budget changes). */
export function heapFor(current: TopK | undefined, budget: number): TopK {
  if (current && current.k === budget) {
    current.reset();
    return current;
  }
  return new TopK(budget);
}

export function candidatesFromTopK(top: TopK, source: string, q: FeedQuery): Candidate[] {
  const n = top.drainSorted();
  const state = q.state;
  const out: Candidate[] = new Array(n);
  for (let r = 0; r < n; r++) {
    const item = top.outItems[r]!;
    const score = top.outScores[r]!;
    const author = state.author(item);
    out[r] = { item, author, inNetwork: q.user >= 0 && author >= 0 && state.following.has(q.user, author), sources: [{ source, score, rank: r + 1 }], score };
  }
  return out;
}
