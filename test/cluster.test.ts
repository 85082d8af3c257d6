import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest, Agent } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Engine } from '../src/engine.js';
import { SIM_PRESETS, simulate } from '../src/sim/index.js';
import { tempDir, testConfig } from './helpers.js';

const main = JSON.stringify(new URL('../src/cli/main.js', import.meta.url).href);

/** A GET or POST on its own connection (`agent`: a keep-alive one, to stay with one process). */
function call(base: string, method: 'GET' | 'POST', path: string, body?: unknown, agent?: Agent): Promise<{ status: number; json: any; worker: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(
      `${base}${path}`,
      { method, agent: agent ?? false, headers: { ...(data ? { 'content-type': 'application/json' } : {}), ...(agent ? {} : { connection: 'close' }) } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, json: text ? JSON.parse(text) : undefined, worker: String(res.headers['x-lenta-worker']) }));
      },
    );
    req.on('error', reject);
    // A connection that the cluster's primary hands to a worker at the moment it is killed is
    // never answered (Node keeps it open): clients need a timeout, as this one has.
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    req.end(data);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('serve --workers 2: two serving processes on one port, writes committed once by the writer and seen by both, pages across processes without repeats, a killed worker replaced, acknowledged writes kept when the writer is killed', async () => {
  const { dir, cleanup } = tempDir('lenta-cluster-');
  const db = join(dir, 'lenta.db');
  let server: ChildProcess | undefined;
  const workerPids = new Set<number>();
  try {
    const engine = await Engine.open(testConfig(db), { logImpressions: false });
    await engine.importStream(simulate({ ...SIM_PRESETS.tiny }));
    await engine.close();

    const script = `import(${main}).then((m) => m.main(process.argv.slice(1))).then((c) => { process.exitCode = c; }, (e) => { console.error(e); process.exitCode = 1; });`;
    server = spawn(process.execPath, ['-e', script, '--', 'serve', '--db', db, '--port', '0', '--workers', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    server.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const base = await new Promise<string>((resolve, reject) => {
      let out = '';
      server!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = / at (http:\/\/\S+) from 2 processes/.exec(out);
        if (m) resolve(m[1]!);
      });
      server!.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
    });

    // New connections go to the processes in turn: both answer.
    const health = async () => (await call(base, 'GET', '/health')).json as { pid: number; worker: number; events: number; users: number };
    for (let k = 0; k < 8 && workerPids.size < 2; k++) workerPids.add((await health()).pid);
    assert.equal(workerPids.size, 2, 'two serving processes');
    assert.ok(![...workerPids].includes(server.pid!), 'the primary serves no HTTP');
    // Writes are timed at the platform's clock (later times would age every simulated post out of the feed).
    const now = Date.parse((await call(base, 'GET', '/health')).json.clock as string);

    // A write on one connection: that process reads it at once (its own commit is applied before the answer)…
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const post = await call(base, 'POST', '/v1/items', { items: [{ id: 'cluster-post', authorId: 'cluster-author', createdAt: now, tags: ['topic:0'] }] }, agent);
    assert.deepEqual(post.json, { accepted: 1, duplicates: 0 });
    assert.equal((await call(base, 'GET', '/v1/items/cluster-post/related', undefined, agent)).status, 200);
    // …and both processes know the new post and author soon after.
    const seenBy = new Set<string>();
    await until('both processes to know the new post', async () => {
      const related = await call(base, 'GET', '/v1/items/cluster-post/related');
      if (related.status === 200) seenBy.add(related.worker);
      return seenBy.size === 2 ? true : undefined;
    });
    // Bad input is still a 400 naming the field (the serving process validates before the writer sees it).
    const bad = await call(base, 'POST', '/v1/events', { events: [{ userId: 'u1', itemId: 'cluster-post', type: 'zap', timestamp: now }] });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.field, 'events[0].type');

    // /metrics on any process: every serving process's series, each with its `worker` label, one header per family.
    const scrape = await new Promise<string>((resolve, reject) => {
      httpRequest(`${base}/metrics`, { agent: false }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve(text));
      })
        .on('error', reject)
        .end();
    });
    const healthSeries = [...scrape.matchAll(/^lenta_http_requests_total\{worker="(\d+)",method="GET",route="\/health",status="200"\} (\d+)$/gm)];
    assert.equal(new Set(healthSeries.map((m) => m[1])).size, 2, scrape.slice(0, 2000));
    assert.equal(scrape.match(/^# TYPE lenta_http_requests_total counter$/gm)?.length, 1);

    // Events through both processes: committed once each, counted the same by both.
    const acked: string[] = [];
    for (let b = 0; b < 10; b++) {
      const events = Array.from({ length: 20 }, (_, k) => ({ id: `c-${b}-${k}`, userId: `u${k}`, itemId: 'cluster-post', type: 'like', timestamp: now }));
      const res = await call(base, 'POST', '/v1/events', { events });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      acked.push(...events.map((e) => e.id));
    }
    const again = await call(base, 'POST', '/v1/events', { events: [{ id: 'c-0-0', userId: 'u0', itemId: 'cluster-post', type: 'like', timestamp: now }] });
    assert.deepEqual(again.json, { accepted: 1, duplicates: 1 }, 'a re-sent event id is a duplicate whichever process takes it');
    const counts = await until('both processes to count the same events', async () => {
      const a = await health();
      const b = await health();
      return a.pid !== b.pid && a.events === b.events ? a.events : undefined;
    });
    const raw = new Database(db, { readonly: true });
    assert.equal(raw.prepare("SELECT count(*) FROM log WHERE eid LIKE 'c-%'").pluck().get(), acked.length);
    raw.close();

    // Pages of one session from different processes (fresh connections): no post twice.
    const users = ((await call(base, 'GET', '/v1/users?limit=200')).json.users as { id: string }[]).map((u) => u.id);
    const served = new Set<string>();
    const workers = new Set<string>();
    let pages = 0;
    for (const user of users) {
      // Page 1 (a user with a full one), then two more through fresh connections.
      let res = await call(base, 'GET', `/v1/users/${user}/feed?limit=5&explain=false`);
      if (res.json.items.length < 5) continue;
      for (let page = 0; page < 3 && res.json.items.length > 0; page++) {
        assert.equal(res.status, 200);
        workers.add(res.worker);
        pages++;
        for (const item of res.json.items as { id: string }[]) {
          assert.ok(!served.has(item.id), `${item.id} served twice (page ${page + 1})`);
          served.add(item.id);
        }
        if (!res.json.nextCursor) break;
        res = await call(base, 'GET', `/v1/users/${user}/feed?limit=5&explain=false&cursor=${encodeURIComponent(res.json.nextCursor)}`);
      }
      break;
    }
    assert.equal(workers.size, 2, 'the pages came from both processes');
    assert.ok(pages === 3 && served.size >= 11, `${served.size} posts over ${pages} pages`);

    // A worker killed with SIGKILL is replaced; the new one replays the log (same counts) and serves.
    const victim = [...workerPids][0]!;
    process.kill(victim, 'SIGKILL');
    const replacement = await until('a replacement worker', async () => {
      const h = await health().catch(() => undefined);
      return h && !workerPids.has(h.pid) ? h : undefined;
    });
    assert.ok(replacement.events >= counts, `the replacement counts ${replacement.events} events, ${counts} before`);
    workerPids.add(replacement.pid);

    // The writer killed with SIGKILL mid-writes: every acknowledged write is in the file, the workers stop.
    const acknowledged: string[] = [];
    let stop = false;
    const writers = [0, 1].map(async (w) => {
      for (let n = 0; !stop; n++) {
        const events = Array.from({ length: 10 }, (_, k) => ({ id: `k-${w}-${n}-${k}`, userId: `u${k}`, itemId: 'cluster-post', type: 'click', timestamp: now }));
        try {
          const res = await call(base, 'POST', '/v1/events', { events });
          if (res.status === 200) acknowledged.push(...events.map((e) => e.id));
        } catch {
          return;
        }
      }
    });
    await until('writes', async () => (acknowledged.length >= 300 ? true : undefined));
    server.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    const check = new Database(db, { readonly: true });
    const ids = new Set(check.prepare("SELECT eid FROM log WHERE eid LIKE 'k-%'").pluck().all() as string[]);
    check.close();
    assert.deepEqual(acknowledged.filter((id) => !ids.has(id)), [], 'acknowledged writes lost');
    await until('the workers to stop without their writer', async () => ([...workerPids].some(alive) ? undefined : true));
    agent.destroy();
  } finally {
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    for (const pid of workerPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    cleanup();
  }
});

test('feed cursors carry the served posts: another engine on the same database serves the next page without repeats; a foreign or damaged cursor', async () => {
  const { dir, cleanup } = tempDir('lenta-cursor-');
  const db = join(dir, 'lenta.db');
  try {
    const first = await Engine.open(testConfig(db), { logImpressions: false });
    await first.importStream(simulate({ ...SIM_PRESETS.tiny }));
    // A user with at least three pages of candidates.
    let user = '';
    for (let u = 0; u < first.store.userIds.length && !user; u++) {
      if ((await first.forYouFeed(first.store.userIds[u]!, { limit: 24, explain: false })).items.length === 24) user = first.store.userIds[u]!;
    }
    assert.ok(user, 'a user with 24 candidates');
    const page1 = await first.forYouFeed(user, { limit: 8 });
    assert.equal(page1.items.length, 8);
    // Impressions are not logged here: only the cursor can keep page 1 out of page 2.
    const second = await Engine.open(testConfig(db), { logImpressions: false });
    try {
      const page2 = await second.forYouFeed(user, { limit: 8, cursor: page1.nextCursor! });
      const ids1 = new Set(page1.items.map((i) => i.id));
      assert.ok(page2.items.length > 0);
      for (const item of page2.items) assert.ok(!ids1.has(item.id), `${item.id} again on page 2`);
      // Without the cursor the same engine serves page 1's posts again (nothing else excludes them).
      const fresh = await second.forYouFeed(user, { limit: 8 });
      assert.ok(fresh.items.some((i) => ids1.has(i.id)));
      // Page 3 excludes both earlier pages.
      const page3 = await first.forYouFeed(user, { limit: 8, cursor: page2.nextCursor! });
      for (const item of page3.items) assert.ok(!ids1.has(item.id) && !page2.items.some((i) => i.id === item.id), item.id);
      // Another user's cursor excludes nothing for this one; a damaged cursor is a 400-class error naming `cursor`.
      const other = first.store.userIds.find((u) => u !== user)!;
      const foreign = await first.forYouFeed(other, { limit: 8 });
      const withForeign = await first.forYouFeed(user, { limit: 8, cursor: foreign.nextCursor! });
      assert.ok(withForeign.items.some((i) => ids1.has(i.id)), 'a foreign cursor excluded this user\'s page 1');
      await assert.rejects(first.forYouFeed(user, { cursor: 'f2.zz.!!' }), (e: Error & { field?: string }) => e.field === 'cursor');
      await assert.rejects(first.forYouFeed(user, { cursor: 'f2.zz.__8' }), (e: Error & { field?: string }) => e.field === 'cursor', 'a damaged cursor of another user is still damaged');
      await assert.rejects(first.forYouFeed(user, { cursor: `${page1.nextCursor!.split('.').slice(0, 2).join('.')}.__________8` }), (e: Error & { field?: string }) => e.field === 'cursor');
    } finally {
      await second.close();
      await first.close();
    }
  } finally {
    cleanup();
  }
});
