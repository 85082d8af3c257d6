import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HnswMipsIndex, HnswWorkerIndex, loadHnswlib } from './mips-index.js';

test('HNSW worker: concurrent searches through the shared exchange slots give the in-thread answers', async (t) => {
  const mod = await loadHnswlib();
  if (!mod) {
    t.skip('hnswlib-node is not installed');
    return;
  }
  let seed = 3;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296) * 2 - 1;
  const dim = 6;
  const n = 4000;
  const v = Float32Array.from({ length: n * dim }, rand);
  const options = { expansionSearch: 300 };
  const local = HnswMipsIndex.build(mod, v, dim, undefined, options);
  const worker = await HnswWorkerIndex.build(v, dim, undefined, options);
  try {
    // Many searches in flight at once, with answers above and below a slot's first size (1,024),
    // so slots are created, grown past and reused while others are busy.
    const queries = Array.from({ length: 24 }, (_, r) => ({ q: Float32Array.from({ length: dim }, rand), k: r % 3 === 0 ? 1500 : 40 + r, hint: r % 4 === 0 ? 600 : 0 }));
    const skip = (i: number) => i % 7 === 0;
    const answers = await Promise.all(queries.map(({ q, k, hint }) => worker.searchAsync(q, k, skip, hint)));
    queries.forEach(({ q, k, hint }, r) => assert.deepEqual(answers[r], local.search(q, k, skip, hint)));
    // Again (slots come from the free list now).
    const again = await Promise.all(queries.map(({ q, k }) => worker.searchAsync(q, k)));
    queries.forEach(({ q, k }, r) => assert.deepEqual(again[r], local.search(q, k)));
  } finally {
    await worker.close();
  }
});
