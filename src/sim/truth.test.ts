import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_EVENT_TYPES } from '../domain/event-types.js';
import { createSimulation, loadTruth, saveTruth, SIM_PRESETS } from './index.js';

function run() {
  const sim = createSimulation(SIM_PRESETS.tiny);
  const records = [...sim.records()];
  return { sim, records, truth: sim.truth };
}

test('the truth knows every engagement type and answers probabilities in [0, 1]', () => {
  const { truth, records } = run();
  const expected = DEFAULT_EVENT_TYPES.map((t) => t.name).filter((t) => t !== 'impression');
  assert.deepEqual([...truth.eventTypes], expected);
  const imp = records.find((r) => r.kind === 'event' && r.event.type === 'impression');
  assert.ok(imp && imp.kind === 'event');
  const p = truth.probabilities(imp.event.userId, imp.event.itemId);
  assert.deepEqual(Object.keys(p), expected);
  for (const v of Object.values(p)) assert.ok(v >= 0 && v <= 1);
  assert.ok(truth.hasUser('u0') && !truth.hasUser('u999999') && !truth.hasUser('x1') && !truth.hasUser('u01'));
  assert.throws(() => truth.probabilities('u0', 'p999999'), /unknown item/);
  assert.throws(() => truth.probabilities('nobody', 'p0'), /unknown user/);
});

test('expectedValue is the weighted sum of the probabilities', () => {
  const { truth } = run();
  const weights = Object.fromEntries(DEFAULT_EVENT_TYPES.map((t) => [t.name, t.weight]));
  const p = truth.probabilities('u3', 'p5');
  const manual = Object.entries(p).reduce((s, [t, v]) => s + (weights[t] ?? 0) * v, 0);
  assert.ok(Math.abs(truth.expectedValue('u3', 'p5', weights) - manual) < 1e-12);
  assert.equal(truth.expectedValue('u3', 'p5', {}), 0);
});

test('model structure: play only on videos, follow_author never when following, affinity raises clicks and lowers hides', () => {
  const { truth } = run();
  let video = 0;
  for (let i = 0; i < truth.itemCount; i++) {
    const id = `p${i}`;
    const isVideo = truth.tables.itemVideo[i] === 1;
    const p = truth.probabilities('u1', id);
    if (!isVideo) assert.equal(p.play, 0);
    else video++;
    assert.equal(truth.probabilities('u1', id, { follows: true }).follow_author, 0);
    assert.ok(truth.probabilities('u1', id, { follows: false }).follow_author > 0);
    // Lower on a later position.
    assert.ok(truth.probabilities('u1', id, { position: 9 }).click < p.click);
  }
  assert.ok(video > 0);
  // Across posts: higher affinity, more clicks, fewer hides.
  const rows: { a: number; click: number; hide: number }[] = [];
  for (let i = 0; i < truth.itemCount; i++) {
    const p = truth.probabilities('u2', `p${i}`, { follows: false });
    rows.push({ a: truth.affinity('u2', `p${i}`), click: p.click, hide: p.hide });
  }
  const hi = rows.filter((r) => r.a >= 0.5);
  const lo = rows.filter((r) => r.a === 0);
  assert.ok(hi.length > 0 && lo.length > 0);
  const avg = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(avg(hi.map((r) => r.click)) > 2 * avg(lo.map((r) => r.click)));
  assert.ok(avg(hi.map((r) => r.hide)) < avg(lo.map((r) => r.hide)));
});

test('a saved truth loads back and answers exactly the same', () => {
  const { truth, sim } = run();
  const dir = mkdtempSync(join(tmpdir(), 'lenta-truth-'));
  try {
    const path = join(dir, 'truth.json');
    truth.saveTruth(path);
    const loaded = loadTruth(path);
    saveTruth(loaded, join(dir, 'again.json'));
    assert.equal(loaded.userCount, truth.userCount);
    assert.equal(loaded.itemCount, truth.itemCount);
    assert.equal(loaded.meta.seed, sim.options.seed);
    for (let u = 0; u < truth.userCount; u += 7) {
      for (let i = 0; i < truth.itemCount; i += 5) {
        const a = truth.probabilities(`u${u}`, `p${i}`);
        const b = loaded.probabilities(`u${u}`, `p${i}`);
        assert.deepEqual(b, a);
      }
      assert.deepEqual(loaded.userInterests(`u${u}`), truth.userInterests(`u${u}`));
    }
    assert.deepEqual(loaded.itemTopics('p3'), truth.itemTopics('p3'));
    assert.throws(() => loadTruth(join(dir, 'missing.json')), /cannot read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
