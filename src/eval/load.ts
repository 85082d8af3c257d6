/**
 * Loads a data set for evaluation through its importer (`--format`), streaming.
 */
import { basename, dirname, resolve } from 'node:path';
import { statSync } from 'node:fs';
import type { EventTypeRegistry } from '../domain/event-types.js';
import type { ImportProgress } from '../ingest/importer.js';
import { getImporter } from '../ingest/importers/index.js';
import { buildDataset, type EvalDataset } from './dataset.js';

export interface LoadOptions {
  types: EventTypeRegistry;
  onProgress?: (p: ImportProgress) => void;
}

/** A short name for a data path: the folder name, or `folder/file` for a file. */
export function datasetName(path: string): string {
  const abs = resolve(path);
  try {
    if (statSync(abs).isFile()) return `${basename(dirname(abs))}/${basename(abs)}`;
  } catch {
    // fall through
  }
  return basename(abs);
}

export async function loadEvalDataset(path: string, format: string, options: LoadOptions): Promise<EvalDataset> {
  const importer = getImporter(format);
  return buildDataset(importer.read(path, { types: options.types, onProgress: options.onProgress }), {
    name: datasetName(path),
    explicitRatings: importer.explicitRatings,
    types: options.types,
  });
}
