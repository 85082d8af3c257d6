/**
 * For You feed latency at the demo size, over real HTTP (the server listening on loopback):
 *   baseline  GET /health (the HTTP floor of this machine and framework)
 *   feed      GET /v1/users/:id/feed?limit=20 for N requests over distinct users, sequential
 *   page 2    the same with the cursor of page 1
 * Prints p50/p99/mean and requests/s, and the process memory.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/domain/config.js';
import { Engine } from '../src/engine.js';
import { buildServer } from '../src/server/app.js';
import { SIM_PRESETS, simulate } from '../src/sim/index.js';
import { mb, percentile, table } from './report.js';

export async function feedBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { requests: { type: 'string', default: '1000' }, dir: { type: 'string', default: '.bench' }, db: { type: 'string' } } });
  const n = Number(values.requests);
  mkdirSync(values.dir!, { recursive: true });
  const db = values.db ?? join(values.dir!, 'feed-demo.db');
  const config = parseConfig({ store: { db } });
  if (!values.db && !existsSync(db)) {
    const engine = await Engine.open(config);
    await engine.importStream(simulate({ ...SIM_PRESETS.demo }));
    await engine.close();
  }
  let t = performance.now();
  const engine = await Engine.open(config);
  const startSeconds = (performance.now() - t) / 1000;
  const app = buildServer(engine);
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const users = engine.store.userIds.filter((_, u) => engine.state.following.size(u) > 0);

  async function measure(label: string, urls: (i: number) => Promise<string> | string): Promise<Record<string, string | number>> {
    const times: number[] = [];
    let items = 0;
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      const url = await urls(i);
      const t0 = performance.now();
      const res = await fetch(`${base}${url}`);
      const body = (await res.json()) as { items?: unknown[] };
      times.push(performance.now() - t0);
      items += body.items?.length ?? 0;
    }
    const total = (performance.now() - started) / 1000;
    times.sort((a, b) => a - b);
    return {
      request: label,
      'p50 ms': percentile(times, 50),
      'p99 ms': percentile(times, 99),
      'mean ms': times.reduce((a, b) => a + b, 0) / n,
      'req/s': Math.round(n / total),
      'items/req': Math.round((items / n) * 10) / 10,
    };
  }

  const rows = [];
  rows.push(await measure('baseline: GET /health', () => '/health'));
  rows.push(await measure('GET /v1/users/:id/feed (page 1)', (i) => `/v1/users/${encodeURIComponent(users[i % users.length]!)}/feed?limit=20`));
  rows.push(
    await measure('GET /v1/users/:id/feed (page 2, cursor)', async (i) => {
      const user = encodeURIComponent(users[(i + 7) % users.length]!);
      const first = (await (await fetch(`${base}/v1/users/${user}/feed?limit=20`)).json()) as { nextCursor: string };
      return `/v1/users/${user}/feed?limit=20&cursor=${encodeURIComponent(first.nextCursor)}`;
    }),
  );
  await engine.drain();
  const mem = process.memoryUsage();
  const stateBytes = Object.values(engine.state.memory()).reduce((a, b) => a + b, 0);
  process.stdout.write(
    `\nfeed benchmark: demo store ${db} — ${engine.store.userIds.length.toLocaleString('en-US')} users, ${engine.store.itemIds.length.toLocaleString('en-US')} items, ${engine.state.events.toLocaleString('en-US')} events; ${n} requests each, sequential (node ${process.version})\n\n` +
      `${table(rows)}\n\nstartup (open + replay): ${startSeconds.toFixed(2)} s; RSS ${mb(mem.rss)}, V8 heap ${mb(mem.heapUsed)}, online state ${mb(stateBytes)}\n`,
  );
  await app.close();
  await engine.close();
  if (!values.db) for (const s of ['', '-wal', '-shm']) rmSync(db + s, { force: true });
}
