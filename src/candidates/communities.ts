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

export interface CommunitySourceOptions extends Partial<CommunityModelOptions> {
  /** Posts older than this (ms) are skipped; 0 = no limit. */
  maxPostAge?: number;
}

const HEADER_FILE = 'communities.json';
const BLOB_FILE = 'communities.bin';

export class CommunitySource implements TrainableSource {
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
