/**
 * In-network source: recent posts of the accounts the user follows, strongest relationships
 * first. Light score = (1 + affinity) × recency × (1 + engagement rate), where affinity comes
 * from the user×author counters (features/affinity.ts).
 */
import { authorAffinity, engagementWeights, itemEngagementRate } from '../features/affinity.js';
import type { OnlineState } from '../state/online-state.js';
import type { Candidate, CandidateSource, FeedQuery } from '../pipeline/types.js';

export interface InNetworkOptions {
  /** Followed authors considered per request, best affinity first. */
  maxAuthors: number;
  /** Posts older than this (ms) are skipped; 0 = no limit. */
  maxPostAge: number;
  recencyHalfLife: number;
}

export class InNetworkSource implements CandidateSource {
  readonly name = 'in_network';
  private weights: Float64Array | undefined;

  constructor(private readonly options: InNetworkOptions) {}

  enabled(q: FeedQuery): boolean {
    return q.user >= 0 && q.state.following.size(q.user) > 0;
  }

  fetch(q: FeedQuery, budget: number): Candidate[] {
    const state = q.state;
    this.weights ??= engagementWeights(state);
    const { maxAuthors, maxPostAge, recencyHalfLife } = this.options;
    const follows = state.following.get(q.user);
    const authors: { author: number; affinity: number }[] = [];
    for (let k = 0; k < follows.length; k++) {
      authors.push({ author: follows[k], affinity: authorAffinity(state, this.weights, q.user, follows[k], q.now) });
    }
    authors.sort((a, b) => b.affinity - a.affinity || a.author - b.author);
    if (authors.length > maxAuthors) authors.length = maxAuthors;

    const out: Candidate[] = [];
    const rateWindow = Math.min(1, state.itemCounts.windows.length - 1);
    for (const { author, affinity } of authors) {
      if (state.hidesAuthor(q.user, author)) continue;
      const strength = Math.max(0.05, 1 + affinity);
      state.authorPosts.forEachRecent(author, (item) => {
        const created = state.createdAt(item);
        const age = Number.isNaN(created) ? 0 : Math.max(0, q.now - created);
        if (maxPostAge > 0 && age > maxPostAge) return;
        const recency = Math.pow(0.5, age / recencyHalfLife);
        const rate = itemEngagementRate(state, item, rateWindow, q.now);
        out.push({ item, author, inNetwork: true, sources: [], score: strength * recency * (1 + 10 * rate) });
      });
    }
    out.sort((a, b) => b.score - a.score || b.item - a.item);
    if (out.length > budget) out.length = budget;
    out.forEach((c, i) => c.sources.push({ source: this.name, score: c.score, rank: i + 1 }));
    return out;
  }
}
