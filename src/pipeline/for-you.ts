/**
 * The For You feed, declared: reading this list tells the whole pipeline.
 *
 *   sources   in-network (followed authors by affinity) · popular (recent engagement)
 *   filters   seen/served/excluded · author visibility (self, mute, block)
 *   scorers   source scores on one scale
 *   selector  in-network share balance
 *   effects   impressions logged to the event log
 */
import type { Config } from '../domain/config.js';
import { InNetworkSource } from '../candidates/in-network.js';
import { PopularSource } from '../candidates/popular.js';
import { seenFilter } from '../mix/seen-filter.js';
import { authorVisibilityFilter } from '../mix/author-visibility-filter.js';
import { NetworkBalanceSelector } from '../mix/network-balance.js';
import { sourceScoreScorer } from '../rank/source-score.js';
import { FeedPipeline } from './feed-pipeline.js';
import type { SideEffect } from './types.js';

export function createForYouPipeline(feed: Config['feed'], sideEffects: SideEffect[]): { pipeline: FeedPipeline; popular: PopularSource } {
  const popular = new PopularSource({ maxPostAge: feed.maxPostAge, window: feed.popularWindow, recencyHalfLife: feed.recencyHalfLife });
  const pipeline = new FeedPipeline({
    name: 'for_you',
    sources: [
      {
        source: new InNetworkSource({ maxAuthors: feed.maxAuthors, maxPostAge: feed.maxPostAge, recencyHalfLife: feed.recencyHalfLife }),
        budget: feed.inNetworkBudget,
      },
      { source: popular, budget: feed.popularBudget },
    ],
    filters: [seenFilter, authorVisibilityFilter],
    scorers: [sourceScoreScorer],
    selector: new NetworkBalanceSelector(feed.inNetworkShare),
    sideEffects,
  });
  return { pipeline, popular };
}
