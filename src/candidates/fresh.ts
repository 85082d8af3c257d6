/**
 * Fresh source: the newest posts of the platform, before they have had a chance to gather
 * engagement — the exploration pool, and with popular the feed of a user never seen before.
 * Score = recency × (1 + 2 × the user's affinity to the post's tags) × a small quality prior
 * from the author's engagement rate, so a user with history gets the new posts of their topics
 * first and a new user gets the newest posts of engaging authors.
 */
import { TagAffinityProfile } from '../features/affinity.js';
import type { Candidate, CandidateSource, FeedQuery } from '../pipeline/types.js';
import type { TopK } from '../models/top-k.js';
import { candidatesFromTopK, heapFor } from './ranked.js';

export interface FreshOptions {
  /** Posts older than this (ms) are not fresh; 0 = no catalogue ages: the source is off. */
  maxPostAge: number;
  recencyHalfLife: number;
  /** Newest posts scanned per request. */
  scan?: number;
}

export class FreshSource implements CandidateSource {
  readonly name = 'fresh';
  private top: TopK | undefined;
  private readonly quality = new Map<number, number>();

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
    if (budget <= 0) return [];
    const top = (this.top = heapFor(this.top, budget));
    // Author quality once per author per request (many fresh posts share authors).
    const quality = this.quality;
    quality.clear();
    const decay = Math.LN2 / recencyHalfLife;
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
      let authorQuality = 1;
      if (author >= 0 && impressionType >= 0) {
        const known = quality.get(author);
        if (known !== undefined) authorQuality = known;
        else {
          const engaged = state.authorCounts.get(author, 0, state.ENGAGED, longest, q.now);
          const shown = state.authorCounts.get(author, 0, impressionType, longest, q.now);
          authorQuality = 0.5 + (engaged + 1) / (Math.max(shown, engaged) + 20);
          quality.set(author, authorQuality);
        }
      }
      const recency = Math.exp(-age * decay);
      top.push(item, recency * (1 + 2 * profile.affinity(state.tags(item))) * authorQuality);
    });
    return candidatesFromTopK(top, this.name, q);
  }
}
