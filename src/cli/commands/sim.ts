/**
 * `lenta sim`: generates a synthetic platform's log as lenta-jsonl, and optionally its
 * ground truth (the hidden interests and the engagement model) for evaluation.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { intFlag, parseFlags, requireFlag, UsageError, type CliCommand } from '../command.js';
import { progressBar } from '../progress.js';
import { writeJsonl } from '../../ingest/jsonl-writer.js';
import { createSimulation, isSimPresetName, SIM_PRESETS, type SimOptions } from '../../sim/index.js';

const usage = `Usage: lenta sim [--preset tiny|demo|medium|bench] [--users N] [--days D] [--seed S]
                 [--topics T] --out FILE [--truth FILE] [--json] [--quiet]

Simulates a social platform — users with hidden interests, creators, posts, a follow graph,
feed sessions served by a randomised logging policy (impressions carry request id, position
and propensity) and engagements drawn from a known model — and writes the log as lenta-jsonl.
The same preset, options and seed always give byte-identical output.

  --preset NAME   size: tiny (100 users, 3 days), demo (2,000 users, 7 days; default),
                  medium (20,000 users, 14 days), bench (100,000 users, ~10M events)
  --users N       number of accounts (overrides the preset)
  --days D        simulated days (overrides the preset)
  --seed S        random seed (default: the preset's)
  --topics T      number of latent topics (default: the preset's)
  --out FILE      where to write the lenta-jsonl log (required)
  --truth FILE    also write the ground truth (JSON) for evaluation
  --json          print the summary as JSON
  --quiet         no progress bar
`;

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export const simCommand: CliCommand = {
  name: 'sim',
  summary: 'generate a synthetic platform log (and its ground truth) as lenta-jsonl',
  usage,
  async run(argv: string[]): Promise<number> {
    const { values } = parseFlags(argv, {
      preset: { type: 'string' },
      users: { type: 'string' },
      days: { type: 'string' },
      seed: { type: 'string' },
      topics: { type: 'string' },
      out: { type: 'string', short: 'o' },
      truth: { type: 'string' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
    });
    if (values.help) {
      process.stdout.write(usage);
      return 0;
    }
    const presetName = (values.preset as string | undefined) ?? 'demo';
    if (!isSimPresetName(presetName)) throw new UsageError(`--preset must be one of ${Object.keys(SIM_PRESETS).join(', ')}, got "${presetName}"`);
    const preset = SIM_PRESETS[presetName];
    const out = requireFlag(values.out as string | undefined, 'out');
    const truthPath = values.truth as string | undefined;
    const options: SimOptions = {
      ...preset,
      users: intFlag(values.users as string | undefined, 'users', preset.users, 2),
      days: intFlag(values.days as string | undefined, 'days', preset.days, 1),
      seed: intFlag(values.seed as string | undefined, 'seed', preset.seed, 0),
      topics: intFlag(values.topics as string | undefined, 'topics', preset.topics ?? 20, 1),
    };

    let sim;
    try {
      sim = createSimulation(options);
    } catch (err) {
      if (err instanceof RangeError) throw new UsageError(err.message);
      throw err;
    }
    const started = performance.now();
    mkdirSync(dirname(out), { recursive: true });
    const days = sim.options.days;
    const bar = progressBar('sim', { total: days, unit: 'days', silent: Boolean(values.quiet) });
    const counts = await writeJsonl(sim.records(), out, (n) => bar.update(sim.stats.progress * days, `${fmt(n)} records`));
    bar.finish(`${fmt(sim.stats.records)} records`);
    if (truthPath) {
      mkdirSync(dirname(truthPath), { recursive: true });
      sim.truth.saveTruth(truthPath);
    }
    const seconds = (performance.now() - started) / 1000;
    const stats = sim.stats;
    const events = stats.events;
    const eventTotal = Object.values(events).reduce((a, b) => a + b, 0);
    const bytes = statSync(out).size;
    const summary = {
      preset: presetName,
      seed: sim.options.seed,
      users: counts.user,
      days,
      items: counts.item,
      edges: { ...stats.edges, records: counts.follow + counts.mute + counts.block },
      events: { total: eventTotal, ...events },
      sessions: stats.sessions,
      records: stats.records,
      out,
      bytes,
      truth: truthPath ?? null,
      seconds: Number(seconds.toFixed(2)),
      recordsPerSecond: Math.round(stats.records / seconds),
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      return 0;
    }
    const perType = Object.entries(events)
      .map(([t, n]) => `${t} ${fmt(n)}`)
      .join(' · ');
    const lines = [
      `simulated ${fmt(summary.users)} users over ${days} days (preset ${presetName}, seed ${summary.seed}) in ${seconds.toFixed(1)} s`,
      `  users     ${fmt(summary.users)}`,
      `  items     ${fmt(summary.items)}`,
      `  edges     follow ${fmt(stats.edges.follow)} · unfollow ${fmt(stats.edges.unfollow)} · mute ${fmt(stats.edges.mute)} · block ${fmt(stats.edges.block)}`,
      `  events    ${fmt(eventTotal)} in ${fmt(stats.sessions)} sessions`,
      `            ${perType}`,
      `  wrote     ${out} (${(bytes / (1 << 20)).toFixed(1)} MiB, ${fmt(summary.recordsPerSecond)} records/s)${truthPath ? `, truth ${truthPath}` : ''}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
