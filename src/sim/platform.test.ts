import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_EVENT_TYPES, EventTypeRegistry } from '../domain/event-types.js';
import type { LogRecord } from '../domain/types.js';
import { validateRecord } from '../domain/validate.js';
import { recordToJsonl, writeJsonl } from '../ingest/jsonl-writer.js';
import { createSimulation, simulate, SIM_PRESETS, type GroundTruth, type Simulation } from './index.js';

const tiny = SIM_PRESETS.tiny;

function timestampOf(r: LogRecord): number {
  switch (r.kind) {
    case 'user':
      return r.user.createdAt ?? 0;
    case 'item':
      return r.item.createdAt ?? 0;
    case 'edge':
      return r.edge.timestamp;
    case 'event':
      return r.event.timestamp;
  }
}

/** The tiny simulation, generated once for the read-only tests below. */
let cached: { sim: Simulation; records: LogRecord[] } | undefined;
function tinyRun(): { sim: Simulation; records: LogRecord[]; truth: GroundTruth } {
  if (!cached) {
    const sim = createSimulation(tiny);
    cached = { sim, records: [...sim.records()] };
  }
  return { ...cached, truth: cached.sim.truth };
}

test('the tiny preset is fast', () => {
  const t0 = performance.now();
  let n = 0;
  for (const _ of simulate({ ...tiny, seed: 77 })) n++;
  const ms = performance.now() - t0;
  assert.ok(n > 5000, `${n} records`);
  // Generous bound (shared CI machines); typically well under 0.3 s.
  assert.ok(ms < 3000, `tiny took ${ms.toFixed(0)} ms`);
});

test('same seed and options give byte-identical output; another seed differs', () => {
  const lines = (seed: number) => [...simulate({ ...tiny, seed })].map(recordToJsonl).join('\n');
  const a = lines(5);
  const b = lines(5);
  const c = lines(6);
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.ok(a.length > 100_000);
});

test('records are in time order: accounts first, then the initial graph, then the days', () => {
  const { records, sim } = tinyRun();
  let last = -Infinity;
  records.forEach((r, i) => {
    const ts = timestampOf(r);
    assert.ok(ts >= last, `record ${i} (${r.kind}) goes back in time: ${ts} < ${last}`);
    last = ts;
  });
  assert.equal(records[0].kind, 'user');
  const start = sim.options.start;
  assert.equal(timestampOf(records[0]), start);
  const firstEvent = records.findIndex((r) => r.kind === 'event');
  const firstItem = records.findIndex((r) => r.kind === 'item');
  assert.ok(firstItem > 0 && firstEvent > firstItem);
  assert.ok(timestampOf(records[records.length - 1]) < start + (sim.options.days + 1) * 86_400_000);
});

test('every record passes validateRecord after a lenta-jsonl round trip', async () => {
  const { records } = tinyRun();
  const dir = mkdtempSync(join(tmpdir(), 'lenta-sim-'));
  try {
    const path = join(dir, 'tiny.jsonl');
    let reported = 0;
    const counts = await writeJsonl(records, path, (n) => (reported = n));
    assert.equal(reported, records.length);
    const lines = readFileSync(path, 'utf8').split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, records.length);
    const types = new EventTypeRegistry();
    const kinds: Record<string, number> = {};
    lines.forEach((line, i) => {
      const parsed = validateRecord(JSON.parse(line), `line ${i + 1}`, types);
      assert.deepEqual(parsed, records[i]);
      const kind = parsed.kind === 'edge' ? parsed.edge.kind : parsed.kind;
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    });
    assert.deepEqual(counts, { user: kinds.user ?? 0, item: kinds.item ?? 0, follow: kinds.follow ?? 0, mute: kinds.mute ?? 0, block: kinds.block ?? 0, event: kinds.event ?? 0 });
    // Async iterables are accepted too.
    async function* again() {
      yield* records.slice(0, 10);
    }
    const small = await writeJsonl(again(), join(dir, 'small.jsonl'));
    assert.equal(Object.values(small).reduce((a, b) => a + b, 0), 10);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('events and edges refer to accounts and posts that exist at that time', () => {
  const { records } = tinyRun();
  const users = new Set<string>();
  const items = new Map<string, string>();
  const follows = new Set<string>();
  for (const r of records) {
    if (r.kind === 'user') {
      assert.ok(!users.has(r.user.id), `user ${r.user.id} twice`);
      users.add(r.user.id);
    } else if (r.kind === 'item') {
      assert.ok(users.has(r.item.authorId as string), `author of ${r.item.id} unknown`);
      assert.ok(!items.has(r.item.id));
      items.set(r.item.id, r.item.authorId as string);
      assert.ok(r.item.tags?.some((t) => /^topic:\d+$/.test(t)));
      assert.ok((r.item.text ?? '').length > 0);
    } else if (r.kind === 'edge') {
      const e = r.edge;
      assert.ok(users.has(e.userId) && users.has(e.targetId), `edge ${e.userId} -> ${e.targetId} names an unknown account`);
      const key = `${e.userId}>${e.targetId}`;
      if (e.kind === 'follow') {
        if (e.removed) {
          assert.ok(follows.has(key), `unfollow of a follow that does not exist: ${key}`);
          follows.delete(key);
        } else {
          assert.ok(!follows.has(key), `duplicate follow ${key}`);
          follows.add(key);
        }
      }
    } else {
      const e = r.event;
      assert.ok(users.has(e.userId), `event by unknown user ${e.userId}`);
      assert.ok(items.has(e.itemId), `event on unknown item ${e.itemId}`);
      assert.notEqual(items.get(e.itemId), e.userId, 'nobody is served her own post');
    }
  }
});

test('impressions carry request id, position, propensity in (0, 1] and source; engagements follow an impression', () => {
  const { records, sim } = tinyRun();
  const shown = new Set<string>();
  const requests = new Map<string, number[]>();
  let impressions = 0;
  let inNetwork = 0;
  for (const r of records) {
    if (r.kind !== 'event') continue;
    const e = r.event;
    const c = e.context ?? {};
    if (e.type === 'impression') {
      impressions++;
      assert.equal(typeof c.requestId, 'string');
      assert.ok(Number.isInteger(c.position) && (c.position as number) >= 0 && (c.position as number) < sim.options.pageSize);
      assert.ok(typeof c.propensity === 'number' && c.propensity > 0 && c.propensity <= 1);
      assert.ok(c.source === 'in_network' || c.source === 'out_of_network');
      if (c.source === 'in_network') inNetwork++;
      const key = `${e.userId}|${e.itemId}`;
      assert.ok(!shown.has(key), `post ${e.itemId} served twice to ${e.userId}`);
      shown.add(key);
      const positions = requests.get(c.requestId as string) ?? [];
      positions.push(c.position as number);
      requests.set(c.requestId as string, positions);
    } else {
      assert.ok(shown.has(`${e.userId}|${e.itemId}`), `${e.type} without an earlier impression`);
      assert.ok(typeof c.requestId === 'string' && requests.has(c.requestId));
    }
  }
  for (const positions of requests.values()) assert.deepEqual(positions, positions.map((_, i) => i));
  assert.ok(impressions > 3000);
  const share = inNetwork / impressions;
  assert.ok(share > 0.15 && share < 0.85, `in-network share ${share}`);
  assert.equal(sim.stats.events.impression, impressions);
});

test('all default engagement types occur, with plausible rates; valued types carry values', () => {
  const { records } = tinyRun();
  const counts: Record<string, number> = {};
  for (const r of records) {
    if (r.kind !== 'event') continue;
    const e = r.event;
    counts[e.type] = (counts[e.type] ?? 0) + 1;
    if (e.type === 'dwell') assert.ok(Number.isInteger(e.value) && (e.value as number) >= 2000);
    if (e.type === 'rating') assert.ok([1, 2, 3, 4, 5].includes(e.value as number));
    if (e.type === 'play') assert.ok((e.value as number) >= 1);
  }
  for (const t of DEFAULT_EVENT_TYPES) assert.ok((counts[t.name] ?? 0) > 0, `no ${t.name} events`);
  const rate = (t: string) => counts[t] / counts.impression;
  assert.ok(rate('click') > 0.01 && rate('click') < 0.12, `click ${rate('click')}`);
  assert.ok(rate('like') > 0.01 && rate('like') < 0.12, `like ${rate('like')}`);
  assert.ok(rate('reply') < 0.01, `reply ${rate('reply')}`);
  assert.ok(rate('report') < 0.005, `report ${rate('report')}`);
});

test('the log carries the truth model signal: engaged posts have higher true probabilities', () => {
  const { records, truth } = tinyRun();
  const clicked = new Set<string>();
  const hidden = new Set<string>();
  for (const r of records) {
    if (r.kind !== 'event') continue;
    if (r.event.type === 'click') clicked.add(`${r.event.userId}|${r.event.itemId}`);
    if (r.event.type === 'not_interested' || r.event.type === 'hide') hidden.add(`${r.event.userId}|${r.event.itemId}`);
  }
  let pc = 0;
  let nc = 0;
  let pn = 0;
  let nn = 0;
  let affHidden = 0;
  let affAll = 0;
  let nAll = 0;
  for (const r of records) {
    if (r.kind !== 'event' || r.event.type !== 'impression') continue;
    const { userId, itemId } = r.event;
    const key = `${userId}|${itemId}`;
    const p = truth.probabilities(userId, itemId, { position: r.event.context?.position as number }).click;
    if (clicked.has(key)) {
      pc += p;
      nc++;
    } else {
      pn += p;
      nn++;
    }
    const a = truth.affinity(userId, itemId);
    affAll += a;
    nAll++;
    if (hidden.has(key)) affHidden += a;
  }
  assert.ok(nc > 50);
  assert.ok(pc / nc > 1.5 * (pn / nn), `mean true p(click): clicked ${pc / nc} vs not clicked ${pn / nn}`);
  assert.ok(affHidden / hidden.size < affAll / nAll, 'negative feedback goes to off-topic posts');
});

test('follows are homophilous: followed accounts share interests more than random pairs', () => {
  const { records, truth } = tinyRun();
  const cosine = (u: string, v: string) => {
    const a = new Map(truth.userInterests(u).map((x) => [x.topic, x.weight]));
    const b = truth.userInterests(v);
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (const w of a.values()) na += w * w;
    for (const x of b) {
      nb += x.weight * x.weight;
      dot += (a.get(x.topic) ?? 0) * x.weight;
    }
    return dot / Math.sqrt(na * nb);
  };
  const pairs = records.filter((r) => r.kind === 'edge' && r.edge.kind === 'follow' && !r.edge.removed).map((r) => (r as { edge: { userId: string; targetId: string } }).edge);
  assert.ok(pairs.length > 200);
  const followed = pairs.reduce((s, e) => s + cosine(e.userId, e.targetId), 0) / pairs.length;
  // Same followers, targets taken from other edges (keeps the popularity of targets).
  const shuffled = pairs.reduce((s, e, i) => s + cosine(e.userId, pairs[(i * 7919 + 101) % pairs.length].targetId), 0) / pairs.length;
  assert.ok(followed > shuffled + 0.1, `interest cosine of follows ${followed.toFixed(3)} vs shuffled ${shuffled.toFixed(3)}`);
});

test('options are validated with the option name', () => {
  assert.throws(() => createSimulation({ seed: 1, users: 1, days: 1 }), /sim\.users/);
  assert.throws(() => createSimulation({ seed: 1, users: 10, days: 0 }), /sim\.days/);
  assert.throws(() => createSimulation({ seed: 1.5, users: 10, days: 1 }), /sim\.seed/);
  assert.throws(() => createSimulation({ seed: 1, users: 10, days: 1, exploration: 0 }), /sim\.exploration/);
  const sim = createSimulation({ seed: 1, users: 10, days: 1 });
  [...sim.records()];
  assert.throws(() => sim.records(), /once/);
});
