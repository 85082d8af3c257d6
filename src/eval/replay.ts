/**
 * Replay evaluation on the synthetic platform: the social scenario, with a known truth.
 *
 * The platform's log up to the end of day d is written into a fresh engine (the same store,
 * state and pipeline that serve the API); at that moment every user who engaged on day d+1
 * asks for a feed. Each algorithm's page is scored
 *   - against what the user actually engaged with on day d+1 (posts that existed at the cut):
 *     recall@k, ndcg@k;
 *   - against the ground-truth model: `truth_ndcg@k` with graded gains = the true expected
 *     value of showing the post (Σ weight·p(type), clipped at 0), the ideal being the best k
 *     posts of the candidate window, and `expected_value@k` = mean true value per slot;
 *   - for the platform: in-network share of all served slots, author exposure Gini over all
 *     served slots, coverage of the candidate window, list fill (a chronological feed of a
 *     user with few follows has fewer than k posts), intra-list diversity `ild@k` (the mean
 *     tag dissimilarity, 1 − Jaccard, over the pairs of a list).
 * Algorithms: `lenta` (the For You pipeline), `lenta-relevance` (the same with every mixer
 * rule that re-scores or re-orders off: the rankers' order), `lenta-light` (the same pipeline without the
 * heavy ranker: the light ranker's candidate order), `popular` (engagement in the last day),
 * `following` (chronological feed of follows), `random` (uniform over the window).
 */
import { candidateRecall, type CandidateRecall, type SourceCandidates } from './candidate-recall.js';
import type { Csr } from '../models/csr.js';
import { parseConfig, type Config } from '../domain/config.js';
import type { LogRecord } from '../domain/types.js';
import { Engine } from '../engine.js';
import { createSimulation, type SimOptions } from '../sim/index.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { EventTypeRegistry } from '../domain/event-types.js';
import { LIGHT_RANKER_VARIANT } from '../rank/heavy-ranker.js';
import { RELEVANCE_ONLY_VARIANT } from '../pipeline/variants.js';
import { tagJaccard } from '../mix/content-diversity.js';

const DAY = 86_400_000;

export const REPLAY_ALGORITHMS = ['lenta', 'lenta-relevance', 'lenta-light', 'popular', 'following', 'random'] as const;
/** A built-in algorithm, or `variant:<name>`: the For You feed of that experiment variant (config `experiments.variants`). */
export type ReplayAlgorithm = (typeof REPLAY_ALGORITHMS)[number] | `variant:${string}`;

export interface ReplayOptions {
  sim: SimOptions;
  /** Days of training (the cut is at the end of this day); default: all days but the last. */
  trainDays?: number;
  ks?: number[];
  algorithms?: ReplayAlgorithm[];
  /** Evaluate at most this many users (the first by id order); default all. */
  maxUsers?: number;
  config?: Config;
  /** Also measure each candidate source's recall@N of the day-d+1 engagements (N = this). */
  candidates?: number;
  /** Train the trainable candidate sources on the training days (default true). */
  trainSources?: boolean;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface ReplayResult {
  preset: SimOptions;
  cut: string;
  trainEvents: number;
  testUsers: number;
  candidateWindow: number;
  ks: number[];
  results: Record<string, Record<string, number>>;
  /** With `candidates`: per-source and union candidate recall of the day-d+1 engagements. */
  candidates?: CandidateRecall;
}

export async function replayEvaluation(options: ReplayOptions): Promise<ReplayResult> {
  const ks = options.ks ?? [10, 20];
  const kMax = Math.max(...ks);
  const algorithms = options.algorithms ?? [...REPLAY_ALGORITHMS];
  const sim = createSimulation(options.sim);
  const days = sim.options.days;
  const trainDays = options.trainDays ?? days - 1;
  if (!(trainDays >= 1 && trainDays < days)) throw new RangeError(`trainDays must be in [1, ${days - 1}], got ${trainDays}`);
  const cut = sim.options.start + trainDays * DAY;
  const testEnd = cut + DAY;

  const config = options.config ?? parseConfig({});
  const types = new EventTypeRegistry(config.eventTypes);
  const store = SqliteStore.open({ path: ':memory:', types, synchronous: 'OFF' });
  let requests = 0;
  const engine = await Engine.open(config, { store, logImpressions: false, requestIds: () => `replay-${++requests}` });
  for (const a of algorithms) {
    if (a.startsWith('variant:') && !engine.variants.has(a.slice(8))) {
      throw new RangeError(`algorithm ${a}: no such variant (configured: ${config.experiments.variants.map((v) => v.name).join(', ') || 'none'})`);
    }
  }

  // Split the stream at the cut: training records go to the engine, day d+1's positive
  // engagements are the test set.
  const positiveTypes = new Set(types.specs.filter((s) => s.polarity === 'positive').map((s) => s.name));
  const itemCreated = new Map<string, number>();
  const testPositives = new Map<string, Set<string>>();
  let trainEvents = 0;
  let n = 0;
  function* training(): Iterable<LogRecord> {
    for (const r of sim.records()) {
      const ts = r.kind === 'event' ? r.event.timestamp : r.kind === 'edge' ? r.edge.timestamp : r.kind === 'item' ? (r.item.createdAt ?? 0) : (r.user.createdAt ?? 0);
      if (++n % 50_000 === 0) options.onProgress?.('simulate', Math.min(ts, testEnd) - sim.options.start, testEnd - sim.options.start);
      if (ts >= testEnd) break;
      if (ts < cut) {
        if (r.kind === 'item') itemCreated.set(r.item.id, r.item.createdAt ?? ts);
        if (r.kind === 'event') trainEvents++;
        yield r;
      } else if (r.kind === 'event' && positiveTypes.has(r.event.type) && itemCreated.has(r.event.itemId)) {
        let set = testPositives.get(r.event.userId);
        if (!set) testPositives.set(r.event.userId, (set = new Set()));
        set.add(r.event.itemId);
      }
    }
  }
  await engine.importStream(training());
  if (options.trainSources !== false) {
    await engine.trainSources({ onProgress: (source, done, total) => options.onProgress?.(`train ${source}`, done, total) });
  }
  const state = engine.state;
  const now = engine.now();

  // The candidate window: posts the platform could serve at the cut.
  const maxAge = config.feed.maxPostAge > 0 ? config.feed.maxPostAge : Infinity;
  const window: number[] = [];
  for (let i = 0; i < engine.store.itemIds.length; i++) {
    const c = state.createdAt(i);
    if (Number.isFinite(c) && now - c <= maxAge && state.author(i) >= 0) window.push(i);
  }
  const weights: Record<string, number> = {};
  for (const s of types.specs) weights[s.name] = s.weight;

  let users = [...testPositives.keys()].filter((u) => engine.store.userIndex(u) !== undefined).sort();
  if (options.maxUsers !== undefined) users = users.slice(0, options.maxUsers);

  const sums: Record<string, Record<string, number>> = {};
  const exposure: Record<string, Map<number, number>> = {};
  const distinct: Record<string, Set<number>> = {};
  for (const a of algorithms) {
    sums[a] = {};
    exposure[a] = new Map();
    distinct[a] = new Set();
  }
  const add = (a: string, key: string, v: number) => (sums[a]![key] = (sums[a]![key] ?? 0) + v);
  const rng = seeded(sim.options.seed);
  const sourceSets: SourceCandidates = new Map();
  const posOffsets = [0];
  const posItems: number[] = [];

  for (let ui = 0; ui < users.length; ui++) {
    const userId = users[ui]!;
    const user = engine.store.userIndex(userId)!;
    if (ui % 50 === 0) options.onProgress?.('serve', ui, users.length);
    const seen = new Set<number>();
    state.seen.forEachRecent(user, (item) => void seen.add(item));
    const eligible = window.filter((i) => !seen.has(i) && state.author(i) !== user && !state.hidesAuthor(user, state.author(i)));
    // True value of every eligible post, with the follow graph as it was at the cut.
    const value = new Map<number, number>();
    for (const i of eligible) {
      const author = state.author(i);
      value.set(i, sim.truth.expectedValue(userId, engine.store.itemIds[i]!, weights, { follows: state.following.has(user, author) }));
    }
    const idealGains = [...value.values()].map((v) => Math.max(0, v)).sort((a, b) => b - a);
    const positives = new Set([...testPositives.get(userId)!].map((id) => engine.store.itemIndex(id)!).filter((i) => i !== undefined));
    if (options.candidates) {
      for (const [name, items] of await engine.sourceCandidates(userId, options.candidates)) {
        let lists = sourceSets.get(name);
        if (!lists) sourceSets.set(name, (lists = []));
        lists[ui] = items;
      }
      posItems.push(...positives);
      posOffsets.push(posItems.length);
    }

    for (const a of algorithms) {
      const list = await serve(a, engine, userId, kMax, eligible, rng);
      for (const k of ks) {
        const top = list.slice(0, k);
        let hits = 0;
        let dcg = 0;
        let tdcg = 0;
        let ev = 0;
        let inNet = 0;
        top.forEach((i, r) => {
          const d = 1 / Math.log2(r + 2);
          if (positives.has(i)) {
            hits++;
            dcg += d;
          }
          const v = value.get(i) ?? trueValue(sim.truth, engine, userId, user, i, weights);
          tdcg += Math.max(0, v) * d;
          ev += v;
          if (state.following.has(user, state.author(i))) inNet++;
        });
        const m = Math.min(k, positives.size);
        let idcg = 0;
        for (let r = 0; r < m; r++) idcg += 1 / Math.log2(r + 2);
        let tidcg = 0;
        for (let r = 0; r < Math.min(k, idealGains.length); r++) tidcg += idealGains[r]! / Math.log2(r + 2);
        add(a, `recall@${k}`, m > 0 ? hits / m : 0);
        add(a, `ndcg@${k}`, idcg > 0 ? dcg / idcg : 0);
        add(a, `truth_ndcg@${k}`, tidcg > 0 ? tdcg / tidcg : 0);
        add(a, `expected_value@${k}`, top.length > 0 ? ev / k : 0);
        add(a, `in_network_slots@${k}`, inNet);
        add(a, `slots@${k}`, top.length);
        add(a, `list_fill@${k}`, top.length / k);
        // Intra-list diversity: mean dissimilarity (1 − tag Jaccard) over the list's pairs.
        let pairs = 0;
        let dissimilar = 0;
        for (let x = 0; x < top.length; x++) {
          for (let y = x + 1; y < top.length; y++) {
            pairs++;
            dissimilar += 1 - tagJaccard(state.tags(top[x]!), state.tags(top[y]!));
          }
        }
        add(a, `ild@${k}`, pairs > 0 ? dissimilar / pairs : 0);
      }
      for (const i of list.slice(0, kMax)) {
        const author = state.author(i);
        exposure[a]!.set(author, (exposure[a]!.get(author) ?? 0) + 1);
        distinct[a]!.add(i);
      }
    }
  }
  options.onProgress?.('serve', users.length, users.length);

  const authors = new Set(window.map((i) => state.author(i)));
  const results: Record<string, Record<string, number>> = {};
  for (const a of algorithms) {
    const r: Record<string, number> = {};
    for (const [key, v] of Object.entries(sums[a]!)) if (!key.includes('slots@')) r[key] = round(v / Math.max(1, users.length));
    // In-network share over all served slots (users with empty lists add nothing).
    for (const k of ks) r[`in_network_share@${k}`] = round((sums[a]![`in_network_slots@${k}`] ?? 0) / Math.max(1, sums[a]![`slots@${k}`] ?? 0));
    const counts = [...authors].map((au) => exposure[a]!.get(au) ?? 0);
    r[`author_gini@${kMax}`] = round(gini(counts));
    r[`coverage@${kMax}`] = round(distinct[a]!.size / Math.max(1, window.length));
    results[a] = r;
  }
  await engine.close();
  let candidates: CandidateRecall | undefined;
  if (options.candidates) {
    const positivesCsr: Csr = { rows: users.length, cols: engine.store.itemIds.length, offsets: Int32Array.from(posOffsets), indices: Int32Array.from(posItems), values: new Float64Array(posItems.length).fill(1) };
    candidates = candidateRecall(sourceSets, positivesCsr, options.candidates, Math.min(...ks));
  }
  return {
    candidates,
    preset: options.sim,
    cut: new Date(cut).toISOString(),
    trainEvents,
    testUsers: users.length,
    candidateWindow: window.length,
    ks,
    results,
  };
}

async function serve(algorithm: ReplayAlgorithm, engine: Engine, userId: string, k: number, eligible: number[], rng: () => number): Promise<number[]> {
  const ids = (list: { id: string }[]) => list.map((it) => engine.store.itemIndex(it.id)!);
  if (algorithm.startsWith('variant:')) return ids((await engine.forYouFeed(userId, { limit: k, variant: algorithm.slice(8) })).items);
  switch (algorithm) {
    case 'lenta':
      return ids((await engine.forYouFeed(userId, { limit: k })).items);
    case 'lenta-relevance':
      return ids((await engine.forYouFeed(userId, { limit: k, variant: RELEVANCE_ONLY_VARIANT })).items);
    case 'lenta-light':
      return ids((await engine.forYouFeed(userId, { limit: k, variant: LIGHT_RANKER_VARIANT })).items);
    case 'following':
      return ids((await engine.followingFeed(userId, { limit: k })).items);
    case 'popular': {
      const eligibleSet = new Set(eligible);
      const out: number[] = [];
      for (const id of engine.popularItemIds(100_000)) {
        const i = engine.store.itemIndex(id)!;
        if (eligibleSet.has(i)) out.push(i);
        if (out.length >= k) break;
      }
      return out;
    }
    case 'random': {
      const pool = eligible.slice();
      const out: number[] = [];
      while (out.length < k && pool.length > 0) {
        const j = Math.floor(rng() * pool.length);
        out.push(pool[j]!);
        pool[j] = pool[pool.length - 1]!;
        pool.pop();
      }
      return out;
    }
  }
  throw new RangeError(`unknown algorithm ${algorithm}`);
}

function trueValue(truth: { expectedValue: (u: string, i: string, w: Record<string, number>, o?: { follows?: boolean }) => number }, engine: Engine, userId: string, user: number, item: number, weights: Record<string, number>): number {
  return truth.expectedValue(userId, engine.store.itemIds[item]!, weights, { follows: engine.state.following.has(user, engine.state.author(item)) });
}

/** Gini coefficient of non-negative counts (0 = equal exposure, → 1 = all on one). */
export function gini(values: readonly number[]): number {
  const n = values.length;
  if (n === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const total = sorted.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  let weighted = 0;
  sorted.forEach((v, i) => (weighted += (i + 1) * v));
  return (2 * weighted) / (n * total) - (n + 1) / n;
}

function seeded(seed: number): () => number {
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

