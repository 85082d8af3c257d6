/**
 * A serving process of `lenta serve --workers N` (server/cluster.ts): a whole engine on a read
 * replica of the database, its writes committed by the primary.
 */
import cluster from 'node:cluster';
import { describeEngine, loadModels } from '../cli/commands/serve.js';
import { progressBar } from '../cli/progress.js';
import { parseConfig } from '../domain/config.js';
import { EventTypeRegistry } from '../domain/event-types.js';
import { Engine } from '../engine.js';
import { ReplicaStore } from '../store/replica-store.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { buildServer } from './app.js';
import { CONFIG_ENV, type PrimaryMessage, type WorkerMessage } from './cluster.js';

async function main(): Promise<void> {
  if (!cluster.isWorker || !process.send) throw new Error('cluster-worker: started outside a cluster');
  const send = (m: WorkerMessage) => process.send!(m);
  const config = parseConfig(JSON.parse(process.env[CONFIG_ENV] ?? 'null'));
  const self = cluster.worker!.id;
  const quiet = self !== 1; // the first worker reports progress; the others would repeat it

  let replica: ReplicaStore | undefined;
  // `/metrics`: this process's own text goes to the primary on request; a scrape asks it for everyone's.
  let render: () => string = () => '';
  let nextMetrics = 1;
  const metricsWaiting = new Map<number, (text: string) => void>();
  const metrics = {
    register: (r: () => string) => void (render = r),
    collect: () =>
      new Promise<string>((resolve) => {
        const id = nextMetrics++;
        metricsWaiting.set(id, resolve);
        send({ type: 'metrics-request', id });
      }),
  };
  let stop: (() => Promise<void>) | undefined;
  const welcome = new Promise<void>((resolve) => {
    process.on('message', (m: PrimaryMessage) => {
      if (m.type === 'welcome') resolve();
      else if (m.type === 'shutdown') void (stop ?? (async () => {}))().finally(() => process.exit(0));
      else if (m.type === 'metrics-collect') send({ type: 'metrics-part', id: m.id, text: render() });
      else if (m.type === 'metrics-result') {
        metricsWaiting.get(m.id)?.(m.text);
        metricsWaiting.delete(m.id);
      }
      else replica?.receive(m);
    });
  });
  // Ctrl-C reaches the whole process group: the primary decides when workers stop.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  // Without the primary there is no writer: stop.
  process.on('disconnect', () => {
    replica?.failPending('the writer process is gone');
    void (stop ?? (async () => {}))().finally(() => process.exit(1));
  });

  try {
    send({ type: 'hello' });
    await welcome;
    // Opened only now: every commit after this is announced to this worker, every earlier one is in the file.
    const types = new EventTypeRegistry(config.eventTypes);
    const inner = SqliteStore.open({ path: config.store.db, types, synchronous: config.store.synchronous });
    replica = new ReplicaStore(inner, { self, send: (m) => send(m) });
    const bar = quiet ? undefined : progressBar('replay log', { unit: 'rows' });
    const engine = await Engine.open(config, { store: replica, onReplay: (rows) => bar?.update(rows) });
    bar?.finish(describeEngine(engine));
    await loadModels(engine, quiet);
    // Commits that arrived while the log replayed and the models loaded, in order.
    replica.release();
    const app = buildServer(engine, { metrics });
    const address = await app.listen({ port: config.server.port, host: config.server.host });
    stop = async () => {
      await app.close();
      await engine.close();
    };
    send({ type: 'ready', url: address.replace('[::1]', 'localhost') });
  } catch (err) {
    process.send!({ type: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies WorkerMessage, undefined, {}, () => process.exit(1));
  }
}

await main();
