/**
 * The heavy ranker's stage latency on the demo platform: for N requests of distinct users, the
 * candidates the pipeline retrieves (sources → merge → filters) are scored by the light ranker
 * (the source fusion: the baseline, measured in the same run) and then by the heavy ranker
 * (features of the light ranker's best `rank.maxCandidates`, every head's trees, calibration,
 * score formula). Prints p50/p99 of each part and the candidates scored per request.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/domain/config.js';
import { Engine } from '../src/engine.js';
import { SIM_PRESETS, simulate } from '../src/sim/index.js';
import { mb, percentile, table } from './report.js';

export async function rankerBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { requests: { type: 'string', default: '1000' }, dir: { type: 'string', default: '.bench' }, candidates: { type: 'string', default: '1000' } } });
  const n = Number(values.requests);
  mkdirSync(values.dir!, { recursive: true });
  const db = join(values.dir!, 'ranker-demo.db');
  const config = parseConfig({ store: { db }, rank: { maxCandidates: Number(values.candidates) } });
  const engine = await Engine.open(config, { logImpressions: false });
  if (!existsSync(`${db}.models`)) await engine.importStream(simulate({ ...SIM_PRESETS.demo }));
  const t = performance.now();
  const { loaded, trained } = await engine.loadSources(`${db}.models`);
  process.stderr.write(`models: ${loaded.map((s) => `${s} (loaded)`).concat(trained.map((s) => `${s} (trained)`)).join(', ')} in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
  const model = engine.ranker.trained;
  if (!model) throw new Error(`no heavy ranker: ${engine.rankerNote}`);
  const r = model.report;
  process.stdout.write(
    `\nheavy ranker training (${r.rows.toLocaleString('en-US')} ${r.examples ?? 'candidate'} rows × ${r.features} features, ${r.users} ${r.examples === 'impressions' ? 'requests' : 'held-out users'}, ${r.seconds} s); on the test half of the ${r.validationUsers} validation ${r.examples === 'impressions' ? 'requests (the latest)' : 'users'}:\n\n` +
      `${table(r.heads.map((h) => ({ head: h.name, positives: h.positives, trees: h.trees, AUC: h.auc, 'light ranker AUC': h.lightAuc ?? NaN, ECE: h.ece, 'ECE uncalibrated': h.eceRaw })))}\n\n` +
      `ndcg@10 / recall@10 of the held-out engagements: weighted score ${r.validation.ndcg} / ${r.validation.recall}, engaged head ${r.validation.engagedNdcg} / ${r.validation.engagedRecall}, light ranker ${r.validation.lightNdcg} / ${r.validation.lightRecall}; realized value@10: weighted score ${r.validation.value}, light ranker ${r.validation.lightValue}\ngate: ${r.gate.reason}\n`,
  );

  const users = engine.store.userIds.map((_, u) => u).filter((u) => engine.state.history.size(u) > 0);
  const registry = engine.featureRegistry();
  const light: number[] = [];
  const heavy: number[] = [];
  const features: number[] = [];
  let scored = 0;
  let retrieved = 0;
  let buf = new Float32Array(0);
  for (let i = 0; i < n + 20; i++) {
    const user = users[(i * 7919) % users.length]!;
    const q = engine.requestQuery(user);
    const candidates = await engine.retrieve(user);
    const t0 = performance.now();
    engine.fusion.score(q, candidates);
    const t1 = performance.now();
    engine.ranker.score(q, candidates);
    const t2 = performance.now();
    // Features alone, for the same candidates the heavy ranker saw.
    const top = candidates.filter((c) => c.lightRank !== undefined && c.lightRank <= config.rank.maxCandidates);
    if (buf.length < top.length * registry.width) buf = new Float32Array(top.length * registry.width);
    const t3 = performance.now();
    registry.compute(q, top, buf);
    const t4 = performance.now();
    if (i < 20) continue; // warm-up
    light.push(t1 - t0);
    heavy.push(t2 - t1);
    features.push(t4 - t3);
    scored += top.length;
    retrieved += candidates.length;
  }
  const row = (stage: string, times: number[]) => {
    const s = [...times].sort((a, b) => a - b);
    return { stage, 'p50 ms': percentile(s, 50), 'p99 ms': percentile(s, 99), 'mean ms': s.reduce((a, b) => a + b, 0) / s.length };
  };
  const p50 = (x: number[]) => percentile([...x].sort((a, b) => a - b), 50);
  process.stdout.write(
    `\nheavy ranker: demo platform, ${n} requests (node ${process.version}); ${model.heads.length} heads (${model.heads.map((h) => `${h.name} ${h.model.trees.length}`).join(', ')} trees), ${registry.width} features\n\n` +
      `${table([row('baseline: light ranker (source fusion), all candidates', light), row('heavy ranker (features + heads + formula)', heavy), row('  of which features', features)])}\n\n` +
      `candidates per request: ${(retrieved / n).toFixed(0)} retrieved, ${(scored / n).toFixed(0)} scored by the heavy ranker (rank.maxCandidates ${config.rank.maxCandidates}); ` +
      `heavy / light p50: ${(p50(heavy) / p50(light)).toFixed(1)}×; RSS ${mb(process.memoryUsage().rss)}\n`,
  );
  await engine.close();
}
