/**
 * `lastfm-2k`: HetRec 2011 Last.fm (folder `hetrec2011-lastfm-2k`), tab-separated with headers:
 * - artists.dat `id name url pictureURL` → items `{ id, text: name, tags }`, where tags are the
 *   artist's top 5 tag names by number of assignments in user_taggedartists.dat (ties: lower
 *   tag id first), names from tags.dat;
 * - user_friends.dat `userID friendID` → follow edges (each row one directed edge; the data set
 *   lists every friendship in both directions);
 * - user_artists.dat `userID artistID weight` → `play` events, value = listening count.
 * The data set has no times for plays or friendships: every record gets the constant timestamp
 * 2011-01-01T00:00:00Z and consumers keep file order for ties. Order: items, edges, events.
 * tags.dat is Latin-1 while artists.dat is UTF-8: lines are decoded as UTF-8 with a Latin-1
 * fallback per line.
 */
import { join } from 'node:path';
import type { Item, LogRecord } from '../../domain/types.js';
import { ImportError, type ImportOptions, type Importer } from '../importer.js';
import {
  ProgressTracker,
  columnCountError,
  fieldBounds,
  idAt,
  isDirectory,
  readLineBatches,
  requireEventTypes,
  requireFile,
  valueAt,
} from '../lines.js';

const FORMAT = 'lastfm-2k';
/** The constant timestamp of every record (the data set was published in 2011 and has no play times). */
export const LASTFM_TIMESTAMP = Date.UTC(2011, 0, 1);
const TOP_TAGS = 5;
const TAB = 9;

const FILES = {
  tags: 'tags.dat',
  tagged: 'user_taggedartists.dat',
  artists: 'artists.dat',
  friends: 'user_friends.dat',
  plays: 'user_artists.dat',
} as const;

const HEADERS: Record<keyof typeof FILES, string> = {
  tags: 'tagID\ttagValue',
  tagged: 'userID\tartistID\ttagID\tday\tmonth\tyear',
  artists: 'id\tname\turl\tpictureURL',
  friends: 'userID\tfriendID',
  plays: 'userID\tartistID\tweight',
};

type Paths = Record<keyof typeof FILES, string>;

async function locate(input: string): Promise<Paths> {
  if (!(await isDirectory(input))) throw new Error(`${FORMAT}: expected the hetrec2011-lastfm-2k folder, got ${input}`);
  const paths = {} as Paths;
  for (const key of Object.keys(FILES) as (keyof typeof FILES)[]) {
    paths[key] = await requireFile(FORMAT, join(input, FILES[key]), FILES[key]);
  }
  return paths;
}

function order(p: Paths): string[] {
  return [p.tags, p.tagged, p.artists, p.friends, p.plays];
}

/**
 * Reads a tab-separated file with a header, calling `row` for each non-empty line after
 * checking the column count. `b` receives the field bounds.
 */
async function eachRow(
  file: string,
  key: keyof typeof FILES,
  columns: number,
  progress: ProgressTracker,
  b: Int32Array,
  row: (line: string, lineNumber: number) => void,
): Promise<void> {
  for await (const { lines, firstLine } of readLineBatches(file, { onBytes: progress.reader(file) })) {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const lineNumber = firstLine + i;
      if (lineNumber === 1) {
        if (line !== HEADERS[key]) throw new ImportError(file, 1, `expected the header "${HEADERS[key].replaceAll('\t', '\\t')}"`);
        continue;
      }
      if (line.length === 0) continue;
      const n = fieldBounds(line, TAB, b);
      if (n !== columns) throw columnCountError(file, lineNumber, columns, n, HEADERS[key].replaceAll('\t', ', '), 'tab');
      row(line, lineNumber);
    }
  }
  progress.done(file);
}

async function topTags(p: Paths, progress: ProgressTracker): Promise<Map<string, string[]>> {
  const b = new Int32Array(12);
  const names = new Map<string, string>();
  await eachRow(p.tags, 'tags', 2, progress, b, (line, lineNumber) => {
    const id = idAt(line, b[0], b[1], p.tags, lineNumber, 'tagID');
    const name = line.slice(b[2], b[3]).trim();
    if (name.length > 0) names.set(id, name);
  });
  const counts = new Map<string, Map<string, number>>();
  await eachRow(p.tagged, 'tagged', 6, progress, b, (line, lineNumber) => {
    idAt(line, b[0], b[1], p.tagged, lineNumber, 'userID');
    const artist = idAt(line, b[2], b[3], p.tagged, lineNumber, 'artistID');
    const tag = idAt(line, b[4], b[5], p.tagged, lineNumber, 'tagID');
    if (!names.has(tag)) throw new ImportError(p.tagged, lineNumber, `tag ${tag} is not in ${FILES.tags}`, 'tagID');
    let perArtist = counts.get(artist);
    if (!perArtist) counts.set(artist, (perArtist = new Map()));
    perArtist.set(tag, (perArtist.get(tag) ?? 0) + 1);
  });
  const top = new Map<string, string[]>();
  for (const [artist, perArtist] of counts) {
    const ranked = [...perArtist].sort((x, y) => y[1] - x[1] || compareIds(x[0], y[0]));
    const tags: string[] = [];
    for (const [tag] of ranked) {
      const name = names.get(tag) as string;
      if (!tags.includes(name)) tags.push(name);
      if (tags.length === TOP_TAGS) break;
    }
    top.set(artist, tags);
  }
  return top;
}

/** Numeric ids in numeric order, others as strings. */
function compareIds(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  if (Number.isFinite(x) && Number.isFinite(y) && x !== y) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}

export const lastfm2kImporter: Importer = {
  format: FORMAT,
  description:
    'HetRec 2011 Last.fm (hetrec2011-lastfm-2k folder): artists.dat → items (name, top 5 tags from user_taggedartists.dat/tags.dat), ' +
    'user_friends.dat → follow edges, user_artists.dat → play events (value = listening count). ' +
    'No times in the data: every record has the timestamp 2011-01-01T00:00:00Z (file order breaks ties). Order: items, edges, events.',
  explicitRatings: false,
  async files(input: string): Promise<string[]> {
    return order(await locate(input));
  },
  async *read(input: string, options: ImportOptions): AsyncIterable<LogRecord> {
    requireEventTypes(options.types, ['play'], FORMAT);
    const p = await locate(input);
    const progress = await ProgressTracker.forFiles(order(p), options.onProgress);
    const tagsOf = await topTags(p, progress);
    const b = new Int32Array(12);
    const timestamp = LASTFM_TIMESTAMP;

    // artists.dat is small (2 MB): collect its items, then yield them.
    const items: LogRecord[] = [];
    await eachRow(p.artists, 'artists', 4, progress, b, (line, lineNumber) => {
      const id = idAt(line, b[0], b[1], p.artists, lineNumber, 'id');
      const item: Item = { id };
      const name = line.slice(b[2], b[3]);
      if (name.length > 0) item.text = name;
      const tags = tagsOf.get(id);
      if (tags && tags.length > 0) item.tags = tags;
      items.push({ kind: 'item', item });
    });
    yield* items;
    items.length = 0;

    for (const [file, key] of [[p.friends, 'friends'], [p.plays, 'plays']] as const) {
      const columns = key === 'friends' ? 2 : 3;
      for await (const { lines, firstLine } of readLineBatches(file, { onBytes: progress.reader(file) })) {
        for (let i = 0; i < lines.length; i++) {
          const line = lines[i];
          const lineNumber = firstLine + i;
          if (lineNumber === 1) {
            if (line !== HEADERS[key]) throw new ImportError(file, 1, `expected the header "${HEADERS[key].replaceAll('\t', '\\t')}"`);
            continue;
          }
          if (line.length === 0) continue;
          const n = fieldBounds(line, TAB, b);
          if (n !== columns) throw columnCountError(file, lineNumber, columns, n, HEADERS[key].replaceAll('\t', ', '), 'tab');
          const userId = idAt(line, b[0], b[1], file, lineNumber, 'userID');
          if (key === 'friends') {
            const targetId = idAt(line, b[2], b[3], file, lineNumber, 'friendID');
            if (targetId === userId) throw new ImportError(file, lineNumber, 'a user cannot follow themselves', 'friendID');
            yield { kind: 'edge', edge: { userId, targetId, kind: 'follow', timestamp } };
          } else {
            const itemId = idAt(line, b[2], b[3], file, lineNumber, 'artistID');
            const value = valueAt(line, b[4], b[5], file, lineNumber, 'weight');
            yield { kind: 'event', event: { userId, itemId, type: 'play', timestamp, value } };
          }
        }
      }
      progress.done(file);
    }
  },
};
