import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { LogRecord } from '../domain/types.js';
import { EventTypeRegistry } from '../domain/event-types.js';
import { getImporter } from '../ingest/importers/index.js';
import { Rng } from './prng.js';
import { ActionSpace, empiricalPolicy, estimatePolicyValue, observedCtr, quantile, readBanditLog, uniformPolicy, type TargetPolicy } from './ope.js';

/**
 * A simulated 2-position bandit with 6 actions and known click probabilities q(a, p).
 * Behaviour: a skewed but full-support policy; target: a different distribution. The true
 * target CTR is Σ_p share_p Σ_a π_e(a|p) q(a,p).
 */
function simulate(n: number, seed: number): { records: LogRecord[]; target: number[][]; truth: number } {
  const rng = new Rng(seed);
  const A = 6;
  const q = [
    [0.02, 0.05, 0.1, 0.03, 0.08, 0.01],
    [0.01, 0.03, 0.06, 0.02, 0.05, 0.01],
  ];
  const behaviour = [
    [0.3, 0.25, 0.05, 0.2, 0.1, 0.1],
    [0.1, 0.1, 0.1, 0.2, 0.2, 0.3],
  ];
  const target = [
    [0.05, 0.15, 0.4, 0.05, 0.3, 0.05],
    [0.1, 0.2, 0.3, 0.1, 0.25, 0.05],
  ];
  const records: LogRecord[] = [];
  for (let i = 0; i < n; i++) {
    const p = i % 2;
    let u = rng.next();
    let a = 0;
    while (a < A - 1 && u >= behaviour[p][a]) u -= behaviour[p][a++];
    const click = rng.next() < q[p][a];
    const base = { id: `r${i}`, userId: `ctx${i % 97}`, itemId: `item${a}`, timestamp: i, context: { position: p, propensity: behaviour[p][a] } };
    records.push({ kind: 'event', event: { ...base, type: 'impression' } });
    if (click) records.push({ kind: 'event', event: { ...base, id: `r${i}:click`, type: 'click' } });
  }
  let truth = 0;
  for (let p = 0; p < 2; p++) for (let a = 0; a < A; a++) truth += 0.5 * target[p][a] * q[p][a];
  return { records, target, truth };
}

function policyFrom(space: ActionSpace, target: number[][]): TargetPolicy {
  const probs = new Float64Array(space.size * target.length);
  target.forEach((row, p) => row.forEach((pr, a) => (probs[p * space.size + space.get(`item${a}`)] = pr)));
  return { name: 'sim', numActions: space.size, numPositions: target.length, probs };
}

test('IPS, SNIPS and DR recover the known CTR of a target policy on a simulated bandit', async () => {
  const { records, target, truth } = simulate(60000, 1);
  const space = new ActionSpace();
  const log = await readBanditLog(records, space);
  assert.equal(log.size, 60000);
  assert.equal(log.unmatchedClicks, 0);
  const result = estimatePolicyValue(log, policyFrom(space, target), { bootstrap: 300, seed: 3 });
  for (const [name, e] of Object.entries({ ips: result.ips, snips: result.snips, dr: result.dr })) {
    assert.ok(Math.abs(e.estimate - truth) < 3.5 * e.se, `${name}: ${e.estimate} vs truth ${truth} (se ${e.se})`);
    assert.ok(e.low <= truth && truth <= e.high, `${name}: truth ${truth} outside [${e.low}, ${e.high}]`);
    assert.ok(e.se > 0 && e.se < 0.01);
  }
  // the behaviour CTR itself is far from the truth: the estimators are doing real work
  assert.ok(Math.abs(result.behaviourCtr - truth) > 0.01);
  assert.ok(Math.abs(result.meanWeight - 1) < 0.03);
});

test('the target equal to the behaviour policy reproduces the logged CTR exactly (IPS, SNIPS)', async () => {
  const rng = new Rng(4);
  const records: LogRecord[] = [];
  for (let i = 0; i < 5000; i++) {
    const a = rng.int(5);
    const base = { id: `e${i}`, userId: 'x', itemId: `a${a}`, timestamp: i, context: { position: 0, propensity: 0.2 } };
    records.push({ kind: 'event', event: { ...base, type: 'impression' } });
    // clicks matched by (user, item, time, position) when the id does not say
    if (rng.next() < 0.1 * (a + 1)) records.push({ kind: 'event', event: { ...base, id: undefined, type: 'click' } });
  }
  const space = new ActionSpace();
  const log = await readBanditLog(records, space);
  const r = estimatePolicyValue(log, uniformPolicy(space.size, 1), { bootstrap: 50 });
  const obs = observedCtr(log);
  assert.ok(Math.abs(r.ips.estimate - obs.ctr) < 1e-12);
  assert.ok(Math.abs(r.snips.estimate - obs.ctr) < 1e-12);
  assert.ok(Math.abs(r.dr.estimate - obs.ctr) < 0.01);
  // an empirical policy from the same log is close to uniform here
  const emp = empiricalPolicy('self', log, space.size);
  for (let a = 0; a < space.size; a++) assert.ok(Math.abs(emp.probs[a] - 0.2) < 0.03);
});

test('bootstrap quantiles interpolate linearly', () => {
  const s = Float64Array.from([1, 2, 3, 4, 5]);
  assert.equal(quantile(s, 0), 1);
  assert.equal(quantile(s, 0.5), 3);
  assert.equal(quantile(s, 0.975), 4.9);
});

const OBD = join(process.cwd(), '../shared/data/open-bandit-obd-small');

test('Open Bandit (men): IPS/SNIPS estimates of the bts CTR from the random logs cover the observed bts CTR', { skip: existsSync(OBD) ? false : 'data set not present' }, async () => {
  const types = new EventTypeRegistry();
  const obd = getImporter('obd');
  const space = new ActionSpace();
  const random = await readBanditLog(obd.read(join(OBD, 'random/men'), { types }), space);
  const bts = await readBanditLog(obd.read(join(OBD, 'bts/men'), { types }), space);
  assert.equal(random.size, 10000);
  assert.equal(random.numPositions, 3);
  const observed = observedCtr(bts);
  const r = estimatePolicyValue(random, empiricalPolicy('bts', bts, space.size, 3), { bootstrap: 300, seed: 42 });
  for (const e of [r.ips, r.snips]) {
    assert.ok(e.low <= observed.ctr && observed.ctr <= e.high, `observed ${observed.ctr} outside [${e.low}, ${e.high}]`);
    assert.ok(e.estimate >= observed.low && e.estimate <= observed.high, `estimate ${e.estimate} outside the observed interval`);
  }
  // uniform target on uniform-random logs = the logs' own CTR
  const u = estimatePolicyValue(random, uniformPolicy(space.size, 3, random.action), { bootstrap: 20 });
  assert.ok(Math.abs(u.ips.estimate - observedCtr(random).ctr) < 1e-9);
});
