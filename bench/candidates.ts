/**
 * The candidate stage at scale: the synthetic `bench` platform (100k users, ~1M posts, ~11M
 * events) in the embedded store, every source trained, then N feed requests' first stage
 * (all sources with their configured budgets, as the For You pipeline runs them) for random
 * active users. Prints per-source and total p50/p99 latency, candidates per request, the
 * training time per source and the process memory. Baseline in the same run: the `popular`
 * source alone (a pool lookup), the cheapest source.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/domain/config.js';
import { Engine } from '../src/engine.js';
import { mergeCandidates } from '../src/pipeline/feed-pipeline.js';
import type { FeedQuery } from '../src/pipeline/types.js';
import { SIM_PRESETS, simulate, type SimPresetName } from '../src/sim/index.js';
import { mb, percentile, table } from './report.js';

export async function candidatesBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { preset: { type: 'string', default: 'bench' }, requests: { type: 'string', default: '1000' }, dir: { type: 'string', default: '.bench' } } });
  const preset = values.preset as SimPresetName;
  const n = Number(values.requests);
  mkdirSync(values.dir!, { recursive: true });
  const db = join(values.dir!, `platform-${preset}.db`);
  const config = parseConfig({ store: { db, synchronous: 'NORMAL' } });
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

  t = performance.now();
  const trained = await engine.trainSources();
  const trainSeconds = (performance.now() - t) / 1000;
  const rssTrained = process.memoryUsage().rss;

  // Active users: those with history and follows.
  const users: string[] = [];
  for (let u = 0; u < engine.store.userIds.length && users.length < 20_000; u++) {
    if (engine.state.history.size(u) > 0 && engine.state.following.size(u) > 0) users.push(engine.store.userIds[u]!);
  }
  let seed = 7;
  const pick = () => users[(seed = (seed * 1103515245 + 12345) >>> 0) % users.length]!;
  const per = new Map<string, number[]>();
  const totals: number[] = [];
  const popularOnly: number[] = [];
  let union = 0;
  const now = engine.now();
  for (let i = 0; i < n + 50; i++) {
    const userId = pick();
    const user = engine.store.userIndex(userId)!;
    const seen = new Set<number>();
    const t0 = performance.now();
    engine.state.seen.forEachRecent(user, (item) => void seen.add(item));
    const q: FeedQuery = { user, userId, limit: 20, now, requestId: 'bench', variant: 'default', served: new Set(), seen, exclude: new Set(), state: engine.state };
    const lists = [];
    for (const { source, budget } of engine.sources) {
      if (!source.enabled(q)) continue;
      const s0 = performance.now();
      lists.push(await source.fetch(q, budget));
      if (i >= 50) {
        if (!per.has(source.name)) per.set(source.name, []);
        per.get(source.name)!.push(performance.now() - s0);
      }
    }
    const merged = mergeCandidates(lists);
    const total = performance.now() - t0;
    if (i >= 50) {
      totals.push(total);
      union += merged.length;
      const p0 = performance.now();
      await engine.sources.find((e) => e.source.name === 'popular')!.source.fetch(q, 750);
      popularOnly.push(performance.now() - p0);
    }
  }
  const row = (name: string, times: number[]) => {
    const s = [...times].sort((a, b) => a - b);
    return { stage: name, 'p50 ms': percentile(s, 50), 'p99 ms': percentile(s, 99), 'mean ms': s.reduce((a, b) => a + b, 0) / s.length };
  };
  const rows = [row('baseline: popular source alone', popularOnly)];
  for (const [name, times] of per) rows.push(row(`source ${name}`, times));
  rows.push(row('candidate stage (hydrate + all sources + merge)', totals));
  const mem = process.memoryUsage();
  process.stdout.write(
    `\ncandidate stage: preset ${preset} — ${engine.store.userIds.length.toLocaleString('en-US')} users, ${engine.store.itemIds.length.toLocaleString('en-US')} items, ${engine.state.events.toLocaleString('en-US')} events; ${n} requests, sequential (node ${process.version})\n\n` +
      `${table(rows)}\n\nmean candidates per request (union): ${(union / n).toFixed(0)}; budgets ${engine.sources.map((e) => `${e.source.name} ${e.budget}`).join(', ')}\n` +
      `training: ${trained.join(', ') || '(no trainable source)'} in ${trainSeconds.toFixed(1)} s\n` +
      `memory: RSS ${mb(mem.rss)} (after replay ${mb(rssState)}, after training ${mb(rssTrained)}); V8 heap ${mb(mem.heapUsed)}; online state ${mb(Object.values(engine.state.memory()).reduce((a, b) => a + b, 0))}\n`,
  );
  await engine.close();
}
