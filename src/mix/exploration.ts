/**
 * Exploration: with probability `share` a slot is sampled from the `topM` best remaining
 * candidates instead of taking the best — `boltzmann` (probability ∝ exp(value / temperature))
 * or `uniform`. The propensity of what is served is exact for this policy:
 *
 *   p(item in this slot) = (1 − share)·[item is the best] + share·p_sample(item)
 *
 * and is logged with the impression, so `lenta ope` can evaluate another policy from the traffic.
 */
import type { Rng } from '../eval/prng.js';

export interface ExplorationSettings {
  share: number;
  method: 'boltzmann' | 'uniform';
  topM: number;
  temperature: number;
}

/**
 * `values`: the slot's eligible candidates' values, best first (index 0 is the greedy pick).
 * Returns the chosen index and its propensity.
 */
export function exploreSlot(rng: Rng, s: ExplorationSettings, values: readonly number[]): { index: number; propensity: number; explored: boolean } {
  const m = Math.min(s.topM, values.length);
  if (m <= 1 || s.share <= 0) return { index: 0, propensity: 1, explored: false };
  const p = samplingProbabilities(s, values, m);
  const explored = rng.next() < s.share;
  let index = 0;
  if (explored) {
    let u = rng.next();
    index = m - 1;
    for (let i = 0; i < m; i++) {
      u -= p[i]!;
      if (u < 0) {
        index = i;
        break;
      }
    }
  }
  const propensity = (1 - s.share) * (index === 0 ? 1 : 0) + s.share * p[index]!;
  return { index, propensity, explored };
}

/** The sampling distribution over the first `m` values. */
export function samplingProbabilities(s: ExplorationSettings, values: readonly number[], m: number): Float64Array {
  const p = new Float64Array(m);
  if (s.method === 'uniform') return p.fill(1 / m);
  const top = values[0]!;
  let z = 0;
  for (let i = 0; i < m; i++) z += p[i] = Math.exp((values[i]! - top) / s.temperature);
  for (let i = 0; i < m; i++) p[i] = p[i]! / z;
  return p;
}
