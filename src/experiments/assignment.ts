/**
 * Experiment assignment: which variant of the pipeline a user is served.
 *
 * A user's bucket is a stable hash of `salt:userId` mapped to [0, 1): the first 6 bytes of its
 * SHA-256 as an integer / 2⁴⁸. It depends on nothing but the salt and the id — not on the
 * process, the time, the order users arrive in or Math.random — so a user stays in the same
 * group across requests, restarts and machines, and changing the salt reshuffles everyone.
 *
 * The hash range is cut in declared order: the holdout takes [0, holdout.share), then each
 * variant its share, and the rest of the range is `default`.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../domain/config.js';

export type ExperimentsConfig = Config['experiments'];

export interface Assignment {
  /** `default`, a variant's name, or `holdout`. */
  variant: string;
  holdout: boolean;
  /** The user's position in [0, 1) of the hash range. */
  bucket: number;
}

export const DEFAULT_VARIANT = 'default';
export const HOLDOUT_VARIANT = 'holdout';

const TWO_48 = 2 ** 48;

/** The user's stable position in [0, 1) for this salt. */
export function bucketOf(userId: string, salt: string): number {
  const digest = createHash('sha256').update(`${salt}:${userId}`).digest();
  return digest.readUIntBE(0, 6) / TWO_48;
}

export function assignVariant(userId: string, experiments: ExperimentsConfig): Assignment {
  const bucket = bucketOf(userId, experiments.salt);
  let upper = experiments.holdout.share;
  if (bucket < upper) return { variant: HOLDOUT_VARIANT, holdout: true, bucket };
  for (const v of experiments.variants) {
    upper += v.share;
    if (bucket < upper) return { variant: v.name, holdout: false, bucket };
  }
  return { variant: DEFAULT_VARIANT, holdout: false, bucket };
}

/** Every group a user can be in: `default`, the variants in declared order, `holdout` when it has a share. */
export function variantNames(experiments: ExperimentsConfig): string[] {
  return [DEFAULT_VARIANT, ...experiments.variants.map((v) => v.name), ...(experiments.holdout.share > 0 ? [HOLDOUT_VARIANT] : [])];
}
