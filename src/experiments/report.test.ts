import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseConfig } from '../domain/config.js';
import type { EventContext, LogRecord } from '../domain/types.js';
import { Engine } from '../engine.js';
import { tempDir } from '../../test/helpers.js';
import { experimentReport, meanStat, wilson, type ExperimentReport, type RateStat, type VariantReport } from './report.js';

const T0 = Date.UTC(2026, 0, 5, 12);
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

let seq = 0;
const imp = (userId: string, itemId: string, t: number, variant: string | undefined, inNetwork?: boolean): LogRecord => {
  const context: EventContext = { requestId: `r${seq}`, position: 0, propensity: 1, source: 'test' };
  if (variant !== undefined) context.variant = variant;
  if (inNetwork !== undefined) context.inNetwork = inNetwork;
  return { kind: 'event', event: { id: `imp${seq++}`, userId, itemId, type: 'impression', timestamp: T0 + t, context } };
};
const ev = (userId: string, itemId: string, type: string, t: number, value?: number): LogRecord => ({
  kind: 'event',
  event: { id: `ev${seq++}`, userId, itemId, type, timestamp: T0 + t, ...(value !== undefined ? { value } : {}) },
});
const follow = (userId: string, targetId: string, t = -DAY, removed = false): LogRecord => ({ kind: 'edge', edge: { userId, targetId, kind: 'follow', timestamp: T0 + t, ...(removed ? { removed } : {}) } });

/**
 * The crafted log. Authors: `big` (followers d1, a1, h1, x1, x2 = 5; h2 unfollowed) and
 * `small` (follower d2 = 1): the median of the authors shown is 3, so big is large.
 * Variants: default (d1, d2, n1 without a variant, a2 once later), a (a1, a2), holdout (h1, h2).
 */
function craftedLog(): LogRecord[] {
  const users = ['d1', 'd2', 'n1', 'a1', 'a2', 'h1', 'h2', 'x1', 'x2', 'big', 'small'];
  return [
    ...users.map((id): LogRecord => ({ kind: 'user', user: { id, createdAt: T0 - 10 * DAY } })),
    ...['pB1', 'pB2'].map((id): LogRecord => ({ kind: 'item', item: { id, authorId: 'big', createdAt: T0 - HOUR } })),
    ...['pS1', 'pS2'].map((id): LogRecord => ({ kind: 'item', item: { id, authorId: 'small', createdAt: T0 - HOUR } })),
    ...['d1', 'a1', 'h1', 'x1', 'x2', 'h2'].map((u) => follow(u, 'big')),
    follow('h2', 'big', -HOUR, true),
    follow('d2', 'small'),
    // before anything was shown: never counted
    ev('d1', 'pB2', 'click', -HOUR),
    // default
    imp('d1', 'pB1', 0, 'default', true),
    ev('d1', 'pB1', 'click', 5 * MIN), // engaged
    imp('d1', 'pS1', 0, 'default', false),
    ev('d1', 'pS1', 'like', 2 * DAY), // outside the window: per user only
    imp('d2', 'pB2', HOUR, 'default'), // out of network from the state
    ev('d2', 'pB2', 'hide', HOUR + MIN), // negative: not an engagement
    imp('d2', 'pS2', HOUR, 'default'), // in network from the state
    ev('d2', 'pS2', 'click', HOUR + MIN), // engaged
    ev('d2', 'pS2', 'like', HOUR + 2 * MIN), // same impression: engaged once
    ev('d2', 'pB1', 'click', HOUR + 3 * MIN), // never shown to d2: per user only
    imp('n1', 'pS1', 50 * MIN, undefined), // no variant → default
    // variant a
    ev('a1', 'pB2', 'click', 9 * MIN), // before a1's first impression, and before the impression of pB2
    imp('a1', 'pB1', 10 * MIN, 'a', true),
    ev('a1', 'pB1', 'click', 10 * MIN), // same time: engaged
    imp('a1', 'pB2', 10 * MIN, 'a', true),
    imp('a1', 'pS1', 10 * MIN, 'a', false),
    ev('a1', 'pS1', 'click', 10 * MIN + 23 * HOUR), // within the day: engaged
    imp('a1', 'pS2', 10 * MIN, 'a', false),
    imp('a2', 'pS2', 20 * MIN, 'a'),
    ev('a2', 'pS2', 'dwell', 20 * MIN + 25 * HOUR, 4000), // outside the window: per user only
    imp('a2', 'pB1', 3 * HOUR, 'default'), // a2 served default later: several variants
    // holdout
    imp('h1', 'pB1', 30 * MIN, 'holdout', true),
    ev('h1', 'pB1', 'like', 31 * MIN), // engaged
    imp('h2', 'pB2', 30 * MIN, 'holdout', true), // in network when served (unfollowed since)
    ev('h2', 'pS1', 'like', 40 * MIN), // never shown: per user only
  ];
}

async function withEngine<T>(records: LogRecord[], fn: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = await Engine.open(parseConfig({ store: { db: ':memory:' } }), { logImpressions: false });
  try {
    await engine.ingest(records);
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

function variant(r: ExperimentReport, name: string): VariantReport {
  const v = r.variants.find((x) => x.variant === name);
  assert.ok(v, `variant ${name}`);
  return v;
}

function counts(s: RateStat | undefined): [number, number] {
  assert.ok(s);
  return [s.impressions, s.engaged];
}

const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-9, `${msg ?? ''} ${a} vs ${b}`);

test('experiment report: exact counts, attribution within the window, per-user engagements, author groups', async () => {
  const r = await withEngine(craftedLog(), (e) => experimentReport(e.store, e.state));
  assert.deepEqual(
    r.variants.map((v) => v.variant),
    ['default', 'a', 'holdout'],
  );
  assert.equal(r.impressions, 13);
  assert.equal(r.users, 7);
  assert.equal(r.impressionsWithoutVariant, 1);
  assert.equal(r.usersInSeveralVariants, 1);
  assert.equal(r.attributionWindowMs, DAY);
  assert.equal(r.largeCreatorFollowers, 3);
  assert.equal(r.largeCreatorFollowersFrom, 'median of the authors shown');
  assert.equal(r.authorsShown, 2);
  assert.equal(r.from, T0);
  assert.equal(r.until, T0 + 2 * DAY); // d1's like of pS1, the newest event
  assert.equal(r.since, null);

  const d = variant(r, 'default');
  assert.deepEqual([d.users, d.impressions, d.engaged], [4, 6, 2]);
  close(d.engagementRate.rate, 1 / 3);
  assert.deepEqual([d.perUser.users, d.perUser.engagements], [3, 5]); // d1 2, d2 3, n1 0 (a2 counts in a)
  close(d.perUser.mean, 5 / 3);
  assert.deepEqual(counts(d.authorGroups.in_network), [2, 2]);
  assert.deepEqual(counts(d.authorGroups.out_of_network), [4, 0]);
  assert.deepEqual(counts(d.authorGroups.large), [3, 1]);
  assert.deepEqual(counts(d.authorGroups.small), [3, 1]);
  assert.equal(d.authorGroups.no_author, undefined);
  close(d.authorGroups.in_network!.share, 2 / 6);

  const a = variant(r, 'a');
  assert.deepEqual([a.users, a.impressions, a.engaged], [2, 5, 2]);
  close(a.engagementRate.rate, 0.4);
  assert.deepEqual([a.perUser.users, a.perUser.engagements], [2, 3]); // a1 2 (the click before is not), a2 1
  close(a.perUser.mean, 1.5);
  assert.deepEqual(counts(a.authorGroups.in_network), [2, 1]);
  assert.deepEqual(counts(a.authorGroups.out_of_network), [3, 1]);
  assert.deepEqual(counts(a.authorGroups.large), [2, 1]);
  assert.deepEqual(counts(a.authorGroups.small), [3, 1]);

  const h = variant(r, 'holdout');
  assert.deepEqual([h.users, h.impressions, h.engaged], [2, 2, 1]);
  assert.deepEqual([h.perUser.users, h.perUser.engagements, h.perUser.mean, h.perUser.sd], [2, 2, 1, 0]);
  assert.deepEqual(h.perUser.ci95, [1, 1]);
  assert.deepEqual(counts(h.authorGroups.in_network), [2, 1]); // h2's logged inNetwork wins over the state
  assert.deepEqual(counts(h.authorGroups.out_of_network), [0, 0]);

  // lifts: vs default and vs holdout, difference and relative
  assert.deepEqual(Object.keys(a.lift).sort(), ['default', 'holdout']);
  assert.deepEqual(Object.keys(d.lift), ['holdout']);
  assert.deepEqual(Object.keys(h.lift), ['default']);
  close(a.lift.default!.engagementRate.difference, 0.4 - 1 / 3);
  close(a.lift.default!.engagementRate.relative!, 0.2);
  close(a.lift.holdout!.engagementRate.relative!, -0.2);
  close(a.lift.default!.perUser.difference, 1.5 - 5 / 3);
  close(a.lift.holdout!.perUser.relative!, 0.5);
  for (const v of r.variants) {
    for (const l of Object.values(v.lift)) {
      for (const x of [l.engagementRate, l.perUser]) {
        assert.ok(x.ci95 && x.ci95[0] <= x.difference && x.difference <= x.ci95[1]);
        if (x.relative !== null && x.relativeCi95) assert.ok(x.relativeCi95[0] <= x.relative && x.relative <= x.relativeCi95[1]);
      }
    }
  }
  // every interval contains its estimate
  for (const v of r.variants) {
    const rates = [v.engagementRate, ...Object.values(v.authorGroups)];
    for (const s of rates) assert.ok(s!.ci95[0] <= s!.rate && s!.rate <= s!.ci95[1] && s!.ci95[0] >= 0 && s!.ci95[1] <= 1);
    if (v.perUser.ci95) assert.ok(v.perUser.ci95[0] <= v.perUser.mean && v.perUser.mean <= v.perUser.ci95[1]);
  }
});

test('experiment report options: attribution window, since, large-creator threshold', async () => {
  await withEngine(craftedLog(), async (e) => {
    // a window of 2 days and an hour also attributes d1's like of pS1 and a2's dwell on pS2
    const wide = await experimentReport(e.store, e.state, { attributionWindowMs: 2 * DAY + HOUR });
    assert.equal(variant(wide, 'default').engaged, 3);
    assert.equal(variant(wide, 'a').engaged, 3);
    assert.equal(variant(wide, 'holdout').engaged, 1);
    // a window of zero: only engagements at the impression's own time (a1's click of pB1)
    const zero = await experimentReport(e.store, e.state, { attributionWindowMs: 0 });
    assert.deepEqual(zero.variants.map((v) => v.engaged), [0, 1, 0]);

    // since: only a2's later default impression is left; a2's engagements from then on
    const late = await experimentReport(e.store, e.state, { since: T0 + 2 * HOUR });
    assert.equal(late.since, T0 + 2 * HOUR);
    assert.equal(late.impressions, 1);
    assert.deepEqual(late.variants.map((v) => v.variant), ['default']);
    const d = variant(late, 'default');
    assert.deepEqual([d.users, d.impressions, d.engaged, d.perUser.users, d.perUser.engagements], [1, 1, 0, 1, 1]);
    assert.equal(late.usersInSeveralVariants, 0);
    assert.equal(d.perUser.ci95, null);

    // every author with at least one follower is large
    const one = await experimentReport(e.store, e.state, { largeCreatorFollowers: 1 });
    assert.equal(one.largeCreatorFollowersFrom, 'option');
    assert.deepEqual(counts(variant(one, 'default').authorGroups.large), [6, 2]);
    assert.deepEqual(counts(variant(one, 'default').authorGroups.small), [0, 0]);
  });
});

test('experiment report: items without an author, an empty log', async () => {
  const empty = await withEngine([], (e) => experimentReport(e.store, e.state));
  assert.deepEqual([empty.impressions, empty.variants.length, empty.from, empty.until], [0, 0, null, null]);
  const r = await withEngine([{ kind: 'item', item: { id: 'orphan' } }, imp('u1', 'orphan', 0, 'x'), ev('u1', 'orphan', 'click', MIN)], (e) => experimentReport(e.store, e.state));
  const x = variant(r, 'x');
  assert.deepEqual(counts(x.authorGroups.no_author), [1, 1]);
  assert.deepEqual(counts(x.authorGroups.out_of_network), [1, 1]);
  assert.deepEqual(counts(x.authorGroups.large), [0, 0]);
  assert.deepEqual(Object.keys(x.lift), []);
});

/** `users` users in variant v, each shown 4 items; user i engages with (i mod 4) of them. */
function uniformLog(users: number, v: string): LogRecord[] {
  const out: LogRecord[] = [{ kind: 'user', user: { id: 'author' } }];
  for (let k = 0; k < 4; k++) out.push({ kind: 'item', item: { id: `${v}-p${k}`, authorId: 'author' } });
  for (let i = 0; i < users; i++) {
    for (let k = 0; k < 4; k++) {
      out.push(imp(`${v}-u${i}`, `${v}-p${k}`, i * MIN, v, false));
      if (k < i % 4) out.push(ev(`${v}-u${i}`, `${v}-p${k}`, 'click', i * MIN + 1000));
    }
  }
  return out;
}

test('intervals contain the estimate and shrink with more data', async () => {
  const small = variant(await withEngine(uniformLog(8, 'v'), (e) => experimentReport(e.store, e.state)), 'v');
  const large = variant(await withEngine(uniformLog(400, 'v'), (e) => experimentReport(e.store, e.state)), 'v');
  for (const s of [small, large]) {
    close(s.engagementRate.rate, 1.5 / 4);
    close(s.perUser.mean, 1.5);
    assert.ok(s.engagementRate.ci95[0] < s.engagementRate.rate && s.engagementRate.rate < s.engagementRate.ci95[1]);
    assert.ok(s.perUser.ci95![0] < 1.5 && 1.5 < s.perUser.ci95![1]);
  }
  const width = (ci: [number, number] | null) => ci![1] - ci![0];
  assert.ok(width(large.engagementRate.ci95) < width(small.engagementRate.ci95) / 4);
  assert.ok(width(large.perUser.ci95) < width(small.perUser.ci95) / 4);
  // the lift of two equal variants: an interval around 0 that shrinks too
  const both = await withEngine([...uniformLog(400, 'default'), ...uniformLog(400, 'b')], (e) => experimentReport(e.store, e.state));
  const l = variant(both, 'b').lift.default!;
  close(l.engagementRate.difference, 0);
  close(l.perUser.relative!, 0);
  assert.ok(l.engagementRate.ci95![0] < 0 && 0 < l.engagementRate.ci95![1]);
  assert.ok(l.perUser.relativeCi95![0] < 0 && 0 < l.perUser.relativeCi95![1]);
});

test('Wilson and normal intervals against known values', () => {
  const [lo, hi] = wilson(5, 10);
  close(Math.round(lo * 1e4) / 1e4, 0.2366);
  close(Math.round(hi * 1e4) / 1e4, 0.7634);
  assert.deepEqual(wilson(0, 10)[0], 0);
  close(Math.round(wilson(0, 10)[1] * 1e4) / 1e4, 0.2775);
  assert.deepEqual(wilson(0, 0), [0, 1]);
  const m = meanStat([1, 2, 3, 4]);
  close(m.mean, 2.5);
  close(m.sd, Math.sqrt(5 / 3));
  close(m.ci95![1] - m.mean, 1.959963984540054 * Math.sqrt(5 / 3) / 2);
});

test('lenta report experiments --json on a database file', async () => {
  const { dir, cleanup } = tempDir('lenta-report-');
  try {
    const db = join(dir, 'lenta.db');
    const engine = await Engine.open(parseConfig({ store: { db, groupCommitMs: 1 } }), { logImpressions: false });
    await engine.ingest(craftedLog());
    await engine.close();
    const main = new URL('../cli/main.js', import.meta.url).href;
    const run = (argv: string[]) => {
      const script = `const { main } = await import(${JSON.stringify(main)}); process.exitCode = await main(JSON.parse(process.argv[1]));`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(argv)], { encoding: 'utf8', env: { ...process.env, LENTA_CONFIG: '', LENTA_DB: '' } });
      return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
    };
    const json = run(['report', 'experiments', '--db', db, '--json']);
    assert.equal(json.code, 0, json.err);
    const r = JSON.parse(json.out) as ExperimentReport;
    assert.deepEqual(r.variants.map((v) => [v.variant, v.impressions, v.engaged]), [['default', 6, 2], ['a', 5, 2], ['holdout', 2, 1]]);
    assert.equal(r.largeCreatorFollowers, 3);

    const flags = run(['report', 'experiments', '--db', db, '--json', '--window', '2d', '--since', new Date(T0).toISOString(), '--large-creator', '1']);
    assert.equal(flags.code, 0, flags.err);
    const f = JSON.parse(flags.out) as ExperimentReport;
    assert.deepEqual([f.attributionWindowMs, f.since, f.largeCreatorFollowers], [2 * DAY, T0, 1]);

    const text = run(['report', 'experiments', '--db', db]);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /^experiments: 13 impressions to 7 users/);
    assert.match(text.out, /\ndefault +4 +6 +2 +33\.33%/);
    assert.match(text.out, /\na +2 +5 +2 +40\.00% /);
    assert.match(text.out, /\na +default +\+6\.67 pp +\+20\.0% +\[/);
    assert.match(text.out, /\nholdout +in_network +2 +100\.00% +1 +50\.00%/);

    const unknown = run(['report', 'nothing', '--db', db]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown report "nothing" \(known: experiments\)/);
    const badWindow = run(['report', 'experiments', '--db', db, '--window', 'soon']);
    assert.equal(badWindow.code, 2);
    assert.match(badWindow.err, /--window must be a duration/);
    const missing = run(['report', 'experiments', '--db', join(dir, 'none.db')]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /no such database/);
  } finally {
    cleanup();
  }
});
