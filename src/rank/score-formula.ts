/**
 * The score formula: how the heavy ranker's calibrated probabilities become one number.
 *
 *   score = Σ over heads  weight(head) · p(head)   +   Σ boost(tag of the item)  +  boost(author)
 *
 * A head's weight is `rank.weights[head]`, else its event type's weight in the registry (the
 * published For You weights: like 0.5, reply 13.5, profile_click 12, click 11, not_interested
 * −74, report −369, …); the `engaged` head (any positive engagement) defaults to 1 when it is the
 * only head (a catalogue with one event type), else 0. Boosts are
 * additive value terms from the config (`rank.boosts.tags`, `rank.boosts.authors`).
 */
import type { Config } from '../domain/config.js';
import type { EventTypeRegistry } from '../domain/event-types.js';
import type { OnlineState } from '../state/online-state.js';

export interface ScoreTerms {
  /** Weight per head, in the model's head order. */
  weights: Float64Array;
  /** Boost per tag id of the state (0 when none), and per dense author id. */
  tagBoost: Map<number, number>;
  authorBoost: Map<number, number>;
}

/**
 * `derived`: the weight a trained head that is not an event type carries by default (the
 * `negative` head: its types' weights averaged by how often each labelled it).
 */
export function headWeight(head: string, rank: Config['rank'], types: EventTypeRegistry, heads: readonly string[] = [head], derived?: number): number {
  const configured = rank.weights[head];
  if (configured !== undefined) return configured;
  // `engaged` is the score when it is the only head (a catalogue); beside typed heads, whose
  // weights say what each reaction is worth, it would count every reaction once more.
  if (head === 'engaged') return heads.length > 1 ? 0 : 1;
  const code = types.code(head);
  return code >= 0 ? types.spec(code).weight : (derived ?? 0);
}

/** Resolves the formula for a model's heads against the config and the state's ids. */
export function scoreTerms(heads: readonly { name: string; weight?: number }[], rank: Config['rank'], state: OnlineState, authorIndex: (id: string) => number | undefined): ScoreTerms {
  const names = heads.map((h) => h.name);
  const weights = Float64Array.from(heads, (h) => headWeight(h.name, rank, state.types, names, h.weight));
  const tagBoost = new Map<number, number>();
  for (const [tag, b] of Object.entries(rank.boosts.tags)) if (b !== 0) tagBoost.set(state.tagId(tag), b);
  const authorBoost = new Map<number, number>();
  for (const [id, b] of Object.entries(rank.boosts.authors)) {
    const a = authorIndex(id);
    if (a !== undefined && b !== 0) authorBoost.set(a, b);
  }
  return { weights, tagBoost, authorBoost };
}

/** Σ weight · p over heads (p row-major: candidate i's heads at [i·h, (i+1)·h)). */
export function weightedScore(terms: ScoreTerms, p: Float64Array, i: number): number {
  const h = terms.weights.length;
  let s = 0;
  for (let k = 0; k < h; k++) s += terms.weights[k]! * p[i * h + k]!;
  return s;
}

/** The additive boosts of an item: its tags' and its author's. */
export function boostOf(terms: ScoreTerms, state: OnlineState, item: number, author: number): number {
  let b = 0;
  if (terms.tagBoost.size > 0) {
    const tags = state.tags(item);
    if (tags) for (let k = 0; k < tags.length; k++) b += terms.tagBoost.get(tags[k]!) ?? 0;
  }
  if (terms.authorBoost.size > 0 && author >= 0) b += terms.authorBoost.get(author) ?? 0;
  return b;
}
