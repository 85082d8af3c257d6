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
 * best score (the pool: the best `poolSize` candidates), so that MMR's λ means the same for any
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
    const byScore = (a: Candidate, b: Candidate) => b.score - a.score || a.item - b.item;
    const poolSize = Math.min(candidates.length, Math.max(limit * 10, mix.exploration.enabled ? mix.exploration.topM * 2 : 0, 200));
    const pool = topByScore(candidates, poolSize, byScore);
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
    const value = (i: number): number => {
      const r = relOf(scaled(pool[i]!.score, authorFactor(i)));
      return mmr === undefined ? r : mmr * r - (1 - mmr) * meanSim(i);
    };
    const values = new Float64Array(n);
    const order: number[] = [];

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
      // The slot's eligible candidates, best first (ties by item id).
      order.length = 0;
      for (let i = 0; i < n; i++) if (!used[i] && (side === undefined || (side === 'in') === pool[i]!.inNetwork)) order.push(i);
      order.sort((a, b) => values[b]! - values[a]! || pool[a]!.item - pool[b]!.item);
      const greedy = order[0]!;
      let pick = greedy;
      let propensity = 1;
      let explored = false;
      if (explore) {
        const e = exploreSlot(rng, explore, order.map((i) => values[i]!));
        pick = order[e.index]!;
        propensity = e.propensity;
        explored = e.explored && pick !== greedy;
      }

      const c = pool[pick]!;
      // Explanations: what moved this candidate.
      const af = authorFactor(pick);
      if (af < 1) noteRule(c, { rule: 'author_diversity', factor: round(af) });
      if (mmr !== undefined && sumSim[pick]! > 0) noteRule(c, { rule: 'content_diversity', lambda: mmr, similarity: round(meanSim(pick)) });
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
      if (c.author >= 0) perAuthor.set(c.author, (perAuthor.get(c.author) ?? 0) + 1);
      if (mmr !== undefined) {
        const vp = vectors![pick];
        for (let i = 0; i < n; i++) {
          if (used[i]) continue;
          sumSim[i] = sumSim[i]! + this.similarity.similarity(q.state, pool[i]!.item, c.item, vectors![i], vp);
        }
      }
    }
    return page;
  }
}

/** The best `k` candidates by `cmp` order (a partial selection, then a sort of the k). */
function topByScore(candidates: Candidate[], k: number, cmp: (a: Candidate, b: Candidate) => number): Candidate[] {
  if (k >= candidates.length) return candidates.slice().sort(cmp);
  // Threshold by a sample-free approach: sort a copy of scores once (n log n on ≤ ~1,500 numbers).
  const scores = Float64Array.from(candidates, (c) => c.score).sort();
  const threshold = scores[scores.length - k]!;
  const above: Candidate[] = [];
  const at: Candidate[] = [];
  for (const c of candidates) {
    if (c.score > threshold) above.push(c);
    else if (c.score === threshold) at.push(c);
  }
  at.sort(cmp);
  for (let i = 0; above.length < k && i < at.length; i++) above.push(at[i]!);
  return above.sort(cmp);
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
