/**
 * Configurable multiplicative boosts (`mix.boosts`): by tag, by author (external id), by item
 * attribute that is `true` (e.g. `verified`). Factors multiply: a post with two boosted tags
 * gets both. (`rank.boosts` are additive value terms inside the score formula instead.)
 */
import type { Candidate, CandidateRescorer, FeedQuery } from '../pipeline/types.js';
import { applyFactor } from './rule.js';

export class BoostsRescorer implements CandidateRescorer {
  readonly name = 'boosts';
  /** `authorIndex`: external author id → dense user id (the store's). */
  constructor(private readonly authorIndex: (id: string) => number | undefined) {}

  enabled(q: FeedQuery): boolean {
    const b = q.mix.boosts;
    return b.enabled && (hasAny(b.tags) || hasAny(b.authors) || hasAny(b.attributes));
  }

  rescore(q: FeedQuery, candidates: Candidate[]): void {
    const b = q.mix.boosts;
    const state = q.state;
    const tags = new Map<number, number>();
    for (const [t, f] of Object.entries(b.tags)) {
      const id = state.tagIds.get(t);
      if (id !== undefined && f !== 1) tags.set(id, f);
    }
    const authors = new Map<number, number>();
    for (const [a, f] of Object.entries(b.authors)) {
      const id = this.authorIndex(a);
      if (id !== undefined && f !== 1) authors.set(id, f);
    }
    const attributes: [number, number][] = [];
    for (const [name, f] of Object.entries(b.attributes)) {
      const mask = state.flagMask([name]);
      if (mask !== 0 && f !== 1) attributes.push([mask, f]);
    }
    for (const c of candidates) {
      let f = 1;
      if (tags.size > 0) {
        const ts = state.tags(c.item);
        if (ts) for (let k = 0; k < ts.length; k++) f *= tags.get(ts[k]!) ?? 1;
      }
      if (c.author >= 0) f *= authors.get(c.author) ?? 1;
      for (const [mask, af] of attributes) if (state.hasFlags(c.item, mask)) f *= af;
      applyFactor(c, 'boost', f);
    }
  }
}

function hasAny(r: Record<string, number>): boolean {
  for (const k in r) if (r[k] !== 1) return true;
  return false;
}
