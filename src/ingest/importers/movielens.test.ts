import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventTypeRegistry } from '../../domain/event-types.js';
import type { LogRecord } from '../../domain/types.js';
import { ImportError, type Importer } from '../importer.js';
import { movielensImporter } from './movielens.js';
import { movielens100kImporter } from './movielens-100k.js';

const types = new EventTypeRegistry();
const root = mkdtempSync(join(tmpdir(), 'lenta-ml-'));
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

test('movielens: CRLF files, quoted titles with commas and "" escapes, genres as tags, the title\'s year as an attribute', async () => {
  const dir = folder({
    'movies.csv':
      'movieId,title,genres\r\n' +
      '11,"American President, The (1995)",Comedy|Drama|Romance\r\n' +
      '7789,"11\'09""01 - September 11 (2002)",Drama\r\n' +
      '999,No Genre (2010),(no genres listed)\r\n' +
      '1000,No Year,Drama\r\n' +
      '1001,"Fawlty Towers (1975-1979)",Comedy\r\n',
    'ratings.csv': 'userId,movieId,rating,timestamp\r\n1,11,4.0,964982703\r\n2,7789,3.5,964981247\r\n',
  });
  assert.deepEqual(await movielensImporter.files(dir), [join(dir, 'movies.csv'), join(dir, 'ratings.csv')]);
  assert.deepEqual(await collect(movielensImporter, dir), [
    { kind: 'item', item: { id: '11', text: 'American President, The (1995)', tags: ['Comedy', 'Drama', 'Romance'], attributes: { year: 1995 } } },
    { kind: 'item', item: { id: '7789', text: '11\'09"01 - September 11 (2002)', tags: ['Drama'], attributes: { year: 2002 } } },
    { kind: 'item', item: { id: '999', text: 'No Genre (2010)', attributes: { year: 2010 } } },
    { kind: 'item', item: { id: '1000', text: 'No Year', tags: ['Drama'] } },
    { kind: 'item', item: { id: '1001', text: 'Fawlty Towers (1975-1979)', tags: ['Comedy'], attributes: { year: 1975 } } },
    { kind: 'event', event: { userId: '1', itemId: '11', type: 'rating', timestamp: 964982703000, value: 4 } },
    { kind: 'event', event: { userId: '2', itemId: '7789', type: 'rating', timestamp: 964981247000, value: 3.5 } },
  ]);
  assert.equal(movielensImporter.explicitRatings, true);
});

test('movielens: a bad row names file and line', async () => {
  const dir = folder({ 'ratings.csv': 'userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,four,964982703\n' });
  const err = await importError(movielensImporter, dir);
  assert.equal(err.file, join(dir, 'ratings.csv'));
  assert.equal(err.line, 3);
  assert.equal(err.field, 'rating');
  assert.ok(err.message.startsWith(`${join(dir, 'ratings.csv')}:3: rating:`), err.message);

  const cols = await importError(movielensImporter, folder({ 'ratings.csv': 'userId,movieId,rating,timestamp\r\n1,1,4.0\r\n' }));
  assert.equal(cols.line, 2);
  assert.match(cols.message, /expected 4 comma-separated columns/);

  const ts = await importError(movielensImporter, folder({ 'ratings.csv': 'userId,movieId,rating,timestamp\n1,1,4.0,\n' }));
  assert.equal(ts.field, 'timestamp');

  const header = await importError(movielensImporter, folder({ 'ratings.csv': '1,1,4.0,964982703\n' }));
  assert.equal(header.line, 1);

  const quote = await importError(movielensImporter, folder({ 'movies.csv': 'movieId,title,genres\n1,"Open quote,Drama\n', 'ratings.csv': 'userId,movieId,rating,timestamp\n' }));
  assert.equal(quote.line, 2);
  assert.equal(quote.field, 'title');
});

test('movielens: a missing ratings.csv is a clear error', async () => {
  await assert.rejects(() => movielensImporter.files(folder({})), /ratings\.csv not found/);
});

const U_ITEM =
  '1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n' +
  '2|Cité des enfants perdus, La (1995)|01-Jan-1995||http://x|0|0|1|0|0|0|0|0|1|0|0|0|0|0|0|1|0|0|0\n' +
  '3|Unknown Film (1996)|01-Jan-1996||http://y|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n';
const U_DATA = '196\t1\t3\t881250949\n186\t2\t3\t891717742\n22\t3\t1\t878887116\n';

test('movielens-100k: u.item (Latin-1, genre flags) and u.data', async () => {
  const dir = folder({ 'u.item': Buffer.from(U_ITEM, 'latin1'), 'u.data': U_DATA });
  const records = await collect(movielens100kImporter, dir);
  assert.deepEqual(records, [
    { kind: 'item', item: { id: '1', text: 'Toy Story (1995)', tags: ['Animation', "Children's", 'Comedy'] } },
    { kind: 'item', item: { id: '2', text: 'Cité des enfants perdus, La (1995)', tags: ['Adventure', 'Drama', 'Sci-Fi'] } },
    { kind: 'item', item: { id: '3', text: 'Unknown Film (1996)' } },
    { kind: 'event', event: { userId: '196', itemId: '1', type: 'rating', timestamp: 881250949000, value: 3 } },
    { kind: 'event', event: { userId: '186', itemId: '2', type: 'rating', timestamp: 891717742000, value: 3 } },
    { kind: 'event', event: { userId: '22', itemId: '3', type: 'rating', timestamp: 878887116000, value: 1 } },
  ]);
  // The u.data path works too.
  assert.equal((await collect(movielens100kImporter, join(dir, 'u.data'))).length, 6);
});

test('movielens-100k: genre names come from u.genre when present', async () => {
  const genres = ['none', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R'];
  const dir = folder({ 'u.item': U_ITEM, 'u.data': U_DATA, 'u.genre': genres.map((g, i) => `${g}|${i}`).join('\n') + '\n\n' });
  const records = await collect(movielens100kImporter, dir);
  assert.deepEqual(records[0], { kind: 'item', item: { id: '1', text: 'Toy Story (1995)', tags: ['C', 'D', 'E'] } });
  assert.deepEqual(records[2], { kind: 'item', item: { id: '3', text: 'Unknown Film (1996)', tags: ['none'] } });
  assert.deepEqual(await movielens100kImporter.files(dir), [join(dir, 'u.genre'), join(dir, 'u.item'), join(dir, 'u.data')]);
});

test('movielens-100k: bad rows name file and line', async () => {
  const data = await importError(movielens100kImporter, folder({ 'u.data': '196\t1\t3\t881250949\n186\t2\t3\n' }));
  assert.equal(data.line, 2);
  assert.match(data.message, /u\.data:2: expected 4/);
  const flag = await importError(movielens100kImporter, folder({ 'u.item': U_ITEM.replace('|0|0|0|1|1|1|', '|0|0|0|1|x|1|'), 'u.data': U_DATA }));
  assert.equal(flag.line, 1);
  assert.equal(flag.field, "Children's");
  const cols = await importError(movielens100kImporter, folder({ 'u.item': '1|Toy Story|x|y|z|0|1\n', 'u.data': U_DATA }));
  assert.match(cols.message, /u\.item:1: expected 24 pipe-separated columns/);
});
