/**
 * The candidate stage at scale: the synthetic `bench` platform (100k users, ~1M posts, ~11M
 * events) in the embedded store, every source trained, then N feed requests' first stage
 * (all sources with their configured budgets) for random active users, each request run twice
 * in alternating order: as the For You pipeline serves it (sources side by side: a source served
 * by a worker thread overlaps the others; feed-pipeline.ts) and one source after another (each
 * source's own time). Prints per-source and stage p50/p99 latency, candidates per request, GC
 * pauses, the training time (when trained) and the memory of the loaded indexes. Baseline in
 * the same run: the `popular` source alone (a pool lookup), the cheapest source.
 *
 * The sources' artifacts are saved next to the bench database (`platform-<preset>.db.models/`)
 * and loaded on the next run, so only the first run (or `--retrain`) pays the training.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { join } from 'node:path';
import { Session } from 'node:inspector';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/domain/config.js';
import { Engine } from '../src/engine.js';
import { FeedPipeline, mergeCandidates, type OffThreadSource } from '../src/pipeline/feed-pipeline.js';
import { isTrainable, type FeedQuery } from '../src/pipeline/types.js';
import { SIM_PRESETS, simulate, type SimPresetName } from '../src/sim/index.js';
import { ExactMipsIndex, HnswMipsIndex, loadHnswlib } from '../src/models/ann/mips-index.js';
import { requestLookups } from '../src/candidates/ranked.js';
import { mb, percentile, procStatus, table } from './report.js';

export async function candidatesBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { preset: { type: 'string', default: 'bench' }, requests: { type: 'string', default: '1000' }, dir: { type: 'string', default: '.bench' }, retrain: { type: 'boolean', default: false }, dump: { type: 'string' }, 'ann-recall': { type: 'string' }, 'ann-ef': { type: 'string', default: '500,1000,1500,2000,3000' }, profile: { type: 'string' }, 'train-memory': { type: 'string' }, config: { type: 'string' } } });
  const preset = values.preset as SimPresetName;
  const n = Number(values.requests);
  mkdirSync(values.dir!, { recursive: true });
  const db = join(values.dir!, `platform-${preset}.db`);
  // `--config FILE`: settings over the defaults (e.g. {"feed": {"sourceBudgets": {…}}} for another candidate count).
  const config = loadConfig({ file: values.config, env: {}, overrides: { store: { db, synchronous: 'NORMAL' } } });
  let t = performance.now();
  const fresh = !existsSync(db);
  const engine = await Engine.open(config, { logImpressions: false });
  if (fresh) {
    let last = 0;
    await engine.importStream(simulate({ ...SIM_PRESETS[preset] }), (records) => {
      if (records - last >= 1_000_000) {
        last = records;
        process.stderr.write(`  imported ${records.toLocaleString('en-US')} records, ${((performance.now() - t) / 1000).toFixed(0)} s\n`);
      }
    });
  }
  const loadSeconds = (performance.now() - t) / 1000;
  process.stderr.write(`${fresh ? 'generated + imported + replayed' : 'replayed'} in ${loadSeconds.toFixed(1)} s: ${engine.state.events.toLocaleString('en-US')} events\n`);
  const rssState = process.memoryUsage().rss;

  // Load the saved indexes (train and save what is missing; `--retrain` trains everything).
  const models = engine.artifactsDir()!;
  if (values.retrain) rmSync(models, { recursive: true, force: true });
  t = performance.now();
  let lastSource = '';
  let lastPrint = 0;
  // Training time per source (approximate: from its first progress report to the next source's).
  const trainSeconds = new Map<string, number>();
  let sourceStart = t;
  const { loaded, trained } = await engine.loadSources(models, (source, done, total, note) => {
    const now = performance.now();
    if (source !== lastSource) sourceStart = now;
    trainSeconds.set(source, (now - sourceStart) / 1000);
    if (source === lastSource && done < total && now - lastPrint < 15_000) return;
    lastSource = source;
    lastPrint = now;
    process.stderr.write(`  training ${source}: ${Math.floor(done)}/${total}${note ? ` ${note}` : ''}, ${((now - t) / 1000).toFixed(0)} s\n`);
  }, { rankers: false }); // the first stage only: the rankers are the feed bench's
  const sourcesSeconds = (performance.now() - t) / 1000;
  const rssSources = process.memoryUsage().rss;
  process.stderr.write(`sources: loaded [${loaded.join(', ')}], trained [${trained.join(', ')}] in ${sourcesSeconds.toFixed(1)} s\n`);

  // Active users: those with history and follows.
  const users: string[] = [];
  for (let u = 0; u < engine.store.userIds.length && users.length < 20_000; u++) {
    if (engine.state.history.size(u) > 0 && engine.state.following.size(u) > 0) users.push(engine.store.userIds[u]!);
  }
  let seed = 7;
  const pick = () => users[(seed = (seed * 1103515245 + 12345) >>> 0) % users.length]!;
  if (values['train-memory']) {
    await trainMemory(engine, values['train-memory']);
    await engine.close();
    return;
  }
  if (values['ann-recall']) {
    await annRecall(engine, models, users, Number(values['ann-recall']), values['ann-ef']!.split(',').map(Number));
    await engine.close();
    return;
  }
  // The stage as a request runs it (feed-pipeline.ts: sources side by side, off-thread ones
  // first, then the merge), without the filters and scorers that follow it.
  const stage = new FeedPipeline({ name: 'candidate_stage', sources: engine.sources, filters: [], scorers: [], selector: { name: 'none', select: (_q, c) => c }, sideEffects: [] });
  const per = new Map<string, number[]>();
  const answered = new Map<string, number[]>();
  // In the concurrent stage: the synchronous sources' own times added up (the main thread's part).
  const mainThread: number[] = [];
  const concurrent: number[] = [];
  const sequential: number[] = [];
  const popularOnly: number[] = [];
  // With a learned fusion: the stage as served when the sources it weighs 0 are skipped
  // (FeedQuery.unweighted, `feed.fusion.skipUnweighted`), a third run of each request.
  const unweighted = engine.unweightedSources();
  const skipping: number[] = [];
  let unionSkipping = 0;
  let union = 0;
  const now = engine.now();
  const offThread = engine.sources.filter(({ source }) => (source as Partial<OffThreadSource>).offThread === true).map(({ source }) => source.name);
  // `--dump FILE`: every source's list per request (item:score:author:inNetwork), to compare builds.
  const dump: string[] | undefined = values.dump ? [] : undefined;
  const record = (m: Map<string, number[]>, name: string, ms: number) => {
    if (!m.has(name)) m.set(name, []);
    m.get(name)!.push(ms);
  };
  const hydrate = (userId: string): FeedQuery => {
    const user = engine.store.userIndex(userId)!;
    const seen = new Set<number>();
    engine.state.seen.forEachRecent(user, (item) => void seen.add(item));
    return { user, userId, limit: 20, now, requestId: 'bench', variant: 'default', served: new Set(), seen, exclude: new Set(), state: engine.state, mix: engine.config.mix, feed: engine.config.feed };
  };
  // GC pauses while requests run (a tail-latency cause: the online state keeps millions of small objects).
  const gc = { count: 0, ms: 0, max: 0, on: false, major: 0, majorMs: 0 };
  const observer = new PerformanceObserver((list) => {
    if (!gc.on) return;
    for (const e of list.getEntries()) {
      gc.count++;
      gc.ms += e.duration;
      gc.max = Math.max(gc.max, e.duration);
      if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        gc.major++;
        gc.majorMs += e.duration;
      }
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const warmup = 50;
  // `--profile PREFIX`: a CPU profile (PREFIX.cpuprofile) and an allocation sample including the
  // objects the GC already collected (PREFIX.heapprofile) of the measured requests only.
  const profiler = values.profile ? new Session() : undefined;
  const post = (method: string, params: object = {}) => new Promise<unknown>((resolve, reject) => profiler!.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  profiler?.connect();
  for (let i = 0; i < n + warmup; i++) {
    const userId = pick();
    const measured = i >= warmup;
    gc.on = measured;
    if (profiler && i === warmup) {
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 200 });
      await post('Profiler.start');
      await post('HeapProfiler.enable');
      await post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    }
    // Each request twice, in alternating order: as served (concurrent) and one source after
    // another; then, with a learned fusion that weighs sources 0, as served without them.
    const modes = i % 2 === 0 ? (['concurrent', 'sequential'] as const) : (['sequential', 'concurrent'] as const);
    for (const mode of unweighted ? [...modes, 'skipping' as const] : modes) {
      if (mode === 'skipping') {
        const t0 = performance.now();
        const q = hydrate(userId);
        q.unweighted = { sources: unweighted!, minCandidates: engine.config.rank.maxCandidates };
        const { candidates } = await stage.retrieve(q);
        if (measured) {
          skipping.push(performance.now() - t0);
          unionSkipping += candidates.length;
        }
        continue;
      }
      if (mode === 'concurrent') {
        const t0 = performance.now();
        const q = hydrate(userId);
        const { timings } = await stage.retrieve(q);
        const total = performance.now() - t0;
        if (measured) {
          concurrent.push(total);
          let own = 0;
          for (const tm of timings) {
            if (tm.stage !== 'source') continue;
            if (offThread.includes(tm.component!)) record(answered, tm.component!, tm.ms);
            else own += tm.ms;
          }
          mainThread.push(own);
        }
        continue;
      }
      const t0 = performance.now();
      const q = hydrate(userId);
      const lists = [];
      for (const { source, budget } of engine.sources) {
        if (!source.enabled(q)) continue;
        const s0 = performance.now();
        const list = await source.fetch(q, budget);
        if (measured) record(per, source.name, performance.now() - s0);
        lists.push(list);
        if (dump) dump.push(`${userId} ${source.name} ${list.map((c) => `${c.item}:${c.sources[0]!.score}:${c.author}:${c.inNetwork ? 1 : 0}`).join(' ')}`);
      }
      const merged = mergeCandidates(lists);
      const total = performance.now() - t0;
      if (measured) {
        sequential.push(total);
        union += merged.length;
        const p0 = performance.now();
        await engine.sources.find((e) => e.source.name === 'popular')!.source.fetch(q, 750);
        popularOnly.push(performance.now() - p0);
      }
    }
  }
  observer.disconnect();
  if (profiler) {
    const { profile } = (await post('Profiler.stop')) as { profile: object };
    writeFileSync(`${values.profile}.cpuprofile`, JSON.stringify(profile));
    const heap = (await post('HeapProfiler.stopSampling')) as { profile: object };
    writeFileSync(`${values.profile}.heapprofile`, JSON.stringify(heap.profile));
    profiler.disconnect();
  }
  const row = (name: string, times: number[]) => {
    const s = [...times].sort((a, b) => a - b);
    return { stage: name, 'p50 ms': percentile(s, 50), 'p99 ms': percentile(s, 99), 'mean ms': s.reduce((a, b) => a + b, 0) / s.length };
  };
  const rows = [row('baseline: popular source alone', popularOnly)];
  for (const [name, times] of per) {
    rows.push(row(`source ${name}${offThread.includes(name) ? ' (awaited alone)' : ''}`, times));
    if (answered.has(name)) rows.push(row(`source ${name}: answer time in the concurrent stage (worker)`, answered.get(name)!));
  }
  rows.push(row('candidate stage, sources one after another (hydrate + sources + merge)', sequential));
  if (offThread.length > 0) rows.push(row('  in it: the synchronous sources, added up (main thread)', mainThread));
  rows.push(row('candidate stage as served: sources side by side (hydrate + sources + merge)', concurrent));
  if (unweighted) rows.push(row(`candidate stage as served, skipping the sources the learned fusion weighs 0 (${[...unweighted].join(', ')})`, skipping));
  const mem = process.memoryUsage();
  const trainedNote = trained.length > 0 ? `trained ${trained.join(', ')} (and saved) in ${sourcesSeconds.toFixed(1)} s (per source ≈ ${[...trainSeconds].map(([s, sec]) => `${s} ${sec.toFixed(0)} s`).join(', ')})` : 'nothing trained';
  process.stdout.write(
    `\ncandidate stage: preset ${preset} — ${engine.store.userIds.length.toLocaleString('en-US')} users, ${engine.store.itemIds.length.toLocaleString('en-US')} items, ${engine.state.events.toLocaleString('en-US')} events; ${n} requests, one at a time, each run ${unweighted ? 'three' : 'both'} ways (node ${process.version})\n\n` +
      `${table(rows)}\n\nmean candidates per request (union): ${(union / n).toFixed(0)}${unweighted ? `; skipping the unweighted sources: ${(unionSkipping / n).toFixed(0)}` : ''}; budgets ${engine.sources.map((e) => `${e.source.name} ${e.budget}`).join(', ')}; off the main thread: ${offThread.join(', ') || 'none'}\n` +
      `GC while requests ran: ${gc.count} pauses (${gc.major} full, ${gc.majorMs.toFixed(0)} ms), ${gc.ms.toFixed(0)} ms in all, longest ${gc.max.toFixed(1)} ms\n` +
      `sources: ${loaded.length > 0 ? `loaded ${loaded.join(', ')} from ${models}` : 'nothing loaded'}; ${trainedNote}${loaded.length > 0 && trained.length === 0 ? ` (loading took ${sourcesSeconds.toFixed(1)} s)` : ''}${engine.fusionNote ? `; fusion ${engine.fusionNote}` : ''}\n` +
      `memory: RSS ${mb(mem.rss)}; after replay ${mb(rssState)}, after ${trained.length > 0 ? 'training (with training garbage)' : 'loading'} the sources ${mb(rssSources)} (indexes ≈ ${mb(rssSources - rssState)}); V8 heap ${mb(mem.heapUsed)}; online state ${mb(Object.values(engine.state.memory()).reduce((a, b) => a + b, 0))}\n`,
  );
  if (dump) writeFileSync(values.dump!, `${dump.join('\n')}\n`);
  await engine.close();
}

/**
 * `--ann-recall N`: the embedding source's HNSW search against the exact scan, for N active
 * users (their trained vectors; the request's skip set as served: own history, seen), at each
 * search expansion of `--ann-ef`: recall of the exact top-`budget` and time per search (in this
 * thread). Reads the saved factors and graph of `embedding` from the models folder.
 */
async function annRecall(engine: Engine, models: string, users: string[], n: number, efs: number[]): Promise<void> {
  const header = JSON.parse(readFileSync(join(models, 'embedding.json'), 'utf8')) as { stride: number; users: number; items: number };
  const f32 = (name: string) => {
    const b = readFileSync(join(models, name));
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };
  const { stride } = header;
  const itemFactors = f32('embedding.items.f32');
  const userFactors = f32('embedding.users.f32');
  const activeBuf = readFileSync(join(models, 'embedding.active.u8'));
  const active = new Uint8Array(activeBuf.buffer.slice(activeBuf.byteOffset, activeBuf.byteOffset + activeBuf.byteLength));
  const mod = await loadHnswlib();
  if (!mod) throw new Error('hnswlib-node does not load');
  const graph = HnswMipsIndex.load(mod, join(models, 'embedding.hnsw'), stride, header.items);
  const exact = new ExactMipsIndex(itemFactors, stride, active);
  const budget = engine.sources.find((e) => e.source.name === 'embedding')?.budget ?? 500;
  const recall = new Map<number, number[]>();
  const times = new Map<number, number[]>();
  let seed = 11;
  const now = engine.now();
  for (let r = 0; r < n; r++) {
    const userId = users[(seed = (seed * 1103515245 + 12345) >>> 0) % users.length]!;
    const user = engine.store.userIndex(userId)!;
    if (user >= header.users) continue;
    const vector = userFactors.subarray(user * stride, user * stride + stride);
    if (!vector.some((v) => v !== 0)) continue;
    const seen = new Set<number>();
    engine.state.seen.forEachRecent(user, (item) => void seen.add(item));
    const q: FeedQuery = { user, userId, limit: 20, now, requestId: 'ann', variant: 'default', served: new Set(), seen, exclude: new Set(), state: engine.state, mix: engine.config.mix, feed: engine.config.feed };
    const lookups = requestLookups.forQuery(q);
    const skip = (item: number) => lookups.inHistory(item) || seen.has(item);
    const hint = lookups.historySize() + seen.size;
    const truth = new Set(exact.search(vector, budget, skip).items);
    for (const ef of efs) {
      graph.ef = ef;
      const t0 = performance.now();
      const got = graph.search(vector, budget, skip, hint);
      const ms = performance.now() - t0;
      let hits = 0;
      for (const item of got.items) if (truth.has(item)) hits++;
      if (!recall.has(ef)) (recall.set(ef, []), times.set(ef, []));
      recall.get(ef)!.push(hits / Math.max(1, truth.size));
      times.get(ef)!.push(ms);
    }
  }
  const rows = efs.map((ef) => {
    const t = [...times.get(ef)!].sort((a, b) => a - b);
    const rc = recall.get(ef)!;
    return { ef, users: rc.length, [`recall@${budget} vs exact`]: rc.reduce((a, b) => a + b, 0) / rc.length, 'p50 ms': percentile(t, 50), 'p90 ms': percentile(t, 90), 'p99 ms': percentile(t, 99) };
  });
  process.stdout.write(`\nembedding HNSW search against the exact scan (top-${budget}, skip = own history + seen, searched in this thread; it asks for ${budget} + the skip hint, so ef is at least that):\n\n${table(rows)}\n`);
}

/**
 * `--train-memory all|NAME,…`: each trainable source trained once more on the loaded platform,
 * one after another, with the process's peak RSS reset before each (Linux: writing 5 to
 * /proc/self/clear_refs resets VmHWM). Prints per source: the training time, the peak RSS
 * above the RSS before it (what the training needs on top of the serving process — the
 * previous index stays loaded until the new one replaces it, as in `lenta train candidates`
 * run by a server) and the RSS left after it. Only the first source's number is clean: the
 * next one's training reuses the memory the previous left as garbage (measured: communities
 * +99 MiB after in_network, +722 MiB alone), so name one source per run to measure it.
 */
async function trainMemory(engine: Engine, list: string): Promise<void> {
  const names = list === 'all' ? undefined : new Set(list.split(',').map((s) => s.trim()));
  const trainable = engine.sources.map(({ source }) => source).filter(isTrainable);
  const chosen = trainable.filter((s) => !names || names.has(s.name));
  if (names) {
    const unknown = [...names].filter((n) => !trainable.some((s) => s.name === n));
    if (unknown.length > 0) throw new Error(`--train-memory: no trainable source ${unknown.join(', ')} (trainable: ${trainable.map((s) => s.name).join(', ')})`);
  }
  const status = (field: string): number => procStatus(process.pid, field);
  const rows: Record<string, string>[] = [];
  for (const source of chosen) {
    try {
      writeFileSync('/proc/self/clear_refs', '5');
    } catch {
      process.stderr.write('cannot reset the peak RSS (/proc/self/clear_refs): peaks are since the process started\n');
    }
    const before = status('VmRSS');
    const t = performance.now();
    let last = 0;
    await source.train({
      state: engine.state,
      store: engine.store,
      now: engine.now(),
      onProgress: (done: number, total: number, note?: string) => {
        const now = performance.now();
        if (now - last < 15_000) return;
        last = now;
        process.stderr.write(`  training ${source.name}: ${Math.floor(done)}/${total}${note ? ` ${note}` : ''}, ${((now - t) / 1000).toFixed(0)} s\n`);
      },
    });
    const seconds = (performance.now() - t) / 1000;
    const peak = status('VmHWM');
    const after = status('VmRSS');
    rows.push({ source: source.name, 'train s': seconds.toFixed(1), 'RSS before': mb(before), 'peak RSS': mb(peak), 'peak − before': mb(peak - before), 'after − before': mb(after - before) });
    process.stderr.write(`  ${source.name}: ${seconds.toFixed(1)} s, peak RSS ${mb(peak)} (+${mb(peak - before)})\n`);
  }
  process.stdout.write(`training memory (each source retrained on the loaded platform; peak = VmHWM since its start${chosen.length > 1 ? '; only the first row is clean: the later ones reuse the garbage of the ones before (one source per run for clean numbers)' : ''}):\n`);
  process.stdout.write(`${table(rows)}\n`);
}
