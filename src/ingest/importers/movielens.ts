/**
 * `movielens`: the GroupLens CSV releases (ml-latest-small, ml-latest, ml-20m, ml-25m, ml-32m):
 * - movies.csv `movieId,title,genres` → items `{ id, text: title, tags: genres, attributes: { year } }`
 *   (the release year at the end of the title, e.g. "Toy Story (1995)", when there is one)
 *   (genres split on `|`, "(no genres listed)" dropped); optional;
 * - ratings.csv `userId,movieId,rating,timestamp` (header, epoch seconds, CRLF or LF)
 *   → `rating` events with value = stars, in file order.
 * Input: the folder, or the path of ratings.csv (movies.csv is then looked up beside it).
 */
import { dirname, join } from 'node:path';
import type { Item, LogRecord } from '../../domain/types.js';
import { ImportError, type ImportOptions, type Importer } from '../importer.js';
import {
  CsvSyntaxError,
  ProgressTracker,
  columnCountError,
  epochSecondsAt,
  fieldBounds,
  idAt,
  isDirectory,
  isFile,
  readLineBatches,
  requireEventTypes,
  requireFile,
  splitCsvLine,
  valueAt,
} from '../lines.js';

const FORMAT = 'movielens';
const RATINGS_HEADER = 'userId,movieId,rating,timestamp';
const MOVIES_HEADER = 'movieId,title,genres';
const NO_GENRES = '(no genres listed)';

interface Paths {
  ratings: string;
  movies?: string;
}

async function locate(input: string): Promise<Paths> {
  const dir = (await isDirectory(input)) ? input : dirname(input);
  const ratings = dir === input ? join(dir, 'ratings.csv') : input;
  await requireFile(FORMAT, ratings, 'ratings.csv');
  const movies = join(dir, 'movies.csv');
  return (await isFile(movies)) ? { ratings, movies } : { ratings };
}

async function* readMovies(file: string, progress: ProgressTracker): AsyncGenerator<LogRecord> {
  for await (const { lines, firstLine } of readLineBatches(file, { onBytes: progress.reader(file) })) {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const lineNumber = firstLine + i;
      if (lineNumber === 1) {
        if (line !== MOVIES_HEADER) throw new ImportError(file, 1, `expected the header "${MOVIES_HEADER}"`);
        continue;
      }
      if (line.length === 0) continue;
      let fields: string[];
      try {
        fields = splitCsvLine(line);
      } catch (err) {
        if (err instanceof CsvSyntaxError) throw new ImportError(file, lineNumber, err.message, ['movieId', 'title', 'genres'][err.column]);
        throw err;
      }
      if (fields.length !== 3) throw columnCountError(file, lineNumber, 3, fields.length, MOVIES_HEADER, 'comma');
      const [id, title, genres] = fields;
      const item: Item = { id: idAt(id, 0, id.length, file, lineNumber, 'movieId'), text: title };
      if (genres.length > 0 && genres !== NO_GENRES) {
        const tags = genres.split('|').filter((g) => g.length > 0 && g !== NO_GENRES);
        if (tags.length > 0) item.tags = tags;
      }
      const year = /\((\d{4})(?:[-–]\d{0,4})?\)\s*$/.exec(title);
      if (year) item.attributes = { year: Number(year[1]) };
      yield { kind: 'item', item };
    }
  }
  progress.done(file);
}

async function* readRatings(file: string, progress: ProgressTracker): AsyncGenerator<LogRecord> {
  const b = new Int32Array(8);
  for await (const { lines, firstLine } of readLineBatches(file, { onBytes: progress.reader(file) })) {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const lineNumber = firstLine + i;
      if (lineNumber === 1) {
        if (line !== RATINGS_HEADER) throw new ImportError(file, 1, `expected the header "${RATINGS_HEADER}"`);
        continue;
      }
      if (line.length === 0) continue;
      const n = fieldBounds(line, 44, b);
      if (n !== 4) throw columnCountError(file, lineNumber, 4, n, RATINGS_HEADER, 'comma');
      const userId = idAt(line, b[0], b[1], file, lineNumber, 'userId');
      const itemId = idAt(line, b[2], b[3], file, lineNumber, 'movieId');
      const value = valueAt(line, b[4], b[5], file, lineNumber, 'rating');
      const timestamp = epochSecondsAt(line, b[6], b[7], file, lineNumber, 'timestamp');
      yield { kind: 'event', event: { userId, itemId, type: 'rating', timestamp, value } };
    }
  }
  progress.done(file);
}

export const movielensImporter: Importer = {
  format: FORMAT,
  description:
    'MovieLens CSV releases (ml-latest-small, ml-latest, ml-20m/25m/32m): a folder with ratings.csv and movies.csv, or the ratings.csv path. ' +
    'movies.csv → items (title as text, genres as tags); ratings.csv → rating events (value = stars, timestamp = epoch seconds × 1000).',
  explicitRatings: true,
  async files(input: string): Promise<string[]> {
    const p = await locate(input);
    return p.movies ? [p.movies, p.ratings] : [p.ratings];
  },
  async *read(input: string, options: ImportOptions): AsyncIterable<LogRecord> {
    requireEventTypes(options.types, ['rating'], FORMAT);
    const p = await locate(input);
    const progress = await ProgressTracker.forFiles(p.movies ? [p.movies, p.ratings] : [p.ratings], options.onProgress);
    if (p.movies) yield* readMovies(p.movies, progress);
    yield* readRatings(p.ratings, progress);
  },
};
