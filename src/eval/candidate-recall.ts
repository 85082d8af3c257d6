/**
 * Candidate recall: how much of a user's test positives the first stage can find at all.
 * For each source and for the union of all sources: recall@N = |positives ∩ candidates| /
 * |positives| (averaged over evaluated users) and the mean number of candidates; the
 * marginal gain of a source is the union's recall minus the recall of the union without it
 * (what that source finds that no other does).
 */
import type { Csr } from '../models/csr.js';

/** Per source, per evaluated user (row r ↔ users[r]): candidate item ids (dense eval ids). */
export type SourceCandidates = Map<string, Int32Array[]>;

export interface CandidateRecall {
  n: number;
  /** k of `topRecall`: each source's own first k candidates, in its score order. */
  k: number;
  sources: Record<string, { recall: number; meanCount: number; marginalGain: number; topRecall: number }>;
  union: { recall: number; meanCount: number };
}

export function candidateRecall(candidates: SourceCandidates, positives: Csr, n: number, k = 10): CandidateRecall {
  const names = [...candidates.keys()];
  const users = positives.rows;
  const sums = new Map<string, { recall: number; count: number; without: number; top: number }>();
  const positive = new Set<number>();
  for (const name of names) sums.set(name, { recall: 0, count: 0, without: 0, top: 0 });
  let unionRecall = 0;
  let unionCount = 0;
  let evaluated = 0;
  const mark = new Map<number, number>(); // item → bitmask of sources (≤ 31 sources)
  for (let r = 0; r < users; r++) {
    const start = positives.offsets[r]!;
    const end = positives.offsets[r + 1]!;
    if (end === start) continue;
    evaluated++;
    mark.clear();
    positive.clear();
    for (let p = start; p < end; p++) positive.add(positives.indices[p]!);
    names.forEach((name, s) => {
      const list = candidates.get(name)![r] ?? new Int32Array(0);
      const e = sums.get(name)!;
      e.count += list.length;
      let topHits = 0;
      for (let j = 0; j < Math.min(k, list.length); j++) if (positive.has(list[j]!)) topHits++;
      e.top += topHits / Math.min(k, end - start);
      for (let k = 0; k < list.length; k++) mark.set(list[k]!, (mark.get(list[k]!) ?? 0) | (1 << s));
    });
    unionCount += mark.size;
    const hitsBy = new Array<number>(names.length).fill(0);
    const onlyBy = new Array<number>(names.length).fill(0);
    let unionHits = 0;
    for (let p = start; p < end; p++) {
      const m = mark.get(positives.indices[p]!) ?? 0;
      if (m === 0) continue;
      unionHits++;
      for (let s = 0; s < names.length; s++) {
        if (m & (1 << s)) {
          hitsBy[s]!++;
          if (m === 1 << s) onlyBy[s]!++;
        }
      }
    }
    const size = end - start;
    unionRecall += unionHits / size;
    names.forEach((name, s) => {
      const e = sums.get(name)!;
      e.recall += hitsBy[s]! / size;
      e.without += (unionHits - onlyBy[s]!) / size;
    });
  }
  const div = Math.max(1, evaluated);
  const sources: CandidateRecall['sources'] = {};
  for (const name of names) {
    const e = sums.get(name)!;
    sources[name] = { recall: e.recall / div, meanCount: e.count / Math.max(1, users), marginalGain: (unionRecall - e.without) / div, topRecall: e.top / div };
  }
  return { n, k, sources, union: { recall: unionRecall / div, meanCount: unionCount / div } };
}

/** The JSON shape of `lenta eval|replay --json`: {"<source>": {"recall@N", "mean_count", "marginal_gain", "top_recall@k"}, …, "union": {…}}. */
export function candidateRecallJson(c: CandidateRecall): Record<string, Record<string, number>> {
  const key = `recall@${c.n}`;
  const r6 = (x: number) => Math.round(x * 1e6) / 1e6;
  const out: Record<string, Record<string, number>> = {};
  for (const [name, v] of Object.entries(c.sources)) {
    out[name] = { [key]: r6(v.recall), mean_count: Math.round(v.meanCount * 10) / 10, marginal_gain: r6(v.marginalGain), [`top_recall@${c.k}`]: r6(v.topRecall) };
  }
  out.union = { [key]: r6(c.union.recall), mean_count: Math.round(c.union.meanCount * 10) / 10 };
  return out;
}

/** Rows of the text table: source, recall@N, mean count, marginal gain, top recall@k. */
export function candidateRecallRows(c: CandidateRecall): { header: string[]; rows: string[][] } {
  const rows = Object.entries(c.sources).map(([name, v]) => [name, v.recall.toFixed(4), v.meanCount.toFixed(1), v.marginalGain.toFixed(4), v.topRecall.toFixed(4)]);
  rows.push(['union', c.union.recall.toFixed(4), c.union.meanCount.toFixed(1), '', '']);
  return { header: ['source', `recall@${c.n}`, 'mean count', 'marginal gain', `top recall@${c.k}`], rows };
}
