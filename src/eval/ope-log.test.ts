import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { LogRecord } from '../domain/types.js';
import { openEngine, tempDir } from '../../test/helpers.js';
import { main } from '../cli/main.js';
import { Rng } from './prng.js';
import { greedyPolicyEstimate } from './ope-log.js';

const T0 = Date.UTC(2026, 2, 1);

test('ope --db: the greedy policy’s rate estimated from explored traffic matches the rate its slots really had', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const db = join(dir, 'lenta.db');
  // Exploration on a third of the slots, uniform over the best 8.
  const engine = await openEngine(db, { mix: { exploration: { share: 0.35, method: 'uniform', topM: 8 } }, rank: { learn: false }, feed: { fusion: { learn: false } } });
  const records: LogRecord[] = [];
  for (let i = 0; i < 80; i++) records.push({ kind: 'item', item: { id: `p${i}`, authorId: `a${i % 40}`, createdAt: T0 - i * 60_000, tags: [`t${i % 5}`] } });
  for (let u = 0; u < 30; u++) for (let k = 0; k < 3; k++) records.push({ kind: 'event', event: { userId: `fan${u}`, itemId: `p${(u * 7 + k) % 80}`, type: 'like', timestamp: T0 + u * 1000 } });
  await engine.ingest(records);
  const users = Array.from({ length: 250 }, (_, u) => `reader${u}`);
  for (const u of users) await engine.forYouFeed(u, { limit: 6 });
  await engine.drain();

  // Readers click a greedy slot's post with probability .4, an explored one's with .1.
  const rng = new Rng(3);
  const clicks: LogRecord[] = [];
  let greedyShown = 0;
  let greedyClicked = 0;
  for await (const chunk of engine.store.readLog(0, 100_000, true)) {
    for (let r = 0; r < chunk.length; r++) {
      if (chunk.type[r] !== engine.types.code('impression') || chunk.kind[r] !== 0) continue;
      const ctx = JSON.parse(chunk.context[r]!) as { explored: boolean; propensity: number };
      const click = rng.next() < (ctx.explored ? 0.1 : 0.4);
      if (!ctx.explored) {
        greedyShown++;
        if (click) greedyClicked++;
      }
      if (click) clicks.push({ kind: 'event', event: { userId: engine.store.userIds[chunk.user[r]!]!, itemId: engine.store.itemIds[chunk.target[r]!]!, type: 'click', timestamp: chunk.ts[r]! + 5000 } });
    }
  }
  await engine.ingest(clicks);
  const e = await greedyPolicyEstimate(engine.store, engine.state);
  await engine.close();
  assert.equal(e.impressions, 250 * 6);
  assert.ok(e.explored > 300 && e.explored < 700, `${e.explored} explored slots`);
  const truth = greedyClicked / greedyShown;
  assert.ok(e.greedy.ci95[0] <= 0.4 && 0.4 <= e.greedy.ci95[1], `greedy SNIPS ${e.greedy.snips} [${e.greedy.ci95}] should cover .4`);
  assert.ok(Math.abs(e.greedy.snips - truth) < 0.05, `${e.greedy.snips} vs ${truth}`);
  assert.ok(e.logged.rate < e.greedy.snips - 0.05, 'exploration costs engagement here, and the estimate sees it');
  assert.ok(e.greedy.ci95[1] - e.greedy.ci95[0] < 0.1);

  // The command on the database file.
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => (out.push(chunk), true)) as typeof process.stdout.write;
  try {
    assert.equal(await main(['ope', '--db', db, '--json']), 0);
  } finally {
    process.stdout.write = write;
  }
  const json = JSON.parse(out.join('').trim().split('\n').pop()!) as { greedy: { snips: number }; impressions: number };
  assert.equal(json.impressions, 1500);
  assert.ok(Math.abs(json.greedy.snips - e.greedy.snips) < 1e-12);
});
