/**
 * `lenta report experiments`: per variant of the experiments (and the holdout), what its users
 * were shown and did — engagement rate of the impressions, positive engagements per user, the
 * lift against `default` and `holdout`, and the split by author group. See
 * src/experiments/report.ts for the definitions and intervals.
 */
import { existsSync } from 'node:fs';
import { loadConfig } from '../../domain/config.js';
import { Engine } from '../../engine.js';
import { experimentReport, type ExperimentReport, type ExperimentReportOptions, type Interval } from '../../experiments/report.js';
import { intFlag, parseFlags, UsageError, type CliCommand } from '../command.js';
import { progressBar } from '../progress.js';
import { describeEngine } from './serve.js';

export const reportCommand: CliCommand = {
  name: 'report',
  summary: 'reports on the store: experiments (metrics and lift per variant and author group)',
  usage: `
lenta report experiments [--db FILE] [--config FILE] [--since ISO] [--window 1d]
                         [--large-creator N] [--json]

Reads the event log: for each variant seen in the impressions (context.variant; none =
default), its users, impressions, engaged impressions (a positive event of the same user on
the same item within --window after the impression) and engagement rate (95% Wilson
interval); positive engagements per user from the user's first impression on (95% normal
interval); the lift against default and holdout (difference and relative, 95% intervals);
and the split by author group: in/out of network and small/large creators (at least
--large-creator followers; default the median of the authors shown).

--since ISO       only impressions from this time on (ISO 8601 or epoch ms)
--window D        attribution window: a number with unit ms, s, m, h, d or w (default 1d)
--json            print the report object`,
  async run(argv) {
    const { values, positionals } = parseFlags(
      argv,
      {
        db: { type: 'string' },
        config: { type: 'string' },
        since: { type: 'string' },
        window: { type: 'string' },
        'large-creator': { type: 'string' },
        json: { type: 'boolean' },
      },
      true,
    );
    const what = positionals[0];
    if (what !== 'experiments') throw new UsageError(`unknown report "${what ?? ''}" (known: experiments)`);
    if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
    const options: ExperimentReportOptions = {};
    if (values.since !== undefined) options.since = timeFlag(values.since as string, 'since');
    if (values.window !== undefined) options.attributionWindowMs = durationFlag(values.window as string, 'window');
    if (values['large-creator'] !== undefined) options.largeCreatorFollowers = intFlag(values['large-creator'] as string, 'large-creator', 0, 0);
    const config = loadConfig({ file: values.config as string | undefined, overrides: values.db ? { store: { db: values.db as string } } : {} });
    if (config.store.db !== ':memory:' && !existsSync(config.store.db)) throw new UsageError(`--db ${config.store.db}: no such database`);
    const replay = progressBar('replay log', { unit: 'rows', silent: Boolean(values.json) });
    const engine = await Engine.open(config, { logImpressions: false, onReplay: (rows) => replay.update(rows) });
    replay.finish(describeEngine(engine));
    let report: ExperimentReport;
    try {
      report = await experimentReport(engine.store, engine.state, options);
    } finally {
      await engine.close();
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return 0;
    }
    process.stdout.write(formatExperimentReport(report));
    return 0;
  },
};

/** The report as readable tables. */
export function formatExperimentReport(r: ExperimentReport): string {
  const iso = (t: number | null): string => (t === null ? '–' : new Date(t).toISOString());
  const lines = [
    `experiments: ${r.impressions.toLocaleString('en-US')} impressions to ${r.users.toLocaleString('en-US')} users, ${iso(r.from)} … ${iso(r.until)}` +
      (r.since !== null ? ` (since ${iso(r.since)})` : ''),
    `attribution window ${formatDuration(r.attributionWindowMs)}; large creators: ≥ ${r.largeCreatorFollowers} followers (${r.largeCreatorFollowersFrom}, ${r.authorsShown} authors shown)`,
  ];
  if (r.impressionsWithoutVariant > 0) lines.push(`${r.impressionsWithoutVariant.toLocaleString('en-US')} impressions without a variant are counted in default`);
  if (r.usersInSeveralVariants > 0) lines.push(`${r.usersInSeveralVariants.toLocaleString('en-US')} users were served several variants (counted per user in the first)`);
  if (r.variants.length === 0) {
    lines.push('', 'no impressions: nothing to compare');
    return `${lines.join('\n')}\n`;
  }
  const header = ['variant', 'users', 'impressions', 'engaged', 'rate', '95% CI', 'eng./user', '95% CI'];
  const rows = r.variants.map((v) => [
    v.variant,
    count(v.users),
    count(v.impressions),
    count(v.engaged),
    pct(v.engagementRate.rate),
    interval(v.engagementRate.ci95, pct),
    v.perUser.mean.toFixed(3),
    interval(v.perUser.ci95, (x) => x.toFixed(3)),
  ]);
  lines.push('', ...table(header, rows));
  const liftHeader = ['variant', 'vs', 'rate diff', 'rate lift', '95% CI', 'eng./user diff', 'eng./user lift', '95% CI'];
  const liftRows: string[][] = [];
  for (const v of r.variants) {
    for (const [ref, l] of Object.entries(v.lift)) {
      liftRows.push([
        v.variant,
        ref,
        `${l.engagementRate.difference >= 0 ? '+' : ''}${(l.engagementRate.difference * 100).toFixed(2)} pp`,
        l.engagementRate.relative === null ? '–' : signedPct(l.engagementRate.relative),
        interval(l.engagementRate.relativeCi95, signedPct),
        `${l.perUser.difference >= 0 ? '+' : ''}${l.perUser.difference.toFixed(3)}`,
        l.perUser.relative === null ? '–' : signedPct(l.perUser.relative),
        interval(l.perUser.relativeCi95, signedPct),
      ]);
    }
  }
  if (liftRows.length > 0) lines.push('', 'lift (relative, with a 95% delta-method interval):', ...table(liftHeader, liftRows, 2));
  const groupHeader = ['variant', 'author group', 'impressions', 'share', 'engaged', 'rate', '95% CI'];
  const groupRows: string[][] = [];
  for (const v of r.variants) {
    for (const [group, g] of Object.entries(v.authorGroups)) {
      if (!g) continue;
      groupRows.push([v.variant, group, count(g.impressions), pct(g.share), count(g.engaged), pct(g.rate), interval(g.ci95, pct)]);
    }
  }
  lines.push('', ...table(groupHeader, groupRows, 2));
  return `${lines.join('\n')}\n`;
}

/** Rows under a header: the first `left` columns left-aligned, the others right-aligned. */
function table(header: string[], rows: string[][], left = 1): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const fmt = (cells: string[]): string => cells.map((cell, c) => (c < left ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)];
}

const count = (x: number): string => x.toLocaleString('en-US');
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
const signedPct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
const interval = (ci: Interval | null, f: (x: number) => string): string => (ci ? `[${f(ci[0])}, ${f(ci[1])}]` : '–');

/** An ISO 8601 time or epoch milliseconds. */
function timeFlag(value: string, flag: string): number {
  const t = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(t)) throw new UsageError(`--${flag} must be an ISO 8601 time or epoch ms, got "${value}"`);
  return t;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** `1d`, `12h`, `30m`, `90s`, `500ms`, `2w`, or a bare number of milliseconds. */
export function durationFlag(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/.exec(value.trim());
  if (!m) throw new UsageError(`--${flag} must be a duration such as 1d, 12h, 30m or 500ms, got "${value}"`);
  return Number(m[1]) * UNITS[m[2] ?? 'ms']!;
}

function formatDuration(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    const size = UNITS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
