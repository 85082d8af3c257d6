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
import { spawn } from 'node:child_process';
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
  // Users with follows, read from the store itself.
  const reader = await Engine.open(config);
  const users = reader.store.userIds.filter((_, u) => reader.state.following.size(u) > 0);
  await reader.close();

  // The server runs in its own process (`lenta serve`), as in production; its RSS is its own.
  const t = performance.now();
  const script = `import { main } from ${JSON.stringify(new URL('../src/cli/main.js', import.meta.url).href)}; process.exitCode = await main(process.argv.slice(1));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', 'serve', '--db', db, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = / at (http:\/\/[^\s]+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`lenta serve exited with ${code}`)));
  });
  const startSeconds = (performance.now() - t) / 1000;

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
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  const stateBytes = [...metrics.matchAll(/^lenta_state_bytes\{[^}]*\} (\S+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
  const health = (await (await fetch(`${base}/health`)).json()) as { users: number; items: number; events: number };
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  process.stdout.write(
    `\nfeed benchmark: \`lenta serve\` on the demo store — ${health.users.toLocaleString('en-US')} users, ${health.items.toLocaleString('en-US')} items, ${health.events.toLocaleString('en-US')} events at the end; ${n} sequential requests per row over HTTP (node ${process.version})\n\n` +
      `${table(rows)}\n\n(page 2 rows time the page-2 request only; req/s there includes fetching page 1)\n` +
      `server: ready in ${startSeconds.toFixed(2)} s (process start + replay); RSS ${mb(gauge('process_resident_memory_bytes'))}, V8 heap ${mb(gauge('nodejs_heap_used_bytes'))}, online state ${mb(stateBytes)}\n`,
  );
  if (!values.db) {
    for (const s of ['', '-wal', '-shm']) rmSync(db + s, { force: true });
    rmSync(`${db}.models`, { recursive: true, force: true });
  }
}
