/**
 * Held-out examples for the learned rankers (the source fusion and the heavy ranker): what the
 * scorers would have seen for a user, labelled with what the user did next.
 *
 * 1. Read every signal event (positive or negative engagement) of the log once.
 * 2. `cutoff` (the default, as serving does: predict what comes next): the log up to
 *    `holdoutWindow` before its end is the past, and users who engaged in the window are
 *    sampled; their reactions in the window are the labels. Else (the evaluation protocols'
 *    splits of a static catalogue): sample users with at least three engaged items and hold out
 *    the latest `holdoutShare` of the items each reacted to (or a random share, or only the
 *    last one) — every event of those user–item pairs, impressions too.
 * 3. Open a shadow engine on a read-only view of the log without the future (or without
 *    those pairs) (store/holdout-view.ts) and train its sources: the state and models as they
 *    were (or would be had the held-out reactions not happened yet).
 * 4. Ask the shadow pipeline for each sampled user's candidates (sources → merge → filters);
 *    a candidate's labels are the event types the user later gave it.
 * 5. `cutoff` on a log with impressions (`impressions`): also keep what each sampled user was
 *    shown after the cutoff (item, time, slot, request), so the heavy ranker can learn the
 *    probability of each reaction *given an impression* — what the score formula weighs — rather
 *    than the chance that an item was both shown and engaged with (which mostly learns the
 *    logging policy). Users who were shown posts but engaged with none are sampled too.
 *
 * The shadow stays open so that features can be computed on it (point-in-time: the shadow
 * knows nothing of the labels); the caller closes it.
 */
import type { Engine } from '../engine.js';
import type { Candidate } from '../pipeline/types.js';
import { Rng } from '../sim/random.js';
import { LOG_EVENT } from '../store/store.js';

/** One user's positive and negative reactions in log order: item, type, time and value each. */
interface Reactions {
  item: number[];
  type: number[];
  ts: number[];
  value: number[];
}

export interface HoldoutOptions {
  users: number;
  holdoutShare: number;
  holdout: 'cutoff' | 'latest' | 'random' | 'last';
  /** `cutoff`: the log's last this-many ms are the future the examples are labelled with. */
  holdoutWindow: number;
  seed: number;
  /**
   * `cutoff` only: keep the impressions after the cutoff as examples — `auto` when the window
   * holds at least `minImpressions` of them (a log with impressions), `never`, or `always`.
   */
  impressions?: 'auto' | 'never' | 'always';
  minImpressions?: number;
  /** With impressions: sample up to this many users (every impressed user counts, not only engaged ones). */
  impressionUsers?: number;
  onProgress?: (done: number, total: number, note?: string) => void;
}

export interface HoldoutUser {
  user: number;
  /** The items the user reacted to that stay visible (excluded from the candidates, as in serving). */
  kept: number[];
  /** Held-out item → the event types (codes) the user gave it. */
  truth: Map<number, number[]>;
  /** The held-out items the user engaged with positively. */
  engaged: Set<number>;
  /** Time of the user's first held-out event (the `t` column of the exported training set). */
  time: number;
  candidates: Candidate[];
  /**
   * With impression examples: the posts the user was shown after the cutoff (first showing of
   * each post that existed at the cutoff and that the user had not reacted to before), in time order.
   */
  shown?: Shown[];
}

export interface Shown {
  item: number;
  time: number;
  /** 0-based slot on the page (NaN when the impression did not say). */
  position: number;
  /** The request (page) it was shown in; the user and the minute when the impression did not say. */
  request: string;
}

export interface HoldoutExamples {
  shadow: Engine;
  /**
   * In a seeded random order: learners fit on a first share and validate on the rest. (Every
   * example describes the same moment — the shadow's — so ordering users by the time of their
   * held-out engagements would only separate heavy users, whose held-out share starts early,
   * from light ones.)
   */
  users: HoldoutUser[];
  /** Source names in pipeline order. */
  sources: string[];
  /** What labels the ranker's rows: the impressions after the cutoff, or the held-out reactions among the candidates. */
  kind: 'impressions' | 'candidates';
  /** Seconds spent training the shadow and collecting the candidates. */
  phases: { shadow: number; examples: number };
}

/**
 * Builds the held-out examples; `{ skipped }` when there are too few engaged users. The returned
 * shadow must be closed by the caller.
 */
export async function collectHoldoutExamples(engine: Engine, options: HoldoutOptions): Promise<HoldoutExamples | { skipped: string }> {
  const t0 = performance.now();
  const progress = options.onProgress ?? (() => {});
  const polarity = engine.state.polarity;
  // A reaction the rankers learn as a positive: a positive type, from its `positiveFrom` value on.
  const likedFrom = engine.state.likedFrom;
  const labelPositive = (type: number, value: number) => polarity[type]! > 0 && (Number.isNaN(likedFrom[type]!) || value >= likedFrom[type]!);
  // Reaction p of a user, held out: its type into the item's truth (a positive type only when
  // it is a label positive) and the item into `engaged` when it is one.
  const holdReaction = (l: Reactions, p: number, truth: Map<number, number[]>, engaged: Set<number>): void => {
    const item = l.item[p]!;
    const type = l.type[p]!;
    let types = truth.get(item);
    if (!types) truth.set(item, (types = []));
    const liked = labelPositive(type, l.value[p]!);
    if (!types.includes(type) && (liked || !(polarity[type]! > 0))) types.push(type);
    if (liked) engaged.add(item);
  };

  // Each user's reactions (item, type, time) and impressions in log order, in one pass.
  const reactions = new Map<number, Reactions>();
  const impressionType = engine.state.impressionType;
  const wantImpressions = options.holdout === 'cutoff' && options.impressions !== 'never' && impressionType >= 0;
  const impressions = new Map<number, { item: number[]; ts: number[]; context: (string | null)[] }>();
  let lastTime = -Infinity;
  for await (const chunk of engine.store.readLog(0, 65536, wantImpressions)) {
    for (let r = 0; r < chunk.length; r++) {
      if (chunk.ts[r]! > lastTime) lastTime = chunk.ts[r]!;
      if (chunk.kind[r] !== LOG_EVENT) continue;
      const u = chunk.user[r]!;
      if (wantImpressions && chunk.type[r] === impressionType) {
        let list = impressions.get(u);
        if (!list) impressions.set(u, (list = { item: [], ts: [], context: [] }));
        list.item.push(chunk.target[r]!);
        list.ts.push(chunk.ts[r]!);
        list.context.push(chunk.context[r] ?? null);
        continue;
      }
      if (polarity[chunk.type[r]!] === 0) continue;
      let list = reactions.get(u);
      if (!list) reactions.set(u, (list = { item: [], type: [], ts: [], value: [] }));
      list.item.push(chunk.target[r]!);
      list.type.push(chunk.type[r]!);
      list.ts.push(chunk.ts[r]!);
      list.value.push(chunk.value[r]!);
    }
  }
  const engagedCount = (l: { item: number[]; type: number[] }) => {
    const s = new Set<number>();
    for (let p = 0; p < l.item.length; p++) if (polarity[l.type[p]!]! > 0) s.add(l.item[p]!);
    return s.size;
  };
  const cutoff = options.holdout === 'cutoff' ? lastTime - options.holdoutWindow : Infinity;
  let shownAfter = 0;
  for (const l of impressions.values()) for (const t of l.ts) if (t > cutoff) shownAfter++;
  const kind: HoldoutExamples['kind'] =
    wantImpressions && (options.impressions === 'always' ? shownAfter > 0 : shownAfter >= (options.minImpressions ?? 1000)) ? 'impressions' : 'candidates';
  // Cutoff: users who engaged after the cutoff (with impressions: were shown something) and
  // were active before it.
  const activeBefore = (u: number) => reactions.get(u)?.ts.some((t) => t <= cutoff) || impressions.get(u)?.ts.some((t) => t <= cutoff);
  const eligible =
    kind === 'impressions'
      ? [...impressions].filter(([u, l]) => l.ts.some((t) => t > cutoff) && activeBefore(u)).map(([u]) => u)
      : [...reactions]
          .filter(([, l]) =>
            options.holdout === 'cutoff'
              ? l.ts.some((t, p) => t > cutoff && polarity[l.type[p]!]! > 0) && l.ts.some((t) => t <= cutoff)
              : engagedCount(l) >= 3,
          )
          .map(([u]) => u);
  if (eligible.length < 20) {
    return { skipped: `${eligible.length} users ${options.holdout === 'cutoff' ? 'engaged in the last holdoutWindow and before it' : 'with ≥ 3 engaged items'} (need 20)` };
  }
  const rng = new Rng(options.seed, 'fusion');
  rng.shuffle(eligible);
  const sample = eligible.slice(0, kind === 'impressions' ? Math.max(options.users, options.impressionUsers ?? 0) : options.users);
  const existedAtCutoff = (item: number) => !(engine.state.createdAt(item) > cutoff);

  const heldOut = new Map<number, Set<number>>();
  const partial: Omit<HoldoutUser, 'candidates'>[] = [];
  for (const u of sample) {
    if (options.holdout === 'cutoff') {
      const past = new Set<number>();
      const truth = new Map<number, number[]>();
      const engaged = new Set<number>();
      let time = Infinity;
      const l: Reactions = reactions.get(u) ?? { item: [], type: [], ts: [], value: [] };
      for (let p = 0; p < l.item.length; p++) {
        const item = l.item[p]!;
        if (l.ts[p]! <= cutoff) {
          past.add(item);
          continue;
        }
        holdReaction(l, p, truth, engaged);
        if (l.ts[p]! < time) time = l.ts[p]!;
      }
      // Items the user had already reacted to before the cutoff are not new to them.
      for (const item of past) {
        truth.delete(item);
        engaged.delete(item);
      }
      if (kind === 'candidates') {
        if (engaged.size > 0) partial.push({ user: u, kept: [...past], truth, engaged, time });
        continue;
      }
      const shown = shownAfterCutoff(impressions.get(u)!, cutoff, u, (item) => !past.has(item) && existedAtCutoff(item));
      if (shown.length > 0) partial.push({ user: u, kept: [...past], truth, engaged, time: Math.min(time, shown[0]!.time), shown });
      continue;
    }
    const l = reactions.get(u)!;
    // Distinct items, latest reaction first.
    const distinct: number[] = [];
    const seenItem = new Set<number>();
    for (let p = l.item.length - 1; p >= 0; p--) if (!seenItem.has(l.item[p]!)) (seenItem.add(l.item[p]!), distinct.push(l.item[p]!));
    if (options.holdout === 'random') rng.shuffle(distinct);
    const n = options.holdout === 'last' ? 1 : Math.min(distinct.length - 2, Math.max(1, Math.round(distinct.length * options.holdoutShare)));
    if (n < 1) continue;
    const held = new Set(distinct.slice(0, n));
    const truth = new Map<number, number[]>();
    const engaged = new Set<number>();
    let time = Infinity;
    for (let p = 0; p < l.item.length; p++) {
      const item = l.item[p]!;
      if (!held.has(item)) continue;
      holdReaction(l, p, truth, engaged);
      if (l.ts[p]! < time) time = l.ts[p]!;
    }
    if (engaged.size === 0) continue;
    heldOut.set(u, held);
    partial.push({ user: u, kept: distinct.slice(n), truth, engaged, time });
  }

  const total = partial.length;
  progress(0, total, 'shadow: replay');
  const shadow = await engine.openHoldout(heldOut, cutoff);
  try {
    await shadow.trainSources({
      rankers: false,
      onProgress: (source, done, of) => progress(0, total, `shadow: ${source} ${Math.round((100 * done) / Math.max(1, of))}%`),
    });
    const t1 = performance.now();
    const users: HoldoutUser[] = [];
    for (let i = 0; i < partial.length; i++) {
      const p = partial[i]!;
      users.push({ ...p, candidates: await shadow.retrieve(p.user, p.kept) });
      progress(i + 1, total, 'candidates of held-out users');
    }
    return {
      shadow,
      users,
      sources: shadow.sources.map((e) => e.source.name),
      kind,
      phases: { shadow: (t1 - t0) / 1000, examples: (performance.now() - t1) / 1000 },
    };
  } catch (err) {
    await shadow.close();
    throw err;
  }
}

/** A user's impressions after the cutoff: the first showing of each item that passes `keep`, in time order. */
function shownAfterCutoff(l: { item: number[]; ts: number[]; context: (string | null)[] }, cutoff: number, user: number, keep: (item: number) => boolean): Shown[] {
  const order = l.ts.map((_, p) => p).filter((p) => l.ts[p]! > cutoff);
  order.sort((a, b) => l.ts[a]! - l.ts[b]! || a - b);
  const out: Shown[] = [];
  const seen = new Set<number>();
  for (const p of order) {
    const item = l.item[p]!;
    if (seen.has(item) || !keep(item)) continue;
    seen.add(item);
    let position = NaN;
    let request = `${user}@${Math.floor(l.ts[p]! / 60_000)}`;
    const raw = l.context[p];
    if (raw) {
      try {
        const ctx = JSON.parse(raw) as { position?: unknown; requestId?: unknown };
        if (typeof ctx.position === 'number' && ctx.position >= 0) position = ctx.position;
        if (typeof ctx.requestId === 'string' && ctx.requestId) request = ctx.requestId;
      } catch {
        // A context that is not JSON says nothing about the slot.
      }
    }
    out.push({ item, time: l.ts[p]!, position, request });
  }
  return out;
}
