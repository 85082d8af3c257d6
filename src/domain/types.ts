/**
 * The domain of a feed: users, items (posts), edges between users (follow, mute, block)
 * and events (impressions and engagements). These are the shapes that enter Lenta through
 * the API, the importers and the simulator; everything else is derived from them.
 *
 * Times are epoch milliseconds (UTC) everywhere inside the engine.
 */

export type EpochMs = number;

export interface User {
  id: string;
  createdAt?: EpochMs;
  attributes?: Record<string, unknown>;
}

export interface Item {
  id: string;
  /** Optional: catalogues without authors (movies, products) work too. */
  authorId?: string;
  createdAt?: EpochMs;
  tags?: string[];
  text?: string;
  attributes?: Record<string, unknown>;
}

export const EDGE_KINDS = ['follow', 'mute', 'block'] as const;
export type EdgeKind = (typeof EDGE_KINDS)[number];

/** A directed edge between two users: `userId` follows / mutes / blocks `targetId`. */
export interface Edge {
  userId: string;
  targetId: string;
  kind: EdgeKind;
  timestamp: EpochMs;
  /** true when this record removes the edge (unfollow, unmute, unblock). */
  removed?: boolean;
}

/** What an impression (and any event) may carry about the request that served the item. */
export interface EventContext {
  requestId?: string;
  position?: number;
  /** Probability with which the serving policy chose this item at this position (0, 1]. */
  propensity?: number;
  variant?: string;
  source?: string;
  [key: string]: unknown;
}

/** An event as it arrives: the id is optional (generated when absent). */
export interface EventInput {
  id?: string;
  userId: string;
  itemId: string;
  type: string;
  timestamp: EpochMs;
  value?: number;
  context?: EventContext;
}

export interface Event extends EventInput {
  id: string;
}

/**
 * One record of the ingestion stream. Importers and the simulator produce these; the API
 * turns request bodies into them. Order matters only for edges (a removal after its add).
 */
export type LogRecord =
  | { kind: 'user'; user: User }
  | { kind: 'item'; item: Item }
  | { kind: 'edge'; edge: Edge }
  | { kind: 'event'; event: EventInput };
