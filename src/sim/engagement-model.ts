/**
 * The ground-truth engagement model of the synthetic platform: how likely a user is to
 * click, like, reply, hide, report… a post that was shown to her.
 *
 * For every engagement type (all default event types except `impression`):
 *
 *   p(type | user, post, position) = sigmoid( bias
 *                                             + affinity  · a(user topics, post topics)
 *                                             + style     · <user taste, author style>
 *                                             + quality   · log-quality(post)
 *                                             + follows   · [user follows author]
 *                                             + position  · ln(1 + position)
 *                                             + spam      · [author is a spammer]
 *                                             + user      · (user's own positive or negative bias) )
 *
 * `a` is in [0, 1]: the user's relative interest in the post's topic (1 = her favourite
 * topic, 0 = a topic she does not care about), mixed 70/30 over the post's two topics.
 * The taste term is hidden: no tag reveals it, so only collaborative signals can learn it.
 * Negative types (not_interested, hide, report) have negative affinity and quality
 * coefficients: they happen to off-topic and bad posts. `play` happens only on videos,
 * `follow_author` never when the user already follows the author.
 *
 * Draws within one impression are coupled: with probability `coupling` a type uses a shared
 * uniform number (positive types `u`, negative types `1 - u`) instead of its own, so that a
 * like usually comes with a click and rarely with a hide — while every type keeps exactly
 * its marginal probability above.
 */
import type { Rng } from './random.js';

export const STYLE_DIMS = 4;

export interface TypeCoefficients {
  bias: number;
  affinity: number;
  style: number;
  quality: number;
  follows: number;
  position: number;
  spam: number;
  /** Multiplies the user's own bias (positive types: posBias, negative types: negBias). */
  user: number;
  negative: boolean;
  /** Only possible on video posts. */
  videoOnly?: boolean;
  /** Impossible when the user already follows the author. */
  notWhenFollowing?: boolean;
}

export interface EngagementModel {
  /** Engagement types in the order of `coefficients` (every default type but `impression`). */
  types: string[];
  coefficients: TypeCoefficients[];
  /** Weight of a post's second topic in the affinity (the first topic has 1 - this). */
  secondaryTopicWeight: number;
  /** Probability that a type's draw uses the impression's shared uniform. */
  coupling: number;
}

const T = (
  bias: number,
  affinity: number,
  style: number,
  quality: number,
  follows: number,
  position: number,
  spam: number,
  user: number,
  extra: Partial<TypeCoefficients> = {},
): TypeCoefficients => ({ bias, affinity, style, quality, follows, position, spam, user, negative: false, ...extra });

/** The default model; the comments give each type's share of impressions in the demo preset (logging policy traffic). */
export function defaultEngagementModel(): EngagementModel {
  const rows: [string, TypeCoefficients][] = [
    //                      bias  aff  style qual  fol   pos   spam  user
    ['click', /* 3.8% */ T(-4.5, 2.6, 0.6, 0.5, 0.4, -0.2, 0, 1)],
    ['dwell', /* 6.4% */ T(-3.7, 2.4, 0.5, 0.6, 0.3, -0.2, -0.5, 1)],
    ['like', /* 3.9% */ T(-4.8, 2.8, 0.7, 0.7, 0.6, -0.2, -1, 1)],
    ['reply', /* 0.46% */ T(-7.0, 2.4, 0.5, 0.4, 1.0, -0.2, -0.5, 1)],
    ['repost', /* 0.49% */ T(-6.8, 2.5, 0.6, 0.8, 0.5, -0.2, -1, 1)],
    ['share', /* 0.23% */ T(-7.2, 2.2, 0.5, 0.8, 0.3, -0.2, -1, 1)],
    ['bookmark', /* 0.43% */ T(-6.6, 2.2, 0.4, 0.9, 0.3, -0.2, -1, 1)],
    ['profile_click', /* 0.54% */ T(-5.6, 2.0, 0.5, 0.4, -0.8, -0.2, 0, 1)],
    ['follow_author', /* 0.13% */ T(-6.9, 2.8, 0.8, 0.5, 0, -0.2, -1, 1, { notWhenFollowing: true })],
    ['not_interested', /* 0.52% */ T(-4.7, -2.6, -0.5, -0.4, -0.8, -0.15, 1.0, 1, { negative: true })],
    ['hide', /* 0.16% */ T(-5.9, -2.4, -0.4, -0.5, -0.8, -0.15, 1.5, 1, { negative: true })],
    ['report', /* 0.03% */ T(-8.2, -1.5, -0.3, -0.8, -1.0, -0.1, 3.5, 1, { negative: true })],
    ['rating', /* 0.50% */ T(-6.0, 2.0, 0.4, 0.5, 0, -0.2, 0, 1)],
    ['play', /* 3.4% (23% of videos) */ T(-1.9, 2.4, 0.6, 0.6, 0.3, -0.2, -0.5, 1, { videoOnly: true })],
  ];
  return {
    types: rows.map((r) => r[0]),
    coefficients: rows.map((r) => r[1]),
    secondaryTopicWeight: 0.3,
    coupling: 0.5,
  };
}

/** What the model needs to know about one (user, post) pair. */
export interface PairFeatures {
  /** Topic affinity in [0, 1]. */
  affinity: number;
  /** Taste match in [-1, 1]. */
  style: number;
  logQuality: number;
  follows: boolean;
  position: number;
  spam: boolean;
  video: boolean;
  posBias: number;
  negBias: number;
}

/** Writes p(type) for every type of the model into `out` (same order as `model.types`). */
export function probabilitiesInto(model: EngagementModel, f: PairFeatures, out: Float64Array): void {
  const cs = model.coefficients;
  const lp = Math.log1p(f.position);
  const fol = f.follows ? 1 : 0;
  const spam = f.spam ? 1 : 0;
  for (let k = 0; k < cs.length; k++) {
    const c = cs[k];
    if ((c.videoOnly && !f.video) || (c.notWhenFollowing && f.follows)) {
      out[k] = 0;
      continue;
    }
    const z =
      c.bias +
      c.affinity * f.affinity +
      c.style * f.style +
      c.quality * f.logQuality +
      c.follows * fol +
      c.position * lp +
      c.spam * spam +
      c.user * (c.negative ? f.negBias : f.posBias);
    out[k] = 1 / (1 + Math.exp(-z));
  }
}

/**
 * Draws which types happen for one impression of a pair with features `f`; sets `hits[k]`
 * and returns how many happened. Marginals are exactly the probabilities of
 * `probabilitiesInto` (see the coupling note at the top of this file).
 *
 * Each type uses one uniform v: below `coupling` it defers to the impression's shared
 * uniform (1 - shared for negative types), otherwise (v - coupling) / (1 - coupling) is its
 * own uniform. The logistic is only evaluated when the uniform x is below a cheap upper
 * bound of p (for z <= 0, e^-z >= 1 - z + z²/2, so p <= 1 / (2 - z + z²/2)), which skips
 * `Math.exp` for most (impression, type) pairs without changing any outcome.
 */
export function drawEngagements(model: EngagementModel, f: PairFeatures, rng: Rng, hits: Uint8Array): number {
  const cs = model.coefficients;
  const rho = model.coupling;
  const shared = rng.next();
  const lp = Math.log1p(f.position);
  const fol = f.follows ? 1 : 0;
  const spam = f.spam ? 1 : 0;
  let count = 0;
  for (let k = 0; k < cs.length; k++) {
    const c = cs[k];
    const v = rng.next();
    if ((c.videoOnly && !f.video) || (c.notWhenFollowing && f.follows)) {
      hits[k] = 0;
      continue;
    }
    const x = v < rho ? (c.negative ? 1 - shared : shared) : (v - rho) / (1 - rho);
    const z =
      c.bias +
      c.affinity * f.affinity +
      c.style * f.style +
      c.quality * f.logQuality +
      c.follows * fol +
      c.position * lp +
      c.spam * spam +
      c.user * (c.negative ? f.negBias : f.posBias);
    if (z <= 0 && x * (2 - z + 0.5 * z * z) >= 1) {
      hits[k] = 0;
      continue;
    }
    const hit = x < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    hits[k] = hit;
    count += hit;
  }
  return count;
}

/** Milliseconds spent on a post (dwell events are logged for views longer than ~2 s). */
export function drawDwellMs(rng: Rng, f: PairFeatures, clicked: boolean): number {
  const median = 5000 * Math.exp(0.8 * f.affinity + 0.3 * f.logQuality) * (clicked ? 3 : 1);
  return Math.min(600_000, Math.round(2000 + median * Math.exp(0.8 * rng.normal())));
}

/** Stars 1..5, higher for on-topic and good posts. */
export function drawStars(rng: Rng, f: PairFeatures): number {
  const score = 2.2 + 2.2 * f.affinity + 0.6 * f.logQuality + 0.5 * f.style + 0.7 * rng.normal();
  return Math.max(1, Math.min(5, Math.round(score)));
}

/** Seconds of a video watched. */
export function drawPlaySeconds(rng: Rng, f: PairFeatures): number {
  const median = 12 * Math.exp(f.affinity + 0.3 * f.logQuality);
  return Math.max(1, Math.min(3600, Math.round(median * Math.exp(0.9 * rng.normal()))));
}
