import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IMPORTERS, getImporter } from './index.js';

test('every format has one importer with a description', () => {
  const formats = IMPORTERS.map((i) => i.format);
  assert.deepEqual(formats, ['lenta-jsonl', 'movielens', 'movielens-100k', 'lastfm-2k', 'yelp-hin', 'filmtrust', 'ciao', 'obd']);
  for (const i of IMPORTERS) {
    assert.equal(getImporter(i.format), i);
    assert.ok(i.description.length > 20, i.format);
  }
});

test('getImporter lists the known formats for an unknown one', () => {
  assert.throws(() => getImporter('csv'), /unknown import format "csv" \(known formats: lenta-jsonl, movielens, .*obd\)/);
});
