/**
 * Runs a declared feed pipeline: sources side by side → merge by item → filters → scorers →
 * selector → side effects (after the response). Components that throw are skipped and
 * reported (fail open); every stage and component records its time and output size.
 */
import type {
  Candidate,
  CandidateFilter,
  CandidateScorer,
  CandidateSelector,
  CandidateSource,
  FeedQuery,
  PipelineResult,
  SideEffect,
  StageTiming,
} from './types.js';

export interface FeedPipelineDefinition {
  name: string;
  /** A source that has not answered this long after the stage started is dropped (fail open). */
  sourceTimeoutMs?: number;
  sources: { source: CandidateSource; budget: number }[];
  filters: CandidateFilter[];
  scorers: CandidateScorer[];
  selector: CandidateSelector;
  sideEffects: SideEffect[];
}

export class FeedPipeline {
  constructor(readonly definition: FeedPipelineDefinition) {}

  async run(q: FeedQuery): Promise<PipelineResult> {
    const { candidates: retrieved, timings, degraded } = await this.retrieve(q);
    const candidates = retrieved;
    const d = this.definition;

    // Scorers.
    for (const scorer of d.scorers) {
      if (!scorer.enabled(q)) continue;
      const start = performance.now();
      try {
        scorer.score(q, candidates);
        timings.push({ stage: 'scorer', component: scorer.name, ms: performance.now() - start, count: candidates.length });
      } catch (err) {
        degraded.push(scorer.name);
        timings.push({ stage: 'scorer', component: scorer.name, ms: performance.now() - start, count: 0, error: String(err) });
      }
    }

    const start = performance.now();
    const page = d.selector.select(q, candidates, q.limit);
    timings.push({ stage: 'selector', component: d.selector.name, ms: performance.now() - start, count: page.length });
    return { page, timings, degraded };
  }

  /**
   * The stages before scoring: sources side by side, merge by item, filters. What the scorers
   * see — also what the fusion model is trained on (rank/fusion-training.ts).
   */
  async retrieve(q: FeedQuery): Promise<{ candidates: Candidate[]; timings: StageTiming[]; degraded: string[] }> {
    const timings: StageTiming[] = [];
    const degraded: string[] = [];
    const d = this.definition;

    // Sources, concurrently; each fails open.
    const t0 = performance.now();
    const active = d.sources.filter(({ source }) => source.enabled(q));
    const timeoutMs = d.sourceTimeoutMs ?? Infinity;
    const results = await Promise.all(
      active.map(async ({ source, budget }) => {
        const start = performance.now();
        let timer: NodeJS.Timeout | undefined;
        try {
          const returned = source.fetch(q, budget);
          // A synchronous source's time is its own call; an async one's ends when it answers.
          const syncEnd = returned instanceof Promise ? undefined : performance.now();
          const fetched = Promise.resolve(returned);
          const got = Number.isFinite(timeoutMs)
            ? await Promise.race([
                fetched,
                new Promise<never>((_, reject) => {
                  timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), Math.max(0, timeoutMs - (performance.now() - t0)));
                }),
              ])
            : await fetched;
          timings.push({ stage: 'source', component: source.name, ms: (syncEnd ?? performance.now()) - start, count: got.length });
          return got;
        } catch (err) {
          degraded.push(source.name);
          timings.push({ stage: 'source', component: source.name, ms: performance.now() - start, count: 0, error: String(err) });
          return [];
        } finally {
          if (timer) clearTimeout(timer);
        }
      }),
    );
    let candidates = mergeCandidates(results);
    timings.push({ stage: 'sources', ms: performance.now() - t0, count: candidates.length });

    // Filters.
    for (const filter of d.filters) {
      if (!filter.enabled(q)) continue;
      const start = performance.now();
      try {
        const { kept, removed } = filter.apply(q, candidates);
        candidates = kept;
        timings.push({ stage: 'filter', component: filter.name, ms: performance.now() - start, count: removed.length });
      } catch (err) {
        degraded.push(filter.name);
        timings.push({ stage: 'filter', component: filter.name, ms: performance.now() - start, count: 0, error: String(err) });
      }
    }

    return { candidates, timings, degraded };
  }

  /** Runs the side effects; call after the response has been sent. */
  async afterResponse(q: FeedQuery, page: Candidate[], onError: (effect: string, err: unknown) => void): Promise<void> {
    for (const effect of this.definition.sideEffects) {
      try {
        await effect.run(q, page);
      } catch (err) {
        onError(effect.name, err);
      }
    }
  }
}

/** Merges source outputs by item, keeping every source's hit (the first sets the base fields). */
export function mergeCandidates(lists: Candidate[][]): Candidate[] {
  const byItem = new Map<number, Candidate>();
  for (const list of lists) {
    for (const c of list) {
      const existing = byItem.get(c.item);
      if (!existing) byItem.set(c.item, { ...c, sources: [...c.sources] });
      else {
        existing.sources.push(...c.sources);
        existing.inNetwork ||= c.inNetwork;
      }
    }
  }
  return [...byItem.values()];
}
