/**
 * The ground truth of a simulated platform: every user's hidden interests and taste, every
 * post's topics, quality and author, the follow graph, and the engagement model that
 * generated the log. Evaluation asks it for the *true* probability of each engagement
 * type and the true expected value of showing a post to a user, so rankings can be scored
 * against what really drives engagement rather than against the sparse logged clicks.
 *
 * Values are stored quantised (thousandths in small integer arrays): the JSON file is
 * compact and a loaded truth answers exactly what the in-memory one answers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { defaultEngagementModel, probabilitiesInto, STYLE_DIMS, type EngagementModel, type PairFeatures } from './engagement-model.js';

export const USER_ID_PREFIX = 'u';
export const ITEM_ID_PREFIX = 'p';
export const TOPIC_TAG_PREFIX = 'topic:';
export const VIDEO_TAG = 'format:video';

/** The arrays the truth reads; the simulation's world implements this and grows it as posts appear. */
export interface TruthTables {
  readonly topics: number;
  readonly userCount: number;
  readonly itemCount: number;
  /** Relative interest of user u in topic t, in thousandths (1000 = her favourite topic): rel[u*topics + t]. */
  rel: Uint16Array;
  /** Taste of user u (unit vector, thousandths): userStyle[u*STYLE_DIMS + d]. */
  userStyle: Int16Array;
  /** Style of the posts of author a (unit vector for creators, zeros otherwise). */
  creatorStyle: Int16Array;
  /** Per-user offsets of positive / negative engagement logits, thousandths. */
  posBias: Int16Array;
  negBias: Int16Array;
  spam: Uint8Array;
  /** Accounts each user follows (current state). */
  follows: number[][];
  itemAuthor: Int32Array;
  itemTopic: Int16Array;
  /** Second topic of a post, -1 when it has one topic. */
  itemTopic2: Int16Array;
  /** ln(quality) of a post, thousandths. */
  itemLogQuality: Int16Array;
  itemVideo: Uint8Array;
}

/** Fills `f` with the features of the pair (user u, item i) as the engagement model sees them. */
export function pairFeatures(
  t: TruthTables,
  model: EngagementModel,
  u: number,
  i: number,
  position: number,
  follows: boolean,
  f: PairFeatures,
): PairFeatures {
  const base = u * t.topics;
  const t2 = t.itemTopic2[i];
  const r1 = t.rel[base + t.itemTopic[i]];
  const w2 = model.secondaryTopicWeight;
  f.affinity = t2 < 0 ? r1 / 1000 : ((1 - w2) * r1 + w2 * t.rel[base + t2]) / 1000;
  const a = t.itemAuthor[i];
  const us = u * STYLE_DIMS;
  const cs = a * STYLE_DIMS;
  let dot = 0;
  for (let d = 0; d < STYLE_DIMS; d++) dot += t.userStyle[us + d] * t.creatorStyle[cs + d];
  f.style = dot / 1e6;
  f.logQuality = t.itemLogQuality[i] / 1000;
  f.follows = follows;
  f.position = position;
  f.spam = t.spam[a] === 1;
  f.video = t.itemVideo[i] === 1;
  f.posBias = t.posBias[u] / 1000;
  f.negBias = t.negBias[u] / 1000;
  return f;
}

export function newPairFeatures(): PairFeatures {
  return { affinity: 0, style: 0, logQuality: 0, follows: false, position: 0, spam: false, video: false, posBias: 0, negBias: 0 };
}

export interface ProbabilityOptions {
  /** Position in the page (0 = top, the default): the model's position effect. */
  position?: number;
  /** Override whether the user follows the author (default: the current follow graph). */
  follows?: boolean;
}

/** Metadata saved with the truth. */
export interface TruthMeta {
  seed: number;
  start: number;
  days: number;
  [key: string]: unknown;
}

export interface TruthFile {
  format: 'lenta-sim-truth';
  version: 1;
  meta: TruthMeta;
  userIdPrefix: string;
  itemIdPrefix: string;
  topics: number;
  styleDims: number;
  model: EngagementModel;
  users: {
    count: number;
    /** Per user: [topic, relative interest in thousandths] pairs, flattened. */
    interests: number[][];
    style: number[];
    creatorStyle: number[];
    posBias: number[];
    negBias: number[];
    /** Indices of spam authors. */
    spam: number[];
    follows: number[][];
  };
  items: {
    count: number;
    author: number[];
    topic: number[];
    topic2: number[];
    logQuality: number[];
    video: number[];
  };
}

function parseIndex(id: string, prefix: string, count: number): number {
  if (!id.startsWith(prefix)) return -1;
  const rest = id.slice(prefix.length);
  if (!/^(0|[1-9]\d*)$/.test(rest)) return -1;
  const n = Number(rest);
  return n < count ? n : -1;
}

export class GroundTruth {
  private readonly feats = newPairFeatures();
  private readonly probs: Float64Array;

  constructor(
    readonly tables: TruthTables,
    readonly model: EngagementModel,
    readonly meta: TruthMeta,
  ) {
    this.probs = new Float64Array(model.types.length);
  }

  /** Engagement types the truth knows (every default type but `impression`). */
  get eventTypes(): readonly string[] {
    return this.model.types;
  }

  get userCount(): number {
    return this.tables.userCount;
  }

  get itemCount(): number {
    return this.tables.itemCount;
  }

  userId(index: number): string {
    return USER_ID_PREFIX + index;
  }

  itemId(index: number): string {
    return ITEM_ID_PREFIX + index;
  }

  /** Index of a user id, or -1 when the truth does not know it. */
  userIndex(userId: string): number {
    return parseIndex(userId, USER_ID_PREFIX, this.tables.userCount);
  }

  /** Index of an item id, or -1 when the truth does not know it. */
  itemIndex(itemId: string): number {
    return parseIndex(itemId, ITEM_ID_PREFIX, this.tables.itemCount);
  }

  hasUser(userId: string): boolean {
    return this.userIndex(userId) >= 0;
  }

  hasItem(itemId: string): boolean {
    return this.itemIndex(itemId) >= 0;
  }

  private indices(userId: string, itemId: string): [number, number] {
    const u = this.userIndex(userId);
    if (u < 0) throw new RangeError(`ground truth: unknown user "${userId}"`);
    const i = this.itemIndex(itemId);
    if (i < 0) throw new RangeError(`ground truth: unknown item "${itemId}"`);
    return [u, i];
  }

  /** Whether user `userId` currently follows `targetId`. */
  follows(userId: string, targetId: string): boolean {
    const u = this.userIndex(userId);
    const v = this.userIndex(targetId);
    return u >= 0 && v >= 0 && this.tables.follows[u].includes(v);
  }

  /** True probability of each engagement type if `itemId` is shown to `userId`. */
  probabilities(userId: string, itemId: string, options: ProbabilityOptions = {}): Record<string, number> {
    const [u, i] = this.indices(userId, itemId);
    this.compute(u, i, options);
    const out: Record<string, number> = {};
    const types = this.model.types;
    for (let k = 0; k < types.length; k++) out[types[k]] = this.probs[k];
    return out;
  }

  /** Σ weights[type] · p(type): the true value of showing the item (types missing from weights count 0). */
  expectedValue(userId: string, itemId: string, weights: Record<string, number>, options: ProbabilityOptions = {}): number {
    const [u, i] = this.indices(userId, itemId);
    this.compute(u, i, options);
    const types = this.model.types;
    let v = 0;
    for (let k = 0; k < types.length; k++) {
      const w = weights[types[k]];
      if (w !== undefined && w !== 0) v += w * this.probs[k];
    }
    return v;
  }

  /** Topic affinity of the pair in [0, 1] (the main driver of every engagement). */
  affinity(userId: string, itemId: string): number {
    const [u, i] = this.indices(userId, itemId);
    return pairFeatures(this.tables, this.model, u, i, 0, false, this.feats).affinity;
  }

  /** The user's hidden interests: topics with relative weight in (0, 1], strongest first. */
  userInterests(userId: string): { topic: number; weight: number }[] {
    const u = this.userIndex(userId);
    if (u < 0) throw new RangeError(`ground truth: unknown user "${userId}"`);
    const out: { topic: number; weight: number }[] = [];
    const T = this.tables.topics;
    for (let t = 0; t < T; t++) {
      const r = this.tables.rel[u * T + t];
      if (r > 0) out.push({ topic: t, weight: r / 1000 });
    }
    return out.sort((a, b) => b.weight - a.weight || a.topic - b.topic);
  }

  /** Topics of a post (first the main one). */
  itemTopics(itemId: string): number[] {
    const i = this.itemIndex(itemId);
    if (i < 0) throw new RangeError(`ground truth: unknown item "${itemId}"`);
    const t2 = this.tables.itemTopic2[i];
    return t2 < 0 ? [this.tables.itemTopic[i]] : [this.tables.itemTopic[i], t2];
  }

  private compute(u: number, i: number, options: ProbabilityOptions): void {
    const follows = options.follows ?? this.tables.follows[u].includes(this.tables.itemAuthor[i]);
    pairFeatures(this.tables, this.model, u, i, options.position ?? 0, follows, this.feats);
    probabilitiesInto(this.model, this.feats, this.probs);
  }

  toJSON(): TruthFile {
    const t = this.tables;
    const U = t.userCount;
    const I = t.itemCount;
    const interests: number[][] = new Array(U);
    const spam: number[] = [];
    for (let u = 0; u < U; u++) {
      const row: number[] = [];
      for (let k = 0; k < t.topics; k++) {
        const r = t.rel[u * t.topics + k];
        if (r > 0) row.push(k, r);
      }
      interests[u] = row;
      if (t.spam[u] === 1) spam.push(u);
    }
    return {
      format: 'lenta-sim-truth',
      version: 1,
      meta: this.meta,
      userIdPrefix: USER_ID_PREFIX,
      itemIdPrefix: ITEM_ID_PREFIX,
      topics: t.topics,
      styleDims: STYLE_DIMS,
      model: this.model,
      users: {
        count: U,
        interests,
        style: Array.from(t.userStyle.subarray(0, U * STYLE_DIMS)),
        creatorStyle: Array.from(t.creatorStyle.subarray(0, U * STYLE_DIMS)),
        posBias: Array.from(t.posBias.subarray(0, U)),
        negBias: Array.from(t.negBias.subarray(0, U)),
        spam,
        follows: t.follows.slice(0, U).map((f) => f.slice()),
      },
      items: {
        count: I,
        author: Array.from(t.itemAuthor.subarray(0, I)),
        topic: Array.from(t.itemTopic.subarray(0, I)),
        topic2: Array.from(t.itemTopic2.subarray(0, I)),
        logQuality: Array.from(t.itemLogQuality.subarray(0, I)),
        video: Array.from(t.itemVideo.subarray(0, I)),
      },
    };
  }

  static fromJSON(data: TruthFile): GroundTruth {
    if (data?.format !== 'lenta-sim-truth' || data.version !== 1) throw new Error('not a lenta-sim-truth file (format/version)');
    if (data.styleDims !== STYLE_DIMS) throw new Error(`truth file: styleDims ${data.styleDims} is not supported (expected ${STYLE_DIMS})`);
    if (data.userIdPrefix !== USER_ID_PREFIX || data.itemIdPrefix !== ITEM_ID_PREFIX) throw new Error('truth file: unsupported id prefixes');
    const U = data.users.count;
    const I = data.items.count;
    const T = data.topics;
    const rel = new Uint16Array(U * T);
    data.users.interests.forEach((row, u) => {
      for (let k = 0; k + 1 < row.length; k += 2) rel[u * T + row[k]] = row[k + 1];
    });
    const spam = new Uint8Array(U);
    for (const u of data.users.spam) spam[u] = 1;
    const tables: TruthTables = {
      topics: T,
      userCount: U,
      itemCount: I,
      rel,
      userStyle: Int16Array.from(data.users.style),
      creatorStyle: Int16Array.from(data.users.creatorStyle),
      posBias: Int16Array.from(data.users.posBias),
      negBias: Int16Array.from(data.users.negBias),
      spam,
      follows: data.users.follows,
      itemAuthor: Int32Array.from(data.items.author),
      itemTopic: Int16Array.from(data.items.topic),
      itemTopic2: Int16Array.from(data.items.topic2),
      itemLogQuality: Int16Array.from(data.items.logQuality),
      itemVideo: Uint8Array.from(data.items.video),
    };
    const model = { ...defaultEngagementModel(), ...data.model };
    return new GroundTruth(tables, model, data.meta);
  }

  /** Writes the truth as one JSON file. */
  saveTruth(path: string): void {
    saveTruth(this, path);
  }
}

export function saveTruth(truth: GroundTruth, path: string): void {
  writeFileSync(path, JSON.stringify(truth.toJSON()));
}

export function loadTruth(path: string): GroundTruth {
  let data: TruthFile;
  try {
    data = JSON.parse(readFileSync(path, 'utf8')) as TruthFile;
  } catch (err) {
    throw new Error(`${path}: cannot read the truth file: ${(err as Error).message}`);
  }
  try {
    return GroundTruth.fromJSON(data);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}
