import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EventTypeRegistry } from '../src/domain/event-types.js';
import { getImporter } from '../src/ingest/importers/index.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { tempDir } from './helpers.js';

const DATA = resolve(process.cwd(), '../shared/data');
const types = new EventTypeRegistry();

const cases = [
  { format: 'movielens', dir: 'ml-latest-small', events: 100_836, edges: 0, users: 610, items: 9_742 },
  { format: 'lastfm-2k', dir: 'hetrec2011-lastfm-2k', events: 92_834, edges: 25_434, users: 1_892, items: 17_632 },
];

for (const c of cases) {
  const dir = join(DATA, c.dir);
  test(`import ${c.dir} into the store: counts equal the files' rows`, { skip: existsSync(dir) ? false : `data set not present: ${dir}` }, async () => {
    const { dir: tmp, cleanup } = tempDir();
    try {
      const store = SqliteStore.open({ path: join(tmp, 'x.db'), types });
      const result = await store.importRecords(getImporter(c.format).read(dir, { types }));
      assert.equal(result.events, c.events);
      assert.equal(result.edges, c.edges);
      assert.equal(result.users, c.users);
      const counts = await store.counts();
      assert.equal(counts.events, c.events);
      assert.equal(counts.edges, c.edges);
      assert.equal(counts.items, c.items);
      await store.close();
    } finally {
      cleanup();
    }
  });
}
