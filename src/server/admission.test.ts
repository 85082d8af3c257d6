import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdmissionQueue, OverloadedError } from './admission.js';

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

test('admission queue: arrival order, at most `concurrency` at once, the wait measured', async () => {
  const queue = new AdmissionQueue(2, 0);
  const started: number[] = [];
  let running = 0;
  let most = 0;
  const job = (i: number) => async () => {
    started.push(i);
    running++;
    most = Math.max(most, running);
    await sleep(20);
    running--;
    return i * 10;
  };
  const runs = Array.from({ length: 6 }, (_, i) => queue.run(job(i)));
  // Nothing starts in the caller's turn: every request is queued, then started in the check phase.
  assert.equal(queue.waiting, 6);
  assert.deepEqual(started, []);
  const done = await Promise.all(runs);
  assert.deepEqual(started, [0, 1, 2, 3, 4, 5]);
  assert.equal(most, 2);
  assert.deepEqual(done.map((d) => d.result), [0, 10, 20, 30, 40, 50]);
  // The first two start at once; the last two wait for two rounds of 20 ms more. Compared with
  // each other, not with a fixed bound: a pause of this test's process (another test file's
  // load, a collection) before the first start delays them all alike.
  const waited = done.map((d) => d.waitedMs);
  assert.ok(Math.abs(waited[1]! - waited[0]!) < 10, `the first two started apart: ${waited.join(', ')} ms`);
  assert.ok(waited[5]! - waited[0]! >= 35, `the sixth waited less than two rounds more than the first: ${waited.join(', ')} ms`);
  assert.equal(queue.waiting, 0); // (and none was shed: Promise.all resolved every one)
});

test('admission queue: a request that waited longer than shedAfterMs is shed and never runs; a failure frees its slot', async () => {
  const queue = new AdmissionQueue(1, 30);
  const ran: number[] = [];
  const slow = queue.run(async () => {
    ran.push(0);
    await sleep(80);
    return 'slow';
  });
  const late = [1, 2, 3].map((i) => queue.run(async () => (ran.push(i), i)));
  assert.equal((await slow).result, 'slow');
  let shed = 0;
  for (const r of late) {
    await assert.rejects(r, (err: unknown) => err instanceof OverloadedError && err.waitedMs > 30 && /waited \d+ ms in the queue \(> feed\.overload\.shedAfterMs 30\)/.test(err.message));
    shed++;
  }
  assert.deepEqual(ran, [0]);
  assert.equal(shed, 3);
  // Quiet again: served at once. A failing request frees its slot for the next.
  await assert.rejects(queue.run(async () => Promise.reject(new Error('boom'))), /boom/);
  const calm = await queue.run(async () => 'ok');
  assert.equal(calm.result, 'ok');
  assert.ok(calm.waitedMs < 15, `waited ${calm.waitedMs} ms on a quiet queue`);
  assert.throws(() => new AdmissionQueue(0, 10), /concurrency: an integer ≥ 1 expected, got 0/);
});

test('admission queue: a standing queue (every start of an interval waited longer than the target) sheds after twice the target', async () => {
  const queue = new AdmissionQueue(1, 1000, { targetMs: 10, intervalMs: 50 });
  const outcomes = await Promise.allSettled(
    Array.from({ length: 16 }, () =>
      queue.run(async () => {
        await sleep(15);
      }),
    ),
  );
  const served = outcomes.filter((o) => o.status === 'fulfilled').length;
  const shed = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as OverloadedError] : []));
  // The first interval started a request at once (not standing); the next one's starts all
  // waited ≥ 50 ms (standing), so the rest, waiting ≥ 100 ms, were shed long before 1,000 ms.
  assert.ok(served >= 4 && shed.length >= 1, `served ${served}, shed ${shed.length}`);
  for (const err of shed) {
    assert.ok(err instanceof OverloadedError && err.standing && err.limitMs === 20, String(err));
    assert.match(err.message, /> 20 ms, twice feed\.overload\.lightAfterMs/);
  }
  // Idle again: served, and the next interval's verdict is no longer standing.
  await sleep(60);
  assert.ok((await queue.run(async () => 'ok')).waitedMs < 20);
  await sleep(60);
  await queue.run(async () => 'ok');
  assert.equal(queue.limitMs, 1000);
});
