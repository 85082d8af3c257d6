/**
 * Import throughput on 1M synthetic events (the simulator's records, cut at 1M events):
 *   baseline  raw better-sqlite3 inserts of the same rows, already encoded, one transaction
 *   store     SqliteStore.importRecords from records in memory (interning, JSON context, dedup index)
 *   import    the full `lenta import --format lenta-jsonl` path: read + parse + validate + store
 *   replay    rebuilding the online state from the log (what `serve` does at start)
 */
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseArgs } from 'node:util';
import { EventTypeRegistry } from '../src/domain/event-types.js';
import type { LogRecord } from '../src/domain/types.js';
import { getImporter } from '../src/ingest/importers/index.js';
import { writeJsonl } from '../src/ingest/jsonl-writer.js';
import { simulate, SIM_PRESETS } from '../src/sim/index.js';
import { OnlineState } from '../src/state/online-state.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { mb, table } from './report.js';

export async function importBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { events: { type: 'string', default: '1000000' }, dir: { type: 'string', default: '.bench' } } });
  const target = Number(values.events);
  const dir = values.dir!;
  mkdirSync(dir, { recursive: true });
  const types = new EventTypeRegistry();

  // 1M events from the simulator (the medium preset streams ~3M; we stop at the target).
  let t = performance.now();
  const records: LogRecord[] = [];
  let events = 0;
  for (const r of simulate({ ...SIM_PRESETS.medium })) {
    records.push(r);
    if (r.kind === 'event' && ++events >= target) break;
  }
  const genSeconds = (performance.now() - t) / 1000;
  const jsonl = join(dir, 'import-bench.jsonl');
  await writeJsonl(records, jsonl);
  process.stderr.write(`generated ${records.length.toLocaleString('en-US')} records (${events.toLocaleString('en-US')} events) in ${genSeconds.toFixed(1)} s; ${jsonl} ${mb(statSync(jsonl).size)}\n`);

  const rows: Record<string, string | number>[] = [];
  const fresh = (name: string) => {
    const path = join(dir, `${name}.db`);
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
    return path;
  };

  // Baseline: raw inserts of pre-encoded rows.
  {
    const users = new Map<string, number>();
    const items = new Map<string, number>();
    const enc: [number, number, number, number, number | null, string | null][] = [];
    for (const r of records) {
      if (r.kind !== 'event') continue;
      const e = r.event;
      let u = users.get(e.userId);
      if (u === undefined) users.set(e.userId, (u = users.size));
      let i = items.get(e.itemId);
      if (i === undefined) items.set(e.itemId, (i = items.size));
      enc.push([u, i, types.code(e.type), e.timestamp, e.value ?? null, e.context ? JSON.stringify(e.context) : null]);
    }
    const db = new Database(fresh('raw'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE log (seq INTEGER PRIMARY KEY, user INTEGER, target INTEGER, type INTEGER, ts REAL, value REAL, ctx TEXT)');
    const ins = db.prepare('INSERT INTO log (user, target, type, ts, value, ctx) VALUES (?, ?, ?, ?, ?, ?)');
    t = performance.now();
    db.transaction(() => {
      for (const row of enc) ins.run(...row);
    })();
    const s = (performance.now() - t) / 1000;
    db.close();
    rows.push({ path: 'baseline: raw SQLite insert (encoded rows)', seconds: s, 'events/s': Math.round(events / s), ratio: 1 });
  }
  const base = rows[0]!['events/s'] as number;

  // Store from memory.
  {
    const store = SqliteStore.open({ path: fresh('store'), types });
    t = performance.now();
    const result = await store.importRecords(records);
    const s = (performance.now() - t) / 1000;
    await store.close();
    rows.push({ path: 'store.importRecords (records in memory)', seconds: s, 'events/s': Math.round(result.events / s), ratio: result.events / s / base });
  }

  // Full import of the jsonl file, then replay of the state.
  {
    const path = fresh('import');
    const store = SqliteStore.open({ path, types });
    t = performance.now();
    const result = await store.importRecords(getImporter('lenta-jsonl').read(jsonl, { types }));
    const s = (performance.now() - t) / 1000;
    rows.push({ path: 'lenta import --format lenta-jsonl (parse + validate + store)', seconds: s, 'events/s': Math.round(result.events / s), ratio: result.events / s / base });
    const state = new OnlineState(types);
    const rss0 = process.memoryUsage().rss;
    t = performance.now();
    await state.replay(store);
    const r = (performance.now() - t) / 1000;
    rows.push({ path: 'replay: rebuild online state from the log', seconds: r, 'events/s': Math.round(state.events / r), ratio: state.events / r / base });
    const stateBytes = Object.values(state.memory()).reduce((a, b) => a + b, 0);
    process.stderr.write(`state after replay: ${mb(stateBytes)} in typed arrays; process RSS ${mb(process.memoryUsage().rss)} (+${mb(process.memoryUsage().rss - rss0)} during replay)\n`);
    await store.close();
  }

  process.stdout.write(`\nimport benchmark: ${events.toLocaleString('en-US')} synthetic events (node ${process.version})\n\n${table(rows)}\n`);
}
