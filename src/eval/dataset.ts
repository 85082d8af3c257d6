/**
 * The evaluation data set: the interactions `(user, item, timestamp, value)` of a record
 * stream, with dense integer ids and typed arrays, as docs/EVAL_PROTOCOL.md defines them.
 *
 * - Interactions are the **engagement** events: types whose registry polarity is `positive`
 *   (rating, play, click, like, reply, …). Impressions (neutral) and negative signals
 *   (hide, report, …) are not interactions.
 * - Duplicate (user, item) pairs keep the **latest** event: the largest timestamp, and among
 *   equal timestamps the one later in the file. The kept event's value (stars, play count) is
 *   the interaction's value and its position in the stream is the interaction's file order.
 * - Interactions are stored in file order of their kept event; dense user and item ids are
 *   given in order of first appearance among the interactions (so "higher id" means "appeared
 *   later in the file", the newer item, which wins ties in rankings).
 *
 * Besides interactions the data set keeps what beyond-accuracy metrics need: item tags (for
 * tag-based diversity), item authors and the follow graph (for in-network share).
 */
import type { LogRecord } from '../domain/types.js';
import type { EventTypeRegistry } from '../domain/event-types.js';

export interface EvalDataset {
  name: string;
  /** Events are star ratings: test positives need value ≥ threshold. */
  explicitRatings: boolean;
  /** External ids. Ids `0 … numUsers-1` are users with interactions; later ids appear only in
   *  follow edges or as item authors. */
  userIds: string[];
  itemIds: string[];
  /** Users / items with at least one interaction. */
  numUsers: number;
  numItems: number;
  /** Number of interactions (after removing duplicate pairs). */
  size: number;
  user: Int32Array;
  item: Int32Array;
  timestamp: Float64Array;
  value: Float64Array;
  /** Position of the kept event among all engagement events of the stream (file order). */
  order: Int32Array;
  /** Event type of the kept event, as a code of `typeNames` (the registry's order). */
  eventType: Uint8Array;
  typeNames: string[];
  /** Engagement events read, before removing duplicate pairs. */
  eventsRead: number;
  /** Item tags as CSR over tag ids (`tagOffsets` has numItems + 1 entries), or undefined. */
  tags?: { offsets: Int32Array; ids: Int32Array; names: string[] };
  /** Numeric item attributes (e.g. MovieLens' release `year`): per name, a value per item (NaN: none). */
  itemNumbers?: Map<string, Float64Array>;
  /** Author of each item as a dense user id, or -1; undefined when no item has an author. */
  itemAuthor?: Int32Array;
  /** Follow graph as CSR over all user ids (follower → followed), or undefined without edges. */
  follows?: { offsets: Int32Array; targets: Int32Array };
}

export interface DatasetOptions {
  name: string;
  explicitRatings: boolean;
  types: EventTypeRegistry;
}

/** A growable typed-array column. */
class Column<T extends Int32Array | Float64Array> {
  data: T;
  length = 0;
  constructor(private readonly make: (n: number) => T) {
    this.data = make(1024);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = this.make(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  trimmed(): T {
    return this.data.subarray(0, this.length) as T;
  }
}

/** Interns string ids to dense integers in order of first appearance. */
class Interner {
  readonly ids: string[] = [];
  private readonly index = new Map<string, number>();
  get(id: string): number {
    let i = this.index.get(id);
    if (i === undefined) {
      i = this.ids.length;
      this.index.set(id, i);
      this.ids.push(id);
    }
    return i;
  }
  lookup(id: string): number | undefined {
    return this.index.get(id);
  }
}

/** Reads a record stream into an EvalDataset. */
export async function buildDataset(records: AsyncIterable<LogRecord> | Iterable<LogRecord>, options: DatasetOptions): Promise<EvalDataset> {
  const users = new Interner();
  const items = new Interner();
  const engagement = new Uint8Array(options.types.size);
  for (let c = 0; c < options.types.size; c++) engagement[c] = options.types.spec(c).polarity === 'positive' ? 1 : 0;

  const rawUser = new Column((n) => new Int32Array(n));
  const rawItem = new Column((n) => new Int32Array(n));
  const rawTs = new Column((n) => new Float64Array(n));
  const rawValue = new Column((n) => new Float64Array(n));
  const rawType = new Column((n) => new Int32Array(n));
  /** (user, item) pair → index of the kept raw event. */
  const kept = new Map<number, number>();
  const PAIR = 2 ** 26;

  const itemTags = new Map<string, string[]>();
  const itemNumbers = new Map<string, Map<string, number>>();
  const itemAuthors = new Map<string, string>();
  const follows = new Map<string, [string, string]>();

  const consume = (record: LogRecord): void => {
    if (record.kind === 'event') {
      const e = record.event;
      const code = options.types.code(e.type);
      // Unknown types and non-engagement types (impressions, negative signals) are skipped.
      if (code < 0 || engagement[code] === 0) return;
      const u = users.get(e.userId);
      const it = items.get(e.itemId);
      if (it >= PAIR) throw new Error(`evaluation supports at most ${PAIR} items`);
      const idx = rawUser.length;
      rawUser.push(u);
      rawItem.push(it);
      rawTs.push(e.timestamp);
      rawValue.push(e.value ?? 1);
      rawType.push(code);
      const key = u * PAIR + it;
      const prev = kept.get(key);
      // Latest timestamp wins; on equal timestamps the later event (this one) wins.
      if (prev === undefined || e.timestamp >= rawTs.data[prev]) kept.set(key, idx);
    } else if (record.kind === 'item') {
      const item = record.item;
      if (item.tags && item.tags.length > 0) itemTags.set(item.id, item.tags);
      for (const [k, v] of Object.entries(item.attributes ?? {})) {
        if (typeof v !== 'number' || !Number.isFinite(v)) continue;
        let m = itemNumbers.get(k);
        if (!m) itemNumbers.set(k, (m = new Map()));
        m.set(item.id, v);
      }
      if (item.authorId !== undefined) itemAuthors.set(item.id, item.authorId);
    } else if (record.kind === 'edge') {
      const edge = record.edge;
      if (edge.kind !== 'follow') return;
      const key = `${edge.userId}\u0000${edge.targetId}`;
      if (edge.removed) follows.delete(key);
      else follows.set(key, [edge.userId, edge.targetId]);
    }
  };

  if (Symbol.asyncIterator in records) {
    for await (const record of records as AsyncIterable<LogRecord>) consume(record);
  } else {
    for (const record of records as Iterable<LogRecord>) consume(record);
  }

  // Kept events in file order.
  const keptIdx = Int32Array.from(kept.values()).sort();
  const size = keptIdx.length;
  const user = new Int32Array(size);
  const item = new Int32Array(size);
  const timestamp = new Float64Array(size);
  const value = new Float64Array(size);
  const order = new Int32Array(size);
  const eventType = new Uint8Array(size);
  // Re-number users and items by first appearance among the kept interactions, so that the
  // ids of users/items whose every event was superseded do not leave holes.
  const userMap = new Int32Array(users.ids.length).fill(-1);
  const itemMap = new Int32Array(items.ids.length).fill(-1);
  const userIds: string[] = [];
  const itemIds: string[] = [];
  for (let n = 0; n < size; n++) {
    const r = keptIdx[n];
    const ru = rawUser.data[r];
    const ri = rawItem.data[r];
    if (userMap[ru] < 0) {
      userMap[ru] = userIds.length;
      userIds.push(users.ids[ru]);
    }
    if (itemMap[ri] < 0) {
      itemMap[ri] = itemIds.length;
      itemIds.push(items.ids[ri]);
    }
    user[n] = userMap[ru];
    item[n] = itemMap[ri];
    timestamp[n] = rawTs.data[r];
    value[n] = rawValue.data[r];
    order[n] = r;
    eventType[n] = rawType.data[r];
  }
  const numUsers = userIds.length;
  const numItems = itemIds.length;

  // Users outside the interactions (authors, follow endpoints) get ids after numUsers.
  const allUsers = new Map<string, number>();
  userIds.forEach((id, i) => allUsers.set(id, i));
  const userId = (id: string): number => {
    let i = allUsers.get(id);
    if (i === undefined) {
      i = userIds.length;
      allUsers.set(id, i);
      userIds.push(id);
    }
    return i;
  };

  const dataset: EvalDataset = {
    name: options.name,
    explicitRatings: options.explicitRatings,
    userIds,
    itemIds,
    numUsers,
    numItems,
    size,
    user,
    item,
    timestamp,
    value,
    order,
    eventType,
    typeNames: options.types.names(),
    eventsRead: rawUser.length,
  };

  if (itemTags.size > 0) {
    const tagIndex = new Interner();
    const offsets = new Int32Array(numItems + 1);
    const ids: number[] = [];
    for (let i = 0; i < numItems; i++) {
      const tags = itemTags.get(itemIds[i]);
      if (tags) {
        const unique = [...new Set(tags.map((t) => tagIndex.get(t)))].sort((a, b) => a - b);
        ids.push(...unique);
      }
      offsets[i + 1] = ids.length;
    }
    dataset.tags = { offsets, ids: Int32Array.from(ids), names: tagIndex.ids };
  }
  if (itemNumbers.size > 0) {
    dataset.itemNumbers = new Map();
    for (const [name, byId] of itemNumbers) dataset.itemNumbers.set(name, Float64Array.from({ length: numItems }, (_, i) => byId.get(itemIds[i]!) ?? NaN));
  }
  if (itemAuthors.size > 0) {
    const authors = new Int32Array(numItems).fill(-1);
    for (let i = 0; i < numItems; i++) {
      const a = itemAuthors.get(itemIds[i]);
      if (a !== undefined) authors[i] = userId(a);
    }
    dataset.itemAuthor = authors;
  }
  if (follows.size > 0) {
    const pairs: number[] = [];
    for (const [from, to] of follows.values()) pairs.push(userId(from), userId(to));
    const total = userIds.length;
    const offsets = new Int32Array(total + 1);
    for (let p = 0; p < pairs.length; p += 2) offsets[pairs[p] + 1]++;
    for (let u = 0; u < total; u++) offsets[u + 1] += offsets[u];
    const fill = offsets.slice(0, total);
    const targets = new Int32Array(pairs.length / 2);
    for (let p = 0; p < pairs.length; p += 2) targets[fill[pairs[p]]++] = pairs[p + 1];
    for (let u = 0; u < total; u++) targets.subarray(offsets[u], offsets[u + 1]).sort();
    dataset.follows = { offsets, targets };
  }
  return dataset;
}
