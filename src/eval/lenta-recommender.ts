/**
 * `lenta eval --algos lenta`: the Lenta serving pipeline as an evaluated algorithm.
 *
 * fit(): a fresh engine on an in-memory store replays the training part of the log — items
 * (authors, tags), follows, and the training interactions as events of their own types, in
 * time order — through the same import, state folds and pipeline that serve the API.
 * recommend(): each user's For You feed of k items, with the user's training items passed as
 * the request's `exclude` list; impressions are not logged (one user's page must not change
 * another's state). Catalogue data sets have no post ages, so the feed's age limit is off.
 */
import { mergeDeep, parseConfig, type Config } from '../domain/config.js';
import { EventTypeRegistry } from '../domain/event-types.js';
import type { LogRecord } from '../domain/types.js';
import { Engine } from '../engine.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { FitOptions, RecommendOptions, Recommender, TrainMatrix } from './recommender.js';

export class LentaRecommender implements Recommender {
  readonly name = 'lenta';
  private engine: Engine | undefined;
  private train: TrainMatrix | undefined;
  /** Dense eval item id → store item index, and back. */
  private evalItemOf: Int32Array = new Int32Array(0);

  constructor(private readonly config: Config = LentaRecommender.catalogueConfig()) {}

  /**
   * The serving defaults, adapted to a static catalogue: no post-age limit or recency decay,
   * no content-diversity re-order or exploration, and an extra all-time counter window (≈ 300 years) that the popular source counts over.
   * The learned fusion holds out items like the evaluation protocol does (random or latest).
   * `given` (the user's config as written: `lenta eval --config`) goes on top of all that.
   */
  static catalogueConfig(fusion: { holdout?: 'latest' | 'random' | 'last'; seed?: number } = {}, given: Record<string, unknown> = {}, threshold?: number): Config {
    const defaults = parseConfig({});
    const allTime = 1e13;
    const base = {
      // The protocol's positives are ratings from `threshold` on: so are the rankers' labels.
      ...(threshold !== undefined ? { eventTypes: defaults.eventTypes.map((t) => (t.name === 'rating' ? { ...t, positiveFrom: threshold } : t)) } : {}),
      state: { windows: [...defaults.state.windows, allTime], historyLength: 2000 },
      feed: { maxPostAge: 0, clock: 'log', popularWindow: allTime, fusion: { ...fusion, holdout: fusion.holdout ?? 'latest' } },
      // The protocols measure relevance: no diversity re-order and no exploration (a random
      // share of slots) unless the given config turns them on.
      mix: { contentDiversity: { enabled: false }, exploration: { enabled: false } },
    };
    return parseConfig(mergeDeep(base, given));
  }

  async fit(train: TrainMatrix, options: FitOptions = {}): Promise<void> {
    this.train = train;
    const ds = train.dataset;
    const types = new EventTypeRegistry(this.config.eventTypes);
    const store = SqliteStore.open({ path: ':memory:', types, synchronous: 'OFF' });
    // The items' numeric attributes (MovieLens: the release year) go with the items, for
    // `rank.attributeFeatures` (`--config`; not on by default: see the README's eval numbers).
    const numbers = [...(ds.itemNumbers ?? new Map<string, Float64Array>())];
    const engine = await Engine.open(this.config, { store, logImpressions: false });
    const records = function* (): Iterable<LogRecord> {
      for (let i = 0; i < ds.numItems; i++) {
        const item: { id: string; authorId?: string; tags?: string[]; attributes?: Record<string, number> } = { id: ds.itemIds[i]! };
        for (const [name, values] of numbers) if (Number.isFinite(values[i])) (item.attributes ??= {})[name] = values[i]!;
        const author = ds.itemAuthor?.[i] ?? -1;
        if (author >= 0) item.authorId = ds.userIds[author]!;
        if (ds.tags) {
          const tags: string[] = [];
          for (let p = ds.tags.offsets[i]!; p < ds.tags.offsets[i + 1]!; p++) tags.push(ds.tags.names[ds.tags.ids[p]!]!);
          if (tags.length) item.tags = tags;
        }
        yield { kind: 'item', item };
      }
      // Follows have no time in these data sets: they exist from the first interaction on.
      let t0 = Infinity;
      for (let x = 0; x < ds.size; x++) if (ds.timestamp[x]! < t0) t0 = ds.timestamp[x]!;
      if (!Number.isFinite(t0)) t0 = 0;
      if (ds.follows) {
        for (let u = 0; u < ds.follows.offsets.length - 1; u++) {
          for (let p = ds.follows.offsets[u]!; p < ds.follows.offsets[u + 1]!; p++) {
            const target = ds.follows.targets[p]!;
            if (target !== u) yield { kind: 'edge', edge: { userId: ds.userIds[u]!, targetId: ds.userIds[target]!, kind: 'follow', timestamp: t0 } };
          }
        }
      }
      // Training interactions in time order (file order among equal times).
      const order: number[] = [];
      for (let x = 0; x < ds.size; x++) if (train.isTrain[x]) order.push(x);
      order.sort((a, b) => ds.timestamp[a]! - ds.timestamp[b]! || ds.order[a]! - ds.order[b]!);
      for (const x of order) {
        const type = ds.typeNames[ds.eventType[x]!]!;
        const spec = types.spec(types.code(type));
        const event: { userId: string; itemId: string; type: string; timestamp: number; value?: number } = {
          userId: ds.userIds[ds.user[x]!]!,
          itemId: ds.itemIds[ds.item[x]!]!,
          type,
          timestamp: ds.timestamp[x]!,
        };
        if (spec.valued) event.value = Number.isFinite(ds.value[x]) ? ds.value[x]! : 1;
        yield { kind: 'event', event };
      }
    };
    let n = 0;
    const total = ds.numItems + train.userItems.indices.length;
    await engine.importStream(records(), (done) => {
      n = done;
      options.onProgress?.(Math.min(n, total), total, 'replay training log');
    });
    await engine.trainSources({ onProgress: (source, done, total) => options.onProgress?.(done, total, `train ${source}`) });
    this.engine = engine;
    this.evalItemOf = new Int32Array(engine.store.itemIds.length).fill(-1);
    for (let i = 0; i < ds.numItems; i++) {
      const s = engine.store.itemIndex(ds.itemIds[i]!);
      if (s !== undefined) this.evalItemOf[s] = i;
    }
  }

  notes(): Record<string, string | number> {
    const engine = this.engine;
    if (!engine) return {};
    const r = engine.ranker.trained;
    const ranker = r
      ? `${r.heads.map((h) => `${h.name} ${h.model.trees.length} trees`).join(', ')}${r.report.crossValidation?.leaves ? ` of ${r.report.crossValidation.leaves.chosen} leaves (cross-validated ndcg@10 ${r.report.crossValidation.leaves.tried.map((t) => `${t.leaves} leaves ${t.ndcg.toFixed(4)}`).join(', ')})` : ''} on ${r.report.rows} rows × ${r.report.features} features of ${r.report.users} users (${r.report.seconds.toFixed(1)} s); ` +
        `held-out ndcg@${r.report.validation.k} ${r.report.validation.ndcg.toFixed(4)} (engaged head ${r.report.validation.engagedNdcg.toFixed(4)}) vs light ${r.report.validation.lightNdcg.toFixed(4)}; top features ${r.report.importance
          .slice(0, 4)
          .map((x) => x.feature)
          .join(', ')}`
      : (engine.rankerNote ?? 'off');
    const m = engine.fusion.trained;
    if (!m) return { fusion: engine.fusionNote ?? 'reciprocal-rank fusion', ranker };
    const v = m.report.validation;
    const best = Object.entries(v.sources).sort((a, b) => b[1] - a[1])[0];
    return {
      fusion:
        `learned on ${m.report.users} users (${m.report.seconds.toFixed(1)} s); held-out recall@${m.report.k} ${v.learned.toFixed(4)} ` +
        `vs rrf ${v.rrf.toFixed(4)}${best ? `, best source ${best[0]} ${best[1].toFixed(4)}` : ''}; k0 ${m.k0}, weights ` +
        Object.entries(m.weights)
          .filter(([, w]) => w > 0)
          .map(([s, w]) => `${s} ${w}`)
          .join(', '),
      ranker,
    };
  }

  async candidates(users: Int32Array, n: number, options: RecommendOptions): Promise<Map<string, Int32Array[]>> {
    const engine = this.engine;
    const train = this.train;
    if (!engine || !train) throw new Error('lenta: candidates() before fit()');
    const ds = train.dataset;
    const out = new Map<string, Int32Array[]>();
    for (let r = 0; r < users.length; r++) {
      const u = users[r]!;
      const exclude: number[] = [];
      if (options.excludeTrainItems) {
        const { offsets, indices } = train.userItems;
        for (let p = offsets[u]!; p < offsets[u + 1]!; p++) {
          const s = engine.store.itemIndex(ds.itemIds[indices[p]!]!);
          if (s !== undefined) exclude.push(s);
        }
      }
      const sets = await engine.sourceCandidates(ds.userIds[u]!, n, exclude);
      for (const [name, items] of sets) {
        let lists = out.get(name);
        if (!lists) out.set(name, (lists = []));
        const mapped: number[] = [];
        for (let k = 0; k < items.length; k++) {
          const e = this.evalItemOf[items[k]!]!;
          if (e >= 0) mapped.push(e);
        }
        lists[r] = Int32Array.from(mapped);
      }
      if (r % 100 === 0) options.onProgress?.(r, users.length);
    }
    options.onProgress?.(users.length, users.length);
    return out;
  }

  async recommend(users: Int32Array, k: number, options: RecommendOptions): Promise<Int32Array> {
    const engine = this.engine;
    const train = this.train;
    if (!engine || !train) throw new Error('lenta: recommend() before fit()');
    const ds = train.dataset;
    const out = new Int32Array(users.length * k).fill(-1);
    for (let r = 0; r < users.length; r++) {
      const u = users[r]!;
      const exclude: string[] = [];
      if (options.excludeTrainItems) {
        const { offsets, indices } = train.userItems;
        for (let p = offsets[u]!; p < offsets[u + 1]!; p++) exclude.push(ds.itemIds[indices[p]!]!);
      }
      const feed = await engine.forYouFeed(ds.userIds[u]!, { limit: k, exclude });
      let slot = 0;
      for (const it of feed.items) {
        const s = engine.store.itemIndex(it.id);
        const item = s === undefined ? -1 : this.evalItemOf[s]!;
        if (item >= 0 && train.candidates[item]) out[r * k + slot++] = item;
        if (slot >= k) break;
      }
      if (r % 100 === 0) options.onProgress?.(r, users.length);
    }
    options.onProgress?.(users.length, users.length);
    return out;
  }
}
