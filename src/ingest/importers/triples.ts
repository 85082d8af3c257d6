/**
 * Files of three blank-separated columns without a header, as several public data sets ship
 * them: `user target 1` trust/friend edges (→ follow edges) and `user item stars` ratings
 * (→ `rating` events). One reader for each, so every importer checks rows the same way.
 */
import type { LogRecord } from '../../domain/types.js';
import { ImportError } from '../importer.js';
import { ProgressTracker, blankFieldBounds, columnCountError, idAt, readLineBatches, valueAt } from '../lines.js';

export interface TripleColumns {
  /** Column names for error messages, e.g. ['truster', 'trustee', 'trust value']. */
  names: [string, string, string];
  /** How the file separates columns, for error messages ('space', 'tab'). */
  separator: string;
  /** Reason given for a self-edge, e.g. 'a user cannot trust themselves' (edge files). */
  selfEdge?: string;
}

/** `user target weight` rows → follow edges at `timestamp`; a self-edge is an error. */
export async function* readFollowTriples(file: string, columns: TripleColumns, progress: ProgressTracker, timestamp: number): AsyncIterable<LogRecord> {
  const b = new Int32Array(8);
  const [userName, targetName] = columns.names;
  for await (const { lines, firstLine } of readLineBatches(file, { onBytes: progress.reader(file) })) {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const lineNumber = firstLine + i;
      const n = blankFieldBounds(line, b);
      if (n === 0) continue;
      if (n !== 3) throw columnCountError(file, lineNumber, 3, n, columns.names.join(', '), columns.separator);
      const userId = idAt(line, b[0]!, b[1]!, file, lineNumber, userName);
      const targetId = idAt(line, b[2]!, b[3]!, file, lineNumber, targetName);
      if (targetId === userId) throw new ImportError(file, lineNumber, columns.selfEdge ?? 'a user cannot follow themselves', targetName);
      yield { kind: 'edge', edge: { userId, targetId, kind: 'follow', timestamp } };
    }
  }
  progress.done(file);
}

/** `user item stars` rows → `rating` events at `timestamp`. */
export async function* readRatingTriples(file: string, columns: TripleColumns, progress: ProgressTracker, timestamp: number): AsyncIterable<LogRecord> {
  const b = new Int32Array(8);
  const [userName, itemName, valueName] = columns.names;
  for await (const { lines, firstLine } of readLineBatches(file, { onBytes: progress.reader(file) })) {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const lineNumber = firstLine + i;
      const n = blankFieldBounds(line, b);
      if (n === 0) continue;
      if (n !== 3) throw columnCountError(file, lineNumber, 3, n, columns.names.join(', '), columns.separator);
      const userId = idAt(line, b[0]!, b[1]!, file, lineNumber, userName);
      const itemId = idAt(line, b[2]!, b[3]!, file, lineNumber, itemName);
      const value = valueAt(line, b[4]!, b[5]!, file, lineNumber, valueName);
      yield { kind: 'event', event: { userId, itemId, type: 'rating', timestamp, value } };
    }
  }
  progress.done(file);
}
