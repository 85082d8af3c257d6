import { statSync } from 'node:fs';
import { loadConfig } from '../../domain/config.js';
import { EventTypeRegistry } from '../../domain/event-types.js';
import { IMPORTERS, getImporter } from '../../ingest/importers/index.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { parseFlags, requireFlag, UsageError, type CliCommand } from '../command.js';
import { progressBar } from '../progress.js';

export const importCommand: CliCommand = {
  name: 'import',
  summary: 'import a data set (lenta-jsonl, movielens, lastfm-2k, …) into the store',
  usage: `
lenta import --format FORMAT --input PATH [--db FILE] [--config FILE]

Streams the data set into the event log in one transaction: on a bad row the error names
file:line and nothing is imported. --db defaults to $LENTA_DB or ./data/lenta.db.

Formats:
${IMPORTERS.map((i) => `  ${i.format.padEnd(16)} ${i.description}`).join('\n')}`,
  async run(argv) {
    const { values } = parseFlags(argv, {
      format: { type: 'string', short: 'f' },
      input: { type: 'string', short: 'i' },
      db: { type: 'string' },
      config: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
    });
    const format = requireFlag(values.format as string | undefined, 'format');
    const input = requireFlag(values.input as string | undefined, 'input');
    let importer;
    try {
      importer = getImporter(format);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    try {
      statSync(input);
    } catch {
      throw new UsageError(`--input ${input}: no such file or folder`);
    }
    const overrides = values.db ? { store: { db: values.db as string } } : {};
    const config = loadConfig({ file: values.config as string | undefined, overrides });
    const types = new EventTypeRegistry(config.eventTypes);
    const store = SqliteStore.open({ path: config.store.db, types, synchronous: config.store.synchronous });
    const files = await importer.files(input);
    const bar = progressBar(`import ${format}`, { unit: 'bytes', silent: Boolean(values.quiet) });
    const started = performance.now();
    let records = 0;
    try {
      const result = await store.importRecords(
        importer.read(input, { types, onProgress: (p) => bar.update(p.bytesRead, `${records.toLocaleString('en-US')} records`) }),
        (n) => (records = n),
      );
      bar.finish(`${records.toLocaleString('en-US')} records`);
      const seconds = (performance.now() - started) / 1000;
      const summary = {
        db: config.store.db,
        format,
        files,
        ...result,
        seconds: Math.round(seconds * 100) / 100,
        eventsPerSecond: Math.round(result.events / seconds),
      };
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      return 0;
    } catch (err) {
      bar.finish('failed: nothing was imported');
      throw err;
    } finally {
      await store.close();
    }
  },
};
