import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { parseConfig } from '../src/domain/config.js';
import { EventTypeRegistry } from '../src/domain/event-types.js';
import { OnlineState } from '../src/state/online-state.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { tempDir } from './helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/ingest-server.js', import.meta.url));
const T0 = Date.UTC(2026, 0, 1);

test('acknowledged writes survive SIGKILL, and the state rebuilt from the log equals the state before the kill', async () => {
  const { dir, cleanup } = tempDir();
  const db = join(dir, 'lenta.db');
  const side = join(dir, 'state.json');
  const child = spawn(process.execPath, [fixture, db, side], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const base = await new Promise<string>((resolve, reject) => {
      child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
      child.once('exit', (code) => reject(new Error(`server exited early with ${code}`)));
    });
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const items = Array.from({ length: 50 }, (_, k) => ({ id: `p${k}`, authorId: `a${k % 7}`, createdAt: T0, tags: [`t${k % 4}`] }));
    assert.equal((await post('/v1/items', { items })).status, 200);
    const follows = Array.from({ length: 30 }, (_, k) => ({ userId: `u${k}`, targetId: `a${k % 7}`, timestamp: T0 }));
    assert.equal((await post('/v1/follows', { follows })).status, 200);

    const acknowledged: string[] = [];
    const types = ['like', 'click', 'impression', 'reply', 'hide'];
    let next = 0;
    let stop = false;
    const writer = async (w: number) => {
      while (!stop) {
        const events = Array.from({ length: 20 }, () => {
          const n = next++;
          return { id: `w${w}-e${n}`, userId: `u${n % 30}`, itemId: `p${(n * 7) % 50}`, type: types[n % types.length], timestamp: T0 + n * 1000 };
        });
        try {
          const res = await post('/v1/events', { events });
          if (res.status === 200) acknowledged.push(...events.map((e) => e.id));
        } catch {
          return; // the server is gone
        }
      }
    };
    const writers = [0, 1, 2, 3].map((w) => writer(w));
    while (acknowledged.length < 3000) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    stop = true;
    await Promise.all(writers);
    const ackedAtKill = acknowledged.length;
    assert.ok(ackedAtKill >= 3000);

    // Every acknowledged event is in the log.
    const raw = new Database(db, { readonly: true });
    const ids = new Set((raw.prepare('SELECT eid FROM log WHERE eid IS NOT NULL').pluck().all() as string[]));
    raw.close();
    const missing = acknowledged.filter((id) => !ids.has(id));
    assert.deepEqual(missing, [], `${missing.length} acknowledged events lost`);

    // The state folded from the log up to the last fingerprinted sequence equals that fingerprint.
    const before = JSON.parse(readFileSync(side, 'utf8')) as { seq: number; fingerprint: string };
    const registry = new EventTypeRegistry(parseConfig({}).eventTypes);
    const store = SqliteStore.open({ path: db, types: registry });
    const state = new OnlineState(registry);
    for await (const items of store.readItems()) state.applyItems(items);
    for await (const chunk of store.readLog(0)) {
      let n = 0;
      while (n < chunk.length && chunk.seq[n]! <= before.seq) n++;
      state.applyLog({ ...chunk, length: n });
      if (n < chunk.length) break;
    }
    assert.equal(state.lastSeq, before.seq);
    assert.equal(state.fingerprint(), before.fingerprint);
    await store.close();
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    cleanup();
  }
});
