/**
 * A read replica of the embedded store, for a server of several processes (server/cluster.ts).
 *
 * One process — the writer — owns the database's writes. A replica reads the same SQLite file
 * (WAL: readers never block the writer) and sends its writes to the writer over a channel; the
 * writer commits them durably and then announces every commit, its own replicas' and the
 * others', to all replicas in commit order. The replica adopts the commit's new ids and hands
 * the commit to `onCommit` (the engine folds it into its online state), so every process's
 * state follows the one log in the same order. A write resolves once the replica has applied
 * its own commit: a process reads its own writes.
 *
 * Until `release()` (the start: replaying the log, loading models), commits are kept, then
 * applied in order; the engine skips the log rows its replay already read.
 */
import type { LogRecord } from '../domain/types.js';
import { ValidationError } from '../domain/validate.js';
import type { SqliteStore } from './sqlite/sqlite-store.js';
import type { AppendResult, ImportResult, ItemRecord, LogChunk, PostPosition, Store, StoreCounts } from './store.js';

/** What the writer announces after each commit of a write. */
export interface CommitMessage {
  type: 'commit';
  /** The process whose write it was, and its request id there. */
  origin: number;
  id: number;
  usersFrom: number;
  users: string[];
  itemsFrom: number;
  items: string[];
  result: AppendResult;
}

export interface AppendRequest {
  type: 'append';
  id: number;
  records: readonly LogRecord[];
}

export interface AppendFailure {
  type: 'append-error';
  id: number;
  error: { message: string; field?: string; reason?: string };
}

/** The replica's link to the writer (a cluster worker's IPC channel, or a test's pair). */
export interface WriterChannel {
  /** This process's id as the writer knows it (CommitMessage.origin). */
  readonly self: number;
  send(message: AppendRequest): void;
}

/** Stores whose commits reach the engine through `onCommit` (instead of append's caller applying them). */
export interface ReplicatedStore extends Store {
  readonly replicated: true;
  onCommit: ((result: AppendResult) => void) | undefined;
}

export function isReplicated(store: Store): store is ReplicatedStore {
  return (store as Partial<ReplicatedStore>).replicated === true;
}

export class ReplicaStore implements ReplicatedStore {
  readonly replicated = true as const;
  readonly kind: string;
  onCommit: ((result: AppendResult) => void) | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: AppendResult) => void; reject: (e: Error) => void }>();
  private held: CommitMessage[] | undefined = [];
  private closed = false;

  constructor(
    private readonly inner: SqliteStore,
    private readonly channel: WriterChannel,
  ) {
    this.kind = `${inner.kind} (replica)`;
  }

  get userIds(): readonly string[] {
    return this.inner.userIds;
  }
  get itemIds(): readonly string[] {
    return this.inner.itemIds;
  }
  userIndex(id: string): number | undefined {
    return this.inner.userIndex(id);
  }
  itemIndex(id: string): number | undefined {
    return this.inner.itemIndex(id);
  }

  /** Replicas start held: commits arriving during the start wait; this applies them, and later ones as they come. */
  release(): void {
    const held = this.held;
    this.held = undefined;
    for (const m of held ?? []) this.apply(m);
  }

  /** Routes a message from the writer (commits, failed writes). */
  receive(message: CommitMessage | AppendFailure): void {
    if (message.type === 'append-error') {
      const p = this.pending.get(message.id);
      if (!p) return;
      this.pending.delete(message.id);
      const { message: text, field, reason } = message.error;
      p.reject(field !== undefined && reason !== undefined ? new ValidationError(field, reason) : new Error(text));
      return;
    }
    if (this.held) this.held.push(message);
    else this.apply(message);
  }

  private apply(m: CommitMessage): void {
    this.inner.adopt(m.usersFrom, m.users, m.itemsFrom, m.items, m.result.log);
    this.onCommit?.(m.result);
    if (m.origin !== this.channel.self) return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    p.resolve(m.result);
  }

  append(records: readonly LogRecord[]): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.channel.send({ type: 'append', id, records });
    });
  }

  /** Fails the writes still waiting for the writer (it is gone). */
  failPending(reason: string): void {
    for (const p of this.pending.values()) p.reject(new Error(reason));
    this.pending.clear();
  }

  importRecords(): Promise<ImportResult> {
    return Promise.reject(new Error('store: a replica does not import (run `lenta import` against the database while no server runs)'));
  }

  readItems(): AsyncIterable<ItemRecord[]> {
    return this.inner.readItems();
  }
  readLog(afterSeq?: number, chunkSize?: number, withContext?: boolean): AsyncIterable<LogChunk> {
    return this.inner.readLog(afterSeq, chunkSize, withContext);
  }
  postsByAuthors(authors: readonly number[], before: PostPosition | null, limit: number): Promise<PostPosition[]> {
    return this.inner.postsByAuthors(authors, before, limit);
  }
  getItems(indices: readonly number[]) {
    return this.inner.getItems(indices);
  }
  getUser(index: number) {
    return this.inner.getUser(index);
  }
  counts(): Promise<StoreCounts> {
    return this.inner.counts();
  }
  async close(): Promise<void> {
    this.closed = true;
    this.failPending('store is closed');
    await this.inner.close();
  }
}
