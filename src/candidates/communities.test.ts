import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogRecord } from '../domain/types.js';
import { CommunitySource } from './communities.js';
import { edge, event, openPlatform, post, type TestPlatform } from './test-platform.js';

const HOUR = 3_600_000;
const T0 = 1_700_000_000_000;

/**
 * Creators A0–A4 (group A) and B0–B4 (group B), two posts each (`A3.0`, `A3.1`, the second an
 * hour newer); consumers a0–a29 follow and like group A, b0–b29 group B.
 */
function platform(t: TestContext) {
  const records: LogRecord[] = [];
  for (const g of ['A', 'B']) for (let c = 0; c < 5; c++) for (let k = 0; k < 2; k++) records.push(post(`${g}${c}.${k}`, `${g}${c}`, T0 + k * HOUR));
  for (const g of ['A', 'B']) for (let n = 0; n < 30; n++) for (let k = 0; k < 3; k++) records.push(edge(`${g.toLowerCase()}${n}`, `${g}${(n + k) % 5}`, 'follow', T0));
  let ts = T0 + 2 * HOUR;
  for (const g of ['A', 'B']) {
    for (let n = 0; n < 30; n++) {
      for (let k = 0; k < 4; k++) records.push(event(`${g.toLowerCase()}${n}`, `${g}${(n * 7 + k) % 5}.${k % 2}`, 'like', (ts += 1000)));
    }
  }
  return openPlatform(t, records);
}

/** The group (A or B) of a creator by dense id; '' for no author. */
const group = (p: TestPlatform, author: number) => (author >= 0 ? p.store.userIds[author]![0] : '');

test('a user who only follows members of one community gets that community’s posts', async (t) => {
  const p = await platform(t);
  const source = new CommunitySource({ resolution: 1, halfLife: 0 });
  await source.train(p.ctx);
  assert.ok(source.model.count >= 2);
  const ua = source.model.userLabel[p.user('A0')];
  const ub = source.model.userLabel[p.user('B0')];
  assert.notEqual(ua, ub);
  for (let c = 1; c < 5; c++) assert.equal(source.model.userLabel[p.user(`A${c}`)], ua);
  // A new user follows two creators of group A and has no engagements.
  await p.ingest([edge('newcomer', 'A1', 'follow', p.now), edge('newcomer', 'A3', 'follow', p.now)], source);
  const q = p.query('newcomer', { limit: 100 });
  assert.ok(source.enabled(q));
  const got = source.fetch(q, 5);
  assert.equal(got.length, 5);
  for (const c of got) {
    assert.equal(group(p, c.author), 'A', `${p.store.itemIds[c.item]} by ${p.store.userIds[c.author]} is not group A`);
    assert.equal(c.inNetwork, c.author === p.user('A1') || c.author === p.user('A3'));
    assert.equal(c.sources[0].source, 'communities');
  }
  assert.deepEqual(got.map((c) => c.sources[0].rank), [1, 2, 3, 4, 5]);
  // Unknown users get nothing; excluded items are skipped.
  assert.deepEqual(source.fetch(p.query('nobody'), 10), []);
  const excluded = source.fetch(p.query('newcomer', { exclude: new Set([got[0].item]) }), 10);
  assert.ok(!excluded.some((c) => c.item === got[0].item));
});

test('online update moves a new post into its engagers’ community', async (t) => {
  const p = await platform(t);
  const source = new CommunitySource({ resolution: 1, halfLife: HOUR });
  await source.train(p.ctx);
  const ub = source.model.userLabel[p.user('B0')];
  // A post without an author (no prior), liked by group-B consumers.
  const records: LogRecord[] = [post('orphan', undefined, p.now)];
  for (let n = 0; n < 10; n++) records.push(event(`b${n}`, 'orphan', 'like', p.now + (40 + n) * 1000));
  await p.ingest(records, source);
  const vec = source.model.itemVector(p.item('orphan'));
  assert.ok(vec.length > 0);
  assert.equal(vec[0].community, ub);
  // A group-B consumer who has not engaged with it gets it.
  const got = source.fetch(p.query('b15', { now: p.now + HOUR, limit: 100 }), 50);
  assert.ok(got.some((x) => x.item === p.item('orphan')));
  assert.ok(got.every((x) => group(p, p.state.author(x.item)) !== 'A'), 'only group-B posts');
});

test('save/load round trip gives the same candidates', async (t) => {
  const p = await platform(t);
  const source = new CommunitySource({ resolution: 1 });
  await source.train(p.ctx);
  const dir = mkdtempSync(join(tmpdir(), 'lenta-communities-'));
  try {
    await source.save(dir);
    const loaded = new CommunitySource({ resolution: 1 });
    assert.equal(await loaded.load(dir, p.ctx), true);
    for (const user of ['a2', 'b5', 'b29']) {
      assert.deepEqual(loaded.fetch(p.query(user), 20), source.fetch(p.query(user), 20));
    }
    assert.equal(await new CommunitySource({ resolution: 1 }).load(join(dir, 'missing'), p.ctx), false);
    assert.equal(await new CommunitySource({ perCommunity: 7 }).load(dir, p.ctx), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
