/**
 * Metrics for binary scores and ranked groups: ROC AUC (ties count one half, i.e. average
 * ranks), mean log loss and NDCG@k with gain 2^rel − 1. Used by the booster for early stopping
 * and re-exported by rank/calibration for reuse.
 */

/**
 * Area under the ROC curve of `scores` for 0/1 `labels` (a label > 0.5 is positive), optionally
 * weighted. Tied scores count one half, which equals the average-rank (Mann–Whitney) formula.
 * NaN when one class is absent.
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>, weights?: ArrayLike<number>): number {
  const n = scores.length;
  if (labels.length !== n) throw new Error(`labels: length ${labels.length} differs from scores (${n})`);
  if (!weights) {
    // Unweighted: sort the positives' and negatives' scores separately (native typed-array
    // sort), then count for each positive the negatives below it with a merge.
    let np = 0;
    for (let i = 0; i < n; i++) if (labels[i]! > 0.5) np++;
    const pos = new Float64Array(np);
    const neg = new Float64Array(n - np);
    for (let i = 0, a = 0, b = 0; i < n; i++) {
      if (labels[i]! > 0.5) pos[a++] = scores[i]!;
      else neg[b++] = scores[i]!;
    }
    if (np === 0 || np === n) return NaN;
    pos.sort();
    neg.sort();
    let below = 0; // negatives strictly below the current positive
    let sum = 0;
    for (let i = 0; i < np; ) {
      const s = pos[i]!;
      let j = i;
      while (j < np && pos[j] === s) j++;
      while (below < neg.length && neg[below]! < s) below++;
      let tied = below;
      while (tied < neg.length && neg[tied] === s) tied++;
      sum += (j - i) * (below + 0.5 * (tied - below));
      i = j;
    }
    return sum / (np * (n - np));
  }
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scores[a]! - scores[b]!);
  let negBelow = 0;
  let sum = 0;
  let P = 0;
  let N = 0;
  for (let i = 0; i < n; ) {
    const s = scores[order[i]!]!;
    let p = 0;
    let q = 0;
    let j = i;
    for (; j < n && scores[order[j]!] === s; j++) {
      const w = weights[order[j]!]!;
      if (labels[order[j]!]! > 0.5) p += w;
      else q += w;
    }
    sum += p * (negBelow + 0.5 * q);
    negBelow += q;
    P += p;
    N += q;
    i = j;
  }
  return P > 0 && N > 0 ? sum / (P * N) : NaN;
}

/** Mean (weighted) negative log-likelihood of probabilities `p` for labels in [0, 1]. */
export function logLoss(p: ArrayLike<number>, labels: ArrayLike<number>, weights?: ArrayLike<number>): number {
  let sum = 0;
  let total = 0;
  for (let i = 0; i < p.length; i++) {
    const q = Math.min(1 - 1e-15, Math.max(1e-15, p[i]!));
    const y = labels[i]!;
    const w = weights ? weights[i]! : 1;
    sum -= w * (y * Math.log(q) + (1 - y) * Math.log(1 - q));
    total += w;
  }
  return total > 0 ? sum / total : NaN;
}

/** Log loss of raw scores (log-odds), without materialising probabilities. */
/** log(1 + e^s), computed stably: the logloss of a raw score s is softplus(s) − y·s. */
export function softplus(s: number): number {
  return s > 0 ? s + Math.log1p(Math.exp(-s)) : Math.log1p(Math.exp(s));
}

export function logLossOfRaw(raw: ArrayLike<number>, labels: ArrayLike<number>, weights?: ArrayLike<number>): number {
  let sum = 0;
  let total = 0;
  for (let i = 0; i < raw.length; i++) {
    const s = raw[i]!;
    const y = labels[i]!;
    const w = weights ? weights[i]! : 1;
    // -[y log σ(s) + (1-y) log(1-σ(s))] = log(1 + e^s) - y s.
    sum += w * (softplus(s) - y * s);
    total += w;
  }
  return total > 0 ? sum / total : NaN;
}

/** Gain of a graded relevance label. */
export function labelGain(rel: number): number {
  return Math.pow(2, rel) - 1;
}

/** DCG@k of the ideal order of `labels[begin..end)`. */
export function idealDcg(labels: ArrayLike<number>, begin: number, end: number, k: number): number {
  const sorted = Array.from({ length: end - begin }, (_, i) => labels[begin + i]!).sort((a, b) => b - a);
  let dcg = 0;
  for (let i = 0; i < Math.min(k, sorted.length); i++) dcg += labelGain(sorted[i]!) / Math.log2(i + 2);
  return dcg;
}

/**
 * Mean NDCG@k over the groups (`groups` = offsets, length g + 1) by descending score; tied
 * scores keep their row order. Groups without any relevant row carry no information and are
 * left out of the mean (NaN when none is left).
 */
export function ndcgAtK(scores: ArrayLike<number>, labels: ArrayLike<number>, groups: Int32Array, k: number): number {
  return new NdcgEvaluator(labels, groups, k).evaluate(scores);
}

/**
 * Sorts order[0..m) (offsets into a group starting at row `begin`) by descending score, ties
 * by offset. Insertion sort for small groups (no allocation, no comparator calls), else the
 * typed-array sort.
 */
export function sortGroupByScore(order: Int32Array, m: number, scores: ArrayLike<number>, begin: number): void {
  if (m > 48) {
    order.subarray(0, m).sort((a, b) => scores[begin + b]! - scores[begin + a]! || a - b);
    return;
  }
  for (let i = 1; i < m; i++) {
    const x = order[i]!;
    const sx = scores[begin + x]!;
    let j = i - 1;
    // Move earlier entries that rank below x (lower score, or equal score and larger offset).
    while (j >= 0) {
      const y = order[j]!;
      const sy = scores[begin + y]!;
      if (sy > sx || (sy === sx && y < x)) break;
      order[j + 1] = y;
      j--;
    }
    order[j + 1] = x;
  }
}

/** NDCG@k of fixed labels and groups for many score vectors (ideal DCGs and buffers computed once). */
export class NdcgEvaluator {
  private readonly invIdeal: Float64Array;
  private readonly gain: Float64Array;
  private readonly discount: Float64Array;
  private order: Int32Array;

  constructor(
    labels: ArrayLike<number>,
    readonly groups: Int32Array,
    readonly k: number,
  ) {
    const g = groups.length - 1;
    this.invIdeal = new Float64Array(Math.max(0, g));
    let maxSize = 0;
    for (let q = 0; q < g; q++) {
      const ideal = idealDcg(labels, groups[q]!, groups[q + 1]!, k);
      this.invIdeal[q] = ideal > 0 ? 1 / ideal : 0;
      maxSize = Math.max(maxSize, groups[q + 1]! - groups[q]!);
    }
    this.gain = Float64Array.from({ length: labels.length }, (_, i) => labelGain(labels[i]!));
    this.discount = Float64Array.from({ length: k }, (_, i) => 1 / Math.log2(i + 2));
    this.order = new Int32Array(maxSize);
  }

  evaluate(scores: ArrayLike<number>): number {
    const { groups, invIdeal, gain, discount, k } = this;
    let sum = 0;
    let counted = 0;
    for (let q = 0; q + 1 < groups.length; q++) {
      if (invIdeal[q] === 0) continue;
      const begin = groups[q]!;
      const m = groups[q + 1]! - begin;
      const o = this.order;
      for (let i = 0; i < m; i++) o[i] = i;
      sortGroupByScore(o, m, scores, begin);
      let dcg = 0;
      for (let i = 0; i < Math.min(k, m); i++) dcg += gain[begin + o[i]!]! * discount[i]!;
      sum += dcg * invIdeal[q]!;
      counted++;
    }
    return counted > 0 ? sum / counted : NaN;
  }
}
