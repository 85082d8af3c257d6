/**
 * `npm run bench -- <name> [flags]`: benchmarks print numbers and ratios against a baseline
 * measured in the same run; they never pass or fail on timing.
 */
import { importBench } from './import.js';
import { feedBench } from './feed.js';
import { candidatesBench } from './candidates.js';
import { gbdtBench } from './gbdt.js';
import { rankerBench } from './ranker.js';

const BENCHES: Record<string, { summary: string; run: (argv: string[]) => Promise<void> }> = {
  import: { summary: 'import throughput of 1M synthetic events (raw SQLite, store, full lenta-jsonl import) and replay', run: importBench },
  candidates: { summary: 'candidate stage p50/p99 at 100k users / 1M posts (synthetic bench platform), training time, memory', run: candidatesBench },
  gbdt: { summary: 'histogram GBDT fit time and validation AUC vs LightGBM on a training-set CSV (--file; default synthetic 500k × 60)', run: gbdtBench },
  ranker: { summary: 'heavy ranker stage latency p50/p99 for 1,000 candidates on the demo platform, against the light ranker', run: rankerBench },
  feed: { summary: 'full For You request p50/p99 and requests/s over HTTP under a concurrent client at 100k users / 1M posts / 10M events (--users/--posts/--events), server RSS, candidates per request', run: feedBench },
};

const [name, ...rest] = process.argv.slice(2);
if (!name || !BENCHES[name]) {
  process.stdout.write(`usage: npm run bench -- <name> [flags]\n\n${Object.entries(BENCHES).map(([n, b]) => `  ${n.padEnd(8)} ${b.summary}`).join('\n')}\n`);
  process.exit(name ? 2 : 0);
}
await BENCHES[name]!.run(rest);
