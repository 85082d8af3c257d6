/**
 * Author diversity: the k-th earlier post of the same author on the page (k = 0 for the first)
 * multiplies a post's score by (1 − floor)·decayᵏ + floor — with the defaults 1, 0.625, 0.4375, …
 * down to 0.25 — so that one author's five best posts come out interleaved with others'.
 */
export function authorDiversityFactor(k: number, decay: number, floor: number): number {
  return (1 - floor) * Math.pow(decay, k) + floor;
}
