/**
 * Metrics of docs/EVAL_PROTOCOL.md. Accuracy metrics are computed per user on the top-k list
 * and averaged over evaluated users; beyond-accuracy metrics look at the lists of all
 * evaluated users together.
 *
 * Per user, with P = the user's test positives, hits at ranks r = 1…k, and m = min(k, |P|):
 * - recall@k   = hits / m
 * - ndcg@k     = Σ_{hit r} 1/log2(r+1) / Σ_{r=1..m} 1/log2(r+1)   (binary gains)
 * - map@k      = (1/m) Σ_{hit r} precision@r, precision@r = hits within the first r / r
 * - hit_rate@k = 1 if any hit
 * - mrr@k      = 1 / rank of the first hit (0 without a hit)
 *
 * Beyond accuracy, over all top-k lists:
 * - coverage@k: distinct recommended items / candidate items
 * - novelty@k: mean over recommended slots of −log2(popularity share of the item), where the
 *   share is the fraction of training users who interacted with the item (the "self-information"
 *   novelty of Zhou et al., PNAS 2010)
 * - intra_list_diversity@k: per list, the mean over pairs of 1 − cosine(item vectors), averaged
 *   over lists with ≥ 2 represented items. Item vectors are the item's column of the binary
 *   training user–item matrix (cosine = |U_i ∩ U_j| / √(|U_i|·|U_j|)), or its binary tag vector
 *   with `vectors: 'tags'` (items without tags are then left out of the pairs).
 * - popularity_bias@k: share of recommended slots taken by the top 10% most popular candidate
 *   items (⌈0.1·candidates⌉ items, ordered by training count, ties as in rankings)
 * - in_network_share@k (only with a follow graph): share of recommended slots in the user's
 *   network: the item's author is followed by the user, or — for catalogues without authors —
 *   someone the user follows interacted with the item in training.
 */
import { intersectionSize } from '../models/csr.js';
import type { Csr } from '../models/csr.js';
import type { EvalDataset } from './dataset.js';
import { compareRanked, type TrainMatrix } from './recommender.js';

export interface UserAccuracy {
  recall: number;
  ndcg: number;
  map: number;
  hitRate: number;
  mrr: number;
}

const LOG2_DISCOUNT: number[] = [];
function discount(rank: number): number {
  let d = LOG2_DISCOUNT[rank];
  if (d === undefined) {
    d = 1 / Math.log2(rank + 1);
    LOG2_DISCOUNT[rank] = d;
  }
  return d;
}

/**
 * Accuracy of one ranked list. `list[start … start+k)` holds item ids best first (-1 = empty
 * slot); `isPositive(item)` tells test positives; `numPositives` is |P|.
 */
export function accuracyAtK(list: ArrayLike<number>, start: number, k: number, isPositive: (item: number) => boolean, numPositives: number): UserAccuracy {
  const m = Math.min(k, numPositives);
  if (m === 0) return { recall: 0, ndcg: 0, map: 0, hitRate: 0, mrr: 0 };
  let hits = 0;
  let dcg = 0;
  let ap = 0;
  let firstHit = 0;
  for (let r = 1; r <= k; r++) {
    const item = list[start + r - 1];
    if (item < 0 || !isPositive(item)) continue;
    hits++;
    dcg += discount(r);
    ap += hits / r;
    if (firstHit === 0) firstHit = r;
  }
  let idcg = 0;
  for (let r = 1; r <= m; r++) idcg += discount(r);
  return { recall: hits / m, ndcg: dcg / idcg, map: ap / m, hitRate: hits > 0 ? 1 : 0, mrr: firstHit > 0 ? 1 / firstHit : 0 };
}

export interface RankingInput {
  train: TrainMatrix;
  /** Evaluated users (row r of `lists` and `positives` belongs to users[r]). */
  users: Int32Array;
  positives: Csr;
  /** Top-K lists, K = `listLength` ≥ every k, row-major. */
  lists: Int32Array;
  listLength: number;
  /** Item vectors for intra-list diversity (default: training user–item columns). */
  vectors?: 'interactions' | 'tags';
}

export type MetricValues = Record<string, number>;

/** Every metric of the protocol at each k, keyed `name@k`. */
export function rankingMetrics(input: RankingInput, ks: readonly number[]): MetricValues {
  const out: MetricValues = {};
  for (const k of ks) {
    if (k > input.listLength) throw new Error(`k=${k} exceeds the list length ${input.listLength}`);
    Object.assign(out, accuracyMetrics(input, k), beyondAccuracyMetrics(input, k));
  }
  return out;
}

export function accuracyMetrics(input: RankingInput, k: number): MetricValues {
  const { users, positives, lists, listLength } = input;
  const marker = new Uint8Array(input.train.numItems);
  const isPositive = (item: number): boolean => marker[item] === 1;
  let recall = 0;
  let ndcg = 0;
  let map = 0;
  let hit = 0;
  let mrr = 0;
  for (let r = 0; r < users.length; r++) {
    const p0 = positives.offsets[r];
    const p1 = positives.offsets[r + 1];
    for (let p = p0; p < p1; p++) marker[positives.indices[p]] = 1;
    const a = accuracyAtK(lists, r * listLength, k, isPositive, p1 - p0);
    for (let p = p0; p < p1; p++) marker[positives.indices[p]] = 0;
    recall += a.recall;
    ndcg += a.ndcg;
    map += a.map;
    hit += a.hitRate;
    mrr += a.mrr;
  }
  const n = Math.max(1, users.length);
  return { [`recall@${k}`]: recall / n, [`ndcg@${k}`]: ndcg / n, [`map@${k}`]: map / n, [`hit_rate@${k}`]: hit / n, [`mrr@${k}`]: mrr / n };
}

/** Candidate items ordered by training popularity (count descending, ties as in rankings: TIE_BREAK). */
export function popularityOrder(train: TrainMatrix): Int32Array {
  const items: number[] = [];
  for (let i = 0; i < train.numItems; i++) if (train.candidates[i]) items.push(i);
  const counts = train.itemCounts;
  items.sort((a, b) => compareRanked(counts[a], a, counts[b], b));
  return Int32Array.from(items);
}

/** Rank of every item in `popularityOrder` (−1 for non-candidates). */
export function popularityRanks(train: TrainMatrix): Int32Array {
  const order = popularityOrder(train);
  const rank = new Int32Array(train.numItems).fill(-1);
  order.forEach((item, r) => (rank[item] = r));
  return rank;
}

export function beyondAccuracyMetrics(input: RankingInput, k: number): MetricValues {
  const { train, users, lists, listLength } = input;
  const ds = train.dataset;
  const numTrainUsers = countTrainUsers(train);
  const ranks = popularityRanks(train);
  const topCut = Math.ceil(0.1 * train.numCandidates);
  const recommended = new Uint8Array(train.numItems);
  let distinct = 0;
  let slots = 0;
  let noveltySum = 0;
  let popularSlots = 0;
  let ildSum = 0;
  let ildLists = 0;
  const cosine = makeCosine(train, input.vectors ?? 'interactions');
  const listItems: number[] = [];

  for (let r = 0; r < users.length; r++) {
    listItems.length = 0;
    for (let p = 0; p < k; p++) {
      const item = lists[r * listLength + p];
      if (item < 0) continue;
      listItems.push(item);
      slots++;
      if (!recommended[item]) {
        recommended[item] = 1;
        distinct++;
      }
      const share = train.itemCounts[item] / numTrainUsers;
      noveltySum += share > 0 ? -Math.log2(share) : 0;
      if (ranks[item] >= 0 && ranks[item] < topCut) popularSlots++;
    }
    // intra-list diversity
    let pairs = 0;
    let dissim = 0;
    for (let a = 0; a < listItems.length; a++) {
      for (let b = a + 1; b < listItems.length; b++) {
        const c = cosine(listItems[a], listItems[b]);
        if (c === undefined) continue;
        pairs++;
        dissim += 1 - c;
      }
    }
    if (pairs > 0) {
      ildSum += dissim / pairs;
      ildLists++;
    }
  }
  const out: MetricValues = {
    [`coverage@${k}`]: train.numCandidates > 0 ? distinct / train.numCandidates : 0,
    [`novelty@${k}`]: slots > 0 ? noveltySum / slots : 0,
    [`intra_list_diversity@${k}`]: ildLists > 0 ? ildSum / ildLists : 0,
    [`popularity_bias@${k}`]: slots > 0 ? popularSlots / slots : 0,
  };
  if (ds.follows) out[`in_network_share@${k}`] = inNetworkShare(input, k);
  return out;
}

function countTrainUsers(train: TrainMatrix): number {
  let n = 0;
  const o = train.userItems.offsets;
  for (let u = 0; u < train.numUsers; u++) if (o[u + 1] > o[u]) n++;
  return Math.max(1, n);
}

/** Cosine between two items' vectors (memoised), or undefined when one has no vector. */
function makeCosine(train: TrainMatrix, vectors: 'interactions' | 'tags'): (a: number, b: number) => number | undefined {
  const memo = new Map<number, number>();
  const n = train.numItems;
  let offsets: Int32Array;
  let indices: Int32Array;
  if (vectors === 'tags') {
    const tags = train.dataset.tags;
    if (!tags) throw new Error('intra-list diversity over tags: the data set has no item tags');
    offsets = tags.offsets;
    indices = tags.ids;
  } else {
    offsets = train.itemUsers.offsets;
    indices = train.itemUsers.indices;
  }
  return (a: number, b: number) => {
    if (a > b) [a, b] = [b, a];
    const key = a * n + b;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    const la = offsets[a + 1] - offsets[a];
    const lb = offsets[b + 1] - offsets[b];
    if (la === 0 || lb === 0) return undefined;
    const c = intersectionSize(indices, offsets[a], offsets[a + 1], indices, offsets[b], offsets[b + 1]) / Math.sqrt(la * lb);
    memo.set(key, c);
    return c;
  };
}

function inNetworkShare(input: RankingInput, k: number): number {
  const { train, users, lists, listLength } = input;
  const ds: EvalDataset = train.dataset;
  const follows = ds.follows!;
  const authors = ds.itemAuthor;
  const followed = new Int32Array(ds.userIds.length).fill(-1);
  const touched = new Int32Array(train.numItems).fill(-1);
  const { offsets: uo, indices: ui } = train.userItems;
  let slots = 0;
  let inNetwork = 0;
  for (let r = 0; r < users.length; r++) {
    const u = users[r];
    for (let p = follows.offsets[u]; p < follows.offsets[u + 1]; p++) {
      const v = follows.targets[p];
      followed[v] = r;
      if (!authors && v < train.numUsers) for (let q = uo[v]; q < uo[v + 1]; q++) touched[ui[q]] = r;
    }
    for (let p = 0; p < k; p++) {
      const item = lists[r * listLength + p];
      if (item < 0) continue;
      slots++;
      if (authors) {
        const a = authors[item];
        if (a >= 0 && followed[a] === r) inNetwork++;
      } else if (touched[item] === r) inNetwork++;
    }
  }
  return slots > 0 ? inNetwork / slots : 0;
}

/**
 * Share of recommended slots per popularity decile of candidate items (decile 0 = the 10%
 * most popular), for the report's popularity chart.
 */
export function popularityDeciles(input: RankingInput, k: number): number[] {
  const ranks = popularityRanks(input.train);
  const n = input.train.numCandidates;
  const counts = new Array<number>(10).fill(0);
  let slots = 0;
  for (let r = 0; r < input.users.length; r++) {
    for (let p = 0; p < k; p++) {
      const item = input.lists[r * input.listLength + p];
      if (item < 0 || ranks[item] < 0) continue;
      counts[Math.min(9, Math.floor((ranks[item] * 10) / n))]++;
      slots++;
    }
  }
  return counts.map((c) => (slots > 0 ? c / slots : 0));
}
