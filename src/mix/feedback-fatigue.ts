/**
 * Feedback fatigue: after the user says "not interested" (or hides, reports: `types`) about an
 * author's post, that author is filtered for `filterMs`, then comes back with a multiplier
 * rising linearly from 0 to 1 over `recoverMs`. The time of the user's last such event per
 * author is the user×author counters' last update (the state keeps it per type).
 *
 * Two components: the filter (before ranking: nothing is scored for a filtered author) and the
 * rescorer (after ranking: the recovering multiplier).
 */
import type { Candidate, CandidateFilter, CandidateRescorer, FeedQuery, FilterResult } from '../pipeline/types.js';
import { applyFactor, partition } from './rule.js';

/**
 * The factors the filter worked out, for the rescorer of the same request (its candidates are
 * a subset of the filter's: every author is in the map already).
 */
const perRequest = new WeakMap<FeedQuery, Map<number, number>>();

/** Per author: the multiplier now (0 = filtered, 1 = no fatigue). */
export function fatigueFactors(q: FeedQuery, candidates: readonly Candidate[]): Map<number, number> {
  const known = perRequest.get(q);
  if (known && candidates.every((c) => c.author < 0 || known.has(c.author))) return known;
  const out = computeFactors(q, candidates);
  perRequest.set(q, out);
  return out;
}

function computeFactors(q: FeedQuery, candidates: readonly Candidate[]): Map<number, number> {
  const s = q.mix.feedbackFatigue;
  const codes: number[] = [];
  for (const t of s.types) {
    const code = q.state.types.code(t);
    if (code >= 0) codes.push(code);
  }
  const out = new Map<number, number>();
  if (codes.length === 0) return out;
  // Most users never said any of this: their own counters tell at once (no per-author lookups).
  let last = -Infinity;
  for (const code of codes) last = Math.max(last, q.state.userCounts.lastUpdate(q.user, 0, code));
  if (last === -Infinity || q.now - last >= s.filterMs + s.recoverMs) return out;
  const counts = q.state.userAuthorCounts;
  for (const c of candidates) {
    if (c.author < 0 || out.has(c.author)) continue;
    let last = -Infinity;
    for (const code of codes) last = Math.max(last, counts.lastUpdate(q.user, c.author, code));
    let factor = 1;
    if (last > -Infinity) {
      const elapsed = q.now - last;
      if (elapsed < s.filterMs) factor = 0;
      else if (elapsed < s.filterMs + s.recoverMs) factor = (elapsed - s.filterMs) / s.recoverMs;
    }
    out.set(c.author, factor);
  }
  return out;
}

const enabled = (q: FeedQuery) => q.user >= 0 && q.mix.feedbackFatigue.enabled;

export const feedbackFatigueFilter: CandidateFilter = {
  name: 'feedback_fatigue',
  enabled,
  apply(q: FeedQuery, candidates: Candidate[]): FilterResult {
    const factors = fatigueFactors(q, candidates);
    return partition(candidates, (c) => factors.get(c.author) === 0);
  },
};

export const feedbackFatigueRescorer: CandidateRescorer = {
  name: 'feedback_fatigue',
  enabled,
  rescore(q: FeedQuery, candidates: Candidate[]): void {
    const factors = fatigueFactors(q, candidates);
    for (const c of candidates) {
      const f = factors.get(c.author);
      if (f !== undefined && f < 1) applyFactor(c, 'feedback_fatigue', f);
    }
  },
};
