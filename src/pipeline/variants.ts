/**
 * Request settings per variant of the For You pipeline. A variant is the base config with an
 * overlay of its `feed`, `rank` and `mix` sections (`experiments.variants[].config`); what a
 * request needs of it — the mixer's rules, the feed settings, per-source budgets, the score
 * formula's weights — is resolved once here, not per request.
 *
 * Built-in variants, for evaluation and debugging (`?variant=`):
 *   light-ranker     the heavy ranker off: the light ranker's order (rank/heavy-ranker.ts)
 *   relevance-only   every rescoring and page rule off (out-of-network factor, boosts, author and
 *                    content diversity, balance, exploration): the rankers' order after the filters
 */
import { mergeDeep, parseConfig, type Config } from '../domain/config.js';
import { createCandidateSources } from '../candidates/index.js';
import { DEFAULT_VARIANT, HOLDOUT_VARIANT } from '../experiments/assignment.js';
import { LIGHT_RANKER_VARIANT } from '../rank/heavy-ranker.js';

export const RELEVANCE_ONLY_VARIANT = 'relevance-only';

const RELEVANCE_ONLY_OVERLAY = {
  mix: {
    outOfNetwork: { enabled: false },
    boosts: { enabled: false },
    authorDiversity: { enabled: false },
    balance: { enabled: false },
    contentDiversity: { enabled: false },
    exploration: { enabled: false },
  },
};

export interface VariantSettings {
  name: string;
  /** The variant's whole config (base + overlay). */
  config: Config;
  /** Per-source budgets when they differ from the base pipeline's. */
  budgets?: ReadonlyMap<string, number>;
  /** True when the variant's `rank` section differs from the base (its own score terms). */
  ownWeights: boolean;
}

export function resolveVariants(base: Config): Map<string, VariantSettings> {
  const out = new Map<string, VariantSettings>();
  const baseBudgets = budgetsOf(base);
  const add = (name: string, overlay: Record<string, unknown>) => {
    let config: Config;
    try {
      config = parseConfig(mergeDeep(base as unknown as Record<string, unknown>, overlay));
    } catch (err) {
      throw new Error(`experiments variant "${name}": ${(err as Error).message}`);
    }
    const budgets = budgetsOf(config);
    let differs = false;
    for (const [k, v] of budgets) if (baseBudgets.get(k) !== v) differs = true;
    out.set(name, { name, config, budgets: differs ? budgets : undefined, ownWeights: JSON.stringify(config.rank) !== JSON.stringify(base.rank) });
  };
  add(DEFAULT_VARIANT, {});
  add(LIGHT_RANKER_VARIANT, {});
  add(RELEVANCE_ONLY_VARIANT, RELEVANCE_ONLY_OVERLAY);
  for (const v of base.experiments.variants) add(v.name, v.config);
  add(HOLDOUT_VARIANT, {});
  return out;
}

function budgetsOf(config: Config): Map<string, number> {
  return new Map(createCandidateSources(config).entries.map((e) => [e.source.name, e.budget]));
}
