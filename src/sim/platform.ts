/**
 * The synthetic platform: a seeded simulation of a social feed that writes the same record
 * stream a real deployment would send to Lenta — accounts, posts, follows/mutes/blocks, and
 * for every feed request the impressions (with request id, position and the logging
 * policy's propensity) and the engagements drawn from a known ground-truth model.
 *
 * Order of the stream: the accounts present at the start, the initial follow / mute /
 * block graph (all at the start time), then every simulated day in time order — accounts
 * joining (cold-start users), new posts, organic follows and unfollows, and the feed
 * sessions' impressions and engagements. Records never go back in time.
 *
 * A day is planned as a list of actions (posts and sessions at diurnal times, joins,
 * follow changes) executed in time order. A session is one or more page requests: the
 * logging policy (logging-policy.ts) builds the user's in-network and out-of-network pools
 * once, serves a page, and the user loads another page with some probability (more after
 * engaging); a follow, unfollow, mute or block ends the session. Every served post gets
 * an impression; each engagement type is drawn from the ground-truth model
 * (engagement-model.ts) and logged a little later with the same request id and position.
 *
 * Nothing is kept per event: the generator holds the world (accounts, posts, graph, what
 * each user saw in the candidate window) and a time-ordered queue of the records of the
 * sessions still in progress, so the `bench` preset's ten million events stream in
 * constant memory per event.
 */
import type { EventContext, LogRecord } from '../domain/types.js';
import { drawDwellMs, drawEngagements, drawPlaySeconds, drawStars, defaultEngagementModel, type EngagementModel } from './engagement-model.js';
import { CandidatePool, SharedPool, newPageBuffer, samplePage, type PageBuffer } from './logging-policy.js';
import { resolveSimOptions, type ResolvedSimOptions, type SimOptions } from './options.js';
import { Rng, cumulative } from './random.js';
import { RecordQueue } from './record-queue.js';
import { TextGenerator } from './text.js';
import { GroundTruth, TOPIC_TAG_PREFIX, VIDEO_TAG, newPairFeatures, pairFeatures } from './truth.js';
import { DAY, HOUR, RECENT_PER_CREATOR, World } from './world.js';

export interface SimStats {
  /** Account records generated. */
  users: number;
  /** Posts generated. */
  items: number;
  /** Edge records generated: follows, unfollows (follow removals), mutes, blocks. */
  edges: { follow: number; unfollow: number; mute: number; block: number };
  /** Events generated per type (impression included). */
  events: Record<string, number>;
  /** Feed sessions (a session is one or more page requests). */
  sessions: number;
  /** Page requests served (each has its own request id). */
  requests: number;
  /** Records emitted so far. */
  records: number;
  /** Simulated time reached (epoch ms). */
  now: number;
  /** Share of the simulated period done, in [0, 1]. */
  progress: number;
}

export interface Simulation {
  readonly options: ResolvedSimOptions;
  /** The hidden truth; it grows with the posts as the records are generated. */
  readonly truth: GroundTruth;
  readonly stats: SimStats;
  /** The record stream, in time order. Can be iterated once. */
  records(): Iterable<LogRecord>;
}

/** Posts of followed accounts considered per request, and per followed account (the newest). */
const MAX_IN_NETWORK = 300;
const MAX_IN_NETWORK_PER_AUTHOR = 8;
/** Trending posts kept for out-of-network retrieval, and the newest posts added to them. */
const TRENDING_SIZE = 300;
const FRESH_SIZE = 100;
const TRENDING_REFRESH_MS = 2 * HOUR;
/** Pages per session at most, and the chance to load one more page (after a page with / without positive engagement). */
const MAX_PAGES_PER_SESSION = 6;
const CONTINUE = 0.4;
const CONTINUE_AFTER_ENGAGING = 0.65;
/** Sessions per user per day at most. */
const MAX_SESSIONS_PER_DAY = 48;
/** Daily rates of organic follow changes. */
const DAILY_FOLLOW_RATE = 0.01;
const DAILY_UNFOLLOW_RATE = 0.002;
/** Consequences of negative feedback. */
const MUTE_AFTER_HIDE = 0.15;
const BLOCK_AFTER_REPORT = 0.3;
const UNFOLLOW_AFTER_NOT_INTERESTED = 0.1;

/** Positive engagements that the logging policy counts as popularity. */
const POPULARITY_TYPES = new Set(['click', 'like', 'reply', 'repost', 'share', 'bookmark']);

/** Delay of each engagement after its impression: [minimum ms, random extra ms]. */
const DELAYS: Record<string, [number, number]> = {
  click: [800, 3000],
  like: [1500, 15000],
  reply: [10000, 60000],
  repost: [2000, 20000],
  share: [3000, 30000],
  bookmark: [2000, 20000],
  profile_click: [1000, 8000],
  follow_author: [3000, 20000],
  not_interested: [1000, 8000],
  hide: [1000, 8000],
  report: [3000, 20000],
  rating: [5000, 30000],
  play: [500, 2000],
};

const enum Action {
  Join = 0,
  Post = 1,
  Follow = 2,
  Unfollow = 3,
  Session = 4,
}

/** A day's actions (time in the day, kind, account), sorted by time. */
class DayPlan {
  time = new Float64Array(1024);
  kind = new Uint8Array(1024);
  who = new Int32Array(1024);
  n = 0;

  clear(): void {
    this.n = 0;
  }

  add(time: number, kind: Action, who: number): void {
    if (this.n === this.time.length) {
      const cap = this.n * 2;
      const time = new Float64Array(cap);
      time.set(this.time);
      this.time = time;
      const kind = new Uint8Array(cap);
      kind.set(this.kind);
      this.kind = kind;
      const who = new Int32Array(cap);
      who.set(this.who);
      this.who = who;
    }
    this.time[this.n] = time;
    this.kind[this.n] = kind;
    this.who[this.n] = who;
    this.n++;
  }

  /** Indices of the actions by (time, insertion order). */
  order(): Int32Array {
    let m = 1;
    while (m < this.n) m *= 2;
    const keys = new Float64Array(this.n);
    for (let i = 0; i < this.n; i++) keys[i] = this.time[i] * m + i;
    keys.sort();
    const out = new Int32Array(this.n);
    for (let i = 0; i < this.n; i++) out[i] = keys[i] % m;
    return out;
  }
}

export function createSimulation(input: SimOptions): Simulation {
  const options = resolveSimOptions(input);
  return new PlatformSimulation(options, defaultEngagementModel());
}

/** The record stream of a simulation (shorthand for `createSimulation(options).records()`). */
export function simulate(options: SimOptions): Iterable<LogRecord> {
  return createSimulation(options).records();
}

class PlatformSimulation implements Simulation {
  readonly truth: GroundTruth;
  readonly stats: SimStats;
  private readonly world: World;
  private readonly rootRng: Rng;
  private started = false;

  // per-type bookkeeping
  private readonly typeNames: string[];
  private readonly typeCounts: Float64Array;
  private impressions = 0;

  constructor(
    readonly options: ResolvedSimOptions,
    private readonly model: EngagementModel,
  ) {
    this.rootRng = new Rng(options.seed, 'lenta-sim');
    this.world = new World(options, model, this.rootRng.fork('world'));
    const { seed, start, days, ...rest } = options;
    this.truth = new GroundTruth(this.world, model, { seed, start, days, ...rest });
    this.typeNames = model.types.slice();
    this.typeCounts = new Float64Array(model.types.length);
    const sim = this;
    const events: Record<string, number> = {};
    this.stats = {
      users: 0,
      items: 0,
      edges: { follow: 0, unfollow: 0, mute: 0, block: 0 },
      get events(): Record<string, number> {
        events.impression = sim.impressions;
        sim.typeNames.forEach((t, k) => (events[t] = sim.typeCounts[k]));
        return events;
      },
      sessions: 0,
      requests: 0,
      records: 0,
      now: start,
      progress: 0,
    };
  }

  records(): Iterable<LogRecord> {
    if (this.started) throw new Error('a simulation can be iterated once; create a new one for another pass');
    this.started = true;
    return this.generate();
  }

  private *generate(): Generator<LogRecord> {
    const { options, world, stats } = this;
    const { start, days } = options;
    const graphRng = this.rootRng.fork('graph');
    const initial = world.buildInitialGraph(graphRng);

    for (let u = 0; u < world.userCount; u++) {
      if (!world.joined[u]) continue;
      stats.users++;
      stats.records++;
      yield { kind: 'user', user: { id: world.userIds[u], createdAt: start } };
    }
    for (const [kind, list] of [
      ['follow', initial.follows],
      ['mute', initial.mutes],
      ['block', initial.blocks],
    ] as const) {
      for (let k = 0; k < list.length; k += 2) {
        stats.edges[kind]++;
        stats.records++;
        yield { kind: 'edge', edge: { userId: world.userIds[list[k]], targetId: world.userIds[list[k + 1]], kind, timestamp: start } };
      }
    }

    const day = new DayRunner(this, world, options, this.model);
    const queue = day.queue;
    for (let d = 0; d < days; d++) {
      const dayStart = start + d * DAY;
      const plan = day.plan(d);
      const order = plan.order();
      for (let j = 0; j < order.length; j++) {
        const a = order[j];
        const t = dayStart + plan.time[a];
        while (queue.size > 0 && queue.peekTime() <= t) {
          stats.records++;
          yield queue.pop();
        }
        stats.now = t;
        stats.progress = (t - start) / (days * DAY);
        day.act(plan.kind[a], plan.who[a], t);
      }
    }
    while (queue.size > 0) {
      stats.records++;
      const r = queue.pop();
      if (r.kind === 'event') stats.now = r.event.timestamp;
      yield r;
    }
    stats.progress = 1;
  }

  /** Bookkeeping hooks for the day runner. */
  countType(k: number): void {
    this.typeCounts[k]++;
  }

  countImpression(): void {
    this.impressions++;
  }
}

/** Runs the days of one simulation: plans actions, executes them, fills the record queue. */
class DayRunner {
  readonly queue = new RecordQueue();
  private readonly planRng: Rng;
  private readonly postRng: Rng;
  private readonly policyRng: Rng;
  private readonly engageRng: Rng;
  private readonly edgeRng: Rng;
  private readonly text: TextGenerator | null;
  private readonly dayPlan = new DayPlan();
  private readonly hourCum: Float64Array;
  private readonly firstDayHourCum: Float64Array;
  private readonly warmupMs: number;
  private readonly windowMs: number;

  // request state
  private readonly inPool = new CandidatePool(MAX_IN_NETWORK);
  private readonly outPool: SharedPool;
  private readonly page: PageBuffer;
  private readonly followMark: Int32Array;
  private readonly hiddenMark: Int32Array;
  private readonly excludedMark: Int32Array;
  private itemMark = new Int32Array(1024);
  /** Per slot of the creators' rings of recent posts: seen by the current request's user. */
  private readonly ringMark: Int32Array;
  private stamp = 0;
  private readonly seen: number[][];
  private readonly sessionEnd: Float64Array;
  private windowStart = 0;
  private requests = 0;
  private readonly trending = new Int32Array(TRENDING_SIZE + FRESH_SIZE);
  private readonly trendingAuthor = new Int32Array(TRENDING_SIZE + FRESH_SIZE);
  private readonly trendingWeight = new Float64Array(TRENDING_SIZE + FRESH_SIZE);
  private trendingAt = -Infinity;
  /** Oldest post index the shared out-of-network list may hold (the window start at its refresh). */
  private trendingFloor = 0;

  // engagement model scratch
  private readonly feats = newPairFeatures();
  private readonly hits: Uint8Array;
  private readonly typeIndex: Record<string, number> = {};
  private readonly delayBase: Float64Array;
  private readonly delaySpread: Float64Array;
  private readonly popularity: Uint8Array;

  constructor(
    private readonly sim: PlatformSimulation,
    private readonly world: World,
    private readonly options: ResolvedSimOptions,
    private readonly model: EngagementModel,
  ) {
    const root = new Rng(options.seed, 'lenta-sim-days');
    this.planRng = root.fork('plan');
    this.postRng = root.fork('posts');
    this.policyRng = root.fork('policy');
    this.engageRng = root.fork('engage');
    this.edgeRng = root.fork('edges');
    this.text = options.text ? new TextGenerator(options.topics, root.fork('vocabulary')) : null;
    this.page = newPageBuffer(options.pageSize);
    this.followMark = new Int32Array(world.userCount);
    this.hiddenMark = new Int32Array(world.userCount);
    this.excludedMark = new Int32Array(world.userCount);
    this.ringMark = new Int32Array(world.recent.length);
    this.outPool = new SharedPool(world.userCount, TRENDING_SIZE + FRESH_SIZE);
    this.seen = Array.from({ length: world.userCount }, () => []);
    this.sessionEnd = new Float64Array(world.userCount);
    this.warmupMs = options.warmupHours * HOUR;
    this.windowMs = options.candidateWindowHours * HOUR;

    // Diurnal activity: busiest around 20:00 UTC, quietest around 08:00.
    const hourWeight = new Float64Array(24);
    for (let h = 0; h < 24; h++) hourWeight[h] = 1 + 0.6 * Math.cos((2 * Math.PI * (h + 0.5 - 20)) / 24);
    this.hourCum = cumulative(hourWeight);
    const first = new Float64Array(24);
    for (let h = 0; h < 24; h++) {
      const open = Math.max(0, Math.min(HOUR, (h + 1) * HOUR - this.warmupMs)) / HOUR;
      first[h] = hourWeight[h] * open;
    }
    this.firstDayHourCum = cumulative(first);

    const K = model.types.length;
    this.hits = new Uint8Array(K);
    this.delayBase = new Float64Array(K);
    this.delaySpread = new Float64Array(K);
    this.popularity = new Uint8Array(K);
    model.types.forEach((t, k) => {
      this.typeIndex[t] = k;
      const d = DELAYS[t] ?? [1000, 10000];
      this.delayBase[k] = d[0];
      this.delaySpread[k] = d[1];
      this.popularity[k] = POPULARITY_TYPES.has(t) ? 1 : 0;
    });
  }

  /** A time of day (ms) drawn from the diurnal profile; on the first day, after the warm-up. */
  private timeOfDay(rng: Rng, firstDay: boolean): number {
    const h = rng.categorical(firstDay ? this.firstDayHourCum : this.hourCum);
    const lo = firstDay ? Math.max(h * HOUR, this.warmupMs) : h * HOUR;
    const hi = (h + 1) * HOUR;
    return Math.floor(lo + rng.next() * (hi - lo));
  }

  plan(day: number): DayPlan {
    const { world, options, planRng: rng } = this;
    const plan = this.dayPlan;
    plan.clear();
    const dayStart = options.start + day * DAY;
    const dayEnd = dayStart + DAY;
    // Accounts joining today.
    let present = 0;
    for (let u = 0; u < world.userCount; u++) {
      const j = world.joinedAt[u];
      if (!world.joined[u] && j >= dayStart && j < dayEnd) plan.add(j - dayStart, Action.Join, u);
      if (j < dayEnd) present++;
    }
    // Posts: every creator posts Poisson(rate) times (posting starts at once, before the warm-up ends).
    for (let s = 0; s < world.creators.length; s++) {
      const c = world.creators[s];
      const n = rng.poisson(world.postRate[c]);
      for (let k = 0; k < n; k++) plan.add(this.timeOfDay(rng, false), Action.Post, c);
    }
    // Feed sessions by activity.
    const perDay = options.sessionsPerDay;
    for (let u = 0; u < world.userCount; u++) {
      const joinAt = world.joinedAt[u];
      if (joinAt >= dayEnd) continue;
      const n = Math.min(MAX_SESSIONS_PER_DAY, rng.poisson(perDay * world.activity[u]));
      for (let k = 0; k < n; k++) {
        const t = this.timeOfDay(rng, day === 0);
        if (dayStart + t > joinAt) plan.add(t, Action.Session, u);
      }
    }
    // Organic follow changes (outside the feed).
    const follows = rng.poisson(present * DAILY_FOLLOW_RATE);
    for (let k = 0; k < follows; k++) plan.add(this.timeOfDay(rng, false), Action.Follow, rng.int(world.userCount));
    const unfollows = rng.poisson(world.followEdges * DAILY_UNFOLLOW_RATE);
    for (let k = 0; k < unfollows; k++) plan.add(this.timeOfDay(rng, false), Action.Unfollow, rng.int(world.userCount));
    return plan;
  }

  act(kind: number, who: number, t: number): void {
    switch (kind) {
      case Action.Join:
        this.join(who, t);
        break;
      case Action.Post:
        this.post(who, t);
        break;
      case Action.Follow:
        this.organicFollow(who, t);
        break;
      case Action.Unfollow:
        this.organicUnfollow(who, t);
        break;
      default:
        this.session(who, t);
    }
  }

  private edge(kind: 'follow' | 'mute' | 'block', u: number, v: number, t: number, removed = false): void {
    const { world, sim } = this;
    if (removed) sim.stats.edges.unfollow++;
    else sim.stats.edges[kind]++;
    const edge = removed
      ? { userId: world.userIds[u], targetId: world.userIds[v], kind, timestamp: t, removed: true }
      : { userId: world.userIds[u], targetId: world.userIds[v], kind, timestamp: t };
    this.queue.push(t, { kind: 'edge', edge });
  }

  private join(u: number, t: number): void {
    const { world, options, edgeRng: rng } = this;
    world.joined[u] = 1;
    this.sim.stats.users++;
    this.queue.push(t, { kind: 'user', user: { id: world.userIds[u], createdAt: t } });
    // Onboarding: a few follows suggested by interests and popularity.
    const n = Math.max(1, Math.round(rng.logNormalWithMean(Math.max(1, options.followsPerUser * 0.3), 0.7)));
    world.beginPicks(u);
    let made = 0;
    for (let attempt = 0; attempt < 3 * n && made < n; attempt++) {
      const v = world.pickFollowTarget(u, rng, false);
      if (v < 0) continue;
      world.addFollow(u, v);
      world.excludePick(v);
      made++;
      this.edge('follow', u, v, t + made);
    }
  }

  private post(c: number, t: number): void {
    const { world, options, postRng: rng } = this;
    const i = world.newItem();
    if (i >= this.itemMark.length) {
      const m = new Int32Array(Math.max(1024, this.itemMark.length * 2));
      m.set(this.itemMark);
      this.itemMark = m;
    }
    const main = world.mainTopic[c];
    const second = world.secondTopic[c];
    const T = options.topics;
    const r = rng.next();
    const t1 = r < 0.72 || T === 1 ? main : r < 0.92 && second >= 0 ? second : rng.int(T);
    let t2 = -1;
    if (T > 1 && rng.chance(0.3)) {
      t2 = t1 === main && second >= 0 ? second : t1 === main ? rng.int(T) : main;
      if (t2 === t1) t2 = -1;
    }
    const video = rng.chance(options.videoShare);
    const lq = Math.max(-3000, Math.min(3000, Math.round(1000 * (world.creatorLogQuality[c] + 0.35 * rng.normal()))));
    world.itemAuthor[i] = c;
    world.itemTopic[i] = t1;
    world.itemTopic2[i] = t2;
    world.itemLogQuality[i] = lq;
    world.itemVideo[i] = video ? 1 : 0;
    world.itemCreatedAt[i] = t;
    world.itemPositives[i] = 0;
    world.itemImpressions[i] = 0;
    world.pushRecent(c, i, t);
    const tags = [TOPIC_TAG_PREFIX + t1];
    if (t2 >= 0) tags.push(TOPIC_TAG_PREFIX + t2);
    if (video) tags.push(VIDEO_TAG);
    const item: { id: string; authorId: string; createdAt: number; tags: string[]; text?: string } = {
      id: world.itemIds[i],
      authorId: world.userIds[c],
      createdAt: t,
      tags,
    };
    if (this.text) item.text = this.text.post(rng, t1, t2);
    this.sim.stats.items++;
    this.queue.push(t, { kind: 'item', item });
  }

  private organicFollow(u: number, t: number): void {
    const { world, edgeRng: rng } = this;
    if (!world.joined[u] || t < this.sessionEnd[u]) return;
    world.beginPicks(u);
    for (let attempt = 0; attempt < 3; attempt++) {
      const v = world.pickFollowTarget(u, rng, true);
      if (v < 0) continue;
      world.addFollow(u, v);
      this.edge('follow', u, v, t);
      return;
    }
  }

  private organicUnfollow(u: number, t: number): void {
    const { world, edgeRng: rng } = this;
    const list = world.follows[u];
    if (list.length === 0 || t < this.sessionEnd[u]) return;
    const v = list[rng.int(list.length)];
    const affinity = world.isCreator[v] ? world.topicAffinity(u, v) : 0.5;
    if (!rng.chance(1 - 0.8 * affinity)) return;
    world.removeFollow(u, v);
    this.edge('follow', u, v, t, true);
  }

  private refreshTrending(t: number): void {
    const { world } = this;
    const ids = this.trending;
    const w = this.trendingWeight;
    let size = 0;
    // A min-heap on weight of the best TRENDING_SIZE recent posts.
    for (let i = this.windowStart; i < world.itemCount; i++) {
      const age = 1 + (t - world.itemCreatedAt[i]) / (12 * HOUR);
      const score = (1 + world.itemPositives[i]) / (age * age);
      if (size < TRENDING_SIZE) {
        let k = size++;
        while (k > 0) {
          const p = (k - 1) >> 1;
          if (w[p] <= score) break;
          w[k] = w[p];
          ids[k] = ids[p];
          k = p;
        }
        w[k] = score;
        ids[k] = i;
      } else if (score > w[0]) {
        let k = 0;
        for (;;) {
          const l = 2 * k + 1;
          if (l >= size) break;
          const r = l + 1;
          const c = r < size && w[r] < w[l] ? r : l;
          if (w[c] >= score) break;
          w[k] = w[c];
          ids[k] = ids[c];
          k = c;
        }
        w[k] = score;
        ids[k] = i;
      }
    }
    // The newest posts join the list whatever their score (fresh content gets a chance).
    const itemMark = this.itemMark;
    const stamp = ++this.stamp;
    for (let k = 0; k < size; k++) itemMark[ids[k]] = stamp;
    const freshEnd = Math.max(this.windowStart, world.itemCount - FRESH_SIZE);
    for (let i = world.itemCount - 1; i >= freshEnd; i--) {
      if (itemMark[i] === stamp) continue;
      ids[size] = i;
      w[size] = 1 + world.itemPositives[i];
      size++;
    }
    const authors = this.trendingAuthor;
    for (let k = 0; k < size; k++) authors[k] = world.itemAuthor[ids[k]];
    this.outPool.set(ids, authors, w, size, world.itemCount);
    this.trendingAt = t;
    this.trendingFloor = this.windowStart;
  }

  private session(u: number, t: number): void {
    const { world, sim, options } = this;
    if (t < this.sessionEnd[u]) return; // one session at a time per user
    const oldest = t - this.windowMs;
    while (this.windowStart < world.itemCount && world.itemCreatedAt[this.windowStart] < oldest) this.windowStart++;
    if (t - this.trendingAt >= TRENDING_REFRESH_MS) this.refreshTrending(t);
    const wStart = this.windowStart;
    const stamp = ++this.stamp;
    const followMark = this.followMark;
    const hiddenMark = this.hiddenMark;
    const excluded = this.excludedMark;
    const itemMark = this.itemMark;
    const outPool = this.outPool;
    const author = world.itemAuthor;
    // Out-of-network exclusions: own posts, followed, muted and blocked accounts (weights summed once per account).
    let exWeight = outPool.authorWeight(u);
    let exCount = outPool.authorCount(u);
    excluded[u] = stamp;
    const follows = world.follows[u];
    for (let k = 0; k < follows.length; k++) {
      const v = follows[k];
      followMark[v] = stamp;
      if (excluded[v] !== stamp) {
        excluded[v] = stamp;
        exWeight += outPool.authorWeight(v);
        exCount += outPool.authorCount(v);
      }
    }
    for (const list of [world.mutes[u], world.blocks[u]]) {
      for (let k = 0; k < list.length; k++) {
        const v = list[k];
        hiddenMark[v] = stamp;
        if (excluded[v] !== stamp) {
          excluded[v] = stamp;
          exWeight += outPool.authorWeight(v);
          exCount += outPool.authorCount(v);
        }
      }
    }
    // What the user saw recently is never served again; forget posts that no pool can hold any more.
    const seen = this.seen[u];
    const floor = Math.min(wStart, this.trendingFloor);
    let keep = 0;
    const recent = world.recent;
    const ringPos = world.itemRingPos;
    const ringMark = this.ringMark;
    for (let k = 0; k < seen.length; k++) {
      const it = seen[k];
      if (it < floor) continue;
      itemMark[it] = stamp;
      const rp = ringPos[it];
      if (recent[rp] === it) ringMark[rp] = stamp;
      seen[keep++] = it;
      const w = outPool.itemWeight(it);
      if (w >= 0 && excluded[author[it]] !== stamp) {
        exWeight += w;
        exCount++;
      }
    }
    seen.length = keep;
    outPool.begin(itemMark, excluded, stamp, exWeight, exCount);

    // In-network candidates: recent posts of followed creators, newer and more popular first.
    const inPool = this.inPool;
    inPool.clear();
    const recentTime = world.recentTime;
    const recentPositives = world.recentPositives;
    const creatorSlot = world.creatorSlot;
    const halfDay = 12 * HOUR;
    outer: for (let k = 0; k < follows.length; k++) {
      const v = follows[k];
      const slot = creatorSlot[v];
      if (slot < 0 || hiddenMark[v] === stamp) continue;
      const n = world.recentCount[slot];
      const lo = Math.max(0, n - MAX_IN_NETWORK_PER_AUTHOR);
      const base = slot * RECENT_PER_CREATOR;
      for (let j = n - 1; j >= lo; j--) {
        const p = base + (j % RECENT_PER_CREATOR);
        const created = recentTime[p];
        if (created < oldest) break;
        if (ringMark[p] === stamp) continue; // seen (marked through the ring: no random access per candidate)
        inPool.push(recent[p], (1 + 0.2 * recentPositives[p]) / (1 + (t - created) / halfDay));
        if (inPool.size >= MAX_IN_NETWORK) break outer;
      }
    }
    inPool.build();

    // The session: one page, then more pages while the user keeps scrolling (more likely after engaging).
    let ts = t;
    let end = t;
    for (let p = 0; p < MAX_PAGES_PER_SESSION; p++) {
      if (p > 0) {
        // A follow, unfollow, mute or block ends the session: the next request sees the new graph.
        if (this.graphChanged) break;
        if (!this.engageRng.chance(this.pageEngaged ? CONTINUE_AFTER_ENGAGING : CONTINUE)) break;
        ts += 2000 + Math.floor(this.engageRng.next() * 4000);
      }
      const count = samplePage(inPool, this.outPool, options.pageSize, options.inNetworkShare, options.exploration, this.policyRng, this.page);
      if (count === 0) break;
      if (p === 0) sim.stats.sessions++;
      sim.stats.requests++;
      end = Math.max(end, this.servePage(u, ts, stamp, count));
      ts = this.pageLastImpression;
    }
    this.sessionEnd[u] = end + 1;
  }

  private pageEngaged = false;
  private pageLastImpression = 0;
  private graphChanged = false;

  /** Logs one served page (impressions at t, t + a few seconds, …) and draws its engagements; returns the last timestamp. */
  private servePage(u: number, t: number, stamp: number, count: number): number {
    const { world, sim, model, page } = this;
    const followMark = this.followMark;
    const hiddenMark = this.hiddenMark;
    const author = world.itemAuthor;
    const seen = this.seen[u];
    const rng = this.engageRng;
    const requestId = 'r' + ++this.requests;
    const userId = world.userIds[u];
    const types = model.types;
    const feats = this.feats;
    const hits = this.hits;
    const ti = this.typeIndex;
    let ts = t;
    let end = t;
    let engaged = false;
    this.graphChanged = false;
    for (let pos = 0; pos < count; pos++) {
      const it = page.items[pos];
      if (pos > 0) ts += 1000 + Math.floor(rng.next() * 5000);
      const a = author[it];
      const itemId = world.itemIds[it];
      const context: EventContext = {
        requestId,
        position: pos,
        propensity: page.propensity[pos],
        source: page.inNetwork[pos] ? 'in_network' : 'out_of_network',
      };
      this.queue.push(ts, { kind: 'event', event: { userId, itemId, type: 'impression', timestamp: ts, context } });
      sim.countImpression();
      seen.push(it);
      world.itemImpressions[it]++;
      if (ts > end) end = ts;

      const following = followMark[a] === stamp;
      pairFeatures(world, model, u, it, pos, following, feats);
      if (drawEngagements(model, feats, rng, hits) === 0) continue;
      for (let k = 0; k < types.length; k++) {
        if (!hits[k]) continue;
        const type = types[k];
        let value: number | undefined;
        let ets: number;
        if (k === ti.dwell) {
          value = drawDwellMs(rng, feats, hits[ti.click] === 1);
          ets = ts + value;
        } else {
          ets = ts + this.delayBase[k] + Math.floor(rng.next() * this.delaySpread[k]);
          if (k === ti.rating) value = drawStars(rng, feats);
          else if (k === ti.play) value = drawPlaySeconds(rng, feats);
        }
        const event =
          value === undefined
            ? { userId, itemId, type, timestamp: ets, context: { requestId, position: pos } }
            : { userId, itemId, type, timestamp: ets, value, context: { requestId, position: pos } };
        this.queue.push(ets, { kind: 'event', event });
        sim.countType(k);
        if (ets > end) end = ets;
        if (this.popularity[k]) {
          world.addPositive(it);
          engaged = true;
        }
        // Consequences on the graph.
        if (k === ti.follow_author) {
          if (!following && !world.isFollowing(u, a)) {
            world.addFollow(u, a);
            followMark[a] = stamp;
            this.edge('follow', u, a, ets + 1);
            this.graphChanged = true;
            if (ets + 1 > end) end = ets + 1;
          }
        } else if (k === ti.hide) {
          if (this.edgeRng.chance(MUTE_AFTER_HIDE) && !world.mutes[u].includes(a)) {
            world.mutes[u].push(a);
            hiddenMark[a] = stamp;
            this.edge('mute', u, a, ets + 1);
            this.graphChanged = true;
            if (ets + 1 > end) end = ets + 1;
          }
        } else if (k === ti.report) {
          if (this.edgeRng.chance(BLOCK_AFTER_REPORT) && !world.blocks[u].includes(a)) {
            world.blocks[u].push(a);
            hiddenMark[a] = stamp;
            this.edge('block', u, a, ets + 1);
            this.graphChanged = true;
            if (world.removeFollow(u, a)) {
              followMark[a] = 0;
              this.edge('follow', u, a, ets + 2, true);
            }
            if (ets + 2 > end) end = ets + 2;
          }
        } else if (k === ti.not_interested) {
          if (following && this.edgeRng.chance(UNFOLLOW_AFTER_NOT_INTERESTED) && world.removeFollow(u, a)) {
            followMark[a] = 0;
            this.edge('follow', u, a, ets + 1, true);
            this.graphChanged = true;
            if (ets + 1 > end) end = ets + 1;
          }
        }
      }
    }
    this.pageEngaged = engaged;
    this.pageLastImpression = ts;
    return end;
  }
}
