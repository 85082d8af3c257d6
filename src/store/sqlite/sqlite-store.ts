/**
 * The embedded store: the event log and the entities in one SQLite file (WAL mode).
 *
 * Durability: every append is written inside a transaction committed with
 * `synchronous = FULL`, so when `append()` resolves the batch is in the fsynced WAL and
 * survives `kill -9` and power loss. Appends that arrive while a commit is being prepared
 * share it (group commit): one fsync for many requests, each request in its own SAVEPOINT so
 * that a failing request rolls back alone and the others still commit.
 *
 * Ids: external user and item ids are interned into dense integers (the row ids of the
 * users / items tables). The dictionaries live in memory (loaded at open) and are rolled back
 * together with the transaction when a write fails, so memory and disk never disagree.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { EventTypeRegistry } from '../../domain/event-types.js';
import type { Item, LogRecord, User } from '../../domain/types.js';
import {
  EDGE_KIND_CODES,
  emptyLogChunk,
  LOG_EDGE,
  LOG_EVENT,
  type AppendResult,
  type ImportResult,
  type ItemRecord,
  type LogChunk,
  type PostPosition,
  type Store,
  type StoreCounts,
} from '../store.js';

export interface SqliteStoreOptions {
  /** Path of the database file; ':memory:' for a throwaway store. */
  path: string;
  types: EventTypeRegistry;
  /** PRAGMA synchronous: FULL (default) makes acknowledged writes survive power loss. */
  synchronous?: 'FULL' | 'NORMAL' | 'OFF';
  /** How long a commit waits to collect more appends (ms); 0 commits on the next tick. */
  groupCommitMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
  uid INTEGER PRIMARY KEY,
  ext TEXT NOT NULL UNIQUE,
  created REAL,
  attrs TEXT
);
CREATE TABLE IF NOT EXISTS items (
  iid INTEGER PRIMARY KEY,
  ext TEXT NOT NULL UNIQUE,
  author INTEGER,
  created REAL,
  tags TEXT,
  text TEXT,
  attrs TEXT
);
CREATE INDEX IF NOT EXISTS items_author_created ON items (author, created, iid) WHERE author IS NOT NULL;
CREATE TABLE IF NOT EXISTS event_types (code INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS log (
  seq INTEGER PRIMARY KEY,
  kind INTEGER NOT NULL,
  user INTEGER NOT NULL,
  target INTEGER NOT NULL,
  type INTEGER NOT NULL,
  ts REAL NOT NULL,
  value REAL,
  eid TEXT,
  ctx TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS log_eid ON log (eid) WHERE eid IS NOT NULL;
`;

interface PendingAppend {
  records: readonly LogRecord[];
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

/** Undo information for the in-memory dictionaries. */
interface Mark {
  users: number;
  items: number;
  seq: number;
  storeTypes: number;
  events: number;
  edges: number;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly userIds: string[] = [];
  readonly itemIds: string[] = [];
  private readonly userMap = new Map<string, number>();
  private readonly itemMap = new Map<string, number>();
  private readonly db: Database.Database;
  private readonly types: EventTypeRegistry;
  /** registry code → code stored in the log, and back. */
  private readonly storeCodeOf: number[] = [];
  private readonly registryCodeOf: number[] = [];
  private lastSeq = 0;
  private eventCount = 0;
  private edgeCount = 0;
  private readonly groupCommitMs: number;
  private queue: PendingAppend[] = [];
  private flushScheduled = false;
  private importing = false;
  private closed = false;
  private readonly stmts;

  private constructor(db: Database.Database, options: SqliteStoreOptions) {
    this.db = db;
    this.types = options.types;
    this.groupCommitMs = options.groupCommitMs ?? 2;
    this.stmts = {
      insertUser: db.prepare('INSERT INTO users (uid, ext, created, attrs) VALUES (?, ?, ?, ?)'),
      upsertUser: db.prepare(
        'UPDATE users SET created = coalesce(?, created), attrs = coalesce(?, attrs) WHERE uid = ?',
      ),
      insertItem: db.prepare('INSERT INTO items (iid, ext, author, created, tags, text, attrs) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      updateItem: db.prepare(
        `UPDATE items SET author = coalesce(?, author), created = coalesce(?, created), tags = coalesce(?, tags),
         text = coalesce(?, text), attrs = coalesce(?, attrs) WHERE iid = ? RETURNING author, created, tags, attrs`,
      ),
      insertLog: db.prepare('INSERT OR IGNORE INTO log (seq, kind, user, target, type, ts, value, eid, ctx) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      insertType: db.prepare('INSERT INTO event_types (code, name) VALUES (?, ?)'),
      readLog: db.prepare('SELECT seq, kind, user, target, type, ts, value, ctx FROM log WHERE seq > ? ORDER BY seq LIMIT ?').raw(),
      readLogNoContext: db.prepare('SELECT seq, kind, user, target, type, ts, value, NULL FROM log WHERE seq > ? ORDER BY seq LIMIT ?').raw(),
      readItems: db.prepare('SELECT iid, author, created, tags, attrs FROM items WHERE iid >= ? ORDER BY iid LIMIT ?').raw(),
      getItems: db.prepare(
        `SELECT i.iid, i.ext, u.ext, i.created, i.tags, i.text, i.attrs FROM items i LEFT JOIN users u ON u.uid = i.author
         WHERE i.iid IN (SELECT value FROM json_each(?))`,
      ).raw(),
      postsByAuthors: db.prepare(
        `SELECT created, iid FROM items WHERE author IN (SELECT value FROM json_each(?)) AND created IS NOT NULL
         AND (created < ? OR (created = ? AND iid < ?)) ORDER BY created DESC, iid DESC LIMIT ?`,
      ).raw(),
      getUser: db.prepare('SELECT ext, created, attrs FROM users WHERE uid = ?').raw(),
      countEdges: db.prepare(`SELECT count(*) FROM log WHERE kind = ${LOG_EDGE}`).pluck(),
      countEvents: db.prepare(`SELECT count(*) FROM log WHERE kind = ${LOG_EVENT}`).pluck(),
    };
  }

  static open(options: SqliteStoreOptions): SqliteStore {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    const db = new Database(options.path);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    db.pragma('busy_timeout = 5000');
    db.pragma('cache_size = -65536');
    db.exec(SCHEMA);
    const store = new SqliteStore(db, options);
    store.load();
    return store;
  }

  private load(): void {
    for (const [uid, ext] of this.db.prepare('SELECT uid, ext FROM users ORDER BY uid').raw().iterate() as Iterable<[number, string]>) {
      if (uid !== this.userIds.length) throw new Error(`store: users table is not dense at uid ${uid}`);
      this.userIds.push(ext);
      this.userMap.set(ext, uid);
    }
    for (const [iid, ext] of this.db.prepare('SELECT iid, ext FROM items ORDER BY iid').raw().iterate() as Iterable<[number, string]>) {
      if (iid !== this.itemIds.length) throw new Error(`store: items table is not dense at iid ${iid}`);
      this.itemIds.push(ext);
      this.itemMap.set(ext, iid);
    }
    const stored = this.db.prepare('SELECT code, name FROM event_types ORDER BY code').raw().all() as [number, string][];
    for (const [code, name] of stored) {
      this.registryCodeOf[code] = this.types.code(name);
      const reg = this.types.code(name);
      if (reg >= 0) this.storeCodeOf[reg] = code;
    }
    this.lastSeq = (this.db.prepare('SELECT coalesce(max(seq), 0) FROM log').pluck().get() as number) ?? 0;
    this.eventCount = this.stmts.countEvents.get() as number;
    this.edgeCount = this.stmts.countEdges.get() as number;
  }

  userIndex(id: string): number | undefined {
    return this.userMap.get(id);
  }

  itemIndex(id: string): number | undefined {
    return this.itemMap.get(id);
  }

  /**
   * A replica's side of another process's commit (server/cluster.ts): the ids it interned,
   * from the dense positions `usersFrom`/`itemsFrom` (ones this store already holds are checked,
   * not added), and the log rows it wrote (for the counts). The rows themselves are already in
   * the database file; this store never writes them.
   */
  adopt(usersFrom: number, users: readonly string[], itemsFrom: number, items: readonly string[], log: LogChunk): void {
    const extend = (ids: string[], map: Map<string, number>, from: number, added: readonly string[], what: string) => {
      if (from > ids.length) throw new Error(`store: ${what} from ${from} adopted with only ${ids.length} known (a commit was missed)`);
      for (let k = 0; k < added.length; k++) {
        const at = from + k;
        if (at < ids.length) {
          if (ids[at] !== added[k]) throw new Error(`store: ${what} ${at} is "${ids[at]}" here, "${added[k]}" in the commit`);
          continue;
        }
        ids.push(added[k]!);
        map.set(added[k]!, at);
      }
    };
    extend(this.userIds, this.userMap, usersFrom, users, 'user');
    extend(this.itemIds, this.itemMap, itemsFrom, items, 'item');
    for (let r = 0; r < log.length; r++) {
      if (log.seq[r]! <= this.lastSeq) continue;
      if (log.kind[r] === LOG_EVENT) this.eventCount++;
      else if (log.kind[r] === LOG_EDGE) this.edgeCount++;
    }
    if (log.length > 0) this.lastSeq = Math.max(this.lastSeq, log.seq[log.length - 1]!);
  }

  // ---- writing ----------------------------------------------------------------------------

  private mark(): Mark {
    return {
      users: this.userIds.length,
      items: this.itemIds.length,
      seq: this.lastSeq,
      storeTypes: this.registryCodeOf.length,
      events: this.eventCount,
      edges: this.edgeCount,
    };
  }

  private undo(m: Mark): void {
    while (this.userIds.length > m.users) this.userMap.delete(this.userIds.pop()!);
    while (this.itemIds.length > m.items) this.itemMap.delete(this.itemIds.pop()!);
    while (this.registryCodeOf.length > m.storeTypes) {
      const reg = this.registryCodeOf.pop()!;
      if (reg >= 0) delete this.storeCodeOf[reg];
    }
    this.lastSeq = m.seq;
    this.eventCount = m.events;
    this.edgeCount = m.edges;
  }

  private internUser(id: string, created: number | null = null, attrs: string | null = null): number {
    let uid = this.userMap.get(id);
    if (uid === undefined) {
      uid = this.userIds.length;
      this.stmts.insertUser.run(uid, id, created, attrs);
      this.userIds.push(id);
      this.userMap.set(id, uid);
    }
    return uid;
  }

  private storeCode(registryCode: number): number {
    let code = this.storeCodeOf[registryCode];
    if (code === undefined) {
      code = this.registryCodeOf.length;
      this.stmts.insertType.run(code, this.types.name(registryCode));
      this.registryCodeOf.push(registryCode);
      this.storeCodeOf[registryCode] = code;
    }
    return code;
  }

  /** Writes records inside the current transaction; fills `out` with what to apply to state. */
  private writeRecords(records: Iterable<LogRecord>, out: RecordSink): void {
    for (const r of records) {
      switch (r.kind) {
        case 'user': {
          const u = r.user;
          const attrs = u.attributes ? JSON.stringify(u.attributes) : null;
          const existing = this.userMap.get(u.id);
          if (existing === undefined) this.internUser(u.id, u.createdAt ?? null, attrs);
          else this.stmts.upsertUser.run(u.createdAt ?? null, attrs, existing);
          out.users++;
          break;
        }
        case 'item': {
          const it = r.item;
          const author = it.authorId !== undefined ? this.internUser(it.authorId) : null;
          const tags = it.tags ? JSON.stringify(it.tags) : null;
          const attrs = it.attributes ? JSON.stringify(it.attributes) : null;
          let iid = this.itemMap.get(it.id);
          let record: ItemRecord;
          if (iid === undefined) {
            iid = this.itemIds.length;
            this.stmts.insertItem.run(iid, it.id, author, it.createdAt ?? null, tags, it.text ?? null, attrs);
            this.itemIds.push(it.id);
            this.itemMap.set(it.id, iid);
            record = { index: iid, author: author ?? -1, createdAt: it.createdAt ?? NaN, tags: it.tags ?? [] };
            withAttributes(record, it.attributes, false);
          } else {
            const row = this.stmts.updateItem.get(author, it.createdAt ?? null, tags, it.text ?? null, attrs, iid) as
              | { author: number | null; created: number | null; tags: string | null; attrs: string | null }
              | undefined;
            record = {
              index: iid,
              author: row?.author ?? -1,
              createdAt: row?.created ?? NaN,
              tags: row?.tags ? (JSON.parse(row.tags) as string[]) : [],
            };
            // Always set on an update, so that an attribute turned false or removed is cleared.
            withAttributes(record, row?.attrs ? (JSON.parse(row.attrs) as Record<string, unknown>) : undefined, true);
          }
          out.items.push(record);
          break;
        }
        case 'edge': {
          const e = r.edge;
          const user = this.internUser(e.userId);
          const target = this.internUser(e.targetId);
          const seq = ++this.lastSeq;
          const kindCode = EDGE_KIND_CODES[e.kind];
          const value = e.removed ? 0 : 1;
          this.stmts.insertLog.run(seq, LOG_EDGE, user, target, kindCode, e.timestamp, value, null, null);
          out.push(seq, LOG_EDGE, user, target, kindCode, e.timestamp, value, null);
          out.edges++;
          this.edgeCount++;
          break;
        }
        case 'event': {
          const ev = r.event;
          const registryCode = this.types.code(ev.type);
          if (registryCode < 0) throw new Error(`store: unknown event type "${ev.type}"`);
          const user = this.internUser(ev.userId);
          let item = this.itemMap.get(ev.itemId);
          if (item === undefined) {
            item = this.itemIds.length;
            this.stmts.insertItem.run(item, ev.itemId, null, null, null, null, null);
            this.itemIds.push(ev.itemId);
            this.itemMap.set(ev.itemId, item);
            out.items.push({ index: item, author: -1, createdAt: NaN, tags: [] });
          }
          const seq = this.lastSeq + 1;
          const ctx = ev.context ? JSON.stringify(ev.context) : null;
          const value = ev.value ?? null;
          const info = this.stmts.insertLog.run(seq, LOG_EVENT, user, item, this.storeCode(registryCode), ev.timestamp, value, ev.id ?? null, ctx);
          if (info.changes === 0) {
            out.duplicates++;
          } else {
            this.lastSeq = seq;
            out.push(seq, LOG_EVENT, user, item, registryCode, ev.timestamp, value ?? NaN, ctx);
            out.events++;
            this.eventCount++;
          }
          break;
        }
      }
    }
  }

  append(records: readonly LogRecord[]): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ records, resolve, reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.importing) return;
    this.flushScheduled = true;
    const run = () => {
      this.flushScheduled = false;
      this.flush();
    };
    if (this.groupCommitMs > 0) setTimeout(run, this.groupCommitMs);
    else setImmediate(run);
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const before = this.mark();
    const results: (AppendResult | null)[] = [];
    const errors: unknown[] = [];
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    for (const p of batch) {
      const m = this.mark();
      const sink = new WriteSink(p.records.length);
      this.db.exec('SAVEPOINT req');
      try {
        this.writeRecords(p.records, sink);
        this.db.exec('RELEASE req');
        results.push(sink.result(p.records.length));
        errors.push(undefined);
      } catch (err) {
        this.db.exec('ROLLBACK TO req');
        this.db.exec('RELEASE req');
        this.undo(m);
        results.push(null);
        errors.push(err);
      }
    }
    try {
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.undo(before);
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, i) => {
      const r = results[i];
      if (r) p.resolve(r);
      else p.reject(errors[i]);
    });
    if (this.queue.length > 0) this.scheduleFlush();
  }

  async importRecords(records: AsyncIterable<LogRecord> | Iterable<LogRecord>, onRecords?: (n: number) => void): Promise<ImportResult> {
    if (this.importing) throw new Error('store: another import is running');
    // Let queued appends commit first, then hold new appends until the import ends.
    while (this.queue.length > 0 || this.flushScheduled) await new Promise((r) => setTimeout(r, this.groupCommitMs + 1));
    this.importing = true;
    const before = this.mark();
    const sink = new CountingSink();
    let n = 0;
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const buffer: LogRecord[] = [];
      const writeBuffer = () => {
        this.writeRecords(buffer, sink);
        n += buffer.length;
        buffer.length = 0;
        onRecords?.(n);
      };
      for await (const r of records as AsyncIterable<LogRecord>) {
        buffer.push(r);
        if (buffer.length >= 8192) writeBuffer();
      }
      writeBuffer();
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.undo(before);
      throw err;
    } finally {
      this.importing = false;
      if (this.queue.length > 0) this.scheduleFlush();
    }
    // New entities, whether they came as records or were first named by an event or edge.
    return {
      users: this.userIds.length - before.users,
      items: this.itemIds.length - before.items,
      edges: sink.edges,
      events: sink.events,
      duplicates: sink.duplicates,
    };
  }

  // ---- reading ----------------------------------------------------------------------------

  async *readLog(afterSeq = 0, chunkSize = 65536, withContext = true): AsyncIterable<LogChunk> {
    let from = afterSeq;
    const stmt = withContext ? this.stmts.readLog : this.stmts.readLogNoContext;
    for (;;) {
      const rows = stmt.all(from, chunkSize) as [number, number, number, number, number, number, number | null, string | null][];
      if (rows.length === 0) return;
      const chunk = emptyLogChunk(rows.length);
      const registryCodeOf = this.registryCodeOf;
      let n = 0;
      for (let r = 0; r < rows.length; r++) {
        const row = rows[r]!;
        const kind = row[1];
        const reg = kind === LOG_EVENT ? (registryCodeOf[row[4]] ?? -1) : row[4];
        if (reg < 0) continue; // an event type removed from the configuration: not part of the state
        chunk.seq[n] = row[0];
        chunk.kind[n] = kind;
        chunk.user[n] = row[2];
        chunk.target[n] = row[3];
        chunk.type[n] = reg;
        chunk.ts[n] = row[5];
        chunk.value[n] = row[6] ?? NaN;
        chunk.context[n] = row[7];
        n++;
      }
      chunk.length = n;
      from = rows[rows.length - 1][0];
      yield chunk;
      if (rows.length < chunkSize) return;
    }
  }

  async *readItems(chunkSize = 65536): AsyncIterable<ItemRecord[]> {
    let from = 0;
    for (;;) {
      const rows = this.stmts.readItems.all(from, chunkSize) as [number, number | null, number | null, string | null, string | null][];
      if (rows.length === 0) return;
      yield rows.map(([iid, author, created, tags, attrs]) => {
        const record: ItemRecord = { index: iid, author: author ?? -1, createdAt: created ?? NaN, tags: tags ? (JSON.parse(tags) as string[]) : [] };
        if (attrs) withAttributes(record, JSON.parse(attrs) as Record<string, unknown>, false);
        return record;
      });
      from = rows[rows.length - 1][0] + 1;
      if (rows.length < chunkSize) return;
    }
  }

  async postsByAuthors(authors: readonly number[], before: PostPosition | null, limit: number): Promise<PostPosition[]> {
    if (authors.length === 0 || limit <= 0) return [];
    const created = before ? before.createdAt : Number.MAX_VALUE;
    const index = before ? before.index : Number.MAX_SAFE_INTEGER;
    const rows = this.stmts.postsByAuthors.all(JSON.stringify(authors), created, created, index, limit) as [number, number][];
    return rows.map(([c, i]) => ({ createdAt: c, index: i }));
  }

  async getItems(indices: readonly number[]): Promise<Map<number, Item>> {
    const out = new Map<number, Item>();
    if (indices.length === 0) return out;
    const rows = this.stmts.getItems.all(JSON.stringify(indices)) as [number, string, string | null, number | null, string | null, string | null, string | null][];
    for (const [iid, ext, author, created, tags, text, attrs] of rows) {
      const item: Item = { id: ext };
      if (author !== null) item.authorId = author;
      if (created !== null) item.createdAt = created;
      if (tags !== null) item.tags = JSON.parse(tags) as string[];
      if (text !== null) item.text = text;
      if (attrs !== null) item.attributes = JSON.parse(attrs) as Record<string, unknown>;
      out.set(iid, item);
    }
    return out;
  }

  async getUser(index: number): Promise<User | undefined> {
    const row = this.stmts.getUser.get(index) as [string, number | null, string | null] | undefined;
    if (!row) return undefined;
    const user: User = { id: row[0] };
    if (row[1] !== null) user.createdAt = row[1];
    if (row[2] !== null) user.attributes = JSON.parse(row[2]) as Record<string, unknown>;
    return user;
  }

  async counts(): Promise<StoreCounts> {
    return {
      users: this.userIds.length,
      items: this.itemIds.length,
      edges: this.edgeCount,
      events: this.eventCount,
      lastSeq: this.lastSeq,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.queue.length > 0 || this.flushScheduled) await new Promise((r) => setTimeout(r, this.groupCommitMs + 1));
    this.closed = true;
    this.db.close();
  }
}

/** Where writeRecords reports what it wrote. */
interface RecordSink {
  users: number;
  edges: number;
  events: number;
  duplicates: number;
  items: { push(record: ItemRecord): unknown };
  push(seq: number, kind: number, user: number, target: number, type: number, ts: number, value: number, ctx: string | null): void;
}

/** Counts what an import wrote, without keeping the rows. */
class CountingSink implements RecordSink {
  users = 0;
  edges = 0;
  events = 0;
  duplicates = 0;
  readonly items = { push: (_record: ItemRecord): void => undefined };
  push(): void {}
}

/** Collects what one append wrote, as the columns the online state applies. */
class WriteSink implements RecordSink {
  users = 0;
  edges = 0;
  events = 0;
  duplicates = 0;
  readonly items: ItemRecord[] = [];
  private readonly chunk: LogChunk;

  constructor(capacity: number) {
    this.chunk = emptyLogChunk(Math.max(1, capacity));
  }

  push(seq: number, kind: number, user: number, target: number, type: number, ts: number, value: number, ctx: string | null): void {
    const c = this.chunk;
    const n = c.length++;
    c.seq[n] = seq;
    c.kind[n] = kind;
    c.user[n] = user;
    c.target[n] = target;
    c.type[n] = type;
    c.ts[n] = ts;
    c.value[n] = value;
    c.context[n] = ctx;
  }

  result(records: number): AppendResult {
    return {
      accepted: records,
      duplicates: this.duplicates,
      log: this.chunk,
      items: this.items,
    };
  }
}

/** The names of the attributes whose value is `true`, or undefined when there are none. */
/**
 * What the state reads of an item's attributes, in one pass: `flags`, the names whose value is
 * `true` (the mixer's rules), and `numbers`, the finite numeric values (the score's value terms).
 * `update`: both are always set (empty when none), so that the state clears what is gone.
 */
function withAttributes(record: ItemRecord, attributes: Record<string, unknown> | undefined, update: boolean): void {
  const flags: string[] = [];
  let numbers: Record<string, number> | undefined;
  for (const [k, v] of Object.entries(attributes ?? {})) {
    if (v === true) flags.push(k);
    else if (typeof v === 'number' && Number.isFinite(v)) (numbers ??= {})[k] = v;
  }
  if (update || flags.length > 0) record.flags = flags;
  if (update || numbers) record.numbers = numbers ?? {};
}
