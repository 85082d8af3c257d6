/**
 * The Store: durable home of the event log and the entities. The core talks only to these
 * interfaces; `store/sqlite` implements them on an embedded SQLite file, and a Postgres
 * implementation can satisfy the same contract (and the same test suite) later.
 *
 * Ids are interned: every external user / item id gets a dense integer (0, 1, 2, …) the first
 * time the store sees it, and the log stores those integers. The online state uses the same
 * dense ids, so replay and online updates need no string work per event.
 */
import type { EdgeKind, Item, LogRecord, User } from '../domain/types.js';

export const EDGE_KIND_CODES: Record<EdgeKind, number> = { follow: 0, mute: 1, block: 2 };
export const EDGE_KIND_NAMES: readonly EdgeKind[] = ['follow', 'mute', 'block'];

/** Kinds of rows in the log. */
export const LOG_EVENT = 0;
export const LOG_EDGE = 1;

/**
 * A run of log rows in columns. For events: `user` engaged with item `target` with event
 * type `type` (a code of the engine's EventTypeRegistry). For edges: `user` → user `target`
 * of edge kind `type` (EDGE_KIND_CODES); `value` is 1 for an add and 0 for a removal.
 */
export interface LogChunk {
  length: number;
  seq: Float64Array;
  kind: Uint8Array;
  user: Int32Array;
  target: Int32Array;
  type: Int16Array;
  ts: Float64Array;
  value: Float64Array;
  /** JSON of the event context, or null. */
  context: (string | null)[];
}

/** An item as the state needs it: dense ids, no text. */
export interface ItemRecord {
  index: number;
  /** Dense user id of the author, or -1. */
  author: number;
  /** Creation time (ms); NaN when unknown. */
  createdAt: number;
  tags: string[];
  /** Names of the item's attributes whose value is `true` (e.g. `unsafe`, `verified`): what the mixer's rules read. */
  flags?: string[];
  /** The item's numeric attributes (finite numbers, e.g. `price`); on an update, all of them (absent ones are cleared). */
  numbers?: Record<string, number>;
}

export interface AppendResult {
  /** Records of the batch now durable (all of them: a batch is all-or-nothing). */
  accepted: number;
  /** Of those, events whose id was already in the log (re-sent; written once). */
  duplicates: number;
  /** What was written, encoded, in log order: the online state applies exactly this. */
  log: LogChunk;
  items: ItemRecord[];
}

/** A post's place in a chronological feed (keyset pagination). */
export interface PostPosition {
  createdAt: number;
  index: number;
}

export interface ImportResult {
  /** Users and items new to the store (from records, or first named by an event or edge). */
  users: number;
  items: number;
  edges: number;
  events: number;
  duplicates: number;
}

export interface StoreCounts {
  users: number;
  items: number;
  edges: number;
  events: number;
  lastSeq: number;
}

export interface Store {
  readonly kind: string;
  /** External ids by dense id (the arrays grow as ids are interned). */
  readonly userIds: readonly string[];
  readonly itemIds: readonly string[];
  userIndex(id: string): number | undefined;
  itemIndex(id: string): number | undefined;

  /**
   * Writes one batch durably and all-or-nothing: when the promise resolves the batch is on
   * disk; when it rejects nothing of it was written. Concurrent calls share commits.
   */
  append(records: readonly LogRecord[]): Promise<AppendResult>;

  /**
   * Imports a stream in one transaction: nothing is visible (or kept) unless the whole stream
   * was read and written. `onRecords` reports progress.
   */
  importRecords(records: AsyncIterable<LogRecord> | Iterable<LogRecord>, onRecords?: (n: number) => void): Promise<ImportResult>;

  /** All items, in dense-id order. */
  readItems(): AsyncIterable<ItemRecord[]>;
  /** The log in order, from `afterSeq` (exclusive), in chunks; `withContext: false` skips the context JSON (faster). */
  readLog(afterSeq?: number, chunkSize?: number, withContext?: boolean): AsyncIterable<LogChunk>;
  /**
   * Posts of the given authors, newest first (by creation time, then dense id), strictly
   * before the keyset position `before` — the chronological following feed's page query.
   */
  postsByAuthors(authors: readonly number[], before: PostPosition | null, limit: number): Promise<PostPosition[]>;
  /** Full entities for responses. */
  getItems(indices: readonly number[]): Promise<Map<number, Item>>;
  getUser(index: number): Promise<User | undefined>;
  counts(): Promise<StoreCounts>;
  close(): Promise<void>;
}

export function emptyLogChunk(capacity: number): LogChunk {
  return {
    length: 0,
    seq: new Float64Array(capacity),
    kind: new Uint8Array(capacity),
    user: new Int32Array(capacity),
    target: new Int32Array(capacity),
    type: new Int16Array(capacity),
    ts: new Float64Array(capacity),
    value: new Float64Array(capacity),
    context: new Array<string | null>(capacity).fill(null),
  };
}
