/**
 * Fresh source: the newest posts of the platform, before they have had a chance to gather
 * engagement — the exploration pool, and with popular the feed of a user never seen before.
 * Score = recency × (1 + 2 × the user's affinity to the post's tags) × a small quality prior
 * from the author's engagement rate, so a user with history gets the new posts of their topics
 * first and a new user gets the newest posts of engaging authors.
 */
import { TagAffinityProfile } from '../features/affinity.js';
import type { Candidate, CandidateSource, FeedQuery } from '../pipeline/types.js';

export interface FreshOptions {
  /** Posts older than this (ms) are not fresh; 0 = no catalogue ages: the source is off. */
  maxPostAge: number;
  recencyHalfLife: number;
  /** Newest posts scanned per request. */
  scan?: number;
}

export class FreshSource implements CandidateSource {
  readonly name = 'fresh';

  constructor(private readonly options: FreshOptions) {}

  enabled(): boolean {
    return this.options.maxPostAge > 0;
  }

  fetch(q: FeedQuery, budget: number): Candidate[] {
    const state = q.state;
    const { maxPostAge, recencyHalfLife } = this.options;
    const scan = this.options.scan ?? 5000;
    const profile = new TagAffinityProfile(state, q.user, q.now);
    const longest = state.authorCounts.windows.length - 1;
    const impressionType = state.impressionType;
    const out: Candidate[] = [];
    let scanned = 0;
    state.newItems.forEachRecent(0, (item) => {
      if (++scanned > scan) return false;
      const created = state.createdAt(item);
      const age = q.now - created;
      if (!(age >= 0)) return; // created "after now" under a log clock: not yet visible
      if (age > maxPostAge) return false; // newest first: everything after is older
      if (q.exclude.has(item) || q.seen.has(item) || q.served.has(item)) return;
      const author = state.author(item);
      if (author === q.user) return;
      let quality = 1;
      if (author >= 0 && impressionType >= 0) {
        const engaged = state.authorCounts.get(author, 0, state.ENGAGED, longest, q.now);
        const shown = state.authorCounts.get(author, 0, impressionType, longest, q.now);
        quality = 0.5 + (engaged + 1) / (Math.max(shown, engaged) + 20);
      }
      const recency = Math.pow(0.5, age / recencyHalfLife);
      const inNetwork = q.user >= 0 && author >= 0 && state.following.has(q.user, author);
      out.push({ item, author, inNetwork, sources: [], score: recency * (1 + 2 * profile.affinity(state.tags(item))) * quality });
    });
    out.sort((a, b) => b.score - a.score || b.item - a.item);
    if (out.length > budget) out.length = budget;
    out.forEach((c, i) => c.sources.push({ source: this.name, score: c.score, rank: i + 1 }));
    return out;
  }
}
