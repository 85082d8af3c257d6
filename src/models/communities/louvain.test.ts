import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bipartiteFromEdges, clusterProducers } from './louvain.js';

test('two planted producer communities in a follow graph are found', () => {
  // Producers 0–9 (group A) and 10–19 (group B); 60 consumers, each following 5 producers of
  // its group, plus a little noise across groups.
  const from: number[] = [];
  const to: number[] = [];
  let s = 7;
  const rand = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let u = 0; u < 60; u++) {
    const group = u < 30 ? 0 : 10;
    const picked = new Set<number>();
    while (picked.size < 5) picked.add(group + Math.floor(rand() * 10));
    for (const p of picked) {
      from.push(u);
      to.push(p);
    }
    if (u % 10 === 0) {
      from.push(u);
      to.push((group + 10 + u) % 20);
    }
  }
  const g = bipartiteFromEdges(60, 20, from, to);
  const c = clusterProducers(g, { resolution: 1, seed: 3 });
  const a = c.labels[0];
  const b = c.labels[10];
  assert.ok(a >= 0 && b >= 0);
  assert.notEqual(a, b);
  for (let p = 0; p < 10; p++) assert.equal(c.labels[p], a, `producer ${p}`);
  for (let p = 10; p < 20; p++) assert.equal(c.labels[p], b, `producer ${p}`);
  assert.equal(c.count, 2);
});

test('duplicate edges are summed and producers without edges get no community', () => {
  const g = bipartiteFromEdges(2, 4, [0, 0, 1, 1, 0], [1, 1, 2, 1, 2]);
  assert.deepEqual(Array.from(g.offsets), [0, 2, 4]);
  assert.deepEqual(Array.from(g.weights), [2, 1, 1, 1]);
  const c = clusterProducers(g);
  assert.equal(c.labels[0], -1);
  assert.equal(c.labels[3], -1);
});
