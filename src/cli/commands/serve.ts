import { loadConfig, type Config } from '../../domain/config.js';
import { Engine } from '../../engine.js';
import { buildServer } from '../../server/app.js';
import { intFlag, parseFlags, type CliCommand } from '../command.js';
import { progressBar, type ProgressBar } from '../progress.js';

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'serve the HTTP API on a store (replays the log into memory first)',
  usage: `
lenta serve [--db FILE] [--port N] [--host H] [--config FILE]

Opens the store (default $LENTA_DB or ./data/lenta.db), rebuilds the online state by replaying
the log, and serves the API (default port $PORT or 8080). Stops cleanly on SIGINT/SIGTERM.`,
  async run(argv) {
    const { values } = parseFlags(argv, { db: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, config: { type: 'string' } });
    const config = loadConfig({
      file: values.config as string | undefined,
      overrides: {
        ...(values.db ? { store: { db: values.db as string } } : {}),
        server: {
          ...(values.port !== undefined ? { port: intFlag(values.port as string, 'port', 8080, 0) } : {}),
          ...(values.host ? { host: values.host as string } : {}),
        },
      },
    });
    const { url } = await startServer(config);
    process.stdout.write(`lenta: serving ${config.store.db} at ${url}\n`);
    return await waitForShutdown();
  },
};

let shutdown: (() => Promise<void>) | undefined;

/** Opens the engine on the config's store, replays the log and listens. */
export async function startServer(config: Config, opened?: Engine): Promise<{ engine: Engine; url: string }> {
  let engine = opened;
  if (!engine) {
    const bar = progressBar('replay log', { unit: 'rows' });
    engine = await Engine.open(config, { onReplay: (rows) => bar.update(rows) });
    bar.finish(describeEngine(engine));
  }
  const dir = engine.artifactsDir();
  if (dir) {
    const bars = new Map<string, ProgressBar>();
    const { loaded, trained } = await engine.loadSources(dir, (source, done, total, note) => {
      let bar = bars.get(source);
      if (!bar) bars.set(source, (bar = progressBar(`train ${source}`, { total, unit: 'steps' })));
      bar.update(done, note);
    });
    for (const bar of bars.values()) bar.finish();
    if (loaded.length + trained.length > 0) {
      process.stderr.write(`lenta: models ${[...loaded.map((s) => `${s} (loaded)`), ...trained.map((s) => `${s} (trained now)`)].join(', ')}\n`);
    }
  }
  const app = buildServer(engine);
  const address = await app.listen({ port: config.server.port, host: config.server.host });
  shutdown = async () => {
    await app.close();
    await engine.close();
  };
  return { engine, url: address.replace('[::1]', 'localhost') };
}

export function describeEngine(engine: Engine): string {
  const n = (x: number) => x.toLocaleString('en-US');
  return `${n(engine.state.events)} events, ${n(engine.store.userIds.length)} users, ${n(engine.store.itemIds.length)} items, ${n(engine.state.following.edges)} follows`;
}

/** Resolves with exit code 0 after SIGINT/SIGTERM has closed the server and the store. */
export function waitForShutdown(): Promise<number> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`lenta: ${signal}, closing\n`);
      void (shutdown?.() ?? Promise.resolve()).then(() => resolve(0));
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
