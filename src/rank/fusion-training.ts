/**
 * Training the source fusion (rank/source-fusion.ts) from held-out engagements.
 *
 * 1. Sample users with at least three engaged items; for each, hide the latest `holdoutShare`
 *    of their engaged items (all events of those user–item pairs) from a read-only view of the
 *    log (store/holdout-view.ts).
 * 2. Open a shadow engine on that view: the same state folds and sources, trained on the log
 *    without the held-out pairs.
 * 3. Ask the shadow pipeline for each sampled user's candidates (sources → merge → filters,
 *    exactly what the scorer sees when serving); label = the user engaged with it later.
 * 4. Learn the per-source weights and k₀ of the fusion by coordinate ascent on ndcg@5k
 *    of 80% of the users; measure recall@k of the held-out items on the other 20% for the learned
 *    weights, plain reciprocal-rank fusion and each source alone; then continue the ascent on
 *    every sampled user for the saved model.
 */
import type { Engine } from '../engine.js';
import { readPositives } from '../candidates/communities.js';
import { Rng } from '../sim/random.js';
import type { Candidate } from '../pipeline/types.js';
import { FUSION_FORMAT, type FusionModelFile } from './source-fusion.js';

export interface FusionTrainingOptions {
  users: number;
  holdoutShare: number;
  holdout: 'latest' | 'random' | 'last';
  seed: number;
  /** k of the validation recall (default 10). */
  k?: number;
  onProgress?: (done: number, total: number, note?: string) => void;
}


export async function trainFusion(engine: Engine, options: FusionTrainingOptions): Promise<FusionModelFile | { skipped: string }> {
  const t0 = performance.now();
  const k = options.k ?? 10;
  const progress = options.onProgress ?? (() => {});

  // Each user's engaged items in log order (one pass); users with at least three are eligible.
  const events = await readPositives(engine.state, engine.store.readLog(0, 65536, false));
  const engaged = new Map<number, number[]>();
  for (let e = 0; e < events.length; e++) {
    const u = events.user[e]!;
    let list = engaged.get(u);
    if (!list) engaged.set(u, (list = []));
    list.push(events.item[e]!);
  }
  const eligible = [...engaged].filter(([, list]) => list.length >= 3).map(([u]) => u);
  if (eligible.length < 20) return { skipped: `${eligible.length} users with ≥ 3 engagements (need 20)` };
  const rng = new Rng(options.seed, 'fusion');
  rng.shuffle(eligible);
  const sample = eligible.slice(0, options.users);

  const heldOut = new Map<number, Set<number>>();
  const kept = new Map<number, number[]>();
  for (const u of sample) {
    const list = engaged.get(u) ?? [];
    const distinct: number[] = [];
    const seenItem = new Set<number>();
    for (let p = list.length - 1; p >= 0; p--) if (!seenItem.has(list[p]!)) (seenItem.add(list[p]!), distinct.push(list[p]!));
    if (options.holdout === 'random') rng.shuffle(distinct);
    const n = options.holdout === 'last' ? 1 : Math.min(distinct.length - 2, Math.max(1, Math.round(distinct.length * options.holdoutShare)));
    if (n < 1) continue;
    heldOut.set(u, new Set(distinct.slice(0, n)));
    kept.set(u, distinct.slice(n));
  }

  // The shadow: the same engine on the log without the held-out pairs.
  // Progress counts the sampled users' candidate sets; the shadow's training comes first (at 0).
  const total = heldOut.size;
  progress(0, total, 'shadow: replay');
  const shadow = await engine.openHoldout(heldOut);
  try {
    await shadow.trainSources({
      fusion: false,
      onProgress: (source, done, of) => progress(0, total, `shadow: ${source} ${Math.round((100 * done) / Math.max(1, of))}%`),
    });
    const t1 = performance.now();
    const sources = shadow.sources.map((e) => e.source.name);
    const sourceIndex = new Map(sources.map((name, i) => [name, i]));
    const users = [...heldOut.keys()];
    const lists: UserCandidates[] = [];
    let positives = 0;
    for (let i = 0; i < users.length; i++) {
      const u = users[i]!;
      const truth = heldOut.get(u)!;
      const candidates = await shadow.retrieve(u, kept.get(u)!);
      lists.push(compact(candidates, truth, sourceIndex));
      for (const c of candidates) if (truth.has(c.item)) positives++;
      progress(i + 1, total, 'candidates of held-out users');
    }
    const t2 = performance.now();
    const fitUsers = lists.slice(0, Math.round(lists.length * 0.8));
    const validUsers = lists.slice(fitUsers.length);
    const defaults = { weights: new Float64Array(sources.length).fill(1), k0: engine.config.feed.fusionK };
    const fitted = learnWeights(fitUsers, sources.length, defaults, k);
    const validation = {
      learned: evaluate(validUsers, fitted, k).recall,
      rrf: evaluate(validUsers, defaults, k).recall,
      sources: Object.fromEntries(
        sources.map((name, s) => {
          const alone = new Float64Array(sources.length);
          alone[s] = 1;
          return [name, evaluate(validUsers, { weights: alone, k0: 0 }, k).recall];
        }),
      ),
    };
    const final = coordinateAscent(lists, sources.length, fitted, k, 2);
    return {
      format: FUSION_FORMAT,
      sources,
      weights: Object.fromEntries(sources.map((name, s) => [name, round(final.weights[s]!)])),
      k0: final.k0,
      report: {
        users: users.length,
        validationUsers: validUsers.length,
        positives,
        k,
        validation,
        seconds: (performance.now() - t0) / 1000,
        phases: { shadow: (t1 - t0) / 1000, examples: (t2 - t1) / 1000, ascent: (performance.now() - t2) / 1000 },
      },
    };
  } finally {
    await shadow.close();
  }
}

/** One user's candidates, compactly: per candidate its hits (source index, rank) and label. */
interface UserCandidates {
  /** Candidate c's hits are [start[c], start[c+1]). */
  start: Int32Array;
  source: Uint8Array;
  rank: Float64Array;
  label: Uint8Array;
  positives: number;
}

/**
 * Candidates that no source ranks in its first `MAX_RANK` cannot reach a fused top-k under any
 * weights the ascent tries in practice; dropping them makes each evaluation several times cheaper.
 */
const MAX_RANK = 100;

function compact(all: readonly Candidate[], truth: ReadonlySet<number>, sourceIndex: ReadonlyMap<string, number>): UserCandidates {
  const candidates = all.filter((c) => c.sources.some((h) => h.rank <= MAX_RANK));
  let hits = 0;
  for (const c of candidates) hits += c.sources.length;
  const start = new Int32Array(candidates.length + 1);
  const source = new Uint8Array(hits);
  const rank = new Float64Array(hits);
  const label = new Uint8Array(candidates.length);
  let h = 0;
  candidates.forEach((c, i) => {
    start[i] = h;
    for (const hit of c.sources) {
      const s = sourceIndex.get(hit.source);
      if (s === undefined) continue;
      source[h] = s;
      rank[h++] = hit.rank;
    }
    label[i] = truth.has(c.item) ? 1 : 0;
  });
  start[candidates.length] = h;
  return { start, source, rank, label, positives: truth.size };
}

interface FusionParams {
  weights: Float64Array;
  k0: number;
}

/**
 * Mean recall@k and ndcg@depth (m = min(·, |held-out|), as in the evaluation protocol). The
 * ascent maximises ndcg at a depth of several k: it uses more of each ranking than recall@k, so
 * the weights it picks depend less on a few lucky hits.
 */
function evaluate(users: readonly UserCandidates[], p: FusionParams, k: number, depth = k): { recall: number; ndcg: number } {
  let recall = 0;
  let ndcg = 0;
  const K = Math.max(k, depth);
  const topScore = new Float64Array(K);
  const topIdx = new Int32Array(K);
  for (const u of users) {
    const n = u.label.length;
    let filled = 0;
    for (let c = 0; c < n; c++) {
      let s = 0;
      for (let h = u.start[c]!; h < u.start[c + 1]!; h++) s += p.weights[u.source[h]!]! / (p.k0 + u.rank[h]!);
      if (s <= 0) continue;
      if (filled === K && s <= topScore[K - 1]!) continue;
      let pos = filled < K ? filled++ : K - 1;
      while (pos > 0 && topScore[pos - 1]! < s) {
        topScore[pos] = topScore[pos - 1]!;
        topIdx[pos] = topIdx[pos - 1]!;
        pos--;
      }
      topScore[pos] = s;
      topIdx[pos] = c;
    }
    let hits = 0;
    let dcg = 0;
    let idcg = 0;
    for (let r = 0; r < filled; r++) {
      if (!u.label[topIdx[r]!]) continue;
      if (r < k) hits++;
      if (r < depth) dcg += 1 / Math.log2(r + 2);
    }
    for (let r = 0; r < Math.min(depth, u.positives); r++) idcg += 1 / Math.log2(r + 2);
    recall += hits / Math.min(k, u.positives);
    ndcg += dcg / idcg;
  }
  const n = Math.max(1, users.length);
  return { recall: recall / n, ndcg: ndcg / n };
}

/** The ascent's objective: ndcg at this multiple of k. */
const OBJECTIVE_DEPTH = 5;

const WEIGHT_GRID = [0, 0.1, 0.25, 0.5, 1, 2, 4, 8];
const K0_GRID = [1, 5, 20, 60, 200];

/**
 * Coordinate ascent from the best starting point among plain reciprocal-rank fusion and each
 * source alone (so the result is never worse, on `users`, than any of them).
 */
function learnWeights(users: readonly UserCandidates[], sources: number, defaults: FusionParams, k: number): FusionParams {
  const objective = (p: FusionParams): number => evaluate(users, p, k, OBJECTIVE_DEPTH * k).ndcg;
  let start = defaults;
  let startValue = objective(defaults);
  for (let s = 0; s < sources; s++) {
    const weights = new Float64Array(sources);
    weights[s] = 1;
    const single = { weights, k0: defaults.k0 };
    const value = objective(single);
    if (value > startValue) (start = single), (startValue = value);
  }
  return coordinateAscent(users, sources, start, k, 3);
}

/**
 * Coordinate ascent (as in Metzler & Croft's linear feature-based ranking): one parameter at a
 * time over a grid, keeping a change only when ndcg@5k on `users` improves.
 */
function coordinateAscent(users: readonly UserCandidates[], sources: number, start: FusionParams, k: number, rounds: number): FusionParams {
  const objective = (p: FusionParams): number => evaluate(users, p, k, OBJECTIVE_DEPTH * k).ndcg;
  const best: FusionParams = { weights: Float64Array.from(start.weights), k0: start.k0 };
  let bestValue = objective(best);
  for (let round = 0; round < rounds; round++) {
    let improved = false;
    for (let s = 0; s <= sources; s++) {
      const grid = s < sources ? WEIGHT_GRID : K0_GRID;
      for (const v of grid) {
        const trial: FusionParams = { weights: Float64Array.from(best.weights), k0: best.k0 };
        if (s < sources) trial.weights[s] = v;
        else trial.k0 = v;
        if (trial.weights.every((w) => w === 0)) continue;
        const value = objective(trial);
        if (value > bestValue + 1e-9) {
          bestValue = value;
          best.weights = trial.weights;
          best.k0 = trial.k0;
          improved = true;
        }
      }
    }
    if (!improved) break;
  }
  return best;
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
