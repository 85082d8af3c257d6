/**
 * Embedding source (collaborative embeddings): iALS user and item factors — the same iALS as
 * the evaluation baseline (models/mf/ials.ts) — fitted on the log's positive engagements, and
 * served by maximum-inner-product search over the item factors (models/ann/mips-index.ts: a
 * hnswlib-node HNSW graph for large catalogues when the package is installed, else an exact scan).
 * A large graph (`annWorkerMinItems`, default 200,000 items) is searched in a worker thread:
 * fetch() then returns a promise and the request's other sources run while the search does.
 *
 * The user's vector is the trained factor while the user's history has no positive engagement
 * newer than the training; otherwise (new users, or users active since) it is folded in from
 * the recent history ring by solving the iALS user equation against the fixed item factors
 * (same λ and α; binary confidence, since the ring keeps no values). Folded vectors are cached
 * per user until the history changes. Items created after the training have no factor and are
 * not proposed here (fresh/popular cover them) until the next `lenta train candidates`.
 */
import { readFile, writeFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { csrFromCoordinates, mergeDuplicates, transpose, type Csr } from '../models/csr.js';
import { foldInUser, gramMatrix, IalsRecommender } from '../models/mf/ials.js';
import { ExactMipsIndex, loadHnswlib, loadHnswIndex, createMipsIndex, type MipsIndex, type MipsBuildOptions, type MipsResult } from '../models/ann/mips-index.js';
import { LOG_EVENT } from '../store/store.js';
import type { OnlineState } from '../state/online-state.js';
import { makeCandidate, type Candidate, type FeedQuery, type SourceTrainingContext, type TrainableSource } from '../pipeline/types.js';
import { requestLookups } from './ranked.js';
import type { CandidateFeatureProvider } from '../features/registry.js';
import { fillMissing } from './request-memo.js';

export interface EmbeddingOptions extends MipsBuildOptions {
  factors?: number;
  iterations?: number;
  /** λ (default 0.1, as the baseline). */
  regularization?: number;
  /** α in c = 1 + α·r (default 10). */
  alpha?: number;
  weighting?: 'binary' | 'log';
  cgSteps?: number;
  seed?: number;
  /** Folded-in user vectors kept in memory (default 10,000). */
  foldCacheSize?: number;
}

/** What training produced (and save/load move): factors, the search index, bookkeeping. */
interface Model {
  /** Row stride of the factor matrices (factors rounded up to even). */
  stride: number;
  factors: number;
  users: number;
  items: number;
  userFactors: Float32Array;
  itemFactors: Float32Array;
  /** Time of each user's newest positive engagement seen by training (−∞ for none). */
  userLastTs: Float64Array;
  /** 1 for items with a factor (at least one positive engagement in training). */
  active: Uint8Array;
  /** YᵀY + λI, for fold-in. */
  gram: Float64Array;
  alpha: number;
  lastSeq: number;
  trainedAt: number;
  index: MipsIndex;
}

interface Header {
  format: 'lenta-embedding';
  version: 1;
  factors: number;
  stride: number;
  users: number;
  items: number;
  alpha: number;
  regularization: number;
  lastSeq: number;
  trainedAt: number;
  index: MipsIndex['kind'];
}

const FILE = 'embedding';

/** The feature columns (CandidateFeatureProvider), fixed for every trained model. */
const EMBEDDING_FEATURES: readonly string[] = Object.freeze(['dot', 'cos']);

export class EmbeddingSource implements TrainableSource, CandidateFeatureProvider {
  readonly name = 'embedding';
  private model: Model | undefined;
  private readonly foldCache = new Map<number, { signature: string; vector: Float32Array | undefined }>();
  private readonly options: Required<Pick<EmbeddingOptions, 'factors' | 'iterations' | 'regularization' | 'alpha' | 'weighting' | 'cgSteps' | 'seed' | 'foldCacheSize'>> & EmbeddingOptions;

  constructor(options: EmbeddingOptions = {}) {
    this.options = {
      ...options,
      factors: options.factors ?? 64,
      iterations: options.iterations ?? 15,
      regularization: options.regularization ?? 0.1,
      alpha: options.alpha ?? 10,
      weighting: options.weighting ?? 'binary',
      cgSteps: options.cgSteps ?? 3,
      seed: options.seed ?? 42,
      foldCacheSize: options.foldCacheSize ?? 10_000,
    };
  }

  /** Whether a model is trained or loaded, and which index serves it. */
  get info(): { users: number; items: number; factors: number; index: string; lastSeq: number } | undefined {
    const m = this.model;
    return m && { users: m.users, items: m.items, factors: m.factors, index: m.index.kind, lastSeq: m.lastSeq };
  }

  enabled(q: FeedQuery): boolean {
    return q.user >= 0 && this.model !== undefined;
  }

  async train(ctx: SourceTrainingContext): Promise<void> {
    const { state, store } = ctx;
    const o = this.options;
    const progress = ctx.onProgress;
    // 1. Positive engagements from the log (user, item, value), and each user's newest one.
    const users: number[] = [];
    const items: number[] = [];
    const values: number[] = [];
    let maxUser = store.userIds.length - 1;
    let maxItem = Math.max(state.items, store.itemIds.length) - 1;
    let lastSeq = 0;
    let rowsRead = 0;
    const lastTs: number[] = [];
    for await (const chunk of store.readLog(0, 65536, false)) {
      for (let r = 0; r < chunk.length; r++) {
        if (chunk.seq[r] > lastSeq) lastSeq = chunk.seq[r];
        if (chunk.kind[r] !== LOG_EVENT) continue;
        const type = chunk.type[r];
        if (!(state.polarity[type] > 0)) continue;
        const u = chunk.user[r];
        const i = chunk.target[r];
        if (!(u >= 0) || !(i >= 0)) continue;
        const v = chunk.value[r];
        users.push(u);
        items.push(i);
        values.push(Number.isFinite(v) && v > 0 && state.types.spec(type).valued ? v : 1);
        if (u > maxUser) maxUser = u;
        if (i > maxItem) maxItem = i;
        const ts = chunk.ts[r];
        if (!(ts <= (lastTs[u] ?? -Infinity))) lastTs[u] = ts;
      }
      rowsRead += chunk.length;
      progress?.(0, o.iterations + 1, `read ${rowsRead} log rows`);
    }
    const numUsers = maxUser + 1;
    const numItems = maxItem + 1;
    const userItems = mergeDuplicates(csrFromCoordinates(numUsers, numItems, users, items, values));
    users.length = items.length = values.length = 0;
    const itemUsers = transpose(userItems);

    // 2. iALS factors (the baseline's solver).
    const ials = new IalsRecommender({
      factors: o.factors,
      iterations: o.iterations,
      regularization: o.regularization,
      alpha: o.alpha,
      weighting: o.weighting,
      cgSteps: o.cgSteps,
      seed: o.seed,
    });
    ials.fitFactors(userItems, itemUsers, undefined, { onProgress: (done, total) => progress?.(done, total + 1, `ials iteration ${done}/${total}`) });
    const stride = ials.stride;
    const active = new Uint8Array(numItems);
    for (let i = 0; i < numItems; i++) active[i] = itemUsers.offsets[i + 1] > itemUsers.offsets[i] ? 1 : 0;
    const gram = gramMatrix(ials.itemFactors, numItems, stride, o.regularization);
    const userFactors = Float32Array.from(ials.userFactors);
    const itemFactors = Float32Array.from(ials.itemFactors);
    ials.userFactors = ials.itemFactors = new Float64Array(0);
    const userLastTs = new Float64Array(numUsers).fill(-Infinity);
    for (let u = 0; u < lastTs.length; u++) if (lastTs[u] !== undefined) userLastTs[u] = lastTs[u];

    // 3. The search index.
    progress?.(o.iterations, o.iterations + 1, 'build index');
    const index = await createMipsIndex(itemFactors, stride, active, o, (d, t) => progress?.(o.iterations + d / t, o.iterations + 1, `index ${d}/${t}`));
    this.setModel({ stride, factors: o.factors, users: numUsers, items: numItems, userFactors, itemFactors, userLastTs, active, gram, alpha: o.alpha, lastSeq, trainedAt: ctx.now, index });
    progress?.(o.iterations + 1, o.iterations + 1, `${index.kind} index over ${numItems} items`);
  }

  fetch(q: FeedQuery, budget: number): Candidate[] | Promise<Candidate[]> {
    const m = this.model;
    const state = q.state;
    if (!m || q.user < 0 || !(budget > 0)) return [];
    if (state.history.size(q.user) === 0) return [];
    const vector = this.userVector(m, state, q.user);
    if (!vector) return [];
    const lookups = requestLookups.forQuery(q);
    const skip = (item: number): boolean => lookups.inHistory(item) || q.exclude.has(item) || q.seen.has(item) || q.served.has(item);
    const hint = lookups.historySize() + q.exclude.size + q.seen.size + q.served.size;
    // A graph served by a worker answers asynchronously: the request's other sources run meanwhile.
    if (m.index.searchAsync) return m.index.searchAsync(vector, Math.floor(budget), skip, hint).then((found) => this.candidates(q, found));
    return this.candidates(q, m.index.search(vector, Math.floor(budget), skip, hint));
  }

  /**
   * Feature columns (CandidateFeatureProvider): for every candidate, the inner product of the
   * user's vector (trained, or folded in from the history as fetch() does) with the item's
   * factor (`dot`, the score fetch() ranks by) and their cosine (`cos`, free of the vectors'
   * lengths, which depend on the amount of training data). NaN for a user without a vector and
   * for items without a factor. Empty before training.
   */
  featureNames(): readonly string[] {
    return this.model ? EMBEDDING_FEATURES : [];
  }

  candidateFeatures(q: FeedQuery, candidates: readonly Candidate[], out: Float32Array, stride: number, offset: number): void {
    const m = this.model;
    const vector = m && q.user >= 0 && q.state.history.size(q.user) > 0 ? this.userVector(m, q.state, q.user) : undefined;
    if (!m || !vector) return fillMissing(out, candidates.length, stride, offset, EMBEDDING_FEATURES.length);
    const f = m.factors;
    const stride2 = m.stride;
    const y = m.itemFactors;
    let uu = 0;
    for (let t = 0; t < f; t++) uu += vector[t]! * vector[t]!;
    const un = Math.sqrt(uu);
    for (let i = 0; i < candidates.length; i++) {
      const item = candidates[i]!.item;
      const row = i * stride + offset;
      if (!(item >= 0 && item < m.items && m.active[item])) {
        out[row] = out[row + 1] = NaN;
        continue;
      }
      const base = item * stride2;
      let dot = 0;
      let vv = 0;
      for (let t = 0; t < f; t++) {
        const v = y[base + t]!;
        dot += vector[t]! * v;
        vv += v * v;
      }
      out[row] = dot;
      out[row + 1] = un > 0 && vv > 0 ? dot / (un * Math.sqrt(vv)) : NaN;
    }
  }

  /** Whether fetch() answers from another thread (its graph is served by a worker). */
  get offThread(): boolean {
    return this.model?.index.searchAsync !== undefined;
  }

  private candidates(q: FeedQuery, { items, scores }: MipsResult): Candidate[] {
    const state = q.state;
    const lookups = requestLookups.forQuery(q);
    const out: Candidate[] = new Array(items.length);
    for (let k = 0; k < items.length; k++) {
      const item = items[k]!;
      const author = state.author(item);
      const score = scores[k]!;
      out[k] = makeCandidate(item, author, q.user >= 0 && author >= 0 && lookups.follows(author), { source: this.name, score, rank: k + 1 }, score);
    }
    return out;
  }

  /** Replaces the model (releasing the previous index's worker, if any). */
  /**
   * The item's trained factor (a view: do not write), or undefined when it has none — for the
   * mixer's content diversity (similar items by cosine of their factors).
   */
  itemVector(item: number): Float32Array | undefined {
    const m = this.model;
    if (!m || item < 0 || item >= m.items || m.active[item] !== 1) return undefined;
    return m.itemFactors.subarray(item * m.stride, item * m.stride + m.factors);
  }

  private setModel(model: Model): void {
    const old = this.model;
    this.model = model;
    this.foldCache.clear();
    if (old && old.index !== model.index) void old.index.close?.();
  }

  /** The trained factor when it is current, else a vector folded in from the history ring. */
  userVector(m: Model, state: OnlineState, user: number): Float32Array | undefined {
    let newest = -Infinity;
    let newestItem = -1;
    let positives = 0;
    state.history.forEachRecent(user, (item, type, ts) => {
      if (!(state.polarity[type] > 0)) return;
      if (positives++ === 0) {
        newest = ts;
        newestItem = item;
      }
    });
    if (user < m.users && !(newest > m.userLastTs[user])) {
      const v = m.userFactors.subarray(user * m.stride, user * m.stride + m.stride);
      for (let t = 0; t < v.length; t++) if (v[t] !== 0) return v;
    }
    if (positives === 0) return undefined;
    const signature = `${state.history.size(user)}:${positives}:${newest}:${newestItem}`;
    const cached = this.foldCache.get(user);
    if (cached && cached.signature === signature) return cached.vector;
    const items: number[] = [];
    const seen = new Set<number>();
    state.history.forEachRecent(user, (item, type) => {
      if (!(state.polarity[type] > 0) || seen.has(item)) return;
      seen.add(item);
      if (item < m.items && m.active[item]) items.push(item);
    });
    let vector: Float32Array | undefined;
    if (items.length > 0) {
      const x = foldInUser(m.itemFactors, m.stride, m.gram, items, new Float64Array(items.length).fill(m.alpha));
      vector = Float32Array.from(x);
      if (!vector.some((v) => v !== 0)) vector = undefined;
    }
    if (this.foldCache.size >= this.options.foldCacheSize) this.foldCache.delete(this.foldCache.keys().next().value!);
    this.foldCache.set(user, { signature, vector });
    return vector;
  }

  async save(dir: string): Promise<void> {
    const m = this.model;
    if (!m) return;
    const header: Header = {
      format: 'lenta-embedding',
      version: 1,
      factors: m.factors,
      stride: m.stride,
      users: m.users,
      items: m.items,
      alpha: m.alpha,
      regularization: this.options.regularization,
      lastSeq: m.lastSeq,
      trainedAt: m.trainedAt,
      index: m.index.kind,
    };
    await writeFile(join(dir, `${FILE}.users.f32`), bytes(m.userFactors));
    await writeFile(join(dir, `${FILE}.items.f32`), bytes(m.itemFactors));
    await writeFile(join(dir, `${FILE}.user-last-ts.f64`), bytes(m.userLastTs));
    await writeFile(join(dir, `${FILE}.active.u8`), bytes(m.active));
    await writeFile(join(dir, `${FILE}.gram.f64`), bytes(m.gram));
    const annPath = join(dir, `${FILE}.hnsw`);
    if (m.index.kind === 'hnsw') await m.index.save(annPath);
    else await rm(annPath, { force: true });
    // The header last: a directory without it (an interrupted save) does not load.
    await writeFile(join(dir, `${FILE}.json`), JSON.stringify(header, null, 2) + '\n');
  }

  async load(dir: string, ctx: SourceTrainingContext): Promise<boolean> {
    try {
      const headerPath = join(dir, `${FILE}.json`);
      if (!existsSync(headerPath)) return false;
      const h = JSON.parse(await readFile(headerPath, 'utf8')) as Partial<Header>;
      const o = this.options;
      if (h.format !== 'lenta-embedding' || h.version !== 1) return false;
      if (h.factors !== o.factors || h.alpha !== o.alpha || h.regularization !== o.regularization) return false;
      const { stride, users, items, lastSeq } = h as Header;
      if (!(stride >= h.factors) || !(users >= 0) || !(items >= 0) || !(lastSeq >= 0)) return false;
      // Dense ids only grow: a model with more users/items or a later log position is from another database.
      const counts = await ctx.store.counts();
      if (items > Math.max(ctx.state.items, ctx.store.itemIds.length) || users > ctx.store.userIds.length || lastSeq > counts.lastSeq) return false;
      const userFactors = new Float32Array(await readBuffer(join(dir, `${FILE}.users.f32`), users * stride * 4));
      const itemFactors = new Float32Array(await readBuffer(join(dir, `${FILE}.items.f32`), items * stride * 4));
      const userLastTs = new Float64Array(await readBuffer(join(dir, `${FILE}.user-last-ts.f64`), users * 8));
      const active = new Uint8Array(await readBuffer(join(dir, `${FILE}.active.u8`), items));
      const gram = new Float64Array(await readBuffer(join(dir, `${FILE}.gram.f64`), stride * stride * 8));
      let index: MipsIndex | undefined;
      const annPath = join(dir, `${FILE}.hnsw`);
      if (h.index === 'hnsw' && existsSync(annPath)) {
        const mod = await loadHnswlib();
        if (mod) {
          let activeCount = 0;
          for (let i = 0; i < items; i++) activeCount += active[i]!;
          index = await loadHnswIndex(mod, annPath, stride, items, activeCount, o);
        }
      }
      if (!index && h.index === 'hnsw' && o.ann !== 'exact') {
        // Saved with the graph but the package is missing here: rebuild (graph if possible, else exact).
        index = await createMipsIndex(itemFactors, stride, active, o);
      }
      index ??= new ExactMipsIndex(itemFactors, stride, active);
      this.setModel({ stride, factors: h.factors!, users, items, userFactors, itemFactors, userLastTs, active, gram, alpha: h.alpha!, lastSeq, trainedAt: h.trainedAt ?? 0, index });
      return true;
    } catch {
      return false;
    }
  }
}

/** Sums the values of repeated (row, column) entries (CSR rows have sorted columns). */
function bytes(a: Float32Array | Float64Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The file's bytes as an aligned ArrayBuffer; throws when the size is not `expected`. */
async function readBuffer(path: string, expected: number): Promise<ArrayBuffer> {
  const buf = await readFile(path);
  if (buf.byteLength !== expected) throw new Error(`${path}: ${buf.byteLength} bytes, expected ${expected}`);
  const out = new ArrayBuffer(expected);
  new Uint8Array(out).set(buf);
  return out;
}
