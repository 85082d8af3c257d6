/**
 * The engine: the composition root that ties the store (the durable log), the online state
 * (folds over the log) and the feed pipelines together. The HTTP server, the CLI and the
 * evaluation harness all go through this one object.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './domain/config.js';
import { EventTypeRegistry } from './domain/event-types.js';
import type { Item, LogRecord } from './domain/types.js';
import { ValidationError } from './domain/validate.js';
import { createForYouPipeline } from './pipeline/for-you.js';
import type { FeedPipeline } from './pipeline/feed-pipeline.js';
import { isTrainable, makeCandidate, type Candidate, type FeedQuery, type SideEffect, type StageTiming } from './pipeline/types.js';
import type { SourceEntry } from './candidates/index.js';
import type { PopularSource } from './candidates/popular.js';
import { OnlineState } from './state/online-state.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';
import { HoldoutView } from './store/holdout-view.js';
import type { FusionModelFile, SourceFusion } from './rank/source-fusion.js';
import { fitFusion } from './rank/fusion-training.js';
import type { HeavyRanker, RankerModelFile } from './rank/heavy-ranker.js';
import { scoreTerms, keptAttributes } from './rank/score-formula.js';
import { FeatureRegistry, isFeatureProvider } from './features/registry.js';
import { collectHoldoutExamples, type HoldoutExamples, type HoldoutOptions } from './train/holdout.js';
import { trainRanker } from './train/ranker-training.js';
import { buildRankerDataset, writeRankerCsv, type RankerDataset } from './train/ranker-dataset.js';
import { emptyLogChunk, type AppendResult, type Store } from './store/store.js';
import { isReplicated } from './store/replica-store.js';
import { hydrateRelated, relatedItems, type RelatedItemView } from './discovery/related.js';
import { hydrateWhoToFollow, whoToFollow, type FollowSuggestionView } from './discovery/who-to-follow.js';
import { hydrateTrending, trendingItems, type TrendingItemView } from './discovery/trending.js';
import { resolveVariants, type VariantSettings } from './pipeline/variants.js';
import { assignVariant, HOLDOUT_VARIANT } from './experiments/assignment.js';
import type { ScoreTerms } from './rank/score-formula.js';

export interface FeedItem {
  id: string;
  authorId?: string;
  score: number;
  createdAt?: string;
  tags?: string[];
  text?: string;
  inNetwork: boolean;
  /** The candidate sources that proposed the item, with its score and rank in each (left out with `explain: false`). */
  sources?: { source: string; score: number; rank: number }[];
  /** The heavy ranker's calibrated probability per head, when it scored the item. */
  predicted?: Record<string, number>;
  /** Scored by the first pass of the heavy ranker's cascade only (rank.cascade): `weightedScore` and the probabilities of the heads it weighs are that pass's. */
  firstPass?: boolean;
  /** The rankers' score (the heavy ranker's weighted score, else the light ranker's) before the mixer's rules; `score` is after them. */
  weightedScore?: number;
  /** Every mixer rule that changed the item's score or position, e.g. `{"rule":"author_diversity","factor":0.625}`. */
  rules?: { rule: string; factor?: number; [detail: string]: unknown }[];
  /** Probability with which the serving policy put the item in its slot (exploration). */
  propensity?: number;
}

export interface FeedResponse {
  items: FeedItem[];
  nextCursor: string | null;
  requestId: string;
  degraded?: boolean;
  degradedReasons?: string[];
  /** The experiment variant that served the page (`default` outside experiments). */
  variant: string;
  timings?: StageTiming[];
}

export interface FeedRequest {
  limit?: number;
  cursor?: string;
  exclude?: string[];
  /** Serve this variant instead of the user's assigned one (a configured variant, `default`, `holdout`, `light-ranker` or `relevance-only`). */
  variant?: string;
  /** false: items without their explanations (sources, probabilities, rules): smaller and faster. Default true. */
  explain?: boolean;
  /**
   * The server's overload protection (`feed.overload`) steps this request down, for this reason:
   * the heavy ranker scores only the light ranker's best `budget` candidates instead of
   * `rank.maxCandidates` (0: none, the light ranker orders the page). The answer is degraded and
   * gives the reason; a budget that changes nothing (not below rank.maxCandidates, or no heavy
   * ranker for this request) is ignored.
   */
  overload?: { budget: number; reason: string };
}


/** Posts a feed cursor remembers (the latest): ~50 pages of 20; older ones stay excluded as impressions (seen). */
const CURSOR_MAX_SERVED = 1000;

export class Engine {
  readonly config: Config;
  readonly types: EventTypeRegistry;
  readonly store: Store;
  readonly state: OnlineState;
  private readonly forYou: FeedPipeline;
  private readonly popular: PopularSource;
  /** The For You feed's candidate sources, with their budgets. */
  readonly sources: SourceEntry[];
  /** The scorer that fuses the sources (learned when trained, else reciprocal-rank fusion): the light ranker. */
  readonly fusion: SourceFusion;
  /** The heavy ranker (gradient-boosted heads + score formula), on when a model is trained or loaded. */
  readonly ranker: HeavyRanker;
  /** Request ids (random; an evaluation passes a counter, so that its exploration draws repeat). */
  private newRequestId: () => string = randomUUID;
  /** The pipeline's settings per variant (experiments, and the built-in ones): see pipeline/variants.ts. */
  readonly variants: Map<string, VariantSettings>;
  /** Score terms of the variants whose `rank` section differs from the base (set with the ranker's model). */
  private variantTerms = new Map<string, ScoreTerms>();
  private pendingImpressions = new Set<Promise<void>>();
  /** Called when a side effect fails (impression logging): the server counts and logs it. */
  onSideEffectError: (effect: string, err: unknown) => void = (effect, err) => {
    process.stderr.write(`lenta: ${effect} failed: ${String(err)}\n`);
  };

  private constructor(config: Config, types: EventTypeRegistry, store: Store, logImpressions: boolean) {
    this.config = config;
    this.types = types;
    this.store = store;
    const variants = resolveVariants(config);
    const s = config.state;
    this.state = new OnlineState(types, {
      windowsMs: s.windows,
      historyLength: s.historyLength,
      engagersPerItem: s.engagersPerItem,
      seenPerUser: s.seenPerUser,
      postsPerAuthor: s.postsPerAuthor,
      numericAttributes: keptAttributes([config.rank, ...[...variants.values()].map((v) => v.config.rank)]),
    });
    const impressions: SideEffect = { name: 'impression_log', run: (q, page) => this.logImpressions(q, page) };
    const { pipeline, popular, sources, fusion, ranker } = createForYouPipeline(config, logImpressions ? [impressions] : [], (id) => this.store.userIndex(id));
    this.variants = variants;
    this.forYou = pipeline;
    this.fusion = fusion;
    this.ranker = ranker;
    this.popular = popular;
    this.sources = sources;
  }

  /** Opens the store named by the config and rebuilds the state by replaying the log. */
  /**
   * `logImpressions: false` serves without writing impressions (offline evaluation, where
   * one user's served pages must not change the next user's state).
   */
  static async open(
    config: Config,
    options: { store?: Store; onReplay?: (rows: number) => void; logImpressions?: boolean; requestIds?: () => string } = {},
  ): Promise<Engine> {
    const types = new EventTypeRegistry(config.eventTypes);
    const store =
      options.store ??
      SqliteStore.open({ path: config.store.db, types, synchronous: config.store.synchronous, groupCommitMs: config.store.groupCommitMs });
    const engine = new Engine(config, types, store, options.logImpressions ?? true);
    if (isReplicated(store)) store.onCommit = (result) => engine.applyCommit(result);
    if (options.requestIds) engine.newRequestId = options.requestIds;
    await engine.state.replay(store, options.onReplay);
    return engine;
  }

  /** Where the trainable sources' artifacts live: next to the database file. */
  artifactsDir(): string | undefined {
    const db = this.config.store.db;
    return db === ':memory:' ? undefined : `${db}.models`;
  }

  /** The feed's clock: wall time, or the time of the newest event (never later than wall time). */
  now(): number {
    const wall = Date.now();
    if (this.config.feed.clock === 'now' || !Number.isFinite(this.state.clock)) return wall;
    return Math.min(this.state.clock, wall);
  }

  /** Writes a batch durably (all-or-nothing), then applies it to the online state. */
  async ingest(records: readonly LogRecord[]): Promise<{ accepted: number; duplicates: number }> {
    const result = await this.store.append(this.tagVariants(records));
    // A replica's store has applied the commit already, through onCommit, in the log's order.
    if (!isReplicated(this.store)) this.applyCommit(result);
    return { accepted: result.accepted, duplicates: result.duplicates };
  }

  /**
   * Folds a committed write into the online state and the sources' online parts. Log rows the
   * state already holds (a replica's commits that its replay also read) are left out; the
   * item records are applied again, which changes nothing.
   */
  private applyCommit(result: AppendResult): void {
    const log = result.log.length > 0 && result.log.seq[result.log.length - 1]! <= this.state.lastSeq ? emptyLogChunk(0) : result.log;
    this.state.apply(result.items, log);
    for (const { source } of this.sources) {
      if (isTrainable(source) && source.update) source.update(this.state, result.items, log);
    }
  }

  /**
   * While experiments run, an event that does not say which variant it belongs to is tagged
   * with its user's (`context.variant`), so that engagements in the log carry their arm like
   * the impressions do. The caller's records are not changed (tagged copies are written).
   */
  private tagVariants(records: readonly LogRecord[]): readonly LogRecord[] {
    const e = this.config.experiments;
    if (e.variants.length === 0 && e.holdout.share === 0) return records;
    return records.map((r) => {
      if (r.kind !== 'event' || typeof r.event.context?.variant === 'string') return r;
      return { kind: 'event', event: { ...r.event, context: { ...r.event.context, variant: assignVariant(r.event.userId, e).variant } } };
    });
  }

  /** Imports a stream in one transaction, then folds what was written into the state. */
  async importStream(records: AsyncIterable<LogRecord> | Iterable<LogRecord>, onRecords?: (n: number) => void) {
    const result = await this.store.importRecords(records, onRecords);
    await this.state.replay(this.store);
    return result;
  }

  /**
   * Batch jobs of the trainable candidate sources (embeddings, communities, co-engagement):
   * train each on the current state and log; save the artifacts to `dir` when given. A source
   * whose training fails is reported (`trainingFailures`) and left out; the others go on. Then,
   * unless `rankers: false`, the learned fusion and the heavy ranker (trainRankers).
   */
  async trainSources(options: { dir?: string; rankers?: boolean; onProgress?: (source: string, done: number, total: number, note?: string) => void } = {}): Promise<string[]> {
    const trained: string[] = [];
    for (const { source } of this.sources) {
      if (!isTrainable(source)) continue;
      try {
        await source.train({
          state: this.state,
          store: this.store,
          now: this.now(),
          onProgress: (done, total, note) => options.onProgress?.(source.name, done, total, note),
        });
      } catch (err) {
        this.reportTrainingFailure(source.name, err);
        continue;
      }
      if (options.dir) {
        mkdirSync(options.dir, { recursive: true });
        await source.save(options.dir);
      }
      trained.push(source.name);
    }
    if (options.rankers ?? true) trained.push(...(await this.trainRankers({ dir: options.dir, onProgress: options.onProgress })));
    return trained;
  }

  /** Sources (or models) whose last training failed, with the error: they serve nothing until retrained. */
  readonly trainingFailures = new Map<string, string>();

  private reportTrainingFailure(name: string, err: unknown): void {
    this.trainingFailures.set(name, String(err));
    process.stderr.write(`lenta: training ${name} failed, serving without it: ${String(err)}\n`);
  }

  /** The feature registry of this engine's pipeline (its state's windows and types, its sources). */
  featureRegistry(): FeatureRegistry {
    const sources = this.sources.map((e) => e.source);
    return new FeatureRegistry({ state: this.state, sources: sources.map((s) => s.name), providers: sources.filter((x) => isFeatureProvider(x)), attributes: this.config.rank.attributeFeatures });
  }

  /**
   * The learned rankers, from one shadow training on held-out engagements (train/holdout.ts):
   * the source fusion (the light ranker, `fusion.json`) and the heavy ranker (`ranker.json`),
   * each when switched on (`feed.fusion.learn`, `rank.learn`). Skipped when the log has more
   * than `feed.fusion.maxLogRows` rows (the shadow doubles training time and memory).
   * `warmStart` continues the current heavy ranker's trees instead of starting over.
   */
  async trainRankers(options: { dir?: string; warmStart?: boolean; onProgress?: (source: string, done: number, total: number, note?: string) => void } = {}): Promise<string[]> {
    const settings = this.config.feed.fusion;
    const rank = this.config.rank;
    if (!settings.learn && !rank.learn) return [];
    const counts = await this.store.counts();
    if (counts.events + counts.edges > settings.maxLogRows) {
      const why = `not learned: ${counts.events + counts.edges} log rows > feed.fusion.maxLogRows ${settings.maxLogRows}`;
      this.fusionNote = `${why}; reciprocal-rank fusion`;
      this.rankerNote = why;
      return [];
    }
    const progress = (name: string) => (d: number, t: number, n?: string) => options.onProgress?.(name, d, t, n);
    const examples = await collectHoldoutExamples(this, { ...this.holdoutOptions(), onProgress: progress(settings.learn ? 'fusion' : 'ranker') });
    if ('skipped' in examples) {
      this.fusionNote = `not learned: ${examples.skipped}; reciprocal-rank fusion`;
      this.rankerNote = `not learned: ${examples.skipped}`;
      return [];
    }
    const trained: string[] = [];
    try {
      if (options.dir) mkdirSync(options.dir, { recursive: true });
      if (settings.learn) {
        const fusion = fitFusion(examples, this.config.feed.fusionK);
        this.fusion.setModel(fusion);
        examples.shadow.fusion.setModel(fusion);
        this.fusionNote = undefined;
        if (options.dir) writeFileSync(join(options.dir, 'fusion.json'), `${JSON.stringify(fusion)}\n`);
        trained.push('fusion');
      }
      if (rank.learn) {
        try {
          const ranker = progress('ranker');
          // Progress in percent of the ranker's job: the training set is the first 20%.
          const dataset = this.rankerDataset(examples, (d, t) => ranker(Math.round((20 * d) / Math.max(1, t)), 100, 'features'));
          const file = await trainRanker(examples, {
            dataset,
            settings: rank,
            types: this.types,
            warmStart: options.warmStart ? this.ranker.trained : undefined,
            firstPassColumns: this.featureRegistry().columnsWithout(rank.cascade.deferFamilies, 'rank.cascade.deferFamilies'),
            onProgress: ranker,
          });
          this.useRanker(file);
          if (options.dir) writeFileSync(join(options.dir, 'ranker.json'), `${JSON.stringify(file)}\n`);
          trained.push('ranker');
        } catch (err) {
          this.rankerNote = `training failed: ${String(err)}`;
          this.reportTrainingFailure('ranker', err);
        }
      }
    } finally {
      await examples.shadow.close();
    }
    return trained;
  }

  /**
   * The heavy ranker's training set as CSV (`lenta train export`): the same held-out examples,
   * features and labels that `trainRankers` fits on, for inspection or other tools.
   */
  async exportRankerTrainingSet(path: string, onProgress?: (step: string, done: number, total: number, note?: string) => void): Promise<{ rows: number; users: number; features: number; heads: string[] }> {
    const examples = await collectHoldoutExamples(this, { ...this.holdoutOptions(), onProgress: (d, t, n) => onProgress?.('examples', d, t, n) });
    if ('skipped' in examples) throw new Error(`no training set: ${examples.skipped}`);
    try {
      if (this.config.feed.fusion.learn) examples.shadow.fusion.setModel(fitFusion(examples, this.config.feed.fusionK));
      const ds = this.rankerDataset(examples, (d, t) => onProgress?.('features', d, t));
      await writeRankerCsv(ds, path, { users: this.store.userIds, items: this.store.itemIds });
      return { rows: ds.n, users: ds.groupUser.length, features: ds.d, heads: ds.heads };
    } finally {
      await examples.shadow.close();
    }
  }

  /** How the held-out examples are drawn: the fusion's settings, and whether the ranker learns from impressions. */
  private holdoutOptions(): HoldoutOptions {
    const rank = this.config.rank;
    return {
      ...this.config.feed.fusion,
      impressions: !rank.learn || rank.examples === 'candidates' ? 'never' : rank.examples === 'impressions' ? 'always' : 'auto',
      minImpressions: rank.minImpressions,
      impressionUsers: rank.learn ? rank.impressionUsers : 0,
    };
  }

  /** The heavy ranker's training set from held-out examples: features and light-ranker scores from the shadow. */
  private rankerDataset(examples: HoldoutExamples, onProgress?: (done: number, total: number) => void): RankerDataset {
    const shadow = examples.shadow;
    return buildRankerDataset(examples, shadow.featureRegistry(), (u, x) => shadow.requestQuery(u, x), (q, c) => shadow.fusion.score(q, c), {
      candidatesPerUser: this.config.rank.candidatesPerUser,
      maxCandidates: this.config.rank.maxCandidates,
      unweighted: shadow.unweightedSources(),
      minPositives: this.config.rank.minPositives,
      minNegatives: this.config.rank.minNegatives,
      seed: this.config.feed.fusion.seed,
      onProgress,
    });
  }

  /**
   * Serves with this heavy ranker model (throws, naming the feature, when it does not fit the
   * pipeline) — unless it failed its deployment check: then the light ranker serves, and
   * `rankerNote` says why.
   */
  useRanker(file: RankerModelFile | undefined): void {
    if (!file) return this.ranker.setModel(undefined);
    if (file.report.gate && !file.report.gate.passed) {
      this.ranker.setModel(undefined);
      this.rankerNote = `trained but not serving: ${file.report.gate.reason}`;
      return;
    }
    this.rankerNote = undefined;
    const terms = scoreTerms(
      file.heads,
      this.config.rank,
      this.state,
      (id) => this.store.userIndex(id),
    );
    this.ranker.setModel(file, this.featureRegistry(), terms);
    this.variantTerms.clear();
    for (const v of this.variants.values()) {
      if (v.ownWeights) this.variantTerms.set(v.name, scoreTerms(file.heads, v.config.rank, this.state, (id) => this.store.userIndex(id)));
    }
  }

  /** Why the fusion is not learned, when it is not. */
  fusionNote: string | undefined;
  /** Why there is no heavy ranker, when there is none. */
  rankerNote: string | undefined;

  /** An engine on this log with the given (user → items) pairs hidden, and everything after `cutoff`: for held-out training. */
  async openHoldout(heldOut: ReadonlyMap<number, ReadonlySet<number>>, cutoff = Infinity): Promise<Engine> {
    return Engine.open(this.config, { store: new HoldoutView(this.store, heldOut, cutoff), logImpressions: false });
  }

  /**
   * The candidates the scorers would see for `user` (sources, merge, filters), with `exclude`
   * removed — for training and inspecting the fusion.
   */
  async retrieve(user: number, exclude: readonly number[] = []): Promise<Candidate[]> {
    return (await this.forYou.retrieve(this.requestQuery(user, exclude))).candidates;
  }

  /**
   * Loads the trainable sources' artifacts from `dir`; sources with nothing saved (or whose
   * artifacts do not fit the store) are trained now and saved. Returns what was loaded/trained.
   */
  async loadSources(
    dir: string,
    onProgress?: (source: string, done: number, total: number, note?: string) => void,
    options: { rankers?: boolean } = {},
  ): Promise<{ loaded: string[]; trained: string[] }> {
    const loaded: string[] = [];
    const trained: string[] = [];
    for (const { source } of this.sources) {
      if (!isTrainable(source)) continue;
      const ctx = { state: this.state, store: this.store, now: this.now(), onProgress: (d: number, t: number, n?: string) => onProgress?.(source.name, d, t, n) };
      if (existsSync(dir) && (await source.load(dir, ctx))) {
        loaded.push(source.name);
      } else {
        try {
          await source.train(ctx);
        } catch (err) {
          this.reportTrainingFailure(source.name, err);
          continue;
        }
        mkdirSync(dir, { recursive: true });
        await source.save(dir);
        trained.push(source.name);
      }
    }
    // The learned rankers: loaded when no source was retrained and they fit this pipeline.
    const names = this.sources.map((e) => e.source.name).join(',');
    const fusion = trained.length === 0 ? readModel<FusionModelFile>(join(dir, 'fusion.json')) : undefined;
    const ranker = trained.length === 0 ? readModel<RankerModelFile>(join(dir, 'ranker.json')) : undefined;
    let fusionOk = false;
    let rankerOk = false;
    if (fusion && fusion.sources.join(',') === names) {
      this.fusion.setModel(fusion);
      fusionOk = true;
      loaded.push('fusion');
    }
    if (ranker && ranker.sources.join(',') === names) {
      try {
        this.useRanker(ranker);
        rankerOk = true;
        loaded.push('ranker');
      } catch (err) {
        process.stderr.write(`lenta: retraining the ranker: ${String((err as Error).message)}\n`);
      }
    }
    const wantFusion = this.config.feed.fusion.learn && !fusionOk;
    const wantRanker = this.config.rank.learn && !rankerOk;
    if ((options.rankers ?? true) && (wantFusion || wantRanker)) trained.push(...(await this.trainRankers({ dir, onProgress })));
    return { loaded, trained };
  }

  /**
   * The first stage alone: each source's candidates (dense item ids, best first) for a user,
   * with the same hydration as a feed request — for candidate-recall evaluation and benchmarks.
   */
  async sourceCandidates(userId: string, budget: number, exclude: readonly number[] = []): Promise<Map<string, Int32Array>> {
    const q = this.query(this.store.userIndex(userId) ?? -1, userId, { limit: budget, requestId: 'candidates', exclude: new Set(exclude) });
    const out = new Map<string, Int32Array>();
    for (const { source } of this.sources) {
      if (!source.enabled(q)) {
        out.set(source.name, new Int32Array(0));
        continue;
      }
      // Best first, as every source returns them (CandidateSource.fetch).
      out.set(source.name, Int32Array.from(await source.fetch(q, budget), (c) => c.item));
    }
    return out;
  }

  /** The request a user's feed would make now, with `exclude` removed (training and inspection). */
  requestQuery(user: number, exclude: readonly number[] = []): FeedQuery {
    return this.query(user, this.store.userIds[user] ?? '', { limit: this.config.feed.pageSize, requestId: 'retrieve', exclude: new Set(exclude) });
  }

  /** A request's hydrated query: the user's seen items from the state, the feed's clock, its variant's settings. */
  private query(user: number, userId: string, o: { limit: number; requestId: string; variant?: string; served?: Set<number>; exclude: Set<number>; explain?: boolean }): FeedQuery {
    const seen = new Set<number>();
    if (user >= 0) this.state.seen.forEachRecent(user, (item) => void seen.add(item));
    const variant = o.variant ?? 'default';
    const settings = this.variants.get(variant) ?? this.variants.get('default')!;
    const q: FeedQuery = {
      user,
      userId,
      limit: o.limit,
      now: this.now(),
      requestId: o.requestId,
      variant,
      served: o.served ?? new Set(),
      seen,
      exclude: o.exclude,
      state: this.state,
      mix: settings.config.mix,
      feed: settings.config.feed,
    };
    if (o.explain === false) q.explain = false;
    const terms = this.variantTerms.get(settings.name);
    if (terms) q.terms = terms;
    if (settings.budgets) q.budgets = settings.budgets;
    const unweighted = this.unweightedSources();
    if (unweighted) q.unweighted = { sources: unweighted, minCandidates: settings.config.rank.maxCandidates };
    return q;
  }

  /**
   * The pipeline's sources the learned fusion weighs 0 (`feed.fusion.skipUnweighted`): not
   * fetched when serving unless the others leave fewer than `rank.maxCandidates` after the
   * filters (pipeline/feed-pipeline.ts);
   * undefined when there is no learned fusion or it weighs every source.
   */
  unweightedSources(): ReadonlySet<string> | undefined {
    const model = this.fusion.trained;
    if (!model || !this.config.feed.fusion.skipUnweighted) return undefined;
    if (this.unweightedMemo.model !== model) {
      const off = new Set(this.sources.map((e) => e.source.name).filter((name) => (model.weights[name] ?? 0) === 0));
      this.unweightedMemo = { model, set: off.size > 0 && off.size < this.sources.length ? off : undefined };
    }
    return this.unweightedMemo.set;
  }

  private unweightedMemo: { model: FusionModelFile | undefined; set: ReadonlySet<string> | undefined } = { model: undefined, set: undefined };

  /** The variant that serves a user: the requested one (checked), else the experiment assignment. */
  variantOf(userId: string, requested?: string): string {
    if (requested !== undefined && requested !== '') {
      if (!this.variants.has(requested)) {
        throw new ValidationError('variant', `unknown variant "${requested}" (known: ${[...this.variants.keys()].join(', ')})`);
      }
      return requested;
    }
    return assignVariant(userId, this.config.experiments).variant;
  }

  async forYouFeed(userId: string, request: FeedRequest = {}): Promise<FeedResponse> {
    const limit = request.limit ?? this.config.feed.pageSize;
    const user = this.store.userIndex(userId) ?? -1;
    const variant = this.variantOf(userId, request.variant);
    // The cursor carries the posts of the session's earlier pages (stateless: any process of
    // the server can serve the next page, and a restart loses nothing).
    const served = request.cursor ? decodeFeedCursor(request.cursor, userId, this.store.itemIds.length) : [];
    const exclude = new Set<number>();
    for (const id of request.exclude ?? []) {
      const ix = this.store.itemIndex(id);
      if (ix !== undefined) exclude.add(ix);
    }
    const q = this.query(user, userId, { limit, requestId: this.newRequestId(), variant, served: new Set(served), exclude, explain: request.explain });
    let page: Candidate[];
    let timings: StageTiming[] = [];
    const reasons: string[] = [];
    // The server's overload protection: a smaller heavy-ranker budget, or none (when the heavy ranker would have run).
    const step = request.overload;
    if (step && variant !== HOLDOUT_VARIANT && this.ranker.enabled(q) && step.budget < this.config.rank.maxCandidates) {
      q.maxCandidates = step.budget;
      reasons.push(step.reason);
    }
    if (variant === HOLDOUT_VARIANT) {
      // The holdout group: the feed without the For You pipeline (incrementality is measured against it).
      page = this.config.experiments.holdout.feed === 'popular' ? this.popularPage(q) : await this.chronologicalPage(q);
    } else {
      let result: Awaited<ReturnType<FeedPipeline['run']>> | undefined;
      try {
        result = await this.forYou.run(q);
      } catch (err) {
        reasons.push(`the For You pipeline failed: ${String(err)}`);
      }
      if (result) {
        timings = result.timings;
        for (const c of result.degraded) if (!result.rankingFailed || c !== result.rankingFailed.split(':')[0]) reasons.push(`${c} failed and was skipped`);
        if (result.rankingFailed) reasons.push(`ranking failed (${result.rankingFailed})`);
      }
      if (!result || result.rankingFailed) {
        reasons.push('served the chronological feed of the followed accounts instead');
        page = await this.chronologicalPage(q);
      } else page = result.page;
    }
    for (const c of page) served.push(c.item);
    const items = await this.hydrate(page, request.explain ?? true);
    const response: FeedResponse = {
      items,
      nextCursor: page.length > 0 ? encodeFeedCursor(userId, served) : null,
      requestId: q.requestId,
      variant,
      timings,
    };
    if (reasons.length > 0) {
      response.degraded = true;
      response.degradedReasons = reasons;
    }
    const effects = this.forYou.afterResponse(q, page, this.onSideEffectError);
    this.pendingImpressions.add(effects);
    void effects.finally(() => this.pendingImpressions.delete(effects));
    return response;
  }

  /** Chronological feed of the followed authors' posts, newest first, keyset-paginated. */
  async followingFeed(userId: string, request: { limit?: number; cursor?: string } = {}): Promise<{ items: FeedItem[]; nextCursor: string | null }> {
    const limit = request.limit ?? this.config.feed.pageSize;
    const user = this.store.userIndex(userId);
    if (user === undefined) return { items: [], nextCursor: null };
    const before = request.cursor ? decodeFollowingCursor(request.cursor) : null;
    const authors = Array.from(this.state.following.get(user)).filter((a) => !this.state.hidesAuthor(user, a));
    const posts = await this.store.postsByAuthors(authors, before, limit);
    // Chronological: the order is by time; the score is the recency factor of the For You feed.
    const now = this.now();
    const halfLife = this.config.feed.recencyHalfLife;
    const page: Candidate[] = posts.map((p) => makeCandidate(p.index, this.state.author(p.index), true, { source: 'following', score: 0, rank: 0 }, Math.pow(0.5, Math.max(0, now - p.createdAt) / halfLife)));
    page.forEach((c, i) => (c.sources[0] = { source: 'following', score: c.score, rank: i + 1 }));
    const items = await this.hydrate(page);
    const last = posts[posts.length - 1];
    return { items, nextCursor: posts.length === limit && last ? encodeFollowingCursor(last.createdAt, last.index) : null };
  }

  /**
   * The chronological feed as a fallback page (ranking failed, or the holdout group): the
   * followed accounts' newest posts, without seen, served, excluded or hidden ones; the popular
   * feed for a user who follows nobody.
   */
  private async chronologicalPage(q: FeedQuery): Promise<Candidate[]> {
    const authors = q.user >= 0 ? Array.from(this.state.following.get(q.user)).filter((a) => !this.state.hidesAuthor(q.user, a)) : [];
    if (authors.length === 0) return this.popularPage(q);
    const page: Candidate[] = [];
    let before: { createdAt: number; index: number } | null = null;
    // Pages of posts until the feed's page is full (seen and served posts are skipped).
    for (let round = 0; round < 20 && page.length < q.limit; round++) {
      const posts = await this.store.postsByAuthors(authors, before, 4 * q.limit);
      for (const p of posts) {
        if (q.seen.has(p.index) || q.served.has(p.index) || q.exclude.has(p.index)) continue;
        page.push(makeCandidate(p.index, this.state.author(p.index), true, { source: 'following', score: 0, rank: page.length + 1 }, 0));
        if (page.length >= q.limit) break;
      }
      if (posts.length < 4 * q.limit) break;
      before = posts[posts.length - 1]!;
    }
    page.forEach((c, i) => (c.score = c.sources[0]!.score = -i));
    return page;
  }

  /** The popular feed as a page (unseen, unserved, not excluded; authors the user hides left out). */
  private popularPage(q: FeedQuery): Candidate[] {
    const pool = this.popular.popularItems(this.state, q.now);
    const page: Candidate[] = [];
    for (let r = 0; r < pool.items.length && page.length < q.limit; r++) {
      const item = pool.items[r]!;
      const author = this.state.author(item);
      if (q.seen.has(item) || q.served.has(item) || q.exclude.has(item)) continue;
      if (q.user >= 0 && author >= 0 && (author === q.user || this.state.hidesAuthor(q.user, author))) continue;
      page.push(makeCandidate(item, author, false, { source: 'popular', score: -r, rank: r + 1 }, -r));
    }
    return page;
  }

  private async hydrate(page: Candidate[], explain = true): Promise<FeedItem[]> {
    const entities = await this.store.getItems(page.map((c) => c.item));
    return page.map((c) => {
      const item: Item = entities.get(c.item) ?? { id: this.store.itemIds[c.item] ?? String(c.item) };
      // The post first, then its explanation.
      const out = { id: item.id } as FeedItem;
      if (item.authorId !== undefined) out.authorId = item.authorId;
      if (item.createdAt !== undefined) out.createdAt = new Date(item.createdAt).toISOString();
      if (item.tags) out.tags = item.tags;
      if (item.text !== undefined) out.text = item.text;
      out.inNetwork = c.inNetwork;
      out.score = round(c.score);
      if (explain) {
        if (c.rankScore !== undefined) out.weightedScore = round(c.rankScore);
        out.sources = c.sources.map((s) => ({ ...s, score: round(s.score) }));
        if (c.predicted) out.predicted = Object.fromEntries(Object.entries(c.predicted).map(([h, p]) => [h, round(p)]));
        if (c.firstPass) out.firstPass = true;
        if (c.rules) out.rules = c.rules;
        if (c.propensity !== undefined) out.propensity = round(c.propensity);
      }
      return out;
    });
  }

  /** Every served item becomes an impression in the log, with request id, position and propensity. */
  private async logImpressions(q: FeedQuery, page: Candidate[]): Promise<void> {
    if (page.length === 0) return;
    const records: LogRecord[] = page.map((c, position) => ({
      kind: 'event',
      event: {
        id: `imp:${q.requestId}:${position}`,
        userId: q.userId,
        itemId: this.store.itemIds[c.item]!,
        type: 'impression',
        timestamp: q.now,
        // The page builder's propensity (below 1 where exploration could have put another item here).
        context: {
          requestId: q.requestId,
          position,
          propensity: c.propensity ?? 1,
          // Whether exploration put this item here instead of the best candidate (lenta ope --db).
          explored: c.rules?.some((r) => r.rule === 'exploration') ?? false,
          variant: q.variant,
          source: c.sources[0]?.source ?? 'unknown',
          inNetwork: c.inNetwork,
        },
      },
    }));
    await this.ingest(records);
  }

  /** Waits for impression logging still in flight (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.pendingImpressions.size > 0) await Promise.allSettled([...this.pendingImpressions]);
  }

  /** Items related to an item (discovery/related.ts); undefined when the item is unknown. */
  async relatedItems(itemId: string, limit: number): Promise<{ itemId: string; items: RelatedItemView[] } | undefined> {
    const item = this.store.itemIndex(itemId);
    if (item === undefined) return undefined;
    const related = relatedItems({ state: this.state, sources: this.sources, store: this.store, now: this.now() }, item, { limit });
    return { itemId, items: await hydrateRelated(this.store, related) };
  }

  /** Accounts for a user to follow (discovery/who-to-follow.ts); an unknown user gets the popular accounts (`coldStart`). */
  whoToFollow(userId: string, limit: number): { userId: string; coldStart: boolean; accounts: FollowSuggestionView[] } {
    const user = this.store.userIndex(userId) ?? -1;
    const result = whoToFollow({ state: this.state, sources: this.sources, store: this.store, now: this.now() }, user, { limit });
    return { userId, ...hydrateWhoToFollow(this.store, result) };
  }

  /** Trending items (discovery/trending.ts); a bad `window` throws a ValidationError naming it. */
  async trending(request: { limit: number; tag?: string; window?: string }): Promise<{ window: string; tag?: string; items: TrendingItemView[] }> {
    const result = trendingItems({ state: this.state, sources: this.sources, store: this.store, now: this.now() }, request);
    return hydrateTrending(this.store, result, request.tag || undefined);
  }

  popularItemIds(limit: number): string[] {
    const pool = this.popular.popularItems(this.state, this.now());
    return Array.from(pool.items.subarray(0, limit), (i) => this.store.itemIds[i]!);
  }

  async close(): Promise<void> {
    await this.drain();
    await this.store.close();
  }
}

/** A saved model file, or undefined when absent or unreadable (reported). */
function readModel<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    process.stderr.write(`lenta: ignoring ${file}: ${String(err)}\n`);
    return undefined;
  }
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/**
 * `f2.<user tag>.<served>`: the user's tag (FNV-1a of the id, so a cursor is only honoured for
 * its user) and the dense ids of the posts served so far (the latest CURSOR_MAX_SERVED), sorted,
 * delta-coded as LEB128 varints, base64url (~4 characters a post).
 */
function encodeFeedCursor(userId: string, served: readonly number[]): string {
  const ids = served.slice(-CURSOR_MAX_SERVED).sort((a, b) => a - b);
  const bytes: number[] = [];
  let prev = 0;
  for (const id of ids) {
    let d = id - prev;
    prev = id;
    while (d >= 0x80) {
      bytes.push((d & 0x7f) | 0x80);
      d = Math.floor(d / 128);
    }
    bytes.push(d);
  }
  return `f2.${userTag(userId)}.${Buffer.from(bytes).toString('base64url')}`;
}

/** The posts a cursor says were served; [] for another user's cursor or an older format's. */
function decodeFeedCursor(cursor: string, userId: string, items: number): number[] {
  const bad = (why: string) => new ValidationError('cursor', `${why} (pass nextCursor unchanged)`);
  if (/^f1\.[A-Za-z0-9_-]{1,64}$/.test(cursor)) return []; // a session cursor of an earlier version: impressions still exclude
  const m = /^f2\.([0-9a-z]{1,7})\.([A-Za-z0-9_-]*)$/.exec(cursor);
  if (!m) throw bad('is not a feed cursor issued by this server');
  const bytes = Buffer.from(m[2]!, 'base64url');
  const out: number[] = [];
  let prev = 0;
  for (let k = 0; k < bytes.length; ) {
    let d = 0;
    let scale = 1;
    for (;;) {
      if (k >= bytes.length || scale > 2 ** 42) throw bad('is damaged');
      const b = bytes[k++]!;
      d += (b & 0x7f) * scale;
      scale *= 128;
      if (b < 0x80) break;
    }
    prev += d;
    if (prev >= items) throw bad('names a post this server does not have');
    out.push(prev);
  }
  if (out.length > CURSOR_MAX_SERVED) throw bad('is damaged');
  // A well-formed cursor of another user's session excludes nothing for this one.
  return m[1] === userTag(userId) ? out : [];
}

function userTag(userId: string): string {
  let h = 0x811c9dc5;
  for (let k = 0; k < userId.length; k++) h = Math.imul(h ^ userId.charCodeAt(k), 0x01000193);
  return (h >>> 0).toString(36);
}

function encodeFollowingCursor(createdAt: number, index: number): string {
  return `c1.${createdAt.toString(36)}.${index.toString(36)}`;
}

function decodeFollowingCursor(cursor: string): { createdAt: number; index: number } {
  const m = /^c1\.([0-9a-z]+)\.([0-9a-z]+)$/.exec(cursor);
  if (!m) throw new ValidationError('cursor', 'is not a following-feed cursor issued by this server (pass nextCursor unchanged)');
  return { createdAt: parseInt(m[1]!, 36), index: parseInt(m[2]!, 36) };
}
