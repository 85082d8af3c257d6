/**
 * Options of the synthetic platform and the named presets. Every option that is not given
 * takes the default below; the same (resolved) options and seed always give the same output.
 */

export interface SimOptions {
  /** Seed of every random choice (an integer; the same seed gives byte-identical output). */
  seed: number;
  /** Number of accounts (creators included). */
  users: number;
  /** Simulated days. */
  days: number;
  /** Number of latent topics (tags `topic:0` … `topic:T-1`). Default 20. */
  topics?: number;
  /** Share of the accounts that post. Default 0.1. */
  creatorShare?: number;
  /** Mean posts per creator per day (heavy-tailed over creators). Default 2. */
  postsPerCreatorPerDay?: number;
  /** Mean feed sessions per user per day (heavy-tailed over users); a session loads ~1.9 pages. Default 1. */
  sessionsPerDay?: number;
  /** Posts served per page request. Default 10. */
  pageSize?: number;
  /** Mean accounts followed per user at the start (heavy-tailed). Default 25. */
  followsPerUser?: number;
  /** Share of the accounts that join during the period (cold-start users). Default 0.1. */
  newUserShare?: number;
  /** Share of the logging policy's draws that go to in-network posts. Default 0.5. */
  inNetworkShare?: number;
  /** Share of the logging policy's draws that are uniform over the candidates. Default 0.1. */
  exploration?: number;
  /** Share of posts that are videos (tag `format:video`, the only posts with `play` events). Default 0.15. */
  videoShare?: number;
  /** Share of creators that post low-quality, often reported content. Default 0.02. */
  spamShare?: number;
  /** Start of the simulated period: epoch ms or ISO 8601. Default 2026-01-01T00:00:00Z. */
  start?: number | string;
  /** Hours at the start during which posts appear but nobody opens the feed. Default 12. */
  warmupHours?: number;
  /** Oldest post age the logging policy serves, in hours. Default 48. */
  candidateWindowHours?: number;
  /** Generate a short text for each post. Default true. */
  text?: boolean;
}

export type ResolvedSimOptions = Required<Omit<SimOptions, 'start'>> & { start: number };

export const SIM_DEFAULTS: Omit<ResolvedSimOptions, 'seed' | 'users' | 'days'> = {
  topics: 20,
  creatorShare: 0.1,
  postsPerCreatorPerDay: 2,
  sessionsPerDay: 1,
  pageSize: 10,
  followsPerUser: 25,
  newUserShare: 0.1,
  inNetworkShare: 0.5,
  exploration: 0.1,
  videoShare: 0.15,
  spamShare: 0.02,
  start: Date.UTC(2026, 0, 1),
  warmupHours: 12,
  candidateWindowHours: 48,
  text: true,
};

export type SimPresetName = 'tiny' | 'demo' | 'medium' | 'bench';

/**
 * Named sizes (measured with the default seeds; events include impressions):
 * - `tiny`: 120 users, 3 days: ~190 posts, ~800 follows, ~9.7k events — unit tests (~0.1 s).
 * - `demo`: 2,000 users, 7 days: ~3k posts, ~43k follows, ~320k events — the first `npm start` (< 1 s).
 * - `medium`: 20,000 users, 14 days: ~87k posts, ~560k follows, ~2.9M events.
 * - `bench`: 100,000 users, 14 days: ~1.03M posts, ~3.8M follows, ~11M events — streamed.
 */
export const SIM_PRESETS: Readonly<Record<SimPresetName, Readonly<SimOptions>>> = {
  tiny: { seed: 1, users: 120, days: 3, topics: 8, creatorShare: 0.2, postsPerCreatorPerDay: 2, sessionsPerDay: 2, followsPerUser: 8, spamShare: 0.05 },
  demo: { seed: 42, users: 2000, days: 7, topics: 20, creatorShare: 0.1, postsPerCreatorPerDay: 2, sessionsPerDay: 1, followsPerUser: 25 },
  medium: { seed: 42, users: 20_000, days: 14, topics: 32, creatorShare: 0.1, postsPerCreatorPerDay: 3, sessionsPerDay: 0.4, followsPerUser: 30 },
  bench: { seed: 42, users: 100_000, days: 14, topics: 64, creatorShare: 0.15, postsPerCreatorPerDay: 4.8, sessionsPerDay: 0.3, followsPerUser: 40 },
};

export function isSimPresetName(name: string): name is SimPresetName {
  return Object.prototype.hasOwnProperty.call(SIM_PRESETS, name);
}

function check(ok: boolean, field: string, reason: string): void {
  if (!ok) throw new RangeError(`sim.${field}: ${reason}`);
}

/** Fills defaults and checks ranges; throws a RangeError naming the option. */
export function resolveSimOptions(options: SimOptions): ResolvedSimOptions {
  const o = { ...SIM_DEFAULTS, ...dropUndefined(options) } as ResolvedSimOptions & { start: number | string };
  const start = typeof o.start === 'string' ? Date.parse(o.start) : o.start;
  check(Number.isFinite(start) && start >= 0, 'start', `must be epoch milliseconds or an ISO 8601 date-time, got ${String(o.start)}`);
  check(Number.isInteger(o.seed), 'seed', `must be an integer, got ${o.seed}`);
  check(Number.isInteger(o.users) && o.users >= 2 && o.users <= 50_000_000, 'users', `must be an integer in [2, 5e7], got ${o.users}`);
  check(Number.isInteger(o.days) && o.days >= 1 && o.days <= 3650, 'days', `must be an integer in [1, 3650], got ${o.days}`);
  check(Number.isInteger(o.topics) && o.topics >= 1 && o.topics <= 10_000, 'topics', `must be an integer in [1, 10000], got ${o.topics}`);
  check(o.creatorShare > 0 && o.creatorShare <= 1, 'creatorShare', 'must be in (0, 1]');
  check(o.postsPerCreatorPerDay >= 0, 'postsPerCreatorPerDay', 'must be ≥ 0');
  check(o.sessionsPerDay >= 0, 'sessionsPerDay', 'must be ≥ 0');
  check(Number.isInteger(o.pageSize) && o.pageSize >= 1 && o.pageSize <= 500, 'pageSize', 'must be an integer in [1, 500]');
  check(o.followsPerUser >= 0, 'followsPerUser', 'must be ≥ 0');
  check(o.newUserShare >= 0 && o.newUserShare < 1, 'newUserShare', 'must be in [0, 1)');
  check(o.inNetworkShare >= 0 && o.inNetworkShare <= 1, 'inNetworkShare', 'must be in [0, 1]');
  check(o.exploration > 0 && o.exploration <= 1, 'exploration', 'must be in (0, 1] (propensities must stay positive)');
  check(o.videoShare >= 0 && o.videoShare <= 1, 'videoShare', 'must be in [0, 1]');
  check(o.spamShare >= 0 && o.spamShare <= 1, 'spamShare', 'must be in [0, 1]');
  check(o.warmupHours >= 0 && o.warmupHours < 24, 'warmupHours', 'must be in [0, 24)');
  check(o.candidateWindowHours > 0, 'candidateWindowHours', 'must be positive');
  return { ...o, start };
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
