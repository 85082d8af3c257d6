/** Removes items the user has already been shown (impressions), served earlier in this session, or excluded by the caller. */
import type { Candidate, CandidateFilter, FeedQuery, FilterResult } from '../pipeline/types.js';

export const seenFilter: CandidateFilter = {
  name: 'seen',
  enabled: () => true,
  apply(q: FeedQuery, candidates: Candidate[]): FilterResult {
    const kept: Candidate[] = [];
    const removed: Candidate[] = [];
    for (const c of candidates) {
      if (q.served.has(c.item) || q.seen.has(c.item) || q.exclude.has(c.item)) removed.push(c);
      else kept.push(c);
    }
    return { kept, removed };
  },
};
