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
import type { Candidate, FeedQuery, SourceTrainingContext, TrainableSource } from '../pipeline/types.js';
import type { TopK } from '../models/top-k.js';
import { heapFor } from './ranked.js';

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
    let authors = this.authorScratch.length >= follows.length ? this.authorScratch : (this.authorScratch = new Int32Array(Math.max(follows.length, 64)));
    let affinities = this.affinityScratch.length >= follows.length ? this.affinityScratch : (this.affinityScratch = new Float64Array(authors.length));
    for (let k = 0; k < follows.length; k++) {
      const author = follows[k]!;
      authors[k] = author;
      affinities[k] = model ? model.predict(state, q.user, author, q.now) : authorAffinity(state, this.weights, q.user, author, q.now);
    }
    let na = follows.length;
    if (na > maxAuthors) {
      const order = Array.from({ length: na }, (_, k) => k);
      order.sort((a, b) => affinities[b]! - affinities[a]! || authors[a]! - authors[b]!);
      order.length = maxAuthors;
      authors = Int32Array.from(order, (k) => authors[k]!);
      affinities = Float64Array.from(order, (k) => affinities[k]!);
      na = maxAuthors;
    }

    const top = (this.top = heapFor(this.top, budget, -Infinity));
    const rateWindow = Math.min(1, state.itemCounts.windows.length - 1);
    const posts = state.authorPosts;
    const cap = posts.capacity;
    for (let a = 0; a < na; a++) {
      const author = authors[a]!;
      if (state.hidesAuthor(q.user, author)) continue;
      const affinity = affinities[a]!;
      const strength = model ? affinity : Math.max(0.05, 1 + affinity);
      const size = posts.size(author);
      const items = posts.valuesOf(author);
      for (let k = 0, pos = posts.newestPos(author); k < size; k++, pos = pos === 0 ? cap - 1 : pos - 1) {
        const item = items[pos]!;
        // A post re-attributed to another author since it was indexed here is that author's.
        if (state.author(item) !== author) continue;
        const created = state.createdAt(item);
        const age = Number.isNaN(created) ? 0 : Math.max(0, q.now - created);
        if (maxPostAge > 0 && age > maxPostAge) continue;
        const base = strength * Math.pow(0.5, age / recencyHalfLife);
        // The engagement rate is in [0, 1], so 11 × base bounds the score: posts that could not
        // enter the heap skip the rate's counter lookups.
        if (!top.accepts(item, base * 11)) continue;
        const rate = itemEngagementRate(state, item, rateWindow, q.now);
        top.push(item, base * (1 + 10 * rate));
      }
    }
    const n = top.drainSorted();
    const out: Candidate[] = new Array(n);
    for (let r = 0; r < n; r++) {
      const item = top.outItems[r]!;
      const score = top.outScores[r]!;
      out[r] = { item, author: state.author(item), inNetwork: true, sources: [{ source: this.name, score, rank: r + 1 }], score };
    }
    return out;
  }
}
