/**
 * `lenta eval`: offline evaluation under docs/EVAL_PROTOCOL.md — split, fit every algorithm,
 * full ranking, metrics at each k; a table (or one JSON object) on stdout, progress on stderr,
 * optionally a self-contained HTML report.
 */
import { statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { configInput, parseConfig } from '../../domain/config.js';
import { EventTypeRegistry } from '../../domain/event-types.js';
import { IMPORTERS } from '../../ingest/importers/index.js';
import { BASELINES } from '../../eval/algorithms.js';
import { evaluate, type EvaluationResult } from '../../eval/evaluate.js';
import { candidateRecallJson, candidateRecallRows } from '../../eval/candidate-recall.js';
import { loadEvalDataset } from '../../eval/load.js';
import { PROTOCOLS, type ProtocolName } from '../../eval/protocols.js';
import { isAlgorithmRegistered, UnknownAlgorithmError } from '../../eval/recommender.js';
import { renderReport } from '../../eval/report.js';
import { intFlag, numberFlag, parseFlags, requireFlag, UsageError, type CliCommand } from '../command.js';
import { progressBar } from '../progress.js';

const METRIC_ORDER = ['recall', 'ndcg', 'map', 'hit_rate', 'mrr', 'coverage', 'novelty', 'intra_list_diversity', 'popularity_bias', 'in_network_share'];

export const evalCommand: CliCommand = {
  name: 'eval',
  summary: 'offline evaluation (temporal / random / leave-last-out) of baselines and Lenta',
  usage: `
lenta eval --data PATH --format FORMAT [--protocol temporal|random|loo] [--seed 42]
           [--threshold 4] [--k 10,20] [--algos popularity,itemknn,ease,ials]
           [--ease-lambda 500] [--json] [--report out.html]

Implements docs/EVAL_PROTOCOL.md: engagement events as implicit feedback (duplicate
(user, item) pairs keep the latest), the split of --protocol, candidate items = items with a
training interaction, full ranking without the user's training items, test positives =
held-out interactions with rating ≥ --threshold (explicit data) or all (implicit data).

  --protocol P        temporal (default): first 80% by (time, file order) train, rest test;
                      random: each interaction is test with probability 0.2 (--seed);
                      loo: each user's latest interaction is test
  --k LIST            cut-offs, comma-separated (default 10,20)
  --candidates N      also report each candidate source's recall@N and the union's (algorithms with sources: lenta)
  --algos LIST        ${BASELINES.join(', ')} and any registered algorithm (e.g. lenta)
  --json              print one JSON object on stdout (nothing else)
  --report FILE       write a self-contained HTML report
  --quiet             no progress on stderr
Algorithm settings:
  --ease-lambda N     EASE regularisation λ (default 500)
  --ease-solver S     auto (default: invert the smaller of the item or user Gram), primal, dual
  --threads N         threads of the EASE inverse (default up to 2)
  --knn-neighbors N   item-kNN neighbours per item, 0 = all (default 0)
  --ials-factors N    iALS factors (default 64)      --ials-reg X         λ (default 0.1)
  --ials-alpha X      confidence 1+αr (default 10)   --ials-iterations N  (default 15)
  --ials-cg-steps N   CG steps per row (default 3)   --ials-weighting W   binary (default) | log
  --diversity V       item vectors of intra_list_diversity: interactions (default) | tags
  --config FILE       Lenta config: custom event types, and settings of the lenta algorithm
                      (over its catalogue defaults, e.g. {"rank": {"gateFolds": 0}})

Formats: ${IMPORTERS.map((i) => i.format).join(', ')}`,
  async run(argv) {
    const { values } = parseFlags(argv, {
      data: { type: 'string' },
      format: { type: 'string', short: 'f' },
      protocol: { type: 'string' },
      seed: { type: 'string' },
      threshold: { type: 'string' },
      k: { type: 'string' },
      algos: { type: 'string' },
      candidates: { type: 'string' },
      'ease-lambda': { type: 'string' },
      'ease-solver': { type: 'string' },
      threads: { type: 'string' },
      'knn-neighbors': { type: 'string' },
      'ials-factors': { type: 'string' },
      'ials-reg': { type: 'string' },
      'ials-alpha': { type: 'string' },
      'ials-iterations': { type: 'string' },
      'ials-cg-steps': { type: 'string' },
      'ials-weighting': { type: 'string' },
      diversity: { type: 'string' },
      config: { type: 'string' },
      json: { type: 'boolean' },
      report: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
    });
    const s = (name: string): string | undefined => values[name] as string | undefined;
    const data = requireFlag(s('data'), 'data');
    const format = requireFlag(s('format'), 'format');
    if (!IMPORTERS.some((i) => i.format === format)) throw new UsageError(`unknown --format "${format}" (known: ${IMPORTERS.map((i) => i.format).join(', ')})`);
    try {
      statSync(data);
    } catch {
      throw new UsageError(`--data ${data}: no such file or folder`);
    }
    const protocol = (s('protocol') ?? 'temporal') as ProtocolName;
    if (!PROTOCOLS.includes(protocol)) throw new UsageError(`--protocol must be one of ${PROTOCOLS.join(', ')}, got "${protocol}"`);
    const seed = intFlag(s('seed'), 'seed', 42);
    const threshold = numberFlag(s('threshold'), 'threshold', 4);
    const ks = parseKs(s('k') ?? '10,20');
    const algos = (s('algos') ?? BASELINES.join(',')).split(',').map((a) => a.trim()).filter((a) => a.length > 0);
    if (algos.length === 0) throw new UsageError('--algos must name at least one algorithm');
    for (const a of algos) if (!isAlgorithmRegistered(a)) throw new UsageError(new UnknownAlgorithmError(a).message);
    const diversity = s('diversity') ?? 'interactions';
    if (diversity !== 'interactions' && diversity !== 'tags') throw new UsageError(`--diversity must be interactions or tags, got "${diversity}"`);
    const algorithmOptions = {
      'ease.lambda': optionalNumber(s('ease-lambda'), 'ease-lambda'),
      'ease.solver': s('ease-solver'),
      'ease.threads': s('threads') === undefined ? undefined : intFlag(s('threads'), 'threads', 2, 1),
      'itemknn.neighbors': s('knn-neighbors') === undefined ? undefined : intFlag(s('knn-neighbors'), 'knn-neighbors', 0),
      'ials.factors': s('ials-factors') === undefined ? undefined : intFlag(s('ials-factors'), 'ials-factors', 64, 1),
      'ials.reg': optionalNumber(s('ials-reg'), 'ials-reg'),
      'ials.alpha': optionalNumber(s('ials-alpha'), 'ials-alpha'),
      'ials.iterations': s('ials-iterations') === undefined ? undefined : intFlag(s('ials-iterations'), 'ials-iterations', 15, 1),
      'ials.cg-steps': s('ials-cg-steps') === undefined ? undefined : intFlag(s('ials-cg-steps'), 'ials-cg-steps', 3, 1),
      'ials.weighting': s('ials-weighting'),
    };
    const quiet = Boolean(values.quiet);
    const configGiven = configInput({ file: s('config') });
    const config = parseConfig(configGiven);
    const types = new EventTypeRegistry(config.eventTypes);

    let readBar: ReturnType<typeof progressBar> | undefined;
    const ds = await loadEvalDataset(data, format, {
      types,
      onProgress: (p) => {
        readBar ??= progressBar(`read ${format}`, { total: p.totalBytes, unit: 'bytes', silent: quiet });
        readBar.update(p.bytesRead);
      },
    });
    readBar?.finish(`${ds.size.toLocaleString('en-US')} interactions, ${ds.numUsers.toLocaleString('en-US')} users, ${ds.numItems.toLocaleString('en-US')} items`);
    if (ds.size === 0) throw new Error(`${data}: no engagement events to evaluate (impressions and negative events are not interactions)`);

    const result = await evaluate(ds, {
      protocol,
      seed,
      threshold,
      ks,
      algorithms: algos,
      algorithmOptions,
      algorithmConfig: configGiven,
      diversityVectors: diversity,
      candidates: s('candidates') === undefined ? undefined : intFlag(s('candidates'), 'candidates', 1500, 1),
      progress: (label, total, unit) => progressBar(label, { total, unit, silent: quiet }),
    });

    if (values.report) {
      const file = values.report as string;
      await writeFile(file, renderReport(result, { format, data, algorithmOptions }));
      if (!quiet) process.stderr.write(`report written to ${file}\n`);
    }
    if (values.json) process.stdout.write(`${JSON.stringify(toJson(result))}\n`);
    else process.stdout.write(formatTable(result));
    return 0;
  },
};

function optionalNumber(value: string | undefined, flag: string): number | undefined {
  return value === undefined ? undefined : numberFlag(value, flag, 0);
}

function parseKs(value: string): number[] {
  const ks = value.split(',').map((v) => v.trim()).filter((v) => v.length > 0).map(Number);
  if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1)) throw new UsageError(`--k must be a comma-separated list of positive integers, got "${value}"`);
  return [...new Set(ks)].sort((a, b) => a - b);
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits));

/** The JSON shape of issue 3. */
export function toJson(r: EvaluationResult): Record<string, unknown> {
  const results: Record<string, Record<string, number>> = {};
  for (const a of r.results) {
    const entry: Record<string, number> = {};
    for (const k of r.ks) {
      for (const m of METRIC_ORDER) {
        const key = `${m}@${k}`;
        if (a.metrics[key] !== undefined) entry[key] = round(a.metrics[key], 6);
      }
    }
    entry.fit_seconds = round(a.fitSeconds, 3);
    entry.recommend_seconds = round(a.recommendSeconds, 3);
    results[a.name] = entry;
  }
  const out: Record<string, unknown> = { dataset: r.dataset, protocol: r.protocol, k: r.ks, users: r.users, items: r.items, train: r.train, test_users: r.testUsers, results };
  const withCandidates = r.results.find((a) => a.candidates);
  if (withCandidates?.candidates) {
    out.candidates = candidateRecallJson(withCandidates.candidates);
  }
  return out;
}

export function formatTable(r: EvaluationResult): string {
  const lines: string[] = [];
  lines.push(`${r.dataset}: ${r.users.toLocaleString('en-US')} users, ${r.items.toLocaleString('en-US')} items, ${r.interactions.toLocaleString('en-US')} interactions (${r.duplicates} duplicate pairs dropped)`);
  lines.push(
    `protocol ${r.protocol}${r.protocol === 'random' ? ` (seed ${r.seed})` : ''}: ${r.train.toLocaleString('en-US')} train, ${r.test.toLocaleString('en-US')} test, ` +
      `${r.candidates.toLocaleString('en-US')} candidate items, ${r.testUsers.toLocaleString('en-US')} evaluated users` +
      (r.explicitRatings ? `, positives = rating ≥ ${r.threshold}` : ', every held-out interaction is positive'),
  );
  for (const k of r.ks) {
    const metrics = METRIC_ORDER.filter((m) => r.results.some((a) => a.metrics[`${m}@${k}`] !== undefined));
    const header = ['algorithm', ...metrics.map((m) => `${m}@${k}`)];
    const rows = r.results.map((a) => [a.name, ...metrics.map((m) => (a.metrics[`${m}@${k}`] ?? NaN).toFixed(4))]);
    lines.push('', ...table(header, rows));
  }
  lines.push('', ...table(['algorithm', 'fit s', 'recommend s', 'notes'], r.results.map((a) => [a.name, a.fitSeconds.toFixed(2), a.recommendSeconds.toFixed(2), Object.entries(a.notes).map(([k, v]) => `${k} ${v}`).join('; ')])));
  for (const a of r.results) {
    const c = a.candidates;
    if (!c) continue;
    const { header, rows } = candidateRecallRows(c);
    lines.push('', `candidate sources of ${a.name} (up to ${c.n} per source; top recall = recall of the source's own first ${c.k}):`, ...table(header, rows));
  }
  return `${lines.join('\n')}\n`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const leftAligned = (c: number): boolean => c === 0 || header[c] === 'notes';
  const fmt = (cells: string[]): string => cells.map((cell, c) => (leftAligned(c) ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)];
}
