/**
 * A streaming reader of training-set CSV files straight into typed arrays (no per-row objects):
 * the file is read in large chunks, each complete line is split on commas and its numeric
 * fields parsed from the bytes.
 *
 * Layout (as written by `lenta train export`): a header line; `t` (event time, ms); `user` and
 * `item` (ids, not features, skipped); optional `group` (integer query id); `label_<head>`
 * columns (0/1); every other column is a numeric feature. An empty field is missing (NaN).
 * Fields may be double-quoted ("" escapes a quote) but must not contain line breaks.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export interface TrainingCsv {
  numRows: number;
  featureNames: string[];
  /** numRows × featureNames.length, row-major; NaN = missing. */
  features: Float32Array;
  /** Head names (the label column without `label_`) and their labels, aligned. */
  heads: string[];
  labels: Float32Array[];
  /** Column `t` (NaN when absent or empty). */
  time: Float64Array;
  /** Column `group` when present. */
  group?: Int32Array;
}

const COMMA = 44;
const NL = 10;
const CR = 13;
const QUOTE = 34;
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** Parses the number in bytes [s, e); empty = NaN. */
export function parseNumberBytes(b: Uint8Array, s: number, e: number): number {
  if (s >= e) return NaN;
  let i = s;
  let neg = false;
  if (b[i] === 45) {
    neg = true;
    i++;
  } else if (b[i] === 43) i++;
  let m = 0;
  let digits = 0;
  let frac = 0;
  let dot = false;
  let any = false;
  for (; i < e; i++) {
    const c = b[i]!;
    if (c >= 48 && c <= 57) {
      any = true;
      if (m === 0 && c === 48) {
        if (dot) frac++;
        continue;
      }
      if (digits >= 15) return slowNumber(b, s, e);
      m = m * 10 + (c - 48);
      digits++;
      if (dot) frac++;
    } else if (c === 46 && !dot) dot = true;
    else break;
  }
  if (!any) return slowNumber(b, s, e);
  let exp = 0;
  if (i < e) {
    if (b[i] !== 101 && b[i] !== 69) return slowNumber(b, s, e);
    i++;
    let eneg = false;
    if (b[i] === 45) {
      eneg = true;
      i++;
    } else if (b[i] === 43) i++;
    if (i >= e) return slowNumber(b, s, e);
    for (; i < e; i++) {
      const c = b[i]!;
      if (c < 48 || c > 57) return slowNumber(b, s, e);
      exp = exp * 10 + (c - 48);
    }
    if (eneg) exp = -exp;
  }
  const p = exp - frac;
  let v: number;
  // m < 10^15 is exact, so one division/multiplication by an exact power of ten rounds correctly.
  if (p === 0) v = m;
  else if (p < 0 && p >= -22) v = m / POW10[-p]!;
  else if (p > 0 && p <= 22) v = m * POW10[p]!;
  else return slowNumber(b, s, e);
  return neg ? -v : v;
}

function slowNumber(b: Uint8Array, s: number, e: number): number {
  const text = Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1').trim();
  const lower = text.toLowerCase();
  if (lower === '' || lower === 'nan' || lower === 'null' || lower === 'na') return NaN;
  if (lower === 'inf' || lower === '+inf' || lower === 'infinity' || lower === '+infinity') return Infinity;
  if (lower === '-inf' || lower === '-infinity') return -Infinity;
  const v = Number(text);
  return v;
}

/** Kinds of columns. */
const SKIP = 0;
const TIME = 1;
const GROUP = 2;
const LABEL = 3;
const FEATURE = 4;

export function readTrainingCsv(path: string, options: { chunkBytes?: number; onProgress?: (bytes: number, rows: number) => void } = {}): TrainingCsv {
  const fd = openSync(path, 'r');
  try {
    const chunk = options.chunkBytes ?? 1 << 24;
    let buf = new Uint8Array(chunk);
    let filled = 0;
    let eof = false;
    let bytesRead = 0;
    const fill = () => {
      while (!eof && filled < buf.length) {
        const k = readSync(fd, buf, filled, buf.length - filled, null);
        if (k === 0) eof = true;
        filled += k;
        bytesRead += k;
      }
    };
    fill();
    // Header.
    let headerEnd = buf.indexOf(NL);
    while (headerEnd < 0 && !eof) {
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf.subarray(0, filled));
      buf = bigger;
      fill();
      headerEnd = buf.subarray(0, filled).indexOf(NL);
    }
    if (headerEnd < 0) headerEnd = filled;
    const header = splitHeader(Buffer.from(buf.buffer, buf.byteOffset, headerEnd).toString('utf8'));
    const kind = new Uint8Array(header.length);
    const slot = new Int32Array(header.length);
    const featureNames: string[] = [];
    const heads: string[] = [];
    header.forEach((name, c) => {
      if (name === 't') kind[c] = TIME;
      else if (name === 'group') kind[c] = GROUP;
      else if (name === 'user' || name === 'item') kind[c] = SKIP;
      else if (name.startsWith('label_')) {
        kind[c] = LABEL;
        slot[c] = heads.length;
        heads.push(name.slice('label_'.length));
      } else {
        kind[c] = FEATURE;
        slot[c] = featureNames.length;
        featureNames.push(name);
      }
    });
    const hasGroup = header.includes('group');
    const ncol = header.length;
    const d = featureNames.length;
    const h = heads.length;

    let cap = 1 << 16;
    let features: Float32Array = new Float32Array(cap * d);
    let labels: Float32Array = new Float32Array(cap * h);
    let time: Float64Array = new Float64Array(cap);
    let group: Int32Array = new Int32Array(hasGroup ? cap : 0);
    let n = 0;
    let line = 1;

    let pos = Math.min(filled, headerEnd + 1);
    for (;;) {
      // Parse every complete line in buf[pos..filled).
      let end = filled > 0 ? buf.lastIndexOf(NL, filled - 1) : -1;
      if (eof && filled > pos && end < filled - 1) end = filled; // last line without newline
      while (pos < end) {
        line++;
        // Blank line.
        if (buf[pos] === NL || (buf[pos] === CR && buf[pos + 1] === NL)) {
          pos += buf[pos] === CR ? 2 : 1;
          continue;
        }
        if (n === cap) {
          cap *= 2;
          features = grow(features, cap * d) as Float32Array;
          labels = grow(labels, cap * h) as Float32Array;
          time = grow(time, cap) as Float64Array;
          if (hasGroup) group = grow(group, cap) as Int32Array;
        }
        features.fill(NaN, n * d, (n + 1) * d);
        labels.fill(NaN, n * h, (n + 1) * h);
        time[n] = NaN;
        let c = 0;
        let i = pos;
        for (;;) {
          let s = i;
          let e: number;
          if (buf[i] === QUOTE) {
            // Quoted field: numbers inside quotes are parsed as usual, ids are skipped.
            s = ++i;
            while (i < end && !(buf[i] === QUOTE && buf[i + 1] !== QUOTE)) i += buf[i] === QUOTE ? 2 : 1;
            e = i;
            i++;
            while (i < end && buf[i] !== COMMA && buf[i] !== NL) i++;
          } else {
            while (i < end && buf[i] !== COMMA && buf[i] !== NL) i++;
            e = i;
            if (e > s && buf[e - 1] === CR) e--;
          }
          if (c >= ncol) throw new Error(`${path}:${line}: more than the header's ${ncol} fields`);
          const k = kind[c]!;
          if (k === FEATURE) features[n * d + slot[c]!] = parseNumberBytes(buf, s, e);
          else if (k === LABEL) labels[n * h + slot[c]!] = parseNumberBytes(buf, s, e);
          else if (k === TIME) time[n] = parseNumberBytes(buf, s, e);
          else if (k === GROUP) {
            const g = parseNumberBytes(buf, s, e);
            if (!Number.isInteger(g)) throw new Error(`${path}:${line}: group "${Buffer.from(buf.subarray(s, e)).toString()}" is not an integer`);
            group[n] = g;
          }
          c++;
          if (i < end && buf[i] === COMMA) {
            i++;
            continue;
          }
          break;
        }
        if (c !== ncol) throw new Error(`${path}:${line}: ${c} fields, the header has ${ncol}`);
        n++;
        pos = i + 1;
      }
      options.onProgress?.(bytesRead, n);
      if (eof) break;
      // Move the partial last line to the front and read on.
      const rest = filled - pos;
      if (rest >= buf.length / 2) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf.subarray(pos, filled));
        buf = bigger;
      } else buf.copyWithin(0, pos, filled);
      filled = rest;
      pos = 0;
      fill();
    }
    return {
      numRows: n,
      featureNames,
      features: features.slice(0, n * d),
      heads,
      labels: heads.map((_, k) => Float32Array.from({ length: n }, (_, r) => labels[r * h + k]!)),
      time: time.slice(0, n),
      group: hasGroup ? group.slice(0, n) : undefined,
    };
  } finally {
    closeSync(fd);
  }
}

function grow(a: Float32Array | Float64Array | Int32Array, size: number): Float32Array | Float64Array | Int32Array {
  const b = new (a.constructor as new (n: number) => typeof a)(size);
  b.set(a);
  return b;
}

function splitHeader(line: string): string[] {
  if (line.charCodeAt(0) === 0xfeff) line = line.slice(1); // a UTF-8 byte-order mark
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur.replace(/\r$/, ''));
  return out.map((s) => s.trim());
}
