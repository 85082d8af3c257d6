/** Removes the user's own posts and posts of authors the user muted or blocked, or who blocked the user. */
import type { Candidate, CandidateFilter, FeedQuery, FilterResult } from '../pipeline/types.js';

export const authorVisibilityFilter: CandidateFilter = {
  name: 'author_visibility',
  enabled: (q) => q.user >= 0,
  apply(q: FeedQuery, candidates: Candidate[]): FilterResult {
    const kept: Candidate[] = [];
    const removed: Candidate[] = [];
    for (const c of candidates) {
      if (c.author >= 0 && (c.author === q.user || q.state.hidesAuthor(q.user, c.author))) removed.push(c);
      else kept.push(c);
    }
    return { kept, removed };
  },
};
