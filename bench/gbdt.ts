/**
 * `npm run bench -- gbdt [--file path.csv] [--label click] [--rounds 200] [--leaves 63] [--lr 0.1]
 *   [--min-data 20] [--threads 2,1] [--no-peer]`
 *
 * Our histogram GBDT (models/gbdt) against LightGBM on the same training-set CSV, in the same
 * run: the rows are sorted by `t`, the last 20% are the validation rows, both learners train a
 * binary model on `label_<label>` (default: the first label column with >= 1% positives) with
 * the same settings (num_leaves, learning_rate, rounds, min_data_in_leaf 20,
 * min_sum_hessian 1e-3, lambda_l2 1, max_bin 255, no bagging, all features), once per entry
 * of `--threads` (default "2,1": LightGBM's 2 OpenMP threads degrade badly when other processes
 * share the two cores, so the 1-thread pair is the steadier comparison). Prints rows, features, positives, fit seconds (wall and CPU: the
 * machine may be shared, and busy-waiting OpenMP threads suffer most from that), validation
 * AUC and log loss, prediction throughput, and the ratios.
 *
 * LightGBM runs from a Python virtual environment in `.bench/venv` (created and filled with
 * `pip install lightgbm numpy pandas` on first use) with a script written to a temp file. When
 * Python or the install fails the bench says "skipped LightGBM: <reason>" and prints ours.
 *
 * Without `--file` it generates (once) a synthetic CSV of 500k rows × 60 features into
 * `.bench/gbdt-synthetic.csv` (see `writeSyntheticCsv` for the mix of features).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { mix32, Rng } from '../src/eval/prng.js';
import { trainGbdt } from '../src/models/gbdt/booster.js';
import type { GbdtModel } from '../src/models/gbdt/model.js';
import { readTrainingCsv } from '../src/models/gbdt/csv.js';
import { logLoss, rocAuc } from '../src/models/gbdt/metrics.js';
import { mb, percentile, table } from './report.js';

interface PeerResult {
  threads: number;
  fit_seconds: number;
  fit_cpu_seconds: number;
  auc: number;
  logloss: number;
  predict_seconds: number;
  version: string;
}

export async function gbdtBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      file: { type: 'string' },
      label: { type: 'string' },
      rounds: { type: 'string', default: '200' },
      leaves: { type: 'string', default: '63' },
      lr: { type: 'string', default: '0.1' },
      'min-data': { type: 'string', default: '20' },
      threads: { type: 'string', default: '2,1' },
      dir: { type: 'string', default: '.bench' },
      'no-peer': { type: 'boolean', default: false },
    },
  });
  const rounds = Number(values.rounds);
  const leaves = Number(values.leaves);
  const lr = Number(values.lr);
  const minData = Number(values['min-data']);
  const threadCounts = values.threads!.split(',').map(Number);
  if (threadCounts.some((x) => x !== 1 && x !== 2)) throw new Error(`--threads: a list of 1 and 2, got ${values.threads}`);
  const lambdaL2 = 1;
  mkdirSync(values.dir!, { recursive: true });
  let file = values.file;
  let synthetic = false;
  if (!file) {
    synthetic = true;
    file = join(values.dir!, 'gbdt-synthetic.csv');
    if (!existsSync(file)) {
      const t0 = performance.now();
      writeSyntheticCsv(file, 500_000, 7);
      process.stderr.write(`generated ${file} (${mb(statSync(file).size)}) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    }
  }

  // Read and split by time.
  let t = performance.now();
  const csv = readTrainingCsv(file);
  const readSeconds = (performance.now() - t) / 1000;
  const n = csv.numRows;
  const d = csv.featureNames.length;
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => csv.time[a]! - csv.time[b]! || a - b);
  const trainN = Math.floor(n * 0.8);
  const validN = n - trainN;
  const X = new Float32Array(n * d);
  for (let i = 0; i < n; i++) X.set(csv.features.subarray(order[i]! * d, (order[i]! + 1) * d), i * d);
  let head = values.label?.replace(/^label_/, '');
  const positivesOf = (y: Float32Array) => y.reduce((s, v) => s + (v > 0.5 ? 1 : 0), 0);
  if (head === undefined) head = csv.heads.find((_, k) => positivesOf(csv.labels[k]!) >= 0.01 * n);
  const k = head === undefined ? -1 : csv.heads.indexOf(head);
  if (k < 0) throw new Error(head === undefined ? `no label column with >= 1% positives (labels: ${csv.heads.join(', ') || 'none'})` : `--label: no column label_${head} (labels: ${csv.heads.join(', ')})`);
  const y = Float32Array.from(order, (r) => csv.labels[k]![r]!);
  for (let i = 0; i < n; i++) if (!(y[i]! >= 0 && y[i]! <= 1)) throw new Error(`label_${head}: row ${order[i]! + 2} of ${file} has ${y[i]} (expected 0/1)`);
  const yTrain = y.subarray(0, trainN);
  const yValid = y.subarray(trainN);
  const XTrain = X.subarray(0, trainN * d);
  const XValid = X.subarray(trainN * d);
  process.stderr.write(`read ${n.toLocaleString('en-US')} rows × ${d} features in ${readSeconds.toFixed(1)} s${synthetic ? ' (synthetic)' : ''}; training ours\n`);

  // Ours, once per thread count (no per-round training metric: LightGBM computes none either).
  const runs: { threads: number; fit: number; cpu: number; auc: number; logloss: number; rowsPerSecond: number; model: GbdtModel }[] = [];
  for (const threads of threadCounts) {
    process.stderr.write(`training ours (${threads} thread${threads > 1 ? 's' : ''})\n`);
    t = performance.now();
    const cpu0 = process.cpuUsage();
    const model = trainGbdt(
      { features: XTrain, numRows: trainN, featureNames: csv.featureNames, labels: yTrain },
      { objective: 'binary', numRounds: rounds, numLeaves: leaves, learningRate: lr, minDataInLeaf: minData, lambdaL2, minSumHessianInLeaf: 1e-3, maxBin: 255, seed: 1, numThreads: threads, recordTrainMetric: false },
      { onProgress: (i, total) => i > 0 && i % 50 === 0 && process.stderr.write(`  round ${i}/${total}, ${((performance.now() - t) / 1000).toFixed(1)} s\n`) },
    );
    const fit = (performance.now() - t) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const pValid = new Float64Array(validN);
    t = performance.now();
    model.predictProba(XValid, validN, pValid);
    const rowsPerSecond = validN / ((performance.now() - t) / 1000);
    runs.push({ threads, fit, cpu: (cpu.user + cpu.system) / 1e6, auc: rocAuc(pValid, yValid), logloss: logLoss(pValid, yValid), rowsPerSecond, model });
  }
  const model = runs[0]!.model;
  // Serving shape: 1,000 candidates per call, with this model and with a 200 × 31-leaf one
  // (trained on the first 50k rows: the latency depends on the trees' shape, not their quality).
  const servingModel = trainGbdt(
    { features: XTrain.subarray(0, Math.min(trainN, 50_000) * d), numRows: Math.min(trainN, 50_000), featureNames: csv.featureNames, labels: yTrain.subarray(0, Math.min(trainN, 50_000)) },
    { numRounds: 200, numLeaves: 31, learningRate: lr, minDataInLeaf: minData, numThreads: 1, recordTrainMetric: false },
  );
  const batch = Math.min(1000, validN);
  const latency = (m: GbdtModel) => {
    const out = new Float64Array(batch);
    const lat: number[] = [];
    for (let rep = 0; rep < 220; rep++) {
      const start = ((rep * 7919) % Math.max(1, validN - batch)) * d;
      const t0 = performance.now();
      m.predictRaw(XValid.subarray(start, start + batch * d), batch, out);
      if (rep >= 20) lat.push(performance.now() - t0);
    }
    return lat.sort((a, b) => a - b);
  };
  const lat = latency(model);
  const latServing = latency(servingModel);
  const totalLeaves = model.trees.reduce((s, tr) => s + tr.numLeaves, 0);

  // LightGBM, same thread counts.
  let peers: PeerResult[] = [];
  let skipped: string | undefined;
  if (values['no-peer']) skipped = '--no-peer';
  else {
    process.stderr.write(`training LightGBM (Python; ${threadCounts.join(', ')} threads)\n`);
    try {
      peers = runLightGbm(values.dir!, resolve(file), head!, { rounds, leaves, lr, minData, lambdaL2, threads: threadCounts });
    } catch (e) {
      skipped = (e as Error).message;
    }
  }

  const positives = positivesOf(y);
  process.stdout.write(
    `\ngbdt: ${synthetic ? 'SYNTHETIC data (no --file): ' : ''}${file} — ${n.toLocaleString('en-US')} rows (${trainN.toLocaleString('en-US')} train, ${validN.toLocaleString('en-US')} validation = latest 20% by t), ${d} features, label_${head}: ${positives.toLocaleString('en-US')} positives (${((100 * positives) / n).toFixed(2)}%)\n` +
      `settings: binary, ${rounds} rounds, ${leaves} leaves, learning rate ${lr}, min_data_in_leaf ${minData}, lambda_l2 ${lambdaL2}, max_bin 255, no bagging (node ${process.version}, ${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(1)} at the end)\n\n`,
  );
  const rows: Record<string, string | number>[] = [];
  for (const r of runs) {
    rows.push({ learner: 'lenta gbdt (ours)', threads: r.threads, 'fit s': r.fit, 'fit cpu s': r.cpu, 'valid AUC': r.auc.toFixed(5), 'valid logloss': r.logloss.toFixed(5), 'predict rows/s': Math.round(r.rowsPerSecond) });
    const peer = peers.find((x) => x.threads === r.threads);
    if (peer) rows.push({ learner: `LightGBM ${peer.version}`, threads: peer.threads, 'fit s': peer.fit_seconds, 'fit cpu s': peer.fit_cpu_seconds, 'valid AUC': peer.auc.toFixed(5), 'valid logloss': peer.logloss.toFixed(5), 'predict rows/s': Math.round(validN / peer.predict_seconds) });
  }
  process.stdout.write(`${table(rows)}\n\n`);
  for (const r of runs) {
    const peer = peers.find((x) => x.threads === r.threads);
    if (peer) process.stdout.write(`${r.threads} thread${r.threads > 1 ? 's' : ''}: fit time ratio ours / LightGBM ${(r.fit / peer.fit_seconds).toFixed(2)}× (CPU ${(r.cpu / peer.fit_cpu_seconds).toFixed(2)}×); AUC ours − LightGBM ${(r.auc - peer.auc >= 0 ? '+' : '') + (r.auc - peer.auc).toFixed(5)}\n`);
  }
  if (skipped) process.stdout.write(`skipped LightGBM: ${skipped}\n`);
  process.stdout.write(
    `ours: ${model.numTrees} trees, ${totalLeaves.toLocaleString('en-US')} leaves; scoring ${batch} rows × ${d} features: p50 ${percentile(lat, 50).toFixed(2)} ms, p99 ${percentile(lat, 99).toFixed(2)} ms (min ${lat[0]!.toFixed(2)}); ` +
      `with ${servingModel.numTrees} trees × 31 leaves: p50 ${percentile(latServing, 50).toFixed(2)} ms, p99 ${percentile(latServing, 99).toFixed(2)} ms (min ${latServing[0]!.toFixed(2)}); CSV read ${readSeconds.toFixed(1)} s\n` +
      `top features (gain): ${(model.report?.importance ?? []).slice(0, 8).map((x) => x.feature).join(', ')}\n`,
  );
}

const PEER_SCRIPT = String.raw`
import json, sys, time
import numpy as np, pandas as pd, lightgbm as lgb
from scipy.stats import rankdata
path, label, rounds, leaves, lr, min_data, l2, threads = sys.argv[1:9]
threads = [int(x) for x in threads.split(',')]
df = pd.read_csv(path, dtype={'user': str, 'item': str})
df = df.sort_values('t', kind='stable').reset_index(drop=True)
n = len(df)
ntrain = int(n * 0.8)
feats = [c for c in df.columns if c not in ('t', 'user', 'item', 'group') and not c.startswith('label_')]
X = df[feats].to_numpy(dtype=np.float32)
y = df['label_' + label].to_numpy(dtype=np.float64)
yv = y[ntrain:]
pos = yv > 0.5
P = pos.sum(); N = len(yv) - P
results = []
for th in threads:
    params = dict(objective='binary', num_leaves=int(leaves), learning_rate=float(lr), min_data_in_leaf=int(min_data),
                  min_sum_hessian_in_leaf=1e-3, lambda_l2=float(l2), max_bin=255, feature_fraction=1.0,
                  bagging_fraction=1.0, bagging_freq=0, num_threads=th, verbose=-1, seed=1, bin_construct_sample_cnt=200000)
    t0 = time.perf_counter()
    c0 = time.process_time()
    booster = lgb.train(params, lgb.Dataset(X[:ntrain], y[:ntrain]), num_boost_round=int(rounds))
    fit = time.perf_counter() - t0
    fit_cpu = time.process_time() - c0
    t0 = time.perf_counter()
    p = booster.predict(X[ntrain:])
    pred = time.perf_counter() - t0
    r = rankdata(p)
    auc = (r[pos].sum() - P * (P + 1) / 2) / (P * N)
    q = np.clip(p, 1e-15, 1 - 1e-15)
    ll = float(-np.mean(yv * np.log(q) + (1 - yv) * np.log(1 - q)))
    results.append(dict(threads=th, fit_seconds=fit, fit_cpu_seconds=fit_cpu, auc=float(auc), logloss=ll, predict_seconds=pred, version=lgb.__version__))
print(json.dumps(results))
`;

function runLightGbm(dir: string, csvPath: string, label: string, s: { rounds: number; leaves: number; lr: number; minData: number; lambdaL2: number; threads: number[] }): PeerResult[] {
  const venv = resolve(dir, 'venv');
  const python = join(venv, 'bin', 'python');
  const run = (cmd: string, args: string[], timeoutMs: number) => spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (!existsSync(python)) {
    const r = run('python3', ['-m', 'venv', venv], 120_000);
    if (r.error || r.status !== 0) throw new Error(`python3 -m venv failed: ${(r.error?.message ?? r.stderr).trim().split('\n').pop()}`);
  }
  if (run(python, ['-c', 'import lightgbm, numpy, pandas, scipy'], 60_000).status !== 0) {
    process.stderr.write('installing lightgbm numpy pandas into .bench/venv\n');
    const r = run(join(venv, 'bin', 'pip'), ['install', '--quiet', 'lightgbm', 'numpy', 'pandas'], 900_000);
    if (r.error || r.status !== 0) throw new Error(`pip install lightgbm numpy pandas failed: ${(r.error?.message ?? r.stderr).trim().split('\n').pop()}`);
  }
  const script = join(tmpdir(), `lenta-gbdt-peer-${process.pid}.py`);
  writeFileSync(script, PEER_SCRIPT);
  try {
    const r = run(python, [script, csvPath, label, String(s.rounds), String(s.leaves), String(s.lr), String(s.minData), String(s.lambdaL2), s.threads.join(',')], 3_600_000);
    if (r.error || r.status !== 0) throw new Error(`LightGBM script failed: ${(r.error?.message ?? r.stderr).trim().split('\n').slice(-3).join(' | ')}`);
    const last = r.stdout.trim().split('\n').pop() ?? '';
    return JSON.parse(last) as PeerResult[];
  } finally {
    rmSync(script, { force: true });
  }
}

/**
 * A synthetic training set shaped like `lenta train export`'s: t, user, item, group, two
 * labels, 60 features. Feature mix (logit contributions in brackets):
 *   inf_0..9     standard normal, linear [weights 0.8 … 0.08]; inf_0's weight drifts up over t
 *   int_0..9     uniform [0, 1), only in interactions: XOR of (int_0 > .5, int_1 > .5) [±0.9],
 *                int_2·int_3 [1.5], a bump where int_4 and int_5 are both in the middle [0.8],
 *                max(int_6, int_7) > 0.8 [0.5]; int_8, int_9 unused
 *   cat_0..4     integer codes 0..(4·j + 3) with a fixed random effect per code [±0.4]
 *   miss_0..4    normal, 30% missing; missing itself is the signal for miss_0/1 [+0.7, −0.5],
 *                the value for miss_2/3 [0.4], miss_4 pure noise
 *   count_0..4   heavy-tailed counts floor(e^{1.5 z}), effect 0.3·log1p(count) for count_0..2
 *   noise_0..24  standard normal noise, 5% missing in every fifth one
 * label_click ~ Bernoulli(σ(logit − 2.3)) (36% positives), label_like ~ Bernoulli(σ(0.8·logit − 4.2)) (9%).
 */
export function writeSyntheticCsv(path: string, n: number, seed: number): void {
  const rng = new Rng(seed);
  const names = [
    ...Array.from({ length: 10 }, (_, i) => `inf_${i}`),
    ...Array.from({ length: 10 }, (_, i) => `int_${i}`),
    ...Array.from({ length: 5 }, (_, i) => `cat_${i}`),
    ...Array.from({ length: 5 }, (_, i) => `miss_${i}`),
    ...Array.from({ length: 5 }, (_, i) => `count_${i}`),
    ...Array.from({ length: 25 }, (_, i) => `noise_${i}`),
  ];
  const catEffect = Array.from({ length: 5 }, (_, j) => Array.from({ length: 4 * j + 4 }, () => (rng.next() * 2 - 1) * 0.4));
  const fd = openSync(path + '.tmp', 'w');
  let buf = `t,user,item,group,label_click,label_like,${names.join(',')}\n`;
  const t0 = 1_700_000_000_000;
  const x = new Float64Array(60);
  const fmt = (v: number) => (Number.isNaN(v) ? '' : Number.isInteger(v) ? String(v) : v.toFixed(4));
  for (let i = 0; i < n; i++) {
    // Nearly time-ordered: rows are written with a jitter of a few seconds.
    const t = t0 + i * 1000 + Math.floor(rng.next() * 8000);
    const drift = i / n;
    let logit = 0;
    for (let j = 0; j < 10; j++) {
      x[j] = rng.normal();
      logit += (j === 0 ? 0.8 + 0.6 * drift : 0.8 / (j + 1)) * x[j]!;
    }
    for (let j = 10; j < 20; j++) x[j] = rng.next();
    logit += (x[10]! > 0.5 !== x[11]! > 0.5 ? 0.9 : -0.9) + 1.5 * x[12]! * x[13]! + (Math.abs(x[14]! - 0.5) < 0.2 && Math.abs(x[15]! - 0.5) < 0.2 ? 0.8 : 0) + (Math.max(x[16]!, x[17]!) > 0.8 ? 0.5 : 0);
    for (let j = 0; j < 5; j++) {
      const code = rng.int(4 * j + 4);
      x[20 + j] = code;
      logit += catEffect[j]![code]!;
    }
    for (let j = 0; j < 5; j++) {
      const missing = rng.next() < 0.3;
      const v = rng.normal();
      x[25 + j] = missing ? NaN : v;
      if (j === 0 && missing) logit += 0.7;
      if (j === 1 && missing) logit -= 0.5;
      if ((j === 2 || j === 3) && !missing) logit += 0.4 * v;
    }
    for (let j = 0; j < 5; j++) {
      const c = Math.floor(Math.exp(1.5 * rng.normal()));
      x[30 + j] = c;
      if (j < 3) logit += 0.3 * Math.log1p(c);
    }
    for (let j = 0; j < 25; j++) x[35 + j] = j % 5 === 0 && rng.next() < 0.05 ? NaN : rng.normal();
    const click = rng.next() < 1 / (1 + Math.exp(-(logit - 2.3))) ? 1 : 0;
    const like = rng.next() < 1 / (1 + Math.exp(-(0.8 * logit - 4.2))) ? 1 : 0;
    let line = `${t},u${mix32(i) % 50_000},i${mix32(i + 7) % 200_000},${Math.floor(i / 20)},${click},${like}`;
    for (let j = 0; j < 60; j++) line += ',' + fmt(x[j]!);
    buf += line + '\n';
    if (buf.length > 1 << 22) {
      writeSync(fd, buf);
      buf = '';
    }
  }
  writeSync(fd, buf);
  closeSync(fd);
  // A finished file only appears under its final name.
  renameSync(path + '.tmp', path);
}
