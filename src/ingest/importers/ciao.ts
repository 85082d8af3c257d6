/**
 * `ciao`: CiaoDVD (Guo et al., ASONAM 2014), comma-separated without headers:
 * - ciao_trusts.txt (or trusts.txt) `truster,trustee,1` → follow edges;
 * - ciao_ratings.txt (or movie-ratings.txt) `user,movie,genre,review,rating,YYYY-MM-DD`
 *   → items `{ id: movie, tags: ["genre:<genre>"] }`, each emitted once just before its first
 *   rating, and `rating` events (value = 1–5 stars, timestamp = the date at 00:00 UTC).
 * The trust file has no dates: edges get the constant timestamp 2000-01-01T00:00:00Z, before
 * the first rating (2000-05-31), so that a temporal split sees the trust network in training
 * (as the papers on this data set use it). Order: edges, then items and events in file order.
 * A user may rate the same movie more than once (distinct reviews): every row is kept.
 */
import { join } from 'node:path';
import type { LogRecord } from '../../domain/types.js';
import { ImportError, type ImportOptions, type Importer } from '../importer.js';
import {
  ProgressTracker,
  clip,
  columnCountError,
  fieldBounds,
  idAt,
  isDirectory,
  isFile,
  parseIsoDate,
  readLineBatches,
  requireEventTypes,
  valueAt,
} from '../lines.js';

const FORMAT = 'ciao';
/** Timestamp of the trust edges (the trust file has no dates). */
export const CIAO_TRUST_TIMESTAMP = Date.UTC(2000, 0, 1);
const COMMA = 44;

async function firstExisting(dir: string, names: readonly string[]): Promise<string> {
  for (const name of names) {
    if (await isFile(join(dir, name))) return join(dir, name);
  }
  throw new Error(`${FORMAT}: none of ${names.join(', ')} found in ${dir}`);
}

async function locate(input: string): Promise<{ trusts: string; ratings: string }> {
  if (!(await isDirectory(input))) throw new Error(`${FORMAT}: expected the ciaodvd folder, got ${input}`);
  return {
    trusts: await firstExisting(input, ['ciao_trusts.txt', 'trusts.txt']),
    ratings: await firstExisting(input, ['ciao_ratings.txt', 'movie-ratings.txt']),
  };
}

export const ciaoImporter: Importer = {
  format: FORMAT,
  description:
    'CiaoDVD (ciaodvd folder): ciao_trusts.txt → follow edges (timestamp 2000-01-01T00:00:00Z: the file has no dates), ' +
    'ciao_ratings.txt → items (tag "genre:<id>", each once before its first rating) and rating events (1–5 stars, dated at 00:00 UTC). ' +
    'Order: edges, then items and events in file order.',
  explicitRatings: true,
  async files(input: string): Promise<string[]> {
    const p = await locate(input);
    return [p.trusts, p.ratings];
  },
  async *read(input: string, options: ImportOptions): AsyncIterable<LogRecord> {
    requireEventTypes(options.types, ['rating'], FORMAT);
    const p = await locate(input);
    const progress = await ProgressTracker.forFiles([p.trusts, p.ratings], options.onProgress);
    const b = new Int32Array(12);

    const edgeTimestamp = CIAO_TRUST_TIMESTAMP;
    for await (const { lines, firstLine } of readLineBatches(p.trusts, { onBytes: progress.reader(p.trusts) })) {
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        const lineNumber = firstLine + i;
        if (line.length === 0) continue;
        const n = fieldBounds(line, COMMA, b);
        if (n !== 3) throw columnCountError(p.trusts, lineNumber, 3, n, 'truster, trustee, trust value', 'comma');
        const userId = idAt(line, b[0], b[1], p.trusts, lineNumber, 'truster');
        const targetId = idAt(line, b[2], b[3], p.trusts, lineNumber, 'trustee');
        if (targetId === userId) throw new ImportError(p.trusts, lineNumber, 'a user cannot trust themselves', 'trustee');
        yield { kind: 'edge', edge: { userId, targetId, kind: 'follow', timestamp: edgeTimestamp } };
      }
    }
    progress.done(p.trusts);

    const seen = new Set<string>();
    for await (const { lines, firstLine } of readLineBatches(p.ratings, { onBytes: progress.reader(p.ratings) })) {
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        const lineNumber = firstLine + i;
        if (line.length === 0) continue;
        const n = fieldBounds(line, COMMA, b);
        if (n !== 6) throw columnCountError(p.ratings, lineNumber, 6, n, 'user, movie, genre, review, rating, date', 'comma');
        const userId = idAt(line, b[0], b[1], p.ratings, lineNumber, 'user');
        const itemId = idAt(line, b[2], b[3], p.ratings, lineNumber, 'movie');
        const genre = idAt(line, b[4], b[5], p.ratings, lineNumber, 'genre');
        idAt(line, b[6], b[7], p.ratings, lineNumber, 'review');
        const value = valueAt(line, b[8], b[9], p.ratings, lineNumber, 'rating');
        const timestamp = parseIsoDate(line, b[10], b[11]);
        if (Number.isNaN(timestamp)) {
          throw new ImportError(p.ratings, lineNumber, `must be a date YYYY-MM-DD, got "${clip(line.slice(b[10], b[11]))}"`, 'date');
        }
        if (!seen.has(itemId)) {
          seen.add(itemId);
          yield { kind: 'item', item: { id: itemId, tags: [`genre:${genre}`] } };
        }
        yield { kind: 'event', event: { userId, itemId, type: 'rating', timestamp, value } };
      }
    }
    progress.done(p.ratings);
  },
};
