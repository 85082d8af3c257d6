/**
 * The request pipeline's shapes. A feed is declared as lists of components per stage —
 * candidate sources, filters, scorers, one selector, side effects — each a small interface
 * with a name and an `enabled` switch. The runner (feed-pipeline.ts) executes them, keeps a
 * component's result only when it succeeded (fail open), and records time and size per stage.
 */
import type { OnlineState } from '../state/online-state.js';

/** Everything a request knows after hydration. */
export interface FeedQuery {
  /** Dense user id, or −1 for a user the engine has never seen (cold start). */
  user: number;
  userId: string;
  limit: number;
  /** The pipeline's clock (ms). */
  now: number;
  requestId: string;
  variant: string;
  /** Items not to serve: already served in this session, seen, or excluded by the caller. */
  served: ReadonlySet<number>;
  seen: ReadonlySet<number>;
  exclude: ReadonlySet<number>;
  state: OnlineState;
}

export interface SourceHit {
  source: string;
  score: number;
  /** 1-based rank within the source. */
  rank: number;
}

export interface Candidate {
  item: number;
  author: number;
  inNetwork: boolean;
  sources: SourceHit[];
  /** Score used by the selector (set by scorers). */
  score: number;
}

export interface CandidateSource {
  readonly name: string;
  enabled(q: FeedQuery): boolean;
  /** Up to `budget` candidates, best first, each with this source's score. */
  fetch(q: FeedQuery, budget: number): Promise<Candidate[]> | Candidate[];
}

export interface FilterResult {
  kept: Candidate[];
  removed: Candidate[];
}

export interface CandidateFilter {
  readonly name: string;
  enabled(q: FeedQuery): boolean;
  apply(q: FeedQuery, candidates: Candidate[]): FilterResult;
}

export interface CandidateScorer {
  readonly name: string;
  enabled(q: FeedQuery): boolean;
  /** Sets `score` on each candidate. */
  score(q: FeedQuery, candidates: Candidate[]): void;
}

export interface CandidateSelector {
  readonly name: string;
  /** Picks and orders the page. */
  select(q: FeedQuery, candidates: Candidate[], limit: number): Candidate[];
}

/** Work after the response (impression logging, caches); failures are logged, never thrown. */
export interface SideEffect {
  readonly name: string;
  run(q: FeedQuery, page: Candidate[]): Promise<void>;
}

export interface StageTiming {
  stage: string;
  component?: string;
  ms: number;
  /** Candidates out of the stage (or removed, for filters). */
  count: number;
  error?: string;
}

export interface PipelineResult {
  page: Candidate[];
  timings: StageTiming[];
  /** Components that failed and were skipped (fail open). */
  degraded: string[];
}
