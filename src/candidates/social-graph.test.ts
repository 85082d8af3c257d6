import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventTypeRegistry } from '../domain/event-types.js';
import { OnlineState } from '../state/online-state.js';
import { EDGE_KIND_CODES, LOG_EDGE, LOG_EVENT, emptyLogChunk, type ItemRecord, type LogChunk } from '../store/store.js';
import type { FeedQuery } from '../pipeline/types.js';
import { SocialGraphSource } from './social-graph.js';

type Row = [kind: number, user: number, target: number, type: number, ts: number];

function chunk(rows: Row[]): LogChunk {
  const c = emptyLogChunk(rows.length);
  c.length = rows.length;
  rows.forEach(([kind, user, target, type, ts], r) => {
    c.seq[r] = r + 1;
    c.kind[r] = kind;
    c.user[r] = user;
    c.target[r] = target;
    c.type[r] = type;
    c.ts[r] = ts;
    c.value[r] = 1;
  });
  return c;
}

const T0 = 1_700_000_000_000;

/**
 * Follows: user 0 follows 1 and 2; user 0 liked item 13 by user 1 (affinity to 1).
 * User 1 liked 10 then 11; user 2 liked 12 (by author 2).
 * Similar users: user 3 liked 20, 21; user 4 liked 20, 21, 22; user 6 liked 20, 24 (by 30);
 * user 5 liked 23 only.
 */
function platform() {
  const types = new EventTypeRegistry();
  const like = types.code('like');
  const state = new OnlineState(types);
  const authors: Record<number, number> = { 10: 50, 11: 50, 12: 2, 13: 1, 24: 30 };
  const items: ItemRecord[] = [];
  for (let i = 0; i < 30; i++) items.push({ index: i, author: authors[i] ?? -1, createdAt: T0, tags: [] });
  let ts = T0;
  const rows: Row[] = [
    [LOG_EDGE, 0, 1, EDGE_KIND_CODES.follow, ts],
    [LOG_EDGE, 0, 2, EDGE_KIND_CODES.follow, ts],
    [LOG_EVENT, 0, 13, like, (ts += 1000)],
    [LOG_EVENT, 1, 10, like, (ts += 1000)],
    [LOG_EVENT, 1, 11, like, (ts += 1000)],
    [LOG_EVENT, 2, 12, like, (ts += 1000)],
    [LOG_EVENT, 3, 20, like, (ts += 1000)],
    [LOG_EVENT, 3, 21, like, (ts += 1000)],
    [LOG_EVENT, 4, 20, like, (ts += 1000)],
    [LOG_EVENT, 4, 21, like, (ts += 1000)],
    [LOG_EVENT, 4, 22, like, (ts += 1000)],
    [LOG_EVENT, 6, 20, like, (ts += 1000)],
    [LOG_EVENT, 6, 24, like, (ts += 1000)],
    [LOG_EVENT, 5, 23, like, (ts += 1000)],
  ];
  state.apply(items, chunk(rows));
  return { state, now: ts, like };
}

function query(state: OnlineState, user: number, now: number, extra: Partial<FeedQuery> = {}): FeedQuery {
  return { user, userId: `u${user}`, limit: 10, now, requestId: 'r', variant: 'default', served: new Set(), seen: new Set(), exclude: new Set(), state, ...extra };
}

test('social_graph: follows’ recent engagements, stronger relationships and newer engagements first', () => {
  const { state, now } = platform();
  const source = new SocialGraphSource();
  const got = source.fetch(query(state, 0, now), 10);
  assert.deepEqual(
    got.map((c) => c.item),
    [11, 10, 12],
    'user 1 (engaged with) before user 2 (only followed); 11 (newer) before 10',
  );
  got.forEach((c, r) => {
    assert.deepEqual(c.sources, [{ source: 'social_graph', score: c.score, rank: r + 1 }]);
    assert.equal(c.author, state.author(c.item));
  });
  assert.equal(got[2]!.inNetwork, true, 'item 12 is by a followed account');
  assert.equal(got[0]!.inNetwork, false);
  assert.equal(source.fetch(query(state, 0, now), 2).length, 2);
});

test('social_graph: users with similar histories (two hops on the user–item graph)', () => {
  const { state, now } = platform();
  const source = new SocialGraphSource();
  const got = source.fetch(query(state, 3, now), 10).map((c) => c.item);
  assert.deepEqual(got, [22, 24], 'user 4 shares two items, user 6 one; user 5 none');
});

test('social_graph: skipping rules and cold users', () => {
  const { state, now } = platform();
  const source = new SocialGraphSource();
  const items = (q: FeedQuery) => source.fetch(q, 10).map((c) => c.item);
  assert.deepEqual(items(query(state, 3, now, { exclude: new Set([22]) })), [24]);
  assert.deepEqual(items(query(state, 3, now, { seen: new Set([22]) })), [24]);
  assert.deepEqual(items(query(state, 3, now, { served: new Set([24]) })), [22]);
  assert.deepEqual(items(query(state, -1, now)), []);
  assert.equal(source.enabled(query(state, -1, now)), false);
  assert.deepEqual(items(query(state, 999, now)), [], 'a user with neither history nor follows');
  assert.deepEqual(items(query(state, 3, now)).length, 2);
  // User 3 mutes author 30 (item 24); user 0's own item 13 is never proposed.
  state.apply([], chunk([[LOG_EDGE, 3, 30, EDGE_KIND_CODES.mute, now]]));
  assert.deepEqual(items(query(state, 3, now)), [22]);
  assert.ok(!items(query(state, 0, now)).includes(13));
  // Items beyond the scratch arrays (new items) are handled.
  const like = state.types.code('like');
  state.apply([{ index: 5000, author: -1, createdAt: now, tags: [] }], chunk([[LOG_EVENT, 4, 5000, like, now + 1]]));
  assert.ok(items(query(state, 3, now)).includes(5000));
});
