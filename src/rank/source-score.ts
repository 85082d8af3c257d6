/**
 * The first ranker: puts the sources' light scores on one scale. Each source's scores are
 * divided by that source's best score in this request, and a candidate found by several
 * sources keeps its best normalised score plus a small bonus per extra source.
 */
import type { Candidate, CandidateScorer } from '../pipeline/types.js';

export const sourceScoreScorer: CandidateScorer = {
  name: 'source_score',
  enabled: () => true,
  score(_q, candidates: Candidate[]): void {
    const best = new Map<string, number>();
    for (const c of candidates) {
      for (const h of c.sources) best.set(h.source, Math.max(best.get(h.source) ?? 0, h.score));
    }
    for (const c of candidates) {
      let top = 0;
      for (const h of c.sources) {
        const b = best.get(h.source) ?? 0;
        const s = b > 0 ? h.score / b : 0;
        if (s > top) top = s;
      }
      c.score = top * (1 + 0.1 * (c.sources.length - 1));
    }
  },
};
