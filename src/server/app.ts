/**
 * The HTTP API v1 (fastify). Write endpoints take batches and are all-or-nothing; reads serve
 * the For You and the chronological feeds. Errors are always
 * `{"error":{"code","message","field"?}}` with a 4xx status for bad input.
 */
import cluster from 'node:cluster';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Engine } from '../engine.js';
import type { Config } from '../domain/config.js';
import type { LogRecord } from '../domain/types.js';
import { ValidationError, validateEdge, validateEvent, validateItem, validateUser } from '../domain/validate.js';
import { VERSION } from '../version.js';
import { AdmissionQueue, OverloadedError } from './admission.js';
import { LoopLoad } from './loop-load.js';
import { MetricsRegistry } from './metrics.js';
import { openApiDocument } from './openapi.js';

export interface ServerOptions {
  bodyLimit?: number;
  maxBatch?: number;
  /**
   * Several serving processes (server/cluster.ts): `register` receives this server's own
   * metrics text; `/metrics` answers with `collect()`, every process's metrics (a `worker` label each).
   */
  metrics?: { register(render: () => string): void; collect(): Promise<string> };
  /** Overload protection settings over the engine's `feed.overload` (e.g. an embedding server's own). */
  overload?: Partial<Config['feed']['overload']>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

function sendError(reply: FastifyReply, status: number, code: string, message: string, field?: string) {
  const error: Record<string, string> = { code, message };
  if (field) error.field = field;
  return reply.code(status).type('application/json').send({ error });
}

export function buildServer(engine: Engine, options: ServerOptions = {}): FastifyInstance {
  const maxBatch = options.maxBatch ?? engine.config.server.maxBatch;
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimit ?? engine.config.server.bodyLimit });
  const metrics = new MetricsRegistry();
  const requests = metrics.counter('lenta_http_requests_total', 'HTTP requests by route and status');
  const latency = metrics.histogram('lenta_http_request_seconds', 'HTTP request latency by route', [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
  const written = metrics.counter('lenta_records_written_total', 'Records written to the log by kind');
  const duplicates = metrics.counter('lenta_duplicate_events_total', 'Re-sent events skipped (id already in the log)');
  const feedItems = metrics.counter('lenta_feed_items_served_total', 'Items served in feeds by feed');
  const sourceLatency = metrics.histogram('lenta_source_seconds', 'Candidate source latency by source', [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1]);
  const sourceYield = metrics.counter('lenta_source_candidates_total', 'Candidates proposed by each source');
  const sourceFailures = metrics.counter('lenta_source_failures_total', 'Candidate sources that failed or timed out, skipped (fail open)');
  const sideEffectErrors = metrics.counter('lenta_side_effect_errors_total', 'Failed side effects (impression logging) by effect');
  const overloaded = metrics.counter('lenta_feed_overloaded_total', 'For You pages ordered by the light ranker alone because the request waited longer than feed.overload.lightAfterMs in the queue or the event loop was busier than feed.overload.utilization');
  const reducedPages = metrics.counter('lenta_feed_reduced_total', "For You pages whose heavy ranker scored only the light ranker's best feed.overload.reducedBudget candidates because the request waited longer than feed.overload.reducedAfterMs or the event loop was busier than feed.overload.reducedUtilization");
  const shed = metrics.counter('lenta_feed_shed_total', 'For You requests answered 503 because they had waited too long in the admission queue (feed.overload.shedAfterMs, or twice lightAfterMs while the queue stands)');
  metrics.gauge('lenta_feed_queue_waiting', 'For You requests waiting in the admission queue', () => admission?.waiting ?? 0);
  metrics.gauge('lenta_users', 'Known users', () => engine.store.userIds.length);
  metrics.gauge('lenta_items', 'Known items', () => engine.store.itemIds.length);
  metrics.gauge('lenta_log_seq', 'Sequence number of the newest log row', () => engine.state.lastSeq);
  metrics.gauge('lenta_state_events', 'Events folded into the online state', () => engine.state.events);
  metrics.gauge('lenta_state_bytes', 'Bytes of the online state by structure', () =>
    Object.entries(engine.state.memory()).map(([structure, b]) => [{ structure }, b] as [Record<string, string>, number]),
  );
  metrics.gauge('process_resident_memory_bytes', 'Resident memory of the process', () => process.memoryUsage().rss);
  metrics.gauge('nodejs_heap_used_bytes', 'V8 heap in use', () => process.memoryUsage().heapUsed);

  // Overload protection (feed.overload): the event loop's busy share, and the feed's admission queue.
  const overload = { ...engine.config.feed.overload, ...options.overload };
  const load = new LoopLoad();
  const admission = overload.enabled ? new AdmissionQueue(overload.concurrency, overload.shedAfterMs, overload.lightAfterMs > 0 ? { targetMs: overload.lightAfterMs, intervalMs: overload.windowMs } : undefined) : undefined;
  /**
   * The protection's steps, the stronger first: the light ranker alone (heavy-ranker budget 0),
   * then the heavy ranker on the light ranker's best `reducedBudget` (0: no such step). A request
   * takes the first step whose queue wait (`afterMs`, 0: off) or loop busy share it passed.
   */
  const steps = [
    { budget: 0, afterMs: overload.lightAfterMs, afterSetting: 'lightAfterMs', utilization: overload.utilization, utilizationSetting: 'utilization', state: 'overloaded', effect: 'the light ranker ordered this page' },
    ...(overload.reducedBudget > 0
      ? [{ budget: overload.reducedBudget, afterMs: overload.reducedAfterMs, afterSetting: 'reducedAfterMs', utilization: overload.reducedUtilization, utilizationSetting: 'reducedUtilization', state: 'busy', effect: `the heavy ranker scored the light ranker's best ${overload.reducedBudget} candidates (feed.overload.reducedBudget)` }]
      : []),
  ];
  /** The step a request that waited `waited` ms in the queue takes, with the reason its answer gives; undefined: the full pipeline. */
  const overloadStep = (waited: number): { budget: number; reason: string } | undefined => {
    const busy = load.utilization(overload.windowMs);
    for (const s of steps) {
      if (s.afterMs > 0 && waited > s.afterMs) return { budget: s.budget, reason: `${s.state}: this request waited ${Math.round(waited)} ms in the queue (> feed.overload.${s.afterSetting} ${s.afterMs}); ${s.effect}` };
      if (busy > s.utilization) return { budget: s.budget, reason: `${s.state}: the server was busy ${(100 * busy).toFixed(0)}% of its last ${overload.windowMs} ms (> feed.overload.${s.utilizationSetting} ${s.utilization}); ${s.effect}` };
    }
    return undefined;
  };

  engine.onSideEffectError = (effect, err) => {
    sideEffectErrors.inc({ effect });
    process.stderr.write(`lenta: ${effect} failed: ${String(err)}\n`);
  };

  if (cluster.isWorker) {
    // Several processes serve (`server.workers`): each answer says which one.
    const worker = String(cluster.worker!.id);
    app.addHook('onRequest', async (_req, reply) => {
      reply.header('x-lenta-worker', worker);
    });
  }
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    latency.observe(reply.elapsedTime / 1000, { route });
  });

  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'not_found', `no route ${req.method} ${req.url}`));

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof ValidationError) return sendError(reply, 400, 'invalid_field', err.message, err.field);
    if (err instanceof HttpError) return sendError(reply, err.status, err.code, err.message, err.field);
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, 413, 'body_too_large', err.message, 'body');
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendError(reply, 415, 'unsupported_media_type', 'send the body as application/json', 'body');
    if (err.code?.startsWith('FST_ERR_CTP') || (err instanceof SyntaxError && err.statusCode === 400)) {
      return sendError(reply, 400, 'invalid_json', `the body is not valid JSON: ${err.message}`, 'body');
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return sendError(reply, err.statusCode, 'bad_request', err.message);
    process.stderr.write(`lenta: internal error: ${err.stack ?? String(err)}\n`);
    return sendError(reply, 500, 'internal', 'internal error; nothing of the request was written unless it was acknowledged');
  });

  function batchOf(body: unknown, key: string): unknown[] {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new HttpError(400, 'invalid_body', `the body must be a JSON object {"${key}": [...]}`, 'body');
    }
    const list = (body as Record<string, unknown>)[key];
    if (!Array.isArray(list)) throw new HttpError(400, 'invalid_field', `${key}: must be an array`, key);
    if (list.length > maxBatch) throw new HttpError(400, 'batch_too_large', `${key}: at most ${maxBatch} records per request, got ${list.length}`, key);
    const extra = Object.keys(body as object).filter((k) => k !== key);
    if (extra.length > 0) throw new HttpError(400, 'invalid_field', `${extra[0]}: is not a known field (known: ${key})`, extra[0]);
    return list;
  }

  async function write(kind: string, records: LogRecord[]) {
    const result = await engine.ingest(records);
    written.inc({ kind }, records.length);
    if (result.duplicates) duplicates.inc({}, result.duplicates);
    return result;
  }

  app.post('/v1/events', async (req) => {
    const list = batchOf(req.body, 'events');
    const records: LogRecord[] = list.map((e, i) => ({ kind: 'event', event: validateEvent(e, `events[${i}]`, engine.types) }));
    return write('event', records);
  });

  app.post('/v1/items', async (req) => {
    const list = batchOf(req.body, 'items');
    return write('item', list.map((e, i) => ({ kind: 'item', item: validateItem(e, `items[${i}]`) })));
  });

  app.post('/v1/users', async (req) => {
    const list = batchOf(req.body, 'users');
    return write('user', list.map((e, i) => ({ kind: 'user', user: validateUser(e, `users[${i}]`) })));
  });

  app.post('/v1/follows', async (req) => {
    const list = batchOf(req.body, 'follows');
    const now = Date.now();
    return write('edge', list.map((e, i) => ({ kind: 'edge', edge: validateEdge(e, `follows[${i}]`, now) })));
  });

  app.get('/v1/users', async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const limit = intParam(q.limit, 'limit', 100, 1, 10_000);
    return { users: engine.store.userIds.slice(0, limit).map((id) => ({ id })) };
  });

  app.get('/v1/users/:id/feed', async (req: FastifyRequest, reply) => {
    const { id } = req.params as { id: string };
    const q = req.query as Record<string, string | undefined>;
    const limit = intParam(q.limit, 'limit', engine.config.feed.pageSize, 1, 200);
    const exclude = q.exclude ? q.exclude.split(',').filter((s) => s.length > 0) : [];
    const explain = boolParam(q.explain, 'explain', true);
    const request: Parameters<Engine['forYouFeed']>[1] = { limit, exclude, explain };
    if (q.cursor) request.cursor = q.cursor;
    if (q.variant) request.variant = q.variant;
    let feed: Awaited<ReturnType<Engine['forYouFeed']>>;
    if (admission) {
      // Overload protection: in the admission queue (server/admission.ts), in arrival order; shed
      // after waiting too long; ordered by the light ranker alone when it waited a while, or while
      // the event loop is busier than the limit.
      let turn: { result: typeof feed; waitedMs: number };
      try {
        turn = await admission.run((waited) => {
          const step = overloadStep(waited);
          if (step) request.overload = step;
          return engine.forYouFeed(id, request);
        });
      } catch (err) {
        if (!(err instanceof OverloadedError)) throw err;
        shed.inc();
        return sendError(reply.header('retry-after', '1'), 503, 'overloaded', err.message);
      }
      feed = turn.result;
      // explain=true: the wait, and the requests still queued when this one was answered.
      feed.timings?.unshift({ stage: 'queue', ms: turn.waitedMs, count: admission.waiting });
    } else feed = await engine.forYouFeed(id, request);
    feedItems.inc({ feed: 'for_you' }, feed.items.length);
    if (request.overload && feed.degradedReasons?.includes(request.overload.reason)) (request.overload.budget === 0 ? overloaded : reducedPages).inc();
    for (const t of feed.timings ?? []) {
      if (t.stage !== 'source' || !t.component) continue;
      sourceLatency.observe(t.ms / 1000, { source: t.component });
      sourceYield.inc({ source: t.component }, t.count);
      if (t.error) sourceFailures.inc({ source: t.component });
    }
    // Stage timings only when asked for explicitly (explain=true): explanations are on by default.
    if (q.explain !== 'true' && q.explain !== '1') delete feed.timings;
    return feed;
  });

  app.get('/v1/users/:id/following', async (req) => {
    const { id } = req.params as { id: string };
    const q = req.query as Record<string, string | undefined>;
    const limit = intParam(q.limit, 'limit', engine.config.feed.pageSize, 1, 200);
    const request: { limit: number; cursor?: string } = { limit };
    if (q.cursor) request.cursor = q.cursor;
    const feed = await engine.followingFeed(id, request);
    feedItems.inc({ feed: 'following' }, feed.items.length);
    return feed;
  });

  app.get('/v1/items/:id/related', async (req) => {
    const { id } = req.params as { id: string };
    const q = req.query as Record<string, string | undefined>;
    const limit = intParam(q.limit, 'limit', 20, 1, 200);
    const related = await engine.relatedItems(id, limit);
    if (!related) throw new HttpError(404, 'not_found', `no item "${id}"`, 'id');
    return related;
  });

  app.get('/v1/users/:id/who-to-follow', async (req) => {
    const { id } = req.params as { id: string };
    const q = req.query as Record<string, string | undefined>;
    return engine.whoToFollow(id, intParam(q.limit, 'limit', 20, 1, 200));
  });

  app.get('/v1/trending', async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const limit = intParam(q.limit, 'limit', 20, 1, 200);
    const request: { limit: number; tag?: string; window?: string } = { limit };
    if (q.tag) request.tag = q.tag;
    if (q.window !== undefined) request.window = q.window;
    return engine.trending(request);
  });

  app.get('/health', async () => {
    const counts = await engine.store.counts();
    return {
      status: 'ok',
      version: VERSION,
      store: engine.store.kind,
      ...counts,
      clock: new Date(engine.now()).toISOString(),
      // Which process answered (several serve with `server.workers` > 1).
      pid: process.pid,
      ...(cluster.isWorker ? { worker: cluster.worker!.id } : {}),
    };
  });

  options.metrics?.register(() => metrics.render());
  app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4').send(options.metrics ? await options.metrics.collect() : metrics.render()));

  const doc = openApiDocument(VERSION);
  app.get('/openapi.json', async () => doc);

  return app;
}

function boolParam(v: string | undefined, field: string, fallback: boolean): boolean {
  if (v === undefined || v === '') return fallback;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ValidationError(field, `must be true or false, got "${v}"`);
}

function intParam(v: string | undefined, field: string, fallback: number, min: number, max: number): number {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ValidationError(field, `must be an integer between ${min} and ${max}, got "${v}"`);
  return n;
}
