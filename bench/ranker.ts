/**
 * The heavy ranker's stage latency on the demo platform: for N requests of distinct users, the
 * candidates the pipeline retrieves (sources → merge → filters) are scored by the light ranker
 * (the source fusion: the baseline, measured in the same run) and then by the heavy ranker
 * (features of the light ranker's best `rank.maxCandidates`, every head's trees, calibration,
 * score formula). Prints p50/p99 of each part and the candidates scored per request. With a
 * cascade (rank.cascade: a first pass of each head's first trees, the rest on its best), the
 * same model without it scores copies of the same candidates, alternately first: both
 * distributions, the speed-up, and how much of the full model's top 10 the cascade keeps.
 *
 * `--compare`: on every request's feature rows, the trees are also predicted by both kernels,
 * alternately first — each head's own WebAssembly walk (GbdtModel.predictRaw, the ranker's path
 * before the compiled forest) and the compiled forest of all heads (models/gbdt/forest.ts) —
 * for the heads the ranker predicts on all rows (weight ≠ 0) and, on 200 rows, the silent ones;
 * prints both distributions, their ratio, and how many scores differ (must be 0).
 *
 * With a multi-task network in the model (rank.mlp), the same model's trees alone score copies
 * too, alternately first: what the network adds to the stage's time. With `--compare`, the
 * network's forward pass is also timed in WebAssembly SIMD and as the JavaScript loop on the
 * same rows (the first `keep` of each request), with the largest difference of their logits.
 *
 * `--config F`: a pipeline config (JSON) for the ranker and the pipeline, e.g. the cascade's `keep`.
 *
 * `--budgets B[,B…]`: the same model with a smaller `rank.maxCandidates` (the light ranker's
 * best B) scores copies of the same candidates, alternately before and after the served one:
 * per budget its time, and the share of the served ranker's top 20 (by score, before the mixer)
 * that it keeps — what a smaller budget saves, and how much of the page it changes.
 *
 * The served stage is timed twice: first N requests on their own (retrieve, light ranker, heavy
 * ranker, as in the pipeline: the stage's latency), then inside the comparison loop, where the
 * other scorings of each request's candidates add their garbage and cache evictions.
 *
 * `--db F`: an existing platform instead of the demo (e.g. the feed bench's 100k-user
 * `.bench/platform-bench.db`, whose `<db>.models/` hold its trained sources and rankers); the
 * database is opened read-only in spirit (no impressions are logged). Also prints each feature
 * family's share of the feature time.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/domain/config.js';
import { GbdtForest } from '../src/models/gbdt/forest.js';
import { GbdtModel } from '../src/models/gbdt/model.js';
import { MultiTaskMlp } from '../src/models/mlp/mlp.js';
import { EXPLAINED_CANDIDATES, HeavyRanker, networkShares } from '../src/rank/heavy-ranker.js';
import { scoreTerms } from '../src/rank/score-formula.js';
import { Engine } from '../src/engine.js';
import { SIM_PRESETS, simulate } from '../src/sim/index.js';
import { mb, percentile, table } from './report.js';

/** The items of the `k` best candidates by score. */
function topByScore(list: readonly { item: number; score: number }[], k: number): number[] {
  return [...list].sort((a, b) => b.score - a.score).slice(0, k).map((c) => c.item);
}

export async function rankerBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { requests: { type: 'string', default: '1000' }, dir: { type: 'string', default: '.bench' }, candidates: { type: 'string', default: '1000' }, compare: { type: 'boolean', default: false }, db: { type: 'string' }, config: { type: 'string' }, budgets: { type: 'string' } } });
  const n = Number(values.requests);
  mkdirSync(values.dir!, { recursive: true });
  const db = values.db ?? join(values.dir!, 'ranker-demo.db');
  if (values.db && !existsSync(db)) throw new Error(`--db ${db}: no such database`);
  const platform = values.db ? `platform ${db}` : 'demo platform';
  // --config FILE: a pipeline config under the bench's store and candidate count (e.g. rank.cascade.keep).
  const config = loadConfig({ file: values.config, env: {}, overrides: { store: { db }, rank: { maxCandidates: Number(values.candidates) } } });
  const budgets = (values.budgets ?? '').split(',').filter((b) => b.trim() !== '').map((b) => {
    const v = Number(b);
    if (!Number.isInteger(v) || v < 1) throw new Error(`--budgets: each budget must be a positive integer, got "${b}"`);
    return v;
  });
  const engine = await Engine.open(config, { logImpressions: false });
  if (!values.db && !existsSync(`${db}.models`)) await engine.importStream(simulate({ ...SIM_PRESETS.demo }));
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
  // --compare: both tree kernels on the same rows.
  const boosters = model.heads.map((h) => GbdtModel.fromJSON(h.model));
  // The heads the ranker predicts on all rows, and the silent ones (its explained candidates only).
  const { scoredHeads: loud, silentHeads: silent } = scoreTerms(model.heads, config.rank, engine.state, (id) => engine.store.userIndex(id));
  const forest = values.compare ? GbdtForest.create(boosters) : undefined;
  if (values.compare && !forest) throw new Error('--compare: the compiled forest is unavailable (no WebAssembly)');
  // --compare with a network: its forward pass in WebAssembly SIMD and the JavaScript loop, on the
  // first `keep` feature rows of each request (what the cascade's kept candidates get), alternately first.
  const network = values.compare && model.mlp ? MultiTaskMlp.fromJSON(model.mlp.model) : undefined;
  const netKernel: number[] = [];
  const netJs: number[] = [];
  let netMaxDiff = 0;
  let netOut: Float64Array = new Float64Array(0);
  let netOutJs: Float64Array = new Float64Array(0);
  const bothNetworks = (X: Float32Array, n: number, kernelFirst: boolean) => {
    const m = Math.min(n, config.rank.cascade.keep);
    const timed = (run: () => void) => {
      const t = performance.now();
      run();
      return performance.now() - t;
    };
    const kernelRun = () => timed(() => (netOut = network!.predictRaw(X, m, netOut)));
    const jsRun = () => timed(() => (netOutJs = network!.predictRawJs(X, m, netOutJs)));
    let kernel = 0;
    if (kernelFirst) kernel = kernelRun();
    const js = jsRun();
    if (!kernelFirst) kernel = kernelRun();
    for (let i = 0; i < m * network!.heads.length; i++) netMaxDiff = Math.max(netMaxDiff, Math.abs(netOut[i]! - netOutJs[i]!));
    return [kernel, js] as const;
  };
  const perHead: number[] = [];
  const fused: number[] = [];
  let differ = 0;
  let compared = 0;
  let raw = new Float64Array(0);
  let fusedRaw = new Float64Array(0);
  const perHeadKernel = (X: Float32Array, n: number, heads: number[], into: Float64Array) => {
    for (let j = 0; j < heads.length; j++) boosters[heads[j]!]!.predictRaw(X, n, into.subarray(j * n, (j + 1) * n));
  };
  const both = (X: Float32Array, n: number, first: 'old' | 'new') => {
    const m = Math.min(n, EXPLAINED_CANDIDATES);
    if (raw.length < n * boosters.length) {
      raw = new Float64Array(n * boosters.length);
      fusedRaw = new Float64Array(n * boosters.length);
    }
    let old = 0;
    let neu = 0;
    for (const which of first === 'old' ? ['old', 'new'] : ['new', 'old']) {
      const t = performance.now();
      if (which === 'old') {
        perHeadKernel(X, n, loud, raw);
        perHeadKernel(X, m, silent, raw.subarray(n * loud.length));
        old = performance.now() - t;
      } else {
        forest!.predictRaw(X, n, loud, fusedRaw);
        forest!.predictRaw(X, m, silent, fusedRaw.subarray(n * loud.length));
        neu = performance.now() - t;
      }
    }
    const total = n * loud.length + m * silent.length;
    for (let i = 0; i < total; i++) if (!Object.is(raw[i], fusedRaw[i])) differ++;
    compared += total;
    return [old, neu] as const;
  };
  // The same model without the cascade (every tree on every candidate), when the model has one.
  const cascadeOn = config.rank.cascade.enabled && model.heads.some((h) => h.firstPass);
  const full = cascadeOn ? new HeavyRanker({ ...config.rank, cascade: { ...config.rank.cascade, enabled: false } }) : undefined;
  full?.setModel(model, registry, scoreTerms(model.heads, config.rank, engine.state, (id) => engine.store.userIndex(id)));
  const noCascade: number[] = [];
  // With a network (rank.mlp): the same model's trees alone (their calibrators were fitted on
  // the blend, so only the time compares), alternately first.
  const shares = networkShares(model);
  const treesAlone = shares ? new HeavyRanker(config.rank) : undefined;
  treesAlone?.setModel({ ...model, mlp: undefined }, registry, scoreTerms(model.heads, config.rank, engine.state, (id) => engine.store.userIndex(id)));
  const noNet: number[] = [];
  // --budgets: the same model on a smaller share of the light ranker's order.
  const smaller = budgets.map((b) => {
    const ranker = new HeavyRanker({ ...config.rank, maxCandidates: b });
    ranker.setModel(model, registry, scoreTerms(model.heads, config.rank, engine.state, (id) => engine.store.userIndex(id)));
    return { budget: b, ranker, ms: [] as number[], kept: 0 };
  });
  let agree = 0;
  let scored = 0;
  let retrieved = 0;
  let buf = new Float32Array(0);
  const familyMs = new Float64Array(registry.layout.length);
  // The stage as it runs in a server: the same requests first on their own — sources, fusion,
  // the heavy ranker, nothing else between them. In the comparison loop below, the full model and
  // the trees alone score copies of the same candidates in between: three scorings' garbage and
  // evictions per request, which land in the served scoring's time too.
  const alone: number[] = [];
  for (let i = 0; i < n + 20; i++) {
    const user = users[(i * 7919) % users.length]!;
    const q = engine.requestQuery(user);
    const candidates = await engine.retrieve(user);
    engine.fusion.score(q, candidates);
    const t = performance.now();
    engine.ranker.score(q, candidates);
    if (i >= 20) alone.push(performance.now() - t);
  }
  for (let i = 0; i < n + 20; i++) {
    const user = users[(i * 7919) % users.length]!;
    const q = engine.requestQuery(user);
    const candidates = await engine.retrieve(user);
    const t0 = performance.now();
    engine.fusion.score(q, candidates);
    const t1 = performance.now();
    // The ranker as configured (with its cascade) and without the cascade, on copies of the
    // same candidates, alternately first.
    const copy = full ? candidates.map((c) => ({ ...c })) : [];
    let fullMs = 0;
    const withoutCascade = () => {
      const s = performance.now();
      full!.score(q, copy);
      fullMs = performance.now() - s;
    };
    let noNetMs = 0;
    const copy2 = treesAlone ? candidates.map((c) => ({ ...c })) : [];
    const withoutNet = () => {
      const s = performance.now();
      treesAlone!.score(q, copy2);
      noNetMs = performance.now() - s;
    };
    // --budgets: each smaller budget on its own copy, before the served scoring on odd requests and after it on even ones.
    const budgetCopies = smaller.map(() => candidates.map((c) => ({ ...c })));
    const budgetMs = new Float64Array(smaller.length);
    const withBudgets = () =>
      smaller.forEach((b, k) => {
        const s = performance.now();
        b.ranker.score(q, budgetCopies[k]!);
        budgetMs[k] = performance.now() - s;
      });
    if (i % 2 === 1) withBudgets();
    if (full && i % 2 === 1) withoutCascade();
    if (treesAlone && i % 2 === 1) withoutNet();
    const t1b = performance.now();
    engine.ranker.score(q, candidates);
    const t2 = performance.now();
    if (full && i % 2 === 0) withoutCascade();
    if (treesAlone && i % 2 === 0) withoutNet();
    if (i % 2 === 0) withBudgets();
    // Features alone, for the same candidates the heavy ranker saw.
    const top = candidates.filter((c) => c.lightRank !== undefined && c.lightRank <= config.rank.maxCandidates);
    if (buf.length < top.length * registry.width) buf = new Float32Array(top.length * registry.width);
    const t3 = performance.now();
    if (i === 20) familyMs.fill(0);
    registry.compute(q, top, buf, familyMs);
    const t4 = performance.now();
    const kernels = forest ? both(buf, top.length, i % 2 === 0 ? 'old' : 'new') : undefined;
    const netTimes = network ? bothNetworks(buf, top.length, i % 2 === 0) : undefined;
    if (i < 20) continue; // warm-up
    if (netTimes) {
      netKernel.push(netTimes[0]);
      netJs.push(netTimes[1]);
    }
    if (kernels) {
      perHead.push(kernels[0]);
      fused.push(kernels[1]);
    }
    light.push(t1 - t0);
    heavy.push(t2 - t1b);
    if (treesAlone) noNet.push(noNetMs);
    if (smaller.length > 0) {
      const page = new Set(topByScore(candidates, 20));
      smaller.forEach((b, k) => {
        b.ms.push(budgetMs[k]!);
        b.kept += topByScore(budgetCopies[k]!, 20).filter((x) => page.has(x)).length / Math.max(1, page.size);
      });
    }
    if (full) {
      noCascade.push(fullMs);
      const mine = new Set(topByScore(candidates, 10));
      agree += topByScore(copy, 10).filter((x) => mine.has(x)).length / 10;
    }
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
    `\nheavy ranker: ${platform}, ${n} requests (node ${process.version}); ${model.heads.length} heads (${model.heads.map((h) => `${h.name} ${h.model.trees.length}`).join(', ')} trees), ${registry.width} features\n\n` +
      `${table([
        row('baseline: light ranker (source fusion), all candidates', light),
        row(`heavy ranker as served${cascadeOn ? `: cascade, first pass ${config.rank.cascade.treeShare} of the trees, the rest on its best ${config.rank.cascade.keep}` : ''} (features + heads + formula), requests one after another`, alone),
        row(`  the same in the comparison loop (other scorings of the request's candidates in between)`, heavy),
        ...(full ? [row('heavy ranker without the cascade: every tree on every candidate', noCascade)] : []),
        ...(treesAlone ? [row(`heavy ranker without the network (its share per head ${Array.from(shares!, (b, k) => `${model.heads[k]!.name} ${b}`).join(', ')}; layers ${model.mlp!.model.sizes.join('-')}): the trees alone`, noNet)] : []),
        row('  features alone, computed again right after on the same candidates (data the ranker just read; the post rows it just cached)', features),
      ])}\n\n` +
      (treesAlone ? `the network costs ${(p50(heavy) - p50(noNet)).toFixed(2)} ms at p50 (${(p50(heavy) / p50(noNet)).toFixed(2)}× the trees alone)\n` : '') +
      (smaller.length > 0
        ? `smaller budgets (rank.maxCandidates), each on a copy of the same candidates, alternately before and after the served scoring; kept = share of the served ranker's top 20 by score (before the mixer) in the budget's top 20:\n\n${table([
            { budget: config.rank.maxCandidates, ...row('served', heavy), kept: '100%' },
            ...smaller.map((b) => ({ budget: b.budget, ...row(`rank.maxCandidates ${b.budget}`, b.ms), kept: `${((100 * b.kept) / n).toFixed(1)}%` })),
          ].map(({ stage, ...rest }) => ({ scorer: stage, ...rest })))}\n\n`
        : '') +
      (full ? `cascade: ${(p50(noCascade) / p50(heavy)).toFixed(2)}× faster at p50; its top 10 (by score) shares ${((100 * agree) / n).toFixed(1)}% with the full model's; on the training's test groups: ${JSON.stringify(r.cascade)}\n\n` : '') +
      `candidates per request: ${(retrieved / n).toFixed(0)} retrieved, ${(scored / n).toFixed(0)} scored by the heavy ranker (rank.maxCandidates ${config.rank.maxCandidates}); ` +
      `heavy (as served) / light p50: ${(p50(alone) / p50(light)).toFixed(1)}×; RSS ${mb(process.memoryUsage().rss)}\n\n` +
      `feature families (mean ms per request in that second computation, share of its time):\n\n` +
      `${table(registry.layout.map(({ family, width }, k) => ({ family: family.name, columns: width, 'mean ms': familyMs[k]! / n, share: `${((100 * familyMs[k]!) / Math.max(1e-9, familyMs.reduce((a, b) => a + b, 0))).toFixed(1)}%` })))}\n`,
  );
  if (forest) {
    const p99 = (x: number[]) => percentile([...x].sort((a, b) => a - b), 99);
    process.stdout.write(
      `\ntree kernels on the same feature rows, alternately first (${loud.length} heads with weight ≠ 0 on all rows: ${loud.map((k) => `${model.heads[k]!.name} ${boosters[k]!.numTrees}`).join(', ')} trees; ${silent.length ? `${silent.map((k) => model.heads[k]!.name).join(', ')} on ${EXPLAINED_CANDIDATES} rows` : 'no silent heads'}):\n\n` +
        `${table([row('per-head WebAssembly walk (GbdtModel.predictRaw)', perHead), row(`compiled forest, all heads in one pass (${forest.kernel})`, fused)].map(({ stage, ...rest }) => ({ kernel: stage, ...rest })))}\n\n` +
        `per-head / forest: p50 ${(p50(perHead) / p50(fused)).toFixed(2)}×, p99 ${(p99(perHead) / p99(fused)).toFixed(2)}×; scores that differ: ${differ} of ${compared.toLocaleString('en-US')}\n`,
    );
  }
  if (network) {
    const p99 = (x: number[]) => percentile([...x].sort((a, b) => a - b), 99);
    process.stdout.write(
      `\nthe network's forward pass (${network.sizes.join('-')}, input encoding included) on each request's first ${config.rank.cascade.keep} feature rows, alternately first:\n\n` +
        `${table([row('WebAssembly SIMD (dense-kernel.ts)', netKernel), row('JavaScript loop (predictRawJs)', netJs)].map(({ stage, ...rest }) => ({ path: stage, ...rest })))}\n\n` +
        `JavaScript / WebAssembly: p50 ${(p50(netJs) / p50(netKernel)).toFixed(2)}×, p99 ${(p99(netJs) / p99(netKernel)).toFixed(2)}×; largest logit difference ${netMaxDiff.toExponential(2)}\n`,
    );
  }
  await engine.close();
}
