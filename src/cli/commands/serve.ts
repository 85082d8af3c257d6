import { loadConfig, type Config } from '../../domain/config.js';
import { Engine } from '../../engine.js';
import { availableParallelism } from 'node:os';
import { buildServer } from '../../server/app.js';
import { serveCluster } from '../../server/cluster.js';
import { intFlag, parseFlags, type CliCommand } from '../command.js';
import { progressBar, type ProgressBar } from '../progress.js';

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'serve the HTTP API on a store (replays the log into memory first)',
  usage: `
lenta serve [--db FILE] [--port N] [--host H] [--workers N|auto] [--config FILE]

Opens the store (default $LENTA_DB or ./data/lenta.db), rebuilds the online state by replaying
the log, and serves the API (default port $PORT or 8080). Stops cleanly on SIGINT/SIGTERM.

--workers N   serve from N processes on the shared port (default server.workers, 1; auto: one
              per core): a writer process commits every write and announces it to the serving
              processes, each a whole engine on a read replica of the database file.`,
  async run(argv) {
    const { values } = parseFlags(argv, { db: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, workers: { type: 'string' }, config: { type: 'string' } });
    const workers = values.workers === undefined ? undefined : values.workers === 'auto' ? 'auto' : intFlag(values.workers as string, 'workers', 1, 1);
    const config = loadConfig({
      file: values.config as string | undefined,
      overrides: {
        ...(values.db ? { store: { db: values.db as string } } : {}),
        server: {
          ...(values.port !== undefined ? { port: intFlag(values.port as string, 'port', 8080, 0) } : {}),
          ...(values.host ? { host: values.host as string } : {}),
          ...(workers !== undefined ? { workers } : {}),
        },
      },
    });
    const n = config.server.workers === 'auto' ? availableParallelism() : config.server.workers;
    if (n > 1) {
      const server = await serveCluster(config, n);
      shutdown = () => server.close();
      process.stdout.write(`lenta: serving ${config.store.db} at ${server.url} from ${n} processes\n`);
      return await waitForShutdown();
    }
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
  await loadModels(engine);
  const app = buildServer(engine);
  const address = await app.listen({ port: config.server.port, host: config.server.host });
  shutdown = async () => {
    await app.close();
    await engine.close();
  };
  return { engine, url: address.replace('[::1]', 'localhost') };
}

/** Loads the trained sources and rankers from `<db>.models/`, training (with progress bars) what is missing. */
export async function loadModels(engine: Engine, quiet = false): Promise<void> {
  const dir = engine.artifactsDir();
  if (dir) {
    const bars = new Map<string, ProgressBar>();
    const { loaded, trained } = await engine.loadSources(dir, (source, done, total, note) => {
      if (quiet) return;
      let bar = bars.get(source);
      if (!bar) bars.set(source, (bar = progressBar(`train ${source}`, { total, unit: 'steps' })));
      bar.update(done, note);
    });
    for (const bar of bars.values()) bar.finish();
    if (!quiet && loaded.length + trained.length > 0) {
      process.stderr.write(`lenta: models ${[...loaded.map((s) => `${s} (loaded)`), ...trained.map((s) => `${s} (trained now)`)].join(', ')}\n`);
    }
  }
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
