/**
 * `movielens-100k`: the 1998 GroupLens ML-100K release (folder `ml-100k`):
 * - u.item `id|title|release date|video release date|IMDb URL|<19 genre flags>` (Latin-1,
 *   pipe-separated) → items `{ id, text: title, tags: genres flagged 1 }` ("unknown" dropped);
 *   genre names from u.genre (`name|index`) when present, else the standard ML-100K list;
 * - u.data `user item rating unix-seconds` (tab-separated, no header) → `rating` events.
 * Input: the folder, or the u.data path (u.item / u.genre are looked up beside it).
 */
import { dirname, join } from 'node:path';
import type { Item, LogRecord } from '../../domain/types.js';
import { ImportError, type ImportOptions, type Importer } from '../importer.js';
import {
  ProgressTracker,
  blankFieldBounds,
  columnCountError,
  epochSecondsAt,
  idAt,
  isDirectory,
  isFile,
  readLineBatches,
  requireEventTypes,
  requireFile,
  valueAt,
} from '../lines.js';

const FORMAT = 'movielens-100k';

/** The genre columns of u.item, in order (as listed in the data set's u.genre). */
export const ML100K_GENRES: readonly string[] = [
  'unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy',
  'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western',
];

interface Paths {
  data: string;
  item?: string;
  genre?: string;
}

async function locate(input: string): Promise<Paths> {
  const isDir = await isDirectory(input);
  const dir = isDir ? input : dirname(input);
  const data = isDir ? join(dir, 'u.data') : input;
  await requireFile(FORMAT, data, 'u.data');
  const paths: Paths = { data };
  if (await isFile(join(dir, 'u.item'))) paths.item = join(dir, 'u.item');
  if (await isFile(join(dir, 'u.genre'))) paths.genre = join(dir, 'u.genre');
  return paths;
}

function fileList(p: Paths): string[] {
  const files: string[] = [];
  if (p.genre) files.push(p.genre);
  if (p.item) files.push(p.item);
  files.push(p.data);
  return files;
}

async function readGenres(file: string, progress: ProgressTracker): Promise<string[]> {
  const names: string[] = [];
  for await (const { lines, firstLine } of readLineBatches(file, { encoding: 'latin1', onBytes: progress.reader(file) })) {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (line.length === 0) continue;
      const bar = line.lastIndexOf('|');
      const index = bar > 0 ? Number(line.slice(bar + 1)) : NaN;
      if (!Number.isInteger(index) || index < 0 || index > 100) throw new ImportError(file, firstLine + i, 'expected "name|index"');
      names[index] = line.slice(0, bar);
    }
  }
  progress.done(file);
  for (let i = 0; i < names.length; i++) {
    if (names[i] === undefined) throw new Error(`${file}: genre index ${i} is missing (expected lines "name|index" for 0..${names.length - 1})`);
  }
  return names;
}

async function* readItems(file: string, genres: readonly string[], progress: ProgressTracker): AsyncGenerator<LogRecord> {
  const genreCount = genres.length;
  for await (const { lines, firstLine } of readLineBatches(file, { encoding: 'latin1', onBytes: progress.reader(file) })) {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const lineNumber = firstLine + i;
      if (line.length === 0) continue;
      const fields = line.split('|');
      if (fields.length !== 5 + genreCount) {
        throw columnCountError(file, lineNumber, 5 + genreCount, fields.length, `id|title|release date|video release date|IMDb URL|${genreCount} genre flags`, 'pipe');
      }
      const id = idAt(fields[0], 0, fields[0].length, file, lineNumber, 'movie id');
      const item: Item = { id };
      if (fields[1].length > 0) item.text = fields[1];
      const tags: string[] = [];
      for (let g = 0; g < genreCount; g++) {
        const flag = fields[5 + g];
        if (flag === '1') {
          if (genres[g] !== 'unknown') tags.push(genres[g]);
        } else if (flag !== '0') {
          throw new ImportError(file, lineNumber, `genre flag must be 0 or 1, got "${flag}"`, genres[g]);
        }
      }
      if (tags.length > 0) item.tags = tags;
      yield { kind: 'item', item };
    }
  }
  progress.done(file);
}

async function* readRatings(file: string, progress: ProgressTracker): AsyncGenerator<LogRecord> {
  const b = new Int32Array(8);
  for await (const { lines, firstLine } of readLineBatches(file, { encoding: 'latin1', onBytes: progress.reader(file) })) {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const lineNumber = firstLine + i;
      const n = blankFieldBounds(line, b);
      if (n === 0) continue;
      if (n !== 4) throw columnCountError(file, lineNumber, 4, n, 'user id, item id, rating, timestamp', 'tab');
      const userId = idAt(line, b[0], b[1], file, lineNumber, 'user id');
      const itemId = idAt(line, b[2], b[3], file, lineNumber, 'item id');
      const value = valueAt(line, b[4], b[5], file, lineNumber, 'rating');
      const timestamp = epochSecondsAt(line, b[6], b[7], file, lineNumber, 'timestamp');
      yield { kind: 'event', event: { userId, itemId, type: 'rating', timestamp, value } };
    }
  }
  progress.done(file);
}

export const movielens100kImporter: Importer = {
  format: FORMAT,
  description:
    'MovieLens 100K (ml-100k folder, or the u.data path): u.item → items (title, genres as tags; Latin-1), ' +
    'u.data (tab-separated user item rating unix-seconds) → rating events. Genre names from u.genre when present.',
  explicitRatings: true,
  async files(input: string): Promise<string[]> {
    return fileList(await locate(input));
  },
  async *read(input: string, options: ImportOptions): AsyncIterable<LogRecord> {
    requireEventTypes(options.types, ['rating'], FORMAT);
    const p = await locate(input);
    const progress = await ProgressTracker.forFiles(fileList(p), options.onProgress);
    const genres = p.genre ? await readGenres(p.genre, progress) : ML100K_GENRES;
    if (p.item) yield* readItems(p.item, genres, progress);
    yield* readRatings(p.data, progress);
  },
};
