/**
 * Training the source fusion (rank/source-fusion.ts) from held-out engagements.
 *
 * 1–3. Held-out examples (train/holdout.ts): sampled users' latest (or random, or last)
 *    engaged items hidden from a shadow engine; each user's candidates from the shadow's
 *    sources → merge → filters, exactly what the scorer sees when serving; label = the user
 *    engaged with it later. Users come in a seeded random order.
 * 4. Learn the per-source weights and k₀ by coordinate ascent on ndcg@5k of the first 80% of
 *    the users; measure recall@k of the held-out items on the other 20% for the learned
 *    weights, plain reciprocal-rank fusion and each source alone. The saved weights are the
 *    ones fitted on the first 80%, so the heavy ranker, validated on the same other users,
 *    is compared with an honest light ranker.
 */
import type { Engine } from '../engine.js';
import type { Candidate } from '../pipeline/types.js';
import { collectHoldoutExamples, type HoldoutExamples, type HoldoutOptions } from '../train/holdout.js';
import { FUSION_FORMAT, type FusionModelFile } from './source-fusion.js';

export interface FusionTrainingOptions extends HoldoutOptions {
  /** k of the validation recall (default 10). */
  k?: number;
}


export async function trainFusion(engine: Engine, options: FusionTrainingOptions): Promise<FusionModelFile | { skipped: string }> {
  const examples = await collectHoldoutExamples(engine, options);
  if ('skipped' in examples) return examples;
  try {
    return fitFusion(examples, engine.config.feed.fusionK, options.k);
  } finally {
    await examples.shadow.close();
  }
}

/** Steps 4–5 on examples already collected (shared with the heavy ranker's training). */
export function fitFusion(examples: HoldoutExamples, defaultK0: number, k = 10): FusionModelFile {
  const t2 = performance.now();
  const { sources } = examples;
  const sourceIndex = new Map(sources.map((name, i) => [name, i]));
  let positives = 0;
  // Users shown posts but engaged with none (impression examples) say nothing about the order.
  const lists: UserCandidates[] = examples.users.filter((u) => u.engaged.size > 0).map((u) => {
    for (const c of u.candidates) if (u.engaged.has(c.item)) positives++;
    return compact(u.candidates, u.engaged, sourceIndex);
  });
  const fitUsers = lists.slice(0, Math.round(lists.length * 0.8));
  const validUsers = lists.slice(fitUsers.length);
  const defaults = { weights: new Float64Array(sources.length).fill(1), k0: defaultK0 };
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
  // The saved weights are those fitted on the first 80% only (see above).
  const final = fitted;
  const ascent = (performance.now() - t2) / 1000;
  return {
    format: FUSION_FORMAT,
    sources,
    weights: Object.fromEntries(sources.map((name, s) => [name, round(final.weights[s]!)])),
    k0: final.k0,
    report: {
      users: lists.length,
      validationUsers: validUsers.length,
      positives,
      k,
      validation,
      seconds: examples.phases.shadow + examples.phases.examples + ascent,
      phases: { ...examples.phases, ascent },
    },
  };
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
