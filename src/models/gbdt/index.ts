/** Histogram gradient-boosted trees: training, prediction, metrics, training-set CSV files. */
export { BinMapper, binMatrix, type BinMapperJson, type BinnedMatrix } from './binning.js';
export { GBDT_DEFAULTS, resolveGbdtParams, trainGbdt, trainHeads, validateGbdtDataset, type GbdtDataset, type GbdtMatrix, type GbdtMetric, type GbdtParams, type GbdtProgress, type GbdtTrainOptions } from './booster.js';
export { readTrainingCsv, type TrainingCsv } from './csv.js';
export { GbdtForest, type ForestOptions } from './forest.js';
export { idealDcg, labelGain, logLoss, logLossOfRaw, ndcgAtK, rocAuc } from './metrics.js';
export { GBDT_FORMAT, GbdtModel, type GbdtModelJson, type GbdtReport, type GbdtTreeJson } from './model.js';
export type { ObjectiveName } from './objectives.js';
