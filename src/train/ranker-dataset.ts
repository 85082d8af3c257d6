/**
 * The heavy ranker's training set, built from held-out examples (train/holdout.ts). Every row
 * is a candidate's features computed by the feature registry on the shadow (so every feature
 * sees only what was known before the labels), with one label per head (the event types the
 * user later gave the item; `engaged` = any positive one). Two kinds, after the examples':
 *
 * - `impressions` (a log with impressions, cutoff holdout): one row per post shown to a sampled
 *   user after the cutoff, with the slot it was shown in; one group per request (page), groups
 *   in time order — so the heads learn p(reaction | shown) and the later requests are a later
 *   time slice to validate on. Impressed posts the shadow's sources did not retrieve are rows
 *   too (without source features).
 * - `candidates` (a catalogue without impressions): one group per held-out user, the light
 *   ranker's (source fusion) top candidates and a uniform sample of the rest — the heavy
 *   ranker learns to reorder what the light ranker passes it, with lower-ranked candidates to
 *   know what is bad. Labelled candidates are not added beyond the sample: that would make deep
 *   candidates look better than they are (a sampling bias the model would learn).
 *
 * Features are computed over the set the heavy ranker scores when serving (the light ranker's
 * best `maxCandidates`, plus the rows outside it), then the rows are taken from it: request-
 * relative features (a source's score over its best in the request) mean the same in
 * training as in serving.
 *
 * `writeRankerCsv` exports the set as a plain CSV (`lenta train export`) so other tools can
 * train on the same rows: columns t, user, item, group, label_<head>…, then the features;
 * an empty field is a missing value.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { FeatureRegistry } from '../features/registry.js';
import { orderByScore } from '../models/top-k.js';
import { makeCandidate, type Candidate, type FeedQuery } from '../pipeline/types.js';
import { needsUnweighted } from '../pipeline/feed-pipeline.js';
import { Rng } from '../sim/random.js';
import type { HoldoutExamples } from './holdout.js';

export interface RankerDataset {
  kind: HoldoutExamples['kind'];
  features: string[];
  /** Rows and features. */
  n: number;
  d: number;
  /** Row-major n × d; NaN = missing. */
  X: Float32Array;
  heads: string[];
  /** Default score weights of the heads that are not event types (`negative`). */
  headWeights: Record<string, number>;
  /** Per head, one 0/1 label per row. */
  labels: Float32Array[];
  /** Row offsets of the groups, length groups + 1 (users in the examples' random order, or requests in time order). */
  groups: Int32Array;
  /** Per group: the user, and the time of their first held-out event (or of the request). */
  groupUser: Int32Array;
  groupTime: Float64Array;
  /** Per row: the candidate item. */
  item: Int32Array;
  /** Per row: every signal event type (code) the user gave the item — rare types without a head too (the value gate weighs them). */
  reactions: (readonly number[])[];
}

export interface RankerDatasetOptions {
  /** Candidate rows kept per user: two thirds from the light ranker's top, one third sampled from the rest. */
  candidatesPerUser: number;
  /** The heavy ranker's budget when serving (features are computed over that many, as then). */
  maxCandidates: number;
  /**
   * Sources the fusion weighs 0, which serving does not fetch (FeedQuery.unweighted): their hits
   * are taken off the examples' candidates as serving would not have them — unless the rest are
   * fewer than `maxCandidates`, when serving fetches them too.
   */
  unweighted?: ReadonlySet<string>;
  /** A head needs this many positive rows (else the type has no head). */
  minPositives: number;
  /** The shared `negative` head (negative types too rare for their own) needs this many (default: minPositives). */
  minNegatives?: number;
  seed: number;
  onProgress?: (done: number, total: number, note?: string) => void;
}

/** Heads: `engaged` and every signal type with enough positives whose labels differ from `engaged`'s. */
export const ENGAGED_HEAD = 'engaged';
/** Any negative reaction of a type too rare for a head of its own. */
export const NEGATIVE_HEAD = 'negative';

interface Group {
  user: number;
  time: number;
  /** Row features, rows × d. */
  X: Float32Array;
  items: number[];
  truth: ReadonlyMap<number, readonly number[]>;
  engaged: ReadonlySet<number>;
}

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
  const top = Math.round((options.candidatesPerUser * 2) / 3);
  const sampled = options.candidatesPerUser - top;
  let scratch = new Float32Array(0);

  const groups: Group[] = [];
  examples.users.forEach((u, ui) => {
    options.onProgress?.(ui, examples.users.length, 'features');
    const q = query(u.user, u.kept);
    const cands = options.unweighted ? withoutUnweighted(u.candidates, options.unweighted, options.maxCandidates) : u.candidates;
    scoreLight(q, cands);
    // The heavy ranker's order (rank/heavy-ranker.ts): its light_rank feature.
    const order = Array.from(orderByScore(Float64Array.from(cands, (c) => c.score), Float64Array.from(cands, (c) => c.item), cands.length, new Int32Array(cands.length)));
    for (let r = 0; r < order.length; r++) cands[order[r]!]!.lightRank = r + 1;
    const scope = order.slice(0, options.maxCandidates).map((i) => cands[i]!);
    const inScope = new Map(scope.map((c, i) => [c.item, i]));
    const add = (c: Candidate) => {
      let i = inScope.get(c.item);
      if (i === undefined) inScope.set(c.item, (i = scope.push(c) - 1));
      return i;
    };

    // Which scope rows make which groups.
    const rowGroups: { time: number; rows: number[] }[] = [];
    if (examples.kind === 'impressions') {
      const byItem = new Map(cands.map((c) => [c.item, c]));
      const requests = new Map<string, { time: number; rows: number[]; slots: number[] }>();
      for (const s of u.shown ?? []) {
        let c = byItem.get(s.item);
        if (!c) {
          const author = state.author(s.item);
          c = makeCandidate(s.item, author, author >= 0 && state.following.has(u.user, author), undefined, 0);
        }
        c.position = s.position;
        let g = requests.get(s.request);
        if (!g) requests.set(s.request, (g = { time: s.time, rows: [], slots: [] }));
        g.rows.push(add(c));
        g.slots.push(Number.isFinite(s.position) ? s.position : Infinity);
      }
      for (const g of requests.values()) {
        const idx = g.rows.map((_, k) => k).sort((a, b) => g.slots[a]! - g.slots[b]! || a - b);
        rowGroups.push({ time: g.time, rows: idx.map((k) => g.rows[k]!) });
      }
    } else {
      const keep = new Uint8Array(cands.length);
      for (let r = 0; r < Math.min(top, order.length); r++) keep[order[r]!] = 1;
      const rest = order.slice(top);
      rng.shuffle(rest);
      for (let r = 0; r < Math.min(sampled, rest.length); r++) keep[rest[r]!] = 1;
      const rows = order.filter((i) => keep[i]).map((i) => add(cands[i]!));
      if (!rows.some((i) => u.engaged.has(scope[i]!.item))) return; // nothing to learn from this user
      rowGroups.push({ time: u.time, rows });
    }
    if (rowGroups.length === 0) return;

    if (scratch.length < scope.length * d) scratch = new Float32Array(scope.length * d);
    const F = registry.compute(q, scope, scratch);
    for (const g of rowGroups) {
      const X = new Float32Array(g.rows.length * d);
      g.rows.forEach((i, r) => X.set(F.subarray(i * d, (i + 1) * d), r * d));
      groups.push({ user: u.user, time: g.time, X, items: g.rows.map((i) => scope[i]!.item), truth: u.truth, engaged: u.engaged });
    }
  });
  options.onProgress?.(examples.users.length, examples.users.length, 'features');
  // Requests in time order: learners fit on the earlier ones and validate on the later ones.
  if (examples.kind === 'impressions') groups.sort((a, b) => a.time - b.time || a.user - b.user);
  return assemble(examples.kind, registry, state.types.size, (t) => state.polarity[t]!, (t) => state.types.name(t), (t) => state.types.spec(t).weight, groups, options.minPositives, options.minNegatives ?? options.minPositives);
}

/**
 * The candidates as a request that skips the `unweighted` sources retrieves them: their hits
 * removed, candidates only they proposed dropped — or all of them, as they are, when the rest
 * would be fewer than `minCandidates` (pipeline/feed-pipeline.ts needsUnweighted). Copies: the examples are not changed.
 */
export function withoutUnweighted(candidates: readonly Candidate[], unweighted: ReadonlySet<string>, minCandidates: number): Candidate[] {
  const kept: Candidate[] = [];
  for (const c of candidates) {
    const sources = c.sources.filter((h) => !unweighted.has(h.source));
    if (sources.length === c.sources.length) kept.push(c);
    else if (sources.length > 0) kept.push({ ...c, sources });
  }
  return needsUnweighted(kept.length, minCandidates) ? [...candidates] : kept;
}

const NONE: readonly number[] = [];

/** Concatenates the groups and works out the heads and their labels. */
function assemble(
  kind: RankerDataset['kind'],
  registry: FeatureRegistry,
  typeCount: number,
  polarity: (type: number) => number,
  typeName: (type: number) => string,
  typeWeight: (type: number) => number,
  groups: readonly Group[],
  minPositives: number,
  minNegatives: number,
): RankerDataset {
  const d = registry.width;
  const n = groups.reduce((a, g) => a + g.items.length, 0);
  const X = new Float32Array(n * d);
  const item = new Int32Array(n);
  const offsets = new Int32Array(groups.length + 1);
  const groupUser = new Int32Array(groups.length);
  const groupTime = new Float64Array(groups.length);
  const positives = new Int32Array(typeCount);
  const reactions: (readonly number[])[] = new Array(n);
  let row = 0;
  groups.forEach((g, gi) => {
    offsets[gi] = row;
    groupUser[gi] = g.user;
    groupTime[gi] = g.time;
    X.set(g.X, row * d);
    for (const it of g.items) {
      reactions[row] = g.truth.get(it) ?? NONE;
      item[row++] = it;
      for (const t of g.truth.get(it) ?? []) positives[t]++;
    }
  });
  offsets[groups.length] = row;

  // Labels: engaged, then each signal type with enough positives.
  const heads = [ENGAGED_HEAD];
  const labels = [new Float32Array(n)];
  const typeHeads: number[] = [];
  for (let t = 0; t < typeCount; t++) if (polarity(t) !== 0 && positives[t]! >= minPositives) typeHeads.push(t);
  const typeLabels = typeHeads.map(() => new Float32Array(n));
  row = 0;
  for (const g of groups) {
    for (const it of g.items) {
      if (g.engaged.has(it)) labels[0]![row] = 1;
      const types = g.truth.get(it);
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
    heads.push(typeName(t));
    labels.push(y);
  });

  // Negative feedback is rare and costly (not_interested −74, report −369): the negative types
  // too rare for a head of their own share one, `negative`, when together they label at least
  // `minNegatives` rows; its default weight is their weights averaged by how often each
  // labelled a row.
  const rareNegatives = new Set<number>();
  for (let t = 0; t < typeCount; t++) if (polarity(t) < 0 && positives[t]! > 0 && !typeHeads.includes(t)) rareNegatives.add(t);
  const headWeights: Record<string, number> = {};
  if (rareNegatives.size > 0) {
    const y = new Float32Array(n);
    let count = 0;
    let weighted = 0;
    let labelled = 0;
    for (let r = 0; r < n; r++) {
      let any = false;
      for (const t of reactions[r]!) {
        if (!rareNegatives.has(t)) continue;
        any = true;
        weighted += typeWeight(t);
        labelled++;
      }
      if (any) (y[r] = 1), count++;
    }
    if (count >= minNegatives) {
      heads.push(NEGATIVE_HEAD);
      labels.push(y);
      headWeights[NEGATIVE_HEAD] = weighted / labelled;
    }
  }

  return { kind, features: [...registry.names], n, d, X, heads, headWeights, labels, groups: offsets, groupUser, groupTime, item, reactions };
}

export function sliceGroups(ds: RankerDataset, from: number, to: number): RankerDataset {
  const r0 = ds.groups[from]!;
  const r1 = ds.groups[to]!;
  const groups = new Int32Array(to - from + 1);
  for (let k = from; k <= to; k++) groups[k - from] = ds.groups[k]! - r0;
  return {
    kind: ds.kind,
    features: ds.features,
    n: r1 - r0,
    d: ds.d,
    X: ds.X.subarray(r0 * ds.d, r1 * ds.d),
    heads: ds.heads,
    headWeights: ds.headWeights,
    labels: ds.labels.map((y) => y.subarray(r0, r1)),
    groups,
    groupUser: ds.groupUser.subarray(from, to),
    groupTime: ds.groupTime.subarray(from, to),
    item: ds.item.subarray(r0, r1),
    reactions: ds.reactions.slice(r0, r1),
  };
}

/** The groups of the ranges [from, to) in order, copied into one dataset. */
export function concatGroups(ds: RankerDataset, ranges: readonly (readonly [number, number])[]): RankerDataset {
  const parts = ranges.filter(([a, b]) => b > a).map(([a, b]) => sliceGroups(ds, a, b));
  if (parts.length === 1) return parts[0]!;
  const n = parts.reduce((a, x) => a + x.n, 0);
  const ng = parts.reduce((a, x) => a + x.groupUser.length, 0);
  const X = new Float32Array(n * ds.d);
  const labels = ds.heads.map(() => new Float32Array(n));
  const groups = new Int32Array(ng + 1);
  const groupUser = new Int32Array(ng);
  const groupTime = new Float64Array(ng);
  const item = new Int32Array(n);
  const reactions: (readonly number[])[] = [];
  let r = 0;
  let g = 0;
  for (const x of parts) {
    X.set(x.X, r * ds.d);
    x.labels.forEach((y, h) => labels[h]!.set(y, r));
    for (let k = 0; k < x.groupUser.length; k++) groups[g + k] = r + x.groups[k]!;
    groupUser.set(x.groupUser, g);
    groupTime.set(x.groupTime, g);
    item.set(x.item, r);
    for (const t of x.reactions) reactions.push(t);
    r += x.n;
    g += x.groupUser.length;
  }
  groups[ng] = n;
  return { ...ds, n, X, labels, groups, groupUser, groupTime, item, reactions };
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
