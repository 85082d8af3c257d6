/**
 * Trending items: engagement velocity relative to the item's own recent baseline, so that a
 * burst ranks above a steadily popular item with a larger count.
 *
 * The state's item counters are exponentially decayed sums: an engagement of age x counts
 * exp(−x/W) in the window of time constant W, so an item engaged at a steady rate r has a
 * count ≈ r·W in every window. With W the requested window and L the next longer state window
 * (the baseline):
 *
 *   s        = decayed positive engagements of the item in W           (the recent velocity · W)
 *   l        = the same in L
 *   expected = l · W / L                       (what s would be if the rate over L were steady)
 *   score    = ln(1 + s) · (s + K) / (expected + K),        K = SMOOTHING (pseudo-engagements)
 *
 * The ratio is the velocity now over the baseline velocity: ≈ 1 for an item whose rate is
 * steady, up to L / W for an item whose engagements all came within the last W. K smooths it
 * (two likes out of nowhere are not a trend), and ln(1 + s) keeps the volume in: among equally
 * accelerating items the bigger one leads, but only logarithmically, so steady popularity does
 * not dominate. Items with s < MIN_WINDOW_COUNT (less than half an engagement-equivalent in the
 * window) are left out. Candidates are the items of the state's ring of the latest positive
 * engagements (state.recentEngagements), optionally only those with a tag.
 *
 * A pure function of the state; the best TRENDING_POOL items per (window, tag) are cached per
 * state for up to POOL_REFRESH_MS or POOL_REFRESH_EVENTS events.
 */
import { ValidationError } from '../domain/validate.js';
import type { OnlineState } from '../state/online-state.js';
import { TopK } from '../models/top-k.js';
import type { Store } from '../store/store.js';
import { round6, type DiscoveryContext } from './related.js';

export const SMOOTHING = 5;
export const MIN_WINDOW_COUNT = 0.5;
/** Items kept per cached (window, tag) pool: the largest page the API serves. */
export const TRENDING_POOL = 200;
const POOL_REFRESH_MS = 5000;
const POOL_REFRESH_EVENTS = 1000;
const MAX_POOLS = 64;

export interface TrendingOptions {
  limit: number;
  /** Only items with this tag. */
  tag?: string;
  /** A window label (`30m`, `1d`, `3d` with the default windows): see trendingWindows(). */
  window?: string;
}

export interface TrendingItem {
  item: number;
  score: number;
  /** s: the decayed engagement count in the window. */
  count: number;
  /** The count a steady rate over the baseline window would give. */
  expected: number;
}

export interface TrendingResult {
  /** The window's label. */
  window: string;
  items: TrendingItem[];
}

/** A trending item as the API serves it. */
export interface TrendingItemView {
  id: string;
  score: number;
  count: number;
  expected: number;
  authorId?: string;
  createdAt?: string;
  tags?: string[];
  text?: string;
}

/** External ids and the items' fields (numbers rounded to 6 decimals). */
export async function hydrateTrending(
  store: Pick<Store, 'itemIds' | 'getItems'>,
  result: TrendingResult,
  tag: string | undefined,
): Promise<{ window: string; tag?: string; items: TrendingItemView[] }> {
  const entities = await store.getItems(result.items.map((r) => r.item));
  const items = result.items.map((r) => {
    const item = entities.get(r.item);
    const out: TrendingItemView = { id: item?.id ?? store.itemIds[r.item] ?? String(r.item), score: round6(r.score), count: round6(r.count), expected: round6(r.expected) };
    if (item?.authorId !== undefined) out.authorId = item.authorId;
    if (item?.createdAt !== undefined) out.createdAt = new Date(item.createdAt).toISOString();
    if (item?.tags && item.tags.length > 0) out.tags = item.tags;
    if (item?.text !== undefined) out.text = item.text;
    return out;
  });
  return tag ? { window: result.window, tag, items } : { window: result.window, items };
}

/** A window length as a label: `30m`, `1d`, `6h`, `45s`, `1500ms`. */
export function windowLabel(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * The windows trending accepts: every state window (config `state.windows`) but the longest,
 * which is only a baseline. Labels as windowLabel().
 */
export function trendingWindows(state: OnlineState): { label: string; index: number; ms: number }[] {
  const windows = Array.from(state.itemCounts.windows, (ms, index) => ({ ms, index }));
  windows.sort((a, b) => a.ms - b.ms);
  return windows.slice(0, Math.max(1, windows.length - 1)).map((w) => ({ ...w, label: windowLabel(w.ms) }));
}

/** The window of a label (default: the one closest to a day); a ValidationError names `window` otherwise. */
export function resolveWindow(state: OnlineState, label: string | undefined): { label: string; index: number; ms: number } {
  const windows = trendingWindows(state);
  if (label === undefined || label === '') {
    let best = windows[0]!;
    for (const w of windows) if (Math.abs(Math.log(w.ms / 86_400_000)) < Math.abs(Math.log(best.ms / 86_400_000))) best = w;
    return best;
  }
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(label);
  const ms = m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'] : NaN;
  const found = windows.find((w) => w.ms === ms);
  if (!found) throw new ValidationError('window', `must be one of ${windows.map((w) => w.label).join(', ')}, got "${label}"`);
  return found;
}

interface Pool {
  builtAt: number;
  events: number;
  now: number;
  items: TrendingItem[];
}

const pools = new WeakMap<OnlineState, Map<string, Pool>>();

/** The trending items, best first, at most min(limit, TRENDING_POOL). An unknown tag has none. */
export function trendingItems(ctx: DiscoveryContext, options: TrendingOptions): TrendingResult {
  const { state, now } = ctx;
  const window = resolveWindow(state, options.window);
  const limit = Math.max(0, Math.min(TRENDING_POOL, Math.floor(options.limit)));
  const tag = options.tag === undefined || options.tag === '' ? undefined : options.tag;
  let cache = pools.get(state);
  if (!cache) pools.set(state, (cache = new Map()));
  const key = `${window.index}|${tag ?? ''}`;
  let pool = cache.get(key);
  if (!pool || performance.now() - pool.builtAt >= POOL_REFRESH_MS || state.events - pool.events >= POOL_REFRESH_EVENTS || Math.abs(now - pool.now) >= 60_000) {
    if (cache.size >= MAX_POOLS) cache.clear();
    pool = { builtAt: performance.now(), events: state.events, now, items: build(state, window.index, tag, now) };
    cache.set(key, pool);
  }
  return { window: window.label, items: pool.items.slice(0, limit) };
}

function build(state: OnlineState, w: number, tag: string | undefined, now: number): TrendingItem[] {
  const windows = state.itemCounts.windows;
  // The baseline: the next longer window.
  let base = -1;
  for (let k = 0; k < windows.length; k++) if (windows[k]! > windows[w]! && (base < 0 || windows[k]! < windows[base]!)) base = k;
  if (base < 0) return [];
  const tagId = tag === undefined ? -1 : state.tagIds.get(tag);
  if (tagId === undefined) return [];
  const ratio = windows[w]! / windows[base]!;
  const top = new TopK(TRENDING_POOL);
  const seen = new Set<number>();
  const counts = new Map<number, { s: number; expected: number }>();
  state.recentEngagements.forEachRecent(0, (item) => {
    if (seen.has(item)) return;
    seen.add(item);
    if (tagId >= 0 && state.tags(item)?.includes(tagId) !== true) return;
    const s = state.itemCounts.get(item, 0, state.ENGAGED, w, now);
    if (!(s >= MIN_WINDOW_COUNT)) return;
    const expected = state.itemCounts.get(item, 0, state.ENGAGED, base, now) * ratio;
    const score = Math.log1p(s) * ((s + SMOOTHING) / (expected + SMOOTHING));
    if (!top.accepts(item, score)) return;
    top.push(item, score);
    counts.set(item, { s, expected });
  });
  const n = top.drainSorted();
  const out: TrendingItem[] = [];
  for (let k = 0; k < n; k++) {
    const item = top.outItems[k]!;
    const c = counts.get(item)!;
    out.push({ item, score: top.outScores[k]!, count: c.s, expected: c.expected });
  }
  return out;
}
