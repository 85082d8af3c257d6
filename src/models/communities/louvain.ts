/**
 * Community detection on the producer side of a consumer → producer bipartite graph (who
 * follows whom, who engaged with which item), as SimClusters' "KnownFor" step does it:
 * producers that share consumers belong together.
 *
 * The producer–producer graph is never materialised. Its weights are the projection
 *   A(p, q) = Σ_u w(u,p) · w(u,q) / s(u),   s(u) = Σ_p w(u,p)
 * (each consumer spreads one unit of similarity, so a consumer who follows everything says
 * little), and the clustering is Louvain's local-move phase on it: producers in random order,
 * each moved to the neighbouring community with the best modularity gain
 *   gain(c) = Σ_u w(u,p)/s(u) · H(u,c)  −  γ · k(p) · vol(c) / 2m,
 * where H(u,c) is the weight of u's producers in c. Each consumer keeps its histogram H as a
 * short list of (community, weight) pairs (at most its degree), updated when a producer moves,
 * so one pass costs Σ_u deg(u) · |H(u)|. Typed arrays only.
 */

export interface BipartiteGraph {
  consumers: number;
  producers: number;
  /** Consumer → producers (CSR). */
  offsets: Int32Array;
  targets: Int32Array;
  weights: Float32Array;
}

export interface ClusterOptions {
  /** Modularity resolution γ: larger → more, smaller communities. */
  resolution?: number;
  maxPasses?: number;
  /** Stop when a pass moves fewer than this share of producers. */
  minMoveShare?: number;
  /** Communities with fewer producers are dissolved (label −1). */
  minSize?: number;
  seed?: number;
  /** Rounds of pairwise community merges between the local-move phases. */
  mergeRounds?: number;
  onProgress?: (pass: number, moved: number) => void;
}

export interface Clustering {
  /** Community per producer, 0…count−1, or −1 (no edges, or a dissolved tiny community). */
  labels: Int32Array;
  count: number;
  /** Producers per community. */
  sizes: Int32Array;
  passes: number;
  modularityGainMoves: number;
}

/** Builds a bipartite CSR from edge lists (duplicate pairs are summed). */
export function bipartiteFromEdges(consumers: number, producers: number, from: ArrayLike<number>, to: ArrayLike<number>, w?: ArrayLike<number>): BipartiteGraph {
  const n = from.length;
  const offsets = new Int32Array(consumers + 1);
  for (let e = 0; e < n; e++) offsets[from[e] + 1]++;
  for (let u = 0; u < consumers; u++) offsets[u + 1] += offsets[u];
  const fill = offsets.slice(0, consumers);
  const targets = new Int32Array(n);
  const weights = new Float32Array(n);
  for (let e = 0; e < n; e++) {
    const p = fill[from[e]]++;
    targets[p] = to[e];
    weights[p] = w ? w[e] : 1;
  }
  // Sum duplicates within each row (sort row by target).
  const outOffsets = new Int32Array(consumers + 1);
  let write = 0;
  const order: number[] = [];
  for (let u = 0; u < consumers; u++) {
    const a = offsets[u];
    const b = offsets[u + 1];
    order.length = 0;
    for (let p = a; p < b; p++) order.push(p);
    order.sort((x, y) => targets[x] - targets[y]);
    const t = order.map((p) => targets[p]);
    const ws = order.map((p) => weights[p]);
    for (let k = 0; k < t.length; k++) {
      if (k > 0 && t[k] === t[k - 1]) {
        weights[write - 1] += ws[k];
      } else {
        targets[write] = t[k];
        weights[write] = ws[k];
        write++;
      }
    }
    outOffsets[u + 1] = write;
  }
  return { consumers, producers, offsets: outOffsets, targets: targets.slice(0, write), weights: weights.slice(0, write) };
}

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function clusterProducers(g: BipartiteGraph, options: ClusterOptions = {}): Clustering {
  const gamma = options.resolution ?? 1;
  const maxPasses = options.maxPasses ?? 12;
  const minMoveShare = options.minMoveShare ?? 0.005;
  const minSize = options.minSize ?? 2;
  const random = rng(options.seed ?? 1);
  const { consumers, producers, offsets, targets, weights } = g;
  const nnz = targets.length;

  // Consumer strengths.
  const strength = new Float64Array(consumers);
  for (let u = 0; u < consumers; u++) for (let p = offsets[u]; p < offsets[u + 1]; p++) strength[u] += weights[p];

  // Producer → consumers (transpose), with normalised weights w(u,p)/s(u).
  const pOffsets = new Int32Array(producers + 1);
  for (let e = 0; e < nnz; e++) pOffsets[targets[e] + 1]++;
  for (let p = 0; p < producers; p++) pOffsets[p + 1] += pOffsets[p];
  const pFill = pOffsets.slice(0, producers);
  const pConsumers = new Int32Array(nnz);
  const pWeight = new Float32Array(nnz); // w(u,p)
  for (let u = 0; u < consumers; u++) {
    for (let e = offsets[u]; e < offsets[u + 1]; e++) {
      const q = pFill[targets[e]]++;
      pConsumers[q] = u;
      pWeight[q] = weights[e];
    }
  }

  // Producer degrees in the projection (self-loops excluded) and total volume.
  const k = new Float64Array(producers);
  let twoM = 0;
  for (let p = 0; p < producers; p++) {
    let s = 0;
    for (let e = pOffsets[p]; e < pOffsets[p + 1]; e++) {
      const u = pConsumers[e];
      const w = pWeight[e];
      if (strength[u] > 0) s += (w * (strength[u] - w)) / strength[u];
    }
    k[p] = s;
    twoM += s;
  }

  // Start: each producer with edges in its own community.
  const label = new Int32Array(producers).fill(-1);
  const vol = new Float64Array(producers);
  const size = new Int32Array(producers);
  for (let p = 0; p < producers; p++) {
    if (pOffsets[p + 1] > pOffsets[p]) {
      label[p] = p;
      vol[p] = k[p];
      size[p] = 1;
    }
  }
  // Consumer histograms: slots [offsets[u], offsets[u] + histLen[u]) of histLabel/histWeight.
  const histLabel = new Int32Array(nnz);
  const histWeight = new Float64Array(nnz);
  const histLen = new Int32Array(consumers);
  for (let u = 0; u < consumers; u++) {
    let len = 0;
    for (let e = offsets[u]; e < offsets[u + 1]; e++) {
      histLabel[offsets[u] + len] = targets[e];
      histWeight[offsets[u] + len] = weights[e];
      len++;
    }
    histLen[u] = len;
  }
  const histAdd = (u: number, c: number, w: number): void => {
    const base = offsets[u];
    const len = histLen[u];
    for (let s = base; s < base + len; s++) {
      if (histLabel[s] === c) {
        const v = histWeight[s] + w;
        if (v <= 1e-9) {
          // remove: move the last slot here
          histLabel[s] = histLabel[base + len - 1];
          histWeight[s] = histWeight[base + len - 1];
          histLen[u] = len - 1;
        } else histWeight[s] = v;
        return;
      }
    }
    if (w > 1e-9) {
      histLabel[base + len] = c;
      histWeight[base + len] = w;
      histLen[u] = len + 1;
    }
  };

  // Order of visits: a random permutation of producers with edges.
  const active: number[] = [];
  for (let p = 0; p < producers; p++) if (label[p] >= 0) active.push(p);
  const order = Int32Array.from(active);
  const gain = new Float64Array(producers);
  const touched = new Int32Array(producers);
  let passes = 0;
  let totalMoves = 0;
  const localMoves = (): void => {
    for (let pass = 0; pass < maxPasses; pass++) {
      passes++;
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      let moved = 0;
      for (let oi = 0; oi < order.length; oi++) {
        const p = order[oi];
        const old = label[p];
        // Votes of p's consumers per community (p itself excluded from its own community).
        let nt = 0;
        for (let e = pOffsets[p]; e < pOffsets[p + 1]; e++) {
          const u = pConsumers[e];
          const su = strength[u];
          if (su <= 0) continue;
          const wu = pWeight[e] / su;
          const base = offsets[u];
          const end = base + histLen[u];
          for (let s = base; s < end; s++) {
            const c = histLabel[s];
            let h = histWeight[s];
            if (c === old) h -= pWeight[e];
            if (h <= 1e-12) continue;
            if (gain[c] === 0) touched[nt++] = c;
            gain[c] += wu * h;
          }
        }
        const kp = k[p];
        let best = old;
        let bestGain = gain[old] - (gamma * kp * (vol[old] - kp)) / twoM;
        for (let t = 0; t < nt; t++) {
          const c = touched[t];
          if (c === old) continue;
          const g2 = gain[c] - (gamma * kp * vol[c]) / twoM;
          if (g2 > bestGain + 1e-12) {
            bestGain = g2;
            best = c;
          }
        }
        for (let t = 0; t < nt; t++) gain[touched[t]] = 0;
        gain[old] = 0;
        let target = best;
        // Alone (a fresh community, gain 0) beats a negative best: p's own id when it is free.
        if (bestGain < -1e-12 && size[old] > 1 && size[p] === 0) target = p;
        if (target === old) continue;
        // Move p: old → target.
        for (let e = pOffsets[p]; e < pOffsets[p + 1]; e++) {
          const u = pConsumers[e];
          histAdd(u, old, -pWeight[e]);
          histAdd(u, target, pWeight[e]);
        }
        vol[old] -= kp;
        size[old]--;
        vol[target] += kp;
        size[target]++;
        label[p] = target;
        moved++;
      }
      totalMoves += moved;
      options.onProgress?.(pass + 1, moved);
      if (moved < minMoveShare * order.length) break;
    }
  };

  /** Rebuilds every consumer's histogram from the labels. */
  const rebuildHistograms = (): void => {
    for (let u = 0; u < consumers; u++) {
      histLen[u] = 0;
      for (let e = offsets[u]; e < offsets[u + 1]; e++) histAdd(u, label[targets[e]], weights[e]);
    }
  };

  /**
   * Louvain's second phase, done greedily on communities: merge pairs whose union raises
   * modularity (e(c,d) > γ·vol(c)·vol(d)/2m), best first, each community at most once per round.
   */
  const mergeRound = (): number => {
    const between = new Map<number, number>();
    const slotsC: number[] = [];
    const slotsH: number[] = [];
    for (let u = 0; u < consumers; u++) {
      const su = strength[u];
      if (su <= 0 || histLen[u] < 2) continue;
      slotsC.length = 0;
      slotsH.length = 0;
      const base = offsets[u];
      for (let s = base; s < base + histLen[u]; s++) {
        slotsC.push(histLabel[s]);
        slotsH.push(histWeight[s]);
      }
      let n = slotsC.length;
      if (n > 48) {
        // Only the strongest communities of a very broad consumer.
        const idx = slotsC.map((_, i) => i).sort((x, y) => slotsH[y] - slotsH[x]).slice(0, 48);
        const c2 = idx.map((i) => slotsC[i]);
        const h2 = idx.map((i) => slotsH[i]);
        slotsC.splice(0, slotsC.length, ...c2);
        slotsH.splice(0, slotsH.length, ...h2);
        n = 48;
      }
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          const c = slotsC[i] < slotsC[j] ? slotsC[i] : slotsC[j];
          const d = slotsC[i] < slotsC[j] ? slotsC[j] : slotsC[i];
          const key = c * producers + d;
          between.set(key, (between.get(key) ?? 0) + (slotsH[i] * slotsH[j]) / su);
        }
      }
    }
    const pairs: { c: number; d: number; gain: number }[] = [];
    for (const [key, e] of between) {
      const c = Math.floor(key / producers);
      const d = key - c * producers;
      const g2 = e - (gamma * vol[c] * vol[d]) / twoM;
      if (g2 > 1e-12) pairs.push({ c, d, gain: g2 / Math.max(1e-12, Math.min(vol[c], vol[d])) });
    }
    pairs.sort((x, y) => y.gain - x.gain || x.c - y.c || x.d - y.d);
    const used = new Uint8Array(producers);
    const into = new Int32Array(producers).fill(-1);
    let merges = 0;
    for (const { c, d } of pairs) {
      if (used[c] || used[d]) continue;
      used[c] = used[d] = 1;
      into[d] = c;
      vol[c] += vol[d];
      vol[d] = 0;
      size[c] += size[d];
      size[d] = 0;
      merges++;
    }
    if (merges === 0) return 0;
    for (let p = 0; p < producers; p++) if (label[p] >= 0 && into[label[p]] >= 0) label[p] = into[label[p]];
    rebuildHistograms();
    return merges;
  };

  if (twoM > 0) {
    localMoves();
    for (let level = 0; level < (options.mergeRounds ?? 12); level++) {
      if (mergeRound() === 0) break;
    }
    localMoves();
  }

  // Relabel 0…count−1, dissolving tiny communities.
  const remap = new Int32Array(producers).fill(-1);
  let count = 0;
  for (let p = 0; p < producers; p++) {
    const c = label[p];
    if (c < 0 || size[c] < minSize) {
      label[p] = -1;
      continue;
    }
    if (remap[c] < 0) remap[c] = count++;
    label[p] = remap[c];
  }
  const sizes = new Int32Array(count);
  for (let p = 0; p < producers; p++) if (label[p] >= 0) sizes[label[p]]++;
  return { labels: label, count, sizes, passes, modularityGainMoves: totalMoves };
}
