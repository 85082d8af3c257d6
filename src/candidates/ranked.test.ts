import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogRecord } from '../domain/types.js';
import { authorAffinity, engagementWeights, TagAffinityProfile } from '../features/affinity.js';
import type { OnlineState } from '../state/online-state.js';
import { PoolTags, requestLookups, servable } from './ranked.js';
import { edge, event, openPlatform, post } from './test-platform.js';

const T0 = 1_700_000_000_000;

/** u0 likes x-tagged posts of a0, hides a post of a1, mutes a2; u1 follows nobody and did nothing. */
function records(): LogRecord[] {
  const r: LogRecord[] = [];
  for (let i = 0; i < 12; i++) r.push(post(`i${i}`, `a${i % 4}`, T0, i % 3 === 0 ? ['x'] : i % 3 === 1 ? ['y', 'x'] : ['z']));
  r.push({ kind: 'user', user: { id: 'u1' } });
  let ts = T0;
  for (const i of [0, 4, 8, 3]) r.push(event('u0', `i${i}`, 'like', (ts += 1000)));
  r.push(event('u0', 'i5', 'hide', (ts += 1000)));
  r.push(event('a3', 'i1', 'reply', (ts += 1000)));
  r.push(edge('u0', 'a2', 'mute', ts), edge('a1', 'u0', 'block', ts));
  return r;
}

/** Author affinity by its definition: every weighted type's counter, no short cut. */
function affinityByTheBook(state: OnlineState, weights: Float64Array, user: number, author: number, now: number): number {
  const nw = state.userAuthorCounts.windows.length;
  const values = new Float64Array(nw);
  let sum = 0;
  for (let t = 0; t < weights.length; t++) {
    if (weights[t] === 0 || !state.userAuthorCounts.getAll(user, author, t, now, values)) continue;
    sum += (weights[t]! * values.reduce((a, v) => a + v, 0)) / nw;
  }
  return sum;
}

test('authorAffinity (with its short cut for pairs without counters) equals the sum by its definition for every pair (engaged, negative-only, none)', async (t) => {
  const p = await openPlatform(t, records());
  const weights = engagementWeights(p.state);
  const users = ['u0', 'u1', 'a0', 'a1', 'a2', 'a3'].map(p.user);
  for (const u of users) {
    for (const a of users) {
      assert.equal(authorAffinity(p.state, weights, u, a, p.now + 3_600_000), affinityByTheBook(p.state, weights, u, a, p.now + 3_600_000), `${u} → ${a}`);
    }
  }
  assert.ok(authorAffinity(p.state, weights, p.user('u0'), p.user('a1'), p.now) < 0); // hid a1's post
  assert.ok(authorAffinity(p.state, weights, p.user('u0'), p.user('a0'), p.now) > 0); // liked a0's posts
});

test('request lookups: history, follows and hidden authors as the state says', async (t) => {
  const p = await openPlatform(t, [...records(), edge('u0', 'a0', 'follow', T0)]);
  for (const id of ['u0', 'u1']) {
    const q = p.query(id);
    const lookups = requestLookups.forQuery(q);
    const history = new Set<number>();
    p.state.history.forEachRecent(q.user, (item) => void history.add(item));
    for (let i = 0; i < 12; i++) assert.equal(lookups.inHistory(p.item(`i${i}`)), history.has(p.item(`i${i}`)));
    assert.equal(lookups.historySize(), history.size);
    for (const a of ['a0', 'a1', 'a2', 'a3']) {
      assert.equal(lookups.hides(p.user(a)), p.state.hidesAuthor(q.user, p.user(a)), `${id} hides ${a}`);
      assert.equal(lookups.follows(p.user(a)), p.state.following.has(q.user, p.user(a)));
    }
  }
  const q = p.query('u0');
  assert.ok(!servable(q, p.item('i2'))); // a2 is muted
  assert.ok(!servable(q, p.item('i1'))); // a1 blocked u0
  assert.ok(servable(q, p.item('i11')));
  assert.ok(servable(p.query('u1'), p.item('i2')));
});

test('pool tags: affinity per pool item equals the profile’s, also after an item is re-tagged', async (t) => {
  const p = await openPlatform(t, records());
  const items = Int32Array.from({ length: 12 }, (_, i) => p.item(`i${i}`));
  const tags = new PoolTags(p.state, items);
  const check = () => {
    const profile = new TagAffinityProfile(p.state, p.user('u0'), p.now);
    const bound = tags.begin(profile, p.state, items);
    for (let k = 0; k < items.length; k++) {
      const expected = new TagAffinityProfile(p.state, p.user('u0'), p.now).affinity(p.state.tags(items[k]!));
      assert.equal(tags.affinity(p.state, k, items[k]!), expected);
      assert.ok(expected <= bound);
    }
  };
  check();
  const before = tags.affinity(p.state, 0, items[0]!);
  const edits = p.state.tagEdits;
  await p.ingest([post('i0', 'a0', T0, ['z'])]);
  assert.equal(p.state.tagEdits, edits + 1);
  check();
  // i0 is now a z post: its affinity is u0's z share (i8), no longer the x share.
  assert.notEqual(tags.affinity(p.state, 0, items[0]!), before);
  assert.equal(tags.affinity(p.state, 0, items[0]!), tags.affinity(p.state, 2, items[2]!));
});
