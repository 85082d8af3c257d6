/**
 * The For You feed, declared: reading this list tells the whole pipeline.
 *
 *   sources   candidates/index.ts: in-network (followed authors by affinity) · popular (recent engagement) · …
 *   filters   seen/served/excluded · author visibility (self, mute, block)
 *   scorers   light ranker: source fusion (weighted reciprocal ranks, learned) → heavy ranker: gradient-boosted heads
 *             over the feature registry, calibrated, combined by the score formula (when trained)
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
import { HeavyRanker } from '../rank/heavy-ranker.js';
import { FeedPipeline } from './feed-pipeline.js';
import type { SideEffect } from './types.js';

export function createForYouPipeline(config: Config, sideEffects: SideEffect[]): { pipeline: FeedPipeline; popular: PopularSource; sources: SourceEntry[]; fusion: SourceFusion; ranker: HeavyRanker } {
  const { entries, popular } = createCandidateSources(config);
  const fusion = new SourceFusion(config.feed.sourceWeights, config.feed.fusionK);
  const ranker = new HeavyRanker(config.rank);
  const pipeline = new FeedPipeline({
    name: 'for_you',
    sources: entries,
    sourceTimeoutMs: config.feed.sourceTimeoutMs,
    filters: [seenFilter, authorVisibilityFilter],
    scorers: [fusion, ranker],
    selector: new NetworkBalanceSelector(config.feed.inNetworkShare),
    sideEffects,
  });
  return { pipeline, popular, sources: entries, fusion, ranker };
}
