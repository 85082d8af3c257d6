/**
 * Off-policy evaluation of slate-position bandit logs: estimate the click-through rate a
 * *target* policy would have had, from impressions logged by a *behaviour* policy with known
 * propensities (e.g. the Open Bandit Dataset: `random` logs, `bts` target).
 *
 * A log row n is one impression: action a_n (item) at position p_n, reward r_n (click 0/1) and
 * the behaviour propensity π_b,n = P(a_n at p_n). The target policy is a distribution
 * π_e(a | p) over actions per position (context-free, as both OBD policies are at the level of
 * these logs). With importance weights w_n = π_e(a_n | p_n) / π_b,n:
 *
 *   IPS   = (1/N) Σ_n w_n r_n
 *   SNIPS = Σ_n w_n r_n / Σ_n w_n
 *   DR    = (1/N) Σ_n [ Σ_a π_e(a | p_n) q̂(a, p_n) + w_n (r_n − q̂(a_n, p_n)) ]
 *
 * with the reward model q̂(a, p) = (clicks(a, p) + m·ctr(p)) / (shows(a, p) + m): the empirical
 * CTR of the action at the position, shrunk towards the position's CTR with m = 10 pseudo-
 * impressions, fitted on the same log. 95% intervals are percentile bootstrap intervals
 * (rows resampled with replacement, the reward model refitted on every resample, seeded).
 *
 * Target policies: `uniform` (1/|A| per position; on uniform-random logs it must reproduce the
 * logs' own CTR) and **empirical** policies read from the target's own logs: π_e(a | p) =
 * shows of a at p / impressions at p. Bernoulli Thompson sampling (OBD's `bts`) is not
 * contextual and its arm probabilities drift slowly, so over a log its per-position action
 * distribution is what its impressions show; that is what we use as π_e.
 */
import type { LogRecord } from '../domain/types.js';
import { Rng } from './prng.js';

/** Interns action (item) ids across several logs, so they share one action space. */
export class ActionSpace {
  readonly ids: string[] = [];
  private readonly index = new Map<string, number>();
  /** Actions that the data set declares (item records), whether shown or not. */
  readonly declared = new Set<number>();

  get(id: string): number {
    let i = this.index.get(id);
    if (i === undefined) {
      i = this.ids.length;
      this.index.set(id, i);
      this.ids.push(id);
    }
    return i;
  }

  get size(): number {
    return this.ids.length;
  }
}

export interface BanditLog {
  size: number;
  action: Int32Array;
  /** 0-based position. */
  position: Int32Array;
  reward: Float64Array;
  propensity: Float64Array;
  numPositions: number;
  /** Clicks that matched no impression (should be 0). */
  unmatchedClicks: number;
}

/**
 * Reads impressions (context.position, context.propensity) and their clicks from a record
 * stream. A click belongs to the impression whose id it extends (`<id>:click`), else to the
 * latest impression with the same user, item, timestamp and position.
 */
export async function readBanditLog(records: AsyncIterable<LogRecord> | Iterable<LogRecord>, space: ActionSpace, rewardType = 'click'): Promise<BanditLog> {
  const action: number[] = [];
  const position: number[] = [];
  const reward: number[] = [];
  const propensity: number[] = [];
  const byId = new Map<string, number>();
  const byKey = new Map<string, number>();
  let unmatched = 0;
  let maxPos = -1;
  const keyOf = (userId: string, itemId: string, ts: number, pos: unknown): string => `${userId}\u0000${itemId}\u0000${ts}\u0000${String(pos)}`;
  const consume = (rec: LogRecord): void => {
    if (rec.kind === 'item') {
      space.declared.add(space.get(rec.item.id));
      return;
    }
    if (rec.kind !== 'event') return;
    const e = rec.event;
    if (e.type === 'impression') {
      const pos = e.context?.position;
      const prop = e.context?.propensity;
      if (typeof pos !== 'number' || !Number.isInteger(pos) || pos < 0) throw new Error(`impression ${e.id ?? ''}: context.position must be a non-negative integer`);
      if (typeof prop !== 'number' || !(prop > 0 && prop <= 1)) throw new Error(`impression ${e.id ?? ''}: context.propensity must be in (0, 1]`);
      const n = action.length;
      action.push(space.get(e.itemId));
      position.push(pos);
      reward.push(0);
      propensity.push(prop);
      if (pos > maxPos) maxPos = pos;
      if (e.id !== undefined) byId.set(e.id, n);
      byKey.set(keyOf(e.userId, e.itemId, e.timestamp, pos), n);
    } else if (e.type === rewardType) {
      let n: number | undefined;
      if (e.id !== undefined && e.id.endsWith(`:${rewardType}`)) n = byId.get(e.id.slice(0, -rewardType.length - 1));
      n ??= byKey.get(keyOf(e.userId, e.itemId, e.timestamp, e.context?.position));
      if (n === undefined) unmatched++;
      else reward[n] = 1;
    }
  };
  if (Symbol.asyncIterator in records) {
    for await (const rec of records as AsyncIterable<LogRecord>) consume(rec);
  } else {
    for (const rec of records as Iterable<LogRecord>) consume(rec);
  }
  return {
    size: action.length,
    action: Int32Array.from(action),
    position: Int32Array.from(position),
    reward: Float64Array.from(reward),
    propensity: Float64Array.from(propensity),
    numPositions: maxPos + 1,
    unmatchedClicks: unmatched,
  };
}

/** A context-free target policy: probs[p * numActions + a] = π_e(a | p). */
export interface TargetPolicy {
  name: string;
  numActions: number;
  numPositions: number;
  probs: Float64Array;
}

/** Uniform over `actions` (default: all numActions) at every position. */
export function uniformPolicy(numActions: number, numPositions: number, actions?: Iterable<number>): TargetPolicy {
  const probs = new Float64Array(numActions * numPositions);
  const list = actions ? [...new Set(actions)] : Array.from({ length: numActions }, (_, a) => a);
  for (let p = 0; p < numPositions; p++) for (const a of list) probs[p * numActions + a] = 1 / list.length;
  return { name: 'uniform', numActions, numPositions, probs };
}

/** π_e(a | p) = the share of impressions at position p that showed a, in the target's logs. */
export function empiricalPolicy(name: string, log: BanditLog, numActions: number, numPositions = log.numPositions): TargetPolicy {
  const probs = new Float64Array(numActions * numPositions);
  const perPos = new Float64Array(numPositions);
  for (let n = 0; n < log.size; n++) {
    probs[log.position[n] * numActions + log.action[n]]++;
    perPos[log.position[n]]++;
  }
  for (let p = 0; p < numPositions; p++) {
    if (perPos[p] === 0) continue;
    for (let a = 0; a < numActions; a++) probs[p * numActions + a] /= perPos[p];
  }
  return { name, numActions, numPositions, probs };
}

export interface Estimate {
  estimate: number;
  /** 95% percentile bootstrap interval. */
  low: number;
  high: number;
  /** Bootstrap standard error. */
  se: number;
}

export interface OpeResult {
  ips: Estimate;
  snips: Estimate;
  dr: Estimate;
  /** CTR of the behaviour log itself. */
  behaviourCtr: number;
  /** Mean importance weight (≈ 1 when π_e is supported by the behaviour policy). */
  meanWeight: number;
  /** Share of the target's probability mass on (action, position) pairs the log never shows. */
  unsupportedMass: number;
}

export interface OpeOptions {
  bootstrap?: number;
  seed?: number;
  /** Pseudo-impressions of the reward model's shrinkage (default 10). */
  priorStrength?: number;
}

/** Point estimates on the rows listed in `rows` (with multiplicity). */
function estimateOn(log: BanditLog, policy: TargetPolicy, rows: Int32Array, prior: number, scratch: { shows: Float64Array; clicks: Float64Array; posShows: Float64Array; posClicks: Float64Array }): [number, number, number] {
  const A = policy.numActions;
  const P = policy.numPositions;
  const { shows, clicks, posShows, posClicks } = scratch;
  shows.fill(0);
  clicks.fill(0);
  posShows.fill(0);
  posClicks.fill(0);
  for (let t = 0; t < rows.length; t++) {
    const n = rows[t];
    const p = log.position[n];
    const cell = p * A + log.action[n];
    shows[cell]++;
    clicks[cell] += log.reward[n];
    posShows[p]++;
    posClicks[p] += log.reward[n];
  }
  // q̂ and the model's value of the target at each position: Σ_a π_e(a|p) q̂(a,p)
  const direct = new Float64Array(P);
  for (let p = 0; p < P; p++) {
    const ctr = posShows[p] > 0 ? posClicks[p] / posShows[p] : 0;
    let v = 0;
    for (let a = 0; a < A; a++) {
      const cell = p * A + a;
      const q = (clicks[cell] + prior * ctr) / (shows[cell] + prior);
      shows[cell] = q; // reuse as q̂
      v += policy.probs[cell] * q;
    }
    direct[p] = v;
  }
  let ips = 0;
  let wsum = 0;
  let dr = 0;
  for (let t = 0; t < rows.length; t++) {
    const n = rows[t];
    const p = log.position[n];
    const cell = p * A + log.action[n];
    const w = policy.probs[cell] / log.propensity[n];
    const r = log.reward[n];
    ips += w * r;
    wsum += w;
    dr += direct[p] + w * (r - shows[cell]);
  }
  const N = rows.length;
  return [ips / N, wsum > 0 ? ips / wsum : 0, dr / N];
}

export function estimatePolicyValue(log: BanditLog, policy: TargetPolicy, options: OpeOptions = {}): OpeResult {
  if (log.size === 0) throw new Error('off-policy evaluation: the behaviour log has no impressions');
  if (log.numPositions > policy.numPositions) throw new Error(`the target policy covers ${policy.numPositions} positions, the log has ${log.numPositions}`);
  const B = options.bootstrap ?? 1000;
  const prior = options.priorStrength ?? 10;
  const rng = new Rng(options.seed ?? 42);
  const cells = policy.numActions * policy.numPositions;
  const scratch = { shows: new Float64Array(cells), clicks: new Float64Array(cells), posShows: new Float64Array(policy.numPositions), posClicks: new Float64Array(policy.numPositions) };
  const all = new Int32Array(log.size);
  for (let n = 0; n < log.size; n++) all[n] = n;
  const point = estimateOn(log, policy, all, prior, scratch);
  const samples = [new Float64Array(B), new Float64Array(B), new Float64Array(B)];
  const rows = new Int32Array(log.size);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < log.size; t++) rows[t] = rng.int(log.size);
    const est = estimateOn(log, policy, rows, prior, scratch);
    for (let e = 0; e < 3; e++) samples[e][b] = est[e];
  }
  const summarise = (e: number): Estimate => {
    const s = samples[e].slice().sort();
    const mean = s.reduce((x, y) => x + y, 0) / Math.max(1, B);
    const se = Math.sqrt(s.reduce((x, y) => x + (y - mean) ** 2, 0) / Math.max(1, B - 1));
    return { estimate: point[e], low: quantile(s, 0.025), high: quantile(s, 0.975), se };
  };
  let clicks = 0;
  let wsum = 0;
  const shown = new Uint8Array(cells);
  for (let n = 0; n < log.size; n++) {
    clicks += log.reward[n];
    const cell = log.position[n] * policy.numActions + log.action[n];
    wsum += policy.probs[cell] / log.propensity[n];
    shown[cell] = 1;
  }
  let unsupported = 0;
  for (let c = 0; c < cells; c++) if (!shown[c]) unsupported += policy.probs[c];
  return {
    ips: summarise(0),
    snips: summarise(1),
    dr: summarise(2),
    behaviourCtr: clicks / log.size,
    meanWeight: wsum / log.size,
    unsupportedMass: unsupported / policy.numPositions,
  };
}

/** Linear-interpolation quantile of a sorted array. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Observed CTR of a log with a normal-approximation 95% interval. */
export function observedCtr(log: BanditLog): { ctr: number; low: number; high: number; n: number } {
  let clicks = 0;
  for (let n = 0; n < log.size; n++) clicks += log.reward[n];
  const p = log.size > 0 ? clicks / log.size : 0;
  const half = 1.959964 * Math.sqrt((p * (1 - p)) / Math.max(1, log.size));
  return { ctr: p, low: Math.max(0, p - half), high: p + half, n: log.size };
}
