/**
 * `yelp-hin`: the Yelp subset of the heterogeneous-information-network benchmarks (HERec and
 * successors), tab-separated without headers:
 * - business_category.dat `business category 1` and business_city.dat `business city 1`
 *   → items `{ id: business, tags: ["category:<id>", …, "city:<id>"] }` (each business once);
 * - user_user.dat `user friend 1` → follow edges (each row one directed edge; friendships are
 *   listed in both directions);
 * - user_business.dat `user business stars` → `rating` events, value = stars.
 * The data set has no times: every record gets the constant timestamp 2016-01-01T00:00:00Z and
 * consumers keep file order for ties. Order: items, edges, events. user_compliment.dat is not read.
 */
import { join } from 'node:path';
import type { LogRecord } from '../../domain/types.js';
import type { ImportOptions, Importer } from '../importer.js';
import { readFollowTriples, readRatingTriples } from './triples.js';
import {
  ProgressTracker,
  blankFieldBounds,
  columnCountError,
  idAt,
  isDirectory,
  readLineBatches,
  requireEventTypes,
  requireFile,
} from '../lines.js';

const FORMAT = 'yelp-hin';
/** The constant timestamp of every record (the data set has no times). */
export const YELP_HIN_TIMESTAMP = Date.UTC(2016, 0, 1);

const FILES = {
  category: 'business_category.dat',
  city: 'business_city.dat',
  friends: 'user_user.dat',
  ratings: 'user_business.dat',
} as const;

type Paths = Record<keyof typeof FILES, string>;

async function locate(input: string): Promise<Paths> {
  if (!(await isDirectory(input))) throw new Error(`${FORMAT}: expected the yelp-hin folder, got ${input}`);
  const paths = {} as Paths;
  for (const key of Object.keys(FILES) as (keyof typeof FILES)[]) {
    paths[key] = await requireFile(FORMAT, join(input, FILES[key]), FILES[key]);
  }
  return paths;
}

function order(p: Paths): string[] {
  return [p.category, p.city, p.friends, p.ratings];
}

export const yelpHinImporter: Importer = {
  format: FORMAT,
  description:
    'Yelp HIN subset (yelp-hin folder): business_category.dat / business_city.dat → items tagged "category:<id>" and "city:<id>", ' +
    'user_user.dat → follow edges, user_business.dat → rating events (value = stars). ' +
    'No times in the data: every record has the timestamp 2016-01-01T00:00:00Z (file order breaks ties). Order: items, edges, events.',
  explicitRatings: true,
  async files(input: string): Promise<string[]> {
    return order(await locate(input));
  },
  async *read(input: string, options: ImportOptions): AsyncIterable<LogRecord> {
    requireEventTypes(options.types, ['rating'], FORMAT);
    const p = await locate(input);
    const progress = await ProgressTracker.forFiles(order(p), options.onProgress);
    const timestamp = YELP_HIN_TIMESTAMP;
    const b = new Int32Array(8);

    // Items: the two attribute files are small; gather the tags per business, in order of first appearance.
    const tags = new Map<string, string[]>();
    for (const [file, prefix, column] of [[p.category, 'category:', 'category'], [p.city, 'city:', 'city']] as const) {
      for await (const { lines, firstLine } of readLineBatches(file, { onBytes: progress.reader(file) })) {
        for (let i = 0; i < lines.length; i++) {
          const line = lines[i];
          const lineNumber = firstLine + i;
          const n = blankFieldBounds(line, b);
          if (n === 0) continue;
          if (n !== 3) throw columnCountError(file, lineNumber, 3, n, `business, ${column}, 1`, 'tab');
          const business = idAt(line, b[0], b[1], file, lineNumber, 'business');
          const tag = prefix + idAt(line, b[2], b[3], file, lineNumber, column);
          const list = tags.get(business);
          if (!list) tags.set(business, [tag]);
          else if (!list.includes(tag)) list.push(tag);
        }
      }
      progress.done(file);
    }
    for (const [id, list] of tags) yield { kind: 'item', item: { id, tags: list } };
    tags.clear();

    yield* readFollowTriples(p.friends, { names: ['user', 'friend', '1'], separator: 'tab' }, progress, timestamp);
    yield* readRatingTriples(p.ratings, { names: ['user', 'business', 'stars'], separator: 'tab' }, progress, timestamp);
  },
};
