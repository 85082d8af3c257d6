/**
 * `lenta-jsonl`: Lenta's own format, one JSON record per line (UTF-8, LF or CRLF, blank lines
 * ignored): `{"kind":"user"|"item"|"follow"|"mute"|"block"|"event", …}` as accepted by
 * validateRecord (domain/validate.ts). Edges name their edge kind as the record kind:
 * `{"kind":"follow","userId":"a","targetId":"b","timestamp":…,"removed"?:true}`.
 * Records come out in file order. Input: the file path.
 */
import type { LogRecord } from '../../domain/types.js';
import { ValidationError, validateRecord } from '../../domain/validate.js';
import { ImportError, type ImportOptions, type Importer } from '../importer.js';
import { ProgressTracker, isFile, readLineBatches } from '../lines.js';

const FORMAT = 'lenta-jsonl';

async function locate(input: string): Promise<string> {
  if (!(await isFile(input))) throw new Error(`${FORMAT}: expected a .jsonl file, got ${input} (not found or not a file)`);
  return input;
}

function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}

export const lentaJsonlImporter: Importer = {
  format: FORMAT,
  description:
    'Lenta JSON lines: one record per line, {"kind":"user"|"item"|"follow"|"mute"|"block"|"event", …fields}, ' +
    'validated like the API (times in epoch ms or ISO 8601). Input: the file path. Records in file order; blank lines ignored.',
  explicitRatings: false,
  async files(input: string): Promise<string[]> {
    return [await locate(input)];
  },
  async *read(input: string, options: ImportOptions): AsyncIterable<LogRecord> {
    const file = await locate(input);
    const progress = await ProgressTracker.forFiles([file], options.onProgress);
    const types = options.types;
    for await (const { lines, firstLine } of readLineBatches(file, { encoding: 'utf8', onBytes: progress.reader(file) })) {
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        if (line.length === 0 || (line.charCodeAt(0) <= 32 && isBlank(line))) continue;
        const lineNumber = firstLine + i;
        let obj: unknown;
        try {
          obj = JSON.parse(line);
        } catch (err) {
          throw new ImportError(file, lineNumber, `invalid JSON: ${(err as Error).message}`);
        }
        let record: LogRecord;
        try {
          record = validateRecord(obj, `line ${lineNumber}`, types);
        } catch (err) {
          if (err instanceof ValidationError) throw new ImportError(file, lineNumber, err.reason, err.field);
          throw err;
        }
        yield record;
      }
    }
    progress.done(file);
  },
};
