/**
 * Affinity features over the online state: how much a user engages with an author, a tag, an
 * item's audience. Each is a weighted sum of decayed counters, with the event-type registry's
 * weights (a reply counts more than a like; not_interested and report count against).
 */
import { ItemCounterRows } from '../state/item-rows.js';
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
 *
 * Most (user, author) pairs have no counter at all, and the sum is then exactly 0: the pair is
 * checked first with a few hash probes — its ENGAGED entry (every positive event also counts as
 * ENGAGED, so no positive type's entry exists without it) and the entries of the weighted
 * non-positive types, each only if the user has any counter of that type — before one probe per
 * weighted type. `engagedEntry`: the pair's ENGAGED entry when the caller has looked it up
 * already (table.find; −1 for none), so that it is not probed twice.
 */
export function authorAffinity(state: OnlineState, weights: Float64Array, user: number, author: number, now: number, engagedEntry?: number): number {
  const table = state.userAuthorCounts;
  // A (user, author, type) entry exists only if the user's own (user, type) entry does.
  const has = userCounterTypes(state, user);
  let any = has[state.ENGAGED] === 1 && (engagedEntry ?? table.find(user, author, state.ENGAGED)) >= 0;
  const polarity = state.polarity;
  for (let t = 0; t < weights.length && !any; t++) {
    any = weights[t] !== 0 && !(polarity[t]! > 0) && has[t] === 1 && table.find(user, author, t) >= 0;
  }
  if (!any) return 0;
  const nw = table.windows.length;
  const values = scratch.length >= nw ? scratch : (scratch = new Float64Array(nw));
  let sum = 0;
  for (let t = 0; t < weights.length; t++) {
    const w = weights[t]!;
    // Types the user never gave have no (user, author, type) counter: no probe.
    if (w === 0 || has[t] !== 1 || !table.getAll(user, author, t, now, values)) continue;
    let v = 0;
    for (let k = 0; k < nw; k++) v += values[k]!;
    sum += (w * v) / nw;
  }
  return sum;
}

/**
 * Per event type code (and ENGAGED): 1 when the user has a counter of that type (so a
 * (user, author, type) counter can exist). A memo of the last user and state: the array is
 * rewritten for the next user (copy it to keep it).
 */
export function userCounterTypes(state: OnlineState, user: number): Uint8Array {
  const m = userTypesMemo;
  if (m.state !== state || m.user !== user || m.events !== state.events) {
    m.state = state;
    m.user = user;
    m.events = state.events;
    const n = state.ENGAGED + 1;
    if (m.types.length < n) m.types = new Uint8Array(n);
    for (let t = 0; t < n; t++) m.types[t] = state.userCounts.find(user, 0, t) >= 0 ? 1 : 0;
  }
  return m.types;
}

const userTypesMemo = { state: undefined as OnlineState | undefined, user: -1, events: -1, types: new Uint8Array(0) };

let scratch = new Float64Array(8);

/**
 * Share of the user's positive engagements (longest window) that went to items with each of
 * the given tags, averaged over the tags (so items with many tags are not favoured): 0 when
 * the user has no history or the tags are new to them. One profile per request caches the
 * per-tag shares.
 */
export class TagAffinityProfile {
  private readonly shares = new Map<number, number>();
  private readonly total: number;
  private readonly window: number;

  constructor(
    private readonly state: OnlineState,
    private readonly user: number,
    private readonly now: number,
  ) {
    this.window = state.userCounts.windows.length - 1;
    this.total = user >= 0 ? state.userCounts.get(user, 0, state.ENGAGED, this.window, now) : 0;
  }

  affinity(tags: Int32Array | undefined): number {
    if (!tags || tags.length === 0 || this.total <= 0) return 0;
    let s = 0;
    for (let k = 0; k < tags.length; k++) {
      const tag = tags[k]!;
      let share = this.shares.get(tag);
      if (share === undefined) {
        share = this.state.userTagCounts.get(this.user, tag, this.state.ENGAGED, this.window, this.now) / this.total;
        this.shares.set(tag, share);
      }
      s += share;
    }
    return s / tags.length;
  }
}

/**
 * Smoothed engagement rate: (engaged + prior · strength) / (max(impressions, engaged) + strength)
 * — the prior's rate (2%) with the weight of `strength` (20) impressions; no impressions give the prior.
 */
export function smoothedRate(engaged: number, shown: number, prior = 0.02, strength = 20): number {
  return (engaged + prior * strength) / (Math.max(shown, engaged) + strength);
}

/**
 * Smoothed engagement rate of an item in a window, read from the post's cached counter row
 * when it has a valid one (state/item-rows.ts), else from its two counters — the same value up
 * to float64 rounding. It never computes a row, so callers that visit many posts (the popular
 * pool, the in-network source) do not flush the rows the features read.
 */
export function itemEngagementRate(state: OnlineState, item: number, window: number, now: number, prior = 0.02, strength = 20): number {
  ItemCounterRows.of(state).engagedAndShown(item, window, now, pair);
  return smoothedRate(pair[0]!, pair[1]!, prior, strength);
}

const pair = new Float64Array(2);
