/**
 * Counts per record kind on the real public data sets in ../shared/data (skipped when absent).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { EventTypeRegistry } from '../../domain/event-types.js';
import type { LogRecord } from '../../domain/types.js';
import type { ImportProgress } from '../importer.js';
import { getImporter } from './index.js';

const types = new EventTypeRegistry();
const data = (name: string): string => resolve(process.cwd(), '../shared/data', name);
const skip = (dir: string): false | string => (existsSync(dir) ? false : 'data set not present: ' + dir);

interface Summary {
  counts: Record<string, number>;
  first: Record<string, LogRecord>;
  progress: ImportProgress[];
}

async function summarize(format: string, input: string): Promise<Summary> {
  const counts: Record<string, number> = {};
  const first: Record<string, LogRecord> = {};
  const progress: ImportProgress[] = [];
  for await (const r of getImporter(format).read(input, { types, onProgress: (p) => progress.push(p) })) {
    const key = r.kind === 'event' ? `event:${r.event.type}` : r.kind;
    counts[key] = (counts[key] ?? 0) + 1;
    first[key] ??= r;
  }
  return { counts, first, progress };
}

function checkProgress(progress: ImportProgress[]): void {
  assert.ok(progress.length > 0);
  const last = progress[progress.length - 1];
  assert.equal(last.bytesRead, last.totalBytes);
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i].bytesRead >= progress[i - 1].bytesRead);
}

const ml = data('ml-latest-small');
test('movielens: ml-latest-small has 9,742 items and 100,836 ratings', { skip: skip(ml) }, async () => {
  const s = await summarize('movielens', ml);
  assert.deepEqual(s.counts, { item: 9742, 'event:rating': 100836 });
  assert.deepEqual(s.first.item, { kind: 'item', item: { id: '1', text: 'Toy Story (1995)', tags: ['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy'], attributes: { year: 1995 } } });
  assert.deepEqual(s.first['event:rating'], { kind: 'event', event: { userId: '1', itemId: '1', type: 'rating', timestamp: 964982703000, value: 4 } });
  checkProgress(s.progress);
  // The ratings.csv path works too (movies.csv is found beside it).
  const t = await summarize('movielens', resolve(ml, 'ratings.csv'));
  assert.deepEqual(t.counts, s.counts);
});

const lastfm = data('hetrec2011-lastfm-2k');
test('lastfm-2k: 17,632 items, 25,434 follow edges, 92,834 plays', { skip: skip(lastfm) }, async () => {
  const s = await summarize('lastfm-2k', lastfm);
  assert.deepEqual(s.counts, { item: 17632, edge: 25434, 'event:play': 92834 });
  assert.deepEqual(s.first.item, { kind: 'item', item: { id: '1', text: 'MALICE MIZER', tags: ['j-rock', 'visual kei', 'gothic', 'japanese', 'weeabo'] } });
  assert.deepEqual(s.first.edge, { kind: 'edge', edge: { userId: '2', targetId: '275', kind: 'follow', timestamp: Date.UTC(2011, 0, 1) } });
  assert.deepEqual(s.first['event:play'], { kind: 'event', event: { userId: '2', itemId: '51', type: 'play', timestamp: Date.UTC(2011, 0, 1), value: 13883 } });
  checkProgress(s.progress);
});

const yelp = data('yelp-hin');
test('yelp-hin: 14,284 items, 158,590 follow edges, 198,397 ratings', { skip: skip(yelp) }, async () => {
  const s = await summarize('yelp-hin', yelp);
  assert.deepEqual(s.counts, { item: 14284, edge: 158590, 'event:rating': 198397 });
  assert.deepEqual(s.first.item, { kind: 'item', item: { id: '1', tags: ['category:334', 'category:426', 'city:31'] } });
  checkProgress(s.progress);
});

const filmtrust = data('filmtrust');
test('filmtrust: 1,853 follow edges, 35,497 ratings', { skip: skip(filmtrust) }, async () => {
  const s = await summarize('filmtrust', filmtrust);
  assert.deepEqual(s.counts, { edge: 1853, 'event:rating': 35497 });
  assert.deepEqual(s.first.edge, { kind: 'edge', edge: { userId: '2', targetId: '966', kind: 'follow', timestamp: Date.UTC(2011, 5, 1) } });
  checkProgress(s.progress);
});

const ciao = data('ciaodvd');
test('ciao: 40,133 follow edges, 72,665 ratings, each movie once', { skip: skip(ciao) }, async () => {
  const s = await summarize('ciao', ciao);
  assert.deepEqual(s.counts, { edge: 40133, item: 16121, 'event:rating': 72665 });
  assert.deepEqual(s.first.item, { kind: 'item', item: { id: '1', tags: ['genre:1'] } });
  assert.deepEqual(s.first['event:rating'], { kind: 'event', event: { userId: '1', itemId: '1', type: 'rating', timestamp: Date.UTC(2000, 6, 12), value: 5 } });
  checkProgress(s.progress);
});

const obdMen = data('open-bandit-obd-small/random/men');
test('obd: random/men has 34 items, 10,000 impressions and 46 clicks', { skip: skip(obdMen) }, async () => {
  const s = await summarize('obd', obdMen);
  assert.deepEqual(s.counts, { item: 34, 'event:impression': 10000, 'event:click': 46 });
  const imp = s.first['event:impression'];
  assert.ok(imp.kind === 'event');
  assert.equal(imp.event.id, 'obd:random:men:0');
  assert.equal(imp.event.itemId, 'men:14');
  assert.equal(imp.event.timestamp, Date.UTC(2019, 10, 24, 0, 3, 13, 442));
  assert.match(imp.event.userId, /^ctx:[0-9a-f]{16}$/);
  assert.deepEqual(imp.event.context, { position: 2, propensity: 0.029411764705882353, variant: 'random' });
  checkProgress(s.progress);
});

const obdBts = data('open-bandit-obd-small/bts/women');
test('obd: bts/women has 46 items and 10,000 impressions tagged variant "bts"', { skip: skip(obdBts) }, async () => {
  const s = await summarize('obd', obdBts);
  assert.equal(s.counts.item, 46);
  assert.equal(s.counts['event:impression'], 10000);
  const imp = s.first['event:impression'];
  assert.ok(imp.kind === 'event');
  assert.equal(imp.event.context?.variant, 'bts');
});
