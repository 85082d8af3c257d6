import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { buildServer } from '../src/server/app.js';
import type { Config, DeepPartial } from '../src/domain/config.js';
import { openEngine, tempDir } from './helpers.js';

const T0 = Date.UTC(2026, 0, 10);
const HOUR = 3_600_000;

async function setup(overrides: DeepPartial<Config> = {}) {
  const { dir, cleanup } = tempDir();
  const engine = await openEngine(join(dir, 'lenta.db'), overrides);
  const app = buildServer(engine);
  const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as object });
  // 3 authors with 30 posts each; 40 other posts by 8 authors; alice follows a1, a2 and engages with a1.
  const users = ['alice', 'bob', 'a1', 'a2', 'a3', ...Array.from({ length: 8 }, (_, i) => `o${i}`)].map((id) => ({ id }));
  assert.equal((await post('/v1/users', { users })).statusCode, 200);
  const items = [];
  for (const a of ['a1', 'a2', 'a3']) for (let k = 0; k < 30; k++) items.push({ id: `${a}-p${k}`, authorId: a, createdAt: T0 - k * HOUR, tags: [`topic:${a}`] });
  for (let k = 0; k < 40; k++) items.push({ id: `o-p${k}`, authorId: `o${k % 8}`, createdAt: T0 - k * HOUR, tags: ['topic:other'] });
  assert.equal((await post('/v1/items', { items })).statusCode, 200);
  const follows = [
    { userId: 'alice', targetId: 'a1', timestamp: T0 - 100 * HOUR },
    { userId: 'alice', targetId: 'a2', timestamp: T0 - 100 * HOUR },
    { userId: 'alice', targetId: 'a3', kind: 'mute', timestamp: T0 - 100 * HOUR },
  ];
  assert.equal((await post('/v1/follows', { follows })).statusCode, 200);
  const events = [];
  for (let k = 0; k < 5; k++) events.push({ userId: 'alice', itemId: `a1-p${20 + k}`, type: 'like', timestamp: T0 - 2 * HOUR });
  for (let k = 0; k < 40; k++) events.push({ userId: 'bob', itemId: `o-p${k}`, type: 'click', timestamp: T0 - HOUR });
  for (let k = 0; k < 10; k++) events.push({ userId: 'bob', itemId: `a3-p${k}`, type: 'like', timestamp: T0 - HOUR });
  const res = await post('/v1/events', { events });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { accepted: events.length, duplicates: 0 });
  return { engine, app, post, cleanup };
}

test('For You: in-network by affinity mixed with popular, no repeats across pages, impressions logged', async () => {
  const { engine, app, cleanup } = await setup();
  try {
    const first = await app.inject({ method: 'GET', url: '/v1/users/alice/feed?limit=20' });
    assert.equal(first.statusCode, 200);
    const page1 = first.json() as { items: { id: string; authorId: string; inNetwork: boolean; score: number }[]; nextCursor: string };
    assert.equal(page1.items.length, 20);
    assert.ok(page1.nextCursor);
    const inNet = page1.items.filter((i) => i.inNetwork);
    assert.ok(inNet.length >= 9 && inNet.length <= 11, `in-network share near 50%, got ${inNet.length}/20`);
    // a1 (engaged) ranks above a2 (only followed) among in-network posts of similar age.
    assert.equal(inNet[0]!.authorId, 'a1');
    // muted a3 never appears, nor does the user's own content.
    assert.ok(page1.items.every((i) => i.authorId !== 'a3' && i.authorId !== 'alice'));
    const second = await app.inject({ method: 'GET', url: `/v1/users/alice/feed?limit=20&cursor=${encodeURIComponent(page1.nextCursor)}` });
    const page2 = second.json() as { items: { id: string }[] };
    assert.equal(page2.items.length, 20);
    const ids1 = new Set(page1.items.map((i) => i.id));
    assert.ok(page2.items.every((i) => !ids1.has(i.id)), 'second page shares no item with the first');
    await engine.drain();
    const counts = await engine.store.counts();
    assert.equal(counts.events, 55 + 40, 'every served item was logged as an impression');
    // A new session (no cursor) does not re-serve what was impressed.
    const fresh = (await app.inject({ method: 'GET', url: '/v1/users/alice/feed?limit=20' })).json() as { items: { id: string }[] };
    const served = new Set([...ids1, ...page2.items.map((i) => i.id)]);
    assert.ok(fresh.items.every((i) => !served.has(i.id)));
  } finally {
    await engine.close();
    cleanup();
  }
});

test('an unknown user gets the popular feed (cold start)', async () => {
  const { engine, app, cleanup } = await setup();
  try {
    const res = await app.inject({ method: 'GET', url: '/v1/users/newcomer/feed?limit=5' });
    const body = res.json() as { items: { id: string }[] };
    assert.equal(body.items.length, 5);
    // Every engaged post: bob's clicks and likes, alice's likes of a1's posts (exploration may
    // sample those from the popular source's top posts: 27 of them in 2,000 cold-start pages of 5, measured).
    const engaged = new Set([...Array.from({ length: 40 }, (_, k) => `o-p${k}`), ...Array.from({ length: 10 }, (_, k) => `a3-p${k}`), ...Array.from({ length: 5 }, (_, k) => `a1-p${20 + k}`)]);
    assert.ok(body.items.every((i) => engaged.has(i.id)), `popular items are the engaged ones: ${body.items.map((i) => i.id).join(', ')}`);
  } finally {
    await engine.close();
    cleanup();
  }
});

test('bad input gets a 400 naming the field, and nothing of the batch is written', async () => {
  const { engine, app, post, cleanup } = await setup();
  try {
    const before = await engine.store.counts();
    const good = { userId: 'alice', itemId: 'o-p1', type: 'like', timestamp: T0 };
    const cases: [unknown, string][] = [
      [{ events: [good, { ...good, type: 'zap' }] }, 'events[1].type'],
      [{ events: [good, good, { itemId: 'o-p1', type: 'like', timestamp: T0 }] }, 'events[2].userId'],
      [{ events: [{ ...good, timestamp: 'yesterday' }] }, 'events[0].timestamp'],
      [{ events: [{ ...good, timestamp: true }] }, 'events[0].timestamp'],
      [{ evnts: [] }, 'events'],
    ];
    for (const [payload, field] of cases) {
      const res = await post('/v1/events', payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      const body = res.json() as { error: { code: string; message: string; field: string } };
      assert.equal(body.error.field, field);
      assert.ok(body.error.message.includes(field), body.error.message);
    }
    const malformed = await app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload: '{"events": [' });
    assert.equal(malformed.statusCode, 400);
    assert.equal((malformed.json() as { error: { code: string; field: string } }).error.code, 'invalid_json');
    assert.equal((malformed.json() as { error: { field: string } }).error.field, 'body');
    const badCursor = await app.inject({ method: 'GET', url: '/v1/users/alice/feed?cursor=nope' });
    assert.equal(badCursor.statusCode, 400);
    assert.equal((badCursor.json() as { error: { field: string } }).error.field, 'cursor');
    assert.deepEqual(await engine.store.counts(), before, 'nothing was written');
  } finally {
    await engine.close();
    cleanup();
  }
});

test('re-sending events with the same ids is idempotent', async () => {
  const { engine, post, cleanup } = await setup();
  try {
    const events = [1, 2, 3].map((k) => ({ id: `e${k}`, userId: 'bob', itemId: 'a1-p1', type: 'click', timestamp: T0 + k }));
    assert.deepEqual((await post('/v1/events', { events })).json(), { accepted: 3, duplicates: 0 });
    const before = engine.state.itemCounts.get(engine.store.itemIndex('a1-p1')!, 0, engine.types.code('click'), 3, T0 + 10);
    assert.deepEqual((await post('/v1/events', { events })).json(), { accepted: 3, duplicates: 3 });
    const after = engine.state.itemCounts.get(engine.store.itemIndex('a1-p1')!, 0, engine.types.code('click'), 3, T0 + 10);
    assert.equal(after, before, 'duplicates do not count twice in the state');
  } finally {
    await engine.close();
    cleanup();
  }
});

test('following feed: newest first with keyset pagination, muted authors excluded', async () => {
  const { engine, app, cleanup } = await setup();
  try {
    const seen: string[] = [];
    let cursor: string | null = null;
    let createdPrev = Infinity;
    do {
      const url: string = `/v1/users/alice/following?limit=7${cursor ? `&cursor=${cursor}` : ''}`;
      const body = (await app.inject({ method: 'GET', url })).json() as { items: { id: string; createdAt: string }[]; nextCursor: string | null };
      for (const it of body.items) {
        const c = Date.parse(it.createdAt);
        assert.ok(c <= createdPrev);
        createdPrev = c;
        seen.push(it.id);
      }
      cursor = body.nextCursor;
    } while (cursor);
    assert.equal(seen.length, 60, 'all posts of a1 and a2');
    assert.equal(new Set(seen).size, 60);
    assert.ok(seen.every((id) => id.startsWith('a1-') || id.startsWith('a2-')));
  } finally {
    await engine.close();
    cleanup();
  }
});

test('health, metrics, openapi and users list', async () => {
  const { engine, app, cleanup } = await setup();
  try {
    const health = (await app.inject('/health')).json() as { status: string; events: number };
    assert.equal(health.status, 'ok');
    assert.equal(health.events, 55);
    await app.inject('/v1/users/alice/feed');
    const metrics = (await app.inject('/metrics')).body;
    assert.match(metrics, /lenta_http_requests_total\{method="GET",route="\/v1\/users\/:id\/feed",status="200"\} 1/);
    assert.match(metrics, /lenta_records_written_total\{kind="event"\} 55/);
    assert.match(metrics, /process_resident_memory_bytes \d+/);
    const doc = (await app.inject('/openapi.json')).json() as { openapi: string; paths: Record<string, unknown> };
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.paths['/v1/events'] && doc.paths['/v1/users/{id}/feed']);
    const users = (await app.inject('/v1/users?limit=3')).json() as { users: { id: string }[] };
    assert.deepEqual(users.users.map((u) => u.id), ['alice', 'bob', 'a1']);
    assert.equal((await app.inject('/v1/users?limit=0')).statusCode, 400);
    assert.equal((await app.inject('/nope')).statusCode, 404);
  } finally {
    await engine.close();
    cleanup();
  }
});

test('the state rebuilt by replay equals the state built online', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { engine, app } = await (async () => {
      const engine = await openEngine(join(dir, 'lenta.db'));
      return { engine, app: buildServer(engine) };
    })();
    const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload });
    await post('/v1/items', { items: [{ id: 'p1', authorId: 'x', createdAt: T0, tags: ['t'] }, { id: 'p2', authorId: 'y', createdAt: T0 }] });
    await post('/v1/follows', { follows: [{ userId: 'u', targetId: 'x', timestamp: T0 }, { userId: 'u', targetId: 'y', kind: 'block', timestamp: T0 }] });
    await post('/v1/events', { events: [{ userId: 'u', itemId: 'p1', type: 'dwell', value: 5000, timestamp: T0 + 5 }, { userId: 'u', itemId: 'p1', type: 'like', timestamp: T0 + 1 }] });
    await app.inject('/v1/users/u/feed');
    await engine.drain();
    const online = engine.state.fingerprint();
    await engine.close();
    const reopened = await openEngine(join(dir, 'lenta.db'));
    assert.equal(reopened.state.fingerprint(), online);
    await reopened.close();
  } finally {
    cleanup();
  }
});

/** One HTTP/1.1 exchange on an open keep-alive socket: the request is in the kernel's buffer when this returns. */
function exchange(socket: Socket, request: string): Promise<{ status: number; headers: string; body: string }> {
  const answer = new Promise<{ status: number; headers: string; body: string }>((ok, fail) => {
    let data = '';
    const onData = (d: Buffer) => {
      data += d.toString();
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      const headers = data.slice(0, end);
      const length = Number(/content-length: (\d+)/i.exec(headers)?.[1] ?? NaN);
      if (Buffer.byteLength(data.slice(end + 4)) < length) return;
      socket.off('data', onData);
      ok({ status: Number(headers.split(' ')[1]), headers, body: data.slice(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', fail);
  });
  socket.write(request); // a connected socket writes at once (libuv tries the write synchronously)
  return answer;
}

test('overload: feed requests queue in arrival order; those that waited longer than shedAfterMs get a 503 with Retry-After; writes are kept', async () => {
  const { engine, cleanup } = await setup({ feed: { overload: { concurrency: 1, shedAfterMs: 15 } } });
  const app = buildServer(engine); // (setup's server is ready already: no more hooks)
  // When the burst's first feed request is read, the event loop will be busy for 40 ms before the
  // queue starts anything (what other requests' work does under load): everything read with it waits longer than 15 ms.
  let armed = false;
  const busy = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
  };
  app.addHook('onRequest', async (req) => {
    if (!armed || !req.url.includes('/feed')) return;
    armed = false;
    setImmediate(() => busy(40));
  });
  try {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const port = Number(new URL(address).port);
    const open = () => new Promise<Socket>((ok) => { const s = connect(port, '127.0.0.1', () => ok(s)); });
    const sockets = await Promise.all(Array.from({ length: 41 }, open));
    const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const feedPath = (i: number) => `/v1/users/${i % 2 === 0 ? 'alice' : 'bob'}/feed?limit=10&explain=false`;
    // Idle: served, and explain=true shows the time in the queue.
    const first = await exchange(sockets[0]!, get('/v1/users/alice/feed?limit=5&explain=true'));
    assert.equal(first.status, 200, first.body);
    assert.ok((JSON.parse(first.body) as { timings: { stage: string }[] }).timings.some((t) => t.stage === 'queue'));
    // The burst: 40 feed requests and a write, all in the kernel's buffers before the server reads any.
    const event = JSON.stringify({ events: [{ userId: 'alice', itemId: 'a2-p3', type: 'like', timestamp: T0 }] });
    const post = `POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(event)}\r\n\r\n${event}`;
    armed = true;
    const answers = sockets.slice(0, 40).map((s, i) => exchange(s, get(feedPath(i))));
    const write = exchange(sockets[40]!, post);
    const done = await Promise.all(answers);
    const served = done.flatMap((a, i) => (a.status === 200 ? [i] : []));
    const shed = done.flatMap((a, i) => (a.status === 503 ? [i] : []));
    assert.equal(served.length + shed.length, 40, done.map((a) => a.status).join(','));
    assert.ok(shed.length >= 1, `served ${served.length}, shed ${shed.length}`);
    for (const i of shed) {
      assert.match(done[i]!.headers, /^retry-after: 1$/im);
      const error = (JSON.parse(done[i]!.body) as { error: { code: string; message: string } }).error;
      assert.equal(error.code, 'overloaded');
      assert.match(error.message, /waited \d+ ms in the queue \(> feed\.overload\.shedAfterMs 15\)/);
    }
    for (const i of served) assert.ok(Array.isArray((JSON.parse(done[i]!.body) as { items: unknown[] }).items), done[i]!.body);
    const written = await write;
    assert.equal(written.status, 200, written.body);
    assert.deepEqual(JSON.parse(written.body), { accepted: 1, duplicates: 0 });
    // The burst over, the next request is served; /metrics counts the shed ones.
    const after = await exchange(sockets[0]!, get(feedPath(0)));
    assert.equal(after.status, 200, after.body);
    const metrics = await exchange(sockets[0]!, get('/metrics'));
    assert.match(metrics.body, new RegExp(`^lenta_feed_shed_total ${shed.length}$`, 'm'));
    assert.match(metrics.body, /^lenta_feed_queue_waiting 0$/m);
    for (const s of sockets) s.destroy();
    // The API description says so.
    const doc = (await app.inject('/openapi.json')).json() as { paths: Record<string, { get?: { responses: Record<string, { headers?: object }> } }> };
    assert.ok(doc.paths['/v1/users/{id}/feed']!.get!.responses['503']!.headers, 'the feed documents its 503 with Retry-After');
  } finally {
    await app.close();
    await engine.close();
    cleanup();
  }
});
