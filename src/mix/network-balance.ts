/**
 * The selector of the first For You feed: orders candidates by score while keeping the page's
 * share of in-network posts near the target. At each slot it takes the best remaining
 * in-network or out-of-network candidate, whichever keeps the running share closest to the
 * target; when one side runs out, the other fills the page.
 */
import type { Candidate, CandidateSelector, FeedQuery } from '../pipeline/types.js';

export class NetworkBalanceSelector implements CandidateSelector {
  readonly name = 'network_balance';
  constructor(private readonly inNetworkShare: number) {}

  select(_q: FeedQuery, candidates: Candidate[], limit: number): Candidate[] {
    const byScore = (a: Candidate, b: Candidate) => b.score - a.score || a.item - b.item;
    const inNet = candidates.filter((c) => c.inNetwork).sort(byScore);
    const outNet = candidates.filter((c) => !c.inNetwork).sort(byScore);
    const page: Candidate[] = [];
    let i = 0;
    let o = 0;
    let inCount = 0;
    while (page.length < limit && (i < inNet.length || o < outNet.length)) {
      let takeIn: boolean;
      if (i >= inNet.length) takeIn = false;
      else if (o >= outNet.length) takeIn = true;
      else {
        const slots = page.length + 1;
        const shareIfIn = (inCount + 1) / slots;
        const shareIfOut = inCount / slots;
        const dIn = Math.abs(shareIfIn - this.inNetworkShare);
        const dOut = Math.abs(shareIfOut - this.inNetworkShare);
        takeIn = dIn < dOut || (dIn === dOut && inNet[i].score >= outNet[o].score);
      }
      if (takeIn) {
        page.push(inNet[i++]);
        inCount++;
      } else page.push(outNet[o++]);
    }
    return page;
  }
}
