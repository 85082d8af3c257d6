/**
 * The engine: the composition root that ties the store (the durable log), the online state
 * (folds over the log) and the feed pipelines together. The HTTP server, the CLI and the
 * evaluation harness all go through this one object.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './domain/config.js';
import { EventTypeRegistry } from './domain/event-types.js';
import type { Item, LogRecord } from './domain/types.js';
import { ValidationError } from './domain/validate.js';
import { createForYouPipeline } from './pipeline/for-you.js';
import type { FeedPipeline } from './pipeline/feed-pipeline.js';
import { isTrainable, type Candidate, type FeedQuery, type SideEffect, type StageTiming } from './pipeline/types.js';
import type { SourceEntry } from './candidates/index.js';
import type { PopularSource } from './candidates/popular.js';
import { OnlineState } from './state/online-state.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';
import { HoldoutView } from './store/holdout-view.js';
import type { FusionModelFile, SourceFusion } from './rank/source-fusion.js';
import { trainFusion } from './rank/fusion-training.js';
import type { Store } from './store/store.js';

export interface FeedItem {
  id: string;
  authorId?: string;
  score: number;
  createdAt?: string;
  tags?: string[];
  text?: string;
  inNetwork: boolean;
  sources: { source: string; score: number; rank: number }[];
}

export interface FeedResponse {
  items: FeedItem[];
  nextCursor: string | null;
  requestId: string;
  degraded?: boolean;
  degradedReasons?: string[];
  timings?: StageTiming[];
}

export interface FeedRequest {
  limit?: number;
  cursor?: string;
  exclude?: string[];
  variant?: string;
}

interface Session {
  user: number;
  served: Set<number>;
  page: number;
}

const MAX_SESSIONS = 50_000;

export class Engine {
  readonly config: Config;
  readonly types: EventTypeRegistry;
  readonly store: Store;
  readonly state: OnlineState;
  private readonly forYou: FeedPipeline;
  private readonly popular: PopularSource;
  /** The For You feed's candidate sources, with their budgets. */
  readonly sources: SourceEntry[];
  /** The scorer that fuses the sources (learned when trained, else reciprocal-rank fusion). */
  readonly fusion: SourceFusion;
  private readonly sessions = new Map<string, Session>();
  private pendingImpressions = new Set<Promise<void>>();
  /** Called when a side effect fails (impression logging): the server counts and logs it. */
  onSideEffectError: (effect: string, err: unknown) => void = (effect, err) => {
    process.stderr.write(`lenta: ${effect} failed: ${String(err)}\n`);
  };

  private constructor(config: Config, types: EventTypeRegistry, store: Store, logImpressions: boolean) {
    this.config = config;
    this.types = types;
    this.store = store;
    const s = config.state;
    this.state = new OnlineState(types, {
      windowsMs: s.windows,
      historyLength: s.historyLength,
      engagersPerItem: s.engagersPerItem,
      seenPerUser: s.seenPerUser,
      postsPerAuthor: s.postsPerAuthor,
    });
    const impressions: SideEffect = { name: 'impression_log', run: (q, page) => this.logImpressions(q, page) };
    const { pipeline, popular, sources, fusion } = createForYouPipeline(config, logImpressions ? [impressions] : []);
    this.forYou = pipeline;
    this.fusion = fusion;
    this.popular = popular;
    this.sources = sources;
  }

  /** Opens the store named by the config and rebuilds the state by replaying the log. */
  /**
   * `logImpressions: false` serves without writing impressions (offline evaluation, where
   * one user's served pages must not change the next user's state).
   */
  static async open(config: Config, options: { store?: Store; onReplay?: (rows: number) => void; logImpressions?: boolean } = {}): Promise<Engine> {
    const types = new EventTypeRegistry(config.eventTypes);
    const store =
      options.store ??
      SqliteStore.open({ path: config.store.db, types, synchronous: config.store.synchronous, groupCommitMs: config.store.groupCommitMs });
    const engine = new Engine(config, types, store, options.logImpressions ?? true);
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
    const result = await this.store.append(records);
    this.state.apply(result.items, result.log);
    for (const { source } of this.sources) {
      if (isTrainable(source) && source.update) source.update(this.state, result.items, result.log);
    }
    return { accepted: result.accepted, duplicates: result.duplicates };
  }

  /** Imports a stream in one transaction, then folds what was written into the state. */
  async importStream(records: AsyncIterable<LogRecord> | Iterable<LogRecord>, onRecords?: (n: number) => void) {
    const result = await this.store.importRecords(records, onRecords);
    await this.state.replay(this.store);
    return result;
  }

  /**
   * Batch jobs of the trainable candidate sources (embeddings, communities, co-engagement):
   * train each on the current state and log; save the artifacts to `dir` when given.
   */
  async trainSources(options: { dir?: string; fusion?: boolean; onProgress?: (source: string, done: number, total: number, note?: string) => void } = {}): Promise<string[]> {
    const trained: string[] = [];
    for (const { source } of this.sources) {
      if (!isTrainable(source)) continue;
      await source.train({
        state: this.state,
        store: this.store,
        now: this.now(),
        onProgress: (done, total, note) => options.onProgress?.(source.name, done, total, note),
      });
      if (options.dir) {
        mkdirSync(options.dir, { recursive: true });
        await source.save(options.dir);
      }
      trained.push(source.name);
    }
    if (options.fusion ?? true) {
      if (await this.trainFusionModel(options.dir, options.onProgress)) trained.push('fusion');
    }
    return trained;
  }

  /**
   * Trains the learned source fusion on held-out engagements (rank/fusion-training.ts) and
   * saves it as `fusion.json` in `dir`; false when learning is off or the log is too large.
   */
  async trainFusionModel(dir?: string, onProgress?: (source: string, done: number, total: number, note?: string) => void): Promise<boolean> {
    const settings = this.config.feed.fusion;
    if (!settings.learn) return false;
    const counts = await this.store.counts();
    if (counts.events + counts.edges > settings.maxLogRows) {
      this.fusionNote = `not learned: ${counts.events + counts.edges} log rows > feed.fusion.maxLogRows ${settings.maxLogRows}; reciprocal-rank fusion`;
      return false;
    }
    const result = await trainFusion(this, { ...settings, onProgress: (d, t, n) => onProgress?.('fusion', d, t, n) });
    if ('skipped' in result) {
      this.fusionNote = `not learned: ${result.skipped}; reciprocal-rank fusion`;
      return false;
    }
    this.fusion.setModel(result);
    this.fusionNote = undefined;
    if (dir) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'fusion.json'), `${JSON.stringify(result)}\n`);
    }
    return true;
  }

  /** Why the fusion is not learned, when it is not. */
  fusionNote: string | undefined;

  /** An engine on this log with the given (user → items) pairs hidden: for held-out training. */
  async openHoldout(heldOut: ReadonlyMap<number, ReadonlySet<number>>): Promise<Engine> {
    return Engine.open(this.config, { store: new HoldoutView(this.store, heldOut), logImpressions: false });
  }

  /**
   * The candidates the scorers would see for `user` (sources, merge, filters), with `exclude`
   * removed — for training and inspecting the fusion.
   */
  async retrieve(user: number, exclude: readonly number[] = []): Promise<Candidate[]> {
    const q = this.query(user, this.store.userIds[user] ?? '', { limit: this.config.feed.pageSize, requestId: 'retrieve', exclude: new Set(exclude) });
    return (await this.forYou.retrieve(q)).candidates;
  }

  /**
   * Loads the trainable sources' artifacts from `dir`; sources with nothing saved (or whose
   * artifacts do not fit the store) are trained now and saved. Returns what was loaded/trained.
   */
  async loadSources(dir: string, onProgress?: (source: string, done: number, total: number, note?: string) => void): Promise<{ loaded: string[]; trained: string[] }> {
    const loaded: string[] = [];
    const trained: string[] = [];
    for (const { source } of this.sources) {
      if (!isTrainable(source)) continue;
      const ctx = { state: this.state, store: this.store, now: this.now(), onProgress: (d: number, t: number, n?: string) => onProgress?.(source.name, d, t, n) };
      if (existsSync(dir) && (await source.load(dir, ctx))) {
        loaded.push(source.name);
      } else {
        await source.train(ctx);
        mkdirSync(dir, { recursive: true });
        await source.save(dir);
        trained.push(source.name);
      }
    }
    const file = join(dir, 'fusion.json');
    let fusionLoaded = false;
    if (trained.length === 0 && existsSync(file)) {
      try {
        const saved = JSON.parse(readFileSync(file, 'utf8')) as FusionModelFile;
        if (saved.sources.join(',') === this.sources.map((e) => e.source.name).join(',')) {
          this.fusion.setModel(saved);
          fusionLoaded = true;
          loaded.push('fusion');
        }
      } catch (err) {
        process.stderr.write(`lenta: ignoring ${file}: ${String(err)}\n`);
      }
    }
    if (!fusionLoaded && (await this.trainFusionModel(dir, onProgress))) trained.push('fusion');
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

  /** A request's hydrated query: the user's seen items from the state, the feed's clock. */
  private query(user: number, userId: string, o: { limit: number; requestId: string; variant?: string; served?: Set<number>; exclude: Set<number> }): FeedQuery {
    const seen = new Set<number>();
    if (user >= 0) this.state.seen.forEachRecent(user, (item) => void seen.add(item));
    return {
      user,
      userId,
      limit: o.limit,
      now: this.now(),
      requestId: o.requestId,
      variant: o.variant ?? 'default',
      served: o.served ?? new Set(),
      seen,
      exclude: o.exclude,
      state: this.state,
    };
  }

  async forYouFeed(userId: string, request: FeedRequest = {}): Promise<FeedResponse> {
    const limit = request.limit ?? this.config.feed.pageSize;
    const user = this.store.userIndex(userId) ?? -1;
    let sessionId: string;
    let session: Session;
    if (request.cursor) {
      sessionId = decodeFeedCursor(request.cursor);
      const existing = this.sessions.get(sessionId);
      // A cursor outlives its session after a restart: start an empty one; impressions still exclude.
      session = existing && existing.user === user ? existing : { user, served: new Set(), page: 0 };
      this.sessions.delete(sessionId);
    } else {
      sessionId = randomBytes(9).toString('base64url');
      session = { user, served: new Set(), page: 0 };
    }
    this.sessions.set(sessionId, session);
    if (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);

    const exclude = new Set<number>();
    for (const id of request.exclude ?? []) {
      const ix = this.store.itemIndex(id);
      if (ix !== undefined) exclude.add(ix);
    }
    const q = this.query(user, userId, { limit, requestId: randomUUID(), variant: request.variant, served: session.served, exclude });
    const result = await this.forYou.run(q);
    for (const c of result.page) session.served.add(c.item);
    session.page++;
    const items = await this.hydrate(result.page);
    const response: FeedResponse = {
      items,
      nextCursor: result.page.length > 0 ? encodeFeedCursor(sessionId) : null,
      requestId: q.requestId,
      timings: result.timings,
    };
    if (result.degraded.length > 0) {
      response.degraded = true;
      response.degradedReasons = result.degraded.map((c) => `${c} failed and was skipped`);
    }
    const effects = this.forYou.afterResponse(q, result.page, this.onSideEffectError);
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
    const page: Candidate[] = posts.map((p) => ({
      item: p.index,
      author: this.state.author(p.index),
      inNetwork: true,
      sources: [{ source: 'following', score: 0, rank: 0 }],
      score: Math.pow(0.5, Math.max(0, now - p.createdAt) / halfLife),
    }));
    page.forEach((c, i) => (c.sources[0] = { source: 'following', score: c.score, rank: i + 1 }));
    const items = await this.hydrate(page);
    const last = posts[posts.length - 1];
    return { items, nextCursor: posts.length === limit && last ? encodeFollowingCursor(last.createdAt, last.index) : null };
  }

  private async hydrate(page: Candidate[]): Promise<FeedItem[]> {
    const entities = await this.store.getItems(page.map((c) => c.item));
    return page.map((c) => {
      const item: Item = entities.get(c.item) ?? { id: this.store.itemIds[c.item] ?? String(c.item) };
      const out: FeedItem = { id: item.id, score: round(c.score), inNetwork: c.inNetwork, sources: c.sources.map((s) => ({ ...s, score: round(s.score) })) };
      if (item.authorId !== undefined) out.authorId = item.authorId;
      if (item.createdAt !== undefined) out.createdAt = new Date(item.createdAt).toISOString();
      if (item.tags) out.tags = item.tags;
      if (item.text !== undefined) out.text = item.text;
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
        // The first feed ranks deterministically: the policy picks this item here with probability 1.
        context: { requestId: q.requestId, position, propensity: 1, variant: q.variant, source: c.sources[0]?.source ?? 'unknown' },
      },
    }));
    await this.ingest(records);
  }

  /** Waits for impression logging still in flight (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.pendingImpressions.size > 0) await Promise.allSettled([...this.pendingImpressions]);
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

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function encodeFeedCursor(sessionId: string): string {
  return `f1.${sessionId}`;
}

function decodeFeedCursor(cursor: string): string {
  const m = /^f1\.([A-Za-z0-9_-]{1,64})$/.exec(cursor);
  if (!m) throw new ValidationError('cursor', 'is not a feed cursor issued by this server (pass nextCursor unchanged)');
  return m[1]!;
}

function encodeFollowingCursor(createdAt: number, index: number): string {
  return `c1.${createdAt.toString(36)}.${index.toString(36)}`;
}

function decodeFollowingCursor(cursor: string): { createdAt: number; index: number } {
  const m = /^c1\.([0-9a-z]+)\.([0-9a-z]+)$/.exec(cursor);
  if (!m) throw new ValidationError('cursor', 'is not a following-feed cursor issued by this server (pass nextCursor unchanged)');
  return { createdAt: parseInt(m[1]!, 36), index: parseInt(m[2]!, 36) };
}
