/**
 * What the mixer's rules share: a score multiplied by a factor (with negative scores handled so
 * that a factor below 1 always lowers and above 1 always raises), and the record of each rule's
 * effect on a candidate, which its explanation shows.
 */
import type { Candidate, RuleEffect } from '../pipeline/types.js';

/** `score` scaled by `factor`: a penalty (factor < 1) lowers negative scores too (divides them). */
export function scaled(score: number, factor: number): number {
  if (score >= 0) return score * factor;
  return score / Math.max(factor, 1e-6);
}

/** Records a rule's effect on a candidate (its explanation). */
export function noteRule(c: Candidate, effect: RuleEffect): void {
  (c.rules ??= []).push(effect);
}

/** Multiplies a candidate's score by `factor` (no-op at 1) and records the rule. */
export function applyFactor(c: Candidate, rule: string, factor: number, detail?: Record<string, unknown>): void {
  if (factor === 1) return;
  c.score = scaled(c.score, factor);
  noteRule(c, { rule, factor: Math.round(factor * 1e4) / 1e4, ...detail });
}

/** Splits candidates by a predicate: kept / removed (the shape every filter returns). */
export function partition(candidates: Candidate[], remove: (c: Candidate) => boolean): { kept: Candidate[]; removed: Candidate[] } {
  const kept: Candidate[] = [];
  const removed: Candidate[] = [];
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    if (remove(c)) removed.push(c);
    else kept.push(c);
  }
  return { kept, removed };
}
