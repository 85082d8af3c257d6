/**
 * `filmtrust`: FilmTrust (Guo et al., IJCAI 2013), space-separated without headers:
 * - trust.txt `truster trustee 1` (CRLF) → follow edges;
 * - ratings.txt `user item rating` (0.5–4 stars) → `rating` events.
 * The data set has no times: every record gets the constant timestamp 2011-06-01T00:00:00Z
 * (the site was crawled in June 2011) and consumers keep file order for ties. Order: edges, events.
 */
import { join } from 'node:path';
import type { LogRecord } from '../../domain/types.js';
import type { ImportOptions, Importer } from '../importer.js';
import { ProgressTracker, isDirectory, requireEventTypes, requireFile } from '../lines.js';
import { readFollowTriples, readRatingTriples } from './triples.js';

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
    yield* readFollowTriples(p.trust, { names: ['truster', 'trustee', 'trust value'], separator: 'space', selfEdge: 'a user cannot trust themselves' }, progress, FILMTRUST_TIMESTAMP);
    yield* readRatingTriples(p.ratings, { names: ['user', 'item', 'rating'], separator: 'space' }, progress, FILMTRUST_TIMESTAMP);
  },
};
