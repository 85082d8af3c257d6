/**
 * The mixer's rules on crafted platforms: each filter, rescorer and page rule does what its
 * config says, and records what it did in the candidates' explanations.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, type Config } from '../domain/config.js';
import type { LogRecord } from '../domain/types.js';
import { makeCandidate, type Candidate, type FeedQuery } from '../pipeline/types.js';
import { edge, event, openPlatform, post, type TestPlatform } from '../candidates/test-platform.js';
import { bestFirst, PageBuilder } from './page-builder.js';
import { authorDiversityFactor } from './author-diversity.js';
import { feedbackFatigueFilter, feedbackFatigueRescorer } from './feedback-fatigue.js';
import { hiddenPostsFilter } from './hidden-posts-filter.js';
import { maxAgeFilter } from './max-age-filter.js';
import { unsafeFilter } from './unsafe-filter.js';
import { socialProofFilter } from './social-proof-filter.js';
import { outOfNetworkRescorer } from './out-of-network.js';
import { BoostsRescorer } from './boosts.js';
import { samplingProbabilities } from './exploration.js';
import { newAuthorsRescorer } from './new-authors.js';

const T0 = 1_700_000_000_000;
const DAY = 86_400_000;

/** Only the named rules on (everything else off), with these overrides. */
function mixOf(on: string[], overrides: Record<string, unknown> = {}): Config['mix'] {
  const all = parseConfig({}).mix as Record<string, { enabled: boolean }>;
  const mix: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) mix[k] = { ...v, enabled: on.includes(k), ...((overrides[k] as object) ?? {}) };
  return mix as Config['mix'];
}

function q(p: TestPlatform, user: string, mix: Config['mix'], extra: Partial<FeedQuery> = {}): FeedQuery {
  return p.query(user, { mix, limit: 20, requestId: 'req-1', ...extra });
}

/** A candidate for item `id` with score `score`, in-network when its author is followed by `user`. */
function cand(p: TestPlatform, user: string, id: string, score: number): Candidate {
  const item = p.item(id);
  const author = p.state.author(item);
  return makeCandidate(item, author, p.state.following.has(p.user(user), author), { source: 'test', score, rank: 1 }, score);
}

test('author diversity: five top-scored posts by one author come out interleaved with others', async (t) => {
  const records: LogRecord[] = [];
  for (let i = 0; i < 5; i++) records.push(post(`a${i}`, 'star', T0));
  for (let i = 0; i < 10; i++) records.push(post(`o${i}`, `other${i}`, T0));
  const p = await openPlatform(t, records);
  // The star's five posts score 10..9.6, the best five; the others 9 down to 1.8.
  const cands = [...Array.from({ length: 5 }, (_, i) => cand(p, 'viewer', `a${i}`, 10 - 0.1 * i)), ...Array.from({ length: 10 }, (_, i) => cand(p, 'viewer', `o${i}`, 9 - 0.8 * i))];
  const builder = new PageBuilder();
  const page = builder.select(q(p, 'viewer', mixOf(['authorDiversity'])), cands.map((c) => ({ ...c, rules: undefined })), 10);
  const authors = page.map((c) => (c.author === p.state.author(p.item('a0')) ? 'star' : 'other'));
  // No two of the star's posts in a row, and the star's first post still first.
  assert.equal(authors[0], 'star');
  assert.equal(authors.filter((a) => a === 'star').length, 3, authors.join(' '));
  for (let i = 1; i < authors.length; i++) assert.ok(!(authors[i] === 'star' && authors[i - 1] === 'star'), authors.join(' '));
  const second = page.filter((c) => c.author === page[0]!.author)[1]!;
  assert.deepEqual(second.rules, [{ rule: 'author_diversity', factor: 0.625 }]);
  assert.equal(authorDiversityFactor(0, 0.5, 0.25), 1);
  assert.equal(authorDiversityFactor(2, 0.5, 0.25), 0.4375);

  // Off: relevance order, all five in a row.
  const plain = builder.select(q(p, 'viewer', mixOf([])), cands.map((c) => ({ ...c, rules: undefined })), 10);
  assert.deepEqual(plain.slice(0, 5).map((c) => c.author), Array(5).fill(page[0]!.author));
});

test('balance: with 50% and 30 in- and 30 out-of-network candidates a page of 20 has 10±1 of each, runs limited', async (t) => {
  const records: LogRecord[] = [edge('viewer', 'friend', 'follow', T0)];
  for (let i = 0; i < 30; i++) records.push(post(`in${i}`, 'friend', T0), post(`out${i}`, `stranger${i}`, T0));
  const p = await openPlatform(t, records);
  // Out-of-network posts all score higher than in-network ones.
  const cands = [...Array.from({ length: 30 }, (_, i) => cand(p, 'viewer', `out${i}`, 100 - i)), ...Array.from({ length: 30 }, (_, i) => cand(p, 'viewer', `in${i}`, 50 - i))];
  assert.equal(cands.filter((c) => c.inNetwork).length, 30);
  const page = new PageBuilder().select(q(p, 'viewer', mixOf(['balance'])), cands, 20);
  const inNet = page.filter((c) => c.inNetwork).length;
  assert.ok(Math.abs(inNet - 10) <= 1, `${inNet} in-network of 20`);
  let run = 0;
  for (const c of page) {
    run = c.inNetwork ? 0 : run + 1;
    assert.ok(run <= 3, 'at most 3 out-of-network in a row');
  }
  assert.ok(page.some((c) => c.rules?.some((r) => r.rule === 'network_balance')), 'a post moved up by the balance says so');

  // A lower share and no run limit.
  const p30 = { ...q(p, 'viewer', mixOf(['balance'], { balance: { maxOutOfNetworkRun: 0 } })), feed: { ...p.query('viewer').feed, inNetworkShare: 0.3 } };
  const page30 = new PageBuilder().select(p30, cands.map((c) => ({ ...c, rules: undefined })), 20);
  assert.ok(Math.abs(page30.filter((c) => c.inNetwork).length - 6) <= 1);
});

test('content diversity (MMR): a page is not all one topic when other topics score close', async (t) => {
  const records: LogRecord[] = [];
  for (let i = 0; i < 10; i++) records.push(post(`cat${i}`, `a${i}`, T0, ['cats']), post(`dog${i}`, `b${i}`, T0, ['dogs']));
  const p = await openPlatform(t, records);
  const cands = [...Array.from({ length: 10 }, (_, i) => cand(p, 'viewer', `cat${i}`, 10 - 0.01 * i)), ...Array.from({ length: 10 }, (_, i) => cand(p, 'viewer', `dog${i}`, 9.5 - 0.01 * i))];
  const plain = new PageBuilder().select(q(p, 'viewer', mixOf([])), cands.map((c) => ({ ...c, rules: undefined })), 6);
  assert.ok(plain.every((c) => p.itemNames([c.item])[0]!.startsWith('cat')));
  const diverse = new PageBuilder().select(q(p, 'viewer', mixOf(['contentDiversity'], { contentDiversity: { lambda: 0.7 } })), cands.map((c) => ({ ...c, rules: undefined })), 6);
  const dogs = diverse.filter((c) => p.itemNames([c.item])[0]!.startsWith('dog')).length;
  assert.equal(dogs, 3, 'topics alternate when their scores are close');
  assert.ok(diverse.some((c) => c.rules?.some((r) => r.rule === 'content_diversity')));
});

test('exploration: logged propensities match how often each item is served in the slot', async (t) => {
  const records: LogRecord[] = [];
  for (let i = 0; i < 20; i++) records.push(post(`i${i}`, `a${i}`, T0));
  const p = await openPlatform(t, records);
  const mix = mixOf(['exploration'], { exploration: { share: 0.3, topM: 5, method: 'boltzmann', temperature: 0.5 } });
  const counts = new Map<string, number>();
  const propensity = new Map<string, number>();
  const runs = 4000;
  for (let r = 0; r < runs; r++) {
    const cands = Array.from({ length: 20 }, (_, i) => cand(p, 'viewer', `i${i}`, 20 - i));
    const [first] = new PageBuilder().select(q(p, 'viewer', mix, { requestId: `req-${r}` }), cands, 1);
    const id = p.itemNames([first!.item])[0]!;
    counts.set(id, (counts.get(id) ?? 0) + 1);
    propensity.set(id, first!.propensity!);
    if (first!.item !== p.item('i0')) assert.equal(first!.rules?.[0]?.rule, 'exploration');
  }
  let total = 0;
  for (const [id, pr] of propensity) {
    total += pr;
    const freq = counts.get(id)! / runs;
    assert.ok(Math.abs(freq - pr) < 4 * Math.sqrt((pr * (1 - pr)) / runs) + 0.005, `${id}: served ${freq}, propensity ${pr}`);
  }
  assert.ok(Math.abs(total - 1) < 1e-9, 'the propensities of the possible first items sum to 1');
  assert.ok(counts.size === 5, 'only the top 5 are ever explored');
  const probs = samplingProbabilities({ share: 0.3, topM: 5, method: 'uniform', temperature: 1 }, [5, 4, 3, 2, 1], 5);
  assert.deepEqual(Array.from(probs), [0.2, 0.2, 0.2, 0.2, 0.2]);
});

test('filters: hidden posts, max age, unsafe attribute, social proof', async (t) => {
  const records: LogRecord[] = [
    edge('viewer', 'friend', 'follow', T0),
    post('hidden', 'x', T0),
    post('old', 'y', T0 - 10 * DAY),
    { kind: 'item', item: { id: 'nsfw', authorId: 'z', createdAt: T0, attributes: { nsfw: true, verified: false } } },
    post('proven', 'stranger1', T0),
    post('unproven', 'stranger2', T0),
    post('mine', 'friend', T0),
    event('viewer', 'hidden', 'hide', T0 + 1000),
    event('friend', 'proven', 'like', T0 + 2000),
    event('someone', 'unproven', 'like', T0 + 3000),
  ];
  const p = await openPlatform(t, records);
  const ids = ['hidden', 'old', 'nsfw', 'proven', 'unproven', 'mine'];
  const all = () => ids.map((id) => cand(p, 'viewer', id, 1));
  const names = (cs: Candidate[]) => p.itemNames(cs.map((c) => c.item));
  const query = q(p, 'viewer', parseConfig({}).mix);
  assert.deepEqual(names(hiddenPostsFilter.apply(query, all()).removed), ['hidden']);
  assert.deepEqual(names(maxAgeFilter.apply(query, all()).removed), ['old'], 'older than feed.maxPostAge (7 d)');
  assert.deepEqual(names(unsafeFilter.apply(query, all()).removed), ['nsfw']);
  assert.equal(socialProofFilter.enabled(query), false, 'off by default');
  const proof = q(p, 'viewer', mixOf(['socialProof']));
  const { kept, removed } = socialProofFilter.apply(proof, all());
  assert.deepEqual(names(removed), ['hidden', 'old', 'nsfw', 'unproven'], 'out-of-network posts no follow engaged with');
  assert.deepEqual(names(kept), ['proven', 'mine']);
  assert.deepEqual(kept[0]!.rules, [{ rule: 'social_proof', follows: 1 }]);

  // An item update that turns the attribute off clears the flag.
  await p.ingest([{ kind: 'item', item: { id: 'nsfw', attributes: { nsfw: false } } }]);
  assert.deepEqual(names(unsafeFilter.apply(query, all()).removed), []);
});

test('feedback fatigue: filtered for the period, then a multiplier rising back to 1', async (t) => {
  const records: LogRecord[] = [post('p0', 'annoying', T0), post('p1', 'annoying', T0), post('q0', 'fine', T0), event('viewer', 'p0', 'not_interested', T0)];
  const p = await openPlatform(t, records);
  const at = (days: number) => q(p, 'viewer', parseConfig({}).mix, { now: T0 + days * DAY });
  const cands = () => [cand(p, 'viewer', 'p1', 2), cand(p, 'viewer', 'q0', 1)];
  for (const days of [0, 1, 13.9]) {
    assert.deepEqual(p.itemNames(feedbackFatigueFilter.apply(at(days), cands()).removed.map((c) => c.item)), ['p1'], `day ${days}`);
  }
  const later = cands();
  assert.equal(feedbackFatigueFilter.apply(at(14 + 35), later).removed.length, 0);
  feedbackFatigueRescorer.rescore(at(14 + 35), later);
  assert.ok(Math.abs(later[0]!.score - 2 * 0.25) < 1e-9, 'a quarter of the way back after 35 of 140 days');
  assert.deepEqual(later[0]!.rules, [{ rule: 'feedback_fatigue', factor: 0.25 }]);
  assert.equal(later[1]!.rules, undefined);
  const recovered = cands();
  feedbackFatigueRescorer.rescore(at(200), recovered);
  assert.equal(recovered[0]!.score, 2);
});

test('rescorers: out-of-network multiplier and boosts by tag, author and attribute (negative scores lowered too)', async (t) => {
  const records: LogRecord[] = [
    edge('viewer', 'friend', 'follow', T0),
    post('in', 'friend', T0),
    post('out', 'stranger', T0, ['news']),
    { kind: 'item', item: { id: 'badge', authorId: 'celebrity', createdAt: T0, attributes: { verified: true } } },
  ];
  const p = await openPlatform(t, records);
  const mix = mixOf(['outOfNetwork', 'boosts'], { boosts: { tags: { news: 2 }, authors: { celebrity: 1.5 }, attributes: { verified: 2 } } });
  const cands = [cand(p, 'viewer', 'in', 1), cand(p, 'viewer', 'out', 1), cand(p, 'viewer', 'badge', -1)];
  const query = q(p, 'viewer', mix);
  outOfNetworkRescorer.rescore(query, cands);
  new BoostsRescorer((id) => (p.user(id) >= 0 ? p.user(id) : undefined)).rescore(query, cands);
  assert.equal(cands[0]!.score, 1);
  assert.equal(cands[1]!.score, 0.75 * 2);
  // −1 out of network (÷0.75), boosted ×3 (÷3 for a negative score: raised towards 0).
  assert.ok(Math.abs(cands[2]!.score - -1 / 0.75 / 3) < 1e-12, String(cands[2]!.score));
  assert.deepEqual(cands[1]!.rules, [{ rule: 'out_of_network', factor: 0.75 }, { rule: 'boost', factor: 2 }]);
});

test('page pool: the k-th largest score by selection equals the sorted order’s, ties included', async () => {
  const { kthLargest } = await import('./page-builder.js');
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(rand() * 300);
    const x = Float64Array.from({ length: n }, () => Math.floor(rand() * 20) - 5);
    const sorted = Array.from(x).sort((a, b) => b - a);
    const k = 1 + Math.floor(rand() * n);
    assert.equal(kthLargest(x.slice(), k), sorted[k - 1]);
  }
});

test('new-author boost: authors shown fewer than maxImpressions times are lifted, established ones are not', async (t) => {
  const records: LogRecord[] = [post('new', 'newbie', T0), post('old', 'veteran', T0), post('old2', 'veteran', T0)];
  for (let u = 0; u < 30; u++) records.push(event(`u${u}`, u % 2 ? 'old' : 'old2', 'impression', T0 + u * 1000));
  records.push(event('u0', 'new', 'impression', T0 + 40_000));
  const p = await openPlatform(t, records);
  const mix = mixOf(['newAuthors'], { newAuthors: { maxImpressions: 10, factor: 1.5 } });
  const query = q(p, 'viewer', mix, { now: T0 + 60_000 });
  assert.equal(newAuthorsRescorer.enabled(query), true);
  assert.equal(newAuthorsRescorer.enabled(q(p, 'viewer', parseConfig({}).mix)), false, 'off by default');
  const cands = [cand(p, 'viewer', 'new', 2), cand(p, 'viewer', 'old', 2)];
  newAuthorsRescorer.rescore(query, cands);
  assert.equal(cands[0]!.score, 3);
  assert.deepEqual(cands[0]!.rules, [{ rule: 'new_author', factor: 1.5, impressions: 1 }]);
  assert.equal(cands[1]!.score, 2, 'the veteran has 30 impressions');
});

test('the page builder selects each slot’s best candidates as a full sort would (value desc, then the lower item id)', () => {
  let seed = 7;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(rand() * 120);
    // Few distinct values, so that ties are common; items shuffled.
    const values = Float64Array.from({ length: n }, () => Math.floor(rand() * 8) / 4);
    const items = Int32Array.from({ length: n }, (_, i) => (i * 37) % 1009);
    const order = Int32Array.from({ length: n }, (_, i) => i).filter(() => rand() < 0.8);
    const m = 1 + Math.floor(rand() * 60);
    const out = new Int32Array(m);
    const got = bestFirst(order, order.length, m, values, items, out);
    const want = Array.from(order).sort((a, b) => values[b]! - values[a]! || items[a]! - items[b]!).slice(0, m);
    assert.deepEqual(Array.from(out.subarray(0, got)), want);
  }
});
