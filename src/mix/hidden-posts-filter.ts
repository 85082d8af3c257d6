/** Removes posts the user gave negative feedback on (hide, not_interested, report: `mix.hiddenPosts.types`), from the user's recent history. */
import type { Candidate, CandidateFilter, FeedQuery, FilterResult } from '../pipeline/types.js';
import { partition } from './rule.js';

export const hiddenPostsFilter: CandidateFilter = {
  name: 'hidden_posts',
  enabled: (q) => q.user >= 0 && q.mix.hiddenPosts.enabled,
  apply(q: FeedQuery, candidates: Candidate[]): FilterResult {
    const types = new Set<number>();
    for (const t of q.mix.hiddenPosts.types) {
      const code = q.state.types.code(t);
      if (code >= 0) types.add(code);
    }
    const hidden = new Set<number>();
    if (types.size > 0) q.state.history.forEachRecent(q.user, (item, type) => void (types.has(type) && hidden.add(item)));
    if (hidden.size === 0) return { kept: candidates, removed: [] };
    return partition(candidates, (c) => hidden.has(c.item));
  },
};
