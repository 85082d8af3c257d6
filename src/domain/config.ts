/**
 * The engine's configuration: one validated object with defaults. `lenta config` prints it.
 * Sources, in order: defaults ← a JSON file (`--config FILE` or $LENTA_CONFIG) ← environment
 * ($PORT, $LENTA_DB) ← command-line flags.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_EVENT_TYPES } from './event-types.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const eventTypeSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'lowercase letters, digits and _'),
  polarity: z.enum(['positive', 'negative', 'neutral']),
  weight: z.number(),
  valued: z.boolean().optional(),
  positiveFrom: z.number().optional(),
  description: z.string().optional(),
}).superRefine((t, ctx) => {
  // A threshold on a value the events do not carry would label every event negative.
  if (t.positiveFrom !== undefined && !(t.valued === true && t.polarity === 'positive')) {
    ctx.addIssue({ code: 'custom', path: ['positiveFrom'], message: 'only for a positive type with valued: true (a threshold on the event value)' });
  }
});

/** Variant names the engine defines itself (pipeline/variants.ts). */
const RESERVED_VARIANTS = ['default', 'holdout', 'light-ranker', 'relevance-only'];

/** Top-level keys a variant's config overlay may set (merged over the base config by the engine). */
export const EXPERIMENT_OVERLAY_KEYS = ['feed', 'rank', 'mix'] as const;

/**
 * Experiments (experiments/assignment.ts): users are assigned by a stable hash of
 * `salt:userId` to the holdout (the first `holdout.share` of the hash range), then to each
 * variant in declared order (its `share`), the rest to `default`. A variant's `config` is an
 * overlay of `feed`, `rank` and `mix` settings over the base config.
 */
const experimentsSchema = z
  .object({
    /** Changing the salt reshuffles every user. */
    salt: z.string().default('lenta'),
    variants: z
      .array(
        z
          .object({
            name: z
              .string()
              .regex(/^[a-z0-9_-]{1,40}$/i, '1 to 40 letters, digits, _ or -')
              .refine((n) => !RESERVED_VARIANTS.includes(n.toLowerCase()), `the names ${'"default", "holdout", "light-ranker" and "relevance-only"'} are reserved`),
            share: z.number().gt(0).max(1),
            config: z.record(z.string(), z.unknown()).default({}),
          })
          .strict(),
      )
      .default([]),
    holdout: z
      .object({
        share: z.number().min(0).lt(1).default(0),
        /** What the holdout is served instead of For You. */
        feed: z.enum(['chronological', 'popular']).default('chronological'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((e, ctx) => {
    const seen = new Map<string, number>();
    e.variants.forEach((v, i) => {
      const first = seen.get(v.name);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['variants', i, 'name'], message: `duplicate variant name "${v.name}" (also variants.${first}.name)` });
      else seen.set(v.name, i);
      for (const [key, value] of Object.entries(v.config)) {
        if (!(EXPERIMENT_OVERLAY_KEYS as readonly string[]).includes(key)) {
          ctx.addIssue({ code: 'custom', path: ['variants', i, 'config', key], message: `a variant may only override ${EXPERIMENT_OVERLAY_KEYS.join(', ')}` });
        } else if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          ctx.addIssue({ code: 'custom', path: ['variants', i, 'config', key], message: 'must be an object (an overlay of that config section)' });
        }
      }
    });
    const total = e.holdout.share + e.variants.reduce((s, v) => s + v.share, 0);
    if (total > 1 + 1e-9) {
      ctx.addIssue({ code: 'custom', path: ['variants'], message: `the shares of the variants and the holdout sum to ${Math.round(total * 1e6) / 1e6}, more than 1` });
    }
  })
  .prefault({});

export const configSchema = z
  .object({
    server: z
      .object({
        port: z.number().int().min(0).max(65535).default(8080),
        host: z.string().default('127.0.0.1'),
        /** Largest accepted request body in bytes. */
        bodyLimit: z.number().int().positive().default(16 * 1024 * 1024),
        /** Largest number of records in one write batch. */
        maxBatch: z.number().int().positive().default(10_000),
        /**
         * Serving processes (`lenta serve`): 1 serves from this process; more start a writer
         * process and this many serving replicas on the shared port (server/cluster.ts); `auto`:
         * one per core.
         */
        workers: z.union([z.number().int().min(1).max(64), z.literal('auto')]).default(1),
      })
      .prefault({}),
    store: z
      .object({
        /** The embedded database file. */
        db: z.string().default('./data/lenta.db'),
        /** SQLite `synchronous`: FULL survives power loss, NORMAL survives a process crash. */
        synchronous: z.enum(['FULL', 'NORMAL']).default('FULL'),
        /** Longest a write waits for others to share its commit (group commit), in ms. */
        groupCommitMs: z.number().min(0).max(1000).default(2),
      })
      .prefault({}),
    eventTypes: z.array(eventTypeSchema).min(1).default(() => DEFAULT_EVENT_TYPES.map((t) => ({ ...t }))),
    state: z
      .object({
        /** Counter windows in ms: decayed counts with these time constants. */
        windows: z
          .array(z.number().positive())
          .min(1)
          .max(8)
          .default([30 * MINUTE, DAY, 3 * DAY, 50 * DAY]),
        /** Recent engagements kept per user (history). */
        historyLength: z.number().int().positive().default(200),
        /** Recent engagers kept per item (user–item engagement graph). */
        engagersPerItem: z.number().int().positive().default(64),
        /** Served or impressed items remembered per user (never shown again). */
        seenPerUser: z.number().int().positive().default(2000),
        /** Recent posts kept per author for in-network retrieval. */
        postsPerAuthor: z.number().int().positive().default(64),
      })
      .prefault({}),
    feed: z
      .object({
        pageSize: z.number().int().min(1).max(200).default(20),
        /** Posts older than this are not candidates, in ms (0 = no limit: a catalogue, no recency decay). */
        maxPostAge: z.number().min(0).default(7 * DAY),
        /** Target share of in-network posts in a page. */
        inNetworkShare: z.number().min(0).max(1).default(0.5),
        /** Candidates taken from each source before scoring. */
        inNetworkBudget: z.number().int().min(0).default(750),
        popularBudget: z.number().int().min(0).default(750),
        freshBudget: z.number().int().min(0).default(200),
        /** Budget per source by name, over the defaults above and in candidates/index.ts (0 switches a source off). */
        sourceBudgets: z.record(z.string(), z.number().int().min(0)).default({}),
        /** A candidate source that has not answered this long after the stage started is skipped (ms). */
        sourceTimeoutMs: z.number().positive().default(100),
        /**
         * Overload protection of the server: while this process's event loop has been busy more
         * than \`utilization\` of the last \`windowMs\`, For You requests are ordered by the light ranker
         * alone (the heavy ranker, most of a request's CPU, is skipped) and their answers say
         * \`degraded\` and why. Requests then cost less, the loop catches up, and the full pipeline
         * comes back: under a burst the feed stays fast instead of queueing. Off: every request
         * waits its turn. (Node answers one request at a time: a queue builds up unseen in the
         * sockets, so the loop's busy share is the signal, not the requests in flight.)
         * The For You requests also wait in an admission queue (server/admission.ts), started in
         * arrival order, two per turn of the event loop and at most \`concurrency\` at a time. One
         * that waited there longer than \`lightAfterMs\` is ordered by the light ranker alone too
         * (0: only the busy share decides); one that waited
         * longer than \`shedAfterMs\` is answered \`503\` with \`Retry-After\` (0: never shed), so
         * beyond what even the light ranker can serve the queue stays short. Off: no queue, no shedding.
         *
         * A step before the light ranker: while the loop has been busier than
         * \`reducedUtilization\` (but not \`utilization\`), or when a request waited longer than
         * \`reducedAfterMs\` (but not \`lightAfterMs\`), the heavy ranker scores only the light
         * ranker's best \`reducedBudget\` candidates instead of \`rank.maxCandidates\` (at 100k
         * users 300 of 1,000 cost ~0.7× the request and kept 72% of its top 20; README, Serving).
         * The answer says \`degraded\` and why. \`reducedBudget\` 0: no such step.
         */
        overload: z
          .object({
            enabled: z.boolean().default(true),
            utilization: z.number().gt(0).max(1).default(0.9),
            windowMs: z.number().int().min(10).default(1000),
            shedAfterMs: z.number().int().min(0).default(1000),
            concurrency: z.number().int().min(1).default(8),
            lightAfterMs: z.number().int().min(0).default(50),
            reducedBudget: z.number().int().min(0).default(300),
            reducedUtilization: z.number().gt(0).max(1).default(0.75),
            reducedAfterMs: z.number().int().min(0).default(20),
          })
          .strict()
          .prefault({}),
        /** Weight of each candidate source in reciprocal-rank fusion (default 1 each). */
        sourceWeights: z.record(z.string(), z.number().min(0)).default({}),
        /** k₀ of reciprocal-rank fusion: 1 / (k₀ + rank). */
        fusionK: z.number().min(0).default(60),
        /**
         * The learned source fusion (rank/source-fusion.ts), trained with the sources: `learn`
         * switches it on; `users` users are sampled, each with the latest `holdoutShare` of their
         * engaged items hidden from a shadow training of the sources; skipped (reciprocal-rank
         * fusion is used) when the log has more than `maxLogRows` rows, since the shadow doubles
         * the training's time and memory.
         */
        fusion: z
          .object({
            learn: z.boolean().default(true),
            users: z.number().int().min(10).default(600),
            holdoutShare: z.number().gt(0).lt(1).default(0.2),
            /**
             * What is held out: `cutoff` = everything in the log's last `holdoutWindow` (the state
             * and models as they were then; labels = what users did next: serving), or per user
             * the `latest` share of their engaged items, a `random` share, or only the `last` one
             * (the evaluation protocols' splits of a static catalogue).
             */
            holdout: z.enum(['cutoff', 'latest', 'random', 'last']).default('cutoff'),
            /** `cutoff`: the last this-many ms of the log are the future that labels the examples (1 day). */
            holdoutWindow: z.number().positive().default(DAY),
            maxLogRows: z.number().int().min(0).default(3_000_000),
            seed: z.number().int().default(42),
            /**
             * Sources the learned fusion weighs 0 are not fetched when serving (their candidates
             * cannot move the light ranker's order), unless the others leave fewer than
             * `rank.maxCandidates` after the filters; the heavy ranker's training rows are built
             * the same way.
             */
            skipUnweighted: z.boolean().default(true),
          })
          .prefault({}),
        /** Followed authors considered, best affinity first. */
        maxAuthors: z.number().int().min(1).default(200),
        /**
         * Window of the popular source's engagement counts, in ms: the state window closest to
         * it is used (default one day; an evaluation on a static catalogue uses all time).
         */
        popularWindow: z.number().positive().default(DAY),
        /** Half-life of recency in the first ranker, in ms. */
        recencyHalfLife: z.number().positive().default(DAY),
        /**
         * The feed's clock: `log` = the time of the newest event in the log, never later than the
         * wall clock (right for live traffic, replays and demos alike); `now` = the wall clock.
         */
        clock: z.enum(['now', 'log']).default('log'),
      })
      .prefault({}),
    /**
     * The last stage (src/mix/): filters, rescoring heuristics and the page builder. Every rule
     * has an `enabled` switch; a variant of an experiment may change any of them.
     */
    mix: z
      .object({
        /** Items the user gave negative feedback on (these event types) are never served again. */
        hiddenPosts: z.object({ enabled: z.boolean().default(true), types: z.array(z.string()).default(['hide', 'not_interested', 'report']) }).prefault({}),
        /**
         * Feedback fatigue: an author the user said `types` about is filtered for `filterMs`
         * (14 d), then multiplied by a factor rising linearly from 0 back to 1 over `recoverMs` (140 d).
         */
        feedbackFatigue: z
          .object({
            enabled: z.boolean().default(true),
            types: z.array(z.string()).default(['not_interested', 'hide', 'report']),
            filterMs: z.number().min(0).default(14 * DAY),
            recoverMs: z.number().min(0).default(140 * DAY),
          })
          .prefault({}),
        /** Posts older than `maxAgeMs` are removed (unset: `feed.maxPostAge`; 0: no limit). */
        maxAge: z.object({ enabled: z.boolean().default(true), maxAgeMs: z.number().min(0).optional() }).prefault({}),
        /** Items whose attribute named here is `true` are removed. */
        unsafe: z.object({ enabled: z.boolean().default(true), attributes: z.array(z.string()).default(['unsafe', 'nsfw']) }).prefault({}),
        /** Out-of-network posts need at least `minFollows` of the user's follows among their recent engagers. */
        socialProof: z.object({ enabled: z.boolean().default(false), minFollows: z.number().int().min(1).default(1) }).prefault({}),
        /** Out-of-network posts' scores are multiplied by `factor`. */
        outOfNetwork: z.object({ enabled: z.boolean().default(true), factor: z.number().min(0).default(0.75) }).prefault({}),
        /** Multiplicative boosts (factor > 1 lifts, < 1 lowers) by tag, by author (external id), by item attribute that is `true` (e.g. `verified`). */
        boosts: z
          .object({
            enabled: z.boolean().default(true),
            tags: z.record(z.string(), z.number().min(0)).default({}),
            authors: z.record(z.string(), z.number().min(0)).default({}),
            attributes: z.record(z.string(), z.number().min(0)).default({}),
          })
          .prefault({}),
        /** Posts by authors shown fewer than `maxImpressions` times (decayed, longest window) are multiplied by `factor`. */
        newAuthors: z
          .object({ enabled: z.boolean().default(false), maxImpressions: z.number().min(0).default(100), factor: z.number().min(0).default(1.25) })
          .prefault({}),
        /** The k-th earlier post of the same author on the page multiplies a post's score by (1 − floor)·decayᵏ + floor. */
        authorDiversity: z.object({ enabled: z.boolean().default(true), decay: z.number().min(0).max(1).default(0.5), floor: z.number().min(0).max(1).default(0.25) }).prefault({}),
        /**
         * Every prefix of the page keeps its in-network count within `tolerance` posts of
         * `feed.inNetworkShare` × its length, and at most `maxOutOfNetworkRun` out-of-network posts
         * come in a row (0: no limit).
         */
        balance: z
          .object({ enabled: z.boolean().default(true), tolerance: z.number().min(0.5).default(1), maxOutOfNetworkRun: z.number().int().min(0).default(3) })
          .prefault({}),
        /**
         * Marginal relevance: each slot takes the candidate maximising
         * λ·relevance − (1 − λ)·(its mean similarity to the posts above it), similarity by
         * item embeddings where the embedding source has them, else by tags (Jaccard).
         */
        contentDiversity: z.object({ enabled: z.boolean().default(true), lambda: z.number().min(0).max(1).default(0.85) }).prefault({}),
        /**
         * Exploration: each slot is, with probability `share`, sampled from the `topM` best
         * remaining candidates — `boltzmann` (softmax of relevance / `temperature`) or `uniform`;
         * every served item's propensity is logged with its impression.
         */
        exploration: z
          .object({
            enabled: z.boolean().default(true),
            share: z.number().min(0).max(1).default(0.05),
            method: z.enum(['boltzmann', 'uniform']).default('boltzmann'),
            topM: z.number().int().min(1).default(50),
            temperature: z.number().positive().default(0.1),
          })
          .prefault({}),
      })
      .prefault({}),
    experiments: experimentsSchema,
    /**
     * The heavy ranker (rank/heavy-ranker.ts): gradient-boosted trees with one head per
     * engagement type, trained on the held-out examples of the fusion's shadow (same users,
     * same holdout) and combined by the score formula. Off, or with no model yet, the fusion
     * score orders the feed.
     */
    rank: z
      .object({
        learn: z.boolean().default(true),
        /**
         * Weight of each head's probability in the score: score = Σ weight(head) · p(head) + boosts.
         * Heads are `engaged` (any positive engagement) and each event type with enough labels;
         * a type without a weight here uses its weight in `eventTypes`; `engaged` defaults to 1.
         */
        weights: z.record(z.string(), z.number()).default({}),
        /** Additive score terms for items with these tags / by these authors (external ids). */
        boosts: z
          .object({
            tags: z.record(z.string(), z.number()).default({}),
            authors: z.record(z.string(), z.number()).default({}),
          })
          .prefault({}),
        /**
         * Business value terms on numeric item attributes: each adds weight · value(attribute),
         * times p(head) when a head is named (e.g. price × p(click): expected revenue of the
         * impression). Items without the attribute get no term.
         */
        valueTerms: z
          .array(
            z
              .object({
                attribute: z.string().min(1),
                weight: z.number().refine(Number.isFinite, 'must be a finite number'),
                head: z.string().min(1).optional(),
              })
              .strict(),
          )
          .default([]),
        /** The heavy ranker scores at most this many candidates: the light ranker's (fusion's) best. */
        maxCandidates: z.number().int().min(1).default(1000),
        /**
         * What the training rows are: `impressions` (each post shown to a sampled user in the
         * holdout window, labelled with the reactions that followed: the heads learn p(reaction |
         * shown)), `candidates` (each held-out user's candidates, labelled with the held-out
         * reactions: for catalogues without impressions), or `auto` (impressions when the
         * window holds at least `minImpressions` of them and `feed.fusion.holdout` is `cutoff`).
         */
        examples: z.enum(['auto', 'impressions', 'candidates']).default('auto'),
        minImpressions: z.number().int().min(1).default(1000),
        /** With impression rows: users sampled (every user shown something in the window may be; `feed.fusion.users` if larger). */
        impressionUsers: z.number().int().min(10).default(5000),
        /** Candidate rows per held-out user: two thirds from the light ranker's top, one third sampled from the rest. */
        candidatesPerUser: z.number().int().min(10).default(300),
        /** Positive rows an event type needs to get a head of its own. */
        minPositives: z.number().int().min(1).default(100),
        /** Rows the shared \`negative\` head (negative types too rare for a head of their own) needs: negative feedback is rare and costly. */
        minNegatives: z.number().int().min(1).default(30),
        /** `lambdarank` (LambdaMART, then calibrated) or `binary` (logloss) for the `engaged` head; type heads use logloss. */
        objective: z.enum(['binary', 'lambdarank']).default('lambdarank'),
        trees: z.number().int().min(1).default(200),
        leaves: z.number().int().min(2).default(31),
        /**
         * With held-out candidate rows (catalogues): leaf counts the deployment check's
         * cross-validation tries besides `leaves`; the trees get the one with the best
         * cross-validated ndcg@10 (ties: `leaves`). [] = `leaves` only. Small catalogues' few
         * hundred users are fitted better by small trees, larger ones by larger.
         */
        selectLeaves: z.array(z.number().int().min(2)).default([7]),
        /**
         * Numeric item attributes the heavy ranker reads as features (e.g. `["price", "year"]`):
         * the item's value and its difference from the mean over the user's positive history.
         */
        attributeFeatures: z.array(z.string().min(1)).default([]),
        learningRate: z.number().gt(0).max(1).default(0.05),
        minDataInLeaf: z.number().int().min(1).default(50),
        /** Stop adding trees after this many rounds without improvement on the validation slice. */
        earlyStopping: z.number().int().min(1).default(50),
        /**
         * Share of the groups used for fitting (held-out users, or with impression rows the
         * earliest requests); of the rest, half stops the boosting and calibrates, half tests.
         */
        fitShare: z.number().gt(0).lt(1).default(0.8),
        calibration: z.enum(['isotonic', 'platt']).default('platt'),
        /**
         * A trained model serves only if its \`engaged\` head's ndcg@10 on the test groups is at
         * least the light ranker's × (1 − this), and its weighted score's realized value@10 (the
         * summed weights of the reactions that followed, discounted by rank) is not clearly below
         * the light ranker's (by more than two standard errors, or this share); else the light
         * ranker orders the feed.
         */
        gateTolerance: z.number().min(0).max(1).default(0.02),
        /** …and only when the test groups hold at least this many engaged rows (fewer cannot tell a model from noise). */
        gateMinPositives: z.number().int().min(0).default(30),
        /**
         * With held-out candidate rows (catalogues, logs without impressions) the order check is a
         * k-fold cross-validation of the \`engaged\` head over all held-out users instead of one
         * small test slice: the model serves only when its mean ndcg@10 beats the light ranker's
         * by more than one standard error of the paired per-user difference. 0 or 1: the single
         * test slice, as with impressions.
         */
        gateFolds: z.number().int().min(0).max(20).default(5),
        /**
         * The heavy ranker in two passes (early exit): every candidate is scored by the first
         * `treeShare` of each head's trees (calibrated on their own when the model is trained),
         * and only the first pass's best `keep` get the rest of the trees. Off: every candidate
         * gets every tree.
         */
        cascade: z
          .object({
            enabled: z.boolean().default(true),
            /** Share of each head's trees in the first pass (fixed when the model is trained; 1: no first pass). */
            treeShare: z.number().gt(0).max(1).default(0.25),
            /** Candidates the first pass keeps for the full model (at least a page: explanations show every head). */
            keep: z.number().int().min(1).default(300),
            /**
             * Feature families the first pass's trees may not read (fixed at training): served, they
             * are computed for the kept candidates only. [] (default): the first pass is the first
             * treeShare of each head's trees and reads every family (measured faster at 100k users).
             */
            deferFamilies: z.array(z.string()).default([]),
          })
          .strict()
          .prefault({}),
        /**
         * The multi-task perceptron (models/mlp): shared hidden layers, one logit per head,
         * trained with the trees on the same rows. Served, each head's logit is
         * (1 − blend) · trees + blend · network, calibrated like the trees alone. The training
         * report gives each head's AUC for the trees, the network and the blend.
         */
        mlp: z
          .object({
            enabled: z.boolean().default(true),
            hidden: z.array(z.number().int().min(1).max(1024)).min(1).max(4).default([32, 16]),
            epochs: z.number().int().min(1).default(30),
            batchSize: z.number().int().min(1).default(256),
            learningRate: z.number().gt(0).max(1).default(0.002),
            weightDecay: z.number().min(0).default(1e-4),
            /** Stop after this many epochs without a better loss on the calibration slice. */
            patience: z.number().int().min(1).default(3),
            /** The network's share of the served logit: 0 = the trees alone (the network is only reported), 1 = the network alone on the kept candidates. */
            blend: z.number().min(0).max(1).default(0.25),
            /**
             * Per head: the network joins a head only when the blend's AUC on the calibration
             * slice is at least the trees' alone (else that head's share is 0: e.g. rare negative
             * reactions the network learns worse). false: every head takes \`blend\`.
             */
            perHead: z.boolean().default(true),
          })
          .strict()
          .prefault({}),
      })
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Validates a (partial) config object, filling defaults; errors name the field. */
export function parseConfig(input: unknown): Config {
  const result = configSchema.safeParse(input ?? {});
  if (!result.success) {
    const first = result.error.issues[0]!;
    const field = first.path.join('.') || '(root)';
    throw new ConfigError(`config ${field}: ${first.message}`);
  }
  return result.data;
}

export interface ConfigSources {
  file?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: DeepPartial<Config>;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

/** defaults ← file ← environment ← overrides */
export function loadConfig(sources: ConfigSources = {}): Config {
  return parseConfig(configInput(sources));
}

/** The config as given (file, then LENTA_* variables, then overrides), before defaults: for layering over another base (e.g. the evaluation's catalogue settings). */
export function configInput(sources: ConfigSources = {}): Record<string, unknown> {
  const env = sources.env ?? process.env;
  let base: Record<string, unknown> = {};
  const file = sources.file ?? env.LENTA_CONFIG;
  if (file) {
    try {
      base = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`config file ${file}: ${(err as Error).message}`);
    }
  }
  const merged = mergeDeep(base, envOverrides(env));
  return mergeDeep(merged, (sources.overrides ?? {}) as Record<string, unknown>);
}

function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, Record<string, unknown>> = {};
  if (env.PORT !== undefined && env.PORT !== '') {
    const port = Number(env.PORT);
    if (!Number.isInteger(port)) throw new ConfigError(`PORT: must be an integer, got "${env.PORT}"`);
    out.server = { port };
  }
  if (env.LENTA_DB) out.store = { db: env.LENTA_DB };
  return out;
}

/** `b` over `a`, objects merged key by key (arrays and values replaced; undefined skipped). */
export function mergeDeep(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    const prev = out[k];
    if (isPlainObject(prev) && isPlainObject(v)) out[k] = mergeDeep(prev, v);
    else out[k] = v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
