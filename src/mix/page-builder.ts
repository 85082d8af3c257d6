/**
 * The page builder (the pipeline's selector): fills the page slot by slot from the best
 * candidates by score, applying the slot rules in one greedy pass —
 *
 *   network-balance.ts    which side (in-network / out-of-network) the slot must come from
 *   author-diversity.ts   the k-th post of an author already on the page is multiplied down
 *   content-diversity.ts  maximal marginal relevance against the posts above (λ)
 *   exploration.ts        with a small probability the slot is sampled; every slot's propensity
 *
 * Relevance is the candidate's score after the rescorers (and the author factor) over the pool's
 * best score (the pool: the best `max(3 × limit, exploration.topM)` candidates of each side, in
 * and out of network, so that the balance has both to choose from), so that MMR's λ means the same for any
 * score scale. Each
 * rule that changed a served candidate's score or position is recorded in its `rules`.
 */
import { Rng } from '../eval/prng.js';
import type { Candidate, CandidateSelector, FeedQuery } from '../pipeline/types.js';
import { authorDiversityFactor } from './author-diversity.js';
import { ItemSimilarity } from './content-diversity.js';
import { exploreSlot } from './exploration.js';
import { balanceSide, type BalanceState } from './network-balance.js';
import { noteRule, scaled } from './rule.js';

export class PageBuilder implements CandidateSelector {
  readonly name = 'page_builder';

  constructor(private readonly similarity: ItemSimilarity = new ItemSimilarity()) {}

  select(q: FeedQuery, candidates: Candidate[], limit: number): Candidate[] {
    const mix = q.mix;
    // −1, 0 or 1 (a score difference would be a double, boxed on every return to the sort).
    const byScore = (a: Candidate, b: Candidate) => (b.score > a.score ? 1 : b.score < a.score ? -1 : a.item - b.item);
    const perSide = Math.max(limit * 3, mix.exploration.enabled ? mix.exploration.topM : 0);
    const pool = poolOf(candidates, perSide, byScore);
    const n = pool.length;
    if (n === 0) return [];

    // Relevance: the score over the pool's best, from 0 — proportional to the score when scores
    // are positive (as the heavy ranker's weighted probabilities are), so that a factor means the
    // same on any scale; shifted by the lowest score when some are negative.
    const hi = pool[0]!.score;
    const lo = Math.min(0, pool[n - 1]!.score);
    const span = hi > lo ? hi - lo : 1;
    const relOf = (score: number) => (score - lo) / span;

    const ad = mix.authorDiversity.enabled ? mix.authorDiversity : undefined;
    const mmr = mix.contentDiversity.enabled && mix.contentDiversity.lambda < 1 ? mix.contentDiversity.lambda : undefined;
    const balance = mix.balance.enabled;
    const explore = mix.exploration.enabled && mix.exploration.share > 0 ? mix.exploration : undefined;
    const rng = new Rng(hashString(q.requestId));

    const vectors = mmr !== undefined ? this.similarity.unitVectors(pool.map((c) => c.item)) : undefined;
    // Summed similarity of each candidate to the posts on the page so far.
    const sumSim = new Float64Array(n);
    const meanSim = (i: number) => (page.length > 0 ? sumSim[i]! / page.length : 0);
    const used = new Uint8Array(n);
    const perAuthor = new Map<number, number>();
    const bs: BalanceState = { slots: 0, inCount: 0, outRun: 0 };
    const page: Candidate[] = [];
    // The value of candidate i in this slot: the relevance of its score × the author factor,
    // less the MMR penalty.
    const authorFactor = (i: number): number => {
      const a = pool[i]!.author;
      return ad && a >= 0 ? authorDiversityFactor(perAuthor.get(a) ?? 0, ad.decay, ad.floor) : 1;
    };
    // Relevance × author factor per candidate, updated for the picked post's author only.
    const rel = Float64Array.from(pool, (c) => relOf(c.score));
    const value = (i: number): number => (mmr === undefined ? rel[i]! : mmr * rel[i]! - (1 - mmr) * meanSim(i));
    const values = new Float64Array(n);
    const items = Int32Array.from(pool, (c) => c.item);
    const order = new Int32Array(n);
    const best = new Int32Array(explore ? Math.max(1, Math.min(explore.topM, n)) : 1);

    while (page.length < limit) {
      // Values of all remaining candidates; the best of each side.
      let bestIn = -1;
      let bestOut = -1;
      for (let i = 0; i < n; i++) {
        if (used[i]) continue;
        const v = (values[i] = value(i));
        if (pool[i]!.inNetwork) {
          if (bestIn < 0 || v > values[bestIn]!) bestIn = i;
        } else if (bestOut < 0 || v > values[bestOut]!) bestOut = i;
      }
      if (bestIn < 0 && bestOut < 0) break;
      let side: 'in' | 'out' | undefined;
      let sideReason = '';
      if (balance) {
        const b = balanceSide(bs, q.feed.inNetworkShare, mix.balance.tolerance, mix.balance.maxOutOfNetworkRun, bestIn >= 0, bestOut >= 0);
        side = b?.side;
        sideReason = b?.reason ?? '';
      }
      // The slot's eligible candidates, and the best of them (exploration: its topM), best
      // first, ties by item id — selected, not sorted: the values change every slot.
      let eligible = 0;
      for (let i = 0; i < n; i++) if (!used[i] && (side === undefined || (side === 'in') === pool[i]!.inNetwork)) order[eligible++] = i;
      const ranked = bestFirst(order, eligible, explore ? Math.min(explore.topM, eligible) : 1, values, items, best);
      const greedy = best[0]!;
      let pick = greedy;
      let propensity = 1;
      let explored = false;
      if (explore) {
        const e = exploreSlot(rng, explore, Array.from(best.subarray(0, ranked), (i) => values[i]!));
        pick = best[e.index]!;
        propensity = e.propensity;
        explored = e.explored && pick !== greedy;
      }

      const c = pool[pick]!;
      // Explanations: what moved this candidate.
      const af = authorFactor(pick);
      if (af < 1) noteRule(c, { rule: 'author_diversity', factor: round(af) });
      // Content diversity moved this post up when, by relevance alone, another would have taken the slot.
      if (mmr !== undefined && !explored) {
        let byRelevance = greedy;
        for (let e = 0; e < eligible; e++) if (rel[order[e]!]! > rel[byRelevance]!) byRelevance = order[e]!;
        if (byRelevance !== pick) noteRule(c, { rule: 'content_diversity', lambda: mmr, similarity: round(meanSim(pick)), instead_of_similarity: round(meanSim(byRelevance)) });
      }
      if (side !== undefined && sideReason !== 'only_side') {
        const globalBest = bestIn >= 0 && (bestOut < 0 || values[bestIn]! >= values[bestOut]!) ? bestIn : bestOut;
        if ((pool[globalBest]!.inNetwork ? 'in' : 'out') !== side) noteRule(c, { rule: 'network_balance', reason: sideReason });
      }
      if (explored) noteRule(c, { rule: 'exploration', method: explore!.method, propensity: round(propensity) });
      c.score = scaled(c.score, af);
      c.propensity = propensity;
      page.push(c);
      used[pick] = 1;

      bs.slots++;
      if (c.inNetwork) {
        bs.inCount++;
        bs.outRun = 0;
      } else bs.outRun++;
      if (c.author >= 0) {
        perAuthor.set(c.author, (perAuthor.get(c.author) ?? 0) + 1);
        if (ad) for (let i = 0; i < n; i++) if (!used[i] && pool[i]!.author === c.author) rel[i] = relOf(scaled(pool[i]!.score, authorFactor(i)));
      }
      if (mmr !== undefined) {
        for (let i = 0; i < n; i++) {
          if (used[i]) continue;
          sumSim[i] = sumSim[i]! + this.similarity.similarity(q.state, vectors!, i, pick, pool[i]!.item, c.item);
        }
      }
    }
    return page;
  }
}

/**
 * The best `m` of the first `count` indices in `order` by value (ties: the lower item id first),
 * best first, into `out` (insertion into a sorted prefix: m is small); returns how many.
 */
export function bestFirst(order: Int32Array, count: number, m: number, values: Float64Array, items: Int32Array, out: Int32Array): number {
  let filled = 0;
  for (let e = 0; e < count; e++) {
    const i = order[e]!;
    const v = values[i]!;
    const it = items[i]!;
    let at = filled;
    // Move past every kept index that this one beats, from the worst kept.
    while (at > 0) {
      const j = out[at - 1]!;
      if (!(v > values[j]! || (v === values[j]! && it < items[j]!))) break;
      at--;
    }
    if (at >= m) continue;
    for (let r = Math.min(filled, m - 1); r > at; r--) out[r] = out[r - 1]!;
    out[at] = i;
    if (filled < m) filled++;
  }
  return filled;
}

/**
 * The best `k` candidates of each side (in / out of network) by score, in `cmp` order: the k-th
 * best score of each side by selection, then one pass and a sort of at most 2k.
 */
function poolOf(candidates: Candidate[], k: number, cmp: (a: Candidate, b: Candidate) => number): Candidate[] {
  const n = candidates.length;
  const scores = [new Float64Array(n), new Float64Array(n)];
  const counts = [0, 0];
  for (let i = 0; i < n; i++) {
    const c = candidates[i]!;
    const side = c.inNetwork ? 1 : 0;
    scores[side]![counts[side]!++] = c.score;
  }
  const threshold = [0, 1].map((side) => (counts[side]! > k ? kthLargest(scores[side]!.subarray(0, counts[side]!), k) : -Infinity));
  const out: Candidate[] = [];
  const ties: Candidate[] = [];
  const taken = [0, 0];
  for (let i = 0; i < n; i++) {
    const c = candidates[i]!;
    const side = c.inNetwork ? 1 : 0;
    if (c.score > threshold[side]!) {
      out.push(c);
      taken[side]!++;
    } else if (c.score === threshold[side]) ties.push(c);
  }
  ties.sort(cmp);
  for (const c of ties) {
    const side = c.inNetwork ? 1 : 0;
    if (taken[side]! < k) {
      out.push(c);
      taken[side]!++;
    }
  }
  return out.sort(cmp);
}

/** The k-th largest value (1-based) of `x` by quickselect (reorders `x`); O(n) on average. */
export function kthLargest(x: Float64Array, k: number): number {
  let lo = 0;
  let hi = x.length - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = x[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (x[i]! > pivot) i++;
      while (x[j]! < pivot) j--;
      if (i <= j) {
        const t = x[i]!;
        x[i] = x[j]!;
        x[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return x[target]!;
  }
  return x[target]!;
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
