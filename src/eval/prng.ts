/**
 * Deterministic pseudo-random numbers for evaluation: the same seed gives the same split, the
 * same model initialisation and the same bootstrap samples on every machine and Node version.
 *
 * Two tools, both on 32-bit integer arithmetic only (Math.imul, shifts), so results never
 * depend on floating-point details:
 *
 * - `hashUniform(seed, index)`: a *counter-based* generator. The index (e.g. the position of an
 *   interaction in the file) and the seed are combined with the golden-ratio constant and then
 *   scrambled by the 32-bit finaliser of MurmurHash3 (xor-shift / multiply rounds, which make
 *   every input bit affect every output bit). The result does not depend on the order in which
 *   indices are drawn, so the `random` split of interaction #i is a pure function of (seed, i).
 *
 * - `Rng`: a sequential generator for model initialisation and bootstrap resampling. Its state
 *   is a 32-bit counter advanced by the golden-ratio increment (a Weyl sequence, full period
 *   2^32) and each output is the same finaliser applied twice to the counter — the SplitMix
 *   construction on 32-bit words. Plenty for splits and Monte-Carlo; not for cryptography.
 */

const GOLDEN = 0x9e3779b9;

/** MurmurHash3's 32-bit finaliser: a bijection on uint32 with full avalanche. */
export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x85ebca6b) >>> 0;
  x = (x ^ (x >>> 13)) >>> 0;
  x = Math.imul(x, 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** A uniform number in [0, 1) that depends only on (seed, index). */
export function hashUniform(seed: number, index: number): number {
  const s = mix32((seed >>> 0) ^ 0x5bd1e995);
  const h = mix32((Math.imul(index >>> 0, GOLDEN) + s) >>> 0);
  return mix32(h ^ (index / 4294967296) >>> 0) / 4294967296;
}

/** Sequential seeded generator (32-bit SplitMix-style). */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = mix32((seed >>> 0) ^ 0x2545f491);
  }

  /** Next uint32. */
  nextUint32(): number {
    this.state = (this.state + GOLDEN) >>> 0;
    return mix32(mix32(this.state) ^ 0x68e31da4);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
