import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { LogRecord } from '../domain/types.js';
import type { FeedQuery } from '../pipeline/types.js';
import { SocialGraphSource } from './social-graph.js';
import { edge, event, newPosts, openPlatform, post } from './test-platform.js';

const T0 = 1_700_000_000_000;

/**
 * Follows: u0 follows u1 and u2; u0 liked i13 by u1 (affinity to u1).
 * u1 liked i10 then i11 (both by u50); u2 liked i12 (by u2).
 * Similar users: u3 liked i20, i21; u4 liked i20, i21, i22; u6 liked i20, i24 (by u30);
 * u5 liked i23 only. The lurker is a known user with neither history nor follows.
 */
function platform(t: TestContext) {
  const authors: Record<number, string> = { 10: 'u50', 11: 'u50', 12: 'u2', 13: 'u1', 24: 'u30' };
  const records: LogRecord[] = [];
  for (let i = 0; i < 30; i++) records.push(post(`i${i}`, authors[i], T0));
  records.push({ kind: 'user', user: { id: 'lurker' } });
  records.push(edge('u0', 'u1', 'follow', T0), edge('u0', 'u2', 'follow', T0));
  let ts = T0;
  const likes: [string, string][] = [
    ['u0', 'i13'],
    ['u1', 'i10'],
    ['u1', 'i11'],
    ['u2', 'i12'],
    ['u3', 'i20'],
    ['u3', 'i21'],
    ['u4', 'i20'],
    ['u4', 'i21'],
    ['u4', 'i22'],
    ['u6', 'i20'],
    ['u6', 'i24'],
    ['u5', 'i23'],
  ];
  for (const [u, i] of likes) records.push(event(u, i, 'like', (ts += 1000)));
  return openPlatform(t, records);
}

test('social_graph: follows’ recent engagements, stronger relationships and newer engagements first', async (t) => {
  const p = await platform(t);
  const source = new SocialGraphSource();
  const got = source.fetch(p.query('u0'), 10);
  assert.deepEqual(
    p.itemNames(got.map((c) => c.item)),
    ['i11', 'i10', 'i12'],
    'u1 (engaged with) before u2 (only followed); i11 (newer) before i10',
  );
  got.forEach((c, r) => {
    assert.deepEqual(c.sources, [{ source: 'social_graph', score: c.score, rank: r + 1 }]);
    assert.equal(c.author, p.state.author(c.item));
  });
  assert.equal(got[2]!.inNetwork, true, 'i12 is by a followed account');
  assert.equal(got[0]!.inNetwork, false);
  assert.equal(source.fetch(p.query('u0'), 2).length, 2);
});

test('social_graph: users with similar histories (two hops on the user–item graph)', async (t) => {
  const p = await platform(t);
  const source = new SocialGraphSource();
  const got = p.itemNames(source.fetch(p.query('u3'), 10).map((c) => c.item));
  assert.deepEqual(got, ['i22', 'i24'], 'u4 shares two items, u6 one; u5 none');
});

test('social_graph: skipping rules and cold users', async (t) => {
  const p = await platform(t);
  const source = new SocialGraphSource();
  const items = (q: FeedQuery) => p.itemNames(source.fetch(q, 10).map((c) => c.item));
  const [i22, i24] = [p.item('i22'), p.item('i24')];
  assert.deepEqual(items(p.query('u3', { exclude: new Set([i22]) })), ['i24']);
  assert.deepEqual(items(p.query('u3', { seen: new Set([i22]) })), ['i24']);
  assert.deepEqual(items(p.query('u3', { served: new Set([i24]) })), ['i22']);
  assert.equal(p.user('nobody'), -1);
  assert.deepEqual(items(p.query('nobody')), []);
  assert.equal(source.enabled(p.query('nobody')), false);
  assert.ok(p.user('lurker') >= 0);
  assert.deepEqual(items(p.query('lurker')), [], 'a user with neither history nor follows');
  assert.deepEqual(items(p.query('u3')).length, 2);
  // u3 mutes author u30 (i24); u0's own item i13 is never proposed.
  await p.ingest([edge('u3', 'u30', 'mute', p.now)]);
  assert.deepEqual(items(p.query('u3')), ['i22']);
  assert.ok(!items(p.query('u0')).includes('i13'));
  // New items beyond the scratch arrays (a catalogue larger than their first size) are handled.
  await p.ingest([...newPosts(1100), event('u4', 'new1099', 'like', p.now + 1)]);
  assert.ok(p.state.items > 1024);
  assert.ok(items(p.query('u3')).includes('new1099'));
});
