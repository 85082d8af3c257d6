/**
 * The full For You request at scale, over real HTTP: `lenta serve` in its own process on a
 * synthetic platform (default 100k users / 1M posts / 10M events — the candidates bench's
 * `bench` platform, same database file), loaded by a concurrent closed-loop client
 * (node:http, keep-alive, `--concurrency` connections, `--requests` timed requests after a
 * warm-up) asking `GET /v1/users/:id/feed?limit=20&explain=false` for random active users.
 * Baseline in the same run: `GET /health` with the same client and concurrency (the HTTP
 * floor of this machine and framework). Prints p50/p99/mean latency, requests/s, the
 * server's RSS, the CPU a feed request costs (the server's process tree and the client, from
 * /proc, over the timed run), the candidates entering scoring per request (from a separate
 * `explain=true` sample, not timed) and that sample's per-stage times; `--json` ends the output with one
 * JSON line {p50_ms, p99_ms, rps, rss_mb, candidates_per_request, requests}.
 *
 * The database (and its trained source indexes, `<db>.models/`) is built once per scale and
 * reused; each run serves a throwaway copy of it, so the impressions the run logs never change
 * the shared file. `--db F` serves a copy of an existing database instead.
 *
 * Flags: --users/--posts/--events (the scale; other than the default, the simulator's volume
 * knobs are fitted to it), --requests (10,000), --concurrency (32), --warmup (500), --sample
 * (1,000 explain=true requests, one at a time: the per-stage p99 of 200 would be the 2nd-slowest), --dir (.bench), --db, --json, --cpu-prof DIR (the server's CPU
 * profile, written when it exits), --workers N (`lenta serve --workers N`: the writer process and
 * N serving processes; RSS is then their sum), --rate R[,R…] (after the closed loop, an open-loop
 * run per rate: Poisson arrivals at R req/s for --rate-seconds (30), latency from each request's
 * scheduled send — the latency at a given traffic, which the closed loop's queue hides; the JSON
 * line then also holds `open_loop`), --overload U (the server's overload protection on, at
 * `feed.overload.utilization` U; off by default here: a closed loop keeps the server busy all
 * the time, and the benchmark measures the full request; --config FILE the server's config
 * (e.g. `{"rank":{"maxCandidates":300}}`: what a smaller heavy-ranker budget serves; the overload
 * setting above is laid over it); --overload-window MS its window,
 * --shed-after MS and --queue-concurrency N its admission queue's `shedAfterMs` and
 * `concurrency`; 503 answers are counted as shed, not as errors).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { basename, join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { configInput, mergeDeep, parseConfig } from '../src/domain/config.js';
import { EventTypeRegistry } from '../src/domain/event-types.js';
import { Engine } from '../src/engine.js';
import { SIM_PRESETS, simulate, type SimOptions } from '../src/sim/index.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { EDGE_KIND_CODES, LOG_EDGE, LOG_EVENT, type StoreCounts } from '../src/store/store.js';
import { mb, percentile, procStatus, table } from './report.js';
import { withServerHeapFlags } from '../src/server/node-flags.js';

/** The issue's scale; at exactly these numbers the platform is the `bench` preset (shared with `npm run bench -- candidates`). */
const DEFAULT_SCALE = { users: 100_000, posts: 1_000_000, events: 10_000_000 };

export async function feedBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      users: { type: 'string', default: String(DEFAULT_SCALE.users) },
      posts: { type: 'string', default: String(DEFAULT_SCALE.posts) },
      events: { type: 'string', default: String(DEFAULT_SCALE.events) },
      requests: { type: 'string', default: '10000' },
      concurrency: { type: 'string', default: '32' },
      warmup: { type: 'string', default: '500' },
      sample: { type: 'string', default: '1000' },
      dir: { type: 'string', default: '.bench' },
      db: { type: 'string' },
      json: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      workers: { type: 'string', default: '1' },
      rate: { type: 'string' },
      overload: { type: 'string' },
      'overload-window': { type: 'string' },
      'shed-after': { type: 'string' },
      'queue-concurrency': { type: 'string' },
      'rate-seconds': { type: 'string', default: '30' },
      config: { type: 'string' },
    },
  });
  const int = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: an integer ≥ ${min} expected, got ${v}`);
    return n;
  };
  const scale = { users: int('users', values.users, 2), posts: int('posts', values.posts, 1), events: int('events', values.events, 1) };
  const requests = int('requests', values.requests, 1);
  const concurrency = int('concurrency', values.concurrency, 1);
  const warmup = int('warmup', values.warmup, 0);
  const sampleSize = int('sample', values.sample, 0);
  const workers = int('workers', values.workers, 1);
  const rates = values.rate === undefined ? [] : values.rate.split(',').map((x) => {
    const r = Number(x);
    if (!(Number.isFinite(r) && r > 0)) throw new Error(`--rate: requests per second > 0 expected (comma-separated for several), got "${x}"`);
    return r;
  });
  const rateSeconds = int('rate-seconds', values['rate-seconds'], 1);
  // Overload protection (feed.overload) is off unless --overload U: a closed loop keeps the
  // server busy all the time (it would order nearly every request by the light ranker), and the
  // benchmark measures the full request.
  let overload: number | undefined;
  if (values.overload !== undefined) {
    overload = Number(values.overload);
    if (!(overload > 0 && overload <= 1)) throw new Error(`--overload: the event loop's busy share in (0, 1] above which the light ranker orders the feed expected, got ${values.overload}`);
  }
  const overloadWindow = values['overload-window'] === undefined ? undefined : int('overload-window', values['overload-window'], 10);
  const shedAfter = values['shed-after'] === undefined ? undefined : int('shed-after', values['shed-after'], 0);
  const queueConcurrency = values['queue-concurrency'] === undefined ? undefined : int('queue-concurrency', values['queue-concurrency'], 1);
  if ((overloadWindow !== undefined || shedAfter !== undefined || queueConcurrency !== undefined) && overload === undefined) {
    throw new Error('--overload-window, --shed-after and --queue-concurrency set the overload protection, which is off without --overload U');
  }
  // --config FILE: the server's config (e.g. a smaller rank.maxCandidates), checked here; the
  // bench's overload setting is laid over it.
  let serverConfig: Record<string, unknown> = {};
  if (values.config !== undefined) {
    serverConfig = configInput({ file: values.config, env: {} });
    parseConfig(serverConfig);
  }
  const log = (s: string) => process.stderr.write(`${s}\n`);
  mkdirSync(values.dir!, { recursive: true });

  // 1. The platform: built once per scale (generate + import + train the sources), then reused.
  let db: string;
  let platformNote: string;
  let buildNote = '';
  if (values.db) {
    db = values.db;
    if (!existsSync(db)) throw new Error(`--db ${db}: no such database`);
    platformNote = `existing database ${db}`;
  } else {
    const isDefault = scale.users === DEFAULT_SCALE.users && scale.posts === DEFAULT_SCALE.posts && scale.events === DEFAULT_SCALE.events;
    // The default scale is the candidates bench's platform, the very same file (bench/candidates.ts: `platform-bench.db`).
    db = join(values.dir!, isDefault ? 'platform-bench.db' : `platform-u${scale.users}-p${scale.posts}-e${scale.events}.db`);
    platformNote = isDefault ? `the \`bench\` preset (${db}, shared with \`npm run bench -- candidates\`)` : `derived from the \`bench\` preset for this scale (${db})`;
    if (!existsSync(db)) {
      const sim = isDefault ? { ...SIM_PRESETS.bench } : calibrate(scale, log);
      buildNote = await buildPlatform(db, sim, log);
    }
    const simFile = `${db}.sim.json`;
    if (existsSync(simFile)) {
      const sim = JSON.parse(readFileSync(simFile, 'utf8')) as SimOptions;
      platformNote += `; sim: ${sim.users.toLocaleString('en-US')} users, ${sim.days} days, ${round(sim.postsPerCreatorPerDay ?? NaN, 3)} posts/creator/day, ${round(sim.sessionsPerDay ?? NaN, 4)} sessions/user/day`;
    }
  }

  // 2. A throwaway copy to serve (the run logs ~20 impressions per request), with the shared indexes.
  const run = join(values.dir!, `feed-run-${process.pid}.db`);
  let child: ChildProcess | undefined;
  const cleanup = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const s of ['', '-wal', '-shm', '-journal']) rmSync(run + s, { force: true });
    rmSync(`${run}.models`, { force: true, recursive: true });
    rmSync(`${run}.config.json`, { force: true });
  };
  const onSignal = () => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let t = performance.now();
    for (const s of ['', '-wal']) if (existsSync(db + s)) copyFileSync(db + s, run + s);
    const models = `${db}.models`;
    mkdirSync(models, { recursive: true }); // the server trains into it what is missing (first run on a `--db`)
    symlinkSync(resolve(models), `${run}.models`, 'dir');
    const copySeconds = (performance.now() - t) / 1000;

    // 3. What is in the store, and the active users (follows or engagement history), from the log.
    t = performance.now();
    const { counts, active } = await readPlatform(run, join(values.dir!, `${basename(db)}.active-users.json`));
    log(`store: ${fmt(counts.users)} users, ${fmt(counts.items)} posts, ${fmt(counts.events)} events, ${fmt(counts.edges)} edges; ${fmt(active.length)} active users (read in ${((performance.now() - t) / 1000).toFixed(1)} s; copy ${copySeconds.toFixed(1)} s)`);
    if (active.length === 0) throw new Error('no active users in the store');

    // 4. The server, in its own process (`lenta serve`), as in production: its RSS is its own.
    t = performance.now();
    // Started like `bin/lenta.js serve`: no --input-type, which the server's worker threads would
    // inherit and refuse (the embedding source would then search its graph on the main thread).
    const main = JSON.stringify(new URL('../src/cli/main.js', import.meta.url).href);
    const script = `import(${main}).then((m) => m.main(process.argv.slice(1))).then((code) => { process.exitCode = code; }, (err) => { console.error(err); process.exitCode = 1; });`;
    // `--cpu-prof DIR`: the server's CPU profile (start to exit, replay included) written to DIR.
    const prof = values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${resolve(values['cpu-prof'])}`] : [];
    // Started with the flags `bin/lenta.js` gives a server (its young generation: server/node-flags.ts).
    const serverFlags = withServerHeapFlags(prof);
    writeFileSync(`${run}.config.json`, JSON.stringify(mergeDeep(serverConfig, { feed: { overload: overload === undefined ? { enabled: false } : { enabled: true, utilization: overload, ...(overloadWindow ? { windowMs: overloadWindow } : {}), ...(shedAfter !== undefined ? { shedAfterMs: shedAfter } : {}), ...(queueConcurrency ? { concurrency: queueConcurrency } : {}) } } })));
    const server = spawn(process.execPath, [...serverFlags, '-e', script, '--', 'serve', '--db', run, '--port', '0', '--workers', String(workers), '--config', `${run}.config.json`], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = server;
    let serverErr = '';
    let modelsLine = '';
    let replayLine = '';
    let partial = '';
    const warnings: string[] = [];
    server.stderr!.on('data', (d: Buffer) => {
      partial += d.toString();
      const lines = partial.split(/\r?\n|\r/);
      partial = lines.pop()!;
      for (const line of lines) {
        if (!line.trim()) continue;
        serverErr = `${serverErr}${line}\n`.slice(-4000);
        if (line.startsWith('lenta: models ')) modelsLine = line.slice('lenta: models '.length);
        if (line.startsWith('replay log') && / events, /.test(line)) replayLine = line;
        if (/error|fail|warn/i.test(line) && warnings.length < 10) warnings.push(line);
        log(`  [server] ${line}`);
      }
    });
    const base = await new Promise<string>((ok, fail) => {
      let out = '';
      server.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = / at (http:\/\/[^\s]+)/.exec(out);
        if (m) ok(m[1]!);
      });
      server.once('exit', (code, signal) => fail(new Error(`lenta serve exited (${code ?? signal}) before serving:\n${serverErr}`)));
    });
    const startSeconds = (performance.now() - t) / 1000;
    const trainedAtStart = /\(trained now\)/.test(modelsLine);
    const rssReady = treeStatus(server.pid!, 'VmRSS');
    log(`server ready in ${startSeconds.toFixed(1)} s at ${base}; models: ${modelsLine || 'none'}`);

    const url = new URL(base);
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
    const client = new Client(url.hostname, Number(url.port), agent);

    // Random active users from one seeded generator (warm-up, timed run and explain sample draw in turn).
    const rng = mulberry32(7);
    const pick = () => encodeURIComponent(active[Math.floor(rng() * active.length)]!);
    const feedPaths = (n: number, explain: boolean) => Array.from({ length: n }, () => `/v1/users/${pick()}/feed?limit=20&explain=${explain}`);

    // 5. Baseline: /health with the same client and concurrency.
    log(`baseline: GET /health, ${warmup} warm-up + ${requests} requests at concurrency ${concurrency}`);
    await client.load(Array(warmup).fill('/health'), concurrency);
    const health = await client.load(Array(requests).fill('/health'), concurrency);

    // 6. The feed: warm-up, then the timed run (explain=false: the fast path).
    log(`feed: ${warmup} warm-up + ${requests} requests at concurrency ${concurrency}`);
    await client.load(feedPaths(warmup, false), concurrency);
    // With several serving processes, /metrics holds every process's series (a `worker` label each): parseMetrics sums them.
    const before = parseMetrics(await client.text('/metrics'));
    const cpuBefore = treeCpu(server.pid!);
    const clientCpuBefore = process.cpuUsage();
    const feed = await client.load(feedPaths(requests, false), concurrency, (done, s) => log(`  ${fmt(done)}/${fmt(requests)} requests, ${s.toFixed(0)} s`));
    const cpuAfter = treeCpu(server.pid!);
    const clientCpu = process.cpuUsage(clientCpuBefore);
    const after = parseMetrics(await client.text('/metrics'));
    const rssLoaded = treeStatus(server.pid!, 'VmRSS');
    const delta = (name: string) => grew(before, after, name);

    // 6b. `--rate`: open-loop runs at the given arrival rates (after the closed loop, on the warm server).
    const open: { rate: number; result: LoadResult & { maxInFlight: number }; light: number; reduced: number }[] = [];
    if (rates.length > 0) {
      // Up to 1,024 connections: a cap the server can keep busy (every connection waiting up to
      // shedAfterMs) would move the backlog into this client, where the server cannot see it.
      const openAgent = new Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 1024 });
      const openClient = new Client(url.hostname, Number(url.port), openAgent);
      const arrivals = mulberry32(11);
      for (const rate of rates) {
        const n = Math.max(1, Math.round(rate * rateSeconds));
        log(`open loop: ${fmt(n)} requests at ${rate} req/s (Poisson arrivals, ${rateSeconds} s)`);
        const m0 = parseMetrics(await client.text('/metrics'));
        const result = await openClient.openLoad(feedPaths(n, false), rate, arrivals);
        const m1 = parseMetrics(await client.text('/metrics'));
        // Pages the overload protection ordered by the light ranker alone, and those whose heavy ranker scored only feed.overload.reducedBudget candidates.
        open.push({ rate, result, light: grew(m0, m1, 'lenta_feed_overloaded_total'), reduced: grew(m0, m1, 'lenta_feed_reduced_total') });
      }
      openAgent.destroy();
    }
    const rssPeak = treeStatus(server.pid!, 'VmHWM');

    // 7. Candidates per request and stage times: a separate explain=true sample, one request at a time.
    log(`explain sample: ${sampleSize} requests one at a time`);
    const sample = await client.load(feedPaths(sampleSize, true), 1, undefined, true);
    const stages = new Map<string, number[]>();
    const merged: number[] = [];
    const scored: number[] = [];
    let secondRounds = 0;
    for (const body of sample.bodies) {
      const timings = findTimings(body);
      if (!timings) continue;
      // The last merge: a request whose weighted sources left too few merges twice (the second
      // round, `sources unweighted`, fetches the sources the fusion weighs 0 too).
      const last = timings.findLastIndex((x) => x.stage === 'sources');
      const sources = last >= 0 ? timings[last]! : undefined;
      if (sources) merged.push(sources.count);
      if (timings.some((x) => x.stage === 'sources' && x.component === 'unweighted')) secondRounds++;
      // Entering scoring: what the first scorer saw (else the last merge minus what the filters after it removed).
      const firstScorer = timings.find((x) => x.stage === 'scorer');
      if (firstScorer && !firstScorer.error) scored.push(firstScorer.count);
      else if (sources) scored.push(sources.count - timings.slice(last).filter((x) => x.stage === 'filter').reduce((a, x) => a + x.count, 0));
      for (const x of timings) {
        const key = x.component ? `${x.stage} ${x.component}` : x.stage;
        if (!stages.has(key)) stages.set(key, []);
        stages.get(key)!.push(x.ms);
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    let candidates = scored.length > 0 ? mean(scored) : NaN;
    let candidatesNote = `${scored.length} explain=true requests: ${round(candidates, 1)} entering scoring, ${round(mean(merged), 1)} merged from the sources; ${secondRounds} of them fetched the sources the fusion weighs 0 in a second round`;
    if (scored.length === 0) {
      // No timings in the explain answers: the sources' yields from /metrics (before merging: overlaps counted twice).
      candidates = delta('lenta_source_candidates_total') / feed.completed;
      candidatesNote = `no stage timings in explain=true answers; /metrics lenta_source_candidates_total per timed request (before merging, overlaps counted per source): ${round(candidates, 1)}`;
    }

    const serverMetrics = parseMetrics(await client.text('/metrics'));
    const stateBytes = serverMetrics.get('lenta_state_bytes') ?? NaN;
    const healthBody = JSON.parse(await client.text('/health')) as Partial<StoreCounts>;
    agent.destroy();
    server.kill('SIGTERM');
    await new Promise<void>((ok) => {
      const timer = setTimeout(() => (server.kill('SIGKILL'), ok()), 30_000);
      server.once('exit', () => (clearTimeout(timer), ok()));
      if (server.exitCode !== null) (clearTimeout(timer), ok());
    });

    // 8. Report.
    const row = (label: string, r: LoadResult, c: number) => ({
      request: label,
      requests: r.completed,
      concurrency: c,
      'p50 ms': percentile(r.sorted, 50),
      'p99 ms': percentile(r.sorted, 99),
      'mean ms': mean(r.sorted),
      'req/s': r.rps.toFixed(1),
      errors: r.errors,
    });
    const rows = [row('baseline: GET /health', health, concurrency), row('GET /v1/users/:id/feed?limit=20&explain=false', feed, concurrency)];
    if (sample.completed > 0) rows.push(row('  unloaded: the same, one at a time (explain=true sample)', sample, 1));
    const openRows = open.map(({ rate, result: r, light, reduced }) => ({
      'offered req/s': rate,
      requests: r.completed,
      'served req/s': r.rps.toFixed(1),
      shed: `${((100 * r.shed) / Math.max(1, r.completed)).toFixed(1)}%`,
      'p50 ms': percentile(r.sorted, 50),
      'p99 ms': percentile(r.sorted, 99),
      '≤ 30 ms': `${((100 * r.sorted.filter((x) => x <= 30).length) / Math.max(1, r.sorted.length)).toFixed(1)}%`,
      'most in flight': r.maxInFlight,
      'light ranker only': `${((100 * light) / Math.max(1, r.sorted.length)).toFixed(1)}%`,
      'reduced budget': `${((100 * reduced) / Math.max(1, r.sorted.length)).toFixed(1)}%`,
      errors: r.errors,
    }));
    const lightClosed = delta('lenta_feed_overloaded_total');
    const stageRows = [...stages]
      .map(([stage, ms]) => {
        const s = [...ms].sort((a, b) => a - b);
        return { stage, 'p50 ms': percentile(s, 50), 'p99 ms': percentile(s, 99), 'mean ms': mean(s) };
      })
      .sort((a, b) => b['mean ms'] - a['mean ms']);
    const errors = feed.errors;
    const errorShare = errors / Math.max(1, feed.completed);
    const p50 = percentile(feed.sorted, 50);
    const p99 = percentile(feed.sorted, 99);
    const ready = trainedAtStart ? `trained at start: ${modelsLine}` : `loaded the saved models (${modelsLine || 'none'})`;
    const text =
      `\nfeed benchmark: \`lenta serve${workers > 1 ? ` --workers ${workers}` : ''}\`${values.config ? ` with --config ${values.config} (${JSON.stringify(serverConfig)})` : ''} (${workers > 1 ? `a writer and ${workers} serving processes` : 'own process'}; node ${serverFlags.filter((f) => !f.startsWith('--cpu-prof')).join(' ') || 'with no flags'}${process.env.NODE_OPTIONS ? `, NODE_OPTIONS=${process.env.NODE_OPTIONS}` : ''}) on ${platformNote}\n` +
      `store: ${fmt(counts.users)} users, ${fmt(counts.items)} posts, ${fmt(counts.events)} events, ${fmt(counts.edges)} follow/mute/block edges; requests over ${fmt(active.length)} active users (follows or engagements), seeded; closed loop, ${concurrency} keep-alive connections, ${warmup} warm-up requests per row (node ${process.version}, ${process.platform}/${process.arch})\n\n` +
      `${table(rows)}\n\n` +
      `feed / health: p50 ×${round(p50 / percentile(health.sorted, 50), 1)}, p99 ×${round(p99 / percentile(health.sorted, 99), 1)}, req/s ×${round(feed.rps / health.rps, 3)}; closed loop, so mean latency ≈ concurrency / req/s (${round((concurrency / feed.rps) * 1000, 1)} ms)\n` +
      `errors: ${errors} of ${fmt(feed.completed)} feed requests (${(errorShare * 100).toFixed(2)}%)${feed.errorSamples.length ? `: ${feed.errorSamples.join('; ')}` : ''}; shed (503, feed.overload.shedAfterMs): ${feed.shed}; degraded answers (a source failed or timed out, or overload): ${feed.degraded}; empty feeds: ${feed.empty}; source failures in /metrics: ${delta('lenta_source_failures_total')}${delta('lenta_source_failures_total') > 0 ? ` (${bySource(before, after, 'lenta_source_failures_total')}; feed.sourceTimeoutMs drops a source that has not answered in time)` : ''}; impression-log errors: ${delta('lenta_side_effect_errors_total')}\n` +
      `overload protection (feed.overload): ${overload === undefined ? 'off (--overload N turns it on): every answer is the full request' : `on, utilization ${overload}${overloadWindow ? `, windowMs ${overloadWindow}` : ''}: ${fmt(lightClosed)} of the closed loop's ${fmt(feed.completed)} requests were ordered by the light ranker alone and ${fmt(delta('lenta_feed_reduced_total'))} heavy-ranked with the reduced budget (feed.overload.reducedBudget), so its numbers (and the one-at-a-time sample's, whose back-to-back requests keep the server busy too) are not the full request's`}\n` +
      `candidates per request: ${candidatesNote}\n` +
      `server: ready in ${startSeconds.toFixed(1)} s — ${ready}${replayLine ? `; ${replayLine.replace(/\s+/g, ' ')}` : ''}${buildNote ? `\nplatform built in this run: ${buildNote}` : ''}\n` +
      (warnings.length > 0 ? `server warnings: ${warnings.join(' | ')}\n` : '') +
      cpuNote(cpuBefore, cpuAfter, (clientCpu.user + clientCpu.system) / 1000, feed.completed, workers) +
      `server memory: RSS ${mb(rssLoaded)} after the load (${mb(rssReady)} when ready, peak ${mb(rssPeak)}); online state ${mb(stateBytes)}${workers > 1 ? ' (summed over the serving processes)' : ''}${healthBody.events !== undefined ? `; store after the run: ${fmt(healthBody.events)} events (the run's impressions included; the copy is deleted)` : ''}\n` +
      (openRows.length > 0 ? `\nopen loop (--rate): Poisson arrivals at the offered rate, ${rateSeconds} s each, latency from each request's scheduled send (waits for a connection or behind a backlog included); served req/s, latency and the light-ordered share are of the pages served, shed the share answered 503 (feed.overload.shedAfterMs ${overload === undefined ? 'off' : (shedAfter ?? 'default')}):\n\n${table(openRows)}\n` : '') +
      (stageRows.length > 0 ? `\nstages of the explain=true sample (one request at a time, server-side ms, by mean):\n\n${table(stageRows)}\n` : '');
    process.stdout.write(text);
    if (feed.completed === 0 || errorShare > 0.01) {
      throw new Error(`feed benchmark failed: ${errors} of ${feed.completed} feed requests were errors (> 1%)${feed.errorSamples.length ? `, e.g. ${feed.errorSamples[0]}` : ''}`);
    }
    if (values.json) {
      const json: Record<string, unknown> = { p50_ms: round(p50, 3), p99_ms: round(p99, 3), rps: round(feed.rps, 1), rss_mb: Math.round(rssLoaded / (1 << 20)), candidates_per_request: round(candidates, 1), requests: feed.completed };
      if (open.length > 0) json.open_loop = open.map(({ rate, result: r, light, reduced }) => ({ rate, rps: round(r.rps, 1), p50_ms: round(percentile(r.sorted, 50), 3), p99_ms: round(percentile(r.sorted, 99), 3), requests: r.completed, shed: r.shed, light_only: light, reduced_budget: reduced, errors: r.errors }));
      process.stdout.write(`${JSON.stringify(json)}\n`);
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    cleanup();
  }
}

/**
 * Simulator options for a scale: the `bench` preset with the number of users, and the two
 * volume knobs the simulator has — posts per creator per day (posts) and feed sessions per
 * user per day (events: impressions and the reactions to them) — fitted by counting passes of
 * the (seeded, deterministic) record stream, without storing anything, until both counts are
 * within 3% of the request.
 */
function calibrate(scale: { users: number; posts: number; events: number }, log: (s: string) => void): SimOptions {
  const base = SIM_PRESETS.bench;
  const days = base.days;
  const creators = scale.users * (base.creatorShare ?? 0.1);
  // Starting point: the preset's measured volume (100k users: ~1.03M posts, ~11.1M events at 0.3 sessions/user/day).
  let posts = scale.posts / (creators * days * 1.02);
  let sessions = (scale.events / (scale.users * days * 26.4));
  for (let pass = 1; ; pass++) {
    const options: SimOptions = { ...base, users: scale.users, postsPerCreatorPerDay: posts, sessionsPerDay: sessions };
    const t = performance.now();
    let items = 0;
    let events = 0;
    for (const r of simulate(options)) {
      if (r.kind === 'event') events++;
      else if (r.kind === 'item') items++;
    }
    log(`calibration pass ${pass}: ${round(posts, 3)} posts/creator/day, ${round(sessions, 4)} sessions/user/day → ${fmt(items)} posts, ${fmt(events)} events (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    const ok = Math.abs(items / scale.posts - 1) <= 0.03 && Math.abs(events / scale.events - 1) <= 0.03;
    if (ok || pass === 4) return options;
    if (items > 0) posts *= scale.posts / items;
    if (events > 0) sessions *= scale.events / events;
  }
}

/**
 * Builds the platform as bench/candidates.ts does — the simulator's stream imported into the
 * embedded store (synchronous NORMAL, no impression logging), then every source, the fusion and
 * the heavy ranker trained and saved next to it (`loadSources`) — under a temporary name, renamed when complete, so a
 * half-built database is never taken for a finished one.
 */
async function buildPlatform(db: string, sim: SimOptions, log: (s: string) => void): Promise<string> {
  const tmp = `${db}.building-${process.pid}`;
  const t = performance.now();
  // The rankers too (the full request is sources + light and heavy ranker + mixer): past the
  // default feed.fusion.maxLogRows, which spares a server's start the shadow's second replay.
  const config = parseConfig({ store: { db: tmp, synchronous: 'NORMAL' }, feed: { fusion: { maxLogRows: 100_000_000 } } });
  const engine = await Engine.open(config, { logImpressions: false });
  let ok = false;
  try {
    let last = 0;
    log(`generating ${sim.users.toLocaleString('en-US')} users × ${sim.days} days into ${db} (once for this scale)`);
    await engine.importStream(simulate(sim), (records) => {
      if (records - last >= 1_000_000) {
        last = records;
        log(`  imported ${fmt(records)} records, ${((performance.now() - t) / 1000).toFixed(0)} s`);
      }
    });
    const importSeconds = (performance.now() - t) / 1000;
    log(`generated + imported + replayed in ${importSeconds.toFixed(1)} s: ${fmt(engine.state.events)} events`);
    const t1 = performance.now();
    let lastSource = '';
    let lastPrint = 0;
    const { trained } = await engine.loadSources(engine.artifactsDir()!, (source, done, total, note) => {
      const now = performance.now();
      if (source === lastSource && done < total && now - lastPrint < 15_000) return;
      lastSource = source;
      lastPrint = now;
      log(`  training ${source}: ${Math.floor(done)}/${total}${note ? ` ${note}` : ''}, ${((now - t1) / 1000).toFixed(0)} s`);
    });
    const trainSeconds = (performance.now() - t1) / 1000;
    await engine.close();
    writeFileSync(`${tmp}.sim.json`, `${JSON.stringify(sim)}\n`);
    for (const s of ['', '-wal', '-shm']) if (existsSync(tmp + s)) renameSync(tmp + s, db + s);
    renameSync(`${tmp}.models`, `${db}.models`);
    renameSync(`${tmp}.sim.json`, `${db}.sim.json`);
    ok = true;
    return `generated + imported ${importSeconds.toFixed(0)} s, sources trained ${trainSeconds.toFixed(0)} s (${trained.join(', ')})`;
  } finally {
    if (!ok) {
      await engine.close().catch(() => undefined);
      for (const s of ['', '-wal', '-shm', '.sim.json']) rmSync(tmp + s, { force: true });
      rmSync(`${tmp}.models`, { force: true, recursive: true });
    }
  }
}

/**
 * The store's counts and its active users (a follow, or an event other than an impression),
 * read from the log — ~1 min at 15M rows, so kept in `cache` for a store with the same counts.
 */
async function readPlatform(db: string, cache: string): Promise<{ counts: StoreCounts; active: string[] }> {
  const types = new EventTypeRegistry(parseConfig({}).eventTypes);
  const store = SqliteStore.open({ path: db, types, synchronous: 'NORMAL' });
  try {
    const counts = await store.counts();
    const key = JSON.stringify(counts);
    if (existsSync(cache)) {
      const saved = JSON.parse(readFileSync(cache, 'utf8')) as { key: string; active: string[] };
      if (saved.key === key) return { counts, active: saved.active };
    }
    const impression = types.code('impression');
    const follow = EDGE_KIND_CODES.follow;
    const flag = new Uint8Array(store.userIds.length);
    for await (const c of store.readLog(0, 262_144, false)) {
      for (let i = 0; i < c.length; i++) {
        if (c.kind[i] === LOG_EVENT ? c.type[i] !== impression : c.kind[i] === LOG_EDGE && c.type[i] === follow && c.value[i] === 1) flag[c.user[i]!] = 1;
      }
    }
    const active: string[] = [];
    for (let u = 0; u < flag.length; u++) if (flag[u]) active.push(store.userIds[u]!);
    writeFileSync(cache, JSON.stringify({ key, active }));
    return { counts, active };
  } finally {
    await store.close();
  }
}

interface LoadResult {
  completed: number;
  /** Latencies (ms) of the pages served (not of errors or shed requests), sorted; `rps` counts those too. */
  sorted: number[];
  rps: number;
  errors: number;
  /** Answered 503 by the overload protection's shedding (feed.overload.shedAfterMs): not errors. */
  shed: number;
  errorSamples: string[];
  degraded: number;
  empty: number;
  bodies: string[];
}

/**
 * Latencies (sorted) and rate of the pages served (`served[i]` = 1): a request shed with a fast
 * 503, or an error, is not a page, and would flatter both.
 */
function pagesServed(times: Float64Array, served: Uint8Array, seconds: number): { sorted: number[]; rps: number } {
  const sorted = Array.from(times.filter((_, i) => served[i] === 1)).sort((a, b) => a - b);
  return { sorted, rps: sorted.length / seconds };
}

/** What the answers of a load were: errors (with a few samples), shed requests, degraded and empty feeds. */
class Tally {
  errors = 0;
  errorSamples: string[] = [];
  shed = 0;
  degraded = 0;
  empty = 0;

  /** Counts one answer; false for an error or a shed request. Cheap checks on the bytes (no JSON parse on the timed path). */
  add(path: string, status: number, body: Buffer): boolean {
    if (status === 503 && body.includes('"code":"overloaded"')) {
      this.shed++;
      return false;
    }
    if (status !== 200) {
      this.errors++;
      if (this.errorSamples.length < 5) this.errorSamples.push(`${status} ${path} ${body.toString().slice(0, 200)}`);
      return false;
    }
    if (body.includes('"degraded":true')) this.degraded++;
    if (body.includes('"items":[]')) this.empty++;
    return true;
  }
}

/** A closed-loop HTTP client: `concurrency` workers, each sending its next request when the previous one has answered. */
class Client {
  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly agent: Agent,
  ) {}

  get(path: string): Promise<{ status: number; body: Buffer }> {
    return new Promise((ok) => {
      const req = httpRequest({ host: this.host, port: this.port, path, agent: this.agent, method: 'GET' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => ok({ status: res.statusCode ?? 0, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) }));
        res.on('error', (err) => ok({ status: 0, body: Buffer.from(String(err)) }));
      });
      req.on('error', (err) => ok({ status: 0, body: Buffer.from(String(err)) }));
      req.end();
    });
  }

  async text(path: string): Promise<string> {
    const { status, body } = await this.get(path);
    if (status !== 200) throw new Error(`GET ${path}: ${status} ${body.toString().slice(0, 300)}`);
    return body.toString();
  }

  async load(paths: string[], concurrency: number, progress?: (done: number, seconds: number) => void, keepBodies = false): Promise<LoadResult> {
    const times = new Float64Array(paths.length);
    const served = new Uint8Array(paths.length);
    const bodies: string[] = [];
    const tally = new Tally();
    let next = 0;
    let lastReport = performance.now();
    const started = performance.now();
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= paths.length) return;
        const t0 = performance.now();
        const { status, body } = await this.get(paths[i]!);
        times[i] = performance.now() - t0;
        if (!tally.add(paths[i]!, status, body)) continue;
        served[i] = 1;
        if (keepBodies) bodies.push(body.toString());
        if (progress && performance.now() - lastReport > 15_000) {
          lastReport = performance.now();
          progress(i, (lastReport - started) / 1000);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker));
    const seconds = (performance.now() - started) / 1000;
    return { completed: paths.length, ...pagesServed(times, served, seconds), ...tally, bodies };
  }

  /**
   * An open-loop load: request i is sent at its scheduled time (Poisson arrivals at `rate` per
   * second, seeded), whether or not the earlier ones have answered, and its latency counts from
   * that time — so time spent waiting for a free connection or behind a backlog is counted too
   * (no coordinated omission). What a server's latency is at a given traffic, which a closed
   * loop cannot show: there the clients slow down with the server. `rps` is the completed
   * requests over the time from the first scheduled send to the last answer.
   */
  async openLoad(paths: string[], rate: number, rng: () => number): Promise<LoadResult & { maxInFlight: number }> {
    const n = paths.length;
    const due = new Float64Array(n);
    let t = 0;
    for (let i = 0; i < n; i++) {
      t += (-Math.log(1 - rng()) / rate) * 1000;
      due[i] = t;
    }
    const times = new Float64Array(n);
    const served = new Uint8Array(n);
    const tally = new Tally();
    let inFlight = 0;
    let maxInFlight = 0;
    let lastDone = 0;
    const started = performance.now();
    const pending: Promise<void>[] = [];
    const send = async (i: number): Promise<void> => {
      inFlight++;
      if (inFlight > maxInFlight) maxInFlight = inFlight;
      const { status, body } = await this.get(paths[i]!);
      const now = performance.now();
      inFlight--;
      times[i] = now - (started + due[i]!);
      lastDone = Math.max(lastDone, now);
      if (tally.add(paths[i]!, status, body)) served[i] = 1;
    };
    for (let i = 0; i < n; ) {
      const wait = started + due[i]! - performance.now();
      if (wait > 1) await new Promise((ok) => setTimeout(ok, wait));
      // Everything due by now goes out (a timer fires late under load; the schedule does not slip).
      const now = performance.now() - started;
      while (i < n && due[i]! <= now + 0.5) pending.push(send(i++));
      if (i < n && due[i]! > now + 0.5 && wait <= 1) await new Promise((ok) => setImmediate(ok));
    }
    await Promise.all(pending);
    const seconds = (lastDone - started) / 1000;
    return { completed: n, ...pagesServed(times, served, seconds), ...tally, bodies: [], maxInFlight };
  }
}

interface Timing {
  stage: string;
  component?: string;
  ms: number;
  count: number;
  error?: string;
}

/** The stage timings of a feed answer, wherever the answer puts them (top-level `timings`, or nested). */
function findTimings(body: string): Timing[] | undefined {
  let found: Timing[] | undefined;
  const visit = (v: unknown, depth: number): void => {
    if (found || depth > 4 || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) return;
    for (const [k, x] of Object.entries(v)) {
      if (k === 'timings' && Array.isArray(x) && x.length > 0 && typeof (x[0] as Timing).stage === 'string') {
        found = x as Timing[];
        return;
      }
      if (k !== 'items') visit(x, depth + 1);
    }
  };
  try {
    visit(JSON.parse(body), 0);
  } catch {
    return undefined;
  }
  return found;
}

/** Prometheus text → metric name → sum over its label sets; also each series as `name{labels}`. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/gm)) {
    const v = Number(m[3]);
    if (!Number.isFinite(v)) continue;
    out.set(m[1]!, (out.get(m[1]!) ?? 0) + v);
    if (m[2]) out.set(m[1]! + m[2], v);
  }
  return out;
}

/** The per-source increments of a labelled counter between two scrapes, e.g. "embedding 12, popular 1". */
/** How much a /metrics series grew between two readings. */
function grew(before: Map<string, number>, after: Map<string, number>, name: string): number {
  return (after.get(name) ?? 0) - (before.get(name) ?? 0);
}

function bySource(before: Map<string, number>, after: Map<string, number>, name: string): string {
  const parts: string[] = [];
  for (const [k, v] of after) {
    const m = new RegExp(`^${name}\\{.*source="([^"]+)".*\\}$`).exec(k);
    const d = v - (before.get(k) ?? 0);
    if (m && d > 0) parts.push(`${m[1]} ${d}`);
  }
  return parts.join(', ');
}

/** CPU seconds (user + system) of a process tree: its processes' event-loop (main) threads, and all their threads. */
interface CpuSeconds {
  main: number;
  total: number;
  /** The top process's own threads (with `--workers` > 1: the writer, which serves no feed). */
  root: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ of /proc's stat files on Linux

/** utime + stime of a /proc stat file, in seconds (0 when unreadable: not Linux, or the process is gone). */
function statSeconds(path: string): number {
  try {
    const text = readFileSync(path, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/**
 * The CPU time of the server's process tree so far. A process's own stat counts every thread it
 * ran, exited ones included (not its children: they are summed here); its main thread's is the
 * event loop (JavaScript, and the GC pauses that stop it). The rest are V8's helper threads
 * (parallel and concurrent GC, compilation), the embedding search's worker thread and libuv's pool.
 */
function treeCpu(pid: number): CpuSeconds {
  const out = { main: 0, total: 0, root: statSeconds(`/proc/${pid}/stat`) };
  for (const p of processTree(pid)) {
    out.main += statSeconds(`/proc/${p}/task/${p}/stat`);
    out.total += p === pid ? out.root : statSeconds(`/proc/${p}/stat`);
  }
  return out;
}

/**
 * What a feed request costs in CPU over the timed closed loop, and the throughput that cost
 * allows on this machine: with every core busy and nothing else running, cores × 1,000 /
 * (server + client core-ms per request) requests per second.
 */
function cpuNote(before: CpuSeconds, after: CpuSeconds, clientMs: number, requests: number, workers: number): string {
  const total = after.total - before.total;
  if (!(total > 0) || requests === 0) return '';
  const per = (s: number) => (s * 1000) / requests;
  const server = per(total);
  const client = clientMs / requests;
  const cores = availableParallelism();
  const ceiling = (cores * 1000) / (server + client);
  const main = after.main - before.main;
  const split =
    workers > 1
      ? `the writer process ${per(after.root - before.root).toFixed(2)}, the serving processes ${per(total - (after.root - before.root)).toFixed(2)}; all event loops ${per(main).toFixed(2)}, other threads ${per(total - main).toFixed(2)} (GC helpers, the search workers)`
      : `${per(main).toFixed(2)} on the event loop, ${per(total - main).toFixed(2)} on other threads (GC helpers, the search worker)`;
  return (
    `CPU per feed request in the timed run: server ${server.toFixed(2)} core-ms — ${split} — and the client ${client.toFixed(2)}; ` +
    `so this machine's ${cores} cores serve at most ~${ceiling.toFixed(0)} req/s at this cost (the goal of 300 req/s needs ≤ ${((cores * 1000) / 300).toFixed(1)} core-ms a request, client included)\n`
  );
}

/** procStatus summed over the process and its children (`--workers` > 1: the writer and the serving processes). */
function treeStatus(pid: number, field: string): number {
  let total = 0;
  for (const p of processTree(pid)) total += procStatus(p, field);
  return total;
}

/** The process and its descendants (Linux: /proc/<pid>/task/<pid>/children), the process first. */
function processTree(pid: number): number[] {
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    // no children file: one process
  }
  return [pid, ...children.flatMap((c) => processTree(Number(c)))];
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}
