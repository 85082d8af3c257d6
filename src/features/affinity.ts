/**
 * Affinity features over the online state: how much a user engages with an author, a tag, an
 * item's audience. Each is a weighted sum of decayed counters, with the event-type registry's
 * weights (a reply counts more than a like; not_interested and report count against).
 */
import type { OnlineState } from '../state/online-state.js';

/** Per-type weights for affinity: the registry's weights of non-neutral types. */
export function engagementWeights(state: OnlineState): Float64Array {
  const w = new Float64Array(state.types.size);
  state.types.specs.forEach((s, i) => {
    if (s.polarity !== 'neutral') w[i] = s.weight;
  });
  return w;
}

/**
 * User×author affinity: Σ_type weight × (mean over windows of the decayed count), so that both
 * recent and long-term engagement count. 0 when the user never engaged; negative when the
 * user's feedback on the author was mostly negative.
 */
export function authorAffinity(state: OnlineState, weights: Float64Array, user: number, author: number, now: number): number {
  const table = state.userAuthorCounts;
  const nw = table.windows.length;
  let sum = 0;
  for (let t = 0; t < weights.length; t++) {
    const w = weights[t];
    if (w === 0) continue;
    let v = 0;
    for (let k = 0; k < nw; k++) v += table.get(user, author, t, k, now);
    sum += (w * v) / nw;
  }
  return sum;
}

/**
 * Share of the user's positive engagements (longest window) that went to items with each of
 * the given tags, summed: 0 when the user has no history or the tags are new to them.
 */
export function tagAffinity(state: OnlineState, user: number, tags: Int32Array | undefined, now: number): number {
  if (!tags || tags.length === 0 || user < 0) return 0;
  const longest = state.userCounts.windows.length - 1;
  const total = state.userCounts.get(user, 0, state.ENGAGED, longest, now);
  if (total <= 0) return 0;
  let s = 0;
  for (let k = 0; k < tags.length; k++) s += state.userTagCounts.get(user, tags[k], state.ENGAGED, longest, now);
  return s / total;
}

/** Smoothed engagement rate of an item in a window: (engaged + a) / (impressions + b). */
export function itemEngagementRate(state: OnlineState, item: number, window: number, now: number, prior = 0.02, strength = 20): number {
  const engaged = state.itemCounts.get(item, 0, state.ENGAGED, window, now);
  const shown = state.impressionType >= 0 ? state.itemCounts.get(item, 0, state.impressionType, window, now) : 0;
  return (engaged + prior * strength) / (Math.max(shown, engaged) + strength);
}
