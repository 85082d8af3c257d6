/**
 * Test fixture for candidate sources: a small platform on the real embedded store (SQLite in
 * memory) with the online state folded from what the store wrote, exactly as the engine does
 * (Engine.ingest: store.append, then state.apply of the result's items and log, then the
 * trainable sources' update). Tests name users and items by their external ids and map them to
 * the store's dense ids with `user()` / `item()`. Not a test file itself; the stores it opens
 * are closed when the test that opened them ends.
 */
import { parseConfig } from '../domain/config.js';
import type { TestContext } from 'node:test';
import { EventTypeRegistry } from '../domain/event-types.js';
import type { EdgeKind, EpochMs, LogRecord } from '../domain/types.js';
import type { FeedQuery, SourceTrainingContext, TrainableSource } from '../pipeline/types.js';
import { OnlineState } from '../state/online-state.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { AppendResult } from '../store/store.js';

export interface TestPlatform {
  types: EventTypeRegistry;
  store: SqliteStore;
  state: OnlineState;
  /** The clock when the platform was opened: the time of its newest event (0 without events). */
  now: number;
  /** The training context of the opened platform (state, store, now). */
  ctx: SourceTrainingContext;
  /** Dense id of a user, −1 when the store does not know it. */
  user(id: string): number;
  /** Dense id of an item (throws when the store does not know it: a mistake in the test). */
  item(id: string): number;
  /** External ids of dense item ids. */
  itemNames(items: readonly number[]): string[];
  /** Writes records like Engine.ingest: append, apply to the state, update the given sources. */
  ingest(records: readonly LogRecord[], ...sources: TrainableSource[]): Promise<AppendResult>;
  /** A For You query of the user (by external id) at `now`; `extra` overrides any field. */
  query(userId: string, extra?: Partial<FeedQuery>): FeedQuery;
}

/** Opens an in-memory store, writes `records` and folds them into a fresh online state. */
export async function openPlatform(t: TestContext, records: readonly LogRecord[]): Promise<TestPlatform> {
  const types = new EventTypeRegistry();
  const store = SqliteStore.open({ path: ':memory:', types, synchronous: 'OFF' });
  t.after(() => store.close());
  const state = new OnlineState(types);
  const ingest = async (batch: readonly LogRecord[], ...sources: TrainableSource[]) => {
    const result = await store.append(batch);
    state.apply(result.items, result.log);
    for (const source of sources) source.update?.(state, result.items, result.log);
    return result;
  };
  if (records.length > 0) await ingest(records);
  const now = Number.isFinite(state.clock) ? state.clock : 0;
  const defaults = parseConfig({});
  const user = (id: string) => store.userIndex(id) ?? -1;
  return {
    types,
    store,
    state,
    now,
    ctx: { state, store, now },
    user,
    item(id) {
      const index = store.itemIndex(id);
      if (index === undefined) throw new Error(`test platform: no item "${id}"`);
      return index;
    },
    itemNames: (items) => items.map((i) => store.itemIds[i] ?? `#${i}`),
    ingest,
    query: (userId, extra = {}) => ({
      user: user(userId),
      userId,
      limit: 10,
      now,
      requestId: 'r',
      variant: 'default',
      served: new Set(),
      seen: new Set(),
      exclude: new Set(),
      state,
      mix: defaults.mix,
      feed: defaults.feed,
      ...extra,
    }),
  };
}

/** An item record (a post): author, creation time and tags as given. */
export function post(id: string, authorId?: string, createdAt?: EpochMs, tags?: string[]): LogRecord {
  return { kind: 'item', item: { id, authorId, createdAt, tags } };
}

export function event(userId: string, itemId: string, type: string, timestamp: EpochMs): LogRecord {
  return { kind: 'event', event: { userId, itemId, type, timestamp } };
}

export function edge(userId: string, targetId: string, kind: EdgeKind, timestamp: EpochMs): LogRecord {
  return { kind: 'edge', edge: { userId, targetId, kind, timestamp } };
}

/** `count` new posts without author or time (`new0`, `new1`, …): grows the catalogue past the sources' scratch arrays. */
export function newPosts(count: number): LogRecord[] {
  return Array.from({ length: count }, (_, k) => post(`new${k}`));
}
