import { isSimPresetName, SIM_PRESETS } from '../../sim/index.js';
import { REPLAY_ALGORITHMS, replayEvaluation, type ReplayAlgorithm } from '../../eval/replay.js';
import { intFlag, parseFlags, UsageError, type CliCommand } from '../command.js';
import { loadConfig } from '../../domain/config.js';
import { progressBar, type ProgressBar } from '../progress.js';
import { candidateRecallJson, candidateRecallRows } from '../../eval/candidate-recall.js';

export const replayCommand: CliCommand = {
  name: 'replay',
  summary: 'replay evaluation on the synthetic platform: serve day d+1 after training on days 1..d',
  usage: `
lenta replay [--preset tiny|demo|medium] [--train-days D] [--k 10,20] [--algos lenta,lenta-relevance,lenta-light,popular,following,random]
             [--users N] [--seed S] [--candidates N] [--config FILE] [--json]

Generates the synthetic platform (with its known ground-truth engagement model), writes days
1..D into a fresh engine (same store, state and pipeline as the API), then asks for the feed of
every user who engaged on day D+1. Reports, per algorithm and k: recall/ndcg against what the
users engaged with on day D+1, truth_ndcg and expected_value against the true engagement
model, in-network share, author exposure Gini, coverage and intra-list diversity (ild: mean
tag dissimilarity of a list's pairs). \`lenta-relevance\` is the same feed with the mixer's
re-scoring and re-ordering rules off (the rankers' order). Default: demo, D = days − 1.
--candidates N also reports each candidate source's recall@N of the day-(D+1) engagements,
the union's, each source's marginal gain and the recall of its own first k.
--config FILE serves \`lenta\` with that configuration (e.g. {"rank": {"learn": false}} to
compare the whole feed without the heavy ranker; \`lenta-light\` is the same engine's feed without
the heavy ranker); the store settings are the replay's own. \`variant:<name>\` in --algos serves
the feed of that experiment variant of the config (experiments.variants): compare settings in one run.`,
  async run(argv) {
    const { values } = parseFlags(argv, {
      preset: { type: 'string' },
      'train-days': { type: 'string' },
      k: { type: 'string' },
      algos: { type: 'string' },
      users: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
      candidates: { type: 'string' },
      config: { type: 'string' },
    });
    const preset = (values.preset as string | undefined) ?? 'demo';
    if (!isSimPresetName(preset)) throw new UsageError(`--preset must be one of ${Object.keys(SIM_PRESETS).join(', ')}, got "${preset}"`);
    const ks = ((values.k as string | undefined) ?? '10,20').split(',').map((x) => {
      const k = Number(x);
      if (!Number.isInteger(k) || k < 1) throw new UsageError(`--k must be a list of positive integers, got "${values.k as string}"`);
      return k;
    });
    const algorithms = ((values.algos as string | undefined) ?? REPLAY_ALGORITHMS.join(',')).split(',') as ReplayAlgorithm[];
    for (const a of algorithms) {
      if (!(REPLAY_ALGORITHMS as readonly string[]).includes(a) && !/^variant:[A-Za-z0-9_-]+$/.test(a)) {
        throw new UsageError(`--algos: unknown "${a}" (known: ${REPLAY_ALGORITHMS.join(', ')}, or variant:<name> of the config's experiments)`);
      }
    }
    const sim = { ...SIM_PRESETS[preset] };
    if (values.seed !== undefined) sim.seed = intFlag(values.seed as string, 'seed', sim.seed, 0);
    const bars = new Map<string, ProgressBar>();
    const options: Parameters<typeof replayEvaluation>[0] = {
      sim,
      ks,
      algorithms,
      onProgress: (stage, done, total) => {
        let bar = bars.get(stage);
        if (!bar) bars.set(stage, (bar = progressBar(stage, { total, unit: stage === 'serve' ? 'users' : 'ms' })));
        bar.update(done);
        if (done >= total) bar.finish();
      },
    };
    if (values['train-days'] !== undefined) options.trainDays = intFlag(values['train-days'] as string, 'train-days', 1, 1);
    if (values.users !== undefined) options.maxUsers = intFlag(values.users as string, 'users', 0, 1);
    if (values.candidates !== undefined) options.candidates = intFlag(values.candidates as string, 'candidates', 1500, 1);
    if (values.config !== undefined) options.config = loadConfig({ file: values.config as string, env: {} });
    const result = await replayEvaluation(options);
    for (const bar of bars.values()) bar.finish();
    if (values.json) {
      const { candidates, ...rest } = result;
      process.stdout.write(`${JSON.stringify(candidates ? { ...rest, candidates: candidateRecallJson(candidates) } : rest)}\n`);
      return 0;
    }
    process.stdout.write(
      `synthetic platform "${preset}" (seed ${sim.seed}): cut at ${result.cut}, ${result.trainEvents.toLocaleString('en-US')} training events, ` +
        `${result.testUsers.toLocaleString('en-US')} users served, ${result.candidateWindow.toLocaleString('en-US')} posts in the window\n\n`,
    );
    const keys = Object.keys(result.results[algorithms[0]!]!);
    const width = Math.max(...algorithms.map((a) => a.length), 9);
    process.stdout.write(`${'algorithm'.padEnd(width)}  ${keys.join('  ')}\n`);
    for (const a of algorithms) {
      const r = result.results[a]!;
      process.stdout.write(`${a.padEnd(width)}  ${keys.map((k) => r[k]!.toFixed(4).padStart(k.length)).join('  ')}\n`);
    }
    if (result.candidates) {
      const { header, rows } = candidateRecallRows(result.candidates);
      const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
      process.stdout.write(`\ncandidate sources (up to ${result.candidates.n} per source) against the day-${(options.trainDays ?? sim.days - 1) + 1} engagements:\n`);
      for (const row of [header, ...rows]) process.stdout.write(`${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')}\n`);
    }
    return 0;
  },
};
