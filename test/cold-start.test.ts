import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../src/domain/config.js';
import { EventTypeRegistry } from '../src/domain/event-types.js';
import { Engine } from '../src/engine.js';
import { SIM_PRESETS, simulate } from '../src/sim/index.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';

async function tinyPlatform(): Promise<Engine> {
  const config = parseConfig({});
  const store = SqliteStore.open({ path: ':memory:', types: new EventTypeRegistry(config.eventTypes), synchronous: 'OFF' });
  const engine = await Engine.open(config, { store, logImpressions: false });
  await engine.importStream(simulate({ ...SIM_PRESETS.tiny }));
  return engine;
}

test('a user never seen before gets a full feed from popular and fresh posts, two pages without repeats', async () => {
  const engine = await tinyPlatform();
  try {
    const first = await engine.forYouFeed('someone-new', { limit: 20 });
    assert.equal(first.items.length, 20);
    const sources = new Set(first.items.flatMap((i) => i.sources!.map((s) => s.source)));
    assert.ok(sources.has('popular') && sources.has('fresh'), [...sources].join(','));
    const second = await engine.forYouFeed('someone-new', { limit: 20, cursor: first.nextCursor! });
    assert.equal(second.items.length, 20);
    const ids = new Set(first.items.map((i) => i.id));
    assert.ok(second.items.every((i) => !ids.has(i.id)));
  } finally {
    await engine.close();
  }
});

test('a user whose only signal is follows gets in-network candidates', async () => {
  const engine = await tinyPlatform();
  try {
    const authors = engine.store.userIds.filter((_, u) => engine.state.authorPosts.size(u) > 0).slice(0, 3);
    await engine.ingest(authors.map((a) => ({ kind: 'edge' as const, edge: { userId: 'follower-only', targetId: a, kind: 'follow' as const, timestamp: engine.now() } })));
    const feed = await engine.forYouFeed('follower-only', { limit: 20 });
    assert.equal(feed.items.length, 20);
    const inNetwork = feed.items.filter((i) => i.inNetwork);
    assert.ok(inNetwork.length >= 5, `in-network items: ${inNetwork.length}`);
    assert.ok(inNetwork.every((i) => authors.includes(i.authorId!)));
  } finally {
    await engine.close();
  }
});
