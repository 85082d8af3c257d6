/**
 * Social proof: an out-of-network post stays only when at least `mix.socialProof.minFollows` of
 * the user's follows are among its recent engagers; the kept ones record how many.
 */
import type { Candidate, CandidateFilter, FeedQuery, FilterResult } from '../pipeline/types.js';
import { noteRule, partition } from './rule.js';

export function followsEngaged(q: FeedQuery, item: number, enough: number): number {
  const state = q.state;
  let n = 0;
  state.engagers.forEachRecent(item, (engager) => {
    if (state.following.has(q.user, engager)) n++;
    return n < enough;
  });
  return n;
}

export const socialProofFilter: CandidateFilter = {
  name: 'social_proof',
  enabled: (q) => q.user >= 0 && q.mix.socialProof.enabled,
  apply(q: FeedQuery, candidates: Candidate[]): FilterResult {
    const need = q.mix.socialProof.minFollows;
    return partition(candidates, (c) => {
      if (c.inNetwork) return false;
      const n = followsEngaged(q, c.item, need);
      if (n < need) return true;
      noteRule(c, { rule: 'social_proof', follows: n });
      return false;
    });
  },
};
