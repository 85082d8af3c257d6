/**
 * The experiment report (`lenta report experiments`): what each variant's users were shown and
 * did, read from the event log.
 *
 * - Impressions carry the variant that served them (`context.variant`; none = `default`).
 * - An impression is **engaged** when the same user has a positive-polarity event on the same
 *   item at or after the impression's time and within `attributionWindowMs` (default one day).
 *   Engagement rate = engaged / impressions, with a 95% Wilson score interval. (Impressions of
 *   one user are not independent, so this interval is optimistic for heavy users; the per-user
 *   metric below is the one whose unit is the unit of randomisation.)
 * - **Per user**: every positive event of the user from their first impression in the period
 *   on — attributable to a served item or not (a search, a profile visit, the chronological
 *   feed): that is what a holdout comparison needs to measure incrementality. A user counts in
 *   the variant of their first impression in the period (users seen in several variants are
 *   counted in `usersInSeveralVariants`). Mean with a 95% normal interval (standard error over
 *   users).
 * - **Lift** of each variant against `default` and against `holdout` (when both are present):
 *   the difference (variant − reference) with a normal 95% interval from the two independent
 *   standard errors (√(se₁² + se₂²); for rates se² = p(1−p)/n), and the relative lift
 *   (variant / reference − 1) with a delta-method interval: se(r₁/r₂) ≈ (r₁/r₂)·√((se₁/r₁)² + (se₂/r₂)²).
 * - **Author groups**, per variant: `in_network` / `out_of_network` (the impression's
 *   `context.inNetwork` when logged, else whether the user follows the author in the current
 *   state) and `small` / `large` creators (the author's follower count in the current state
 *   below / at or above `largeCreatorFollowers`; default the median follower count of the
 *   authors shown, at least 1). Items without an author are counted as `no_author` in the
 *   creator split (and out of network unless their impression says otherwise).
 */
import type { OnlineState } from '../state/online-state.js';
import { LOG_EVENT, type Store } from '../store/store.js';
import { DEFAULT_VARIANT, HOLDOUT_VARIANT } from './assignment.js';

const DAY = 86_400_000;
/** Two-sided 95% normal quantile. */
const Z95 = 1.959963984540054;

export interface ExperimentReportOptions {
  /** Only impressions at or after this time (epoch ms); engagements are counted from each user's first one. */
  since?: number;
  /** An engagement is attributed to an impression of the same item when it follows within this many ms (default 1 day). */
  attributionWindowMs?: number;
  /** Authors with at least this many followers are `large` creators (default: median of the authors shown, at least 1). */
  largeCreatorFollowers?: number;
}

export type Interval = [number, number];

export interface RateStat {
  impressions: number;
  engaged: number;
  rate: number;
  /** 95% Wilson score interval. */
  ci95: Interval;
}

export interface GroupStat extends RateStat {
  /** Share of the variant's impressions in this group. */
  share: number;
}

export interface PerUserStat {
  /** Users whose first impression of the period was in this variant. */
  users: number;
  /** Their positive events from their first impression on. */
  engagements: number;
  mean: number;
  /** Standard deviation over users (n − 1). */
  sd: number;
  /** 95% normal interval of the mean (null with fewer than 2 users). */
  ci95: Interval | null;
}

export interface Lift {
  reference: string;
  /** variant − reference. */
  difference: number;
  ci95: Interval | null;
  /** variant / reference − 1 (null when the reference is 0). */
  relative: number | null;
  relativeCi95: Interval | null;
}

export type AuthorGroup = 'in_network' | 'out_of_network' | 'small' | 'large' | 'no_author';

export interface VariantReport {
  variant: string;
  /** Distinct users with impressions of this variant. */
  users: number;
  impressions: number;
  engaged: number;
  engagementRate: RateStat;
  perUser: PerUserStat;
  /** Against `default` and `holdout`, when present and different from this variant. */
  lift: Record<string, { engagementRate: Lift; perUser: Lift }>;
  /** in_network, out_of_network, small, large always; no_author when some item had none. */
  authorGroups: Partial<Record<AuthorGroup, GroupStat>>;
}

export interface ExperimentReport {
  since: number | null;
  /** First impression counted and the newest event of the log (epoch ms; null without impressions). */
  from: number | null;
  until: number | null;
  attributionWindowMs: number;
  largeCreatorFollowers: number;
  largeCreatorFollowersFrom: 'option' | 'median of the authors shown';
  /** Distinct authors of the items shown. */
  authorsShown: number;
  impressions: number;
  users: number;
  /** Impressions without `context.variant` (counted in `default`). */
  impressionsWithoutVariant: number;
  /** Users with impressions of more than one variant (counted per user in the variant of their first). */
  usersInSeveralVariants: number;
  /** `default` first, `holdout` last, the others by name. */
  variants: VariantReport[];
}

/** Growable column of numbers. */
class Column<T extends Float64Array | Int32Array | Int8Array> {
  data: T;
  length = 0;
  constructor(private readonly make: (n: number) => T) {
    this.data = make(1024);
  }
  push(x: number): void {
    if (this.length === this.data.length) {
      const next = this.make(this.data.length * 2);
      next.set(this.data as never);
      this.data = next;
    }
    this.data[this.length++] = x;
  }
}

export async function experimentReport(store: Store, state: OnlineState, options: ExperimentReportOptions = {}): Promise<ExperimentReport> {
  const since = options.since ?? -Infinity;
  const window = options.attributionWindowMs ?? DAY;
  if (!(window >= 0)) throw new RangeError(`attributionWindowMs must be ≥ 0, got ${window}`);
  const impressionType = state.impressionType;
  const polarity = state.polarity;

  // impressions of the period
  const iUser = new Column((n) => new Int32Array(n));
  const iItem = new Column((n) => new Int32Array(n));
  const iTs = new Column((n) => new Float64Array(n));
  const iVariant = new Column((n) => new Int32Array(n));
  /** context.inNetwork: 1, 0, or −1 when not logged. */
  const iNetwork = new Column((n) => new Int8Array(n));
  // every positive event
  const pUser = new Column((n) => new Int32Array(n));
  const pItem = new Column((n) => new Int32Array(n));
  const pTs = new Column((n) => new Float64Array(n));

  const variantIndex = new Map<string, number>();
  const variantNames: string[] = [];
  let withoutVariant = 0;
  let until = -Infinity;
  let maxItem = 0;
  for await (const chunk of store.readLog(0, 65536, true)) {
    for (let r = 0; r < chunk.length; r++) {
      if (chunk.kind[r] !== LOG_EVENT) continue;
      const ts = chunk.ts[r];
      if (ts > until) until = ts;
      const type = chunk.type[r];
      const item = chunk.target[r];
      if (type === impressionType) {
        if (ts < since) continue;
        const context = parseContext(chunk.context[r]);
        let variant = DEFAULT_VARIANT;
        if (typeof context?.variant === 'string' && context.variant !== '') variant = context.variant;
        else withoutVariant++;
        let v = variantIndex.get(variant);
        if (v === undefined) {
          v = variantNames.length;
          variantIndex.set(variant, v);
          variantNames.push(variant);
        }
        iUser.push(chunk.user[r]);
        iItem.push(item);
        iTs.push(ts);
        iVariant.push(v);
        iNetwork.push(typeof context?.inNetwork === 'boolean' ? (context.inNetwork ? 1 : 0) : -1);
        if (item > maxItem) maxItem = item;
      } else if (polarity[type] > 0) {
        pUser.push(chunk.user[r]);
        pItem.push(item);
        pTs.push(ts);
        if (item > maxItem) maxItem = item;
      }
    }
  }
  const nImp = iUser.length;
  const V = variantNames.length;
  const stride = maxItem + 1;
  const key = (user: number, item: number): number => user * stride + item;

  // each user's first impression of the period, and its variant; users seen in several variants
  const firstTs = new Map<number, number>();
  const firstVariant = new Map<number, number>();
  const usersOf: Set<number>[] = Array.from({ length: V }, () => new Set<number>());
  for (let n = 0; n < nImp; n++) {
    const u = iUser.data[n];
    usersOf[iVariant.data[n]].add(u);
    const t = firstTs.get(u);
    if (t === undefined || iTs.data[n] < t) {
      firstTs.set(u, iTs.data[n]);
      firstVariant.set(u, iVariant.data[n]);
    }
  }
  const variantsOfUser = new Map<number, number>();
  for (const users of usersOf) for (const u of users) variantsOfUser.set(u, (variantsOfUser.get(u) ?? 0) + 1);
  let several = 0;
  for (const c of variantsOfUser.values()) if (c > 1) several++;

  // attribution: the positive events' times per (user, item) shown, sorted
  const shown = new Set<number>();
  for (let n = 0; n < nImp; n++) shown.add(key(iUser.data[n], iItem.data[n]));
  const positiveTimes = new Map<number, number[]>();
  const engagementsOfUser = new Map<number, number>();
  for (let n = 0; n < pUser.length; n++) {
    const u = pUser.data[n];
    const t = pTs.data[n];
    const first = firstTs.get(u);
    if (first === undefined) continue;
    if (t >= first) engagementsOfUser.set(u, (engagementsOfUser.get(u) ?? 0) + 1);
    const k = key(u, pItem.data[n]);
    if (!shown.has(k)) continue;
    let list = positiveTimes.get(k);
    if (!list) positiveTimes.set(k, (list = []));
    list.push(t);
  }
  for (const list of positiveTimes.values()) list.sort((a, b) => a - b);

  // creator size: followers now; the threshold
  const authorsShown = new Set<number>();
  for (let n = 0; n < nImp; n++) {
    const a = state.author(iItem.data[n]);
    if (a >= 0) authorsShown.add(a);
  }
  let threshold: number;
  let thresholdFrom: ExperimentReport['largeCreatorFollowersFrom'];
  if (options.largeCreatorFollowers !== undefined) {
    threshold = options.largeCreatorFollowers;
    thresholdFrom = 'option';
  } else {
    threshold = Math.max(1, median(Array.from(authorsShown, (a) => state.followers.size(a))));
    thresholdFrom = 'median of the authors shown';
  }

  // per variant counts
  const GROUPS: AuthorGroup[] = ['in_network', 'out_of_network', 'small', 'large', 'no_author'];
  const imps = new Float64Array(V);
  const engaged = new Float64Array(V);
  const groupImps = GROUPS.map(() => new Float64Array(V));
  const groupEngaged = GROUPS.map(() => new Float64Array(V));
  for (let n = 0; n < nImp; n++) {
    const u = iUser.data[n];
    const item = iItem.data[n];
    const t = iTs.data[n];
    const v = iVariant.data[n];
    const times = positiveTimes.get(key(u, item));
    let hit = 0;
    if (times) {
      const j = lowerBound(times, t);
      if (j < times.length && times[j] - t <= window) hit = 1;
    }
    imps[v]++;
    engaged[v] += hit;
    const author = state.author(item);
    const logged = iNetwork.data[n];
    const inNetwork = logged >= 0 ? logged === 1 : author >= 0 && state.following.has(u, author);
    const g1 = inNetwork ? 0 : 1;
    const g2 = author < 0 ? 4 : state.followers.size(author) >= threshold ? 3 : 2;
    groupImps[g1][v]++;
    groupEngaged[g1][v] += hit;
    groupImps[g2][v]++;
    groupEngaged[g2][v] += hit;
  }

  // per user
  const perUserValues: number[][] = Array.from({ length: V }, () => []);
  for (const [u, v] of firstVariant) perUserValues[v].push(engagementsOfUser.get(u) ?? 0);

  const reports: VariantReport[] = variantNames.map((name, v) => {
    const authorGroups: Partial<Record<AuthorGroup, GroupStat>> = {};
    GROUPS.forEach((g, gi) => {
      if (g === 'no_author' && groupImps[gi][v] === 0) return;
      authorGroups[g] = { ...rateStat(groupImps[gi][v], groupEngaged[gi][v]), share: imps[v] > 0 ? groupImps[gi][v] / imps[v] : 0 };
    });
    return {
      variant: name,
      users: usersOf[v].size,
      impressions: imps[v],
      engaged: engaged[v],
      engagementRate: rateStat(imps[v], engaged[v]),
      perUser: meanStat(perUserValues[v]),
      lift: {},
      authorGroups,
    };
  });
  for (const ref of [DEFAULT_VARIANT, HOLDOUT_VARIANT]) {
    const r = reports.find((x) => x.variant === ref);
    if (!r) continue;
    for (const x of reports) {
      if (x === r) continue;
      x.lift[ref] = { engagementRate: rateLift(x.engagementRate, r.engagementRate, ref), perUser: meanLift(x.perUser, r.perUser, ref) };
    }
  }
  const rank = (name: string): number => (name === DEFAULT_VARIANT ? 0 : name === HOLDOUT_VARIANT ? 2 : 1);
  reports.sort((a, b) => rank(a.variant) - rank(b.variant) || (a.variant < b.variant ? -1 : a.variant > b.variant ? 1 : 0));

  let from = Infinity;
  for (const t of firstTs.values()) if (t < from) from = t;
  return {
    since: Number.isFinite(since) ? since : null,
    from: nImp > 0 ? from : null,
    until: nImp > 0 ? until : null,
    attributionWindowMs: window,
    largeCreatorFollowers: threshold,
    largeCreatorFollowersFrom: thresholdFrom,
    authorsShown: authorsShown.size,
    impressions: nImp,
    users: firstTs.size,
    impressionsWithoutVariant: withoutVariant,
    usersInSeveralVariants: several,
    variants: reports,
  };
}

function parseContext(json: string | null): Record<string, unknown> | undefined {
  if (json === null || json === '') return undefined;
  try {
    const x = JSON.parse(json) as unknown;
    return typeof x === 'object' && x !== null ? (x as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** First index with list[j] ≥ x (list sorted ascending). */
function lowerBound(list: readonly number[], x: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** 95% Wilson score interval of a proportion k / n ([0, 1] when n = 0). */
export function wilson(k: number, n: number, z = Z95): Interval {
  if (n <= 0) return [0, 1];
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return [Math.max(0, center - half), Math.min(1, center + half)];
}

function rateStat(n: number, k: number): RateStat {
  return { impressions: n, engaged: k, rate: n > 0 ? k / n : 0, ci95: wilson(k, n) };
}

/** Mean, sd (n − 1) and the 95% normal interval of the mean. */
export function meanStat(values: readonly number[]): PerUserStat {
  const n = values.length;
  let sum = 0;
  for (const x of values) sum += x;
  const mean = n > 0 ? sum / n : 0;
  let ss = 0;
  for (const x of values) ss += (x - mean) ** 2;
  const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  const se = sd / Math.sqrt(n);
  return { users: n, engagements: sum, mean, sd, ci95: n > 1 ? [mean - Z95 * se, mean + Z95 * se] : null };
}

/** Difference and ratio of two independent estimates with standard errors (see the file comment). */
function lift(reference: string, m1: number, se1: number | null, m2: number, se2: number | null): Lift {
  const difference = m1 - m2;
  const ok = se1 !== null && se2 !== null;
  const seDiff = ok ? Math.sqrt(se1 * se1 + se2 * se2) : NaN;
  const relative = m2 !== 0 ? m1 / m2 - 1 : null;
  let relativeCi95: Interval | null = null;
  if (ok && relative !== null && m1 !== 0) {
    const ratio = m1 / m2;
    const seRatio = Math.abs(ratio) * Math.sqrt((se1 / m1) ** 2 + (se2 / m2) ** 2);
    relativeCi95 = [relative - Z95 * seRatio, relative + Z95 * seRatio];
  }
  return { reference, difference, ci95: ok ? [difference - Z95 * seDiff, difference + Z95 * seDiff] : null, relative, relativeCi95 };
}

function rateLift(a: RateStat, b: RateStat, reference: string): Lift {
  const se = (s: RateStat): number | null => (s.impressions > 0 ? Math.sqrt((s.rate * (1 - s.rate)) / s.impressions) : null);
  return lift(reference, a.rate, se(a), b.rate, se(b));
}

function meanLift(a: PerUserStat, b: PerUserStat, reference: string): Lift {
  const se = (s: PerUserStat): number | null => (s.users > 1 ? s.sd / Math.sqrt(s.users) : null);
  return lift(reference, a.mean, se(a), b.mean, se(b));
}
