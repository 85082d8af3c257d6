/**
 * The candidate sources as feature providers (features/registry.ts CandidateFeatureProvider):
 * EASE, embedding (iALS), item-to-item and communities describe every candidate, not only the
 * ones they retrieved. On the real store (test-platform.ts): the provided values equal what
 * the source computes for the items it retrieves, unknown users and items are NaN, the column
 * names are fixed once trained, and the registry picks the providers up.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { LogRecord } from '../domain/types.js';
import type { Candidate, FeedQuery, TrainableSource } from '../pipeline/types.js';
import { FeatureRegistry, isFeatureProvider, type CandidateFeatureProvider } from '../features/registry.js';
import { Rng } from '../eval/prng.js';
import { EaseSource } from './ease.js';
import { EmbeddingSource } from './embedding.js';
import { ItemToItemSource } from './item-to-item.js';
import { CommunitySource } from './communities.js';
import { event, newPosts, openPlatform, post, type TestPlatform } from './test-platform.js';

const T0 = 1_700_000_000_000;

/**
 * Three taste groups over 60 items (A0…A19, B0…B19, C0…C19) and 90 users (a*, b*, c*): each
 * likes 10 items, mostly of the own group, a few of the others; the `lurker` is a known user
 * without history.
 */
async function world(t: TestContext): Promise<TestPlatform> {
  const rng = new Rng(11);
  const records: LogRecord[] = [];
  for (const g of ['A', 'B', 'C']) for (let i = 0; i < 20; i++) records.push(post(`${g}${i}`));
  records.push({ kind: 'user', user: { id: 'lurker' } });
  let ts = T0;
  for (const g of ['A', 'B', 'C']) {
    for (let u = 0; u < 30; u++) {
      const picked = new Set<string>();
      while (picked.size < 10) {
        const other = rng.next() < 0.2;
        const group = other ? ['A', 'B', 'C'][Math.floor(rng.next() * 3)]! : g;
        // Lower-numbered items are more popular.
        picked.add(`${group}${Math.floor(20 * rng.next() * rng.next())}`);
      }
      for (const i of picked) records.push(event(`${g.toLowerCase()}${u}`, i, 'like', (ts += 1000)));
    }
  }
  return openPlatform(t, records);
}

type Provider = TrainableSource & CandidateFeatureProvider;

function sources(): Provider[] {
  return [
    new EaseSource({ lambda: 5 }),
    new EmbeddingSource({ factors: 4, iterations: 8, regularization: 0.1, alpha: 10 }),
    new ItemToItemSource(),
    new CommunitySource({ resolution: 1, halfLife: 0 }),
  ];
}

/** The provider's columns for `candidates`, written at an offset into wider rows (neighbouring columns must stay untouched). */
function provided(p: CandidateFeatureProvider, q: FeedQuery, candidates: readonly Candidate[]): number[][] {
  const width = p.featureNames().length;
  const stride = width + 3;
  const out = new Float32Array(candidates.length * stride).fill(-7);
  p.candidateFeatures(q, candidates, out, stride, 2);
  return candidates.map((_, i) => {
    assert.equal(out[i * stride], -7);
    assert.equal(out[i * stride + 1], -7);
    assert.equal(out[i * stride + 2 + width], -7);
    return Array.from(out.subarray(i * stride + 2, i * stride + 2 + width));
  });
}

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

/** A candidate of `item` as a source that did not retrieve it would pass it. */
const bare = (item: number): Candidate => ({ item, author: -1, inNetwork: false, sources: [], score: 0 });

/** The first `n` of `ids` that the user has not engaged with (a candidate is never history), as candidates. */
function unseen(p: TestPlatform, userId: string, ids: readonly string[], n: number): Candidate[] {
  const history = new Set(p.state.history.recentValues(p.user(userId)));
  const out = ids.map((id) => p.item(id)).filter((i) => !history.has(i)).slice(0, n).map(bare);
  assert.equal(out.length, n, `${userId}: ${n} unseen items`);
  return out;
}

/** Items with at least one positive engagement (the models know them). */
function engaged(p: TestPlatform): Set<number> {
  const out = new Set<number>();
  for (let u = 0; u < p.store.userIds.length; u++) for (const i of p.state.history.recentValues(u)) out.add(i);
  return out;
}

const ids = (g: string) => Array.from({ length: 20 }, (_, i) => `${g}${i}`);

test('providers: names are [] before training, fixed after, and the registry picks the sources up', async (t) => {
  const p = await world(t);
  const all = sources();
  for (const s of all) {
    assert.ok(isFeatureProvider(s), s.name);
    assert.deepEqual(s.featureNames(), [], `${s.name} untrained`);
  }
  for (const s of all) await s.train(p.ctx);
  const names = all.map((s) => [...s.featureNames()]);
  assert.deepEqual(names, [
    ['score', 'rel', 'z', 'liked_score', 'liked_rel', 'liked_z', 'recent_score', 'recent_rel', 'recent_z'],
    ['dot', 'cos'],
    ['score', 'max', 'rel', 'links', 'seq', 'seq_rel'],
    ['score', 'overlap'],
  ]);
  // Retrained on more data (and after new items): the same names.
  await p.ingest([...newPosts(5), event('a0', 'B3', 'like', p.now + 1000), event('newcomer', 'A1', 'like', p.now + 2000)], ...all);
  for (const s of all) await s.train(p.ctx);
  assert.deepEqual(
    all.map((s) => [...s.featureNames()]),
    names,
  );
  const registry = new FeatureRegistry({ state: p.state, sources: all.map((s) => s.name), providers: all });
  const model = registry.describe().find((f) => f.family === 'model')!;
  assert.deepEqual(model.names, ['ease_score', 'ease_rel', 'ease_z', 'ease_liked_score', 'ease_liked_rel', 'ease_liked_z', 'ease_recent_score', 'ease_recent_rel', 'ease_recent_z', 'embedding_dot', 'embedding_cos', 'item_to_item_score', 'item_to_item_max', 'item_to_item_rel', 'item_to_item_links', 'item_to_item_seq', 'item_to_item_seq_rel', 'communities_score', 'communities_overlap']);
  // The registry fills them for every candidate.
  const q = p.query('b4');
  const cands = [...unseen(p, 'b4', ids('A'), 1), ...unseen(p, 'b4', ids('B'), 1), ...unseen(p, 'b4', ids('C'), 1)];
  const X = registry.compute(q, cands);
  const start = registry.names.indexOf('ease_score');
  // Likes carry no value: EASE's liked columns are missing, every other column has a value.
  for (let i = 0; i < cands.length; i++) for (let j = 0; j < model.columns; j++) assert.equal(Number.isFinite(X[i * registry.width + start + j]!), !model.names[j]!.startsWith('ease_liked_'), `${model.names[j]} of candidate ${i}`);
});

test('providers: the values equal the source’s own scores for the items it retrieves', async (t) => {
  const p = await world(t);
  const [ease, embedding, itemToItem, communities] = sources() as [EaseSource, EmbeddingSource, ItemToItemSource, CommunitySource];
  for (const s of [ease, embedding, itemToItem, communities]) await s.train(p.ctx);
  for (const name of ['a1', 'b7', 'c12']) {
    // Fetch and features in one request (as the pipeline does) and in separate requests (as training does).
    for (const shared of [true, false]) {
      const q = p.query(name, { limit: 100 });
      const fq = shared ? q : p.query(name, { limit: 100 });

      const e = ease.fetch(q, 1000);
      assert.ok(e.length > 10, `${name}: ease candidates`);
      const ez = provided(ease, fq, e);
      ez.forEach(([score, rel, z], k) => {
        close(score!, e[k]!.score, `${name} ease score`);
        close(rel!, e[k]!.score / e[0]!.score, `${name} ease rel`);
        if (k > 0) assert.ok(z! <= ez[k - 1]![2]!, `${name} ease z follows the score`);
      });
      // The recency-weighted columns describe the `ease_recent` list's scores the same way.
      const r = ease.recentSource().fetch(q, 1000);
      assert.ok(r.length > 10, `${name}: ease_recent candidates`);
      provided(ease, fq, r).forEach(([, , , , , , score, rel, z], k, rows) => {
        close(score!, r[k]!.score, `${name} ease recent score`);
        close(rel!, r[k]!.score / r[0]!.score, `${name} ease recent rel`);
        if (k > 0) assert.ok(z! <= rows[k - 1]![8]!, `${name} ease recent z follows the score`);
      });

      const m = await embedding.fetch(q, 1000);
      assert.ok(m.length > 10);
      provided(embedding, fq, m).forEach(([dot, cos], k) => {
        close(dot!, m[k]!.score, `${name} embedding dot`);
        assert.ok(cos! >= -1 - 1e-6 && cos! <= 1 + 1e-6 && Math.sign(cos!) === Math.sign(dot!), `${name} cos ${cos} dot ${dot}`);
      });

      const i2i = itemToItem.fetch(q, 1000);
      const used = new Set(p.state.history.recentValues(q.user)).size;
      assert.ok(i2i.length > 10);
      provided(itemToItem, fq, i2i).forEach(([score, max, rel, links], k) => {
        close(score!, i2i[k]!.score, `${name} item_to_item score`);
        close(rel!, i2i[k]!.score / i2i[0]!.score, `${name} item_to_item rel`);
        assert.ok(max! > 0 && max! <= 1 && links! > 0 && links! <= 1, `${name} max ${max} links ${links}`);
        // Each linking history item adds at most its edge weight (≤ max, recency weight ≤ 1).
        assert.ok(score! <= links! * used * max! + 1e-6, `${name} score ${score} ≤ links × history × max`);
      });

      const c = communities.fetch(q, 1000);
      assert.ok(c.length > 10);
      provided(communities, fq, c).forEach(([score, overlap], k) => {
        close(score!, c[k]!.score, `${name} communities score`);
        assert.ok(overlap! > 0 && overlap! <= 1 + 1e-6, `${name} overlap ${overlap}`);
      });
    }
  }
  // Items the sources did not retrieve (the user's own group is retrieved first; every item is asked here).
  const q = p.query('a1');
  const known = engaged(p);
  const every = Array.from({ length: 60 }, (_, i) => bare(i)).filter((c) => known.has(c.item) && !p.state.history.recentValues(q.user).includes(c.item));
  for (const s of [ease, embedding, itemToItem, communities]) {
    const rows = provided(s, q, every);
    const valued = s.featureNames().map((f) => !f.startsWith('liked_'));
    assert.ok(rows.every((r) => r.every((v, j) => Number.isFinite(v) === valued[j])), `${s.name}: a value for every known item (none in the liked columns: likes carry no value)`);
  }
  // EASE's z over the whole catalogue outside the history: mean 0, deviation 1.
  const z = provided(ease, q, every).map((r) => r[2]!);
  const mean = z.reduce((a, b) => a + b, 0) / z.length;
  close(mean, 0, 'mean z');
  close(z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length, 1, 'variance of z');
});

test('providers: NaN for unknown users, users without history and items newer than the models', async (t) => {
  const p = await world(t);
  const all = sources();
  for (const s of all) await s.train(p.ctx);
  await p.ingest(newPosts(3), ...all);
  const fresh = p.item('new0');
  const known = unseen(p, 'a1', ids('A'), 1)[0]!.item;
  const cold = p.query('stranger');
  assert.equal(cold.user, -1);
  for (const s of all) {
    for (const q of [cold, p.query('lurker')]) {
      const rows = provided(s, q, [bare(known), bare(fresh)]);
      assert.ok(rows.flat().every((v) => Number.isNaN(v)), `${s.name} for ${q.userId}: ${rows.join(' | ')}`);
    }
    // A known user: the new item is unknown to every model (communities: no engager, no prior).
    const [k, f] = provided(s, p.query('a1'), [bare(known), bare(fresh)]);
    assert.ok(k!.every((v, j) => Number.isFinite(v) === !s.featureNames()[j]!.startsWith('liked_')), `${s.name} known item: ${k}`);
    assert.ok(f!.every((v) => Number.isNaN(v)), `${s.name} new item: ${f}`);
  }
  // Untrained sources with a known user: no columns, nothing written.
  for (const s of sources()) {
    assert.deepEqual(s.featureNames(), []);
    const out = new Float32Array(4).fill(3);
    s.candidateFeatures(p.query('a1'), [bare(known)], out, 4, 1);
    assert.ok(out.every((v) => v === 3 || Number.isNaN(v)));
  }
});

test('providers: a new engagement changes the features at once (history now, not at training)', async (t) => {
  const p = await world(t);
  const all = sources();
  for (const s of all) await s.train(p.ctx);
  const target = unseen(p, 'a2', ids('C'), 3);
  const before = all.map((s) => provided(s, p.query('a2'), target));
  const likes: LogRecord[] = [];
  const targets = new Set(target.map((c) => c.item));
  const more = ids('C').filter((id) => !targets.has(p.item(id)));
  for (let i = 0; i < 9; i++) likes.push(event('a2', more[i]!, 'like', p.now + i * 1000));
  await p.ingest(likes, ...all);
  const after = all.map((s) => provided(s, p.query('a2'), target));
  // EASE, item-to-item and the folded-in embedding move towards group C.
  for (const k of [0, 1, 2]) {
    const s = all[k]!;
    const first = 0;
    for (let c = 0; c < target.length; c++) assert.ok(after[k]![c]![first]! > before[k]![c]![first]!, `${s.name} C${c}: ${before[k]![c]![first]} → ${after[k]![c]![first]}`);
  }
});
