/**
 * Importers turn files of a public or in-house format into the engine's record stream.
 * Each importer streams (no whole-file loading), reports progress in bytes, and throws an
 * ImportError naming file and line for a bad row.
 */
import type { LogRecord } from '../domain/types.js';
import type { EventTypeRegistry } from '../domain/event-types.js';

export class ImportError extends Error {
  readonly file: string;
  readonly line: number;
  readonly field: string | undefined;
  constructor(file: string, line: number, reason: string, field?: string) {
    super(`${file}:${line}: ${field ? `${field}: ` : ''}${reason}`);
    this.name = 'ImportError';
    this.file = file;
    this.line = line;
    this.field = field;
  }
}

export interface ImportProgress {
  /** Bytes read so far over all files of the import. */
  bytesRead: number;
  totalBytes: number;
  file: string;
}

export interface ImportOptions {
  types: EventTypeRegistry;
  onProgress?: (p: ImportProgress) => void;
}

export interface Importer {
  /** The value of `--format`. */
  readonly format: string;
  readonly description: string;
  /**
   * Whether the data set's events are explicit ratings (`rating` events with a star value):
   * evaluation then counts a held-out interaction as positive only at or above the threshold.
   */
  readonly explicitRatings: boolean;
  /** The files this importer will read for `input` (a folder, or a file of the data set). */
  files(input: string): Promise<string[]>;
  /** Streams the records. Throws ImportError (file:line) on a bad row. */
  read(input: string, options: ImportOptions): AsyncIterable<LogRecord>;
}
