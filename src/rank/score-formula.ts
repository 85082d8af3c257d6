/**
 * The score formula: how the heavy ranker's calibrated probabilities become one number.
 *
 *   score = Σ over heads  weight(head) · p(head)   +   Σ boost(tag of the item)  +  boost(author)
 *
 * A head's weight is `rank.weights[head]`, else its event type's weight in the registry (the
 * published For You weights: like 0.5, reply 13.5, profile_click 12, click 11, not_interested
 * −74, report −369, …); the `engaged` head (any positive engagement) defaults to 1 when it is the
 * only head (a catalogue with one event type), else 0. Boosts are
 * additive value terms from the config (`rank.boosts.tags`, `rank.boosts.authors`), and
 * `rank.valueTerms` add business value from numeric item attributes:
 *
 *   + Σ weight · value(item, attribute) · (p(head) when the term names a head, else 1)
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
  /** Value terms: state column of the attribute, weight, head index (−1: none). */
  values: { column: number; weight: number; head: number }[];
  /** Heads the score reads (weight ≠ 0, or a value term's head), and the rest (explanations only). */
  scoredHeads: number[];
  silentHeads: number[];
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
  const values: ScoreTerms['values'] = [];
  for (const t of rank.valueTerms) {
    const column = state.numberColumn(t.attribute);
    const head = t.head === undefined ? -1 : names.indexOf(t.head);
    if (column < 0) throw new Error(`rank.valueTerms: attribute "${t.attribute}" is not kept by the state (the engine keeps the attributes its configuration names)`);
    if (t.head !== undefined && head < 0) {
      // Heads depend on the data (a type needs rank.minPositives labels): a missing one is not a config error.
      warnOnce(`rank.valueTerms: the model has no "${t.head}" head (heads: ${names.join(', ')}); the term on "${t.attribute}" is left out`);
      continue;
    }
    if (t.weight !== 0) values.push({ column, weight: t.weight, head });
  }
  const scoredHeads: number[] = [];
  const silentHeads: number[] = [];
  for (let k = 0; k < weights.length; k++) (weights[k] !== 0 || values.some((t) => t.head === k) ? scoredHeads : silentHeads).push(k);
  return { weights, tagBoost, authorBoost, values, scoredHeads, silentHeads };
}

const warned = new Set<string>();
function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  process.stderr.write(`lenta: ${message}\n`);
}

/** The numeric attributes a configuration reads — its value terms and its attribute features (the state keeps these). */
export function keptAttributes(ranks: readonly Config['rank'][]): string[] {
  return [...new Set(ranks.flatMap((r) => [...r.valueTerms.map((t) => t.attribute), ...r.attributeFeatures]))];
}

/** Σ weight · value · p(head) of the value terms for candidate i (p row-major as in weightedScore). */
export function valueOf(terms: ScoreTerms, state: OnlineState, p: Float64Array, i: number, item: number): number {
  let s = 0;
  const h = terms.weights.length;
  for (const t of terms.values) {
    const v = state.numberAt(t.column, item);
    if (Number.isNaN(v)) continue;
    s += t.weight * v * (t.head >= 0 ? p[i * h + t.head]! : 1);
  }
  return s;
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
