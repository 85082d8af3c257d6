/**
 * Fresh source: the newest posts of the platform, before they have had a chance to gather
 * engagement — the exploration pool, and with popular the feed of a user never seen before.
 * Score = recency × (1 + 2 × the user's affinity to the post's tags) × a small quality prior
 * from the author's engagement rate, so a user with history gets the new posts of their topics
 * first and a new user gets the newest posts of engaging authors.
 *
 * The user-independent part (recency × author quality) is computed for the newest `scan` posts
 * into a pool of the best `poolSize`, rebuilt at most every `refreshMs` of wall time, every
 * `refreshEngagements` new positive engagements (impressions do not count) or `refreshItems` new posts; a request only applies the user's tag
 * affinity and filters to the pool. (Recency is relative to the pool's clock: a later request
 * clock scales every pooled score by the same factor, so the order is unchanged.)
 */
import { TagAffinityProfile } from '../features/affinity.js';
import type { OnlineState } from '../state/online-state.js';
import type { Candidate, CandidateSource, FeedQuery } from '../pipeline/types.js';
import { TopK } from '../models/top-k.js';
import { candidatesFromTopK, heapFor, poolCurrent, poolStamp, PoolTags, servable, type PoolStamp } from './ranked.js';

export interface FreshOptions {
  /** Posts older than this (ms) are not fresh; 0 = no catalogue ages: the source is off. */
  maxPostAge: number;
  recencyHalfLife: number;
  /** Newest posts scanned per pool build. */
  scan?: number;
  poolSize?: number;
  refreshMs?: number;
  refreshEngagements?: number;
  refreshItems?: number;
}

interface Pool extends PoolStamp {
  items: Int32Array;
  base: Float64Array;
  /** The items' tags, for the per-request tag affinity. */
  tags: PoolTags;
}

export class FreshSource implements CandidateSource {
  readonly name = 'fresh';
  private top: TopK | undefined;
  private pool: Pool | undefined;

  constructor(private readonly options: FreshOptions) {}

  enabled(): boolean {
    return this.options.maxPostAge > 0;
  }

  private currentPool(state: OnlineState, now: number): Pool {
    const o = this.options;
    const limits = { refreshMs: o.refreshMs ?? 5000, refreshEngagements: o.refreshEngagements ?? 1000, refreshItems: o.refreshItems ?? 20 };
    if (!poolCurrent(this.pool, state, now, limits)) this.pool = this.build(state, now);
    return this.pool!;
  }

  private build(state: OnlineState, now: number): Pool {
    const { maxPostAge, recencyHalfLife } = this.options;
    const scan = this.options.scan ?? 5000;
    const top = new TopK(this.options.poolSize ?? 2000);
    const longest = state.authorCounts.windows.length - 1;
    const impressionType = state.impressionType;
    const quality = new Map<number, number>();
    const decay = Math.LN2 / recencyHalfLife;
    let scanned = 0;
    state.newItems.forEachRecent(0, (item) => {
      if (++scanned > scan) return false;
      const age = now - state.createdAt(item);
      if (!(age >= 0)) return; // created "after now" under a log clock: not yet visible
      if (age > maxPostAge) return false; // newest first: everything after is older
      const author = state.author(item);
      let authorQuality = 1;
      if (author >= 0 && impressionType >= 0) {
        const known = quality.get(author);
        if (known !== undefined) authorQuality = known;
        else {
          const engaged = state.authorCounts.get(author, 0, state.ENGAGED, longest, now);
          const shown = state.authorCounts.get(author, 0, impressionType, longest, now);
          authorQuality = 0.5 + (engaged + 1) / (Math.max(shown, engaged) + 20);
          quality.set(author, authorQuality);
        }
      }
      top.push(item, Math.exp(-age * decay) * authorQuality);
    });
    const n = top.drainSorted();
    const items = top.outItems.slice(0, n);
    return { items, base: top.outScores.slice(0, n), tags: new PoolTags(state, items), ...poolStamp(state, now) };
  }

  fetch(q: FeedQuery, budget: number): Candidate[] {
    if (budget <= 0) return [];
    const state = q.state;
    const pool = this.currentPool(state, q.now);
    const tags = pool.tags;
    const boost = 1 + 2 * tags.begin(new TagAffinityProfile(state, q.user, q.now), state, pool.items);
    const top = (this.top = heapFor(this.top, budget));
    const maxAge = this.options.maxPostAge;
    for (let k = 0; k < pool.items.length; k++) {
      const item = pool.items[k]!;
      // The pool is best first: once nothing this recent could enter the heap, stop.
      if (!top.accepts(0x7fffffff, pool.base[k]! * boost)) break;
      if (q.now - state.createdAt(item) > maxAge || !servable(q, item)) continue;
      top.push(item, pool.base[k]! * (1 + 2 * tags.affinity(state, k, item)));
    }
    return candidatesFromTopK(top, this.name, q);
  }
}
