import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogRecord } from '../domain/types.js';
import type { FeedQuery } from '../pipeline/types.js';
import { ItemToItemSource } from './item-to-item.js';
import { edge, event, newPosts, openPlatform, post } from './test-platform.js';

const T0 = 1_700_000_000_000;

/**
 * Cluster A = posts i0, i1, i2 (liked together by users u0–u3), cluster B = i5, i6, i7 (u4–u7);
 * i9 is liked by everyone in both clusters (popular). i2 is by author u20; i11 has no
 * engagement. u10 liked i0; u11 liked i5, then i0 (newest); u12 hid i1 (negative), then liked
 * i0. The lurker is a known user without history.
 */
function platform(t: TestContext) {
  const records: LogRecord[] = [];
  for (let i = 0; i < 12; i++) records.push(post(`i${i}`, i === 2 ? 'u20' : undefined, T0));
  records.push({ kind: 'user', user: { id: 'lurker' } });
  let ts = T0;
  const like = (u: string, i: string) => records.push(event(u, i, 'like', (ts += 1000)));
  for (let u = 0; u < 4; u++) for (const i of ['i0', 'i1', 'i2', 'i9']) like(`u${u}`, i);
  for (let u = 4; u < 8; u++) for (const i of ['i5', 'i6', 'i7', 'i9']) like(`u${u}`, i);
  like('u10', 'i0');
  like('u11', 'i5');
  like('u11', 'i0');
  records.push(event('u12', 'i1', 'hide', (ts += 1000)));
  like('u12', 'i0');
  return openPlatform(t, records);
}

test('item_to_item: co-engaged items are neighbours, popular items damped (RP3β)', async (t) => {
  const p = await platform(t);
  const source = new ItemToItemSource();
  await source.train(p.ctx);
  const n0 = source.neighboursOf(p.item('i0'));
  assert.deepEqual(
    p.itemNames(n0.slice(0, 2).map((n) => n.item)).sort(),
    ['i1', 'i2'],
    'the cluster mates of i0 come first',
  );
  assert.ok(!p.itemNames(n0.map((n) => n.item)).some((i) => ['i6', 'i7'].includes(i)), 'no edge into the other cluster (only i5, via u11)');
  const w9 = n0.find((n) => n.item === p.item('i9'))!.weight;
  assert.ok(w9 < n0[0]!.weight, 'the popular item is damped below the cluster mates');
  assert.equal(n0[0]!.weight, 1, 'rows are scaled to a maximum of 1');
  assert.deepEqual(source.neighboursOf(p.item('i11')), [], 'an item without engagement has no neighbours');
  assert.deepEqual(source.neighboursOf(1e6), []);
});

test('item_to_item: fetch sums neighbours of the newest history, best first, with the candidate contract', async (t) => {
  const p = await platform(t);
  const source = new ItemToItemSource();
  await source.train(p.ctx);
  const got = source.fetch(p.query('u10'), 10);
  assert.deepEqual(p.itemNames(got.slice(0, 2).map((c) => c.item)).sort(), ['i1', 'i2']);
  assert.ok(!got.some((c) => c.item === p.item('i0')), 'the user’s own item is skipped');
  got.forEach((c, r) => {
    assert.deepEqual(c.sources, [{ source: 'item_to_item', score: c.score, rank: r + 1 }]);
    assert.equal(c.author, p.state.author(c.item));
    assert.equal(c.inNetwork, false);
    if (r > 0) assert.ok(c.score <= got[r - 1]!.score);
  });
  // Budget.
  assert.equal(source.fetch(p.query('u10'), 1).length, 1);
  // u11: the newest item (i0) weighs more than the older one (i5).
  const mixed = p.itemNames(source.fetch(p.query('u11'), 10).map((c) => c.item));
  assert.ok(mixed.indexOf('i1') < mixed.indexOf('i6') && mixed.indexOf('i2') < mixed.indexOf('i7'), `cluster A first: ${mixed.join(',')}`);
  assert.ok(!mixed.includes('i0') && !mixed.includes('i5'));
});

test('item_to_item: skipping rules (exclude, seen, served, own history incl. negatives, hidden authors)', async (t) => {
  const p = await platform(t);
  const source = new ItemToItemSource();
  await source.train(p.ctx);
  const [i1, i2] = [p.item('i1'), p.item('i2')];
  const items = (q: FeedQuery) => source.fetch(q, 10).map((c) => c.item);
  assert.ok(!items(p.query('u10', { exclude: new Set([i1]) })).includes(i1));
  assert.ok(!items(p.query('u10', { seen: new Set([i1]) })).includes(i1));
  assert.ok(!items(p.query('u10', { served: new Set([i2]) })).includes(i2));
  assert.ok(!items(p.query('u12')).includes(i1), 'an item the user hid is never proposed');
  // u10 mutes author u20 (i2).
  assert.ok(items(p.query('u10')).includes(i2));
  await p.ingest([edge('u10', 'u20', 'mute', p.now)], source);
  assert.ok(!items(p.query('u10')).includes(i2));
  // Follows mark in-network candidates.
  await p.ingest([edge('u11', 'u20', 'follow', p.now)], source);
  const c2 = source.fetch(p.query('u11'), 10).find((c) => c.item === i2)!;
  assert.equal(c2.author, p.user('u20'));
  assert.equal(c2.inNetwork, true);
});

test('item_to_item: cold users, untrained source and unknown items give [] without throwing', async (t) => {
  const p = await platform(t);
  const source = new ItemToItemSource();
  assert.deepEqual(source.fetch(p.query('u10'), 10), [], 'before training');
  assert.equal(source.enabled(p.query('u10')), false);
  await source.train(p.ctx);
  assert.equal(p.user('nobody'), -1);
  assert.deepEqual(source.fetch(p.query('nobody'), 10), []);
  assert.equal(source.enabled(p.query('nobody')), false);
  assert.ok(p.user('lurker') >= 0);
  assert.deepEqual(source.fetch(p.query('lurker'), 10), [], 'a user without history');
  assert.deepEqual(source.fetch(p.query('u10'), 0), []);
  // A new item engaged after training (beyond the graph) is ignored, and new items (a catalogue
  // larger than the scratch arrays) grow the scratch.
  const posts = newPosts(1100);
  await p.ingest([...posts, event('u10', 'new1099', 'like', p.now + 1)], source);
  assert.ok(p.state.items > 1024);
  assert.equal(source.staleEvents, 1);
  const got = source.fetch(p.query('u10'), 10);
  assert.deepEqual(p.itemNames(got.slice(0, 2).map((c) => c.item)).sort(), ['i1', 'i2']);
});

test('item_to_item: save/load round trip; load refuses a missing or foreign index', async (t) => {
  const p = await platform(t);
  const dir = mkdtempSync(join(tmpdir(), 'lenta-i2i-'));
  try {
    const source = new ItemToItemSource({ neighbours: 3 });
    await source.train(p.ctx);
    await source.save(dir);
    const loaded = new ItemToItemSource({ neighbours: 3 });
    assert.equal(await loaded.load(dir, p.ctx), true);
    assert.deepEqual(loaded.size, source.size);
    for (let i = 0; i < 12; i++) assert.deepEqual(loaded.neighboursOf(p.item(`i${i}`)), source.neighboursOf(p.item(`i${i}`)));
    assert.deepEqual(loaded.fetch(p.query('u11'), 10), source.fetch(p.query('u11'), 10));
    // Nothing saved.
    const empty = mkdtempSync(join(tmpdir(), 'lenta-i2i-empty-'));
    try {
      assert.equal(await new ItemToItemSource().load(empty, p.ctx), false);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    // A smaller state (another, empty store) does not fit the saved graph.
    const small = await openPlatform(t, []);
    assert.equal(await new ItemToItemSource().load(dir, small.ctx), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('item_to_item: cosine weighting and tag edges for items without co-engagement', async (t) => {
  // i0–i3 co-engaged; i4 shares the rare tag "x" with i1 but nobody co-engaged it.
  const records: LogRecord[] = [0, 1, 2, 3, 4].map((i) => post(`i${i}`, undefined, T0, i === 1 || i === 4 ? ['x'] : ['common']));
  for (let i = 5; i < 40; i++) records.push(post(`i${i}`, undefined, T0, ['filler']));
  let ts = T0;
  for (let u = 0; u < 3; u++) for (let i = 0; i < 4; i++) records.push(event(`u${u}`, `i${i}`, 'like', (ts += 1)));
  records.push(event('u9', 'i4', 'like', (ts += 1)));
  const p = await openPlatform(t, records);
  const cosine = new ItemToItemSource({ weighting: 'cosine' });
  await cosine.train(p.ctx);
  assert.deepEqual(p.itemNames(cosine.neighboursOf(p.item('i0')).map((n) => n.item)).sort(), ['i1', 'i2', 'i3']);
  assert.deepEqual(cosine.neighboursOf(p.item('i4')), []);
  const tagged = new ItemToItemSource({ tagEdges: 1 });
  await tagged.train(p.ctx);
  assert.deepEqual(p.itemNames(tagged.neighboursOf(p.item('i4')).map((n) => n.item)), ['i1']);
  assert.ok(tagged.neighboursOf(p.item('i4'))[0]!.weight < 1);
  const got = tagged.fetch(p.query('u9', { variant: 'd' }), 10);
  assert.deepEqual(p.itemNames(got.map((c) => c.item)), ['i1']);
});
