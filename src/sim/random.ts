/**
 * A small, fast, seedable pseudo-random generator for the simulator, with the few
 * distributions the synthetic platform needs (normal, log-normal, gamma, Dirichlet-like
 * weights, Poisson, categorical over cumulative weights).
 *
 * The core is a 128-bit "small fast chaotic" style generator: three mixing words and a
 * counter, so that no seed can fall into a short cycle. Everything is 32-bit integer
 * arithmetic (`Math.imul`, `| 0`), so the same seed gives the same stream on every platform
 * and Node version; the floating-point helpers use only `Math.log`, `Math.exp`, `Math.sqrt`,
 * `Math.cos`/`Math.sin`, which V8 computes identically for identical inputs.
 */

/** Scrambles a 32-bit integer (an avalanche finaliser: every input bit flips ~half the output bits). */
export function mix32(x: number): number {
  x |= 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** 32-bit hash of a string (FNV-1a, then scrambled). Used to derive independent named streams. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

const TWO_POW_32 = 4294967296;

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private n: number;
  /** Second value of the last Box–Muller pair (NaN when empty). */
  private spare = Number.NaN;

  /**
   * @param seed any number (its low 32 bits and, for large seeds, the high bits are used)
   * @param stream a name: the same seed with different stream names gives independent streams
   */
  constructor(seed: number, stream = '') {
    const lo = seed >>> 0;
    const hi = Math.floor(Math.abs(seed) / TWO_POW_32) >>> 0;
    const s = hashString(stream);
    this.a = mix32(lo ^ 0x9e3779b9);
    this.b = mix32(this.a ^ hi ^ 0x85ebca6b);
    this.c = mix32(this.b ^ s ^ 0xc2b2ae35);
    this.n = mix32(s + lo) | 1;
    for (let i = 0; i < 16; i++) this.uint32();
  }

  /** An independent generator derived from this one's seed material and a name. */
  fork(name: string): Rng {
    return new Rng(this.uint32() + this.uint32() * TWO_POW_32, name);
  }

  /** Next 32 random bits as an unsigned integer. */
  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.n) | 0;
    this.n = (this.n + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / TWO_POW_32;
  }

  /** Uniform in (0, 1]: safe for logarithms. */
  nextOpen(): number {
    return (this.uint32() + 1) / TWO_POW_32;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spare === this.spare) {
      const v = this.spare;
      this.spare = Number.NaN;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(this.nextOpen()));
    const theta = 2 * Math.PI * this.next();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** exp(N(mu, sigma²)). */
  logNormal(mu: number, sigma: number): number {
    return Math.exp(mu + sigma * this.normal());
  }

  /** A log-normal value with the given mean (not median): heavy-tailed positive quantities. */
  logNormalWithMean(mean: number, sigma: number): number {
    return mean * Math.exp(sigma * this.normal() - (sigma * sigma) / 2);
  }

  exponential(rate: number): number {
    return -Math.log(this.nextOpen()) / rate;
  }

  /** Gamma(shape, 1) by Marsaglia and Tsang's squeeze method (boosted for shape < 1). */
  gamma(shape: number): number {
    if (shape <= 0) throw new RangeError('gamma: shape must be positive');
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(this.nextOpen(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.nextOpen();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Dirichlet(alpha, …, alpha) weights of length k (sum 1). */
  dirichlet(k: number, alpha: number): number[] {
    const w: number[] = new Array(k);
    let sum = 0;
    for (let i = 0; i < k; i++) {
      w[i] = this.gamma(alpha);
      sum += w[i];
    }
    for (let i = 0; i < k; i++) w[i] = sum > 0 ? w[i] / sum : 1 / k;
    return w;
  }

  /** Poisson(lambda): multiplication method for small means, a rounded normal for large ones. */
  poisson(lambda: number): number {
    if (!(lambda > 0)) return 0;
    if (lambda < 30) {
      const limit = Math.exp(-lambda);
      let k = 0;
      let p = this.next();
      while (p > limit) {
        k++;
        p *= this.next();
      }
      return k;
    }
    return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * this.normal()));
  }

  /**
   * Index drawn from cumulative weights (`cum[i]` = sum of weights 0..i, non-decreasing),
   * considering the first `n` entries.
   */
  categorical(cum: ArrayLike<number>, n: number = cum.length): number {
    const total = cum[n - 1];
    const target = this.next() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid] > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle(a: { length: number; [index: number]: unknown }): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }
}

/** Cumulative sums of weights, for `Rng.categorical`. */
export function cumulative(weights: ArrayLike<number>): Float64Array {
  const cum = new Float64Array(weights.length);
  let s = 0;
  for (let i = 0; i < weights.length; i++) {
    s += weights[i];
    cum[i] = s;
  }
  return cum;
}
