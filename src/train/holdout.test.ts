import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../domain/config.js';
import { DEFAULT_EVENT_TYPES, EventTypeRegistry } from '../domain/event-types.js';
import type { LogRecord } from '../domain/types.js';
import { Engine } from '../engine.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { collectHoldoutExamples } from './holdout.js';

const T0 = Date.UTC(2026, 0, 1);

/** 40 users rate 8 of 16 movies each, 1–5 stars by a fixed pattern. */
function ratings(): { records: LogRecord[]; stars: Map<string, number> } {
  const records: LogRecord[] = [];
  const stars = new Map<string, number>();
  let ts = T0;
  for (let u = 0; u < 40; u++) {
    for (let k = 0; k < 8; k++) {
      const item = `m${(u + 2 * k) % 16}`;
      const value = 1 + ((u * 7 + k * 3) % 5);
      stars.set(`u${u}:${item}`, value);
      records.push({ kind: 'event', event: { userId: `u${u}`, itemId: item, type: 'rating', timestamp: (ts += 60_000), value } });
    }
  }
  return { records, stars };
}

for (const positiveFrom of [4, undefined]) {
  test(`held-out examples: ratings ${positiveFrom === undefined ? 'of any value are positives' : `are positives from ${positiveFrom} stars on`} (event type positiveFrom)`, async () => {
    const eventTypes = DEFAULT_EVENT_TYPES.map((t) => (t.name === 'rating' && positiveFrom !== undefined ? { ...t, positiveFrom } : { ...t }));
    const config = parseConfig({ eventTypes, feed: { maxPostAge: 0 } });
    const store = SqliteStore.open({ path: ':memory:', types: new EventTypeRegistry(config.eventTypes), synchronous: 'OFF' });
    const engine = await Engine.open(config, { store, logImpressions: false });
    try {
      const { records, stars } = ratings();
      await engine.importStream(records);
      const examples = await collectHoldoutExamples(engine, { ...config.feed.fusion, holdout: 'random', holdoutShare: 0.5, users: 100, seed: 3 });
      assert.ok(!('skipped' in examples), 'skipped' in examples ? examples.skipped : '');
      try {
        let low = 0;
        for (const u of examples.users) {
          const userId = engine.store.userIds[u.user]!;
          assert.ok(u.truth.size >= 1);
          for (const item of u.truth.keys()) {
            const value = stars.get(`${userId}:${engine.store.itemIds[item]}`)!;
            const liked = positiveFrom === undefined || value >= positiveFrom;
            assert.equal(u.engaged.has(item), liked, `${userId} ${engine.store.itemIds[item]} rated ${value}`);
            if (!liked) low++;
          }
          // The user's history as the shadow serves it still holds every kept rating, low ones too.
          const kept = new Set<number>();
          examples.shadow.state.history.forEachRecent(u.user, (item) => void kept.add(item));
          assert.deepEqual([...kept].sort(), [...u.kept].sort());
        }
        if (positiveFrom !== undefined) assert.ok(low > 0, 'some held-out ratings are below the threshold');
        // The values reach the state's history.
        let valued = 0;
        engine.state.history.forEachRecent(engine.store.userIndex('u1')!, (item, _type, _ts, value) => {
          assert.equal(value, stars.get(`u1:${engine.store.itemIds[item]}`));
          valued++;
        });
        assert.equal(valued, 8);
      } finally {
        await examples.shadow.close();
      }
    } finally {
      await engine.close();
    }
  });
}

test('eventTypes positiveFrom: only on a positive valued type, else a clear config error naming the field', () => {
  assert.throws(() => parseConfig({ eventTypes: [{ name: 'like', polarity: 'positive', weight: 1, positiveFrom: 4 }] }), /eventTypes\.0\.positiveFrom: only for a positive type with valued: true/);
  assert.throws(() => parseConfig({ eventTypes: [{ name: 'report', polarity: 'negative', weight: -1, valued: true, positiveFrom: 4 }] }), /eventTypes\.0\.positiveFrom/);
  assert.equal(parseConfig({ eventTypes: [{ name: 'rating', polarity: 'positive', weight: 1, valued: true, positiveFrom: 4 }] }).eventTypes[0]!.positiveFrom, 4);
});
