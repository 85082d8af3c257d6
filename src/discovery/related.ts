/**
 * Related items ("more like this" under a post): what the people who engaged with the item
 * also engaged with, filled up with posts on the same topics and the author's other posts when
 * there is too little co-engagement.
 *
 * 1. co_engagement — two sources, each scaled to a best weight of 1 per item:
 *    - the item-to-item source's trained graph (`neighboursOf(item)`: RP3β or cosine rows, top
 *      weight 1), and
 *    - the online co-engagement of the state, which covers items newer than the training: the
 *      item's recent engagers (state.engagers) → their recent positive history (state.history);
 *      co(i, j) = distinct users who engaged with both, weight co / √(|engagers(i)| · |engagers(j)|)
 *      (cosine), kept when co ≥ MIN_CO_ENGAGERS.
 *    An item's co-engagement score is the larger of the two.
 * 2. Fill-up when fewer than `limit` items have co-engagement:
 *    - same_tags: items sharing the item's tags, by idf-weighted overlap
 *      Σ_{t ∈ shared} idf(t) / Σ_{t ∈ tags(i)} idf(t), idf(t) = ln(1 + N / df(t));
 *    - same_author: the author's other recent posts (state.authorPosts), at a flat 0.5;
 *    both × (0.8 + 0.2 · pop(j)), pop(j) = 1 − 1 / (1 + ln(1 + engaged_j)) (engagement on the
 *    ~3-day window), so that among equally similar posts the engaged ones come first. The
 *    reason is the larger of the two parts. Fill-up scores are scaled below half the weakest
 *    co-engagement score returned, so the list is always in score order.
 *
 * A pure function of the state and the sources; the only memory it keeps is a bounded tag →
 * newest items index per state (TAG_INDEX_PER_TAG items per tag), extended with new items and
 * rebuilt when an item's tags change (state.tagEdits).
 */
import type { SourceEntry } from '../candidates/index.js';
import { ItemToItemSource } from '../candidates/item-to-item.js';
import type { OnlineState } from '../state/online-state.js';
import { RingLists } from '../state/lists.js';
import type { Store } from '../store/store.js';

/** What the discovery functions read: the engine's state, its candidate sources, the store's ids, the feed clock. */
export interface DiscoveryContext {
  state: OnlineState;
  sources: readonly SourceEntry[];
  store: Pick<Store, 'userIds' | 'itemIds'>;
  now: number;
}

export type RelatedReason = 'co_engagement' | 'same_tags' | 'same_author';

export interface RelatedItem {
  item: number;
  score: number;
  reason: RelatedReason;
}

export interface RelatedOptions {
  limit: number;
}

/** A related item as the API serves it. */
export interface RelatedItemView {
  id: string;
  score: number;
  authorId?: string;
  tags?: string[];
  reason: RelatedReason;
}

/** External ids, authors and tags of related items (scores rounded to 6 decimals). */
export async function hydrateRelated(store: Pick<Store, 'itemIds' | 'getItems'>, related: readonly RelatedItem[]): Promise<RelatedItemView[]> {
  const entities = await store.getItems(related.map((r) => r.item));
  return related.map((r) => {
    const item = entities.get(r.item);
    // Key order as documented: id, score, authorId?, tags?, reason.
    const out = { id: item?.id ?? store.itemIds[r.item] ?? String(r.item), score: round6(r.score) } as RelatedItemView;
    if (item?.authorId !== undefined) out.authorId = item.authorId;
    if (item?.tags && item.tags.length > 0) out.tags = item.tags;
    out.reason = r.reason;
    return out;
  });
}

export function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Online co-engagement needs this many distinct users who engaged with both items. */
export const MIN_CO_ENGAGERS = 2;
/** Positive history items read per engager for the online co-engagement. */
const HISTORY_PER_ENGAGER = 200;
/** Newest items kept per tag in the tag index. */
const TAG_INDEX_PER_TAG = 1000;
const SAME_AUTHOR_WEIGHT = 0.5;

/** Items related to `item` (a dense id the state knows), best first, at most `limit`. */
export function relatedItems(ctx: DiscoveryContext, item: number, options: RelatedOptions): RelatedItem[] {
  const { state } = ctx;
  const limit = Math.max(0, Math.floor(options.limit));
  if (limit === 0 || item < 0 || item >= state.items) return [];

  // 1. Co-engagement: the trained graph and the online engagers, each with a best weight of 1.
  const co = new Map<number, number>();
  const i2i = ctx.sources.map((e) => e.source).find((s): s is ItemToItemSource => s instanceof ItemToItemSource);
  for (const { item: j, weight } of i2i?.neighboursOf(item) ?? []) {
    if (j !== item && weight > 0) co.set(j, Math.max(co.get(j) ?? 0, weight));
  }
  const online = onlineCoEngagement(state, item);
  for (const [j, w] of online) co.set(j, Math.max(co.get(j) ?? 0, w));

  const ranked = [...co].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, limit);
  const out: RelatedItem[] = ranked.map(([j, s]) => ({ item: j, score: s, reason: 'co_engagement' }));
  if (out.length >= limit) return out;

  // 2. Fill-up: same tags, same author.
  const taken = new Set<number>([item, ...co.keys()]);
  const fill = new Map<number, { tags: number; author: number }>();
  const tags = state.tags(item);
  if (tags && tags.length > 0) {
    const index = tagIndex(state);
    const n = Math.max(1, state.items);
    const idf = (t: number) => Math.log(1 + n / Math.max(1, index.df[t] ?? 0));
    let total = 0;
    for (let k = 0; k < tags.length; k++) total += idf(tags[k]!);
    for (let k = 0; k < tags.length; k++) {
      const t = tags[k]!;
      const w = idf(t) / total;
      index.ring.forEachRecent(t, (j) => {
        if (taken.has(j) || state.tags(j)?.includes(t) !== true) return;
        const f = fill.get(j);
        if (f) f.tags += w;
        else fill.set(j, { tags: w, author: 0 });
      });
    }
  }
  const author = state.author(item);
  if (author >= 0) {
    state.authorPosts.forEachRecent(author, (j) => {
      if (taken.has(j) || state.author(j) !== author) return;
      const f = fill.get(j);
      if (f) f.author = SAME_AUTHOR_WEIGHT;
      else fill.set(j, { tags: 0, author: SAME_AUTHOR_WEIGHT });
    });
  }
  const window = windowNear(state, 3 * 86_400_000);
  const scored: RelatedItem[] = [];
  for (const [j, f] of fill) {
    const engaged = state.itemCounts.get(j, 0, state.ENGAGED, window, ctx.now);
    const pop = 1 - 1 / (1 + Math.log1p(Math.max(0, engaged)));
    scored.push({ item: j, score: (f.tags + f.author) * (0.8 + 0.2 * pop), reason: f.tags >= f.author ? 'same_tags' : 'same_author' });
  }
  scored.sort((a, b) => b.score - a.score || a.item - b.item);
  const best = scored[0]?.score ?? 0;
  const ceiling = 0.5 * (out.length > 0 ? out[out.length - 1]!.score : 1);
  for (const r of scored) {
    if (out.length >= limit) break;
    out.push({ item: r.item, score: best > 0 ? (ceiling * r.score) / best : 0, reason: r.reason });
  }
  return out;
}

/**
 * Online co-engagement of `item`: for each item j that at least MIN_CO_ENGAGERS of its recent
 * engagers also engaged with, co / √(|E(item)| · |E(j)|) (E: distinct recent engagers), scaled
 * to a best weight of 1.
 */
export function onlineCoEngagement(state: OnlineState, item: number): Map<number, number> {
  const engagers = new Set<number>();
  state.engagers.forEachRecent(item, (u) => void engagers.add(u));
  const counts = new Map<number, number>();
  if (engagers.size < MIN_CO_ENGAGERS) return counts;
  const polarity = state.polarity;
  const mine = new Set<number>();
  for (const u of engagers) {
    mine.clear();
    let read = 0;
    state.history.forEachRecent(u, (j, type) => {
      if (polarity[type]! > 0 && j !== item && !mine.has(j)) {
        mine.add(j);
        counts.set(j, (counts.get(j) ?? 0) + 1);
      }
      return ++read < HISTORY_PER_ENGAGER;
    });
  }
  const out = new Map<number, number>();
  let best = 0;
  const others = new Set<number>();
  for (const [j, c] of counts) {
    if (c < MIN_CO_ENGAGERS) continue;
    others.clear();
    state.engagers.forEachRecent(j, (u) => void others.add(u));
    const w = c / Math.sqrt(engagers.size * Math.max(c, others.size));
    out.set(j, w);
    if (w > best) best = w;
  }
  if (best > 0) for (const [j, w] of out) out.set(j, w / best);
  return out;
}

/** Index of the state window closest to `ms` (log scale). */
export function windowNear(state: OnlineState, ms: number): number {
  const windows = state.itemCounts.windows;
  let best = 0;
  for (let w = 1; w < windows.length; w++) if (Math.abs(Math.log(windows[w]! / ms)) < Math.abs(Math.log(windows[best]! / ms))) best = w;
  return best;
}

interface TagIndex {
  /** Per tag id: the newest items with the tag (by dense id, newest first). */
  ring: RingLists;
  /** Per tag id: items with the tag. */
  df: number[];
  indexed: number;
  tagEdits: number;
}

const tagIndexes = new WeakMap<OnlineState, TagIndex>();

/** The state's tag → newest items index, brought up to date (new items added; rebuilt after tag edits). */
function tagIndex(state: OnlineState): TagIndex {
  let index = tagIndexes.get(state);
  if (!index || index.tagEdits !== state.tagEdits) {
    index = { ring: new RingLists(TAG_INDEX_PER_TAG, false), df: [], indexed: 0, tagEdits: state.tagEdits };
    tagIndexes.set(state, index);
  }
  for (let i = index.indexed; i < state.items; i++) {
    const tags = state.tags(i);
    if (!tags) continue;
    for (let k = 0; k < tags.length; k++) {
      index.ring.push(tags[k]!, i);
      index.df[tags[k]!] = (index.df[tags[k]!] ?? 0) + 1;
    }
  }
  index.indexed = state.items;
  return index;
}
