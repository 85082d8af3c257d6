import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../domain/config.js';
import { EventTypeRegistry } from '../domain/event-types.js';
import type { LogRecord } from '../domain/types.js';
import { Engine } from '../engine.js';
import { buildServer } from '../server/app.js';
import { SIM_PRESETS, simulate } from '../sim/index.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { ItemToItemSource } from '../candidates/item-to-item.js';
import { CommunitySource } from '../candidates/communities.js';
import { isTrainable } from '../pipeline/types.js';
import { relatedItems } from './related.js';
import { whoToFollow } from './who-to-follow.js';
import { resolveWindow, trendingWindows } from './trending.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** A fixed time in the past (the feed clock is the newest event, never after wall time). */
const T = Date.UTC(2026, 0, 20);

async function emptyEngine(): Promise<Engine> {
  const config = parseConfig({});
  const store = SqliteStore.open({ path: ':memory:', types: new EventTypeRegistry(config.eventTypes), synchronous: 'OFF' });
  return Engine.open(config, { store, logImpressions: false });
}

async function simEngine(): Promise<Engine> {
  const engine = await emptyEngine();
  await engine.importStream(simulate({ ...SIM_PRESETS.tiny }));
  return engine;
}

const user = (id: string): LogRecord => ({ kind: 'user', user: { id } });
const item = (id: string, authorId: string, tags: string[], createdAt = T - 5 * DAY): LogRecord => ({ kind: 'item', item: { id, authorId, tags, createdAt } });
const like = (userId: string, itemId: string, timestamp: number, type = 'like'): LogRecord => ({ kind: 'event', event: { userId, itemId, type, timestamp } });
const edge = (userId: string, targetId: string, kind: 'follow' | 'mute' | 'block' = 'follow'): LogRecord => ({ kind: 'edge', edge: { userId, targetId, kind, timestamp: T - 10 * DAY } });

function ctxOf(engine: Engine) {
  return { state: engine.state, sources: engine.sources, store: engine.store, now: engine.now() };
}

// ---------------------------------------------------------------------------------- related

/** A and B are engaged with by the same four users; C only once with A; T1/T2 share A's tag; P1 is A's author's. */
async function relatedPlatform(): Promise<Engine> {
  const engine = await emptyEngine();
  const records: LogRecord[] = [
    ...['au', 'bu', 'cu', 'du', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6'].map(user),
    item('A', 'au', ['topic:x', 'lang:en']),
    item('B', 'bu', ['topic:y']),
    item('C', 'cu', ['topic:y']),
    item('D', 'du', ['topic:z']),
    item('T1', 'cu', ['topic:x', 'lang:en']),
    item('T2', 'du', ['topic:x']),
    item('P1', 'au', ['topic:w']),
    item('Z', 'au', ['topic:x']),
  ];
  for (const u of ['u1', 'u2', 'u3', 'u4']) records.push(like(u, 'A', T - 2 * HOUR), like(u, 'B', T - HOUR));
  records.push(like('u1', 'C', T - HOUR), like('u5', 'C', T - HOUR), like('u5', 'D', T - HOUR), like('u6', 'D', T - HOUR), like('u6', 'C', T - HOUR));
  await engine.ingest(records);
  return engine;
}

test('related: the co-engaged item first, then the same tags and the same author, scores in order', async () => {
  const engine = await relatedPlatform();
  try {
    const r = await engine.relatedItems('A', 20);
    assert.ok(r);
    const ids = r.items.map((i) => i.id);
    assert.equal(ids[0], 'B', ids.join(','));
    assert.equal(r.items[0]!.reason, 'co_engagement');
    assert.equal(r.items[0]!.authorId, 'bu');
    assert.deepEqual(r.items[0]!.tags, ['topic:y']);
    // C shares one engager with A only: not co-engagement (below MIN_CO_ENGAGERS), not a fill-up either.
    assert.ok(!ids.includes('C') && !ids.includes('A') && !ids.includes('D'), ids.join(','));
    const reasons = Object.fromEntries(r.items.map((i) => [i.id, i.reason]));
    assert.equal(reasons.T1, 'same_tags');
    assert.equal(reasons.T2, 'same_tags');
    assert.equal(reasons.P1, 'same_author');
    // T1 shares both tags (the rarer lang:en too) → above T2 (topic:x only); Z (topic:x and the author) → above P1 (the author only).
    assert.ok(ids.indexOf('T1') < ids.indexOf('T2') && ids.indexOf('Z') < ids.indexOf('P1'), ids.join(','));
    assert.deepEqual(ids, ['B', 'T1', 'Z', 'P1', 'T2']);
    for (let k = 1; k < r.items.length; k++) assert.ok(r.items[k - 1]!.score >= r.items[k]!.score, 'scores descend');
    assert.ok(r.items.filter((i) => i.reason !== 'co_engagement').every((i) => i.score < r.items[0]!.score / 2 + 1e-9));
    // limit applies
    assert.equal((await engine.relatedItems('A', 2))!.items.length, 2);
    // an item nobody engaged with: fill-up only
    const z = await engine.relatedItems('Z', 20);
    assert.ok(z!.items.length > 0 && z!.items.every((i) => i.reason !== 'co_engagement'));
    assert.equal(await engine.relatedItems('nope', 20), undefined);
  } finally {
    await engine.close();
  }
});

test('related: the trained item-to-item graph on the synthetic platform (its strongest neighbour is returned, co-engaged first)', async () => {
  const engine = await simEngine();
  try {
    const i2i = engine.sources.map((e) => e.source).find((s): s is ItemToItemSource => s instanceof ItemToItemSource)!;
    await i2i.train({ state: engine.state, store: engine.store, now: engine.now() });
    assert.ok(i2i.size.edges > 0);
    let checked = 0;
    for (let it = 0; it < engine.state.items && checked < 20; it++) {
      const neighbours = i2i.neighboursOf(it);
      if (neighbours.length < 3) continue;
      checked++;
      const related = relatedItems(ctxOf(engine), it, { limit: 10 });
      assert.equal(related.length, 10);
      assert.equal(new Set(related.map((r) => r.item)).size, 10, 'no repeats');
      assert.ok(related.every((r) => r.item !== it));
      assert.equal(related[0]!.reason, 'co_engagement');
      assert.equal(related[0]!.score, 1, 'rows are scaled to a best weight of 1');
      const co = related.filter((r) => r.reason === 'co_engagement').map((r) => r.item);
      assert.ok(co.includes(neighbours[0]!.item), `the graph's strongest neighbour of ${it} is related`);
      // co-engaged first: no fill-up item before a co-engaged one
      const firstFill = related.findIndex((r) => r.reason !== 'co_engagement');
      if (firstFill >= 0) assert.ok(related.slice(firstFill).every((r) => r.reason !== 'co_engagement'));
    }
    assert.ok(checked >= 5, `items with neighbours: ${checked}`);
  } finally {
    await engine.close();
  }
});

// ---------------------------------------------------------------------------------- who to follow

async function followPlatform(): Promise<Engine> {
  const engine = await emptyEngine();
  const records: LogRecord[] = [
    ...['me', 'f1', 'f2', 'f3', 'x', 'y', 'z', 'w1', 'w2', 'b', 'muted', 'blocker', 'lonely', 'star'].map(user),
    edge('me', 'f1'),
    edge('me', 'f2'),
    edge('me', 'f3'),
    // x: followed by 3 of my follows, y: by 2, z: by 1
    edge('f1', 'x'),
    edge('f2', 'x'),
    edge('f3', 'x'),
    edge('f1', 'y'),
    edge('f2', 'y'),
    edge('f2', 'z'),
    // w1 through f3 (whom I engage with), w2 through f1 (whom I do not)
    edge('f3', 'w1'),
    edge('f1', 'w2'),
    // never suggested: me, a follow, blocked, muted, blocking me
    edge('f1', 'me'),
    edge('f2', 'f1'),
    edge('f1', 'b'),
    edge('f2', 'b'),
    edge('f3', 'b'),
    edge('f1', 'muted'),
    edge('f2', 'muted'),
    edge('f1', 'blocker'),
    edge('f3', 'blocker'),
    edge('me', 'b', 'block'),
    edge('me', 'muted', 'mute'),
    edge('blocker', 'me', 'block'),
    // star: the most followed account
    ...['f1', 'f2', 'x', 'y', 'z', 'w1', 'w2', 'lonely'].map((u) => edge(u, 'star')),
    item('f3-post', 'f3', ['topic:a'], T - DAY),
    item('star-post', 'star', ['topic:a'], T - DAY),
  ];
  for (let k = 0; k < 5; k++) records.push(like('me', 'f3-post', T - HOUR + k, k % 2 ? 'like' : 'reply'));
  records.push(like('x', 'star-post', T - HOUR), like('y', 'star-post', T - HOUR));
  await engine.ingest(records);
  return engine;
}

test('who-to-follow: friends of friends ranked by (affinity-weighted) count, never me, followed, blocked, muted or blocking', async () => {
  const engine = await followPlatform();
  try {
    const r = engine.whoToFollow('me', 20);
    assert.equal(r.coldStart, false);
    const ids = r.accounts.map((a) => a.id);
    assert.equal(ids[0], 'x', ids.join(','));
    const x = r.accounts[0]!;
    const fof = x.reasons.find((q) => q.reason === 'followed_by_follows');
    assert.ok(fof && fof.reason === 'followed_by_follows');
    assert.equal(fof.count, 3);
    assert.deepEqual([...fof.via].sort(), ['f1', 'f2', 'f3']);
    assert.equal(fof.via[0], 'f3', 'the follow I engage with most comes first');
    const count = (id: string) => {
      const q = r.accounts.find((a) => a.id === id)?.reasons.find((q) => q.reason === 'followed_by_follows');
      return q && q.reason === 'followed_by_follows' ? q.count : 0;
    };
    assert.equal(count('y'), 2);
    assert.equal(count('z'), 1);
    assert.ok(ids.indexOf('y') < ids.indexOf('z'), ids.join(','));
    // same count, but through a follow I engage with
    assert.ok(ids.indexOf('w1') < ids.indexOf('w2'), ids.join(','));
    for (const never of ['me', 'f1', 'f2', 'f3', 'b', 'muted', 'blocker']) assert.ok(!ids.includes(never), `${never} suggested: ${ids.join(',')}`);
    for (let k = 1; k < r.accounts.length; k++) assert.ok(r.accounts[k - 1]!.score >= r.accounts[k]!.score);
    // a short list is filled up with popular accounts (star, the most followed, is also a friend of friends)
    assert.ok(r.accounts.some((a) => a.reasons.some((q) => q.reason === 'popular')));
    assert.equal(engine.whoToFollow('me', 2).accounts.length, 2);
  } finally {
    await engine.close();
  }
});

test('who-to-follow: an unknown user, or one without follows, gets the popular accounts (coldStart)', async () => {
  const engine = await followPlatform();
  try {
    const r = engine.whoToFollow('newcomer', 5);
    assert.equal(r.coldStart, true);
    assert.equal(r.accounts.length, 5);
    assert.equal(r.accounts[0]!.id, 'star', r.accounts.map((a) => a.id).join(','));
    assert.ok(r.accounts.every((a) => a.reasons.length === 1 && a.reasons[0]!.reason === 'popular'));
    const lonely = engine.whoToFollow('lonely', 5);
    // lonely follows star only: star is excluded, suggestions via star's follows (none) → popular fill-up
    assert.ok(!lonely.accounts.some((a) => a.id === 'star' || a.id === 'lonely'));
    const blocked = engine.whoToFollow('b', 50);
    // b is blocked by me: me is never suggested to b
    assert.ok(!blocked.accounts.some((a) => a.id === 'me'));
  } finally {
    await engine.close();
  }
});

test('who-to-follow on the synthetic platform with trained communities: community reasons, exclusions hold for every user', async () => {
  const engine = await simEngine();
  try {
    const communities = engine.sources.map((e) => e.source).find((s): s is CommunitySource => s instanceof CommunitySource)!;
    assert.ok(isTrainable(communities));
    await communities.train({ state: engine.state, store: engine.store, now: engine.now() });
    const state = engine.state;
    let withCommunity = 0;
    let withFof = 0;
    for (let u = 0; u < engine.store.userIds.length; u++) {
      const r = whoToFollow(ctxOf(engine), u, { limit: 20 });
      assert.ok(r.accounts.length > 0);
      for (const a of r.accounts) {
        assert.ok(a.user !== u && !state.following.has(u, a.user) && !state.hidesAuthor(u, a.user), `user ${u} got ${a.user}`);
        if (a.reasons.some((q) => q.reason === 'community')) withCommunity++;
        if (a.reasons.some((q) => q.reason === 'followed_by_follows')) withFof++;
      }
    }
    assert.ok(withCommunity > 0 && withFof > 0, `community ${withCommunity}, friends of friends ${withFof}`);
  } finally {
    await engine.close();
  }
});

// ---------------------------------------------------------------------------------- trending

async function trendingPlatform(): Promise<Engine> {
  const engine = await emptyEngine();
  const records: LogRecord[] = [item('steady', 'a1', ['topic:s']), item('burst', 'a2', ['topic:b']), item('old', 'a3', ['topic:s']), item('quiet', 'a4', ['topic:b'])];
  // steady: 150 engagements evenly over the last 3 days; old: 200 evenly over 10 days; burst: 30 in the last hour; quiet: 2 an hour ago.
  for (let k = 0; k < 150; k++) records.push(like(`s${k}`, 'steady', T - (k * 3 * DAY) / 150));
  for (let k = 0; k < 200; k++) records.push(like(`o${k}`, 'old', T - (k * 10 * DAY) / 200 - 1));
  for (let k = 0; k < 30; k++) records.push(like(`b${k}`, 'burst', T - (k * HOUR) / 30));
  records.push(like('q1', 'quiet', T - HOUR), like('q2', 'quiet', T - HOUR));
  await engine.ingest(records);
  return engine;
}

test('trending: a burst in the last hour ranks above steadily popular items with larger counts; tag filter; windows', async () => {
  const engine = await trendingPlatform();
  try {
    assert.deepEqual(
      trendingWindows(engine.state).map((w) => w.label),
      ['30m', '1d', '3d'],
    );
    for (const window of [undefined, '30m', '1d']) {
      const r = await engine.trending({ limit: 10, ...(window ? { window } : {}) });
      assert.equal(r.window, window ?? '1d');
      const ids = r.items.map((i) => i.id);
      assert.equal(ids[0], 'burst', `${window}: ${ids.join(',')} ${JSON.stringify(r.items)}`);
      const byId = Object.fromEntries(r.items.map((i) => [i.id, i]));
      if (byId.steady) assert.ok(byId.steady.count > 0 && byId.steady.expected > 0);
      for (let k = 1; k < r.items.length; k++) assert.ok(r.items[k - 1]!.score >= r.items[k]!.score);
    }
    // Over 3 days against the 50-day baseline, what rose within the 3 days (steady, burst) trends, the 10-day item does not.
    const long = (await engine.trending({ limit: 10, window: '3d' })).items.map((i) => i.id);
    assert.ok(long.indexOf('steady') < long.indexOf('old') && long.indexOf('burst') < long.indexOf('old'), long.join(','));
    // the steady item has the larger count in the day window, and still ranks below
    const day = await engine.trending({ limit: 10, window: '1d' });
    const steady = day.items.find((i) => i.id === 'steady')!;
    const burst = day.items.find((i) => i.id === 'burst')!;
    assert.ok(steady.count > burst.count, `steady ${steady.count} vs burst ${burst.count}`);
    assert.ok(steady.score < burst.score);
    assert.equal(burst.authorId, 'a2');
    // tag filter
    const s = await engine.trending({ limit: 10, tag: 'topic:s' });
    assert.equal(s.tag, 'topic:s');
    assert.deepEqual(s.items.map((i) => i.id).sort(), ['old', 'steady']);
    assert.deepEqual((await engine.trending({ limit: 10, tag: 'topic:none' })).items, []);
    assert.equal((await engine.trending({ limit: 1 })).items.length, 1);
    assert.throws(() => resolveWindow(engine.state, '50d'), /window: must be one of 30m, 1d, 3d/);
    assert.throws(() => resolveWindow(engine.state, 'soon'), (e: Error & { field?: string }) => e.field === 'window');
  } finally {
    await engine.close();
  }
});

// ---------------------------------------------------------------------------------- HTTP

test('HTTP: the three discovery routes, status codes and error fields', async () => {
  const engine = await relatedPlatform();
  await engine.ingest([user('fan'), edge('fan', 'u1'), edge('u1', 'u2'), edge('u1', 'u3'), like('u1', 'A', T)]);
  const app = buildServer(engine);
  const get = (url: string) => app.inject({ method: 'GET', url });
  try {
    const related = await get('/v1/items/A/related?limit=5');
    assert.equal(related.statusCode, 200);
    const body = related.json() as { itemId: string; items: { id: string; score: number; reason: string; authorId?: string; tags?: string[] }[] };
    assert.equal(body.itemId, 'A');
    assert.equal(body.items.length, 5);
    assert.deepEqual(body.items[0], { id: 'B', score: 1, authorId: 'bu', tags: ['topic:y'], reason: 'co_engagement' });

    const missing = await get('/v1/items/nope/related');
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(missing.json(), { error: { code: 'not_found', message: 'no item "nope"', field: 'id' } });

    for (const url of ['/v1/items/A/related?limit=0', '/v1/items/A/related?limit=201', '/v1/users/fan/who-to-follow?limit=x', '/v1/trending?limit=500']) {
      const res = await get(url);
      assert.equal(res.statusCode, 400, url);
      assert.equal((res.json() as { error: { field: string } }).error.field, 'limit', url);
    }

    const wtf = await get('/v1/users/fan/who-to-follow?limit=3');
    assert.equal(wtf.statusCode, 200);
    const w = wtf.json() as { userId: string; coldStart: boolean; accounts: { id: string; score: number; reasons: { reason: string; count?: number; via?: string[] }[] }[] };
    assert.equal(w.coldStart, false);
    assert.equal(w.accounts.length, 3);
    assert.equal(w.accounts[0]!.reasons[0]!.reason, 'followed_by_follows');
    assert.deepEqual(w.accounts[0]!.reasons[0]!.via, ['u1']);
    assert.ok(['u2', 'u3'].includes(w.accounts[0]!.id));

    const cold = await get('/v1/users/someone-new/who-to-follow');
    assert.equal(cold.statusCode, 200);
    assert.equal((cold.json() as { coldStart: boolean }).coldStart, true);

    const trending = await get('/v1/trending?limit=3&window=30m');
    assert.equal(trending.statusCode, 200);
    const t = trending.json() as { window: string; items: { id: string; score: number; count: number; expected: number }[] };
    assert.equal(t.window, '30m');
    assert.ok(t.items.length > 0 && t.items.length <= 3);
    const tagged = (await get('/v1/trending?tag=topic%3Ay')).json() as { tag: string; items: { id: string; tags: string[] }[] };
    assert.equal(tagged.tag, 'topic:y');
    assert.ok(tagged.items.length > 0 && tagged.items.every((i) => i.tags.includes('topic:y')));

    const bad = await get('/v1/trending?window=2h');
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(bad.json(), { error: { code: 'invalid_field', message: 'window: must be one of 30m, 1d, 3d, got "2h"', field: 'window' } });

    const doc = (await get('/openapi.json')).json() as { paths: Record<string, unknown> };
    for (const p of ['/v1/items/{id}/related', '/v1/users/{id}/who-to-follow', '/v1/trending']) assert.ok(doc.paths[p], p);
  } finally {
    await app.close();
    await engine.close();
  }
});
