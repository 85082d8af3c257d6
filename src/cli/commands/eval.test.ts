import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../command.js';
import { evalCommand } from './eval.js';
import { LentaRecommender } from '../../eval/lenta-recommender.js';

/** Runs the command in a child process (stdout belongs to the test runner here). */
function run(argv: string[]): { code: number; out: string; err: string } {
  const module = new URL('./eval.js', import.meta.url).href;
  const script = `const { evalCommand } = await import(${JSON.stringify(module)}); process.exitCode = await evalCommand.run(JSON.parse(process.argv[1]));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(argv)], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function fixture(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'lenta-eval-'));
  const lines: string[] = [];
  let t = 1_700_000_000_000;
  for (let u = 0; u < 30; u++) {
    for (let j = 0; j < 8; j++) {
      const item = (u * 3 + j * j) % 25;
      lines.push(JSON.stringify({ kind: 'event', userId: `u${u}`, itemId: `p${item}`, type: 'like', timestamp: t++ }));
    }
  }
  for (let u = 0; u < 30; u++) lines.push(JSON.stringify({ kind: 'follow', userId: `u${u}`, targetId: `u${(u + 1) % 30}`, timestamp: 1 }));
  const file = join(dir, 'events.jsonl');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return { dir, file };
}

test('lenta eval --json prints one JSON object with every metric at every k', async () => {
  const { dir, file } = fixture();
  try {
    const report = join(dir, 'r.html');
    const { code, out } = run(['--data', file, '--format', 'lenta-jsonl', '--protocol', 'random', '--k', '5,10', '--algos', 'popularity,itemknn,ease,ials,lenta', '--ials-iterations', '2', '--json', '--quiet', '--report', report]);
    assert.equal(code, 0);
    assert.equal(out.trim().split('\n').length, 1);
    const j = JSON.parse(out);
    assert.deepEqual(Object.keys(j), ['dataset', 'protocol', 'k', 'users', 'items', 'train', 'test_users', 'results']);
    assert.equal(j.protocol, 'random');
    assert.deepEqual(j.k, [5, 10]);
    assert.equal(j.users, 30);
    assert.deepEqual(Object.keys(j.results), ['popularity', 'itemknn', 'ease', 'ials', 'lenta']);
    // The pipeline ranks through the same engine as the API: it fills lists with real items.
    assert.ok(j.results.lenta['hit_rate@10'] > 0 || j.results.lenta['coverage@10'] > 0);
    for (const r of Object.values(j.results) as Record<string, number>[]) {
      for (const k of [5, 10]) {
        for (const m of ['recall', 'ndcg', 'map', 'hit_rate', 'mrr', 'coverage', 'novelty', 'intra_list_diversity', 'popularity_bias', 'in_network_share']) {
          assert.equal(typeof r[`${m}@${k}`], 'number', `${m}@${k}`);
        }
      }
      assert.equal(typeof r.fit_seconds, 'number');
      assert.equal(typeof r.recommend_seconds, 'number');
    }
    const html = readFileSync(report, 'utf8');
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /<svg/);
    assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lenta eval prints a table without --json', async () => {
  const { dir, file } = fixture();
  try {
    const { code, out } = run(['--data', file, '--format', 'lenta-jsonl', '--protocol', 'loo', '--k', '5', '--algos', 'popularity', '--quiet']);
    assert.equal(code, 0);
    assert.match(out, /protocol loo/);
    assert.match(out, /popularity\s+\d\.\d{4}/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unknown algorithm is a usage error that lists the registered ones (lenta among them)', async () => {
  await assert.rejects(evalCommand.run(['--data', tmpdir(), '--format', 'movielens', '--algos', 'popularity,nope']), (err: Error) => {
    assert.ok(err instanceof UsageError);
    assert.match(err.message, /algorithm "nope" is not registered/);
    assert.match(err.message, /lenta/);
    return true;
  });
  await assert.rejects(evalCommand.run(['--data', tmpdir(), '--format', 'movielens', '--protocol', 'weekly']), /--protocol must be one of temporal, random, loo/);
  await assert.rejects(evalCommand.run(['--data', tmpdir(), '--format', 'movielens', '--k', '0']), /--k must be/);
});

test('lenta eval --config reaches the lenta algorithm: its settings go over the catalogue defaults, and a bad value names its field', async () => {
  const config = LentaRecommender.catalogueConfig({ holdout: 'random', seed: 7 }, { rank: { gateFolds: 0 }, state: { historyLength: 500 } });
  assert.equal(config.rank.gateFolds, 0);
  assert.equal(config.state.historyLength, 500);
  // The catalogue settings the user did not touch stay.
  assert.equal(config.feed.maxPostAge, 0);
  assert.equal(config.feed.fusion.holdout, 'random');
  assert.equal(config.state.windows.at(-1), 1e13);

  const { dir, file } = fixture();
  try {
    const cfg = join(dir, 'lenta.json');
    writeFileSync(cfg, JSON.stringify({ rank: { gateFolds: -1 } }));
    const { code, err } = run(['--data', file, '--format', 'lenta-jsonl', '--protocol', 'random', '--k', '5', '--algos', 'lenta', '--quiet', '--config', cfg]);
    assert.notEqual(code, 0);
    assert.match(err, /rank\.gateFolds/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
