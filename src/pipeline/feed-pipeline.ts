/**
 * Runs a declared feed pipeline: sources side by side → merge by item → filters → scorers →
 * rescorers (the mixer's heuristics) → selector (the page builder) → side effects (after the
 * response). Components that throw are skipped and reported (fail open); every stage and
 * component records its time and output size. A scorer that fails is reported as
 * `rankingFailed`: the caller serves the chronological feed instead (a page in a half-ranked
 * order would look random).
 */
import type {
  Candidate,
  CandidateFilter,
  CandidateRescorer,
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
  /** The mixer's rescoring heuristics, after the scorers (each records its effect per candidate). */
  rescorers?: CandidateRescorer[];
  selector: CandidateSelector;
  sideEffects: SideEffect[];
}

/**
 * A source may say that its fetch() answers from another thread (e.g. a search in a worker):
 * the runner then starts it before the synchronous sources of the request.
 */
export interface OffThreadSource {
  readonly offThread: boolean;
}

function isOffThread(source: CandidateSource): boolean {
  return (source as Partial<OffThreadSource>).offThread === true;
}

/**
 * Whether a request fetches the sources the fusion weighs 0 (`FeedQuery.unweighted`) after all,
 * in a second round: when the others' candidates, merged and filtered, are fewer than
 * `minCandidates` (the heavy ranker's scope) — e.g. a user who follows nobody when only the
 * in-network source has weight, or a small platform. With at least that many, every candidate
 * the heavy ranker scores is one of theirs anyway (a weighted source's candidate scores above 0).
 */
export function needsUnweighted(filtered: number, minCandidates: number): boolean {
  return filtered < minCandidates;
}

export class FeedPipeline {
  constructor(readonly definition: FeedPipelineDefinition) {}

  async run(q: FeedQuery): Promise<PipelineResult> {
    const { candidates: retrieved, timings, degraded } = await this.retrieve(q);
    const candidates = retrieved;
    const d = this.definition;

    // Scorers, then the rescoring heuristics: each fails open, timed.
    const step = (stage: string, name: string, work: () => void): string | undefined => {
      const start = performance.now();
      try {
        work();
        timings.push({ stage, component: name, ms: performance.now() - start, count: candidates.length });
        return undefined;
      } catch (err) {
        degraded.push(name);
        timings.push({ stage, component: name, ms: performance.now() - start, count: 0, error: String(err) });
        return `${name}: ${String(err)}`;
      }
    };
    let rankingFailed: string | undefined;
    for (const scorer of d.scorers) {
      if (scorer.enabled(q)) rankingFailed ??= step('scorer', scorer.name, () => scorer.score(q, candidates));
    }
    if (rankingFailed) return { page: [], timings, degraded, rankingFailed };
    for (let i = 0; i < candidates.length; i++) candidates[i]!.rankScore = candidates[i]!.score;
    for (const rescorer of d.rescorers ?? []) {
      if (rescorer.enabled(q)) step('rescorer', rescorer.name, () => rescorer.rescore(q, candidates));
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

    // Sources, concurrently; each fails open. Sources that answer from another thread start
    // first, so that their work overlaps the synchronous sources'; results keep the declared order.
    const t0 = performance.now();
    const budgets = q.budgets;
    const active = (budgets ? d.sources.map(({ source, budget }) => ({ source, budget: budgets.get(source.name) ?? budget })) : d.sources).filter(
      ({ source, budget }) => budget > 0 && source.enabled(q),
    );
    const timeoutMs = d.sourceTimeoutMs ?? Infinity;
    const fetchOne = async ({ source, budget }: { source: CandidateSource; budget: number }): Promise<Candidate[]> => {
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
                // The rejection waits for the event loop's next check phase: an answer that has
                // already arrived (a worker's message, in the poll phase) is taken first, so a busy
                // main thread does not drop an off-thread source that did answer in time.
                timer = setTimeout(() => setImmediate(() => reject(new Error(`no answer within ${timeoutMs} ms`))), Math.max(0, timeoutMs - (performance.now() - t0)));
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
    };
    // The sources the light ranker weighs 0 wait for a second round, needed only when the
    // others leave fewer than the heavy ranker's scope (and not at all when no other source is
    // on for this request).
    const unweighted = q.unweighted;
    const skip = unweighted?.sources;
    const later = skip && skip.size > 0 && active.some(({ source }) => !skip.has(source.name)) ? active.filter(({ source }) => skip.has(source.name)) : [];
    const first = later.length > 0 ? active.filter(({ source }) => !skip!.has(source.name)) : active;
    const fetchAll = (list: typeof active): Promise<Candidate[][]> => {
      const order = list.map((_, i) => i);
      if (list.some(({ source }) => isOffThread(source))) order.sort((a, b) => Number(isOffThread(list[b]!.source)) - Number(isOffThread(list[a]!.source)) || a - b);
      const pending: Promise<Candidate[]>[] = new Array(list.length);
      for (const i of order) pending[i] = fetchOne(list[i]!);
      return Promise.all(pending);
    };
    const applyFilters = (candidates: Candidate[]): Candidate[] => {
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
      return candidates;
    };
    const results = await fetchAll(first);
    let merged = mergeCandidates(results);
    timings.push({ stage: 'sources', ms: performance.now() - t0, count: merged.length });
    let candidates = applyFilters(merged);
    // Fewer left than the heavy ranker's scope: the unweighted sources after all, merged with the
    // first round and filtered together (filters may read every hit of a candidate, e.g. the
    // social-proof filter its in-network flag, so the first round is filtered again).
    if (later.length > 0 && needsUnweighted(candidates.length, unweighted!.minCandidates)) {
      const t1 = performance.now();
      merged = mergeCandidates([...results, ...(await fetchAll(later))]);
      timings.push({ stage: 'sources', component: 'unweighted', ms: performance.now() - t1, count: merged.length });
      candidates = applyFilters(merged);
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

/**
 * Merges source outputs by item, keeping every source hit (the first sets the base fields).
 *
 * The lists belong to the request (sources build them per call), so a candidate proposed by one
 * source only is passed through as it is; one proposed by several is copied at its second hit
 * (its own `sources` array, so no source's list is ever changed). Most candidates come from one
 * source, so this saves an object and an array per candidate (garbage, hence GC pauses).
 */
export function mergeCandidates(lists: Candidate[][]): Candidate[] {
  // Items are dense ids: a generation-stamped slot per item (reused across calls) instead of a
  // Map; the output keeps the order in which items were first seen.
  let max = -1;
  let total = 0;
  for (const list of lists) {
    total += list.length;
    for (let k = 0; k < list.length; k++) if (list[k]!.item > max) max = list[k]!.item;
  }
  const m = merge;
  if (max >= m.stamp.length) {
    const cap = Math.max(max + 1, m.stamp.length * 2, 1024);
    m.stamp = new Uint32Array(cap);
    m.slot = new Int32Array(cap);
    m.gen = 0;
  }
  if (total > m.copied.length) m.copied = new Uint8Array(Math.max(total, 2 * m.copied.length));
  if (++m.gen === 0xffffffff) {
    m.stamp.fill(0);
    m.gen = 1;
  }
  const gen = m.gen;
  const { stamp, slot, copied } = m;
  // Sized once (at most every proposal is a new item), trimmed at the end: no regrowth garbage.
  const out: Candidate[] = new Array(total);
  let n = 0;
  let others: Map<number, number> | undefined; // slots of ids outside the dense range (negative, fractional)
  for (const list of lists) {
    for (let k = 0; k < list.length; k++) {
      const c = list[k]!;
      const item = c.item;
      let at = -1;
      if (item >= 0 && Number.isInteger(item)) {
        if (stamp[item] === gen) at = slot[item]!;
        else {
          stamp[item] = gen;
          slot[item] = n;
        }
      } else {
        others ??= new Map();
        const known = others.get(item);
        if (known === undefined) others.set(item, n);
        else at = known;
      }
      if (at < 0) {
        copied[n] = 0;
        out[n++] = c;
        continue;
      }
      const existing = out[at]!;
      if (copied[at] === 0) {
        // The second hit: a copy with both sources' hits (an exact-size array).
        out[at] = { ...existing, sources: existing.sources.concat(c.sources), inNetwork: existing.inNetwork || c.inNetwork };
        copied[at] = 1;
        continue;
      }
      for (let h = 0; h < c.sources.length; h++) existing.sources.push(c.sources[h]!);
      existing.inNetwork ||= c.inNetwork;
    }
  }
  out.length = n;
  return out;
}

const merge = { stamp: new Uint32Array(0), slot: new Int32Array(0), copied: new Uint8Array(0), gen: 0 };
