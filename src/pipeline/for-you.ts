/**
 * The For You feed, declared: reading this list tells the whole pipeline.
 *
 *   sources   candidates/index.ts: in-network (followed authors by affinity) · popular (recent engagement) · …
 *   filters   seen/served/excluded · author visibility (self, mute, block)
 *   scorers   reciprocal-rank fusion of the sources
 *   selector  in-network share balance
 *   effects   impressions logged to the event log
 */
import type { Config } from '../domain/config.js';
import { createCandidateSources, type SourceEntry } from '../candidates/index.js';
import type { PopularSource } from '../candidates/popular.js';
import { seenFilter } from '../mix/seen-filter.js';
import { authorVisibilityFilter } from '../mix/author-visibility-filter.js';
import { NetworkBalanceSelector } from '../mix/network-balance.js';
import { ReciprocalRankFusion } from '../rank/reciprocal-rank-fusion.js';
import { FeedPipeline } from './feed-pipeline.js';
import type { SideEffect } from './types.js';

export function createForYouPipeline(config: Config, sideEffects: SideEffect[]): { pipeline: FeedPipeline; popular: PopularSource; sources: SourceEntry[] } {
  const { entries, popular } = createCandidateSources(config);
  const pipeline = new FeedPipeline({
    name: 'for_you',
    sources: entries,
    sourceTimeoutMs: config.feed.sourceTimeoutMs,
    filters: [seenFilter, authorVisibilityFilter],
    scorers: [new ReciprocalRankFusion(config.feed.sourceWeights, config.feed.fusionK)],
    selector: new NetworkBalanceSelector(config.feed.inNetworkShare),
    sideEffects,
  });
  return { pipeline, popular, sources: entries };
}
