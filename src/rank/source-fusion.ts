/**
 * Source fusion: the scorer that turns the candidate sources' ranks into one score,
 *
 *   score = Σ over the sources that proposed the candidate of  w(source) / (k₀ + rank in source)
 *
 * — reciprocal-rank fusion with a weight per source. With a trained fusion model
 * (rank/fusion-training.ts, saved as `fusion.json` next to the source artifacts) the weights
 * and k₀ are learned: chosen by coordinate ascent to maximise ndcg@5k of held-out
 * engagements (each sampled user's held-out items hidden from the sources), so the fusion
 * learns which sources to trust and how deep. Without a model the weights are
 * `feed.sourceWeights` (default 1) and k₀ is `feed.fusionK`.
 */
import type { Candidate, CandidateScorer, FeedQuery } from '../pipeline/types.js';

export const FUSION_FORMAT = 'lenta.fusion.v2';

export interface FusionModelFile {
  format: typeof FUSION_FORMAT;
  /** The sources of the pipeline it was trained for, in pipeline order. */
  sources: string[];
  weights: Record<string, number>;
  k0: number;
  /** What the training measured (held-out users). */
  report: FusionReport;
}

export interface FusionReport {
  users: number;
  validationUsers: number;
  positives: number;
  k: number;
  /** recall@k of the held-out engagements among validation users: learned fusion, RRF, each source alone. */
  validation: { learned: number; rrf: number; sources: Record<string, number> };
  seconds: number;
  /** Seconds spent training the shadow sources, collecting candidates, and in the ascent. */
  phases: { shadow: number; examples: number; ascent: number };
}

export class SourceFusion implements CandidateScorer {
  readonly name = 'source_fusion';
  private model: FusionModelFile | undefined;

  constructor(
    private readonly weights: Readonly<Record<string, number>> = {},
    private readonly k0 = 60,
  ) {}

  enabled(): boolean {
    return true;
  }

  /** The trained model in use, if any. */
  get trained(): FusionModelFile | undefined {
    return this.model;
  }

  /** Uses `file` from now on (undefined: back to reciprocal-rank fusion). */
  setModel(file: FusionModelFile | undefined): void {
    if (file) validateFusionFile(file);
    this.model = file;
  }

  score(_q: FeedQuery, candidates: Candidate[]): void {
    const m = this.model;
    if (m) reciprocalRankFusion(candidates, m.weights, m.k0, 0);
    else reciprocalRankFusion(candidates, this.weights, this.k0);
  }
}

/** Score = Σ over the proposing sources of weight(source) / (k₀ + rank); `otherWeight` for sources without a weight. */
export function reciprocalRankFusion(candidates: Candidate[], weights: Readonly<Record<string, number>> = {}, k0 = 60, otherWeight = 1): void {
  for (const c of candidates) {
    let s = 0;
    for (const h of c.sources) s += (weights[h.source] ?? otherWeight) / (k0 + h.rank);
    c.score = s;
  }
}

export function validateFusionFile(file: FusionModelFile): void {
  if (file.format !== FUSION_FORMAT) throw new Error(`fusion model: format must be ${FUSION_FORMAT}, got ${String(file.format)}`);
  if (!Array.isArray(file.sources)) throw new Error('fusion model: sources must be a list');
  if (!(Number.isFinite(file.k0) && file.k0 >= 0)) throw new Error(`fusion model: k0 must be a number ≥ 0, got ${String(file.k0)}`);
  for (const [source, w] of Object.entries(file.weights ?? {})) {
    if (!(Number.isFinite(w) && w >= 0)) throw new Error(`fusion model: weights.${source} must be a number ≥ 0, got ${String(w)}`);
  }
}
