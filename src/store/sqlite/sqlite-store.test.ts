import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { EventTypeRegistry } from '../../domain/event-types.js';
import type { LogRecord } from '../../domain/types.js';
import { tempDir } from '../../../test/helpers.js';
import { LOG_EDGE, LOG_EVENT } from '../store.js';
import { SqliteStore } from './sqlite-store.js';

const types = new EventTypeRegistry();
const ev = (userId: string, itemId: string, type = 'like', timestamp = 1000, id?: string): LogRecord => ({
  kind: 'event',
  event: { userId, itemId, type, timestamp, ...(id ? { id } : {}) },
});

async function withStore(fn: (store: SqliteStore, path: string) => Promise<void>) {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'lenta.db');
  const store = SqliteStore.open({ path, types, groupCommitMs: 5 });
  try {
    await fn(store, path);
  } finally {
    await store.close();
    cleanup();
  }
}

test('concurrent appends share a commit; a failing request rolls back alone', async () => {
  await withStore(async (store, path) => {
    const a = store.append([ev('ua', 'i1'), ev('ua', 'i2')]);
    const b = store.append([ev('ub', 'i3'), ev('ub', 'i4', 'no_such_type')]);
    const c = store.append([{ kind: 'edge', edge: { userId: 'uc', targetId: 'ua', kind: 'follow', timestamp: 5 } }]);
    const [ra, rb, rc] = await Promise.allSettled([a, b, c]);
    assert.equal(ra.status, 'fulfilled');
    assert.equal(rb.status, 'rejected');
    assert.equal(rc.status, 'fulfilled');
    // b's user and item were never interned: dense ids continue without gaps.
    assert.deepEqual([...store.userIds], ['ua', 'uc']);
    assert.deepEqual([...store.itemIds], ['i1', 'i2']);
    const counts = await store.counts();
    assert.deepEqual({ events: counts.events, edges: counts.edges, lastSeq: counts.lastSeq }, { events: 2, edges: 1, lastSeq: 3 });
    if (ra.status === 'fulfilled') {
      assert.equal(ra.value.log.length, 2);
      assert.deepEqual(Array.from(ra.value.log.kind), [LOG_EVENT, LOG_EVENT]);
    }
    if (rc.status === 'fulfilled') assert.equal(rc.value.log.kind[0], LOG_EDGE);
    await store.close();
    // Reopened, the store sees the same dictionaries and log.
    const again = SqliteStore.open({ path, types });
    assert.deepEqual([...again.userIds], ['ua', 'uc']);
    const rows = [];
    for await (const chunk of again.readLog()) for (let i = 0; i < chunk.length; i++) rows.push([chunk.seq[i], chunk.user[i], chunk.target[i], chunk.type[i]]);
    assert.deepEqual(rows, [
      [1, 0, 0, types.code('like')],
      [2, 0, 1, types.code('like')],
      [3, 1, 0, 0],
    ]);
    await again.close();
  });
});

test('an import that fails midway leaves nothing behind', async () => {
  await withStore(async (store) => {
    await store.append([ev('keep', 'k1')]);
    async function* broken(): AsyncIterable<LogRecord> {
      for (let i = 0; i < 20_000; i++) yield ev(`u${i}`, `i${i}`);
      throw new Error('bad row at line 20001');
    }
    await assert.rejects(store.importRecords(broken()), /line 20001/);
    assert.equal(store.userIds.length, 1);
    assert.equal(store.itemIds.length, 1);
    assert.equal((await store.counts()).events, 1);
    const r = await store.append([ev('u0', 'i0')]);
    assert.equal(r.log.user[0], 1, 'the next new user gets the next dense id');
    const imported = await store.importRecords([ev('x', 'y'), ev('x', 'y', 'click', 5, 'dup'), ev('x', 'y', 'click', 5, 'dup')]);
    assert.deepEqual(imported, { users: 1, items: 1, edges: 0, events: 2, duplicates: 1 });
  });
});

test('items: upserts keep earlier fields, stubs are created for events on unknown items, chronological author queries', async () => {
  await withStore(async (store) => {
    const r1 = await store.append([ev('u', 'post1'), { kind: 'item', item: { id: 'post1', authorId: 'alice', createdAt: 50, tags: ['a'] } }]);
    assert.deepEqual(r1.items.map((i) => [i.index, i.author, i.tags]), [[0, -1, []], [0, 1, ['a']]]);
    const r2 = await store.append([{ kind: 'item', item: { id: 'post1', text: 'hello' } }]);
    // An update carries every flag and numeric attribute, so that ones no longer there are cleared.
    assert.deepEqual(r2.items[0], { index: 0, author: 1, createdAt: 50, tags: ['a'], flags: [], numbers: {} });
    await store.append([1, 2, 3].map((k) => ({ kind: 'item' as const, item: { id: `p${k}`, authorId: 'alice', createdAt: 50 + k } })));
    const items = await store.getItems([0, 2]);
    assert.deepEqual(items.get(0), { id: 'post1', authorId: 'alice', createdAt: 50, tags: ['a'], text: 'hello' });
    const alice = store.userIndex('alice')!;
    // true attributes become flags, finite numbers numeric attributes (the score's value terms).
    const r3 = await store.append([{ kind: 'item', item: { id: 'priced', attributes: { price: 3.5, verified: true, color: 'red' } } }]);
    assert.deepEqual([r3.items[0]!.flags, r3.items[0]!.numbers], [['verified'], { price: 3.5 }]);
    const page1 = await store.postsByAuthors([alice], null, 2);
    assert.deepEqual(page1.map((p) => store.itemIds[p.index]), ['p3', 'p2']);
    const page2 = await store.postsByAuthors([alice], page1[1]!, 5);
    assert.deepEqual(page2.map((p) => store.itemIds[p.index]), ['p1', 'post1']);
  });
});
