/**
 * The event-type registry: which kinds of events the engine accepts, whether each is a
 * positive or negative signal, and its default weight in scores. Configurable: a deployment
 * can add types (e.g. `purchase`) or change weights through the config.
 */

export type Polarity = 'positive' | 'negative' | 'neutral';

export interface EventTypeSpec {
  name: string;
  polarity: Polarity;
  /** Default weight of this engagement in affinity and score formulas. */
  weight: number;
  /** The event carries a numeric value (dwell ms, rating stars, listen count). */
  valued?: boolean;
  /**
   * For a valued positive type: the rankers learn it as a positive (the `engaged` label and the
   * type's own head) only from this value on, e.g. ratings from 4 stars. A lower value is still an
   * engagement everywhere else (history, counters, the sources' training).
   */
  positiveFrom?: number;
  description?: string;
}

export const DEFAULT_EVENT_TYPES: readonly EventTypeSpec[] = [
  { name: 'impression', polarity: 'neutral', weight: 0, description: 'the item was shown (request id, position, propensity)' },
  { name: 'click', polarity: 'positive', weight: 11, description: 'opened the item' },
  { name: 'dwell', polarity: 'positive', weight: 1, valued: true, description: 'time spent on the item; value = milliseconds' },
  { name: 'like', polarity: 'positive', weight: 0.5 },
  { name: 'reply', polarity: 'positive', weight: 13.5 },
  { name: 'repost', polarity: 'positive', weight: 1 },
  { name: 'share', polarity: 'positive', weight: 1 },
  { name: 'bookmark', polarity: 'positive', weight: 1 },
  { name: 'profile_click', polarity: 'positive', weight: 12 },
  { name: 'follow_author', polarity: 'positive', weight: 1 },
  { name: 'not_interested', polarity: 'negative', weight: -74 },
  { name: 'hide', polarity: 'negative', weight: -74 },
  { name: 'report', polarity: 'negative', weight: -369 },
  { name: 'rating', polarity: 'positive', weight: 1, valued: true, description: 'explicit rating; value = stars' },
  { name: 'play', polarity: 'positive', weight: 1, valued: true, description: 'listened / watched / played; value = count or seconds' },
];

/** Interned view of the registry: type names ↔ small integer codes used in the log and state. */
export class EventTypeRegistry {
  readonly specs: readonly EventTypeSpec[];
  private readonly codes = new Map<string, number>();

  constructor(specs: readonly EventTypeSpec[] = DEFAULT_EVENT_TYPES) {
    if (specs.length === 0) throw new Error('eventTypes: at least one event type is required');
    if (specs.length > 250) throw new Error('eventTypes: at most 250 event types are supported');
    this.specs = specs;
    specs.forEach((s, i) => {
      if (this.codes.has(s.name)) throw new Error(`eventTypes: duplicate type "${s.name}"`);
      this.codes.set(s.name, i);
    });
  }

  get size(): number {
    return this.specs.length;
  }

  has(name: string): boolean {
    return this.codes.has(name);
  }

  /** Code of a type name, or -1 when unknown. */
  code(name: string): number {
    return this.codes.get(name) ?? -1;
  }

  name(code: number): string {
    const spec = this.specs[code];
    if (!spec) throw new Error(`unknown event type code ${code}`);
    return spec.name;
  }

  spec(code: number): EventTypeSpec {
    const spec = this.specs[code];
    if (!spec) throw new Error(`unknown event type code ${code}`);
    return spec;
  }

  names(): string[] {
    return this.specs.map((s) => s.name);
  }
}
