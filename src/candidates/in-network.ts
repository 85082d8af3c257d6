/**
 * In-network source: recent posts of the accounts the user follows, strongest relationships
 * first. The strength of a follow is the real-graph model's probability that the user engages
 * with the author in the next day (models/affinity/real-graph.ts, trained by replay); before
 * the model is trained, a hand-weighted affinity of the user×author counters
 * (features/affinity.ts). Light score = strength × recency × (1 + engagement rate).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { authorAffinity, engagementWeights, itemEngagementRate } from '../features/affinity.js';
import { RealGraphModel, type RealGraphReport } from '../models/affinity/real-graph.js';
import { makeCandidate, type Candidate, type FeedQuery, type SourceTrainingContext, type TrainableSource } from '../pipeline/types.js';
import type { TopK } from '../models/top-k.js';
import { heapFor, keepBest, requestLookups } from './ranked.js';

export interface InNetworkOptions {
  /** Followed authors considered per request, best affinity first. */
  maxAuthors: number;
  /** Posts older than this (ms) are skipped; 0 = no limit. */
  maxPostAge: number;
  recencyHalfLife: number;
}

export class InNetworkSource implements TrainableSource {
  readonly name = 'in_network';
  private weights: Float64Array | undefined;
  private model: RealGraphModel | undefined;
  private top: TopK | undefined;
  private bestAuthors: TopK | undefined;
  private baseTop: TopK | undefined;
  private postScratch = new Int32Array(0);
  private baseScratch = new Float64Array(0);
  private authorScratch = new Int32Array(0);
  private affinityScratch = new Float64Array(0);
  /** What the last training measured (validation AUC on its last day). */
  report: RealGraphReport | undefined;

  constructor(private readonly options: InNetworkOptions) {}

  /** Trains the real-graph model by replaying the log. */
  async train(ctx: SourceTrainingContext): Promise<void> {
    const model = new RealGraphModel(ctx.state.types, ctx.state.options.windowsMs.length);
    const counts = await ctx.store.counts();
    this.report = await model.train(ctx.store, ctx.state.types, ctx.state.options, {}, (done) =>
      ctx.onProgress?.(done, counts.events + counts.edges, 'real graph'),
    );
    this.model = model.trained ? model : undefined;
  }

  async save(dir: string): Promise<void> {
    // Also saved when the log was too short to train (fewer than two days): the hand-weighted
    // affinity is then the trained state, and a restart need not replay the log again.
    const body = this.model ? { ...this.model.toJSON(), report: this.report } : { untrained: true, report: this.report };
    await writeFile(join(dir, `${this.name}.real-graph.json`), JSON.stringify(body));
  }

  async load(dir: string, ctx: SourceTrainingContext): Promise<boolean> {
    try {
      const saved = JSON.parse(await readFile(join(dir, `${this.name}.real-graph.json`), 'utf8')) as Parameters<RealGraphModel['restore']>[0] & {
        report?: RealGraphReport;
        untrained?: boolean;
      };
      if (saved.untrained) {
        this.model = undefined;
        this.report = saved.report;
        return true;
      }
      const model = new RealGraphModel(ctx.state.types, ctx.state.options.windowsMs.length);
      if (!model.restore(saved)) return false;
      this.model = model;
      this.report = saved.report;
      return true;
    } catch {
      return false;
    }
  }

  enabled(q: FeedQuery): boolean {
    return q.user >= 0 && q.state.following.size(q.user) > 0;
  }

  fetch(q: FeedQuery, budget: number): Candidate[] {
    const state = q.state;
    if (q.user < 0 || budget <= 0) return [];
    this.weights ??= engagementWeights(state);
    const { maxAuthors, maxPostAge, recencyHalfLife } = this.options;
    const follows = state.following.get(q.user);
    const model = this.model?.trained ? this.model : undefined;
    // The strongest `maxAuthors` follows (affinity desc, then author id). The order in which
    // authors are visited does not change the result (a strict best-first order over items),
    // so only a cut needs the sort.
    const authors = this.authorScratch.length >= follows.length ? this.authorScratch : (this.authorScratch = new Int32Array(Math.max(follows.length, 64)));
    const affinities = this.affinityScratch.length >= follows.length ? this.affinityScratch : (this.affinityScratch = new Float64Array(authors.length));
    // The user's hints (real-graph.ts prepare): lookups that must miss for every follow are skipped.
    const hints = model?.prepare(state, q.user);
    const lookups = requestLookups.forQuery(q);
    for (let k = 0; k < follows.length; k++) {
      const author = follows[k]!;
      authors[k] = author;
      affinities[k] = model ? model.predict(state, q.user, author, q.now, true, hints) : authorAffinity(state, this.weights, q.user, author, q.now);
    }
    const na = keepBest((this.bestAuthors = heapFor(this.bestAuthors, maxAuthors, -Infinity)), authors, affinities, follows.length);

    // Pass 1: every servable post's base score (strength × recency) into reused arrays, and the
    // `budget`-th largest base T. A post's score is base × (1 + 10 × rate) with the engagement
    // rate in (0, 1), so score ∈ [base, 11 × base]: the best `budget` scores are all ≥ T, and a
    // post with 11 × base < T cannot be among them — pass 2 skips its rate's counter lookups
    // (the costly part: two probes of the item table each), with the same result.
    const posts = state.authorPosts;
    const cap = posts.capacity;
    let np = 0;
    for (let a = 0; a < na; a++) np += posts.size(authors[a]!);
    if (this.postScratch.length < np) {
      this.postScratch = new Int32Array(Math.max(np, 2 * this.postScratch.length, 1024));
      this.baseScratch = new Float64Array(this.postScratch.length);
    }
    const postItems = this.postScratch;
    const bases = this.baseScratch;
    // With at most `budget` posts every one enters: no threshold to find.
    const baseTop = np > budget ? (this.baseTop = heapFor(this.baseTop, budget, -Infinity)) : undefined;
    np = 0;
    for (let a = 0; a < na; a++) {
      const author = authors[a]!;
      if (lookups.hides(author)) continue;
      const affinity = affinities[a]!;
      const strength = model ? affinity : Math.max(0.05, 1 + affinity);
      const size = posts.size(author);
      const items = posts.valuesOf(author);
      const at = posts.base(author);
      for (let k = 0, pos = posts.newestPos(author); k < size; k++, pos = pos === 0 ? cap - 1 : pos - 1) {
        const item = items[at + pos]!;
        // A post re-attributed to another author since it was indexed here is that author's.
        if (state.author(item) !== author) continue;
        const created = state.createdAt(item);
        const age = Number.isNaN(created) ? 0 : Math.max(0, q.now - created);
        if (maxPostAge > 0 && age > maxPostAge) continue;
        const base = strength * Math.pow(0.5, age / recencyHalfLife);
        postItems[np] = item;
        bases[np++] = base;
        baseTop?.push(item, base);
      }
    }
    const threshold = baseTop?.full ? baseTop.worstScore : -Infinity;
    baseTop?.reset();

    // Pass 2: the posts that may enter, with their engagement rate.
    const top = (this.top = heapFor(this.top, budget, -Infinity));
    const rateWindow = Math.min(1, state.itemCounts.windows.length - 1);
    for (let p = 0; p < np; p++) {
      const item = postItems[p]!;
      const bound = bases[p]! * 11;
      // Also skips what the heap, as filled so far, would reject.
      if (bound < threshold || !top.accepts(item, bound)) continue;
      const rate = itemEngagementRate(state, item, rateWindow, q.now);
      top.push(item, bases[p]! * (1 + 10 * rate));
    }
    const n = top.drainSorted();
    const out: Candidate[] = new Array(n);
    for (let r = 0; r < n; r++) {
      const item = top.outItems[r]!;
      const score = top.outScores[r]!;
      out[r] = makeCandidate(item, state.author(item), true, { source: this.name, score, rank: r + 1 }, score);
    }
    return out;
  }
}
