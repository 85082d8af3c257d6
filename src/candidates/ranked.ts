/**
 * Turning a source's bounded top-k (models/top-k.ts) into candidates: best first, each with
 * the source's score and 1-based rank. Sources score into typed arrays and a heap, and only the
 * `budget` kept items become objects — no per-item allocation on the scanned pool.
 */
import { TopK } from '../models/top-k.js';
import type { OnlineState } from '../state/online-state.js';
import type { Candidate, FeedQuery } from '../pipeline/types.js';

/** A reusable heap of capacity `budget` (a new one when the budget changes). */
export function heapFor(current: TopK | undefined, budget: number): TopK {
  if (current && current.k === budget) {
    current.reset();
    return current;
  }
  return new TopK(budget);
}

/** The request may serve `item`: not excluded, seen or served, not the user's own post or a hidden author's. */
export function servable(q: FeedQuery, item: number): boolean {
  if (q.exclude.has(item) || q.seen.has(item) || q.served.has(item)) return false;
  const author = q.state.author(item);
  return !(author >= 0 && (author === q.user || (q.user >= 0 && q.state.hidesAuthor(q.user, author))));
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

/** When a source's shared pool (popular, fresh) was built, and its rebuild limits. */
export interface PoolStamp {
  builtAt: number;
  events: number;
  itemCount: number;
  now: number;
}

export interface PoolLimits {
  /** Wall time (ms), new events and new items after which the pool is rebuilt. */
  refreshMs: number;
  refreshEvents: number;
  refreshItems: number;
}

export function poolStamp(state: OnlineState, now: number): PoolStamp {
  return { builtAt: performance.now(), events: state.events, itemCount: state.items, now };
}

/** The pool may still serve a request at `now` (a clock more than a minute away, or going back, rebuilds it). */
export function poolCurrent(p: PoolStamp | undefined, state: OnlineState, now: number, limits: PoolLimits): boolean {
  return (
    p !== undefined &&
    performance.now() - p.builtAt < limits.refreshMs &&
    state.events - p.events < limits.refreshEvents &&
    state.items - p.itemCount < limits.refreshItems &&
    now >= p.now &&
    now - p.now < 60_000
  );
}
