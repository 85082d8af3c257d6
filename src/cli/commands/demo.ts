import { loadConfig } from '../../domain/config.js';
import { Engine } from '../../engine.js';
import { SIM_PRESETS, isSimPresetName, simulate } from '../../sim/index.js';
import { intFlag, parseFlags, UsageError, type CliCommand } from '../command.js';
import { progressBar } from '../progress.js';
import { describeEngine, startServer, waitForShutdown } from './serve.js';

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'generate a synthetic platform into the store if it is empty, then serve it (npm start)',
  usage: `
lenta demo [--db FILE] [--port N] [--preset tiny|demo|medium] [--config FILE]

When the store (default $LENTA_DB or ./data/lenta.db) has no events yet, fills it with the
synthetic platform of the preset (default: demo, ~2,000 users over 7 days), then serves the
API and prints a URL and a curl line for a real user's feed.`,
  async run(argv) {
    const { values } = parseFlags(argv, { db: { type: 'string' }, port: { type: 'string' }, preset: { type: 'string' }, config: { type: 'string' } });
    const preset = (values.preset as string | undefined) ?? 'demo';
    if (!isSimPresetName(preset) || preset === 'bench') throw new UsageError(`--preset must be tiny, demo or medium, got "${preset}"`);
    const config = loadConfig({
      file: values.config as string | undefined,
      overrides: {
        ...(values.db ? { store: { db: values.db as string } } : {}),
        server: values.port !== undefined ? { port: intFlag(values.port as string, 'port', 8080, 0) } : {},
      },
    });
    const replayBar = progressBar('replay log', { unit: 'rows' });
    const engine = await Engine.open(config, { onReplay: (rows) => replayBar.update(rows) });
    replayBar.finish(describeEngine(engine));
    if (engine.state.events === 0) {
      process.stderr.write(`lenta demo: ${config.store.db} is empty; generating the synthetic platform "${preset}" (seed ${SIM_PRESETS[preset].seed})\n`);
      const bar = progressBar('generate + import', { unit: 'records' });
      const result = await engine.importStream(simulate({ ...SIM_PRESETS[preset] }), (n) => bar.update(n));
      bar.finish(`${result.users.toLocaleString('en-US')} users, ${result.events.toLocaleString('en-US')} events, ${result.edges.toLocaleString('en-US')} follows`);
    }
    const { url } = await startServer(config, engine);
    const user = demoUser(engine);
    const base = url.replace('127.0.0.1', 'localhost');
    process.stdout.write(
      [
        '',
        `Lenta is serving ${config.store.db} at ${base}`,
        '',
        `  For You feed of user ${user}:`,
        `    curl '${base}/v1/users/${encodeURIComponent(user)}/feed?limit=20'`,
        `  its next page: add &cursor=<nextCursor of the response>`,
        `  chronological feed of the accounts ${user} follows:`,
        `    curl '${base}/v1/users/${encodeURIComponent(user)}/following'`,
        `  users, health, metrics, API description:`,
        `    ${base}/v1/users?limit=10  ${base}/health  ${base}/metrics  ${base}/openapi.json`,
        '',
        'Ctrl-C stops the server; the data stays in the store for the next start.',
        '',
      ].join('\n'),
    );
    return await waitForShutdown();
  },
};

/** An active user with follows: the one with the most recent history among the first thousand. */
function demoUser(engine: Engine): string {
  let best = -1;
  let bestScore = -1;
  const n = Math.min(engine.store.userIds.length, 1000);
  for (let u = 0; u < n; u++) {
    const score = Math.min(engine.state.following.size(u), 50) * 1000 + engine.state.history.size(u);
    if (score > bestScore) {
      best = u;
      bestScore = score;
    }
  }
  return engine.store.userIds[Math.max(0, best)] ?? 'u0';
}
