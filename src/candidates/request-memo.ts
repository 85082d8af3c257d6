/**
 * One request's worth of a source's per-user work, kept for the feature provider
 * (features/registry.ts `CandidateFeatureProvider`): a source that scores a user's whole
 * catalogue in fetch() keeps the result, and the heavy ranker's features of the same request
 * read it instead of scoring again. A request is recognised by its FeedQuery object, the user
 * and the state's event and edge counts (a query reused after the state changed recomputes),
 * like ranked.ts's RequestLookups. One slot: another request in between only costs a recompute.
 */
import type { FeedQuery } from '../pipeline/types.js';

export class RequestMemo<T> {
  private q: FeedQuery | undefined;
  private user = -1;
  private events = -1;
  private edges = -1;
  private owner: unknown;
  private value: T | undefined;

  /** The value kept for this request (and this `owner`, e.g. the model it was computed with), or undefined. */
  get(q: FeedQuery, owner: unknown): T | undefined {
    if (this.q !== q || this.user !== q.user || this.events !== q.state.events || this.edges !== q.state.edgeRecords || this.owner !== owner) return undefined;
    return this.value;
  }

  set(q: FeedQuery, owner: unknown, value: T): T {
    this.q = q;
    this.user = q.user;
    this.events = q.state.events;
    this.edges = q.state.edgeRecords;
    this.owner = owner;
    this.value = value;
    return value;
  }

  clear(): void {
    this.q = undefined;
    this.value = undefined;
    this.owner = undefined;
  }
}

/** Writes NaN into `width` columns of every candidate row (a provider with nothing to say). */
export function fillMissing(out: Float32Array, rows: number, stride: number, offset: number, width: number): void {
  for (let i = 0; i < rows; i++) out.fill(NaN, i * stride + offset, i * stride + offset + width);
}
