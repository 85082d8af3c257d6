/**
 * The request pipeline's shapes. A feed is declared as lists of components per stage —
 * candidate sources, filters, scorers, one selector, side effects — each a small interface
 * with a name and an `enabled` switch. The runner (feed-pipeline.ts) executes them, keeps a
 * component's result only when it succeeded (fail open), and records time and size per stage.
 */
import type { Config } from '../domain/config.js';
import type { OnlineState } from '../state/online-state.js';
import type { ScoreTerms } from '../rank/score-formula.js';
import type { ItemRecord, LogChunk, Store } from '../store/store.js';

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
  /** The mixer's rules for this request (the config's `mix`, or the request's experiment variant's). */
  mix: Config['mix'];
  /** The feed settings of this request (the config's `feed`, or its variant's). */
  feed: Config['feed'];
  /** The score formula of this request's variant, when it differs from the ranker's own. */
  terms?: ScoreTerms;
  /** Budget per source name for this request's variant, when it differs from the pipeline's. */
  budgets?: ReadonlyMap<string, number>;
  /**
   * Sources the light ranker (the learned fusion) gives no weight (`feed.fusion.skipUnweighted`):
   * fetched only when the weighted ones leave fewer than `minCandidates` candidates after the
   * filters (the heavy ranker's `rank.maxCandidates`: with at least that many weighted
   * candidates, which all score above 0, none of theirs could enter the heavy ranker's scope).
   */
  unweighted?: { sources: ReadonlySet<string>; minCandidates: number };
  /**
   * false: the response leaves explanations out (`?explain=false`), so the stages skip the work
   * that only explanations use (the heavy ranker's per-head probabilities). Default true.
   */
  explain?: boolean;
  /**
   * The heavy ranker's budget for this request instead of `rank.maxCandidates` (the overload
   * protection's steps, `feed.overload`): it scores the light ranker's best this many; 0 skips
   * it (the light ranker orders the page). Undefined: the configured budget.
   */
  maxCandidates?: number;
}

/** What a mixer rule did to a candidate: its score multiplied by `factor`, or its position moved; shown in explanations. */
export interface RuleEffect {
  rule: string;
  factor?: number;
  [detail: string]: unknown;
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
  /** 1-based position in the light ranker's order (set before the heavy ranker's features). */
  lightRank?: number;
  /**
   * Training rows only: the 0-based slot the post was shown in (NaN: unknown). Unset when
   * serving, where the heavy ranker predicts the reactions to a post shown at the top.
   */
  position?: number;
  /** The heavy ranker's calibrated probability per head (engaged, like, reply, …), when it scored the candidate. */
  predicted?: Record<string, number>;
  /** The heavy ranker's cascade (rank.cascade) scored it with its first pass only: the score and the probabilities of the heads it weighs are that pass's. */
  firstPass?: boolean;
  /** The score of the scorers (the weighted score), before the mixer's rules changed `score`. */
  rankScore?: number;
  /** The mixer's rules that changed this candidate's score or position (explanations). */
  rules?: RuleEffect[];
  /** Probability that the serving policy put this item in its slot (set by the page builder; logged with the impression). */
  propensity?: number;
}

/**
 * A new candidate with one source hit. Every candidate is made here, with all of its fields
 * (optional ones undefined), so that all share one object shape: stages that set a field later
 * (lightRank, predicted) then write in place instead of changing each object's hidden class —
 * measured at ~0.4 ms per request of 1,334 candidates (CPU profile of the ranker bench) when the
 * shapes differed.
 */
export function makeCandidate(item: number, author: number, inNetwork: boolean, hit: SourceHit | undefined, score: number): Candidate {
  return {
    item,
    author,
    inNetwork,
    sources: hit ? [hit] : [],
    score,
    lightRank: undefined,
    position: undefined,
    predicted: undefined,
    firstPass: undefined,
    rankScore: undefined,
    rules: undefined,
    propensity: undefined,
  };
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

/**
 * A rescoring heuristic of the mixer, after the rankers: multiplies scores (author fatigue,
 * out-of-network, boosts) and records what it did in each candidate's `rules`.
 */
export interface CandidateRescorer {
  readonly name: string;
  enabled(q: FeedQuery): boolean;
  rescore(q: FeedQuery, candidates: Candidate[]): void;
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
  /** Set when a scorer failed: the page is empty and the caller falls back (to the chronological feed). */
  rankingFailed?: string;
}

/** What a source's batch job gets: the state folded so far, the store (the log), the clock. */
export interface SourceTrainingContext {
  state: OnlineState;
  store: Store;
  /** The pipeline's clock at training time (ms). */
  now: number;
  onProgress?: (done: number, total: number, note?: string) => void;
}

/**
 * A source with a batch-trained index (embeddings, communities, co-engagement graphs).
 * `lenta train candidates` calls train() and save(); `serve` calls load() (and trains when
 * nothing was saved); update() keeps the index fresh between trainings where it can.
 */
export interface TrainableSource extends CandidateSource {
  train(ctx: SourceTrainingContext): Promise<void>;
  /** Writes the index as files in `dir` (file names start with the source's name). */
  save(dir: string): Promise<void>;
  /** Reads the index from `dir`; false when there is nothing saved (or it does not fit the state). */
  load(dir: string, ctx: SourceTrainingContext): Promise<boolean>;
  /** Online update after each applied batch (items, then log rows). */
  update?(state: OnlineState, items: readonly ItemRecord[], chunk: LogChunk): void;
}

export function isTrainable(source: CandidateSource): source is TrainableSource {
  return typeof (source as Partial<TrainableSource>).train === 'function';
}
