import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../domain/config.js';
import { EventTypeRegistry } from '../../domain/event-types.js';
import { Engine } from '../../engine.js';
import { SIM_PRESETS, simulate } from '../../sim/index.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { auc, RealGraphModel } from './real-graph.js';

test('auc: perfect, reversed, ties count half', () => {
  assert.equal(auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  assert.equal(auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
  assert.equal(auc([0.5, 0.5], [0, 1]), 0.5);
});

test('the real graph learns from replay who engages with whom next day, and round-trips', async () => {
  const config = parseConfig({});
  const types = new EventTypeRegistry(config.eventTypes);
  const store = SqliteStore.open({ path: ':memory:', types, synchronous: 'OFF' });
  const engine = await Engine.open(config, { store, logImpressions: false });
  await engine.importStream(simulate({ ...SIM_PRESETS.tiny, days: 5 }));
  const model = new RealGraphModel(types, engine.state.options.windowsMs.length);
  const report = await model.train(store, types, engine.state.options, { days: 4, pairsPerDay: 5000 });
  assert.ok(report.examples > 1000, `examples ${report.examples}`);
  assert.ok(report.positives > 20, `positives ${report.positives}`);
  assert.ok(report.validationAuc > 0.65, `validation AUC ${report.validationAuc}`);
  // A pair with recent engagement scores above a pair without any.
  const u = engine.store.userIds.findIndex((_, i) => engine.state.history.size(i) > 5);
  let engagedAuthor = -1;
  engine.state.history.forEachRecent(u, (item) => {
    engagedAuthor = engine.state.author(item);
    return engagedAuthor < 0;
  });
  const stranger = engine.store.userIds.findIndex((_, a) => a !== u && engine.state.authorPosts.size(a) > 0 && engine.state.userAuthorCounts.lastUpdate(u, a, engine.state.ENGAGED) === -Infinity && !engine.state.following.has(u, a));
  const now = engine.now();
  assert.ok(model.predict(engine.state, u, engagedAuthor, now) > model.predict(engine.state, u, stranger, now));
  const copy = new RealGraphModel(types, engine.state.options.windowsMs.length);
  assert.ok(copy.restore(JSON.parse(JSON.stringify(model.toJSON()))));
  assert.equal(copy.predict(engine.state, u, engagedAuthor, now), model.predict(engine.state, u, engagedAuthor, now));
  // The per-user hints (and a known follow) skip lookups only: the same features for every pair.
  const st = engine.state;
  const plain = new Float64Array(model.featureNames.length);
  const hinted = new Float64Array(model.featureNames.length);
  let pairs = 0;
  for (let v = 0; v < Math.min(60, engine.store.userIds.length); v++) {
    const hints = model.prepare(st, v);
    for (let a = 0; a < engine.store.userIds.length; a++) {
      model.features(st, v, a, now, plain);
      model.features(st, v, a, now, hinted, st.following.has(v, a), hints);
      assert.deepEqual(hinted, plain, `user ${v}, author ${a}`);
      assert.equal(model.predict(st, v, a, now, undefined, hints), model.predict(st, v, a, now));
      pairs++;
    }
  }
  assert.ok(pairs > 1000);
  await engine.close();
});
