import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventTypeRegistry } from '../domain/event-types.js';
import { OnlineState } from '../state/online-state.js';
import { EDGE_KIND_CODES, LOG_EDGE, LOG_EVENT, type ItemRecord, type LogChunk, type Store } from '../store/store.js';
import type { FeedQuery, SourceTrainingContext } from '../pipeline/types.js';
import { CommunitySource } from './communities.js';

type Row = [kind: number, user: number, target: number, type: number, ts: number];

function chunk(rows: Row[]): LogChunk {
  const n = rows.length;
  const c: LogChunk = {
    length: n,
    seq: new Float64Array(n),
    kind: new Uint8Array(n),
    user: new Int32Array(n),
    target: new Int32Array(n),
    type: new Int16Array(n),
    ts: new Float64Array(n),
    value: new Float64Array(n).fill(1),
    context: new Array(n).fill(null),
  };
  rows.forEach(([kind, user, target, type, ts], r) => {
    c.seq[r] = r + 1;
    c.kind[r] = kind;
    c.user[r] = user;
    c.target[r] = target;
    c.type[r] = type;
    c.ts[r] = ts;
  });
  return c;
}

const HOUR = 3_600_000;
const T0 = 1_700_000_000_000;

/**
 * Creators 0–4 (group A) and 5–9 (group B), two posts each (item = 2·creator + k);
 * consumers 10–39 follow and like group A, 40–69 group B.
 */
function platform() {
  const types = new EventTypeRegistry();
  const like = types.code('like');
  const state = new OnlineState(types);
  const items: ItemRecord[] = [];
  for (let a = 0; a < 10; a++) for (let k = 0; k < 2; k++) items.push({ index: 2 * a + k, author: a, createdAt: T0 + k * HOUR, tags: [] });
  const rows: Row[] = [];
  for (let u = 10; u < 70; u++) {
    const base = u < 40 ? 0 : 5;
    for (let k = 0; k < 3; k++) rows.push([LOG_EDGE, u, base + ((u + k) % 5), EDGE_KIND_CODES.follow, T0]);
  }
  let ts = T0 + 2 * HOUR;
  for (let u = 10; u < 70; u++) {
    const base = u < 40 ? 0 : 5;
    for (let k = 0; k < 4; k++) rows.push([LOG_EVENT, u, 2 * (base + ((u * 7 + k) % 5)) + (k % 2), like, (ts += 1000)]);
  }
  const log = chunk(rows);
  state.apply(items, log);
  const userIds = Array.from({ length: 72 }, (_, i) => `u${i}`);
  const itemIds = Array.from({ length: 20 }, (_, i) => `i${i}`);
  const store = {
    userIds,
    itemIds,
    async *readLog() {
      yield log;
    },
  } as unknown as Store;
  const ctx: SourceTrainingContext = { state, store, now: ts };
  return { types, like, state, ctx, itemIds, ts };
}

function query(state: OnlineState, user: number, now: number): FeedQuery {
  return { user, userId: `u${user}`, limit: 100, now, requestId: 'r', variant: 'v', served: new Set(), seen: new Set(), exclude: new Set(), state };
}

test('a user who only follows members of one community gets that community’s posts', async () => {
  const { state, ctx, ts } = platform();
  const source = new CommunitySource({ resolution: 1, halfLife: 0 });
  await source.train(ctx);
  assert.ok(source.model.count >= 2);
  const ua = source.model.userLabel[0];
  const ub = source.model.userLabel[5];
  assert.notEqual(ua, ub);
  for (let a = 1; a < 5; a++) assert.equal(source.model.userLabel[a], ua);
  // New user 70 follows two creators of group A and has no engagements.
  state.apply([], chunk([
    [LOG_EDGE, 70, 1, EDGE_KIND_CODES.follow, ts],
    [LOG_EDGE, 70, 3, EDGE_KIND_CODES.follow, ts],
  ]));
  const q = query(state, 70, ts);
  assert.ok(source.enabled(q));
  const got = source.fetch(q, 5);
  assert.equal(got.length, 5);
  for (const c of got) {
    assert.ok(c.author >= 0 && c.author < 5, `item ${c.item} by ${c.author} is not group A`);
    assert.equal(c.inNetwork, c.author === 1 || c.author === 3);
    assert.equal(c.sources[0].source, 'communities');
  }
  assert.deepEqual(got.map((c) => c.sources[0].rank), [1, 2, 3, 4, 5]);
  // Unknown users get nothing; excluded items are skipped.
  assert.deepEqual(source.fetch(query(state, -1, ts), 10), []);
  const q2 = query(state, 70, ts);
  (q2.exclude as Set<number>).add(got[0].item);
  assert.ok(!source.fetch(q2, 10).some((c) => c.item === got[0].item));
});

test('online update moves a new post into its engagers’ community', async () => {
  const { state, ctx, like, ts } = platform();
  const source = new CommunitySource({ resolution: 1, halfLife: HOUR });
  await source.train(ctx);
  const ub = source.model.userLabel[5];
  // A post without an author (no prior), liked by group-B consumers.
  const item: ItemRecord = { index: 20, author: -1, createdAt: ts, tags: [] };
  const rows: Row[] = [];
  for (let u = 40; u < 50; u++) rows.push([LOG_EVENT, u, 20, like, ts + u * 1000]);
  const c = chunk(rows);
  state.apply([item], c);
  source.update(state, [item], c);
  const vec = source.model.itemVector(20);
  assert.ok(vec.length > 0);
  assert.equal(vec[0].community, ub);
  // A group-B consumer who has not engaged with it gets it.
  const got = source.fetch(query(state, 55, ts + HOUR), 50);
  assert.ok(got.some((x) => x.item === 20));
  assert.ok(got.every((x) => state.author(x.item) < 0 || state.author(x.item) >= 5), "only group-B posts");
});

test('save/load round trip gives the same candidates', async () => {
  const { state, ctx, ts } = platform();
  const source = new CommunitySource({ resolution: 1 });
  await source.train(ctx);
  const dir = mkdtempSync(join(tmpdir(), 'lenta-communities-'));
  try {
    await source.save(dir);
    const loaded = new CommunitySource({ resolution: 1 });
    assert.equal(await loaded.load(dir, ctx), true);
    for (const user of [12, 45, 69]) {
      assert.deepEqual(loaded.fetch(query(state, user, ts), 20), source.fetch(query(state, user, ts), 20));
    }
    assert.equal(await new CommunitySource({ resolution: 1 }).load(join(dir, 'missing'), ctx), false);
    assert.equal(await new CommunitySource({ perCommunity: 7 }).load(dir, ctx), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
