/**
 * The online state: everything the feed needs to know about the platform right now, derived
 * only by folding the log (events and edges in log order) and the item catalogue.
 *
 * - windowed counters per user, item, author, user×author and user×tag, per event type
 *   (and a virtual type ENGAGED = any positive engagement);
 * - the follow graph (follow, mute, block, with reverse indexes);
 * - each user's recent history and each item's recent engagers (the user–item graph);
 * - each user's seen items (impressions) and each author's recent posts.
 *
 * Rebuilt by replay at start (`replay`), updated per appended batch online (`apply`): the
 * same function in both cases, so the state after a restart equals the state before.
 */
import { createHash } from 'node:crypto';
import type { EventTypeRegistry } from '../domain/event-types.js';
import { EDGE_KIND_CODES, LOG_EDGE, LOG_EVENT, type ItemRecord, type LogChunk, type Store } from '../store/store.js';
import { DecayedCounterTable } from './decayed-counters.js';
import { AdjacencySets, RingLists } from './lists.js';

export interface StateOptions {
  /** Window lengths (ms) of every counter, shortest first. */
  windowsMs: readonly number[];
  historyLength: number;
  engagersPerItem: number;
  seenPerUser: number;
  postsPerAuthor: number;
  /** Numeric item attributes kept per item (e.g. `price`, `margin`: the score formula's value terms). */
  numericAttributes?: readonly string[];
}

export const DEFAULT_STATE_OPTIONS: StateOptions = {
  windowsMs: [30 * 60_000, 86_400_000, 3 * 86_400_000, 50 * 86_400_000],
  historyLength: 200,
  engagersPerItem: 64,
  seenPerUser: 2000,
  postsPerAuthor: 64,
};

const FOLLOW = EDGE_KIND_CODES.follow;
const MUTE = EDGE_KIND_CODES.mute;
const BLOCK = EDGE_KIND_CODES.block;

export class OnlineState {
  readonly types: EventTypeRegistry;
  readonly options: StateOptions;
  /** Virtual event type code: any positive engagement. */
  readonly ENGAGED: number;
  readonly impressionType: number;
  /** Per event type code: +1 positive, −1 negative, 0 neutral. */
  readonly polarity: Int8Array;
  /** Per event type: its `positiveFrom` (the value from which an engagement of the type is liked: a label and the liked history), NaN when it has none. */
  readonly likedFrom: Float64Array;
  /** Event type codes that carry a signal (positive or negative), ascending. */
  readonly signalTypes: readonly number[];

  // counters
  readonly itemCounts: DecayedCounterTable;
  readonly userCounts: DecayedCounterTable;
  readonly authorCounts: DecayedCounterTable;
  readonly userAuthorCounts: DecayedCounterTable;
  readonly userTagCounts: DecayedCounterTable;

  // graph
  readonly following = new AdjacencySets();
  readonly followers = new AdjacencySets();
  readonly muting = new AdjacencySets();
  readonly blocking = new AdjacencySets();
  readonly blockedBy = new AdjacencySets();

  // histories
  readonly history: RingLists;
  readonly engagers: RingLists;
  readonly seen: RingLists;
  readonly authorPosts: RingLists;
  /** The newest items of the platform, in the order they were first created (fresh pools). */
  readonly newItems: RingLists;
  /** The latest positive engagements on the whole platform (items), for popular/trending pools. */
  readonly recentEngagements: RingLists;

  // items
  private itemAuthor = new Int32Array(1024).fill(-1);
  private itemCreated = new Float64Array(1024).fill(NaN);
  private itemFirstSeen = new Float64Array(1024).fill(NaN);
  private itemIndexedUnder = new Int32Array(1024).fill(-1);
  /** Per item, a bit per flag (an attribute that is `true`: see flagId); at most 32 distinct flag names. */
  private itemFlags = new Uint32Array(1024);
  private readonly flagIds = new Map<string, number>();
  /** Per kept numeric attribute (StateOptions.numericAttributes), its value per item (NaN: none). */
  private numberColumns: Float64Array[] = [];
  private readonly numberNames: string[] = [];
  private readonly itemTagIds: (Int32Array | undefined)[] = [];
  /** Distinct tag lists (joined tag ids → the shared array; see internTags). */
  private readonly tagLists = new Map<string, Int32Array>();
  private itemCount = 0;
  readonly tagIds = new Map<string, number>();
  readonly tagNames: string[] = [];

  /**
   * How many times an item that the state already knew (a dense id below `items`) was given tags
   * (a catalogue update, or the record of an item first seen in an event): while it is
   * unchanged, no item's tags have changed, so caches of tags can skip their per-item checks.
   */
  tagEdits = 0;

  /** Latest event time seen (the log clock). */
  clock = -Infinity;
  lastSeq = 0;
  events = 0;
  /** Positive engagements applied (events less impressions and negative or neutral ones). */
  engagements = 0;
  edgeRecords = 0;

  constructor(types: EventTypeRegistry, options: Partial<StateOptions> = {}) {
    this.types = types;
    this.options = { ...DEFAULT_STATE_OPTIONS, ...options };
    for (const name of new Set(this.options.numericAttributes ?? [])) {
      this.numberNames.push(name);
      this.numberColumns.push(new Float64Array(this.itemAuthor.length).fill(NaN));
    }
    const w = this.options.windowsMs;
    this.ENGAGED = types.size;
    this.impressionType = types.code('impression');
    this.polarity = new Int8Array(types.size + 1);
    types.specs.forEach((s, i) => (this.polarity[i] = s.polarity === 'positive' ? 1 : s.polarity === 'negative' ? -1 : 0));
    this.signalTypes = types.specs.map((_, t) => t).filter((t) => this.polarity[t] !== 0);
    this.likedFrom = new Float64Array(types.size + 1).fill(NaN);
    types.specs.forEach((s, i) => (this.likedFrom[i] = s.polarity === 'positive' && s.positiveFrom !== undefined ? s.positiveFrom : NaN));
    // Per-item, per-user and per-author counters are keyed (dense id, 0, type): found directly.
    const direct = { directTypes: types.size + 1 };
    this.itemCounts = new DecayedCounterTable('item', w, 4096, direct);
    this.userCounts = new DecayedCounterTable('user', w, 4096, direct);
    this.authorCounts = new DecayedCounterTable('author', w, 1024, direct);
    this.userAuthorCounts = new DecayedCounterTable('user_author', w, 16384);
    this.userTagCounts = new DecayedCounterTable('user_tag', w, 16384);
    this.history = new RingLists(this.options.historyLength, true, true);
    this.engagers = new RingLists(this.options.engagersPerItem);
    this.seen = new RingLists(this.options.seenPerUser, false);
    this.authorPosts = new RingLists(this.options.postsPerAuthor);
    this.recentEngagements = new RingLists(100_000, false);
    this.newItems = new RingLists(50_000, false);
  }

  get items(): number {
    return this.itemCount;
  }

  author(item: number): number {
    return item < this.itemCount ? this.itemAuthor[item] : -1;
  }

  /** Creation time of an item; the time of its first event when the catalogue has none; NaN if unknown. */
  createdAt(item: number): number {
    if (item >= this.itemCount) return NaN;
    const c = this.itemCreated[item];
    return Number.isNaN(c) ? this.itemFirstSeen[item] : c;
  }

  /** The item's tag ids (read-only: the array is shared by the items with the same tags). */
  tags(item: number): Int32Array | undefined {
    return this.itemTagIds[item];
  }

  /**
   * The bit of a flag name (an item attribute that is `true`), −1 when no item has it. Flags
   * beyond the 32nd distinct name are not kept (reported once).
   */
  flagBit(name: string, create = false): number {
    const known = this.flagIds.get(name);
    if (known !== undefined || !create) return known ?? -1;
    if (this.flagIds.size >= 32) {
      if (!this.flagOverflow) process.stderr.write(`lenta: item attribute "${name}" not kept as a flag: at most 32 distinct true-valued attributes\n`);
      this.flagOverflow = true;
      return -1;
    }
    const bit = this.flagIds.size;
    this.flagIds.set(name, bit);
    return bit;
  }

  private flagOverflow = false;

  /** The column of a kept numeric attribute (for numberAt), −1 when it is not kept. */
  numberColumn(name: string): number {
    return this.numberNames.indexOf(name);
  }

  /** The item's value of a kept numeric attribute (numberColumn), NaN when it has none. */
  numberAt(column: number, item: number): number {
    return item < this.itemCount ? this.numberColumns[column]![item]! : NaN;
  }

  /** True when the item has any of the flags in `mask` (bits from flagBit). */
  hasFlags(item: number, mask: number): boolean {
    return item < this.itemCount && (this.itemFlags[item]! & mask) !== 0;
  }

  /** The mask of these flag names (names no item has are left out). */
  flagMask(names: readonly string[]): number {
    let mask = 0;
    for (const n of names) {
      const bit = this.flagBit(n);
      if (bit >= 0) mask |= 1 << bit;
    }
    return mask >>> 0;
  }

  private ensureItems(n: number): void {
    if (n <= this.itemAuthor.length) {
      if (n > this.itemCount) this.itemCount = n;
      return;
    }
    let cap = this.itemAuthor.length;
    while (cap < n) cap *= 2;
    const grow = <T extends Int32Array | Uint32Array | Float64Array>(old: T, fill: number): T => {
      const next = new (old.constructor as { new (n: number): T })(cap);
      next.fill(fill);
      next.set(old);
      return next;
    };
    this.itemAuthor = grow(this.itemAuthor, -1);
    this.itemCreated = grow(this.itemCreated, NaN);
    this.itemFirstSeen = grow(this.itemFirstSeen, NaN);
    this.itemIndexedUnder = grow(this.itemIndexedUnder, -1);
    this.itemFlags = grow(this.itemFlags, 0);
    this.numberColumns = this.numberColumns.map((c) => grow(c, NaN));
    this.itemCount = n;
  }

  tagId(tag: string): number {
    let id = this.tagIds.get(tag);
    if (id === undefined) {
      id = this.tagNames.length;
      this.tagIds.set(tag, id);
      this.tagNames.push(tag);
    }
    return id;
  }

  /**
   * The tag-id array of a tag list, shared by every item with the same tags (a catalogue has far
   * fewer distinct tag lists than items; one typed array per item made the V8 heap, and with it
   * every minor GC pause, larger).
   */
  private internTags(tags: readonly string[]): Int32Array {
    let key = '';
    for (let k = 0; k < tags.length; k++) key += (k > 0 ? ',' : '') + this.tagId(tags[k]!);
    let ids = this.tagLists.get(key);
    if (!ids) {
      ids = Int32Array.from(tags, (t) => this.tagId(t));
      this.tagLists.set(key, ids);
    }
    return ids;
  }

  applyItems(items: readonly ItemRecord[]): void {
    for (const it of items) {
      const known = this.itemCount;
      this.ensureItems(it.index + 1);
      this.itemAuthor[it.index] = it.author;
      if (!Number.isNaN(it.createdAt) && Number.isNaN(this.itemCreated[it.index])) this.newItems.push(0, it.index);
      if (!Number.isNaN(it.createdAt)) this.itemCreated[it.index] = it.createdAt;
      if (it.tags.length > 0) {
        if (it.index < known) this.tagEdits++;
        this.itemTagIds[it.index] = this.internTags(it.tags);
      }
      if (it.flags) {
        let mask = 0;
        for (const f of it.flags) {
          const bit = this.flagBit(f, true);
          if (bit >= 0) mask |= 1 << bit;
        }
        this.itemFlags[it.index] = mask >>> 0;
      }
      if (it.numbers) {
        for (let k = 0; k < this.numberNames.length; k++) this.numberColumns[k]![it.index] = it.numbers[this.numberNames[k]!] ?? NaN;
      }
      if (it.author >= 0 && this.itemIndexedUnder[it.index] !== it.author) {
        this.itemIndexedUnder[it.index] = it.author;
        this.authorPosts.push(it.author, it.index, 0, this.itemCreated[it.index]);
      }
    }
  }

  /** Applies a run of log rows (in log order). */
  applyLog(chunk: LogChunk): void {
    for (let r = 0; r < chunk.length; r++) {
      if (chunk.kind[r] === LOG_EVENT) this.applyEvent(chunk.user[r], chunk.target[r], chunk.type[r], chunk.ts[r], chunk.value[r]);
      else if (chunk.kind[r] === LOG_EDGE) this.applyEdge(chunk.user[r], chunk.target[r], chunk.type[r], chunk.value[r] !== 0);
      if (chunk.seq[r] > this.lastSeq) this.lastSeq = chunk.seq[r];
    }
  }

  apply(items: readonly ItemRecord[], chunk: LogChunk): void {
    this.applyItems(items);
    this.applyLog(chunk);
  }

  private applyEvent(user: number, item: number, type: number, ts: number, value: number): void {
    this.events++;
    if (ts > this.clock) this.clock = ts;
    if (item >= this.itemCount) this.ensureItems(item + 1);
    if (Number.isNaN(this.itemFirstSeen[item])) this.itemFirstSeen[item] = ts;
    const author = this.itemAuthor[item];
    const tags = this.itemTagIds[item];
    const polarity = this.polarity[type];
    this.count(user, item, author, tags, type, ts);
    if (type === this.impressionType) {
      this.seen.push(user, item);
      return;
    }
    if (polarity > 0) this.count(user, item, author, tags, this.ENGAGED, ts);
    if (polarity !== 0) this.history.push(user, item, type, ts, value);
    if (polarity > 0) {
      this.engagements++;
      this.engagers.push(item, user, type, ts);
      this.recentEngagements.push(0, item);
    }
  }

  private count(user: number, item: number, author: number, tags: Int32Array | undefined, type: number, ts: number): void {
    this.itemCounts.add(item, 0, type, ts);
    this.userCounts.add(user, 0, type, ts);
    if (author >= 0) {
      this.authorCounts.add(author, 0, type, ts);
      this.userAuthorCounts.add(user, author, type, ts);
    }
    if (tags) for (let k = 0; k < tags.length; k++) this.userTagCounts.add(user, tags[k], type, ts);
  }

  private applyEdge(user: number, target: number, kind: number, add: boolean): void {
    this.edgeRecords++;
    if (kind === FOLLOW) {
      if (add) {
        this.following.add(user, target);
        this.followers.add(target, user);
      } else {
        this.following.remove(user, target);
        this.followers.remove(target, user);
      }
    } else if (kind === MUTE) {
      if (add) this.muting.add(user, target);
      else this.muting.remove(user, target);
    } else if (kind === BLOCK) {
      if (add) {
        this.blocking.add(user, target);
        this.blockedBy.add(target, user);
        // A block also ends follows in both directions.
        this.following.remove(user, target);
        this.followers.remove(target, user);
        this.following.remove(target, user);
        this.followers.remove(user, target);
      } else {
        this.blocking.remove(user, target);
        this.blockedBy.remove(target, user);
      }
    }
  }

  /** Rebuilds from the store: the catalogue, then the whole log in order. */
  async replay(store: Store, onProgress?: (rows: number) => void): Promise<void> {
    for await (const items of store.readItems()) this.applyItems(items);
    let rows = 0;
    for await (const chunk of store.readLog(this.lastSeq, 65536, false)) {
      this.applyLog(chunk);
      rows += chunk.length;
      onProgress?.(rows);
    }
  }

  /** True when `viewer` must not see `author` (muted, blocked, or blocked by the author). */
  hidesAuthor(viewer: number, author: number): boolean {
    return this.muting.has(viewer, author) || this.blocking.has(viewer, author) || this.blockedBy.has(viewer, author);
  }

  /** Bytes held by the state's typed arrays, by structure. */
  memory(): Record<string, number> {
    return {
      item_counters: this.itemCounts.bytes,
      user_counters: this.userCounts.bytes,
      author_counters: this.authorCounts.bytes,
      user_author_counters: this.userAuthorCounts.bytes,
      user_tag_counters: this.userTagCounts.bytes,
      graph: this.following.bytes + this.followers.bytes + this.muting.bytes + this.blocking.bytes + this.blockedBy.bytes,
      history: this.history.bytes,
      engagers: this.engagers.bytes,
      seen: this.seen.bytes,
      author_posts: this.authorPosts.bytes,
      recent_engagements: this.recentEngagements.bytes,
      new_items: this.newItems.bytes,
      items: this.itemAuthor.byteLength + this.itemCreated.byteLength * 2 + this.itemIndexedUnder.byteLength,
    };
  }

  /**
   * A fingerprint of the whole state (counters with their exact float bits, graph, histories,
   * seen sets): equal fingerprints mean equal states. Used to check that replay rebuilds
   * exactly what online updates built.
   */
  fingerprint(): string {
    const h = createHash('sha256');
    const tables = [this.itemCounts, this.userCounts, this.authorCounts, this.userAuthorCounts, this.userTagCounts];
    for (const table of tables) {
      const rows: string[] = [];
      table.forEach((a, b, t, last, values) => rows.push(`${a},${b},${t},${last},${Array.from(values).join(',')}`));
      rows.sort();
      h.update(`${table.name}:${rows.length}\n${rows.join('\n')}\n`);
    }
    for (const [name, sets] of [
      ['following', this.following],
      ['followers', this.followers],
      ['muting', this.muting],
      ['blocking', this.blocking],
    ] as const) {
      h.update(`${name}:${sets.edges}\n`);
    }
    const ringDump = (name: string, ring: RingLists, nodes: number) => {
      h.update(`${name}\n`);
      for (let n = 0; n < nodes; n++) {
        if (ring.size(n) === 0) continue;
        const parts: string[] = [];
        ring.forEachRecent(n, (v, t, ts, strength) => {
          parts.push(strength === strength ? `${v}/${t}/${ts}/${strength}` : `${v}/${t}/${ts}`);
        });
        h.update(`${n}:${parts.join(' ')}\n`);
      }
    };
    const userCount = this.maxUserSeen + 1;
    ringDump('history', this.history, userCount);
    ringDump('seen', this.seen, userCount);
    ringDump('engagers', this.engagers, this.itemCount);
    ringDump('author_posts', this.authorPosts, userCount);
    ringDump('recent_engagements', this.recentEngagements, 1);
    ringDump('new_items', this.newItems, 1);
    for (let n = 0; n < userCount; n++) {
      const f = Array.from(this.following.get(n)).sort((x, y) => x - y);
      if (f.length) h.update(`f${n}:${f.join(',')}\n`);
      const b = Array.from(this.blocking.get(n)).sort((x, y) => x - y);
      if (b.length) h.update(`b${n}:${b.join(',')}\n`);
      const m = Array.from(this.muting.get(n)).sort((x, y) => x - y);
      if (m.length) h.update(`m${n}:${m.join(',')}\n`);
    }
    h.update(`clock:${this.clock} events:${this.events} edges:${this.edgeRecords} items:${this.itemCount}\n`);
    return h.digest('hex');
  }

  /** Largest user index referenced so far (for iteration in fingerprints and stats). */
  get maxUserSeen(): number {
    let max = -1;
    this.userCounts.forEach((a) => {
      if (a > max) max = a;
    });
    return Math.max(max, this.following.maxNode, this.followers.maxNode, this.muting.maxNode, this.blocking.maxNode, this.authorPosts.maxNode);
  }
}
