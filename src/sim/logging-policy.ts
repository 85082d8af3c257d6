/**
 * The logging policy: how the simulated platform fills a page before Lenta exists.
 *
 * For each request it holds two candidate pools — in-network (recent posts of the accounts
 * the user follows) and out-of-network (trending and fresh posts of other accounts), each
 * with positive weights — and fills the page slot by slot, without replacement:
 *
 *   π(post at this slot | earlier slots) = ε / N
 *                                        + (1 − ε) · s_pool · w_post / W_pool
 *
 * where N is the number of candidates still available in both pools, W_pool the remaining
 * weight of the post's pool, s_in = inNetworkShare and s_out = 1 − s_in (a pool that is empty
 * gives its share to the other). That probability is logged as the impression's
 * `propensity`: it is exact, positive (ε > 0) and at most 1, so off-policy estimators (IPS,
 * SNIPS) can reweight the log.
 *
 * The in-network pool is built per request as a Fenwick tree over the weights (draw and
 * remove in O(log n)). The out-of-network pool is shared by all requests between two
 * refreshes: a static Fenwick tree over the trending list, from which a request draws by
 * rejection (posts the user saw, posts of accounts she follows, mutes or blocks, her own
 * posts); the request's remaining weight W_pool is the list's total minus the excluded
 * weight, which the caller computes from per-author sums — so the propensity stays exact
 * without copying the list for every request.
 */
import type { Rng } from './random.js';

/** What the page sampler needs from a pool. Slots are pool-internal positions. */
export interface Pool {
  /** Candidates still available. */
  readonly remaining: number;
  /** Their total weight. */
  readonly total: number;
  drawWeighted(rng: Rng): number;
  drawUniform(rng: Rng): number;
  item(slot: number): number;
  weight(slot: number): number;
  remove(slot: number): void;
}

export class CandidatePool implements Pool {
  private items: Int32Array;
  private weights: Float64Array;
  private tree: Float64Array;
  /** Slots still available, in no particular order, and each slot's place in that list. */
  private alive: Int32Array;
  private where: Int32Array;
  size = 0;
  remaining = 0;
  total = 0;

  constructor(capacity = 64) {
    this.items = new Int32Array(capacity);
    this.weights = new Float64Array(capacity);
    this.tree = new Float64Array(capacity + 1);
    this.alive = new Int32Array(capacity);
    this.where = new Int32Array(capacity);
  }

  clear(): void {
    this.size = 0;
    this.remaining = 0;
    this.total = 0;
  }

  push(item: number, weight: number): void {
    if (this.size === this.items.length) this.growTo(this.size * 2);
    this.items[this.size] = item;
    this.weights[this.size] = weight;
    this.size++;
  }

  private growTo(n: number): void {
    const items = new Int32Array(n);
    items.set(this.items);
    this.items = items;
    const weights = new Float64Array(n);
    weights.set(this.weights);
    this.weights = weights;
    this.tree = new Float64Array(n + 1);
    this.alive = new Int32Array(n);
    this.where = new Int32Array(n);
  }

  /** Builds the tree over the pushed candidates (O(n)); every candidate becomes available. */
  build(): void {
    const n = this.size;
    const tree = this.tree;
    let total = 0;
    for (let i = 0; i < n; i++) {
      tree[i + 1] = this.weights[i];
      total += this.weights[i];
      this.alive[i] = i;
      this.where[i] = i;
    }
    for (let i = 1; i <= n; i++) {
      const j = i + (i & -i);
      if (j <= n) tree[j] += tree[i];
    }
    this.remaining = n;
    this.total = total;
  }

  item(slot: number): number {
    return this.items[slot];
  }

  weight(slot: number): number {
    return this.weights[slot];
  }

  drawWeighted(rng: Rng): number {
    return this.sampleWeighted(rng.next());
  }

  drawUniform(rng: Rng): number {
    return this.alive[Math.min(this.remaining - 1, Math.floor(rng.next() * this.remaining))];
  }

  /** A slot drawn with probability weight / total, from u uniform in [0, 1). */
  sampleWeighted(u: number): number {
    const n = this.size;
    const tree = this.tree;
    let target = u * this.total;
    let pos = 0;
    let step = 1;
    while (step * 2 <= n) step *= 2;
    for (; step > 0; step >>= 1) {
      const next = pos + step;
      if (next <= n && tree[next] <= target) {
        pos = next;
        target -= tree[next];
      }
    }
    // pos is the number of slots whose cumulative weight is <= target: the drawn slot is pos.
    if (pos < n && this.weights[pos] > 0) return pos;
    return this.nearestAlive(pos);
  }

  /** Floating-point residue can land the descent on a removed slot: take the nearest live one. */
  private nearestAlive(pos: number): number {
    for (let i = Math.min(pos, this.size - 1); i >= 0; i--) if (this.weights[i] > 0) return i;
    for (let i = pos + 1; i < this.size; i++) if (this.weights[i] > 0) return i;
    return this.alive[0];
  }

  remove(slot: number): void {
    if (this.where[slot] < 0) return;
    const w = this.weights[slot];
    for (let i = slot + 1; i <= this.size; i += i & -i) this.tree[i] -= w;
    this.weights[slot] = 0;
    this.total = this.remaining > 1 ? Math.max(0, this.total - w) : 0;
    const k = this.where[slot];
    const last = this.alive[this.remaining - 1];
    this.alive[k] = last;
    this.where[last] = k;
    this.where[slot] = -1;
    this.remaining--;
  }
}

export interface PageBuffer {
  items: Int32Array;
  propensity: Float64Array;
  inNetwork: Uint8Array;
}

export function newPageBuffer(size: number): PageBuffer {
  return { items: new Int32Array(size), propensity: new Float64Array(size), inNetwork: new Uint8Array(size) };
}

/**
 * Fills up to `k` slots from the two pools (see the file comment); returns the number of
 * slots filled. Chosen posts are removed from their pools.
 */
export function samplePage(
  inPool: Pool,
  outPool: Pool,
  k: number,
  inNetworkShare: number,
  exploration: number,
  rng: Rng,
  out: PageBuffer,
): number {
  let filled = 0;
  while (filled < k) {
    const nIn = inPool.remaining;
    const nOut = outPool.remaining;
    const n = nIn + nOut;
    if (n <= 0) break;
    const sIn = nIn === 0 ? 0 : nOut === 0 ? 1 : inNetworkShare;
    let pool: Pool;
    let slot: number;
    if (rng.next() < exploration) {
      pool = rng.next() * n < nIn ? inPool : outPool;
      slot = pool.drawUniform(rng);
    } else {
      pool = rng.next() < sIn ? inPool : outPool;
      slot = pool.drawWeighted(rng);
    }
    const share = pool === inPool ? sIn : 1 - sIn;
    const weightShare = pool.total > 0 ? Math.min(1, pool.weight(slot) / pool.total) : 1 / pool.remaining;
    let p = exploration / n + (1 - exploration) * share * weightShare;
    if (p > 1) p = 1;
    out.items[filled] = pool.item(slot);
    out.propensity[filled] = p;
    out.inNetwork[filled] = pool === inPool ? 1 : 0;
    pool.remove(slot);
    filled++;
  }
  return filled;
}

/**
 * The out-of-network pool shared by the requests between two refreshes (see the file
 * comment). `begin` opens it for one request with that request's exclusions; when they
 * cover most of the list, the request gets an explicit copy of the eligible posts instead
 * of drawing by rejection.
 */
export class SharedPool implements Pool {
  private items = new Int32Array(0);
  private authors = new Int32Array(0);
  private weights = new Float64Array(0);
  private tree = new Float64Array(1);
  private size = 0;
  private fullTotal = 0;
  /** slot + 1 of each item in the current list (0: not listed). */
  private slotPlusOne = new Int32Array(1024);
  private readonly authorWeights: Float64Array;
  private readonly authorCounts: Int32Array;
  private readonly explicit: CandidatePool;
  private useExplicit = false;

  // the open request
  remaining = 0;
  total = 0;
  private itemMark: Int32Array = new Int32Array(0);
  private authorMark: Int32Array = new Int32Array(0);
  private stamp = 0;

  constructor(accounts: number, capacity: number) {
    this.authorWeights = new Float64Array(accounts);
    this.authorCounts = new Int32Array(accounts);
    this.explicit = new CandidatePool(capacity);
  }

  /** Replaces the list. `items`, `authors`, `weights` are read for the first `n` entries. */
  set(items: Int32Array, authors: Int32Array, weights: Float64Array, n: number, itemCount: number): void {
    for (let s = 0; s < this.size; s++) {
      this.slotPlusOne[this.items[s]] = 0;
      this.authorWeights[this.authors[s]] = 0;
      this.authorCounts[this.authors[s]] = 0;
    }
    if (this.slotPlusOne.length < itemCount) {
      const m = new Int32Array(Math.max(itemCount, this.slotPlusOne.length * 2));
      m.set(this.slotPlusOne);
      this.slotPlusOne = m;
    }
    if (this.items.length < n) {
      this.items = new Int32Array(n);
      this.authors = new Int32Array(n);
      this.weights = new Float64Array(n);
      this.tree = new Float64Array(n + 1);
    }
    this.size = n;
    let total = 0;
    const tree = this.tree;
    for (let s = 0; s < n; s++) {
      const it = items[s];
      const a = authors[s];
      const w = weights[s];
      this.items[s] = it;
      this.authors[s] = a;
      this.weights[s] = w;
      this.slotPlusOne[it] = s + 1;
      this.authorWeights[a] += w;
      this.authorCounts[a]++;
      tree[s + 1] = w;
      total += w;
    }
    for (let i = 1; i <= n; i++) {
      const j = i + (i & -i);
      if (j <= n) tree[j] += tree[i];
    }
    this.fullTotal = total;
  }

  /** Total weight and count of an author's posts in the list. */
  authorWeight(a: number): number {
    return this.authorWeights[a];
  }

  authorCount(a: number): number {
    return this.authorCounts[a];
  }

  /** Weight of an item in the list, or -1 when it is not listed. */
  itemWeight(item: number): number {
    const s = item < this.slotPlusOne.length ? this.slotPlusOne[item] - 1 : -1;
    return s < 0 ? -1 : this.weights[s];
  }

  /**
   * Opens the pool for one request: items with itemMark[item] === stamp and authors with
   * authorMark[author] === stamp are excluded; their total weight and count (computed by the
   * caller from `authorWeight`/`authorCount`/`itemWeight`, each post counted once) are given.
   */
  begin(itemMark: Int32Array, authorMark: Int32Array, stamp: number, excludedWeight: number, excludedCount: number): void {
    this.itemMark = itemMark;
    this.authorMark = authorMark;
    this.stamp = stamp;
    const remaining = this.size - excludedCount;
    this.useExplicit = remaining > 0 && remaining * 4 < this.size;
    if (this.useExplicit) {
      const ex = this.explicit;
      ex.clear();
      for (let s = 0; s < this.size; s++) if (this.eligible(s)) ex.push(this.items[s], this.weights[s]);
      ex.build();
      this.remaining = ex.remaining;
      this.total = ex.total;
      return;
    }
    this.remaining = Math.max(0, remaining);
    this.total = this.remaining > 0 ? Math.max(0, this.fullTotal - excludedWeight) : 0;
  }

  private eligible(s: number): boolean {
    return this.itemMark[this.items[s]] !== this.stamp && this.authorMark[this.authors[s]] !== this.stamp;
  }

  drawWeighted(rng: Rng): number {
    if (this.useExplicit) return this.explicit.drawWeighted(rng);
    const n = this.size;
    const tree = this.tree;
    let top = 1;
    while (top * 2 <= n) top *= 2;
    for (let attempt = 0; attempt < 64; attempt++) {
      let target = rng.next() * this.fullTotal;
      let pos = 0;
      for (let step = top; step > 0; step >>= 1) {
        const next = pos + step;
        if (next <= n && tree[next] <= target) {
          pos = next;
          target -= tree[next];
        }
      }
      if (pos >= n) pos = n - 1;
      if (this.eligible(pos)) return pos;
    }
    // Rejection keeps failing: draw from the eligible posts directly.
    let sum = 0;
    for (let s = 0; s < n; s++) if (this.eligible(s)) sum += this.weights[s];
    let target = rng.next() * sum;
    let last = -1;
    for (let s = 0; s < n; s++) {
      if (!this.eligible(s)) continue;
      last = s;
      target -= this.weights[s];
      if (target < 0) return s;
    }
    return last;
  }

  drawUniform(rng: Rng): number {
    if (this.useExplicit) return this.explicit.drawUniform(rng);
    const n = this.size;
    for (let attempt = 0; attempt < 64; attempt++) {
      const s = Math.floor(rng.next() * n);
      if (this.eligible(s)) return s;
    }
    let k = Math.floor(rng.next() * this.remaining);
    let last = -1;
    for (let s = 0; s < n; s++) {
      if (!this.eligible(s)) continue;
      last = s;
      if (k-- === 0) return s;
    }
    return last;
  }

  item(slot: number): number {
    return this.useExplicit ? this.explicit.item(slot) : this.items[slot];
  }

  weight(slot: number): number {
    return this.useExplicit ? this.explicit.weight(slot) : this.weights[slot];
  }

  remove(slot: number): void {
    if (this.useExplicit) {
      this.explicit.remove(slot);
      this.remaining = this.explicit.remaining;
      this.total = this.explicit.total;
      return;
    }
    this.itemMark[this.items[slot]] = this.stamp;
    this.remaining--;
    this.total = this.remaining > 0 ? Math.max(0, this.total - this.weights[slot]) : 0;
  }
}
