import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type Config } from '../domain/config.js';
import { EventTypeRegistry } from '../domain/event-types.js';
import { Engine } from '../engine.js';
import { SIM_PRESETS, simulate } from '../sim/index.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { LOG_EVENT } from '../store/store.js';
import type { FusionModelFile } from './source-fusion.js';

async function tinyEngine(config: Config, path = ':memory:', preset: 'tiny' | 'demo' = 'tiny'): Promise<Engine> {
  const store = SqliteStore.open({ path, types: new EventTypeRegistry(config.eventTypes), synchronous: 'OFF' });
  const engine = await Engine.open(config, { store, logImpressions: false });
  if ((await store.counts()).events === 0) await engine.importStream(simulate({ ...SIM_PRESETS[preset] }));
  return engine;
}

test('a holdout view hides exactly the held-out pairs’ events from the replayed state', async () => {
  const engine = await tinyEngine(parseConfig({}));
  try {
    // Hold out each of the first 20 engaged users' first positive item.
    const polarity = engine.state.polarity;
    const heldOut = new Map<number, Set<number>>();
    for await (const c of engine.store.readLog(0, 65536, false)) {
      for (let r = 0; r < c.length; r++) {
        if (c.kind[r] === LOG_EVENT && polarity[c.type[r]!]! > 0 && !heldOut.has(c.user[r]!) && heldOut.size < 20) heldOut.set(c.user[r]!, new Set([c.target[r]!]));
      }
    }
    let hidden = 0;
    for await (const c of engine.store.readLog(0, 65536, false)) {
      for (let r = 0; r < c.length; r++) if (c.kind[r] === LOG_EVENT && heldOut.get(c.user[r]!)?.has(c.target[r]!)) hidden++;
    }
    assert.ok(hidden >= 20);
    const shadow = await engine.openHoldout(heldOut);
    try {
      assert.equal(shadow.state.events, engine.state.events - hidden);
      for (const [user, items] of heldOut) {
        const item = [...items][0]!;
        let inBase = false;
        let inShadow = false;
        engine.state.history.forEachRecent(user, (i) => void (inBase ||= i === item));
        shadow.state.history.forEachRecent(user, (i) => void (inShadow ||= i === item));
        assert.equal(inShadow, false, `user ${user} still has item ${item} in the shadow`);
        assert.equal(inBase || engine.state.history.size(user) >= engine.config.state.historyLength, true);
      }
      // The same ids, and the view is read-only.
      assert.equal(shadow.store.userIds.length, engine.store.userIds.length);
      await assert.rejects(Promise.resolve().then(() => shadow.store.append([])), /read-only/);
    } finally {
      await shadow.close();
    }
    // Closing the shadow left the base store usable.
    assert.ok((await engine.store.counts()).events > 0);
  } finally {
    await engine.close();
  }
});

test('a holdout view with a cutoff is the log as it was then: later events, edges and posts are invisible', async () => {
  const engine = await tinyEngine(parseConfig({}));
  try {
    const times: number[] = [];
    for await (const c of engine.store.readLog(0, 65536, false)) for (let r = 0; r < c.length; r++) times.push(c.ts[r]!);
    times.sort((a, b) => a - b);
    const cutoff = times[Math.floor(times.length * 0.6)]!;
    const before = times.filter((t) => t <= cutoff).length;
    const shadow = await engine.openHoldout(new Map(), cutoff);
    try {
      assert.ok(shadow.state.clock <= cutoff);
      assert.equal(shadow.state.events + shadow.state.edgeRecords, before);
      assert.ok(before < engine.state.events + engine.state.edgeRecords);
      // A post created after the cutoff does not exist in the shadow.
      let later = -1;
      for (let i = 0; i < engine.state.items; i++) if (engine.state.createdAt(i) > cutoff) later = i;
      assert.ok(later >= 0);
      assert.ok(!(shadow.state.createdAt(later) > cutoff), `item ${later} created ${shadow.state.createdAt(later)}`);
    } finally {
      await shadow.close();
    }
  } finally {
    await engine.close();
  }
});

test('fusion: learned weights beat plain rank fusion on held-out users; saved, loaded and used to score the feed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lenta-fusion-'));
  const db = join(dir, 'lenta.db');
  const config = parseConfig({ store: { db }, feed: { fusion: { users: 300 } }, rank: { learn: false } });
  try {
    // The demo platform: 2,000 users, enough held-out users for a stable comparison.
    const engine = await tinyEngine(config, db, 'demo');
    let model: FusionModelFile;
    try {
      const trained = await engine.trainSources({ dir: `${db}.models` });
      assert.ok(trained.includes('fusion'), trained.join(','));
      assert.ok(existsSync(join(`${db}.models`, 'fusion.json')));
      model = JSON.parse(readFileSync(join(`${db}.models`, 'fusion.json'), 'utf8')) as FusionModelFile;
      assert.deepEqual(model.sources, engine.sources.map((e) => e.source.name));
      const r = model.report;
      assert.ok(r.users >= 250 && r.validationUsers >= 50, JSON.stringify(r));
      // On users whose held-out engagements the weights never saw: clearly better than equal weights.
      assert.ok(r.validation.learned > 1.1 * r.validation.rrf, `learned ${r.validation.learned} vs rrf ${r.validation.rrf}`);
      assert.ok(Object.values(model.weights).some((w) => w > 0));
    } finally {
      await engine.close();
    }
    // A restarted engine loads the model instead of training it, and scores with it.
    const again = await Engine.open(config, { logImpressions: false });
    try {
      const { loaded, trained } = await again.loadSources(`${db}.models`);
      assert.ok(loaded.includes('fusion'), `loaded ${loaded.join(',')}, trained ${trained.join(',')}`);
      assert.deepEqual(again.fusion.trained?.weights, model.weights);
      const user = again.store.userIds.find((_, u) => again.state.history.size(u) > 5)!;
      const feed = await again.forYouFeed(user, { limit: 10 });
      assert.equal(feed.items.length, 10);
      for (const item of feed.items) {
        // The light ranker's score, before the mixer's rules (`score` is after them).
        const expected = item.sources!.reduce((s, h) => s + (model.weights[h.source] ?? 0) / (model.k0 + h.rank), 0);
        assert.ok(Math.abs(item.weightedScore! - expected) < 1e-5, `${item.id}: score ${item.weightedScore}, expected ${expected}`);
      }
    } finally {
      await again.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fusion: not learned when switched off or when the log is larger than maxLogRows — rank fusion then', async () => {
  for (const fusion of [{ learn: false }, { maxLogRows: 1000 }]) {
    const engine = await tinyEngine(parseConfig({ feed: { fusion }, rank: { learn: false } }));
    try {
      const trained = await engine.trainSources();
      assert.ok(!trained.includes('fusion'));
      assert.equal(engine.fusion.trained, undefined);
      if ('maxLogRows' in fusion) assert.match(engine.fusionNote ?? '', /maxLogRows/);
      const user = engine.store.userIds.find((_, u) => engine.state.history.size(u) > 5)!;
      const feed = await engine.forYouFeed(user, { limit: 5 });
      for (const item of feed.items) {
        const rrf = item.sources!.reduce((s, h) => s + 1 / (60 + h.rank), 0);
        assert.ok(Math.abs(item.weightedScore! - rrf) < 1e-5);
      }
    } finally {
      await engine.close();
    }
  }
});
