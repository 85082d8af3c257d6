import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventTypeRegistry } from '../domain/event-types.js';
import { OnlineState } from '../state/online-state.js';
import { FeedPipeline, mergeCandidates } from './feed-pipeline.js';
import { parseConfig } from '../domain/config.js';
import type { Candidate, CandidateSource, FeedQuery } from './types.js';

const cand = (item: number, source: string, rank: number): Candidate => ({ item, author: -1, inNetwork: false, sources: [{ source, score: 1 / rank, rank }], score: 0 });
const source = (name: string, fetch: CandidateSource['fetch']): CandidateSource => ({ name, enabled: () => true, fetch });
const query: FeedQuery = {
  user: 0, userId: 'u', limit: 3, now: 0, requestId: 'r', variant: 'v',
  served: new Set(), seen: new Set(), exclude: new Set(), state: new OnlineState(new EventTypeRegistry()),
  mix: parseConfig({}).mix, feed: parseConfig({}).feed,
};

test('sources run side by side, fail open, and slow ones are dropped at the timeout', async () => {
  const pipeline = new FeedPipeline({
    name: 't',
    sourceTimeoutMs: 30,
    sources: [
      { source: source('good', () => [cand(1, 'good', 1), cand(2, 'good', 2)]), budget: 10 },
      { source: source('broken', () => { throw new Error('index missing'); }), budget: 10 },
      { source: source('slow', () => new Promise((resolve) => setTimeout(() => resolve([cand(9, 'slow', 1)]), 200))), budget: 10 },
      { source: source('also', async () => [cand(2, 'also', 1), cand(3, 'also', 2)]), budget: 10 },
    ],
    filters: [],
    scorers: [{ name: 'rank', enabled: () => true, score: (_q, cs) => cs.forEach((c) => (c.score = c.sources.length)) }],
    selector: { name: 'top', select: (_q, cs, n) => [...cs].sort((a, b) => b.score - a.score || a.item - b.item).slice(0, n) },
    sideEffects: [],
  });
  const result = await pipeline.run(query);
  assert.deepEqual(result.page.map((c) => c.item), [2, 1, 3]);
  assert.deepEqual(result.degraded.sort(), ['broken', 'slow']);
  const slow = result.timings.find((t) => t.component === 'slow')!;
  assert.match(slow.error!, /no answer within 30 ms/);
  assert.ok(slow.ms < 150);
});

test('merge keeps every source hit of an item', () => {
  const merged = mergeCandidates([[cand(1, 'a', 1)], [cand(1, 'b', 4), cand(2, 'b', 5)]]);
  assert.equal(merged.length, 2);
  assert.deepEqual(merged[0]!.sources.map((s) => [s.source, s.rank]), [['a', 1], ['b', 4]]);
});

test('merge passes single-source candidates through and never changes a source list', () => {
  const a = [cand(1, 'a', 1), cand(2, 'a', 2)];
  const b = [cand(2, 'b', 1), cand(3, 'b', 2), cand(2, 'b', 3)];
  const before = JSON.stringify([a, b]);
  const merged = mergeCandidates([a, b]);
  assert.deepEqual(merged.map((c) => c.item), [1, 2, 3]);
  // One source: the same object. Several: a copy with every hit, in list order.
  assert.equal(merged[0], a[0]);
  assert.equal(merged[2], b[1]);
  assert.notEqual(merged[1], a[1]);
  assert.deepEqual(merged[1]!.sources.map((s) => [s.source, s.rank]), [['a', 2], ['b', 1], ['b', 3]]);
  assert.equal(JSON.stringify([a, b]), before);
  // Ids outside the dense range merge too.
  const odd = mergeCandidates([[cand(-5, 'a', 1), cand(1.5, 'a', 2)], [cand(-5, 'b', 1)]]);
  assert.deepEqual(odd.map((c) => [c.item, c.sources.length]), [[-5, 2], [1.5, 1]]);
});

test('sources the fusion weighs 0 are fetched only when the weighted ones leave fewer than the heavy ranker\'s scope, or none is on', async () => {
  const calls: string[] = [];
  const counted = (name: string, items: number[], enabled = () => true): CandidateSource => ({
    name,
    enabled,
    fetch: () => {
      calls.push(name);
      return items.map((item, r) => cand(item, name, r + 1));
    },
  });
  const range = (from: number, n: number) => Array.from({ length: n }, (_, k) => from + k);
  const make = (weighted: number[], weightedOn = true) =>
    new FeedPipeline({
      name: 't',
      sources: [
        { source: counted('in_network', weighted, () => weightedOn), budget: 100 },
        { source: counted('embedding', range(1000, 40)), budget: 100 },
        { source: counted('social_graph', [5, 1001]), budget: 100 },
      ],
      filters: [],
      scorers: [],
      selector: { name: 'none', select: (_q, cs) => cs },
      sideEffects: [],
    });
  const unweighted = { sources: new Set(['embedding', 'social_graph']), minCandidates: 15 };
  // 15 weighted candidates fill the scope.
  calls.length = 0;
  let got = await make(range(0, 15)).retrieve({ ...query, unweighted });
  assert.deepEqual(calls, ['in_network']);
  assert.equal(got.candidates.length, 15);
  assert.ok(got.candidates.every((c) => c.sources.every((h) => h.source === 'in_network')));
  // Too few: the second round fetches the others, merged with the first.
  calls.length = 0;
  got = await make(range(0, 14)).retrieve({ ...query, unweighted });
  assert.deepEqual(calls, ['in_network', 'embedding', 'social_graph']);
  assert.equal(got.candidates.length, 14 + 40);
  assert.deepEqual(got.candidates.find((c) => c.item === 5)!.sources.map((h) => h.source), ['in_network', 'social_graph']);
  // No weighted source is on for this request (e.g. a user who follows nobody): one round of the rest.
  calls.length = 0;
  got = await make(range(0, 15), false).retrieve({ ...query, unweighted });
  assert.deepEqual(calls.sort(), ['embedding', 'social_graph']);
  assert.equal(got.candidates.length, 41);
  // Without `unweighted`, every source runs.
  calls.length = 0;
  await make(range(0, 15)).retrieve(query);
  assert.deepEqual(calls.sort(), ['embedding', 'in_network', 'social_graph']);
});
