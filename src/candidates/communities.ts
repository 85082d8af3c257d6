/**
 * Communities source (as SimClusters): the user's top communities (from whom they follow and
 * what they engaged with) → the top items of each community; score = Σ_c user weight ×
 * item weight (each community's weights scaled to its top item). Trained by replay of the
 * log (models/communities), kept fresh online: every positive engagement adds the engager's
 * communities to the item's vector and the community index; a new post starts in its author's
 * community. A user whose only signal is follows gets candidates; an unknown user gets none.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CommunityModel, type CommunityModelOptions, type PositiveEvents, type SparseVector, type TrainStats } from '../models/communities/community-model.js';
import type { OnlineState } from '../state/online-state.js';
import { LOG_EVENT, type ItemRecord, type LogChunk } from '../store/store.js';
import type { Candidate, FeedQuery, SourceTrainingContext, TrainableSource } from '../pipeline/types.js';
import type { TopK } from '../models/top-k.js';
import { candidatesFromTopK, heapFor, requestLookups } from './ranked.js';
import type { CandidateFeatureProvider } from '../features/registry.js';
import { fillMissing } from './request-memo.js';

export interface CommunitySourceOptions extends Partial<CommunityModelOptions> {
  /** Posts older than this (ms) are skipped; 0 = no limit. */
  maxPostAge?: number;
}

const HEADER_FILE = 'communities.json';
const BLOB_FILE = 'communities.bin';

/** The feature columns (CandidateFeatureProvider), fixed for every trained model. */
const COMMUNITY_FEATURES: readonly string[] = Object.freeze(['score', 'overlap']);

export class CommunitySource implements TrainableSource, CandidateFeatureProvider {
  readonly name = 'communities';
  model: CommunityModel;
  lastTrain: TrainStats | undefined;
  private readonly maxPostAge: number;
  private readonly vec: SparseVector;
  private readonly updateVec: SparseVector;
  private top: TopK | undefined;

  constructor(options: CommunitySourceOptions = {}) {
    const { maxPostAge, ...model } = options;
    this.maxPostAge = maxPostAge ?? 0;
    this.model = new CommunityModel(model);
    const n = this.model.options.userCommunities;
    this.vec = { comm: new Int32Array(n), w: new Float64Array(n), n: 0 };
    this.updateVec = { comm: new Int32Array(n), w: new Float64Array(n), n: 0 };
  }

  enabled(q: FeedQuery): boolean {
    return q.user >= 0 && this.model.trained;
  }

  async train(ctx: SourceTrainingContext): Promise<void> {
    const { state, store } = ctx;
    const events = await readPositives(state, store.readLog(0, 65536, false));
    const model = new CommunityModel(this.model.options);
    this.lastTrain = model.train(state, store.userIds.length, Math.max(store.itemIds.length, state.items), events, ctx.onProgress);
    this.model = model;
  }

  async save(dir: string): Promise<void> {
    const { header, blob } = this.model.serialize();
    await writeFile(join(dir, BLOB_FILE), blob);
    await writeFile(join(dir, HEADER_FILE), JSON.stringify({ ...header, bytes: blob.byteLength }));
  }

  async load(dir: string, ctx: SourceTrainingContext): Promise<boolean> {
    const hp = join(dir, HEADER_FILE);
    const bp = join(dir, BLOB_FILE);
    if (!existsSync(hp) || !existsSync(bp)) return false;
    try {
      const header = JSON.parse(await readFile(hp, 'utf8')) as Record<string, unknown>;
      // Artifacts of another (larger) platform do not fit this state.
      if (typeof header.users !== 'number' || header.users > Math.max(ctx.store.userIds.length, ctx.state.maxUserSeen + 1)) return false;
      const blob = await readFile(bp);
      if (typeof header.bytes === 'number' && header.bytes !== blob.byteLength) return false;
      const model = new CommunityModel(this.model.options);
      if (!model.deserialize(header, blob)) return false;
      this.model = model;
      return true;
    } catch {
      return false;
    }
  }

  update(state: OnlineState, items: readonly ItemRecord[], chunk: LogChunk): void {
    const model = this.model;
    if (!model.trained) return;
    for (const it of items) model.addPrior(state, it.index, true);
    const polarity = state.polarity;
    for (let r = 0; r < chunk.length; r++) {
      if (chunk.kind[r] !== LOG_EVENT || !(polarity[chunk.type[r]] > 0)) continue;
      model.addEngagement(state, chunk.user[r], chunk.target[r], chunk.ts[r], this.updateVec);
    }
  }

  fetch(q: FeedQuery, budget: number): Candidate[] {
    const state = q.state;
    const model = this.model;
    if (q.user < 0 || !model.trained || budget <= 0) return [];
    model.userVector(state, q.user, this.vec, true);
    if (this.vec.n === 0) return [];
    const lookups = requestLookups.forQuery(q);
    const maxAge = this.maxPostAge;
    const skip = (item: number): boolean => {
      if (q.exclude.has(item) || q.seen.has(item) || q.served.has(item) || lookups.inHistory(item)) return true;
      const author = state.author(item);
      if (author === q.user && author >= 0) return true;
      if (maxAge > 0) {
        const created = state.createdAt(item);
        if (Number.isFinite(created) && q.now - created > maxAge) return true;
      }
      return author >= 0 && state.hidesAuthor(q.user, author);
    };
    const top = (this.top = heapFor(this.top, budget));
    model.retrieveTop(this.vec, top, skip);
    return candidatesFromTopK(top, this.name, q);
  }

  /**
   * Feature columns (CandidateFeatureProvider): the overlap of the user's community vector
   * (InterestedIn, as fetch() computes it) with the candidate's, for every candidate —
   * `score`: Σ_c user(c) × item(c) / (community c's top item weight), the score fetch() ranks by,
   * `overlap`: Σ_c user(c) × the share of the item's vector in c (free of the item's popularity
   * and of the amount of training data). 0 for an item outside the user's communities; NaN for
   * a user without a vector and items with no vector. Empty before training.
   */
  featureNames(): readonly string[] {
    return this.model.trained ? COMMUNITY_FEATURES : [];
  }

  candidateFeatures(q: FeedQuery, candidates: readonly Candidate[], out: Float32Array, stride: number, offset: number): void {
    const model = this.model;
    const width = COMMUNITY_FEATURES.length;
    if (q.user < 0 || !model.trained) return fillMissing(out, candidates.length, stride, offset, width);
    model.userVector(q.state, q.user, this.vec, true);
    if (this.vec.n === 0) return fillMissing(out, candidates.length, stride, offset, width);
    const scratch = this.scratch(model.count);
    // Per community of the user: its weight, and the weight over the community's top item weight.
    const { w, f } = scratch;
    for (let k = 0; k < this.vec.n; k++) {
      const c = this.vec.comm[k]!;
      w[c] = this.vec.w[k]!;
      f[c] = model.communityFactor(c, this.vec.w[k]!);
    }
    const slots = model.options.itemSlots;
    const comm = model.itemComm;
    const weight = model.itemW;
    for (let i = 0; i < candidates.length; i++) {
      const row = i * stride + offset;
      const start = model.itemSlotStart(candidates[i]!.item);
      if (start < 0) {
        out[row] = out[row + 1] = NaN;
        continue;
      }
      let score = 0;
      let overlap = 0;
      let total = 0;
      for (let s = start; s < start + slots; s++) {
        const c = comm[s]!;
        if (c < 0) continue;
        const x = weight[s]!;
        if (!(x > 0)) continue;
        total += x;
        score += f[c]! * x;
        overlap += w[c]! * x;
      }
      out[row] = total > 0 ? score : NaN;
      out[row + 1] = total > 0 ? overlap / total : NaN;
    }
    for (let k = 0; k < this.vec.n; k++) w[this.vec.comm[k]!] = f[this.vec.comm[k]!] = 0;
  }

  private scratchW = new Float64Array(0);
  private scratchF = new Float64Array(0);

  private scratch(count: number): { w: Float64Array; f: Float64Array } {
    if (this.scratchW.length < count) {
      this.scratchW = new Float64Array(count);
      this.scratchF = new Float64Array(count);
    }
    return { w: this.scratchW, f: this.scratchF };
  }
}

/** The positive engagements of the log, in log order (typed arrays, grown by doubling). */
export async function readPositives(state: OnlineState, chunks: AsyncIterable<LogChunk>): Promise<PositiveEvents> {
  let cap = 1 << 16;
  let user = new Int32Array(cap);
  let item = new Int32Array(cap);
  let ts = new Float64Array(cap);
  let n = 0;
  const polarity = state.polarity;
  for await (const chunk of chunks) {
    for (let r = 0; r < chunk.length; r++) {
      if (chunk.kind[r] !== LOG_EVENT || !(polarity[chunk.type[r]] > 0)) continue;
      if (n === cap) {
        cap *= 2;
        const u2 = new Int32Array(cap);
        u2.set(user);
        user = u2;
        const i2 = new Int32Array(cap);
        i2.set(item);
        item = i2;
        const t2 = new Float64Array(cap);
        t2.set(ts);
        ts = t2;
      }
      user[n] = chunk.user[r];
      item[n] = chunk.target[r];
      ts[n] = chunk.ts[r];
      n++;
    }
  }
  return { length: n, user: user.subarray(0, n), item: item.subarray(0, n), ts: ts.subarray(0, n) };
}
