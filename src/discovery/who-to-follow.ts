/**
 * Who to follow: accounts a user may want to follow, from three signals.
 *
 * - followed_by_follows (friends of friends): every account c followed by the user's follows f
 *   scores Σ_f w(f), where w(f) weighs a follow by the user's affinity to it (features/affinity
 *   authorAffinity, the hand-weighted user×author counters): w(f) = 1 + ln(1 + a_f) / ln(1 + a_max)
 *   ∈ [1, 2] for a_f ≥ 0 (a_max: the largest affinity among the follows), 0.5 for a follow the
 *   user gave negative feedback to. So the score is the number of follows that follow c, each
 *   counting up to twice as much when the user engages with them. `count` is the plain number
 *   and `via` the (up to 3) strongest of those follows.
 * - community (SimClusters-style): the producers KnownFor the communities of the user's
 *   InterestedIn vector (communities source, CommunityModel.userVector), each scoring
 *   w_user(c) × ln(1 + followers) / ln(1 + the community's largest follower count) ∈ (0, 1]
 *   (the user's interest in the community × the account's standing in it); added with weight
 *   COMMUNITY_WEIGHT.
 * - popular: the most-followed / most-engaged accounts, popularity
 *   p = ½ ln(1 + followers) / ln(1 + max followers) + ½ ln(1 + engaged) / ln(1 + max engaged)
 *   ∈ (0, 1] (engagement with the account's posts on the ~3-day window), added with weight
 *   POPULAR_WEIGHT — for a user with no follows, and to fill up a short list.
 *
 * The user, accounts already followed, muted, blocked, or blocking the user are never
 * suggested. A user the engine does not know, or one with no follows and no community vector,
 * gets the popular accounts only (`coldStart`).
 *
 * A pure function of the state and the sources; it caches (per state / per trained community
 * model) the popular accounts (refreshed every POPULAR_REFRESH_MS or POPULAR_REFRESH_RECORDS
 * records) and the per-community top members (rebuilt every MEMBERS_REFRESH_MS).
 */
import { authorAffinity, engagementWeights } from '../features/affinity.js';
import { CommunitySource } from '../candidates/communities.js';
import type { CommunityModel, SparseVector } from '../models/communities/community-model.js';
import type { OnlineState } from '../state/online-state.js';
import type { Store } from '../store/store.js';
import { round6, windowNear, type DiscoveryContext } from './related.js';

export type FollowReason =
  | { reason: 'followed_by_follows'; count: number; via: number[] }
  | { reason: 'community'; score: number }
  | { reason: 'popular' };

export interface FollowSuggestion {
  /** Dense user id. */
  user: number;
  score: number;
  reasons: FollowReason[];
}

export interface WhoToFollowOptions {
  limit: number;
}

export interface WhoToFollowResult {
  /** True when the suggestions are the popular accounts only (nothing personal is known). */
  coldStart: boolean;
  accounts: FollowSuggestion[];
}

/** A suggestion as the API serves it: external ids. */
export interface FollowSuggestionView {
  id: string;
  score: number;
  reasons: ({ reason: 'followed_by_follows'; count: number; via: string[] } | { reason: 'community'; score: number } | { reason: 'popular' })[];
}

/** External user ids of the suggestions and of their `via` follows (scores rounded to 6 decimals). */
export function hydrateWhoToFollow(store: Pick<Store, 'userIds'>, result: WhoToFollowResult): { coldStart: boolean; accounts: FollowSuggestionView[] } {
  const id = (u: number) => store.userIds[u] ?? String(u);
  return {
    coldStart: result.coldStart,
    accounts: result.accounts.map((a) => ({
      id: id(a.user),
      score: round6(a.score),
      reasons: a.reasons.map((r) =>
        r.reason === 'followed_by_follows' ? { ...r, via: r.via.map(id) } : r.reason === 'community' ? { reason: r.reason, score: round6(r.score) } : r,
      ),
    })),
  };
}

export const COMMUNITY_WEIGHT = 1;
export const POPULAR_WEIGHT = 0.5;
/** Follows walked per request (the strongest by affinity), and followees read per follow. */
const MAX_FOLLOWS = 1000;
const MAX_PER_FOLLOW = 5000;
const VIA = 3;
const MEMBERS_PER_COMMUNITY = 200;
const POPULAR_ACCOUNTS = 500;
const POPULAR_REFRESH_MS = 5000;
const POPULAR_REFRESH_RECORDS = 1000;
const MEMBERS_REFRESH_MS = 60_000;

interface Candidate {
  score: number;
  count: number;
  /** Follows through which the account was found, with their weights. */
  via: { f: number; w: number }[];
  community: number;
  popular: number;
}

/** Accounts for `user` (a dense id, −1 when unknown) to follow, best first, at most `limit`. */
export function whoToFollow(ctx: DiscoveryContext, user: number, options: WhoToFollowOptions): WhoToFollowResult {
  const { state, now } = ctx;
  const limit = Math.max(0, Math.floor(options.limit));
  const candidates = new Map<number, Candidate>();
  const excluded = (c: number) => c < 0 || (user >= 0 && (c === user || state.following.has(user, c) || state.hidesAuthor(user, c)));
  const entry = (c: number): Candidate => {
    let e = candidates.get(c);
    if (!e) candidates.set(c, (e = { score: 0, count: 0, via: [], community: 0, popular: 0 }));
    return e;
  };

  // 1. Friends of friends, weighted by the user's affinity to each follow.
  const follows = user >= 0 ? Array.from(state.following.get(user)) : [];
  if (follows.length > 0) {
    const weights = engagementWeights(state);
    const affinity = new Map<number, number>();
    for (const f of follows) affinity.set(f, authorAffinity(state, weights, user, f, now));
    if (follows.length > MAX_FOLLOWS) follows.sort((a, b) => affinity.get(b)! - affinity.get(a)! || a - b).length = MAX_FOLLOWS;
    let maxAffinity = 0;
    for (const f of follows) maxAffinity = Math.max(maxAffinity, affinity.get(f)!);
    for (const f of follows) {
      const a = affinity.get(f)!;
      const w = a < 0 ? 0.5 : maxAffinity > 0 ? 1 + Math.log1p(a) / Math.log1p(maxAffinity) : 1;
      const theirs = state.following.get(f);
      const n = Math.min(theirs.length, MAX_PER_FOLLOW);
      for (let k = 0; k < n; k++) {
        const c = theirs[k]!;
        if (excluded(c)) continue;
        const e = entry(c);
        e.score += w;
        e.count++;
        e.via.push({ f, w });
      }
    }
  }

  // 2. Community neighbours: accounts KnownFor the user's communities.
  let hasCommunities = false;
  const communities = ctx.sources.map((s) => s.source).find((s): s is CommunitySource => s instanceof CommunitySource);
  const model = communities?.model;
  if (user >= 0 && model?.trained) {
    const vec: SparseVector = { comm: new Int32Array(model.options.userCommunities), w: new Float64Array(model.options.userCommunities), n: 0 };
    model.userVector(state, user, vec, true);
    hasCommunities = vec.n > 0;
    const members = communityMembers(state, model);
    for (let k = 0; k < vec.n; k++) {
      const list = members[vec.comm[k]!];
      if (!list || list.length === 0) continue;
      let maxFollowers = 0;
      for (const m of list) maxFollowers = Math.max(maxFollowers, state.followers.size(m));
      if (maxFollowers === 0) continue;
      const norm = Math.log1p(maxFollowers);
      for (const m of list) {
        if (excluded(m)) continue;
        const s = (vec.w[k]! * Math.log1p(state.followers.size(m))) / norm;
        if (s > 0) entry(m).community += s;
      }
    }
  }

  // 3. Popular accounts: the whole answer without follows, else to fill up a short list.
  const coldStart = user < 0 || (follows.length === 0 && !hasCommunities);
  if (follows.length === 0 || candidates.size < limit) {
    const pool = popularAccounts(ctx);
    let added = 0;
    for (let k = 0; k < pool.accounts.length && added < limit; k++) {
      const c = pool.accounts[k]!;
      if (excluded(c)) continue;
      entry(c).popular = pool.scores[k]!;
      added++;
    }
  }

  const out: FollowSuggestion[] = [];
  for (const [c, e] of candidates) {
    const score = e.score + COMMUNITY_WEIGHT * e.community + POPULAR_WEIGHT * e.popular;
    if (!(score > 0)) continue;
    const reasons: FollowReason[] = [];
    if (e.count > 0) {
      const via = e.via.sort((a, b) => b.w - a.w || a.f - b.f).slice(0, VIA).map((v) => v.f);
      reasons.push({ reason: 'followed_by_follows', count: e.count, via });
    }
    if (e.community > 0) reasons.push({ reason: 'community', score: e.community });
    if (e.popular > 0) reasons.push({ reason: 'popular' });
    out.push({ user: c, score, reasons });
  }
  out.sort((a, b) => b.score - a.score || a.user - b.user);
  if (out.length > limit) out.length = limit;
  return { coldStart, accounts: out };
}

interface PopularPool {
  builtAt: number;
  records: number;
  now: number;
  accounts: Int32Array;
  scores: Float64Array;
}

const popularPools = new WeakMap<OnlineState, PopularPool>();

/** The most-followed / most-engaged accounts with their popularity ∈ (0, 1], best first (cached). */
export function popularAccounts(ctx: DiscoveryContext): { accounts: Int32Array; scores: Float64Array } {
  const { state, now } = ctx;
  const records = state.events + state.edgeRecords;
  const kept = popularPools.get(state);
  if (kept && performance.now() - kept.builtAt < POPULAR_REFRESH_MS && records - kept.records < POPULAR_REFRESH_RECORDS && Math.abs(now - kept.now) < 60_000) return kept;
  const window = windowNear(state, 3 * 86_400_000);
  const users = Math.max(ctx.store.userIds.length, state.followers.maxNode + 1, state.authorPosts.maxNode + 1);
  const followers = new Float64Array(users);
  const engaged = new Float64Array(users);
  let maxF = 0;
  let maxE = 0;
  for (let a = 0; a < users; a++) {
    const f = state.followers.size(a);
    const e = state.authorPosts.size(a) > 0 ? Math.max(0, state.authorCounts.get(a, 0, state.ENGAGED, window, now)) : 0;
    followers[a] = f;
    engaged[a] = e;
    if (f > maxF) maxF = f;
    if (e > maxE) maxE = e;
  }
  const scored: { a: number; p: number }[] = [];
  for (let a = 0; a < users; a++) {
    const p = (maxF > 0 ? (0.5 * Math.log1p(followers[a]!)) / Math.log1p(maxF) : 0) + (maxE > 0 ? (0.5 * Math.log1p(engaged[a]!)) / Math.log1p(maxE) : 0);
    if (p > 0) scored.push({ a, p });
  }
  scored.sort((x, y) => y.p - x.p || x.a - y.a);
  scored.length = Math.min(scored.length, POPULAR_ACCOUNTS);
  const pool: PopularPool = {
    builtAt: performance.now(),
    records,
    now,
    accounts: Int32Array.from(scored, (s) => s.a),
    scores: Float64Array.from(scored, (s) => s.p),
  };
  popularPools.set(state, pool);
  return pool;
}

const memberIndexes = new WeakMap<CommunityModel, { builtAt: number; members: Int32Array[] }>();

/**
 * Per community: the accounts KnownFor it (the model's user labels), the MEMBERS_PER_COMMUNITY
 * most followed (cached per model, rebuilt every MEMBERS_REFRESH_MS as follower counts move).
 */
function communityMembers(state: OnlineState, model: CommunityModel): Int32Array[] {
  const kept = memberIndexes.get(model);
  if (kept && performance.now() - kept.builtAt < MEMBERS_REFRESH_MS) return kept.members;
  const lists: number[][] = Array.from({ length: model.count }, () => []);
  const labels = model.userLabel;
  for (let u = 0; u < labels.length; u++) {
    const c = labels[u]!;
    if (c >= 0 && c < model.count) lists[c]!.push(u);
  }
  const members = lists.map((list) => {
    list.sort((a, b) => state.followers.size(b) - state.followers.size(a) || a - b);
    return Int32Array.from(list.slice(0, MEMBERS_PER_COMMUNITY));
  });
  memberIndexes.set(model, { builtAt: performance.now(), members });
  return members;
}
