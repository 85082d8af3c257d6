/** Fixture tests of the social data sets: lastfm-2k, yelp-hin, filmtrust, ciao. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventTypeRegistry } from '../../domain/event-types.js';
import type { LogRecord } from '../../domain/types.js';
import { ImportError, type Importer } from '../importer.js';
import { ciaoImporter } from './ciao.js';
import { filmtrustImporter } from './filmtrust.js';
import { lastfm2kImporter } from './lastfm-2k.js';
import { yelpHinImporter } from './yelp-hin.js';

const types = new EventTypeRegistry();
const root = mkdtempSync(join(tmpdir(), 'lenta-social-'));
let n = 0;
function folder(files: Record<string, string | Buffer>): string {
  const dir = join(root, `d${n++}`);
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

async function collect(importer: Importer, input: string): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for await (const r of importer.read(input, { types })) out.push(r);
  return out;
}

async function importError(importer: Importer, input: string): Promise<ImportError> {
  try {
    await collect(importer, input);
  } catch (err) {
    assert.ok(err instanceof ImportError, `expected an ImportError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an ImportError');
}

const T2011 = Date.UTC(2011, 0, 1);

function lastfmFiles(over: Record<string, string | Buffer> = {}): Record<string, string | Buffer> {
  return {
    'artists.dat': 'id\tname\turl\tpictureURL\n1\tRöyksopp\thttp://a\thttp://p\n2\tNo Tags\thttp://b\t\n',
    // Latin-1 bytes in a mostly UTF-8 file, as in the real tags.dat.
    'tags.dat': Buffer.concat([Buffer.from('tagID\ttagValue\r\n1\telectronic\r\n2\t'), Buffer.from('rock français', 'latin1'), Buffer.from('\r\n3\tchill\r\n4\tambient\r\n5\tnorwegian\r\n6\tsynth\r\n7\tpop\r\n')]),
    'user_taggedartists.dat':
      'userID\tartistID\ttagID\tday\tmonth\tyear\n' +
      ['1\t1\t1', '2\t1\t1', '3\t1\t1', '1\t1\t2', '2\t1\t2', '1\t1\t7', '2\t1\t7', '1\t1\t3', '1\t1\t4', '1\t1\t5', '1\t1\t6', '1\t999\t6'].map((r) => `${r}\t1\t4\t2009\n`).join(''),
    'user_friends.dat': 'userID\tfriendID\r\n2\t3\r\n3\t2\r\n',
    'user_artists.dat': 'userID\tartistID\tweight\r\n2\t1\t13883\r\n3\t2\t7\r\n',
    ...over,
  };
}

test('lastfm-2k: items with top-5 tags (mixed encodings), then follow edges, then plays at a constant time', async () => {
  const dir = folder(lastfmFiles());
  const records = await collect(lastfm2kImporter, dir);
  assert.deepEqual(records, [
    // Counts: electronic 3, rock français 2, pop 2 (tie → lower tag id first), chill/ambient/norwegian/synth 1.
    { kind: 'item', item: { id: '1', text: 'Röyksopp', tags: ['electronic', 'rock français', 'pop', 'chill', 'ambient'] } },
    { kind: 'item', item: { id: '2', text: 'No Tags' } },
    { kind: 'edge', edge: { userId: '2', targetId: '3', kind: 'follow', timestamp: T2011 } },
    { kind: 'edge', edge: { userId: '3', targetId: '2', kind: 'follow', timestamp: T2011 } },
    { kind: 'event', event: { userId: '2', itemId: '1', type: 'play', timestamp: T2011, value: 13883 } },
    { kind: 'event', event: { userId: '3', itemId: '2', type: 'play', timestamp: T2011, value: 7 } },
  ]);
  assert.equal(lastfm2kImporter.explicitRatings, false);
  assert.equal((await lastfm2kImporter.files(dir)).length, 5);
});

test('lastfm-2k: bad rows name file and line', async () => {
  const weight = await importError(lastfm2kImporter, folder(lastfmFiles({ 'user_artists.dat': 'userID\tartistID\tweight\r\n2\t1\t13883\r\n2\t5\tlots\r\n' })));
  assert.match(weight.message, /user_artists\.dat:3: weight: must be a non-negative number/);
  const cols = await importError(lastfm2kImporter, folder(lastfmFiles({ 'user_friends.dat': 'userID\tfriendID\r\n2\t3\t4\r\n' })));
  assert.match(cols.message, /user_friends\.dat:2: expected 2 tab-separated columns/);
  const tag = await importError(lastfm2kImporter, folder(lastfmFiles({ 'user_taggedartists.dat': 'userID\tartistID\ttagID\tday\tmonth\tyear\n1\t1\t42\t1\t4\t2009\n' })));
  assert.match(tag.message, /user_taggedartists\.dat:2: tagID: tag 42 is not in tags\.dat/);
  await assert.rejects(() => collect(lastfm2kImporter, folder({})), /lastfm-2k: tags\.dat not found/);
});

test('yelp-hin: items tagged by category and city, follow edges, ratings', async () => {
  const dir = folder({
    'business_category.dat': '1\t334\t1\n1\t426\t1\n2\t211\t1\n',
    'business_city.dat': '1\t31\t1\n3\t35\t1\n',
    'user_user.dat': '2\t56\t1\n56\t2\t1\n',
    'user_business.dat': '1\t1\t5\n2\t3\t4\n',
  });
  const ts = Date.UTC(2016, 0, 1);
  assert.deepEqual(await collect(yelpHinImporter, dir), [
    { kind: 'item', item: { id: '1', tags: ['category:334', 'category:426', 'city:31'] } },
    { kind: 'item', item: { id: '2', tags: ['category:211'] } },
    { kind: 'item', item: { id: '3', tags: ['city:35'] } },
    { kind: 'edge', edge: { userId: '2', targetId: '56', kind: 'follow', timestamp: ts } },
    { kind: 'edge', edge: { userId: '56', targetId: '2', kind: 'follow', timestamp: ts } },
    { kind: 'event', event: { userId: '1', itemId: '1', type: 'rating', timestamp: ts, value: 5 } },
    { kind: 'event', event: { userId: '2', itemId: '3', type: 'rating', timestamp: ts, value: 4 } },
  ]);
  const bad = await importError(yelpHinImporter, folder({
    'business_category.dat': '', 'business_city.dat': '', 'user_user.dat': '', 'user_business.dat': '1\t1\t5\n2\t3\n',
  }));
  assert.match(bad.message, /user_business\.dat:2: expected 3 tab-separated columns/);
});

test('filmtrust: CRLF trust edges, then ratings; bad rows name file and line', async () => {
  const dir = folder({ 'trust.txt': '2 966 1\r\n5 1509 1\r\n', 'ratings.txt': '1 1 2\n1 2 3.5\n' });
  const ts = Date.UTC(2011, 5, 1);
  assert.deepEqual(await collect(filmtrustImporter, dir), [
    { kind: 'edge', edge: { userId: '2', targetId: '966', kind: 'follow', timestamp: ts } },
    { kind: 'edge', edge: { userId: '5', targetId: '1509', kind: 'follow', timestamp: ts } },
    { kind: 'event', event: { userId: '1', itemId: '1', type: 'rating', timestamp: ts, value: 2 } },
    { kind: 'event', event: { userId: '1', itemId: '2', type: 'rating', timestamp: ts, value: 3.5 } },
  ]);
  const rating = await importError(filmtrustImporter, folder({ 'trust.txt': '', 'ratings.txt': '1 1 2\n1 2 -3\n' }));
  assert.equal(rating.line, 2);
  assert.equal(rating.field, 'rating');
  const self = await importError(filmtrustImporter, folder({ 'trust.txt': '2 966 1\r\n7 7 1\r\n', 'ratings.txt': '' }));
  assert.match(self.message, /trust\.txt:2: trustee: a user cannot trust themselves/);
});

test('ciao: edges first, each movie once before its first rating, dates as timestamps', async () => {
  const dir = folder({
    'ciao_trusts.txt': '8874,14430,1\n',
    'ciao_ratings.txt': '1,1,1,1,5,2000-07-12\n2,1,1,2,4,2000-07-13\n2,9,16,3,3,2013-11-28\n2,9,16,4,2,2013-11-28\n',
  });
  assert.deepEqual(await collect(ciaoImporter, dir), [
    { kind: 'edge', edge: { userId: '8874', targetId: '14430', kind: 'follow', timestamp: Date.UTC(2000, 0, 1) } },
    { kind: 'item', item: { id: '1', tags: ['genre:1'] } },
    { kind: 'event', event: { userId: '1', itemId: '1', type: 'rating', timestamp: Date.UTC(2000, 6, 12), value: 5 } },
    { kind: 'event', event: { userId: '2', itemId: '1', type: 'rating', timestamp: Date.UTC(2000, 6, 13), value: 4 } },
    { kind: 'item', item: { id: '9', tags: ['genre:16'] } },
    { kind: 'event', event: { userId: '2', itemId: '9', type: 'rating', timestamp: Date.UTC(2013, 10, 28), value: 3 } },
    // A second review of the same movie by the same user is kept.
    { kind: 'event', event: { userId: '2', itemId: '9', type: 'rating', timestamp: Date.UTC(2013, 10, 28), value: 2 } },
  ]);
});

test('ciao: a malformed date or a short row names file, line and field', async () => {
  const date = await importError(ciaoImporter, folder({ 'ciao_trusts.txt': '', 'ciao_ratings.txt': '1,1,1,1,5,2000-07-12\n1,2,1,2,5,2001-02-30\n' }));
  assert.equal(date.line, 2);
  assert.equal(date.field, 'date');
  assert.match(date.message, /ciao_ratings\.txt:2: date: must be a date YYYY-MM-DD, got "2001-02-30"/);
  const cols = await importError(ciaoImporter, folder({ 'ciao_trusts.txt': '1,2,1\n3,4\n', 'ciao_ratings.txt': '' }));
  assert.match(cols.message, /ciao_trusts\.txt:2: expected 3 comma-separated columns/);
});
