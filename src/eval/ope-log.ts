/**
 * Off-policy estimate from the engine's own traffic: what the For You feed would earn per slot
 * **without exploration** (the greedy policy: every slot takes the best candidate), from
 * impressions served with exploration and their logged propensities.
 *
 * The page builder logs, per impression, the propensity μ of the served item in its slot and
 * whether the slot was explored (the served item is not the greedy pick). The greedy policy
 * puts its pick in the slot with probability 1, so its importance weight is w = [not explored]
 * / μ, and
 *
 *   IPS   = (1/n) Σ w·r           SNIPS = Σ w·r / Σ w
 *
 * with r = 1 when the user engaged positively with the item within `windowMs` of the
 * impression. The intervals are normal approximations (SNIPS by the delta method). Exact
 * because the exploration draws and their propensities are the serving code's own; a
 * comparison with the logged engagement rate prices the exploration share.
 */
import { LOG_EVENT, type Store } from '../store/store.js';
import type { OnlineState } from '../state/online-state.js';

export interface LoggedTrafficEstimate {
  impressions: number;
  /** Impressions whose slot was explored. */
  explored: number;
  windowMs: number;
  variant: string | null;
  /** The logged policy's engagement rate per impression (what was served). */
  logged: { rate: number; ci95: [number, number] };
  /** The greedy policy's estimated rate per impression. */
  greedy: { ips: number; snips: number; ci95: [number, number]; effectiveSamples: number };
}

const Z = 1.959963984540054;

export async function greedyPolicyEstimate(store: Store, state: OnlineState, options: { windowMs?: number; variant?: string } = {}): Promise<LoggedTrafficEstimate> {
  const windowMs = options.windowMs ?? 86_400_000;
  const impressionType = state.impressionType;
  const ts: number[] = [];
  const mu: number[] = [];
  const greedy: number[] = [];
  const reward: number[] = [];
  const latest = new Map<string, number>(); // user:item → latest impression index
  let explored = 0;
  for await (const chunk of store.readLog(0, 65536, true)) {
    for (let r = 0; r < chunk.length; r++) {
      if (chunk.kind[r] !== LOG_EVENT) continue;
      const type = chunk.type[r]!;
      const key = `${chunk.user[r]}:${chunk.target[r]}`;
      if (type === impressionType) {
        const json = chunk.context[r];
        if (!json) continue;
        const ctx = JSON.parse(json) as { propensity?: unknown; explored?: unknown; variant?: unknown };
        if (typeof ctx.propensity !== 'number' || !(ctx.propensity > 0 && ctx.propensity <= 1) || typeof ctx.explored !== 'boolean') continue;
        if (options.variant !== undefined && ctx.variant !== options.variant) continue;
        latest.set(key, ts.length);
        ts.push(chunk.ts[r]!);
        mu.push(ctx.propensity);
        greedy.push(ctx.explored ? 0 : 1);
        reward.push(0);
        if (ctx.explored) explored++;
      } else if (state.polarity[type]! > 0) {
        const i = latest.get(key);
        if (i !== undefined && chunk.ts[r]! >= ts[i]! && chunk.ts[r]! - ts[i]! <= windowMs) reward[i] = 1;
      }
    }
  }
  const n = ts.length;
  let sumR = 0;
  let sumW = 0;
  let sumWR = 0;
  let sumW2 = 0;
  for (let i = 0; i < n; i++) {
    const w = greedy[i]! / mu[i]!;
    sumR += reward[i]!;
    sumW += w;
    sumWR += w * reward[i]!;
    sumW2 += w * w;
  }
  const rate = n > 0 ? sumR / n : 0;
  const ips = n > 0 ? sumWR / n : 0;
  const snips = sumW > 0 ? sumWR / sumW : 0;
  // Delta-method variance of the ratio estimator: Var ≈ Σ w²(r − V)² / (Σ w)².
  let num = 0;
  for (let i = 0; i < n; i++) {
    const w = greedy[i]! / mu[i]!;
    num += w * w * (reward[i]! - snips) ** 2;
  }
  const se = sumW > 0 ? Math.sqrt(num) / sumW : 0;
  const seLogged = n > 0 ? Math.sqrt((rate * (1 - rate)) / n) : 0;
  return {
    impressions: n,
    explored,
    windowMs,
    variant: options.variant ?? null,
    logged: { rate, ci95: [rate - Z * seLogged, rate + Z * seLogged] },
    greedy: { ips, snips, ci95: [snips - Z * se, snips + Z * se], effectiveSamples: sumW2 > 0 ? (sumW * sumW) / sumW2 : 0 },
  };
}
