/**
 * The heavy ranker's training set, built from held-out examples (train/holdout.ts): one group
 * of rows per held-out user — the candidates the shadow pipeline retrieved for them, each
 * row the candidate's features computed by the feature registry on the shadow (so every
 * feature sees only what was known before the labels) and one label per head (the event
 * types the user later gave the item; `engaged` = any positive one).
 *
 * Rows per user: the light ranker's (source fusion) top candidates and a uniform sample of the
 * rest — the heavy ranker learns to reorder what the light ranker passes it, with lower-ranked
 * candidates to know what is bad. Labelled candidates are not added beyond the sample: that
 * would make deep candidates look better than they are (a sampling bias the model would learn).
 *
 * `writeRankerCsv` exports the set as a plain CSV (`lenta train export`) so other tools can
 * train on the same rows: columns t, user, item, group, label_<head>…, then the features;
 * an empty field is a missing value.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { FeatureRegistry } from '../features/registry.js';
import type { Candidate, FeedQuery } from '../pipeline/types.js';
import { Rng } from '../sim/random.js';
import type { HoldoutExamples } from './holdout.js';

export interface RankerDataset {
  features: string[];
  /** Rows and features. */
  n: number;
  d: number;
  /** Row-major n × d; NaN = missing. */
  X: Float32Array;
  heads: string[];
  /** Per head, one 0/1 label per row. */
  labels: Float32Array[];
  /** Row offsets of the groups (one per held-out user, in the examples' random order), length groups + 1. */
  groups: Int32Array;
  /** Per group: the user and the time of their first held-out event. */
  groupUser: Int32Array;
  groupTime: Float64Array;
  /** Per row: the candidate item. */
  item: Int32Array;
}

export interface RankerDatasetOptions {
  /** Rows kept per user: two thirds from the light ranker's top, one third sampled from the rest. */
  candidatesPerUser: number;
  /** A head needs this many positive rows (else the type has no head). */
  minPositives: number;
  seed: number;
  onProgress?: (done: number, total: number, note?: string) => void;
}

/** Heads: `engaged` and every signal type with enough positives whose labels differ from `engaged`'s. */
export const ENGAGED_HEAD = 'engaged';

/**
 * `scoreLight` gives the candidates their light-ranker score (the fusion) and `query` the
 * request of a user on the shadow; both come from the shadow engine.
 */
export function buildRankerDataset(
  examples: HoldoutExamples,
  registry: FeatureRegistry,
  query: (user: number, exclude: readonly number[]) => FeedQuery,
  scoreLight: (q: FeedQuery, candidates: Candidate[]) => void,
  options: RankerDatasetOptions,
): RankerDataset {
  const rng = new Rng(options.seed, 'ranker-rows');
  const d = registry.width;
  const state = examples.shadow.state;
  const users = examples.users;
  const top = Math.round((options.candidatesPerUser * 2) / 3);
  const sampled = options.candidatesPerUser - top;

  const chosen: { q: FeedQuery; rows: Candidate[]; truth: Map<number, number[]>; engaged: Set<number>; time: number }[] = [];
  let n = 0;
  for (const u of users) {
    const q = query(u.user, u.kept);
    const cands = u.candidates;
    scoreLight(q, cands);
    const order = cands.map((_, i) => i).sort((a, b) => cands[b]!.score - cands[a]!.score || cands[a]!.item - cands[b]!.item);
    for (let r = 0; r < order.length; r++) cands[order[r]!]!.lightRank = r + 1;
    const keep = new Uint8Array(cands.length);
    for (let r = 0; r < Math.min(top, order.length); r++) keep[order[r]!] = 1;
    const rest = order.slice(top);
    rng.shuffle(rest);
    for (let r = 0; r < Math.min(sampled, rest.length); r++) keep[rest[r]!] = 1;
    const rows = order.filter((i) => keep[i]).map((i) => cands[i]!);
    if (!rows.some((c) => u.engaged.has(c.item))) continue; // nothing to learn from this user
    chosen.push({ q, rows, truth: u.truth, engaged: u.engaged, time: u.time });
    n += rows.length;
  }

  const X = new Float32Array(n * d);
  const item = new Int32Array(n);
  const groups = new Int32Array(chosen.length + 1);
  const groupUser = new Int32Array(chosen.length);
  const groupTime = new Float64Array(chosen.length);
  const typeCount = new Int32Array(state.types.size);
  let row = 0;
  chosen.forEach((g, gi) => {
    groups[gi] = row;
    groupUser[gi] = g.q.user;
    groupTime[gi] = g.time;
    registry.compute(g.q, g.rows, X.subarray(row * d, (row + g.rows.length) * d));
    for (const c of g.rows) {
      item[row++] = c.item;
      for (const t of g.truth.get(c.item) ?? []) typeCount[t]++;
    }
    options.onProgress?.(gi + 1, chosen.length, 'features');
  });
  groups[chosen.length] = row;

  // Labels: engaged, then each signal type with enough positives.
  const heads = [ENGAGED_HEAD];
  const labels = [new Float32Array(n)];
  const typeHeads: number[] = [];
  for (let t = 0; t < state.types.size; t++) if (state.polarity[t] !== 0 && typeCount[t]! >= options.minPositives) typeHeads.push(t);
  const typeLabels = typeHeads.map(() => new Float32Array(n));
  row = 0;
  for (const g of chosen) {
    for (const c of g.rows) {
      if (g.engaged.has(c.item)) labels[0]![row] = 1;
      const types = g.truth.get(c.item);
      if (types) typeHeads.forEach((t, h) => (typeLabels[h]![row] = types.includes(t) ? 1 : 0));
      row++;
    }
  }
  typeHeads.forEach((t, h) => {
    const y = typeLabels[h]!;
    // A type whose labels are exactly `engaged`'s (a catalogue's only type) adds nothing.
    let same = true;
    for (let i = 0; i < n && same; i++) same = y[i] === labels[0]![i];
    if (same) return;
    heads.push(state.types.name(t));
    labels.push(y);
  });

  return { features: [...registry.names], n, d, X, heads, labels, groups, groupUser, groupTime, item };
}

export function sliceGroups(ds: RankerDataset, from: number, to: number): RankerDataset {
  const r0 = ds.groups[from]!;
  const r1 = ds.groups[to]!;
  const groups = new Int32Array(to - from + 1);
  for (let k = from; k <= to; k++) groups[k - from] = ds.groups[k]! - r0;
  return {
    features: ds.features,
    n: r1 - r0,
    d: ds.d,
    X: ds.X.subarray(r0 * ds.d, r1 * ds.d),
    heads: ds.heads,
    labels: ds.labels.map((y) => y.subarray(r0, r1)),
    groups,
    groupUser: ds.groupUser.subarray(from, to),
    groupTime: ds.groupTime.subarray(from, to),
    item: ds.item.subarray(r0, r1),
  };
}

/** Writes the dataset as CSV (header, then one line per row; missing values empty). */
export async function writeRankerCsv(ds: RankerDataset, path: string, ids: { users: readonly string[]; items: readonly string[] }): Promise<void> {
  const out = createWriteStream(path);
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const write = async (line: string) => {
    if (!out.write(line)) await once(out, 'drain');
  };
  await write(`${['t', 'user', 'item', 'group', ...ds.heads.map((h) => `label_${h}`), ...ds.features].join(',')}\n`);
  const g = ds.groupUser.length;
  let buf = '';
  for (let k = 0; k < g; k++) {
    const user = quote(ids.users[ds.groupUser[k]!] ?? String(ds.groupUser[k]));
    for (let r = ds.groups[k]!; r < ds.groups[k + 1]!; r++) {
      const parts: string[] = [String(ds.groupTime[k]), user, quote(ids.items[ds.item[r]!] ?? String(ds.item[r])), String(k)];
      for (const y of ds.labels) parts.push(y[r] ? '1' : '0');
      for (let j = 0; j < ds.d; j++) {
        const v = ds.X[r * ds.d + j]!;
        parts.push(Number.isNaN(v) ? '' : String(Math.fround(v) === v ? +v.toPrecision(7) : v));
      }
      buf += `${parts.join(',')}\n`;
      if (buf.length > 1 << 20) {
        await write(buf);
        buf = '';
      }
    }
  }
  if (buf) await write(buf);
  out.end();
  await once(out, 'finish');
}
