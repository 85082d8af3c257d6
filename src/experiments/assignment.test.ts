import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseConfig } from '../domain/config.js';
import { assignVariant, bucketOf, variantNames } from './assignment.js';

const N = 100_000;
const ids = Array.from({ length: N }, (_, i) => `u${i}`);
const input = { experiments: { salt: 'spring-test', variants: [{ name: 'a', share: 0.2 }, { name: 'b', share: 0.3, config: { rank: { weights: { like: 2 } } } }], holdout: { share: 0.05 } } };

function shares(assigned: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const v of assigned) out.set(v, (out.get(v) ?? 0) + 1 / assigned.length);
  return out;
}

test('100,000 users split within 1% of the configured shares', () => {
  const e = parseConfig(input).experiments;
  const assigned = ids.map((id) => assignVariant(id, e));
  const got = shares(assigned.map((a) => a.variant));
  const want = { holdout: 0.05, a: 0.2, b: 0.3, default: 0.45 };
  for (const [name, share] of Object.entries(want)) {
    const s = got.get(name) ?? 0;
    assert.ok(Math.abs(s - share) <= 0.01, `${name}: ${s} vs ${share}`);
  }
  assert.deepEqual([...got.keys()].sort(), ['a', 'b', 'default', 'holdout']);
  for (const a of assigned) {
    assert.ok(a.bucket >= 0 && a.bucket < 1);
    assert.equal(a.holdout, a.variant === 'holdout');
  }
  // the hash range is cut in declared order: holdout, a, b, default
  for (const a of assigned.slice(0, 5000)) {
    const expected = a.bucket < 0.05 ? 'holdout' : a.bucket < 0.25 ? 'a' : a.bucket < 0.55 ? 'b' : 'default';
    assert.equal(a.variant, expected);
  }
});

test('assignment is stable: two calls, a re-parsed config and another process agree', () => {
  const e1 = parseConfig(input).experiments;
  const e2 = parseConfig(JSON.parse(JSON.stringify(input))).experiments;
  for (const id of ids) {
    const a = assignVariant(id, e1);
    assert.deepEqual(assignVariant(id, e1), a);
    assert.deepEqual(assignVariant(id, e2), a);
  }
  // a fresh process (a restart): same buckets and groups for the first 2,000 users
  const module = new URL('./assignment.js', import.meta.url).href;
  const config = new URL('../domain/config.js', import.meta.url).href;
  const script = `const { assignVariant } = await import(${JSON.stringify(module)}); const { parseConfig } = await import(${JSON.stringify(config)});
const e = parseConfig(JSON.parse(process.argv[1])).experiments;
process.stdout.write(JSON.stringify(Array.from({ length: 2000 }, (_, i) => assignVariant('u' + i, e))));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(input)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), ids.slice(0, 2000).map((id) => assignVariant(id, e1)));
});

test('another salt reshuffles the users', () => {
  const e1 = parseConfig(input).experiments;
  const e2 = parseConfig({ experiments: { ...input.experiments, salt: 'autumn-test' } }).experiments;
  let changed = 0;
  let sumXY = 0;
  for (const id of ids) {
    const a = assignVariant(id, e1);
    const b = assignVariant(id, e2);
    if (a.variant !== b.variant) changed++;
    sumXY += (a.bucket - 0.5) * (b.bucket - 0.5);
  }
  // independent reassignment keeps a user's group with probability Σ share² = 0.335
  assert.ok(Math.abs(changed / N - 0.665) < 0.01, `changed ${changed / N}`);
  // and the two buckets are uncorrelated (correlation = 12 · E[(x − ½)(y − ½)])
  assert.ok(Math.abs((12 * sumXY) / N) < 0.02);
  assert.notEqual(bucketOf('u1', 'x'), bucketOf('u1', 'y'));
});

test('without experiments every user is in default; variantNames lists the groups', () => {
  const none = parseConfig({}).experiments;
  assert.deepEqual(none, { salt: 'lenta', variants: [], holdout: { share: 0, feed: 'chronological' } });
  for (const id of ids.slice(0, 1000)) assert.deepEqual({ ...assignVariant(id, none), bucket: 0 }, { variant: 'default', holdout: false, bucket: 0 });
  assert.deepEqual(variantNames(none), ['default']);
  assert.deepEqual(variantNames(parseConfig(input).experiments), ['default', 'a', 'b', 'holdout']);
  // a variant taking everything, no holdout
  const all = parseConfig({ experiments: { variants: [{ name: 'all', share: 1 }] } }).experiments;
  assert.ok(ids.slice(0, 1000).every((id) => assignVariant(id, all).variant === 'all'));
});

test('config errors name the field', () => {
  const bad = (experiments: unknown, pattern: RegExp) => assert.throws(() => parseConfig({ experiments }), pattern);
  bad({ variants: [{ name: 'a', share: 0.6 }, { name: 'b', share: 0.3 }], holdout: { share: 0.2 } }, /^ConfigError: config experiments\.variants: the shares of the variants and the holdout sum to 1\.1, more than 1$/);
  bad({ variants: [{ name: 'a', share: 0.2 }, { name: 'a', share: 0.3 }] }, /config experiments\.variants\.1\.name: duplicate variant name "a"/);
  bad({ variants: [{ name: 'a', share: 0.2, config: { rank: { weights: { like: 2 } } } }, { name: 'b', share: 0.2, config: { server: { port: 1 } } }] }, /config experiments\.variants\.1\.config\.server: a variant may only override feed, rank, mix/);
  bad({ variants: [{ name: 'a', share: 0.2, config: { feed: 3 } }] }, /config experiments\.variants\.0\.config\.feed: must be an object/);
  bad({ variants: [{ name: 'default', share: 0.2 }] }, /config experiments\.variants\.0\.name: the names "default", "holdout", "light-ranker" and "relevance-only" are reserved/);
  bad({ variants: [{ name: 'Holdout', share: 0.2 }] }, /config experiments\.variants\.0\.name: .*reserved/);
  bad({ variants: [{ name: 'a b', share: 0.2 }] }, /config experiments\.variants\.0\.name: /);
  bad({ variants: [{ name: 'x'.repeat(41), share: 0.2 }] }, /config experiments\.variants\.0\.name: /);
  bad({ variants: [{ name: 'a', share: 0 }] }, /config experiments\.variants\.0\.share: /);
  bad({ variants: [{ name: 'a', share: 1.5 }] }, /config experiments\.variants\.0\.share: /);
  bad({ variants: [{ name: 'a', share: 0.1, weight: 2 }] }, /config experiments\.variants\.0: /);
  bad({ holdout: { share: 1 } }, /config experiments\.holdout\.share: /);
  bad({ holdout: { share: 0.1, feed: 'random' } }, /config experiments\.holdout\.feed: /);
  bad({ salts: 'x' }, /config experiments: /);
  // at the limit: shares summing to exactly 1 (in floating point, 0.1 + 0.2 + 0.7 ≠ 1 exactly)
  const ok = parseConfig({ experiments: { variants: [{ name: 'a', share: 0.1 }, { name: 'b', share: 0.2 }], holdout: { share: 0.7 } } });
  assert.equal(ok.experiments.variants.length, 2);
  assert.deepEqual(ok.experiments.variants[0]!.config, {});
});
