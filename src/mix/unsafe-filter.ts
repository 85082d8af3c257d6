/** Removes items flagged unsafe: an attribute named in `mix.unsafe.attributes` (default `unsafe`, `nsfw`) that is `true`. */
import type { Candidate, CandidateFilter, FeedQuery, FilterResult } from '../pipeline/types.js';
import { partition } from './rule.js';

export const unsafeFilter: CandidateFilter = {
  name: 'unsafe',
  enabled: (q) => q.mix.unsafe.enabled,
  apply(q: FeedQuery, candidates: Candidate[]): FilterResult {
    const mask = q.state.flagMask(q.mix.unsafe.attributes);
    if (mask === 0) return { kept: candidates, removed: [] };
    return partition(candidates, (c) => q.state.hasFlags(c.item, mask));
  },
};
