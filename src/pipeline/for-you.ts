/**
 * The For You feed, declared: reading this list tells the whole pipeline.
 *
 *   sources   candidates/index.ts: in-network (followed authors by affinity) · popular (recent engagement) · …
 *   filters   seen/served/excluded · author visibility (self, mute, block)
 *   scorers   source fusion: a logistic model over the sources' ranks (trained), else reciprocal-rank fusion
 *   selector  in-network share balance
 *   effects   impressions logged to the event log
 */
import type { Config } from '../domain/config.js';
import { createCandidateSources, type SourceEntry } from '../candidates/index.js';
import type { PopularSource } from '../candidates/popular.js';
import { seenFilter } from '../mix/seen-filter.js';
import { authorVisibilityFilter } from '../mix/author-visibility-filter.js';
import { NetworkBalanceSelector } from '../mix/network-balance.js';
import { SourceFusion } from '../rank/source-fusion.js';
import { FeedPipeline } from './feed-pipeline.js';
import type { SideEffect } from './types.js';

export function createForYouPipeline(config: Config, sideEffects: SideEffect[]): { pipeline: FeedPipeline; popular: PopularSource; sources: SourceEntry[]; fusion: SourceFusion } {
  const { entries, popular } = createCandidateSources(config);
  const fusion = new SourceFusion(config.feed.sourceWeights, config.feed.fusionK);
  const pipeline = new FeedPipeline({
    name: 'for_you',
    sources: entries,
    sourceTimeoutMs: config.feed.sourceTimeoutMs,
    filters: [seenFilter, authorVisibilityFilter],
    scorers: [fusion],
    selector: new NetworkBalanceSelector(config.feed.inNetworkShare),
    sideEffects,
  });
  return { pipeline, popular, sources: entries, fusion };
}
