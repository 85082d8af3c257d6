import { loadConfig } from '../../domain/config.js';
import { Engine } from '../../engine.js';
import { parseFlags, UsageError, type CliCommand } from '../command.js';
import { progressBar, type ProgressBar } from '../progress.js';
import { describeEngine } from './serve.js';

export const trainCommand: CliCommand = {
  name: 'train',
  summary: 'batch jobs: train the candidate sources (embeddings, communities, co-engagement) on the store',
  usage: `
lenta train candidates [--db FILE] [--config FILE]

Replays the store's log, trains every trainable candidate source and saves the artifacts next
to the database (FILE.models/), where \`lenta serve\` loads them.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { db: { type: 'string' }, config: { type: 'string' } }, true);
    const job = positionals[0];
    if (job !== 'candidates') throw new UsageError(`unknown job "${job ?? ''}" (known: candidates)`);
    const config = loadConfig({ file: values.config as string | undefined, overrides: values.db ? { store: { db: values.db as string } } : {} });
    const replay = progressBar('replay log', { unit: 'rows' });
    const engine = await Engine.open(config, { onReplay: (rows) => replay.update(rows) });
    replay.finish(describeEngine(engine));
    const dir = engine.artifactsDir();
    const bars = new Map<string, ProgressBar>();
    const started = performance.now();
    try {
      const trained = await engine.trainSources({
        ...(dir ? { dir } : {}),
        onProgress: (source, done, total, note) => {
          let bar = bars.get(source);
          if (!bar) bars.set(source, (bar = progressBar(`train ${source}`, { total, unit: 'steps' })));
          bar.update(done, note);
        },
      });
      for (const bar of bars.values()) bar.finish();
      const f = engine.fusion.trained;
      const fusion = f
        ? { k0: f.k0, weights: f.weights, [`held_out_recall@${f.report.k}`]: f.report.validation, users: f.report.users }
        : { not_learned: engine.fusionNote ?? 'off' };
      process.stdout.write(
        `${JSON.stringify({ db: config.store.db, artifacts: dir ?? null, trained, fusion, seconds: Math.round((performance.now() - started) / 10) / 100 }, null, 2)}\n`,
      );
      return 0;
    } finally {
      await engine.close();
    }
  },
};
