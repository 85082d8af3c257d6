/**
 * `lenta ope`: off-policy estimate of a target policy's CTR from logged impressions with
 * propensities (IPS, SNIPS, DR with bootstrap intervals), compared with the CTR the target
 * policy actually had in its own logs when those exist. See src/eval/ope.ts for the estimators
 * and for how a non-contextual target (OBD's Bernoulli Thompson sampling) is represented.
 */
import { statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { loadConfig } from '../../domain/config.js';
import { EventTypeRegistry } from '../../domain/event-types.js';
import { getImporter, IMPORTERS } from '../../ingest/importers/index.js';
import { ActionSpace, empiricalPolicy, estimatePolicyValue, observedCtr, readBanditLog, uniformPolicy, type BanditLog, type Estimate } from '../../eval/ope.js';
import { intFlag, parseFlags, requireFlag, UsageError, type CliCommand } from '../command.js';
import { progressBar } from '../progress.js';
import { Engine } from '../../engine.js';
import { greedyPolicyEstimate, type LoggedTrafficEstimate } from '../../eval/ope-log.js';
import { durationFlag } from './report.js';

export const opeCommand: CliCommand = {
  name: 'ope',
  summary: 'off-policy evaluation (IPS, SNIPS, DR) of a target policy from logged impressions',
  usage: `
lenta ope --format obd --logs PATH --target bts|uniform [--target-logs PATH]
          [--bootstrap 1000] [--seed 42] [--json]
lenta ope --db FILE [--window 1d] [--variant NAME] [--json]

Estimates the CTR of --target from the behaviour logs (impressions with position and
propensity, plus clicks) with IPS, SNIPS and doubly-robust estimators, 95% percentile
bootstrap intervals. --target uniform is uniform over the campaign's items per position
(on uniform-random logs it reproduces their own CTR). Any other target is an empirical
policy: its per-position action distribution is read from its own logs (--target-logs,
default: the sibling folder named like the target, e.g. random/men → bts/men), and its
observed CTR there is printed next to the estimates with the relative error.

--db: the engine's own traffic. Estimates the engagement rate per slot of the For You feed
without exploration (every slot the best candidate) from impressions served with exploration:
each impression's logged propensity and whether its slot was explored give IPS and SNIPS
(95% normal intervals), next to the rate of what was served. An engagement is a positive event
of the user on the item within --window of the impression; --variant restricts to one arm.

Formats: ${IMPORTERS.map((i) => i.format).join(', ')}`,
  async run(argv) {
    const { values } = parseFlags(argv, {
      format: { type: 'string', short: 'f' },
      logs: { type: 'string' },
      target: { type: 'string' },
      'target-logs': { type: 'string' },
      bootstrap: { type: 'string' },
      seed: { type: 'string' },
      config: { type: 'string' },
      db: { type: 'string' },
      window: { type: 'string' },
      variant: { type: 'string' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
    });
    const s = (name: string): string | undefined => values[name] as string | undefined;
    if (s('db') !== undefined) return engineTraffic(s('db')!, s('config'), s('window'), s('variant'), Boolean(values.json));
    const format = requireFlag(s('format'), 'format');
    const logsPath = requireFlag(s('logs'), 'logs');
    const target = requireFlag(s('target'), 'target');
    const bootstrap = intFlag(s('bootstrap'), 'bootstrap', 1000, 10);
    const seed = intFlag(s('seed'), 'seed', 42);
    const quiet = Boolean(values.quiet);
    let importer;
    try {
      importer = getImporter(format);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    exists(logsPath, 'logs');
    const targetLogsPath = target === 'uniform' ? s('target-logs') : (s('target-logs') ?? join(dirname(dirname(logsPath)), target, basename(logsPath)));
    if (targetLogsPath !== undefined) exists(targetLogsPath, 'target-logs');
    const types = new EventTypeRegistry(loadConfig({ file: s('config') }).eventTypes);

    const space = new ActionSpace();
    const read = async (path: string, label: string): Promise<BanditLog> => {
      let bar: ReturnType<typeof progressBar> | undefined;
      const log = await readBanditLog(
        importer.read(path, {
          types,
          onProgress: (p) => {
            bar ??= progressBar(`read ${label}`, { total: p.totalBytes, unit: 'bytes', silent: quiet });
            bar.update(p.bytesRead);
          },
        }),
        space,
      );
      bar?.finish(`${log.size.toLocaleString('en-US')} impressions`);
      if (log.size === 0) throw new Error(`${path}: no impressions with position and propensity`);
      if (log.unmatchedClicks > 0 && !quiet) process.stderr.write(`warning: ${log.unmatchedClicks} clicks in ${path} match no impression\n`);
      return log;
    };
    const behaviour = await read(logsPath, 'behaviour logs');
    const behaviourActions = new Set<number>([...space.declared, ...behaviour.action]);
    const targetLog = targetLogsPath !== undefined ? await read(targetLogsPath, 'target logs') : undefined;
    const numPositions = Math.max(behaviour.numPositions, targetLog?.numPositions ?? 0);
    const policy = target === 'uniform' ? uniformPolicy(space.size, numPositions, behaviourActions) : empiricalPolicy(target, targetLog!, space.size, numPositions);
    const result = estimatePolicyValue(behaviour, policy, { bootstrap, seed });
    const observed = targetLog ? observedCtr(targetLog) : undefined;
    // what the estimates are compared with: the target's observed CTR, or for `uniform` on
    // uniform logs the logs' own CTR
    const truth = observed?.ctr ?? (target === 'uniform' ? result.behaviourCtr : undefined);
    const describe = (e: Estimate) => ({
      estimate: e.estimate,
      ci95: [e.low, e.high],
      se: e.se,
      ...(truth !== undefined ? { relative_error: (e.estimate - truth) / truth, reference_in_ci: truth >= e.low && truth <= e.high } : {}),
      ...(observed ? { within_observed_ci: e.estimate >= observed.low && e.estimate <= observed.high } : {}),
    });
    const json = {
      behaviour: { logs: logsPath, impressions: behaviour.size, actions: behaviourActions.size, positions: behaviour.numPositions, ctr: result.behaviourCtr },
      target: {
        policy: target,
        logs: targetLogsPath ?? null,
        method: target === 'uniform' ? 'uniform over the campaign items at every position' : 'empirical (item, position) distribution of the target logs',
        ...(observed ? { impressions: observed.n, observed_ctr: observed.ctr, observed_ci95: [observed.low, observed.high] } : {}),
      },
      mean_weight: result.meanWeight,
      unsupported_mass: result.unsupportedMass,
      bootstrap,
      seed,
      estimates: { ips: describe(result.ips), snips: describe(result.snips), dr: describe(result.dr) },
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(json)}\n`);
      return 0;
    }
    const pct = (x: number): string => `${(x * 100).toFixed(3)}%`;
    const lines = [
      `behaviour logs ${logsPath}: ${behaviour.size.toLocaleString('en-US')} impressions, ${behaviourActions.size} items, ${behaviour.numPositions} positions, CTR ${pct(result.behaviourCtr)}`,
      `target ${target}: ${json.target.method}${targetLogsPath ? ` (${targetLogsPath})` : ''}`,
      observed
        ? `observed CTR of ${target}: ${pct(observed.ctr)}  95% CI [${pct(observed.low)}, ${pct(observed.high)}]  (${observed.n.toLocaleString('en-US')} impressions)`
        : target === 'uniform'
          ? `reference: the behaviour logs' own CTR ${pct(result.behaviourCtr)}`
          : '',
      `mean importance weight ${result.meanWeight.toFixed(4)}, target mass on never-logged (item, position) pairs ${result.unsupportedMass.toFixed(4)}`,
    ].filter((l) => l !== '');
    const header = ['estimator', 'estimate', '95% bootstrap CI', 'rel. error', 'reference in CI', ...(observed ? ['estimate in observed CI'] : [])];
    const rows = ([['IPS', result.ips], ['SNIPS', result.snips], ['DR', result.dr]] as const).map(([name, e]) => {
      const d = describe(e);
      return [
        name,
        pct(e.estimate),
        `[${pct(e.low)}, ${pct(e.high)}]`,
        d.relative_error === undefined ? '–' : `${d.relative_error >= 0 ? '+' : ''}${(d.relative_error * 100).toFixed(1)}%`,
        d.reference_in_ci === undefined ? '–' : d.reference_in_ci ? 'yes' : 'no',
        ...(observed ? [d.within_observed_ci ? 'yes' : 'no'] : []),
      ];
    });
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
    const fmtRow = (cells: string[]): string => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
    lines.push('', fmtRow(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmtRow));
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};

/** `lenta ope --db`: the greedy policy's rate estimated from the engine's logged traffic. */
async function engineTraffic(db: string, configFile: string | undefined, window: string | undefined, variant: string | undefined, json: boolean): Promise<number> {
  exists(db, 'db');
  const config = loadConfig({ file: configFile, overrides: { store: { db } } });
  const engine = await Engine.open(config, { logImpressions: false });
  let e: LoggedTrafficEstimate;
  try {
    e = await greedyPolicyEstimate(engine.store, engine.state, { windowMs: window !== undefined ? durationFlag(window, 'window') : undefined, variant });
  } finally {
    await engine.close();
  }
  if (e.impressions === 0) throw new Error(`${db}: no impressions with a propensity and an exploration flag${variant ? ` in variant ${variant}` : ''}`);
  if (json) {
    process.stdout.write(`${JSON.stringify(e)}\n`);
    return 0;
  }
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  process.stdout.write(
    [
      `${e.impressions.toLocaleString('en-US')} impressions${e.variant ? ` of variant ${e.variant}` : ''}, ${e.explored.toLocaleString('en-US')} in explored slots; engagement within ${window ?? '1d'}`,
      `served (with exploration)   ${pct(e.logged.rate)}  [${pct(e.logged.ci95[0])}, ${pct(e.logged.ci95[1])}]`,
      `greedy (no exploration)     SNIPS ${pct(e.greedy.snips)}  [${pct(e.greedy.ci95[0])}, ${pct(e.greedy.ci95[1])}]  IPS ${pct(e.greedy.ips)}  (effective samples ${Math.round(e.greedy.effectiveSamples).toLocaleString('en-US')})`,
      '',
    ].join('\n'),
  );
  return 0;
}

function exists(path: string, flag: string): void {
  try {
    statSync(path);
  } catch {
    throw new UsageError(`--${flag} ${path}: no such file or folder`);
  }
}
