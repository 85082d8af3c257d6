/**
 * `obd`: the Open Bandit Dataset (ZOZOTOWN; Saito et al. 2020). Input: one folder
 * `<policy>/<campaign>` (e.g. `open-bandit-obd-small/random/men`) holding `<campaign>.csv` and
 * `item_context.csv`, or the path of the campaign CSV.
 * - item_context.csv `,item_id,item_feature_0..3` → items `{ id: "<campaign>:<item_id>",
 *   attributes: { item_feature_0: -0.67, item_feature_1: "ceca…", … }, tags: ["item_feature_1:ceca…", …] }`
 *   (numeric features as numbers, hashed categorical ones also as tags);
 * - each row of `<campaign>.csv` `,timestamp,item_id,position,click,propensity_score,user_feature_0..3,user-item_affinity_*`
 *   → one `impression` event `{ id: "obd:<policy>:<campaign>:<row>", userId: "ctx:<hash of the four user features>",
 *   itemId: "<campaign>:<item_id>", context: { position, propensity, variant: <policy> } }`, and where click = 1 a
 *   `click` event with the same user, item, timestamp and context (id suffixed ":click").
 * Item ids carry the campaign because item indices restart in every campaign (item 14 of "men" is not item 14 of
 * "women"); the same campaign under `random` and `bts` shares its items. Positions are 0-based (OBD's 1, 2, 3 =
 * left, center, right become 0, 1, 2). Users are anonymous in OBD: the user id is a hash of the user-feature
 * context, so one "user" is one context. The user-item affinity columns are not imported.
 */
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { readdir } from 'node:fs/promises';
import type { EventContext, Item, LogRecord } from '../../domain/types.js';
import { ImportError, type ImportOptions, type Importer } from '../importer.js';
import {
  ProgressTracker,
  clip,
  fieldBounds,
  idAt,
  isDirectory,
  isFile,
  parseDecimal,
  parseUint,
  readLineBatches,
  requireEventTypes,
  requireFile,
  MAX_TIMESTAMP,
} from '../lines.js';

const FORMAT = 'obd';
const COMMA = 44;
const USER_FEATURES = ['user_feature_0', 'user_feature_1', 'user_feature_2', 'user_feature_3'];

interface Paths {
  log: string;
  items: string;
  policy: string;
  campaign: string;
}

async function locate(input: string): Promise<Paths> {
  let dir: string;
  let log: string;
  if (await isDirectory(input)) {
    dir = input;
    const named = join(dir, `${basename(dir)}.csv`);
    if (await isFile(named)) {
      log = named;
    } else {
      const csvs = (await readdir(dir)).filter((f) => f.endsWith('.csv') && f !== 'item_context.csv');
      if (csvs.length !== 1) {
        throw new Error(`${FORMAT}: expected one <campaign>.csv besides item_context.csv in ${dir}, found ${csvs.length ? csvs.join(', ') : 'none'}`);
      }
      log = join(dir, csvs[0]);
    }
  } else {
    log = await requireFile(FORMAT, input, 'campaign CSV');
    dir = dirname(input);
  }
  const items = await requireFile(FORMAT, join(dir, 'item_context.csv'), 'item_context.csv');
  const policy = basename(dirname(dir)) || 'unknown';
  return { log, items, policy, campaign: basename(log, '.csv') };
}

/** Column indices by header name; the unnamed first column (the row index) is "". */
function columnsOf(header: string): Map<string, number> {
  const map = new Map<string, number>();
  header.split(',').forEach((name, i) => {
    if (!map.has(name.trim())) map.set(name.trim(), i);
  });
  return map;
}

function need(columns: Map<string, number>, names: readonly string[], file: string): number {
  for (const name of names) {
    const i = columns.get(name);
    if (i !== undefined) return i;
  }
  throw new ImportError(file, 1, `the header has no column ${names.join(' or ')}`);
}

/**
 * `2019-11-24 00:03:13.442536+00:00` (also with `T`, `Z`, another offset, no fraction or no
 * zone = UTC) → epoch ms (fraction truncated to ms); NaN when malformed.
 */
export function parseObdTimestamp(s: string, start: number, end: number): number {
  if (end - start < 19) return NaN;
  const sep = s.charCodeAt(start + 10);
  if (s.charCodeAt(start + 4) !== 45 || s.charCodeAt(start + 7) !== 45 || (sep !== 32 && sep !== 84)) return NaN;
  if (s.charCodeAt(start + 13) !== 58 || s.charCodeAt(start + 16) !== 58) return NaN;
  const y = parseUint(s, start, start + 4);
  const mo = parseUint(s, start + 5, start + 7);
  const d = parseUint(s, start + 8, start + 10);
  const h = parseUint(s, start + 11, start + 13);
  const mi = parseUint(s, start + 14, start + 16);
  const se = parseUint(s, start + 17, start + 19);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59) return NaN;
  let i = start + 19;
  let ms = 0;
  if (i < end && s.charCodeAt(i) === 46) {
    i++;
    let digits = 0;
    let scale = 100;
    for (; i < end; i++) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      if (digits < 3) ms += c * scale;
      scale /= 10;
      digits++;
    }
    if (digits === 0) return NaN;
  }
  let offsetMin = 0;
  if (i < end) {
    const c = s.charCodeAt(i);
    if (c === 90 && i + 1 === end) {
      // Z
    } else if ((c === 43 || c === 45) && end - i === 6 && s.charCodeAt(i + 3) === 58) {
      const oh = parseUint(s, i + 1, i + 3);
      const om = parseUint(s, i + 4, i + 6);
      if (oh < 0 || oh > 23 || om < 0 || om > 59) return NaN;
      offsetMin = (c === 45 ? -1 : 1) * (oh * 60 + om);
    } else {
      return NaN;
    }
  }
  const base = Date.UTC(y, mo - 1, d, h, mi, se);
  // Rejects 2019-02-30 and the like (Date.UTC would roll it over).
  if (new Date(base).getUTCDate() !== d) return NaN;
  return base + ms - offsetMin * 60_000;
}

async function* readItems(p: Paths, progress: ProgressTracker): AsyncGenerator<LogRecord> {
  const file = p.items;
  let columns: Map<string, number> | undefined;
  let names: string[] = [];
  let idColumn = -1;
  for await (const { lines, firstLine } of readLineBatches(file, { onBytes: progress.reader(file) })) {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const lineNumber = firstLine + i;
      if (lineNumber === 1) {
        columns = columnsOf(line);
        names = line.split(',').map((n) => n.trim());
        idColumn = need(columns, ['item_id'], file);
        continue;
      }
      if (line.length === 0) continue;
      const fields = line.split(',');
      if (fields.length !== names.length) throw new ImportError(file, lineNumber, `expected ${names.length} comma-separated columns, got ${fields.length}`);
      const id = `${p.campaign}:${idAt(fields[idColumn], 0, fields[idColumn].length, file, lineNumber, 'item_id')}`;
      const attributes: Record<string, unknown> = {};
      const tags: string[] = [];
      for (let c = 0; c < names.length; c++) {
        const name = names[c];
        if (c === idColumn || name === '') continue;
        const raw = fields[c];
        const num = parseDecimal(raw, 0, raw.length);
        if (Number.isFinite(num)) {
          attributes[name] = num;
        } else if (raw.length > 0) {
          attributes[name] = raw;
          tags.push(`${name}:${raw}`);
        }
      }
      const item: Item = { id, attributes };
      if (tags.length > 0) item.tags = tags;
      yield { kind: 'item', item };
    }
  }
  progress.done(file);
}

export const obdImporter: Importer = {
  format: FORMAT,
  description:
    'Open Bandit Dataset (a <policy>/<campaign> folder with <campaign>.csv and item_context.csv): items with their features, ' +
    'one impression event per row (context: position 0-based, propensity = propensity_score, variant = policy folder name) ' +
    'and a click event where click = 1. Item ids are "<campaign>:<item_id>", user ids "ctx:<hash of the 4 user features>".',
  explicitRatings: false,
  async files(input: string): Promise<string[]> {
    const p = await locate(input);
    return [p.items, p.log];
  },
  async *read(input: string, options: ImportOptions): AsyncIterable<LogRecord> {
    requireEventTypes(options.types, ['impression', 'click'], FORMAT);
    const p = await locate(input);
    const progress = await ProgressTracker.forFiles([p.items, p.log], options.onProgress);
    yield* readItems(p, progress);

    const file = p.log;
    const prefix = `obd:${p.policy}:${p.campaign}:`;
    const itemPrefix = `${p.campaign}:`;
    const variant = p.policy;
    let width = 0;
    let cRow = -1;
    let cTime = 0;
    let cItem = 0;
    let cPos = 0;
    let cClick = 0;
    let cProp = 0;
    let cUser: number[] = [];
    let userContiguous = false;
    let b = new Int32Array(0);
    const users = new Map<string, string>();
    for await (const { lines, firstLine } of readLineBatches(file, { onBytes: progress.reader(file) })) {
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        const lineNumber = firstLine + i;
        if (lineNumber === 1) {
          const columns = columnsOf(line);
          width = line.split(',').length;
          cRow = columns.get('') ?? -1;
          cTime = need(columns, ['timestamp'], file);
          cItem = need(columns, ['item_id'], file);
          cPos = need(columns, ['position'], file);
          cClick = need(columns, ['click'], file);
          cProp = need(columns, ['propensity_score', 'action_prob'], file);
          cUser = USER_FEATURES.map((n) => need(columns, [n], file));
          userContiguous = cUser.every((c, k) => c === cUser[0] + k);
          b = new Int32Array(2 * width);
          continue;
        }
        if (line.length === 0) continue;
        const n = fieldBounds(line, COMMA, b);
        if (n !== width) throw new ImportError(file, lineNumber, `expected ${width} comma-separated columns (as in the header), got ${n}`);

        const row = cRow >= 0 ? idAt(line, b[2 * cRow], b[2 * cRow + 1], file, lineNumber, 'row index') : String(lineNumber - 2);
        const timestamp = parseObdTimestamp(line, b[2 * cTime], b[2 * cTime + 1]);
        if (!(timestamp >= 0 && timestamp <= MAX_TIMESTAMP)) {
          throw new ImportError(file, lineNumber, `must be a date-time like 2019-11-24 00:03:13.442536+00:00, got "${clip(line.slice(b[2 * cTime], b[2 * cTime + 1]))}"`, 'timestamp');
        }
        const itemId = itemPrefix + idAt(line, b[2 * cItem], b[2 * cItem + 1], file, lineNumber, 'item_id');
        const position = parseUint(line, b[2 * cPos], b[2 * cPos + 1]);
        if (position < 1) throw new ImportError(file, lineNumber, `must be a position 1, 2, 3…, got "${clip(line.slice(b[2 * cPos], b[2 * cPos + 1]))}"`, 'position');
        const click = parseUint(line, b[2 * cClick], b[2 * cClick + 1]);
        if (click !== 0 && click !== 1) throw new ImportError(file, lineNumber, `must be 0 or 1, got "${clip(line.slice(b[2 * cClick], b[2 * cClick + 1]))}"`, 'click');
        const propensity = parseDecimal(line, b[2 * cProp], b[2 * cProp + 1]);
        if (!(propensity > 0 && propensity <= 1)) {
          throw new ImportError(file, lineNumber, `must be a probability in (0, 1], got "${clip(line.slice(b[2 * cProp], b[2 * cProp + 1]))}"`, 'propensity_score');
        }

        const key = userContiguous
          ? line.slice(b[2 * cUser[0]], b[2 * cUser[3] + 1])
          : cUser.map((c) => line.slice(b[2 * c], b[2 * c + 1])).join(',');
        let userId = users.get(key);
        if (userId === undefined) {
          userId = `ctx:${createHash('sha1').update(key).digest('hex').slice(0, 16)}`;
          if (users.size >= 1_000_000) users.clear();
          users.set(key, userId);
        }

        const context: EventContext = { position: position - 1, propensity, variant };
        const id = prefix + row;
        yield { kind: 'event', event: { id, userId, itemId, type: 'impression', timestamp, context } };
        if (click === 1) {
          yield { kind: 'event', event: { id: `${id}:click`, userId, itemId, type: 'click', timestamp, context: { ...context } } };
        }
      }
    }
    progress.done(file);
  },
};
