import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoopLoad } from './loop-load.js';

const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};
const idle = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

test('loop load: the busy share of the last window, which ends only once windowMs have passed', async () => {
  const load = new LoopLoad();
  await idle(120);
  // A window of idle time.
  const calm = load.utilization(100);
  assert.ok(calm < 0.5, `idle window read as ${calm}`);
  // A window of synchronous work (what a backlog of requests looks like).
  busy(150);
  const loaded = load.utilization(100);
  assert.ok(loaded > 0.9, `busy window read as ${loaded}`);
  // Asked again before another windowMs has passed: the same window's value.
  assert.equal(load.utilization(100), loaded);
  // Idle again: the next window shows it.
  await idle(150);
  const after = load.utilization(100);
  assert.ok(after < 0.5, `idle window after the load read as ${after}`);
});
