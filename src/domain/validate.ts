/**
 * Validation of everything that enters the engine. Each check names the field and the reason,
 * so that the API can answer `400 {"error":{"field":"events[3].type", ...}}` and an importer can
 * say `ratings.csv:17: events.timestamp ...`.
 */
import { EDGE_KINDS, type Edge, type EdgeKind, type EventInput, type Item, type LogRecord, type User } from './types.js';
import type { EventTypeRegistry } from './event-types.js';

export class ValidationError extends Error {
  readonly field: string;
  readonly reason: string;
  constructor(field: string, reason: string) {
    super(`${field}: ${reason}`);
    this.name = 'ValidationError';
    this.field = field;
    this.reason = reason;
  }
}

/** Earliest and latest timestamps accepted (1970 .. 2200): anything outside is a unit mistake. */
const MIN_TS = 0;
const MAX_TS = Date.UTC(2200, 0, 1);
const MAX_ID_LENGTH = 256;
const MAX_TAGS = 256;
const MAX_TEXT = 100_000;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseId(v: unknown, field: string): string {
  if (typeof v === 'number' && Number.isInteger(v)) v = String(v);
  if (typeof v !== 'string') throw new ValidationError(field, `must be a string id, got ${describe(v)}`);
  if (v.length === 0) throw new ValidationError(field, 'must not be empty');
  if (v.length > MAX_ID_LENGTH) throw new ValidationError(field, `must be at most ${MAX_ID_LENGTH} characters`);
  return v;
}

/** Accepts epoch milliseconds (number) or an ISO 8601 string; returns epoch ms. */
export function parseTimestamp(v: unknown, field: string): number {
  let ms: number;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new ValidationError(field, 'must be a finite number (epoch milliseconds) or an ISO 8601 string');
    ms = v;
  } else if (typeof v === 'string') {
    if (!/^\d{4}-\d{2}-\d{2}/.test(v)) {
      throw new ValidationError(field, `must be epoch milliseconds or an ISO 8601 date-time, got "${truncate(v)}"`);
    }
    ms = Date.parse(v);
    if (Number.isNaN(ms)) throw new ValidationError(field, `is not a valid ISO 8601 date-time: "${truncate(v)}"`);
  } else {
    throw new ValidationError(field, `must be epoch milliseconds or an ISO 8601 string, got ${describe(v)}`);
  }
  if (ms < MIN_TS || ms > MAX_TS) {
    throw new ValidationError(field, `is out of range (${ms}); expected epoch milliseconds between 1970 and 2200`);
  }
  return Math.round(ms);
}

function optionalTimestamp(v: unknown, field: string): number | undefined {
  return v === undefined || v === null ? undefined : parseTimestamp(v, field);
}

function optionalAttributes(v: unknown, field: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw new ValidationError(field, `must be an object, got ${describe(v)}`);
  return v;
}

function rejectUnknown(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new ValidationError(`${path}.${key}`, `is not a known field (known: ${allowed.join(', ')})`);
  }
}

export function validateUser(v: unknown, path: string): User {
  if (!isObject(v)) throw new ValidationError(path, `must be an object, got ${describe(v)}`);
  rejectUnknown(v, ['id', 'createdAt', 'attributes'], path);
  const user: User = { id: parseId(v.id, `${path}.id`) };
  const createdAt = optionalTimestamp(v.createdAt, `${path}.createdAt`);
  if (createdAt !== undefined) user.createdAt = createdAt;
  const attributes = optionalAttributes(v.attributes, `${path}.attributes`);
  if (attributes) user.attributes = attributes;
  return user;
}

export function validateItem(v: unknown, path: string): Item {
  if (!isObject(v)) throw new ValidationError(path, `must be an object, got ${describe(v)}`);
  rejectUnknown(v, ['id', 'authorId', 'createdAt', 'tags', 'text', 'attributes'], path);
  const item: Item = { id: parseId(v.id, `${path}.id`) };
  if (v.authorId !== undefined && v.authorId !== null) item.authorId = parseId(v.authorId, `${path}.authorId`);
  const createdAt = optionalTimestamp(v.createdAt, `${path}.createdAt`);
  if (createdAt !== undefined) item.createdAt = createdAt;
  if (v.tags !== undefined && v.tags !== null) {
    if (!Array.isArray(v.tags)) throw new ValidationError(`${path}.tags`, `must be an array of strings, got ${describe(v.tags)}`);
    if (v.tags.length > MAX_TAGS) throw new ValidationError(`${path}.tags`, `must have at most ${MAX_TAGS} tags`);
    item.tags = v.tags.map((t, i) => {
      if (typeof t !== 'string' || t.length === 0) throw new ValidationError(`${path}.tags[${i}]`, 'must be a non-empty string');
      return t;
    });
  }
  if (v.text !== undefined && v.text !== null) {
    if (typeof v.text !== 'string') throw new ValidationError(`${path}.text`, `must be a string, got ${describe(v.text)}`);
    if (v.text.length > MAX_TEXT) throw new ValidationError(`${path}.text`, `must be at most ${MAX_TEXT} characters`);
    item.text = v.text;
  }
  const attributes = optionalAttributes(v.attributes, `${path}.attributes`);
  if (attributes) item.attributes = attributes;
  return item;
}

export function validateEdge(v: unknown, path: string, defaultTimestamp?: number): Edge {
  if (!isObject(v)) throw new ValidationError(path, `must be an object, got ${describe(v)}`);
  rejectUnknown(v, ['userId', 'targetId', 'kind', 'timestamp', 'removed'], path);
  const userId = parseId(v.userId, `${path}.userId`);
  const targetId = parseId(v.targetId, `${path}.targetId`);
  if (userId === targetId) throw new ValidationError(`${path}.targetId`, 'must differ from userId (an account cannot follow, mute or block itself)');
  let kind: EdgeKind = 'follow';
  if (v.kind !== undefined) {
    if (typeof v.kind !== 'string' || !(EDGE_KINDS as readonly string[]).includes(v.kind)) {
      throw new ValidationError(`${path}.kind`, `must be one of ${EDGE_KINDS.join(', ')}, got ${describe(v.kind)}`);
    }
    kind = v.kind as EdgeKind;
  }
  let timestamp: number;
  if (v.timestamp === undefined || v.timestamp === null) {
    if (defaultTimestamp === undefined) throw new ValidationError(`${path}.timestamp`, 'is required');
    timestamp = defaultTimestamp;
  } else {
    timestamp = parseTimestamp(v.timestamp, `${path}.timestamp`);
  }
  if (v.removed !== undefined && typeof v.removed !== 'boolean') throw new ValidationError(`${path}.removed`, 'must be a boolean');
  const edge: Edge = { userId, targetId, kind, timestamp };
  if (v.removed === true) edge.removed = true;
  return edge;
}

export function validateEvent(v: unknown, path: string, types: EventTypeRegistry): EventInput {
  if (!isObject(v)) throw new ValidationError(path, `must be an object, got ${describe(v)}`);
  rejectUnknown(v, ['id', 'userId', 'itemId', 'type', 'timestamp', 'value', 'context'], path);
  const userId = parseId(v.userId, `${path}.userId`);
  const itemId = parseId(v.itemId, `${path}.itemId`);
  if (typeof v.type !== 'string') throw new ValidationError(`${path}.type`, `must be a string, got ${describe(v.type)}`);
  if (!types.has(v.type)) throw new ValidationError(`${path}.type`, `unknown event type "${truncate(v.type)}" (known: ${types.names().join(', ')})`);
  if (v.timestamp === undefined || v.timestamp === null) throw new ValidationError(`${path}.timestamp`, 'is required');
  const ev: EventInput = { userId, itemId, type: v.type, timestamp: parseTimestamp(v.timestamp, `${path}.timestamp`) };
  if (v.id !== undefined && v.id !== null) ev.id = parseId(v.id, `${path}.id`);
  const spec = types.spec(types.code(v.type));
  if (v.value !== undefined && v.value !== null) {
    if (typeof v.value !== 'number' || !Number.isFinite(v.value)) throw new ValidationError(`${path}.value`, `must be a finite number, got ${describe(v.value)}`);
    if (spec.valued && v.value < 0) throw new ValidationError(`${path}.value`, `must not be negative for "${v.type}"`);
    ev.value = v.value;
  } else if (spec.valued) {
    throw new ValidationError(`${path}.value`, `is required for events of type "${v.type}"`);
  }
  if (v.context !== undefined && v.context !== null) {
    if (!isObject(v.context)) throw new ValidationError(`${path}.context`, `must be an object, got ${describe(v.context)}`);
    const c = v.context;
    if (c.position !== undefined && (typeof c.position !== 'number' || !Number.isInteger(c.position) || c.position < 0)) {
      throw new ValidationError(`${path}.context.position`, 'must be a non-negative integer');
    }
    if (c.propensity !== undefined && (typeof c.propensity !== 'number' || !(c.propensity > 0 && c.propensity <= 1))) {
      throw new ValidationError(`${path}.context.propensity`, 'must be a number in (0, 1]');
    }
    for (const k of ['requestId', 'variant', 'source'] as const) {
      if (c[k] !== undefined && typeof c[k] !== 'string') throw new ValidationError(`${path}.context.${k}`, 'must be a string');
    }
    ev.context = c;
  }
  return ev;
}

/**
 * One record of the `lenta-jsonl` format: `{"kind":"user"|"item"|"follow"|"mute"|"block"|"event", ...fields}`.
 * Edges name their edge kind as the record kind (`{"kind":"follow","userId":…,"targetId":…}`).
 */
export function validateRecord(v: unknown, path: string, types: EventTypeRegistry): LogRecord {
  if (!isObject(v)) throw new ValidationError(path, `must be an object, got ${describe(v)}`);
  const { kind, ...rest } = v;
  switch (kind) {
    case 'user':
      return { kind, user: validateUser(rest, path) };
    case 'item':
      return { kind, item: validateItem(rest, path) };
    case 'follow':
    case 'mute':
    case 'block':
      return { kind: 'edge', edge: validateEdge({ ...rest, kind }, path) };
    case 'event':
      return { kind, event: validateEvent(rest, path, types) };
    default:
      throw new ValidationError(`${path}.kind`, `must be one of user, item, follow, mute, block, event, got ${describe(kind)}`);
  }
}

function truncate(s: string, n = 60): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return `"${truncate(v)}"`;
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
