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
    this.weights ??= engagementWeights(state);
    const { maxAuthors, maxPostAge, recencyHalfLife } = this.options;
    const follows = state.following.get(q.user);
    const authors: { author: number; affinity: number }[] = [];
    const model = this.model?.trained ? this.model : undefined;
    for (let k = 0; k < follows.length; k++) {
      const author = follows[k]!;
      const affinity = model ? model.predict(state, q.user, author, q.now) : authorAffinity(state, this.weights, q.user, author, q.now);
      authors.push({ author, affinity });
    }
    authors.sort((a, b) => b.affinity - a.affinity || a.author - b.author);
    if (authors.length > maxAuthors) authors.length = maxAuthors;

    const out: Candidate[] = [];
    const rateWindow = Math.min(1, state.itemCounts.windows.length - 1);
    for (const { author, affinity } of authors) {
      if (state.hidesAuthor(q.user, author)) continue;
      const strength = model ? affinity : Math.max(0.05, 1 + affinity);
      state.authorPosts.forEachRecent(author, (item) => {
        const created = state.createdAt(item);
        const age = Number.isNaN(created) ? 0 : Math.max(0, q.now - created);
        if (maxPostAge > 0 && age > maxPostAge) return;
        const recency = Math.pow(0.5, age / recencyHalfLife);
        const rate = itemEngagementRate(state, item, rateWindow, q.now);
        out.push({ item, author, inNetwork: true, sources: [], score: strength * recency * (1 + 10 * rate) });
      });
    }
    out.sort((a, b) => b.score - a.score || b.item - a.item);
    if (out.length > budget) out.length = budget;
    out.forEach((c, i) => c.sources.push({ source: this.name, score: c.score, rank: i + 1 }));
    return out;
  }
}

