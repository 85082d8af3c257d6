/**
 * The synthetic platform: seeded users, creators, posts, a follow graph, a logging policy
 * with logged propensities, and engagements drawn from a known ground-truth model.
 */
export { createSimulation, simulate, type Simulation, type SimStats } from './platform.js';
export { SIM_PRESETS, SIM_DEFAULTS, isSimPresetName, resolveSimOptions, type SimOptions, type ResolvedSimOptions, type SimPresetName } from './options.js';
export {
  GroundTruth,
  loadTruth,
  saveTruth,
  ITEM_ID_PREFIX,
  USER_ID_PREFIX,
  TOPIC_TAG_PREFIX,
  VIDEO_TAG,
  type ProbabilityOptions,
  type TruthFile,
  type TruthMeta,
  type TruthTables,
} from './truth.js';
export { defaultEngagementModel, STYLE_DIMS, type EngagementModel, type TypeCoefficients, type PairFeatures } from './engagement-model.js';
export { Rng, cumulative, hashString, mix32 } from './random.js';
