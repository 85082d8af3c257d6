/**
 * New-author boost: posts by authors whose posts have been shown fewer than `maxImpressions`
 * times (decayed impressions over the state's longest window) are multiplied by `factor`, so
 * that a new creator gets a first audience. Off by default (`mix.newAuthors.enabled`).
 */
import type { Candidate, CandidateRescorer, FeedQuery } from '../pipeline/types.js';
import { applyFactor } from './rule.js';

export const newAuthorsRescorer: CandidateRescorer = {
  name: 'new_authors',
  enabled: (q) => q.mix.newAuthors.enabled && q.mix.newAuthors.factor !== 1 && q.state.impressionType >= 0,
  rescore(q: FeedQuery, candidates: Candidate[]): void {
    const s = q.mix.newAuthors;
    const state = q.state;
    const longest = state.options.windowsMs.length - 1;
    const shown = new Map<number, number>();
    for (const c of candidates) {
      if (c.author < 0) continue;
      let n = shown.get(c.author);
      if (n === undefined) shown.set(c.author, (n = state.authorCounts.get(c.author, 0, state.impressionType, longest, q.now)));
      if (n < s.maxImpressions) applyFactor(c, 'new_author', s.factor, { impressions: Math.round(n) });
    }
  },
};
