/**
 * `filmtrust`: FilmTrust (Guo et al., IJCAI 2013), space-separated without headers:
 * - trust.txt `truster trustee 1` (CRLF) → follow edges;
 * - ratings.txt `user item rating` (0.5–4 stars) → `rating` events.
 * The data set has no times: every record gets the constant timestamp 2011-06-01T00:00:00Z
 * (the site was crawled in June 2011) and consumers keep file order for ties. Order: edges, events.
 */
import { join } from 'node:path';
import type { LogRecord } from '../../domain/types.js';
import { ImportError, type ImportOptions, type Importer } from '../importer.js';
import {
  ProgressTracker,
  blankFieldBounds,
  columnCountError,
  idAt,
  isDirectory,
  readLineBatches,
  requireEventTypes,
  requireFile,
  valueAt,
} from '../lines.js';

const FORMAT = 'filmtrust';
/** The constant timestamp of every record (the data set has no times). */
export const FILMTRUST_TIMESTAMP = Date.UTC(2011, 5, 1);

async function locate(input: string): Promise<{ trust: string; ratings: string }> {
  if (!(await isDirectory(input))) throw new Error(`${FORMAT}: expected the filmtrust folder, got ${input}`);
  return {
    trust: await requireFile(FORMAT, join(input, 'trust.txt'), 'trust.txt'),
    ratings: await requireFile(FORMAT, join(input, 'ratings.txt'), 'ratings.txt'),
  };
}

export const filmtrustImporter: Importer = {
  format: FORMAT,
  description:
    'FilmTrust (filmtrust folder): trust.txt → follow edges, ratings.txt → rating events (0.5–4 stars). ' +
    'No times in the data: every record has the timestamp 2011-06-01T00:00:00Z (file order breaks ties). Order: edges, events.',
  explicitRatings: true,
  async files(input: string): Promise<string[]> {
    const p = await locate(input);
    return [p.trust, p.ratings];
  },
  async *read(input: string, options: ImportOptions): AsyncIterable<LogRecord> {
    requireEventTypes(options.types, ['rating'], FORMAT);
    const p = await locate(input);
    const progress = await ProgressTracker.forFiles([p.trust, p.ratings], options.onProgress);
    const timestamp = FILMTRUST_TIMESTAMP;
    const b = new Int32Array(8);

    for await (const { lines, firstLine } of readLineBatches(p.trust, { onBytes: progress.reader(p.trust) })) {
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        const lineNumber = firstLine + i;
        const n = blankFieldBounds(line, b);
        if (n === 0) continue;
        if (n !== 3) throw columnCountError(p.trust, lineNumber, 3, n, 'truster, trustee, trust value', 'space');
        const userId = idAt(line, b[0], b[1], p.trust, lineNumber, 'truster');
        const targetId = idAt(line, b[2], b[3], p.trust, lineNumber, 'trustee');
        if (targetId === userId) throw new ImportError(p.trust, lineNumber, 'a user cannot trust themselves', 'trustee');
        yield { kind: 'edge', edge: { userId, targetId, kind: 'follow', timestamp } };
      }
    }
    progress.done(p.trust);

    for await (const { lines, firstLine } of readLineBatches(p.ratings, { onBytes: progress.reader(p.ratings) })) {
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        const lineNumber = firstLine + i;
        const n = blankFieldBounds(line, b);
        if (n === 0) continue;
        if (n !== 3) throw columnCountError(p.ratings, lineNumber, 3, n, 'user, item, rating', 'space');
        const userId = idAt(line, b[0], b[1], p.ratings, lineNumber, 'user');
        const itemId = idAt(line, b[2], b[3], p.ratings, lineNumber, 'item');
        const value = valueAt(line, b[4], b[5], p.ratings, lineNumber, 'rating');
        yield { kind: 'event', event: { userId, itemId, type: 'rating', timestamp, value } };
      }
    }
    progress.done(p.ratings);
  },
};
