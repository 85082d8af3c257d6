import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventTypeRegistry } from '../domain/event-types.js';
import { OnlineState } from '../state/online-state.js';
import { EDGE_KIND_CODES, LOG_EDGE, LOG_EVENT, emptyLogChunk, type ItemRecord, type LogChunk, type Store } from '../store/store.js';
import type { FeedQuery, SourceTrainingContext } from '../pipeline/types.js';
import { ItemToItemSource } from './item-to-item.js';

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
 * Cluster A = items 0, 1, 2 (liked together by users 0–3), cluster B = items 5, 6, 7 (users
 * 4–7); item 9 is liked by everyone in both clusters (popular). Item 2 is by author 20.
 * User 10 liked item 0; user 11 liked 5, then 0 (newest); user 12 hid item 1 (negative).
 */
function platform() {
  const types = new EventTypeRegistry();
  const like = types.code('like');
  const hide = types.code('hide');
  const state = new OnlineState(types);
  const items: ItemRecord[] = [];
  for (let i = 0; i < 12; i++) items.push({ index: i, author: i === 2 ? 20 : -1, createdAt: T0, tags: [] });
  const rows: Row[] = [];
  let ts = T0;
  for (let u = 0; u < 4; u++) for (const i of [0, 1, 2, 9]) rows.push([LOG_EVENT, u, i, like, (ts += 1000)]);
  for (let u = 4; u < 8; u++) for (const i of [5, 6, 7, 9]) rows.push([LOG_EVENT, u, i, like, (ts += 1000)]);
  rows.push([LOG_EVENT, 10, 0, like, (ts += 1000)]);
  rows.push([LOG_EVENT, 11, 5, like, (ts += 1000)]);
  rows.push([LOG_EVENT, 11, 0, like, (ts += 1000)]);
  rows.push([LOG_EVENT, 12, 1, hide, (ts += 1000)]);
  rows.push([LOG_EVENT, 12, 0, like, (ts += 1000)]);
  const log = chunk(rows);
  state.apply(items, log);
  const store = {
    async *readLog() {
      yield log;
    },
  } as unknown as Store;
  const ctx: SourceTrainingContext = { state, store, now: ts };
  return { state, ctx, like, log, now: ts };
}

function query(state: OnlineState, user: number, now: number, extra: Partial<FeedQuery> = {}): FeedQuery {
  return { user, userId: `u${user}`, limit: 10, now, requestId: 'r', variant: 'default', served: new Set(), seen: new Set(), exclude: new Set(), state, ...extra };
}

test('item_to_item: co-engaged items are neighbours, popular items damped (RP3β)', async () => {
  const { ctx } = platform();
  const source = new ItemToItemSource();
  await source.train(ctx);
  const n0 = source.neighboursOf(0);
  assert.deepEqual(
    n0.slice(0, 2).map((n) => n.item).sort(),
    [1, 2],
    'the cluster mates of item 0 come first',
  );
  assert.ok(!n0.some((n) => [6, 7].includes(n.item)), 'no edge into the other cluster (only item 5, via user 11)');
  const w9 = n0.find((n) => n.item === 9)!.weight;
  assert.ok(w9 < n0[0]!.weight, 'the popular item is damped below the cluster mates');
  assert.equal(n0[0]!.weight, 1, 'rows are scaled to a maximum of 1');
  assert.deepEqual(source.neighboursOf(11), [], 'an item without engagement has no neighbours');
  assert.deepEqual(source.neighboursOf(1e6), []);
});

test('item_to_item: fetch sums neighbours of the newest history, best first, with the candidate contract', async () => {
  const { ctx, state, now } = platform();
  const source = new ItemToItemSource();
  await source.train(ctx);
  const got = source.fetch(query(state, 10, now), 10);
  assert.deepEqual(got.slice(0, 2).map((c) => c.item).sort(), [1, 2]);
  assert.ok(!got.some((c) => c.item === 0), 'the user’s own item is skipped');
  got.forEach((c, r) => {
    assert.deepEqual(c.sources, [{ source: 'item_to_item', score: c.score, rank: r + 1 }]);
    assert.equal(c.author, state.author(c.item));
    assert.equal(c.inNetwork, false);
    if (r > 0) assert.ok(c.score <= got[r - 1]!.score);
  });
  // Budget.
  assert.equal(source.fetch(query(state, 10, now), 1).length, 1);
  // User 11: the newest item (0) weighs more than the older one (5).
  const mixed = source.fetch(query(state, 11, now), 10).map((c) => c.item);
  assert.ok(mixed.indexOf(1) < mixed.indexOf(6) && mixed.indexOf(2) < mixed.indexOf(7), `cluster A first: ${mixed.join(',')}`);
  assert.ok(!mixed.includes(0) && !mixed.includes(5));
});

test('item_to_item: skipping rules (exclude, seen, served, own history incl. negatives, hidden authors)', async () => {
  const { ctx, state, now } = platform();
  const source = new ItemToItemSource();
  await source.train(ctx);
  const items = (q: FeedQuery) => source.fetch(q, 10).map((c) => c.item);
  assert.ok(!items(query(state, 10, now, { exclude: new Set([1]) })).includes(1));
  assert.ok(!items(query(state, 10, now, { seen: new Set([1]) })).includes(1));
  assert.ok(!items(query(state, 10, now, { served: new Set([2]) })).includes(2));
  assert.ok(!items(query(state, 12, now)).includes(1), 'an item the user hid is never proposed');
  // User 10 mutes author 20 (item 2).
  const mute = chunk([[LOG_EDGE, 10, 20, EDGE_KIND_CODES.mute, now]]);
  state.apply([], mute);
  assert.ok(!items(query(state, 10, now)).includes(2));
  // Follows mark in-network candidates.
  state.apply([], chunk([[LOG_EDGE, 11, 20, EDGE_KIND_CODES.follow, now]]));
  const c2 = source.fetch(query(state, 11, now), 10).find((c) => c.item === 2)!;
  assert.equal(c2.author, 20);
  assert.equal(c2.inNetwork, true);
});

test('item_to_item: cold users, untrained source and unknown items give [] without throwing', async () => {
  const { ctx, state, now } = platform();
  const source = new ItemToItemSource();
  assert.deepEqual(source.fetch(query(state, 10, now), 10), [], 'before training');
  assert.equal(source.enabled(query(state, 10, now)), false);
  await source.train(ctx);
  assert.deepEqual(source.fetch(query(state, -1, now), 10), []);
  assert.equal(source.enabled(query(state, -1, now)), false);
  assert.deepEqual(source.fetch(query(state, 500, now), 10), [], 'a user without history');
  assert.deepEqual(source.fetch(query(state, 10, now), 0), []);
  // A new item engaged after training (beyond the graph) is ignored, and new items grow the scratch.
  const like = state.types.code('like');
  state.apply([{ index: 5000, author: -1, createdAt: now, tags: [] }], chunk([[LOG_EVENT, 10, 5000, like, now + 1]]));
  source.update(state, [], chunk([[LOG_EVENT, 10, 5000, like, now + 1]]));
  assert.equal(source.staleEvents, 1);
  const got = source.fetch(query(state, 10, now), 10);
  assert.deepEqual(got.slice(0, 2).map((c) => c.item).sort(), [1, 2]);
});

test('item_to_item: save/load round trip; load refuses a missing or foreign index', async () => {
  const { ctx, state, now } = platform();
  const dir = mkdtempSync(join(tmpdir(), 'lenta-i2i-'));
  try {
    const source = new ItemToItemSource({ neighbours: 3 });
    await source.train(ctx);
    await source.save(dir);
    const loaded = new ItemToItemSource({ neighbours: 3 });
    assert.equal(await loaded.load(dir, ctx), true);
    assert.deepEqual(loaded.size, source.size);
    for (let i = 0; i < 12; i++) assert.deepEqual(loaded.neighboursOf(i), source.neighboursOf(i));
    assert.deepEqual(loaded.fetch(query(state, 11, now), 10), source.fetch(query(state, 11, now), 10));
    // Nothing saved.
    const empty = mkdtempSync(join(tmpdir(), 'lenta-i2i-empty-'));
    try {
      assert.equal(await new ItemToItemSource().load(empty, ctx), false);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    // A smaller state (another store) does not fit the saved graph.
    const small = new OnlineState(new EventTypeRegistry());
    assert.equal(await new ItemToItemSource().load(dir, { state: small, store: ctx.store, now }), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('item_to_item: cosine weighting and tag edges for items without co-engagement', async () => {
  const types = new EventTypeRegistry();
  const like = types.code('like');
  const state = new OnlineState(types);
  // Items 0–3 co-engaged; item 4 shares the rare tag "x" with item 1 but nobody co-engaged it.
  const items: ItemRecord[] = [0, 1, 2, 3, 4].map((i) => ({ index: i, author: -1, createdAt: T0, tags: i === 1 || i === 4 ? ['x'] : ['common'] }));
  for (let i = 5; i < 40; i++) items.push({ index: i, author: -1, createdAt: T0, tags: ['filler'] });
  const rows: Row[] = [];
  let ts = T0;
  for (let u = 0; u < 3; u++) for (const i of [0, 1, 2, 3]) rows.push([LOG_EVENT, u, i, like, (ts += 1)]);
  rows.push([LOG_EVENT, 9, 4, like, (ts += 1)]);
  const log = chunk(rows);
  state.apply(items, log);
  const ctx: SourceTrainingContext = { state, store: { async *readLog() { yield log; } } as unknown as Store, now: ts };
  const cosine = new ItemToItemSource({ weighting: 'cosine' });
  await cosine.train(ctx);
  assert.deepEqual(cosine.neighboursOf(0).map((n) => n.item).sort(), [1, 2, 3]);
  assert.deepEqual(cosine.neighboursOf(4), []);
  const tagged = new ItemToItemSource({ tagEdges: 1 });
  await tagged.train(ctx);
  assert.deepEqual(tagged.neighboursOf(4).map((n) => n.item), [1]);
  assert.ok(tagged.neighboursOf(4)[0]!.weight < 1);
  const got = tagged.fetch({ user: 9, userId: 'u9', limit: 10, now: ts, requestId: 'r', variant: 'd', served: new Set(), seen: new Set(), exclude: new Set(), state }, 10);
  assert.deepEqual(got.map((c) => c.item), [1]);
});
