/**
 * The algorithms `lenta eval` knows: the baselines of docs/EVAL_PROTOCOL.md, registered by
 * name. Importing this module registers them. The Lenta pipeline adds itself the same way
 * (`registerAlgorithm('lenta', factory)`), and `lenta eval` imports this file.
 *
 * Options (from command-line flags, see src/cli/commands/eval.ts):
 *   itemknn.neighbors   neighbours kept per item, 0 = all (default 0)
 *   ease.lambda         λ (default 500)
 *   ease.solver         auto | primal | dual (default auto: the smaller of item and user Gram)
 *   ease.threads        threads of the dense inverse (default up to 2)
 *   ials.factors, ials.reg, ials.alpha, ials.iterations, ials.cg-steps, ials.weighting
 */
import { EaseRecommender, type EaseSolver } from '../models/ease/ease.js';
import { ItemKnnRecommender } from '../models/knn/item-knn.js';
import { IalsRecommender } from '../models/mf/ials.js';
import { PopularityRecommender } from '../models/popularity.js';
import { LentaRecommender } from './lenta-recommender.js';
import { registerAlgorithm, type AlgorithmParams } from './recommender.js';

export const BASELINES = ['popularity', 'itemknn', 'ease', 'ials'] as const;

function num(params: AlgorithmParams, key: string): number | undefined {
  const v = params.options[key];
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) throw new Error(`${key} must be a number, got "${String(v)}"`);
  return n;
}

function str(params: AlgorithmParams, key: string): string | undefined {
  const v = params.options[key];
  return v === undefined ? undefined : String(v);
}

registerAlgorithm('popularity', () => new PopularityRecommender(), 'most popular training items');
registerAlgorithm('itemknn', (p) => new ItemKnnRecommender({ neighbors: num(p, 'itemknn.neighbors') }), 'item-based kNN, cosine over the training user–item matrix');
registerAlgorithm(
  'ease',
  (p) => {
    const solver = str(p, 'ease.solver');
    if (solver !== undefined && !['auto', 'primal', 'dual'].includes(solver)) throw new Error(`ease.solver must be auto, primal or dual, got "${solver}"`);
    return new EaseRecommender({ lambda: num(p, 'ease.lambda'), solver: solver as EaseSolver | undefined, threads: num(p, 'ease.threads') });
  },
  'EASE closed-form item autoencoder (Steck 2019)',
);
registerAlgorithm(
  'ials',
  (p) => {
    const weighting = str(p, 'ials.weighting');
    if (weighting !== undefined && weighting !== 'binary' && weighting !== 'log') throw new Error(`ials.weighting must be binary or log, got "${weighting}"`);
    return new IalsRecommender({
      factors: num(p, 'ials.factors'),
      regularization: num(p, 'ials.reg'),
      alpha: num(p, 'ials.alpha'),
      iterations: num(p, 'ials.iterations'),
      cgSteps: num(p, 'ials.cg-steps'),
      weighting: weighting as 'binary' | 'log' | undefined,
      seed: p.seed,
    });
  },
  'implicit ALS with conjugate-gradient row solves',
);
registerAlgorithm('lenta', (p) => new LentaRecommender(LentaRecommender.catalogueConfig({ holdout: p.protocol === 'random' ? 'random' : p.protocol === 'loo' ? 'last' : 'latest', seed: p.seed }, p.config, p.threshold)), 'the Lenta For You pipeline, replaying the training log (same code as the API)');
