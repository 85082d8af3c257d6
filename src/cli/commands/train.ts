import { loadConfig } from '../../domain/config.js';
import { Engine } from '../../engine.js';
import { parseFlags, UsageError, type CliCommand } from '../command.js';
import { progressBar, type ProgressBar } from '../progress.js';
import { describeEngine } from './serve.js';

export const trainCommand: CliCommand = {
  name: 'train',
  summary: 'batch jobs: train the candidate sources and the rankers on the store; export the ranker training set',
  usage: `
lenta train candidates [--db FILE] [--config FILE]
lenta train ranker [--warm-start] [--db FILE] [--config FILE]
lenta train export --out FILE.csv [--db FILE] [--config FILE]

candidates  replays the store's log, trains every trainable candidate source, then the
            learned fusion (light ranker) and the heavy ranker, and saves the artifacts next
            to the database (FILE.models/), where \`lenta serve\` loads them.
ranker      loads the sources' artifacts (training those missing) and retrains the fusion and
            the heavy ranker on fresh held-out examples; --warm-start continues the saved
            ranker's trees (more trees on the new data) instead of starting over.
export      writes the heavy ranker's training set as CSV: columns t, user, item, group,
            label_<head>…, then the features (an empty field is a missing value).`,
  async run(argv) {
    const { values, positionals } = parseFlags(
      argv,
      { db: { type: 'string' }, config: { type: 'string' }, out: { type: 'string' }, 'warm-start': { type: 'boolean' } },
      true,
    );
    const job = positionals[0];
    if (job !== 'candidates' && job !== 'ranker' && job !== 'export') throw new UsageError(`unknown job "${job ?? ''}" (known: candidates, ranker, export)`);
    if (job === 'export' && !values.out) throw new UsageError('train export: --out FILE.csv is required');
    const config = loadConfig({ file: values.config as string | undefined, overrides: values.db ? { store: { db: values.db as string } } : {} });
    const replay = progressBar('replay log', { unit: 'rows' });
    const engine = await Engine.open(config, { onReplay: (rows) => replay.update(rows) });
    replay.finish(describeEngine(engine));
    const dir = engine.artifactsDir();
    const bars = new Map<string, ProgressBar>();
    const onProgress = (name: string, done: number, total: number, note?: string) => {
      let bar = bars.get(name);
      if (!bar) bars.set(name, (bar = progressBar(`train ${name}`, { total, unit: 'steps' })));
      bar.update(done, note);
    };
    const started = performance.now();
    const seconds = () => Math.round((performance.now() - started) / 10) / 100;
    try {
      if (job === 'export') {
        if (dir) await engine.loadSources(dir, onProgress, { rankers: false });
        else await engine.trainSources({ rankers: false, onProgress });
        const result = await engine.exportRankerTrainingSet(values.out as string, onProgress);
        for (const bar of bars.values()) bar.finish();
        process.stdout.write(`${JSON.stringify({ out: values.out, ...result, seconds: seconds() }, null, 2)}\n`);
        return 0;
      }
      let trained: string[];
      if (job === 'ranker') {
        if (dir) await engine.loadSources(dir, onProgress, { rankers: false });
        else await engine.trainSources({ rankers: false, onProgress });
        trained = await engine.trainRankers({ ...(dir ? { dir } : {}), warmStart: values['warm-start'] === true, onProgress });
      } else {
        trained = await engine.trainSources({ ...(dir ? { dir } : {}), onProgress });
      }
      for (const bar of bars.values()) bar.finish();
      process.stdout.write(`${JSON.stringify({ db: config.store.db, artifacts: dir ?? null, trained, ...rankerSummary(engine), seconds: seconds() }, null, 2)}\n`);
      return 0;
    } finally {
      await engine.close();
    }
  },
};

/** What the learned rankers measured on their held-out users (printed after training). */
export function rankerSummary(engine: Engine): Record<string, unknown> {
  const f = engine.fusion.trained;
  const fusion = f
    ? { k0: f.k0, weights: f.weights, [`held_out_recall@${f.report.k}`]: f.report.validation, users: f.report.users }
    : { not_learned: engine.fusionNote ?? 'off' };
  const r = engine.ranker.trained;
  const ranker = r
    ? {
        heads: Object.fromEntries(r.report.heads.map((h) => [h.name, { positives: h.positives, trees: h.trees, auc: h.auc, light_auc: h.lightAuc, ece: h.ece, ece_uncalibrated: h.eceRaw, ...(h.mlpAuc !== undefined ? { trees_auc: h.treesAuc, mlp_auc: h.mlpAuc, mlp_blend: h.blend } : {}), ...(h.firstPassTrees !== undefined ? { first_pass_trees: h.firstPassTrees, first_pass_auc: h.firstPassAuc } : {}) }])),
        [`held_out_ndcg@${r.report.validation.k}`]: { weighted_score: r.report.validation.ndcg, ...(r.report.validation.trees ? { trees_alone: r.report.validation.trees.ndcg } : {}), engaged_head: r.report.validation.engagedNdcg, light: r.report.validation.lightNdcg },
        [`held_out_recall@${r.report.validation.k}`]: { weighted_score: r.report.validation.recall, engaged_head: r.report.validation.engagedRecall, light: r.report.validation.lightRecall },
        [`held_out_value@${r.report.validation.k}`]: { weighted_score: r.report.validation.value, ...(r.report.validation.trees ? { trees_alone: r.report.validation.trees.value } : {}), light: r.report.validation.lightValue },
        ...(r.report.cascade ? { cascade: { tree_share: r.report.cascade.treeShare, keep_share: r.report.cascade.keepShare, [`ndcg@${r.report.validation.k}`]: r.report.cascade.ndcg, top10_kept: r.report.cascade.top10Kept } } : {}),
        ...(r.report.mlp ? { mlp: { blend: r.report.mlp.blend, hidden: r.report.mlp.hidden, epochs: r.report.mlp.epochs, best_epoch: r.report.mlp.bestEpoch, seconds: r.report.mlp.seconds, ...(r.report.mlp.warmStart ? { warm_start: true } : {}) } } : {}),
        gate: r.report.gate.reason,
        examples: r.report.examples,
        rows: r.report.rows,
        [r.report.examples === 'impressions' ? 'requests' : 'users']: r.report.users,
        features: r.report.features,
        top_features: r.report.importance.slice(0, 8).map((x) => `${x.feature} ${x.gain}`),
        ...(r.report.warmStart ? { warm_start_trees: r.report.warmStart } : {}),
      }
    : { not_learned: engine.rankerNote ?? 'off' };
  return { fusion, ranker };
}
