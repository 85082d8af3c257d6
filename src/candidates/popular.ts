/**
 * Popular source: items with the most engagement recently (decayed counts over the one-day
 * window, smoothed by their engagement rate), fresh enough to serve, personalised lightly by
 * the user's tag affinity. The pool is recomputed from the platform's recent engagements at
 * most every `refreshMs` of wall time or every `refreshEngagements` new positive engagements (impressions do not count); it is also the
 * feed of a user the engine has never seen (cold start).
 */
import { itemEngagementRate, TagAffinityProfile } from '../features/affinity.js';
import type { OnlineState } from '../state/online-state.js';
import type { Candidate, CandidateSource, FeedQuery } from '../pipeline/types.js';
import { TopK } from '../models/top-k.js';
import { candidatesFromTopK, heapFor, poolCurrent, poolStamp, PoolTags, StampedSet, type PoolStamp } from './ranked.js';

export interface PopularOptions {
  /** 0 = no age limit and no recency decay (a catalogue rather than a stream of posts). */
  maxPostAge: number;
  /** Length of the counting window (ms): the state window closest to it is used. */
  window: number;
  recencyHalfLife: number;
  poolSize?: number;
  refreshMs?: number;
  refreshEngagements?: number;
}

interface Pool extends PoolStamp {
  items: Int32Array;
  scores: Float64Array;
  /** The items' tags, for the per-request tag affinity. */
  tags: PoolTags;
}

export class PopularSource implements CandidateSource {
  readonly name = 'popular';
  private pool: Pool | undefined;
  private top: TopK | undefined;
  private readonly visited = new StampedSet();

  constructor(private readonly options: PopularOptions) {}

  enabled(): boolean {
    return true;
  }

  /** The current pool (rebuilt when stale): items and their popularity, best first. */
  popularItems(state: OnlineState, now: number): Pool {
    const limits = { refreshMs: this.options.refreshMs ?? 5000, refreshEngagements: this.options.refreshEngagements ?? 1000, refreshItems: Infinity };
    if (!poolCurrent(this.pool, state, now, limits)) this.pool = this.build(state, now);
    return this.pool!;
  }

  private build(state: OnlineState, now: number): Pool {
    const { maxPostAge, recencyHalfLife } = this.options;
    const poolSize = this.options.poolSize ?? 3000;
    const windows = state.itemCounts.windows;
    let day = 0;
    for (let w = 1; w < windows.length; w++) if (Math.abs(Math.log(windows[w]! / this.options.window)) < Math.abs(Math.log(windows[day]! / this.options.window))) day = w;
    // Items already visited: a generation-stamped array over item ids, reused across builds
    // (the ring holds up to 100k engagements: a Set of them was megabytes of garbage per build).
    const seen = this.visited.begin(state.items);
    const top = new TopK(poolSize);
    state.recentEngagements.forEachRecent(0, (item) => {
      if (!seen.mark(item)) return;
      const created = state.createdAt(item);
      const age = Number.isNaN(created) ? 0 : Math.max(0, now - created);
      if (maxPostAge > 0 && age > maxPostAge) return;
      const engaged = state.itemCounts.get(item, 0, state.ENGAGED, day, now);
      if (engaged <= 0) return;
      const rate = itemEngagementRate(state, item, day, now);
      const recency = maxPostAge > 0 ? Math.pow(0.5, age / (4 * recencyHalfLife)) : 1;
      top.push(item, Math.log1p(engaged) * (0.5 + rate * 10) * recency);
    });
    const n = top.drainSorted();
    const items = top.outItems.slice(0, n);
    return {
      items,
      scores: top.outScores.slice(0, n),
      tags: new PoolTags(state, items),
      ...poolStamp(state, now),
    };
  }

  fetch(q: FeedQuery, budget: number): Candidate[] {
    if (budget <= 0) return [];
    const state = q.state;
    const pool = this.popularItems(state, q.now);
    const top = (this.top = heapFor(this.top, budget));
    if (q.user < 0) {
      // A new user: the pool's own order (no tag affinity to apply).
      for (let k = 0; k < Math.min(budget, pool.items.length); k++) top.push(pool.items[k]!, pool.scores[k]!);
      return candidatesFromTopK(top, this.name, q);
    }
    const tags = pool.tags;
    const maxAffinity = tags.begin(new TagAffinityProfile(state, q.user, q.now), state, pool.items);
    const boost = 1 + 2 * maxAffinity;
    for (let k = 0; k < pool.items.length; k++) {
      const item = pool.items[k]!;
      const base = pool.scores[k]!;
      // The pool is best first: once no item up to this popularity (with the largest tag
      // boost, and the largest id for ties) could enter the heap, none after it can either.
      if (!top.accepts(0x7fffffff, base * boost)) break;
      top.push(item, base * (1 + 2 * tags.affinity(state, k, item)));
    }
    return candidatesFromTopK(top, this.name, q);
  }
}
