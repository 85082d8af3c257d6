/**
 * The hidden state of the synthetic platform: accounts with latent interests, taste and
 * activity; creators with topics, quality, popularity and posting rates; posts; and the
 * follow / mute / block graph. Everything lives in typed arrays indexed by account or post
 * number (ids are `u<n>` and `p<n>`), so a 100k-account, 1M-post world stays compact.
 *
 * The follow graph mixes homophily (a user mostly follows creators of the topics she likes)
 * and preferential attachment (within a topic, half of the follows copy an earlier follow,
 * i.e. go to an account with probability proportional to its followers; the other half go
 * by the creator's intrinsic appeal).
 */
import { STYLE_DIMS, type EngagementModel } from './engagement-model.js';
import type { ResolvedSimOptions } from './options.js';
import { cumulative, type Rng } from './random.js';
import { ITEM_ID_PREFIX, USER_ID_PREFIX, type TruthTables } from './truth.js';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
/** Posts remembered per creator for in-network retrieval. */
export const RECENT_PER_CREATOR = 12;
/** Probability that a follow goes to a non-creator account with the same main interest (a "friend"). */
const FRIEND_SHARE = 0.1;
/** Probability that a follow's topic is one of the user's interests (else a popular topic). */
const HOMOPHILY = 0.85;
/** Within a topic: probability of preferential attachment (copy an earlier follow). */
const ATTACHMENT = 0.5;

export class World implements TruthTables {
  readonly topics: number;
  readonly userCount: number;
  itemCount = 0;

  // accounts
  readonly userIds: string[];
  readonly rel: Uint16Array;
  readonly userStyle: Int16Array;
  readonly creatorStyle: Int16Array;
  readonly posBias: Int16Array;
  readonly negBias: Int16Array;
  readonly spam: Uint8Array;
  /** The user's interest topics and their cumulative weights (for drawing a topic she likes). */
  readonly interestTopics: Int16Array[];
  readonly interestCum: Float64Array[];
  /** Mean-1 heavy-tailed activity multiplier. */
  readonly activity: Float64Array;
  /** When the account joins (the start for most; later for cold-start users). */
  readonly joinedAt: Float64Array;
  readonly joined: Uint8Array;
  readonly isCreator: Uint8Array;
  readonly creators: Int32Array;
  readonly creatorSlot: Int32Array;
  readonly mainTopic: Int16Array;
  readonly secondTopic: Int16Array;
  readonly creatorLogQuality: Float64Array;
  readonly postRate: Float64Array;
  readonly appeal: Float64Array;
  readonly follows: number[][];
  readonly mutes: number[][];
  readonly blocks: number[][];
  readonly followerCount: Int32Array;
  followEdges = 0;

  // posts (grown as they appear)
  itemAuthor: Int32Array;
  itemTopic: Int16Array;
  itemTopic2: Int16Array;
  itemLogQuality: Int16Array;
  itemVideo: Uint8Array;
  itemCreatedAt: Float64Array;
  /** Observed positive engagements (what the logging policy knows about a post). */
  itemPositives: Float64Array;
  itemImpressions: Int32Array;
  readonly itemIds: string[] = [];
  /**
   * Ring of each creator's latest posts: recent[slot*R + (n % R)], with their creation times
   * and observed positive engagements side by side (in-network retrieval reads only these).
   */
  readonly recent: Int32Array;
  readonly recentTime: Float64Array;
  readonly recentPositives: Float64Array;
  readonly recentCount: Int32Array;
  /** Where each post sits in its creator's ring (valid while recent[pos] === post). */
  itemRingPos: Int32Array;

  // indexes for the follow sampler
  readonly topicCum: Float64Array;
  private readonly topicCreators: Int32Array[];
  private readonly topicCreatorCum: Float64Array[];
  private readonly topicFollowed: number[][];
  private readonly topicUsers: Int32Array[];
  private readonly mark: Int32Array;
  private stamp = 0;

  constructor(
    readonly options: ResolvedSimOptions,
    readonly model: EngagementModel,
    rng: Rng,
  ) {
    const U = options.users;
    const T = options.topics;
    this.topics = T;
    this.userCount = U;
    this.userIds = new Array(U);
    for (let u = 0; u < U; u++) this.userIds[u] = USER_ID_PREFIX + u;
    this.rel = new Uint16Array(U * T);
    this.userStyle = new Int16Array(U * STYLE_DIMS);
    this.creatorStyle = new Int16Array(U * STYLE_DIMS);
    this.posBias = new Int16Array(U);
    this.negBias = new Int16Array(U);
    this.spam = new Uint8Array(U);
    this.interestTopics = new Array(U);
    this.interestCum = new Array(U);
    this.activity = new Float64Array(U);
    this.joinedAt = new Float64Array(U);
    this.joined = new Uint8Array(U);
    this.isCreator = new Uint8Array(U);
    this.creatorSlot = new Int32Array(U).fill(-1);
    this.mainTopic = new Int16Array(U).fill(-1);
    this.secondTopic = new Int16Array(U).fill(-1);
    this.creatorLogQuality = new Float64Array(U);
    this.postRate = new Float64Array(U);
    this.appeal = new Float64Array(U);
    this.follows = new Array(U);
    this.mutes = new Array(U);
    this.blocks = new Array(U);
    for (let u = 0; u < U; u++) {
      this.follows[u] = [];
      this.mutes[u] = [];
      this.blocks[u] = [];
    }
    this.followerCount = new Int32Array(U);
    this.mark = new Int32Array(U);

    // Topic popularity: a Zipf-like law over a random order of the topics.
    const order = Array.from({ length: T }, (_, t) => t);
    rng.shuffle(order);
    const topicWeight = new Float64Array(T);
    order.forEach((t, rank) => (topicWeight[t] = 1 / Math.pow(rank + 1, 0.8)));
    this.topicCum = cumulative(topicWeight);

    this.generateAccounts(rng.fork('accounts'));
    const creatorList = this.chooseCreators(rng.fork('creators'));
    this.creators = Int32Array.from(creatorList);
    this.recent = new Int32Array(Math.max(1, creatorList.length) * RECENT_PER_CREATOR).fill(-1);
    this.recentTime = new Float64Array(this.recent.length);
    this.recentPositives = new Float64Array(this.recent.length);
    this.recentCount = new Int32Array(Math.max(1, creatorList.length));

    // Indexes for follow sampling.
    this.topicCreators = [];
    this.topicCreatorCum = [];
    this.topicFollowed = [];
    this.topicUsers = [];
    const byTopic: number[][] = Array.from({ length: T }, () => []);
    const weightByTopic: number[][] = Array.from({ length: T }, () => []);
    for (const c of creatorList) {
      byTopic[this.mainTopic[c]].push(c);
      weightByTopic[this.mainTopic[c]].push(this.appeal[c]);
      const s = this.secondTopic[c];
      if (s >= 0 && s !== this.mainTopic[c]) {
        byTopic[s].push(c);
        weightByTopic[s].push(0.4 * this.appeal[c]);
      }
    }
    const usersByTopic: number[][] = Array.from({ length: T }, () => []);
    for (let u = 0; u < U; u++) if (this.joined[u] && !this.isCreator[u]) usersByTopic[this.interestTopics[u][0]].push(u);
    for (let t = 0; t < T; t++) {
      this.topicCreators.push(Int32Array.from(byTopic[t]));
      this.topicCreatorCum.push(cumulative(weightByTopic[t]));
      this.topicFollowed.push([]);
      this.topicUsers.push(Int32Array.from(usersByTopic[t]));
    }

    const expectedPosts = creatorList.reduce((s, c) => s + this.postRate[c], 0) * options.days;
    const capacity = Math.max(1024, Math.ceil(expectedPosts * 1.2));
    this.itemAuthor = new Int32Array(capacity);
    this.itemTopic = new Int16Array(capacity);
    this.itemTopic2 = new Int16Array(capacity);
    this.itemLogQuality = new Int16Array(capacity);
    this.itemVideo = new Uint8Array(capacity);
    this.itemCreatedAt = new Float64Array(capacity);
    this.itemPositives = new Float64Array(capacity);
    this.itemImpressions = new Int32Array(capacity);
    this.itemRingPos = new Int32Array(capacity);
  }

  private generateAccounts(rng: Rng): void {
    const { users: U, topics: T, newUserShare, start, warmupHours, days } = this.options;
    const lastJoin = start + Math.max(warmupHours * HOUR + 1, days * DAY * 0.85);
    for (let u = 0; u < U; u++) {
      // Interests: 1 + Poisson(1.3) distinct topics, popular topics more often, Dirichlet(1) weights.
      const k = Math.min(T, 1 + rng.poisson(1.3));
      const topics: number[] = [];
      for (let guard = 0; topics.length < k && guard < 50; guard++) {
        const t = rng.categorical(this.topicCum);
        if (!topics.includes(t)) topics.push(t);
      }
      const w = topics.map(() => rng.gamma(1));
      const max = Math.max(...w);
      const order = topics.map((_, i) => i).sort((a, b) => w[b] - w[a] || topics[a] - topics[b]);
      const sortedTopics = order.map((i) => topics[i]);
      const rels = order.map((i) => Math.max(1, Math.round((1000 * w[i]) / max)));
      for (let i = 0; i < sortedTopics.length; i++) this.rel[u * T + sortedTopics[i]] = rels[i];
      this.interestTopics[u] = Int16Array.from(sortedTopics);
      this.interestCum[u] = cumulative(rels);
      unitVector(rng, this.userStyle, u * STYLE_DIMS);
      this.posBias[u] = Math.round(400 * rng.normal());
      this.negBias[u] = Math.round(400 * rng.normal());
      this.activity[u] = rng.logNormalWithMean(1, 1.0);
      if (rng.chance(newUserShare)) {
        this.joinedAt[u] = Math.floor(start + warmupHours * HOUR + rng.next() * (lastJoin - start - warmupHours * HOUR));
      } else {
        this.joinedAt[u] = start;
        this.joined[u] = 1;
      }
    }
  }

  private chooseCreators(rng: Rng): number[] {
    const { users: U, topics: T, creatorShare, spamShare, postsPerCreatorPerDay } = this.options;
    const initial: number[] = [];
    for (let u = 0; u < U; u++) if (this.joined[u]) initial.push(u);
    rng.shuffle(initial);
    const count = Math.max(1, Math.min(initial.length - 1, Math.round(U * creatorShare)));
    const creators = initial.slice(0, count).sort((a, b) => a - b);
    creators.forEach((c, slot) => {
      this.isCreator[c] = 1;
      this.creatorSlot[c] = slot;
      const topics = this.interestTopics[c];
      const main = topics[rng.categorical(this.interestCum[c])];
      this.mainTopic[c] = main;
      let second = -1;
      if (topics.length > 1 && rng.chance(0.6)) {
        for (let guard = 0; guard < 10 && (second < 0 || second === main); guard++) second = topics[rng.int(topics.length)];
        if (second === main) second = -1;
      } else if (rng.chance(0.3) && T > 1) {
        second = rng.categorical(this.topicCum);
        if (second === main) second = -1;
      }
      this.secondTopic[c] = second;
      this.appeal[c] = rng.logNormal(0, 1.2);
      const spam = rng.chance(spamShare);
      this.spam[c] = spam ? 1 : 0;
      this.creatorLogQuality[c] = spam ? -1.5 + 0.4 * rng.normal() : 0.6 * rng.normal();
      this.postRate[c] = postsPerCreatorPerDay * rng.logNormalWithMean(1, 0.9) * (spam ? 2 : 1);
      unitVector(rng, this.creatorStyle, c * STYLE_DIMS);
    });
    return creators;
  }

  /** Topic affinity of user u for creator c's main topic, in [0, 1]. */
  topicAffinity(u: number, c: number): number {
    const t = this.mainTopic[c];
    return t < 0 ? 0 : this.rel[u * this.topics + t] / 1000;
  }

  isFollowing(u: number, v: number): boolean {
    return this.follows[u].includes(v);
  }

  addFollow(u: number, v: number): void {
    this.follows[u].push(v);
    this.followerCount[v]++;
    this.followEdges++;
    if (this.isCreator[v]) {
      this.topicFollowed[this.mainTopic[v]].push(v);
    }
  }

  removeFollow(u: number, v: number): boolean {
    const list = this.follows[u];
    const k = list.indexOf(v);
    if (k < 0) return false;
    list.splice(k, 1);
    this.followerCount[v]--;
    this.followEdges--;
    return true;
  }

  /**
   * One follow target for user u by homophily and preferential attachment, or -1.
   * `mark`/`stamp` (set by the caller through `beginPicks`) exclude accounts already chosen.
   */
  pickFollowTarget(u: number, rng: Rng, friendsToo: boolean): number {
    const T = this.topics;
    const topics = this.interestTopics[u];
    if (friendsToo && rng.chance(FRIEND_SHARE)) {
      const t = topics[rng.categorical(this.interestCum[u])];
      const pool = this.topicUsers[t];
      if (pool.length === 0) return -1;
      const v = pool[rng.int(pool.length)];
      return this.acceptable(u, v) ? v : -1;
    }
    const t = rng.chance(HOMOPHILY) || T === 1 ? topics[rng.categorical(this.interestCum[u])] : rng.categorical(this.topicCum);
    const creators = this.topicCreators[t];
    if (creators.length === 0) return -1;
    const followed = this.topicFollowed[t];
    let v: number;
    if (followed.length > 0 && rng.chance(ATTACHMENT)) v = followed[rng.int(followed.length)];
    else v = creators[rng.categorical(this.topicCreatorCum[t])];
    return this.acceptable(u, v) ? v : -1;
  }

  private acceptable(u: number, v: number): boolean {
    return v !== u && this.joined[v] === 1 && this.mark[v] !== this.stamp;
  }

  /** Starts a batch of picks for user u: her current follows, mutes and blocks are excluded. */
  beginPicks(u: number): void {
    this.stamp++;
    const s = this.stamp;
    for (const v of this.follows[u]) this.mark[v] = s;
    for (const v of this.mutes[u]) this.mark[v] = s;
    for (const v of this.blocks[u]) this.mark[v] = s;
  }

  excludePick(v: number): void {
    this.mark[v] = this.stamp;
  }

  /**
   * Initial follow graph of the accounts present at the start. Returns the edges in creation
   * order as flat (user, target) pairs: [u0, v0, u1, v1, …].
   */
  buildInitialGraph(rng: Rng): { follows: number[]; mutes: number[]; blocks: number[] } {
    const { followsPerUser } = this.options;
    const creatorCount = this.creators.length;
    const cap = Math.max(1, Math.min(1000, Math.floor(0.6 * creatorCount) + 20));
    const order: number[] = [];
    for (let u = 0; u < this.userCount; u++) if (this.joined[u]) order.push(u);
    rng.shuffle(order);
    const follows: number[] = [];
    const mutes: number[] = [];
    const blocks: number[] = [];
    for (const u of order) {
      const target = Math.min(cap, Math.round(rng.logNormalWithMean(followsPerUser, 0.9)));
      this.beginPicks(u);
      for (let attempt = 0; attempt < 3 * target && this.follows[u].length < target; attempt++) {
        const v = this.pickFollowTarget(u, rng, true);
        if (v < 0) continue;
        this.addFollow(u, v);
        this.excludePick(v);
        follows.push(u, v);
      }
    }
    // A few users mute or block a creator they do not care for.
    for (const u of order) {
      for (const [share, list, out] of [
        [0.05, this.mutes, mutes],
        [0.01, this.blocks, blocks],
      ] as const) {
        if (!rng.chance(share)) continue;
        for (let guard = 0; guard < 5; guard++) {
          const c = this.creators[rng.int(creatorCount)];
          if (c === u || this.topicAffinity(u, c) > 0.2 || this.isFollowing(u, c) || list[u].includes(c)) continue;
          list[u].push(c);
          out.push(u, c);
          break;
        }
      }
    }
    return { follows, mutes, blocks };
  }

  /** Makes room for one more post; returns its index. */
  newItem(): number {
    const i = this.itemCount;
    if (i >= this.itemAuthor.length) this.grow(Math.ceil(this.itemAuthor.length * 1.5) + 1024);
    this.itemCount = i + 1;
    this.itemIds.push(ITEM_ID_PREFIX + i);
    return i;
  }

  private grow(capacity: number): void {
    const g = <A extends Int32Array | Int16Array | Uint8Array | Float64Array>(a: A, make: (n: number) => A): A => {
      const b = make(capacity);
      b.set(a);
      return b;
    };
    this.itemAuthor = g(this.itemAuthor, (n) => new Int32Array(n));
    this.itemTopic = g(this.itemTopic, (n) => new Int16Array(n));
    this.itemTopic2 = g(this.itemTopic2, (n) => new Int16Array(n));
    this.itemLogQuality = g(this.itemLogQuality, (n) => new Int16Array(n));
    this.itemVideo = g(this.itemVideo, (n) => new Uint8Array(n));
    this.itemCreatedAt = g(this.itemCreatedAt, (n) => new Float64Array(n));
    this.itemPositives = g(this.itemPositives, (n) => new Float64Array(n));
    this.itemImpressions = g(this.itemImpressions, (n) => new Int32Array(n));
    this.itemRingPos = g(this.itemRingPos, (n) => new Int32Array(n));
  }

  /** Records a new post of creator c (created at t) in her ring of recent posts. */
  pushRecent(c: number, item: number, t: number): void {
    const slot = this.creatorSlot[c];
    const n = this.recentCount[slot];
    const pos = slot * RECENT_PER_CREATOR + (n % RECENT_PER_CREATOR);
    this.recent[pos] = item;
    this.recentTime[pos] = t;
    this.recentPositives[pos] = 0;
    this.itemRingPos[item] = pos;
    this.recentCount[slot] = n + 1;
  }

  /** Counts one observed positive engagement on a post. */
  addPositive(item: number): void {
    this.itemPositives[item]++;
    const pos = this.itemRingPos[item];
    if (this.recent[pos] === item) this.recentPositives[pos]++;
  }
}

/** A random unit vector (thousandths) written at out[offset .. offset+STYLE_DIMS). */
function unitVector(rng: Rng, out: Int16Array, offset: number): void {
  const v = new Array<number>(STYLE_DIMS);
  let norm = 0;
  for (let d = 0; d < STYLE_DIMS; d++) {
    v[d] = rng.normal();
    norm += v[d] * v[d];
  }
  norm = Math.sqrt(norm) || 1;
  for (let d = 0; d < STYLE_DIMS; d++) out[offset + d] = Math.round((1000 * v[d]) / norm);
}
