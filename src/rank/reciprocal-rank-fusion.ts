/**
 * The first ranker: reciprocal-rank fusion of the candidate sources. A candidate's score is
 * Σ over the sources that proposed it of weight(source) / (k₀ + rank in that source), so a
 * post several sources agree on rises, and no source's score scale dominates another's.
 * Weights default to 1 (configurable per source, `feed.sourceWeights`).
 */
import type { Candidate, CandidateScorer } from '../pipeline/types.js';

export class ReciprocalRankFusion implements CandidateScorer {
  readonly name = 'reciprocal_rank_fusion';

  constructor(
    private readonly weights: Readonly<Record<string, number>> = {},
    private readonly k0 = 60,
  ) {}

  enabled(): boolean {
    return true;
  }

  score(_q: unknown, candidates: Candidate[]): void {
    for (const c of candidates) {
      let s = 0;
      for (const h of c.sources) s += (this.weights[h.source] ?? 1) / (this.k0 + h.rank);
      c.score = s;
    }
  }
}
