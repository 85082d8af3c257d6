/**
 * Writes a record stream as `lenta-jsonl`: one JSON object per line, `"kind"` first
 * (`user`, `item`, `follow`, `mute`, `block`, `event`) followed by the fields of the record
 * (edges carry their edge kind as the record kind, as `validateRecord` reads them).
 *
 * Lines are batched into ~1 MiB chunks and written through a file stream with a large
 * buffer; when the buffer is full the writer waits for it to drain (backpressure), so a
 * generator of ten million records is written in constant memory.
 */
import { once } from 'node:events';
import { open } from 'node:fs/promises';
import type { EventInput, LogRecord } from '../domain/types.js';

export type JsonlKind = 'user' | 'item' | 'follow' | 'mute' | 'block' | 'event';
export type JsonlCounts = Record<JsonlKind, number>;

const CHUNK_CHARS = 1 << 20;
const STREAM_BUFFER = 8 << 20;

function withKind(kind: string, fields: object): string {
  const s = JSON.stringify(fields);
  return s.length > 2 ? `{"kind":"${kind}",${s.slice(1)}` : `{"kind":"${kind}"}`;
}

function jsonNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/** Events are most of every log: their known fields are written directly (same JSON as JSON.stringify). */
function eventLine(e: EventInput): string {
  let s = '{"kind":"event"';
  if (e.id !== undefined) s += `,"id":${JSON.stringify(e.id)}`;
  s += `,"userId":${JSON.stringify(e.userId)},"itemId":${JSON.stringify(e.itemId)},"type":${JSON.stringify(e.type)},"timestamp":${jsonNumber(e.timestamp)}`;
  if (e.value !== undefined) s += `,"value":${jsonNumber(e.value)}`;
  if (e.context !== undefined) s += `,"context":${JSON.stringify(e.context)}`;
  return `${s}}`;
}

/** One record as a lenta-jsonl line (without the newline). */
export function recordToJsonl(record: LogRecord): string {
  switch (record.kind) {
    case 'event':
      return eventLine(record.event);
    case 'item':
      return withKind('item', record.item);
    case 'user':
      return withKind('user', record.user);
    case 'edge': {
      const e = record.edge;
      let s = `{"kind":"${e.kind}","userId":${JSON.stringify(e.userId)},"targetId":${JSON.stringify(e.targetId)},"timestamp":${JSON.stringify(e.timestamp)}`;
      if (e.removed) s += ',"removed":true';
      return `${s}}`;
    }
    default:
      throw new TypeError(`unknown record kind ${JSON.stringify((record as { kind?: unknown }).kind)}`);
  }
}

function isAsyncIterable<T>(x: Iterable<T> | AsyncIterable<T>): x is AsyncIterable<T> {
  return typeof (x as AsyncIterable<T>)[Symbol.asyncIterator] === 'function';
}

/**
 * Writes `records` to `path` (created or truncated) as lenta-jsonl. `onCount` is called with
 * the number of records written so far after every chunk and once at the end.
 * Returns the number of lines per record kind.
 */
export async function writeJsonl(
  records: Iterable<LogRecord> | AsyncIterable<LogRecord>,
  path: string,
  onCount?: (records: number) => void,
): Promise<JsonlCounts> {
  const counts: JsonlCounts = { user: 0, item: 0, follow: 0, mute: 0, block: 0, event: 0 };
  const handle = await open(path, 'w');
  const stream = handle.createWriteStream({ highWaterMark: STREAM_BUFFER, encoding: 'utf8' });
  let failure: Error | undefined;
  stream.on('error', (err) => (failure ??= err));
  let chunk = '';
  let total = 0;

  const flush = async (): Promise<void> => {
    if (failure) throw failure;
    if (chunk.length > 0) {
      const ok = stream.write(chunk);
      chunk = '';
      if (!ok) await once(stream, 'drain');
    }
    onCount?.(total);
  };

  const add = (r: LogRecord): boolean => {
    if (r.kind === 'edge') counts[r.edge.kind]++;
    else counts[r.kind]++;
    chunk += recordToJsonl(r) + '\n';
    total++;
    return chunk.length >= CHUNK_CHARS;
  };

  try {
    if (isAsyncIterable(records)) {
      for await (const r of records) if (add(r)) await flush();
    } else {
      for (const r of records) if (add(r)) await flush();
    }
    await flush();
    stream.end();
    await once(stream, 'close');
    if (failure) throw failure;
  } catch (err) {
    if (!stream.destroyed) stream.destroy();
    await handle.close().catch(() => undefined);
    throw err;
  }
  return counts;
}
