/**
 * A read-only view of a store's log with some (user, item) pairs left out: every event of a
 * held-out pair (engagements and impressions alike) is invisible, everything else — items,
 * edges, other events, the dense ids — is the base store's. With a `cutoff` time the view is
 * also the log as it was then: events and edges after it are invisible, and so are items
 * created after it. An engine opened on this view
 * replays and trains exactly as it would on a log where those interactions never happened,
 * which is how learned components (the source fusion) get held-out labels without copying
 * the log.
 */
import type { LogRecord } from '../domain/types.js';
import { emptyLogChunk, LOG_EVENT, type ImportResult, type LogChunk, type Store, type StoreCounts } from './store.js';

export class HoldoutView implements Store {
  readonly kind: string;

  /** `heldOut`: per dense user id, the dense item ids whose events are hidden. */
  constructor(
    private readonly base: Store,
    private readonly heldOut: ReadonlyMap<number, ReadonlySet<number>>,
    private readonly cutoff = Infinity,
  ) {
    this.kind = `${base.kind}+holdout`;
  }

  get userIds(): readonly string[] {
    return this.base.userIds;
  }
  get itemIds(): readonly string[] {
    return this.base.itemIds;
  }
  userIndex(id: string): number | undefined {
    return this.base.userIndex(id);
  }
  itemIndex(id: string): number | undefined {
    return this.base.itemIndex(id);
  }

  append(_records: readonly LogRecord[]): never {
    throw new Error('HoldoutView is read-only');
  }
  importRecords(): Promise<ImportResult> {
    return Promise.reject(new Error('HoldoutView is read-only'));
  }

  async *readItems() {
    for await (const items of this.base.readItems()) {
      yield Number.isFinite(this.cutoff) ? items.filter((it) => !(it.createdAt > this.cutoff)) : items;
    }
  }

  async *readLog(afterSeq = 0, chunkSize = 65536, withContext = true): AsyncIterable<LogChunk> {
    for await (const c of this.base.readLog(afterSeq, chunkSize, withContext)) {
      let drop = 0;
      for (let r = 0; r < c.length; r++) if (this.hides(c, r)) drop++;
      if (drop === 0) {
        yield c;
        continue;
      }
      if (drop === c.length) continue;
      const out = emptyLogChunk(c.length - drop);
      let w = 0;
      for (let r = 0; r < c.length; r++) {
        if (this.hides(c, r)) continue;
        out.seq[w] = c.seq[r]!;
        out.kind[w] = c.kind[r]!;
        out.user[w] = c.user[r]!;
        out.target[w] = c.target[r]!;
        out.type[w] = c.type[r]!;
        out.ts[w] = c.ts[r]!;
        out.value[w] = c.value[r]!;
        out.context[w] = c.context[r] ?? null;
        w++;
      }
      out.length = w;
      yield out;
    }
  }

  private hides(c: LogChunk, r: number): boolean {
    if (c.ts[r]! > this.cutoff) return true;
    return c.kind[r] === LOG_EVENT && (this.heldOut.get(c.user[r]!)?.has(c.target[r]!) ?? false);
  }

  postsByAuthors(...args: Parameters<Store['postsByAuthors']>) {
    return this.base.postsByAuthors(...args);
  }
  getItems(indices: readonly number[]) {
    return this.base.getItems(indices);
  }
  getUser(index: number) {
    return this.base.getUser(index);
  }
  /** The base store's counts (the view hides few rows; `lastSeq` is the base's). */
  counts(): Promise<StoreCounts> {
    return this.base.counts();
  }
  /** Closing the view leaves the base store open. */
  async close(): Promise<void> {}
}
