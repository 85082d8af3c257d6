/**
 * Serving from several processes (`lenta serve --workers N`): one JavaScript thread answers
 * one request at a time, so a machine's other cores serve only through other processes.
 *
 *   primary   the writer: owns the store's writes (SqliteStore), commits every write durably
 *             (group commit, as a single process does), then announces the commit to every
 *             worker in commit order. It holds no online state and serves no HTTP.
 *   workers   each a whole engine on a read replica of the same database file
 *             (store/replica-store.ts): it replays the log at start, folds in every announced
 *             commit, and serves HTTP on the shared port (the cluster module hands each new
 *             connection to the next worker). A write a worker receives is validated there,
 *             committed by the primary, and answered once the worker has applied it.
 *
 * The event log stays the one source of truth: a worker's state is the log replayed, then the
 * log's later commits in order. Feed cursors carry what the earlier pages served, so the next
 * page may come from any worker. The first worker starts alone (it trains what is missing from
 * `<db>.models/`), then the others start and load what it saved. A worker that dies is replaced;
 * the primary's death ends the workers.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { Config } from '../domain/config.js';
import { EventTypeRegistry } from '../domain/event-types.js';
import type { AppendFailure, AppendRequest, CommitMessage } from '../store/replica-store.js';
import { mergeMetrics } from './metrics.js';
import { withServerHeapFlags } from './node-flags.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';

/** Messages from a worker to the primary. */
export type WorkerMessage =
  | { type: 'hello' }
  | AppendRequest
  | { type: 'ready'; url: string }
  | { type: 'failed'; error: string }
  | { type: 'metrics-request'; id: number }
  | { type: 'metrics-part'; id: number; text: string };
/** Messages from the primary to a worker. */
export type PrimaryMessage =
  | { type: 'welcome' }
  | CommitMessage
  | AppendFailure
  | { type: 'shutdown' }
  | { type: 'metrics-collect'; id: number }
  | { type: 'metrics-result'; id: number; text: string };

/** How long `/metrics` waits for every serving process's part (a busy or dying one is left out). */
const METRICS_WAIT_MS = 2000;

export const CONFIG_ENV = 'LENTA_CLUSTER_CONFIG';

export interface ClusterServer {
  url: string;
  close(): Promise<void>;
}

/** Starts the writer and `workers` serving processes; resolves when all serve. */
export async function serveCluster(config: Config, workers: number, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<ClusterServer> {
  if (!cluster.isPrimary) throw new Error('serveCluster: call it from the primary process');
  if (config.store.db === ':memory:') throw new Error('server.workers: several processes need a database file, not :memory:');
  const types = new EventTypeRegistry(config.eventTypes);
  const store = SqliteStore.open({ path: config.store.db, types, synchronous: config.store.synchronous, groupCommitMs: config.store.groupCommitMs });
  // Ids interned by commits already announced: the next commit announces the rest.
  let sentUsers = store.userIds.length;
  let sentItems = store.itemIds.length;
  const subscribed = new Set<Worker>();
  /** Workers that have served: one that dies is replaced (one that fails to start is not: it would again). */
  const serving = new Set<Worker>();
  let stopping = false;

  cluster.setupPrimary({
    exec: fileURLToPath(new URL('./cluster-worker.js', import.meta.url)),
    args: [],
    // The workers run a file: not the primary's `-e`/`--input-type`; profiling and heap flags
    // carry over, and a serving process gets the young generation of `bin/lenta.js` unless told otherwise.
    execArgv: withServerHeapFlags(process.execArgv.filter((a) => /^--(cpu-prof|heap-prof|max-old-space-size|max-semi-space-size|inspect)/.test(a))),
    serialization: 'advanced', // structured clone: the commits' typed arrays travel as they are
  });
  const env = { [CONFIG_ENV]: JSON.stringify(config) };

  const announce = (origin: Worker, id: number, result: CommitMessage['result']) => {
    const message: CommitMessage = {
      type: 'commit',
      origin: origin.id,
      id,
      usersFrom: sentUsers,
      users: store.userIds.slice(sentUsers),
      itemsFrom: sentItems,
      items: store.itemIds.slice(sentItems),
      result,
    };
    sentUsers = store.userIds.length;
    sentItems = store.itemIds.length;
    for (const w of subscribed) if (w.isConnected()) w.send(message);
  };

  // `/metrics` on any process: the primary gathers every serving process's metrics and merges them.
  let nextCollection = 1;
  const collections = new Map<number, { parts: { worker: string; text: string }[]; waiting: Set<Worker>; finish: () => void }>();
  const collectMetrics = (requester: Worker, requestId: number) => {
    const id = nextCollection++;
    const waiting = new Set([...serving].filter((w) => w.isConnected()));
    const parts: { worker: string; text: string }[] = [];
    const finish = () => {
      if (!collections.delete(id)) return;
      clearTimeout(timer);
      if (requester.isConnected()) requester.send({ type: 'metrics-result', id: requestId, text: mergeMetrics(parts) } satisfies PrimaryMessage);
    };
    const timer = setTimeout(finish, METRICS_WAIT_MS);
    collections.set(id, { parts, waiting, finish });
    for (const w of waiting) w.send({ type: 'metrics-collect', id } satisfies PrimaryMessage);
    if (waiting.size === 0) finish();
  };

  let url = '';
  const started = new Map<Worker, { resolve: () => void; reject: (e: Error) => void }>();
  const fork = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const worker = cluster.fork(env);
      started.set(worker, { resolve, reject });
      worker.on('message', (m: WorkerMessage) => {
        switch (m.type) {
          case 'hello':
            // From now on every commit reaches this worker; what came before is in the file it opens next.
            subscribed.add(worker);
            worker.send({ type: 'welcome' } satisfies PrimaryMessage);
            break;
          case 'append':
            store.append(m.records).then(
              (result) => announce(worker, m.id, result),
              (err: Error & { field?: string; reason?: string }) => {
                if (worker.isConnected()) worker.send({ type: 'append-error', id: m.id, error: { message: err.message, field: err.field, reason: err.reason } } satisfies PrimaryMessage);
              },
            );
            break;
          case 'ready':
            url = m.url;
            serving.add(worker);
            started.get(worker)?.resolve();
            started.delete(worker);
            break;
          case 'metrics-request':
            collectMetrics(worker, m.id);
            break;
          case 'metrics-part': {
            const c = collections.get(m.id);
            if (!c || !c.waiting.delete(worker)) break;
            c.parts.push({ worker: String(worker.id), text: m.text });
            if (c.waiting.size === 0) c.finish();
            break;
          }
          case 'failed':
            started.get(worker)?.reject(new Error(`worker ${worker.id} failed to start: ${m.error}`));
            started.delete(worker);
            break;
        }
      });
    });

  cluster.on('exit', (worker, code, signal) => {
    subscribed.delete(worker);
    const starting = started.get(worker);
    if (starting) {
      started.delete(worker);
      starting.reject(new Error(`worker ${worker.id} exited while starting (${signal ?? `code ${code}`})`));
      return;
    }
    if (stopping || !serving.delete(worker)) return;
    log(`lenta: worker ${worker.id} (pid ${worker.process.pid}) exited (${signal ?? `code ${code}`}); starting another`);
    fork().catch((err: unknown) => log(`lenta: ${String(err)}`));
  });

  const close = async () => {
    stopping = true;
    const exits = [...Object.values(cluster.workers ?? {})].filter((w): w is Worker => !!w).map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.isDead()) return resolve();
          w.once('exit', () => resolve());
          if (w.isConnected()) w.send({ type: 'shutdown' } satisfies PrimaryMessage);
          else w.kill();
        }),
    );
    await Promise.all(exits);
    await store.close();
  };

  try {
    // The first worker alone: it trains and saves what is missing; the others then load it.
    await fork();
    await Promise.all(Array.from({ length: workers - 1 }, () => fork()));
  } catch (err) {
    await close();
    throw err;
  }
  return { url, close };
}
