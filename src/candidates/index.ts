/**
 * The candidate sources of the For You feed, with their budgets. Each source is one file in
 * this folder; this list is the one place that says which run and how many candidates each
 * may propose. Trainable sources (isTrainable) are trained by `lenta train candidates` and
 * loaded by `serve`.
 */
import type { Config } from '../domain/config.js';
import type { CandidateSource } from '../pipeline/types.js';
import { InNetworkSource } from './in-network.js';
import { CommunitySource } from './communities.js';
import { FreshSource } from './fresh.js';
import { PopularSource } from './popular.js';
import { ItemToItemSource } from './item-to-item.js';
import { SocialGraphSource } from './social-graph.js';
import { EmbeddingSource } from './embedding.js';
import { EaseSource } from './ease.js';

export interface SourceEntry {
  source: CandidateSource;
  budget: number;
}

export interface CandidateSources {
  entries: SourceEntry[];
  popular: PopularSource;
}

export function createCandidateSources(config: Config): CandidateSources {
  const feed = config.feed;
  const ease = new EaseSource();
  const popular = new PopularSource({ maxPostAge: feed.maxPostAge, window: feed.popularWindow, recencyHalfLife: feed.recencyHalfLife });
  const entries: SourceEntry[] = [
    {
      source: new InNetworkSource({ maxAuthors: feed.maxAuthors, maxPostAge: feed.maxPostAge, recencyHalfLife: feed.recencyHalfLife }),
      budget: feed.inNetworkBudget,
    },
    { source: popular, budget: feed.popularBudget },
    { source: new FreshSource({ maxPostAge: feed.maxPostAge, recencyHalfLife: feed.recencyHalfLife }), budget: feed.freshBudget },
    { source: new CommunitySource({ maxPostAge: feed.maxPostAge, halfLife: feed.maxPostAge > 0 ? feed.recencyHalfLife : 0 }), budget: 300 },
    { source: new EmbeddingSource({ factors: 64, iterations: 15, regularization: 20, alpha: 1 }), budget: 500 },
    { source: new ItemToItemSource(), budget: 500 },
    { source: ease, budget: 500 },
    // The EASE model's recency-weighted list (shares the trained model above).
    { source: ease.recentSource(), budget: 500 },
    { source: new SocialGraphSource({ recencyHalfLife: feed.maxPostAge > 0 ? feed.recencyHalfLife : 0 }), budget: 500 },
    // More sources: one line each, e.g. { source: new ItemToItemSource(...), budget: 300 },
  ];
  for (const e of entries) e.budget = feed.sourceBudgets[e.source.name] ?? e.budget;
  return { entries, popular };
}
