/**
 * The importers by `--format`. Each streams its files and yields LogRecords; see each file for
 * the exact mapping of its data set.
 */
import type { Importer } from '../importer.js';
import { ciaoImporter } from './ciao.js';
import { filmtrustImporter } from './filmtrust.js';
import { lastfm2kImporter } from './lastfm-2k.js';
import { lentaJsonlImporter } from './lenta-jsonl.js';
import { movielens100kImporter } from './movielens-100k.js';
import { movielensImporter } from './movielens.js';
import { obdImporter } from './obd.js';
import { yelpHinImporter } from './yelp-hin.js';

export const IMPORTERS: readonly Importer[] = [
  lentaJsonlImporter,
  movielensImporter,
  movielens100kImporter,
  lastfm2kImporter,
  yelpHinImporter,
  filmtrustImporter,
  ciaoImporter,
  obdImporter,
];

/** The importer of a `--format` value; throws an Error listing the known formats when unknown. */
export function getImporter(format: string): Importer {
  const importer = IMPORTERS.find((i) => i.format === format);
  if (!importer) {
    throw new Error(`unknown import format "${format}" (known formats: ${IMPORTERS.map((i) => i.format).join(', ')})`);
  }
  return importer;
}
