/**
 * The For You feed, declared: reading this list tells the whole pipeline.
 *
 *   sources    candidates/index.ts: in-network (followed authors by affinity) · popular · fresh · communities ·
 *              embeddings · item-to-item · EASE · social graph
 *   filters    seen/served/excluded · author visibility (self, mute, block) · hidden posts · feedback fatigue ·
 *              max age · unsafe · social proof (off by default)
 *   scorers    light ranker: source fusion (weighted reciprocal ranks, learned) → heavy ranker: gradient-boosted heads
 *              over the feature registry, calibrated, combined by the score formula (when trained)
 *   rescorers  feedback fatigue (recovering multiplier) · out-of-network multiplier · boosts · new authors (off by default)
 *   selector   page builder: network balance · author diversity · content diversity (MMR) · exploration
 *   effects    impressions logged to the event log, with their propensities
 *
 * Every filter and rule is switched and tuned under `mix` in the config (src/mix/, one file each).
 */
import type { Config } from '../domain/config.js';
import { createCandidateSources, type SourceEntry } from '../candidates/index.js';
import type { PopularSource } from '../candidates/popular.js';
import { EmbeddingSource } from '../candidates/embedding.js';
import { seenFilter } from '../mix/seen-filter.js';
import { authorVisibilityFilter } from '../mix/author-visibility-filter.js';
import { hiddenPostsFilter } from '../mix/hidden-posts-filter.js';
import { feedbackFatigueFilter, feedbackFatigueRescorer } from '../mix/feedback-fatigue.js';
import { maxAgeFilter } from '../mix/max-age-filter.js';
import { unsafeFilter } from '../mix/unsafe-filter.js';
import { socialProofFilter } from '../mix/social-proof-filter.js';
import { outOfNetworkRescorer } from '../mix/out-of-network.js';
import { BoostsRescorer } from '../mix/boosts.js';
import { newAuthorsRescorer } from '../mix/new-authors.js';
import { ItemSimilarity } from '../mix/content-diversity.js';
import { PageBuilder } from '../mix/page-builder.js';
import { SourceFusion } from '../rank/source-fusion.js';
import { HeavyRanker } from '../rank/heavy-ranker.js';
import { FeedPipeline } from './feed-pipeline.js';
import type { SideEffect } from './types.js';

/** `authorIndex`: external user id → dense id (for per-author boosts). */
export function createForYouPipeline(
  config: Config,
  sideEffects: SideEffect[],
  authorIndex: (id: string) => number | undefined,
): { pipeline: FeedPipeline; popular: PopularSource; sources: SourceEntry[]; fusion: SourceFusion; ranker: HeavyRanker } {
  const { entries, popular } = createCandidateSources(config);
  const fusion = new SourceFusion(config.feed.sourceWeights, config.feed.fusionK);
  const ranker = new HeavyRanker(config.rank);
  const embedding = entries.map((e) => e.source).find((s): s is EmbeddingSource => s instanceof EmbeddingSource);
  const pipeline = new FeedPipeline({
    name: 'for_you',
    sources: entries,
    sourceTimeoutMs: config.feed.sourceTimeoutMs,
    filters: [seenFilter, authorVisibilityFilter, hiddenPostsFilter, feedbackFatigueFilter, maxAgeFilter, unsafeFilter, socialProofFilter],
    scorers: [fusion, ranker],
    rescorers: [feedbackFatigueRescorer, outOfNetworkRescorer, new BoostsRescorer(authorIndex), newAuthorsRescorer],
    selector: new PageBuilder(new ItemSimilarity(embedding)),
    sideEffects,
  });
  return { pipeline, popular, sources: entries, fusion, ranker };
}
