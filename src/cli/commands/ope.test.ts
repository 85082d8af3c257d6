import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { opeCommand } from './ope.js';

/** Runs the command in a child process (stdout belongs to the test runner here). */
function run(argv: string[]): { code: number; out: string; err: string } {
  const module = new URL('./ope.js', import.meta.url).href;
  const script = `const { opeCommand } = await import(${JSON.stringify(module)}); process.exitCode = await opeCommand.run(JSON.parse(process.argv[1]));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(argv)], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('lenta ope --target uniform on uniform logs reproduces their CTR (lenta-jsonl logs)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lenta-ope-'));
  try {
    const lines: string[] = [];
    let clicks = 0;
    for (let i = 0; i < 400; i++) {
      const item = `a${i % 4}`;
      const context = { position: i % 2, propensity: 0.25 };
      lines.push(JSON.stringify({ kind: 'event', id: `e${i}`, userId: `u${i % 7}`, itemId: item, type: 'impression', timestamp: 1_700_000_000_000 + i, context }));
      if (i % 9 === 0) {
        clicks++;
        lines.push(JSON.stringify({ kind: 'event', id: `e${i}:click`, userId: `u${i % 7}`, itemId: item, type: 'click', timestamp: 1_700_000_000_000 + i, context }));
      }
    }
    const file = join(dir, 'logs.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const { code, out, err } = run(['--format', 'lenta-jsonl', '--logs', file, '--target', 'uniform', '--bootstrap', '50', '--json', '--quiet']);
    assert.equal(code, 0, err);
    const j = JSON.parse(out);
    assert.equal(j.behaviour.impressions, 400);
    assert.ok(Math.abs(j.behaviour.ctr - clicks / 400) < 1e-12);
    assert.ok(Math.abs(j.estimates.ips.estimate - clicks / 400) < 1e-12);
    assert.ok(Math.abs(j.estimates.snips.estimate - clicks / 400) < 1e-12);
    assert.equal(j.estimates.ips.reference_in_ci, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lenta ope names missing inputs', async () => {
  await assert.rejects(opeCommand.run(['--format', 'obd', '--logs', '/nonexistent/random/men', '--target', 'bts']), /--logs \/nonexistent\/random\/men: no such file or folder/);
  await assert.rejects(opeCommand.run(['--format', 'obd', '--logs', tmpdir()]), /--target is required/);
});

const OBD = join(process.cwd(), '../shared/data/open-bandit-obd-small');

test('lenta ope on Open Bandit: bts estimated from the random logs, compared with the bts logs', { skip: existsSync(OBD) ? false : 'data set not present' }, () => {
  for (const campaign of ['men', 'women']) {
    const { code, out, err } = run(['--format', 'obd', '--logs', join(OBD, 'random', campaign), '--target', 'bts', '--bootstrap', '300', '--json', '--quiet']);
    assert.equal(code, 0, err);
    const j = JSON.parse(out);
    assert.equal(j.target.logs, join(OBD, 'bts', campaign));
    assert.equal(j.target.impressions, 10000);
    for (const name of ['ips', 'snips']) {
      assert.equal(j.estimates[name].reference_in_ci, true, `${campaign} ${name}`);
      assert.equal(j.estimates[name].within_observed_ci, true, `${campaign} ${name}`);
      assert.equal(typeof j.estimates[name].relative_error, 'number');
    }
  }
});
