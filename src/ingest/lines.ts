/**
 * Streaming building blocks of the importers: a line reader over a file, progress in bytes,
 * field splitting (delimited and quoted CSV) and allocation-free number parsing.
 *
 * The line reader reads the file in large chunks, decodes each chunk's complete lines with
 * one `toString` call and splits the string, so it handles tens of millions of lines at
 * millions of lines per second. Line endings `\n` and `\r\n` are both accepted (the `\r` is
 * stripped), a UTF-8 byte-order mark at the start is dropped, and a last line without a
 * newline is still returned.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ImportError, type ImportProgress } from './importer.js';
import type { EventTypeRegistry } from '../domain/event-types.js';

/**
 * How bytes become text:
 * - `utf8`: invalid sequences become U+FFFD;
 * - `latin1`: one byte, one character (never fails);
 * - `auto` (default): UTF-8, but a line that is not valid UTF-8 is decoded as Latin-1
 *   (several public data sets mix encodings; this never crashes and never loses a line).
 */
export type LineEncoding = 'utf8' | 'latin1' | 'auto';

export interface LineReaderOptions {
  encoding?: LineEncoding;
  /** Called after each chunk read with the number of bytes of that chunk. */
  onBytes?: (bytes: number) => void;
  /** Read size in bytes (default 64 KiB). */
  chunkSize?: number;
}

export interface Line {
  text: string;
  /** 1-based. */
  lineNumber: number;
}

/** The complete lines of one chunk of the file: `lines[i]` is line `firstLine + i` (1-based). */
export interface LineBatch {
  lines: string[];
  firstLine: number;
}

const NL = 0x0a;
const CR = 13;
const REPLACEMENT = '\uFFFD';
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeLineAuto(buf: Buffer, start: number, end: number): string {
  const text = buf.toString('utf8', start, end);
  if (!text.includes(REPLACEMENT)) return text;
  try {
    // A literal U+FFFD in valid UTF-8 stays as it is.
    return strictUtf8.decode(buf.subarray(start, end));
  } catch {
    return buf.toString('latin1', start, end);
  }
}

function stripBom(lines: string[]): void {
  if (lines.length > 0 && lines[0].charCodeAt(0) === 0xfeff) lines[0] = lines[0].slice(1);
}

function stripCr(s: string): string {
  return s.length > 0 && s.charCodeAt(s.length - 1) === CR ? s.slice(0, -1) : s;
}

/** Decodes buf[start, end) — whole lines separated by `\n`, without the final newline — into lines. */
function splitBuffer(buf: Buffer, start: number, end: number, encoding: LineEncoding): string[] {
  const text = buf.toString(encoding === 'latin1' ? 'latin1' : 'utf8', start, end);
  if (encoding === 'auto' && text.includes(REPLACEMENT)) {
    // Slow path, only for chunks with bytes that are not UTF-8: decode line by line.
    const out: string[] = [];
    let pos = start;
    for (;;) {
      const nl = buf.indexOf(NL, pos);
      const lineEnd = nl === -1 || nl >= end ? end : nl;
      out.push(stripCr(decodeLineAuto(buf, pos, lineEnd)));
      if (lineEnd === end) return out;
      pos = lineEnd + 1;
    }
  }
  const parts = text.split('\n');
  if (text.includes('\r')) {
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (p.length > 0 && p.charCodeAt(p.length - 1) === CR) parts[i] = p.slice(0, -1);
    }
  }
  return parts;
}

/**
 * Streams the lines of a file in batches (one batch per chunk read). The fastest way to read
 * a file: importers loop over `batch.lines` synchronously.
 */
export async function* readLineBatches(file: string, options: LineReaderOptions = {}): AsyncGenerator<LineBatch> {
  const encoding = options.encoding ?? 'auto';
  const onBytes = options.onBytes;
  const stream = createReadStream(file, { highWaterMark: options.chunkSize ?? 64 * 1024 });
  // Bytes of a line that started in earlier chunks and has not ended yet.
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let nextLine = 1;
  let first = true;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      onBytes?.(chunk.length);
      const buf = chunk;
      const lastNl = buf.lastIndexOf(NL);
      if (lastNl === -1) {
        carry.push(buf);
        carryBytes += buf.length;
        continue;
      }
      let straddling: string | undefined;
      let start = 0;
      if (carryBytes > 0) {
        const firstNl = buf.indexOf(NL);
        carry.push(buf.subarray(0, firstNl));
        const joined = Buffer.concat(carry, carryBytes + firstNl);
        straddling = splitBuffer(joined, 0, joined.length, encoding)[0];
        carry = [];
        carryBytes = 0;
        start = firstNl + 1;
      }
      let lines: string[];
      if (start <= lastNl) {
        lines = splitBuffer(buf, start, lastNl, encoding);
        if (straddling !== undefined) lines.unshift(straddling);
      } else {
        lines = [straddling as string];
      }
      if (lastNl + 1 < buf.length) {
        carry.push(buf.subarray(lastNl + 1));
        carryBytes += buf.length - lastNl - 1;
      }
      if (first) {
        first = false;
        if (encoding !== 'latin1') stripBom(lines);
      }
      const batch: LineBatch = { lines, firstLine: nextLine };
      nextLine += lines.length;
      yield batch;
    }
    if (carryBytes > 0) {
      const joined = Buffer.concat(carry, carryBytes);
      const lines = splitBuffer(joined, 0, joined.length, encoding);
      if (first && encoding !== 'latin1') stripBom(lines);
      yield { lines, firstLine: nextLine };
    }
  } finally {
    stream.destroy();
  }
}

/** Streams the lines of a file one by one: `{ text, lineNumber }`, `\r` stripped. */
export async function* readLines(file: string, options: LineReaderOptions = {}): AsyncGenerator<Line> {
  for await (const batch of readLineBatches(file, options)) {
    const { lines, firstLine } = batch;
    for (let i = 0; i < lines.length; i++) yield { text: lines[i], lineNumber: firstLine + i };
  }
}

// ---------------------------------------------------------------------------------------------
// Progress

/**
 * Byte progress over all files of an import: `add` after each chunk, `done` at the end of a
 * file. Calls `onProgress` at most once per `step` bytes (default 64 KiB), plus at the end of
 * each file.
 */
export class ProgressTracker {
  readonly totalBytes: number;
  private bytesRead = 0;
  private lastReported = 0;
  private readonly onProgress: ((p: ImportProgress) => void) | undefined;
  private readonly step: number;

  constructor(totalBytes: number, onProgress?: (p: ImportProgress) => void, step = 64 * 1024) {
    this.totalBytes = totalBytes;
    this.onProgress = onProgress;
    this.step = step;
  }

  /** Builds a tracker whose total is the sum of the sizes of `files`. */
  static async forFiles(files: readonly string[], onProgress?: (p: ImportProgress) => void): Promise<ProgressTracker> {
    return new ProgressTracker(await totalSize(files), onProgress);
  }

  /** A callback for `LineReaderOptions.onBytes` that counts bytes of `file`. */
  reader(file: string): (bytes: number) => void {
    return (bytes) => this.add(file, bytes);
  }

  add(file: string, bytes: number): void {
    this.bytesRead += bytes;
    if (this.onProgress && this.bytesRead - this.lastReported >= this.step) {
      this.lastReported = this.bytesRead;
      this.onProgress({ bytesRead: this.bytesRead, totalBytes: this.totalBytes, file });
    }
  }

  /** End of a file: always reports (so the last report of an import says 100 %). */
  done(file: string): void {
    if (this.onProgress && this.lastReported !== this.bytesRead) {
      this.lastReported = this.bytesRead;
      this.onProgress({ bytesRead: this.bytesRead, totalBytes: this.totalBytes, file });
    }
  }

  get read(): number {
    return this.bytesRead;
  }
}

export async function totalSize(files: readonly string[]): Promise<number> {
  let total = 0;
  for (const f of files) total += (await stat(f)).size;
  return total;
}

// ---------------------------------------------------------------------------------------------
// Fields

/**
 * Finds the fields of `line` separated by the character `sep` (a char code) without
 * allocating: field i is `line.slice(bounds[2i], bounds[2i+1])`. Fills at most
 * `bounds.length / 2` fields and returns the real number of fields (which may be larger).
 */
export function fieldBounds(line: string, sep: number, bounds: Int32Array): number {
  const sepChar = String.fromCharCode(sep);
  const cap = bounds.length >> 1;
  let start = 0;
  let n = 0;
  for (;;) {
    const next = line.indexOf(sepChar, start);
    const end = next === -1 ? line.length : next;
    if (n < cap) {
      bounds[2 * n] = start;
      bounds[2 * n + 1] = end;
    }
    n++;
    if (next === -1) return n;
    start = next + 1;
  }
}

/**
 * Like fieldBounds, but fields are separated by runs of spaces and tabs, and leading or
 * trailing blanks are ignored (for "space-separated" files with irregular spacing).
 */
export function blankFieldBounds(line: string, bounds: Int32Array): number {
  const cap = bounds.length >> 1;
  const len = line.length;
  let i = 0;
  let n = 0;
  for (;;) {
    while (i < len) {
      const c = line.charCodeAt(i);
      if (c !== 32 && c !== 9) break;
      i++;
    }
    if (i >= len) return n;
    const start = i;
    while (i < len) {
      const c = line.charCodeAt(i);
      if (c === 32 || c === 9) break;
      i++;
    }
    if (n < cap) {
      bounds[2 * n] = start;
      bounds[2 * n + 1] = i;
    }
    n++;
  }
}

/** Thrown by splitCsvLine for a malformed quoted field; `column` is 0-based. */
export class CsvSyntaxError extends Error {
  readonly column: number;
  constructor(message: string, column: number) {
    super(message);
    this.name = 'CsvSyntaxError';
    this.column = column;
  }
}

/**
 * Splits one CSV line (RFC 4180 quoting, within a single line): fields may be quoted with `"`,
 * a quoted field may contain the separator, and `""` inside quotes is one `"`. A field that
 * opens a quote but does not close it, or text after a closing quote, throws CsvSyntaxError.
 */
export function splitCsvLine(line: string, sep = ','): string[] {
  if (!line.includes('"')) return line.split(sep);
  const out: string[] = [];
  const len = line.length;
  let i = 0;
  for (;;) {
    if (i < len && line.charCodeAt(i) === 34) {
      // Quoted field.
      let value = '';
      let from = i + 1;
      for (;;) {
        const q = line.indexOf('"', from);
        if (q === -1) throw new CsvSyntaxError('unterminated quoted field', out.length);
        value += line.slice(from, q);
        if (q + 1 < len && line.charCodeAt(q + 1) === 34) {
          value += '"';
          from = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      out.push(value);
      if (i === len) return out;
      if (line[i] !== sep) throw new CsvSyntaxError('unexpected text after a closing quote', out.length - 1);
      i++;
    } else {
      const next = line.indexOf(sep, i);
      if (next === -1) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, next));
      i = next + 1;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Numbers

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses the decimal number `s[start, end)` without allocating in the common case; NaN when
 * it is not a plain decimal (empty, blanks, letters, hex…). Exactly equal to `Number(text)`:
 * the fast path divides two exact integers (correctly rounded), long or exponent forms fall
 * back to `Number`.
 */
export function parseDecimal(s: string, start: number, end: number): number {
  let i = start;
  if (i >= end) return NaN;
  let neg = false;
  let c = s.charCodeAt(i);
  if (c === 45 || c === 43) {
    neg = c === 45;
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let fraction = -1; // number of fraction digits, -1 while before the point
  for (; i < end; i++) {
    c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      digits++;
      if (fraction >= 0) fraction++;
    } else if (c === 46 && fraction < 0) {
      fraction = 0;
    } else {
      break;
    }
  }
  if (i < end || digits > 15 || fraction > 22) {
    const text = s.slice(start, end);
    return DECIMAL.test(text) ? Number(text) : NaN;
  }
  if (digits === 0) return NaN;
  const v = fraction > 0 ? mantissa / POW10[fraction] : mantissa;
  return neg ? -v : v;
}

/** Parses a non-negative integer `s[start, end)` of at most 15 digits; -1 when it is not one. */
export function parseUint(s: string, start: number, end: number): number {
  if (start >= end || end - start > 15) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Files

/** Whether `path` exists and is a directory (false when it does not exist). */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Whether `path` exists and is a regular file. */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Throws a readable Error when `path` is not a file: `<format>: <what> not found: <path>`. */
export async function requireFile(format: string, path: string, what = 'file'): Promise<string> {
  if (!(await isFile(path))) throw new Error(`${format}: ${what} not found: ${path}`);
  return path;
}

// ---------------------------------------------------------------------------------------------
// Row checks shared by the importers

const MAX_ID_LENGTH = 256;
/** Latest timestamp the engine accepts (see validate.ts): 2200-01-01. */
export const MAX_TIMESTAMP = Date.UTC(2200, 0, 1);

/** The id in `line[start, end)`; ImportError when empty or longer than 256 characters. */
export function idAt(line: string, start: number, end: number, file: string, lineNumber: number, field: string): string {
  if (start >= end) throw new ImportError(file, lineNumber, 'is empty (an id is required)', field);
  if (end - start > MAX_ID_LENGTH) throw new ImportError(file, lineNumber, `is longer than ${MAX_ID_LENGTH} characters`, field);
  return end - start < 13 ? line.slice(start, end) : detach(line.slice(start, end));
}

/**
 * A copy of `s` that does not keep its parent string alive. V8 represents a slice of 13 or more
 * characters as a view into the parent — here the whole decoded 64 KiB chunk — so ids kept by
 * the engine (map keys) would pin every chunk of a large file in memory. Concatenating and
 * slicing again forces a flat copy of just these characters.
 */
export function detach(s: string): string {
  return (s + ' ').slice(0, -1);
}

/** A finite, non-negative number in `line[start, end)`; ImportError otherwise. */
export function valueAt(line: string, start: number, end: number, file: string, lineNumber: number, field: string): number {
  const v = parseDecimal(line, start, end);
  if (v >= 0 && v !== Infinity) return v;
  throw new ImportError(file, lineNumber, `must be a non-negative number, got "${clip(line.slice(start, end))}"`, field);
}

/** Epoch seconds in `line[start, end)` as epoch milliseconds; ImportError when not a time between 1970 and 2200. */
export function epochSecondsAt(line: string, start: number, end: number, file: string, lineNumber: number, field: string): number {
  const s = parseDecimal(line, start, end);
  const ms = Math.round(s * 1000);
  if (ms >= 0 && ms <= MAX_TIMESTAMP) return ms;
  throw new ImportError(file, lineNumber, `must be epoch seconds between 1970 and 2200, got "${clip(line.slice(start, end))}"`, field);
}

/** `YYYY-MM-DD` in `line[start, end)` as epoch ms of that day's midnight UTC; NaN when not a real date. */
export function parseIsoDate(line: string, start: number, end: number): number {
  if (end - start !== 10 || line.charCodeAt(start + 4) !== 45 || line.charCodeAt(start + 7) !== 45) return NaN;
  const y = parseUint(line, start, start + 4);
  const m = parseUint(line, start + 5, start + 7);
  const d = parseUint(line, start + 8, start + 10);
  if (y < 0 || m < 1 || m > 12 || d < 1 || d > 31) return NaN;
  const ms = Date.UTC(y, m - 1, d);
  // Rejects 2001-02-30 and the like (Date.UTC would roll it over into March).
  return new Date(ms).getUTCDate() === d ? ms : NaN;
}

export function columnCountError(file: string, lineNumber: number, expected: number, got: number, columns: string, separator: string): ImportError {
  return new ImportError(file, lineNumber, `expected ${expected} ${separator}-separated columns (${columns}), got ${got}`);
}

/** Checks that the registry knows the event types an importer produces. */
export function requireEventTypes(types: EventTypeRegistry, names: readonly string[], format: string): void {
  for (const name of names) {
    if (!types.has(name)) throw new Error(`${format}: the event type "${name}" is not configured (known: ${types.names().join(', ')})`);
  }
}

export function clip(s: string, n = 40): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
