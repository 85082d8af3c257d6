/** Multiplies out-of-network posts' scores by `mix.outOfNetwork.factor` (default 0.75): a followed account's post wins a close call. */
import type { Candidate, CandidateRescorer, FeedQuery } from '../pipeline/types.js';
import { applyFactor } from './rule.js';

export const outOfNetworkRescorer: CandidateRescorer = {
  name: 'out_of_network',
  // Only where there is a network: a catalogue (nobody follows anyone) has no in/out split.
  enabled: (q) => q.mix.outOfNetwork.enabled && q.user >= 0 && q.state.following.size(q.user) > 0,
  rescore(q: FeedQuery, candidates: Candidate[]): void {
    const f = q.mix.outOfNetwork.factor;
    for (const c of candidates) if (!c.inNetwork) applyFactor(c, 'out_of_network', f);
  },
};
