/** Removes posts older than `mix.maxAge.maxAgeMs` (default `feed.maxPostAge`; 0 = no limit). Posts of unknown age stay. */
import type { Candidate, CandidateFilter, FeedQuery, FilterResult } from '../pipeline/types.js';
import { partition } from './rule.js';

function maxAge(q: FeedQuery): number {
  return q.mix.maxAge.maxAgeMs ?? q.feed.maxPostAge;
}

export const maxAgeFilter: CandidateFilter = {
  name: 'max_age',
  enabled: (q) => q.mix.maxAge.enabled && maxAge(q) > 0,
  apply(q: FeedQuery, candidates: Candidate[]): FilterResult {
    const oldest = q.now - maxAge(q);
    return partition(candidates, (c) => q.state.createdAt(c.item) < oldest);
  },
};
