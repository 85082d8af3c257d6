import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogRecord } from '../../domain/types.js';
import { ItemToItemSource } from '../../candidates/item-to-item.js';
import { event, openPlatform, post } from '../../candidates/test-platform.js';
import { buildSequenceGraph, SequenceScores } from './sequence-graph.js';

/** CSR of timelines. */
function timelines(lists: number[][]): { seq: Int32Array; start: Int32Array } {
  const start = new Int32Array(lists.length + 1);
  lists.forEach((l, u) => (start[u + 1] = start[u]! + l.length));
  return { seq: Int32Array.from(lists.flat()), start };
}

function weight(g: ReturnType<typeof buildSequenceGraph>, i: number, j: number): number {
  for (let p = g.offsets[i]!; p < g.offsets[i + 1]!; p++) if (g.targets[p] === j) return g.weights[p]!;
  return 0;
}

test('sequence graph: neighbours in time weigh 1/distance over √(occ·occ), within the window, symmetric, not across users', () => {
  // user 0: 0 1 2 3 4; user 1: 0 1 5; user 2: 4 0 (0 occurs 3 times, 1 twice, 4 twice)
  const { seq, start } = timelines([[0, 1, 2, 3, 4], [0, 1, 5], [4, 0]]);
  const g = buildSequenceGraph(seq, start, 7, { window: 3, neighbours: 10 });
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-6, `${a} vs ${b}`);
  close(weight(g, 0, 1), 2 / Math.sqrt(3 * 2)); // adjacent for users 0 and 1
  close(weight(g, 0, 2), 0.5 / Math.sqrt(3 * 1));
  close(weight(g, 0, 3), 1 / 3 / Math.sqrt(3 * 1));
  close(weight(g, 0, 4), 1 / Math.sqrt(3 * 2)); // distance 4 in user 0 is out of the window; adjacent in user 2
  for (const [i, j] of [[0, 1], [1, 2], [0, 5], [2, 4]]) close(weight(g, i!, j!), weight(g, j!, i!));
  assert.equal(weight(g, 3, 5), 0, 'items of different users are never linked');
  assert.equal(g.offsets[6]! - g.offsets[5]! > 0, true);
  assert.equal(g.offsets[7], g.offsets[6], 'an item never engaged has no row');
  // Rows strongest first, at most `neighbours`.
  const small = buildSequenceGraph(seq, start, 7, { window: 3, neighbours: 2 });
  for (let i = 0; i < 7; i++) {
    assert.ok(small.offsets[i + 1]! - small.offsets[i]! <= 2);
    for (let p = small.offsets[i]! + 1; p < small.offsets[i + 1]!; p++) assert.ok(small.weights[p - 1]! >= small.weights[p]!);
  }
  // A repeat is not its own neighbour; ids outside the catalogue are skipped.
  const r = timelines([[1, 1, 2, 99, -1, 2]]);
  const gr = buildSequenceGraph(r.seq, r.start, 3, { window: 1, neighbours: 10 });
  assert.equal(weight(gr, 1, 1), 0);
  assert.ok(weight(gr, 1, 2) > 0);
});

test('sequence scores: the sum over the history, NaN for history items, best outside the history, cleared per request', () => {
  const { seq, start } = timelines([[0, 1, 2], [0, 1, 2], [3, 4]]);
  const g = buildSequenceGraph(seq, start, 5, { window: 1, neighbours: 10 });
  const s = new SequenceScores(g);
  s.sum(Int32Array.of(0, 0, 99, -1), 4);
  assert.equal(s.summed, 1, 'each history item once, items outside the graph ignored');
  assert.ok(Math.abs(s.score(1) - weight(g, 0, 1)) < 1e-6);
  assert.equal(s.score(2), 0, 'two steps away with window 1');
  assert.ok(Number.isNaN(s.score(0)) && Number.isNaN(s.score(99)));
  assert.ok(Math.abs(s.best() - weight(g, 0, 1)) < 1e-6);
  s.sum(Int32Array.of(0, 2), 2);
  assert.ok(Math.abs(s.score(1) - weight(g, 0, 1) - weight(g, 2, 1)) < 1e-6);
  assert.ok(Math.abs(s.best() - s.score(1)) < 1e-9);
  // The best ignores history items, also those summed before they were reached: 1 is history here.
  s.sum(Int32Array.of(0, 1), 2);
  assert.ok(Number.isNaN(s.score(1)) && Math.abs(s.best() - s.score(2)) < 1e-9 && s.best() > 0);
  s.sum(new Int32Array(0), 0);
  assert.equal(s.score(1), 0);
  assert.equal(s.best(), 0);
});

test('item_to_item seq features: the item others engaged right after the user’s item scores above one engaged with it long apart', async (t) => {
  // Ten users like a, then b, then eight fillers, then c: a's co-engagement with b and c is the
  // same, its sequence neighbour is b. The user t liked a.
  const T0 = 1_700_000_000_000;
  const records: LogRecord[] = [];
  const ids = ['a', 'b', 'c', ...Array.from({ length: 8 }, (_, k) => `f${k}`)];
  for (const id of ids) records.push(post(id, undefined, T0));
  let ts = T0;
  for (let u = 0; u < 10; u++) for (const i of ['a', 'b', ...Array.from({ length: 8 }, (_, k) => `f${(k + u) % 8}`), 'c']) records.push(event(`u${u}`, i, 'like', (ts += 1000)));
  records.push(event('t', 'a', 'like', (ts += 1000)));
  const p = await openPlatform(t, records);
  const source = new ItemToItemSource();
  await source.train(p.ctx);
  const names = [...source.featureNames()];
  assert.deepEqual(names.slice(4), ['seq', 'seq_rel']);
  const cands = ['b', 'c', 'a'].map((id) => ({ item: p.item(id), author: -1, inNetwork: false, score: 0, sources: [] }));
  const w = names.length;
  const out = new Float32Array(3 * w);
  source.candidateFeatures(p.query('t'), cands, out, w, 0);
  const seqB = out[4]!;
  const seqC = out[w + 4]!;
  assert.ok(seqB > 0 && seqC === 0, `b follows a (seq ${seqB}); c is 9 steps away (seq ${seqC})`);
  assert.equal(out[5], 1, 'seq_rel: b is the best outside the history');
  assert.ok(Math.abs(out[0]! - out[w]!) < 1e-6, 'the co-engagement score does not tell b from c');
  assert.ok(Number.isNaN(out[2 * w + 4]!), 'the user’s own item: missing');
  // Saved and loaded, the same columns.
  const dir = mkdtempSync(join(tmpdir(), 'lenta-seq-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await source.save(dir);
  const loaded = new ItemToItemSource();
  assert.ok(await loaded.load(dir, p.ctx));
  const again = new Float32Array(3 * w);
  loaded.candidateFeatures(p.query('t'), cands, again, w, 0);
  assert.deepEqual(Array.from(again), Array.from(out));
});
