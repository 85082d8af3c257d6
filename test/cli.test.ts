import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { tempDir } from './helpers.js';

const main = new URL('../src/cli/main.js', import.meta.url).href;

/** Runs the compiled CLI in a child process, as `lenta ...args`. */
function lenta(args: string[], env: NodeJS.ProcessEnv = {}) {
  const script = `import { main } from ${JSON.stringify(main)}; process.exitCode = await main(process.argv.slice(1));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('lenta import: a bad row names file:line and nothing is imported; a good file imports with counts', () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = join(dir, 'x.db');
    const file = join(dir, 'data.jsonl');
    const lines = [
      { kind: 'user', id: 'u1' },
      { kind: 'item', id: 'p1', authorId: 'u2', createdAt: '2026-01-01T00:00:00Z', tags: ['a'] },
      { kind: 'follow', userId: 'u1', targetId: 'u2', timestamp: 1 },
      { kind: 'event', userId: 'u1', itemId: 'p1', type: 'like', timestamp: 2 },
      { kind: 'event', userId: 'u1', itemId: 'p1', type: 'dwell', timestamp: 3 },
    ];
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n'));
    const bad = lenta(['import', '--format', 'lenta-jsonl', '--input', file, '--db', db, '--quiet']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /data\.jsonl:5: .*value/);
    const raw = new Database(db, { readonly: true });
    assert.equal(raw.prepare('SELECT count(*) FROM log').pluck().get(), 0);
    assert.equal(raw.prepare('SELECT count(*) FROM users').pluck().get(), 0);
    raw.close();

    writeFileSync(file, lines.slice(0, 4).map((l) => JSON.stringify(l)).join('\n'));
    const good = lenta(['import', '--format', 'lenta-jsonl', '--input', file, '--db', db, '--quiet']);
    assert.equal(good.code, 0, good.stderr);
    const summary = JSON.parse(good.stdout) as Record<string, number>;
    assert.deepEqual([summary.users, summary.items, summary.edges, summary.events], [2, 1, 1, 1]);

    const usage = lenta(['import', '--format', 'nope', '--input', file]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /movielens/);
  } finally {
    cleanup();
  }
});

test('lenta config prints the validated config; a bad file names the field', () => {
  const { dir, cleanup } = tempDir();
  try {
    const ok = lenta(['config'], { PORT: '9123', LENTA_DB: '/tmp/x.db' });
    assert.equal(ok.code, 0);
    const config = JSON.parse(ok.stdout) as { server: { port: number }; store: { db: string }; feed: { pageSize: number } };
    assert.equal(config.server.port, 9123);
    assert.equal(config.store.db, '/tmp/x.db');
    assert.equal(config.feed.pageSize, 20);
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ feed: { inNetworkShare: 2 } }));
    const bad = lenta(['config', '--config', file]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /feed\.inNetworkShare/);
  } finally {
    cleanup();
  }
});

test('lenta sim → import → train candidates: artifacts saved next to the database and loaded by the engine', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = join(dir, 'p.db');
    const file = join(dir, 'tiny.jsonl');
    assert.equal(lenta(['sim', '--preset', 'tiny', '--out', file, '--quiet']).code, 0);
    assert.equal(lenta(['import', '--format', 'lenta-jsonl', '--input', file, '--db', db, '--quiet']).code, 0);
    const train = lenta(['train', 'candidates', '--db', db]);
    assert.equal(train.code, 0, train.stderr);
    const out = JSON.parse(train.stdout) as { trained: string[]; artifacts: string; fusion: { weights?: Record<string, number>; k0?: number } };
    assert.ok(['embedding', 'communities', 'item_to_item', 'ease', 'fusion'].every((s) => out.trained.includes(s)), out.trained.join(','));
    assert.ok(out.fusion.weights && Object.values(out.fusion.weights).some((w) => w > 0), JSON.stringify(out.fusion));
    assert.equal(out.artifacts, `${db}.models`);
    const { Engine } = await import('../src/engine.js');
    const { parseConfig } = await import('../src/domain/config.js');
    const engine = await Engine.open(parseConfig({ store: { db } }), { logImpressions: false });
    const { loaded, trained } = await engine.loadSources(`${db}.models`);
    assert.deepEqual(trained, []);
    assert.ok(loaded.includes('fusion') && loaded.includes('ease'), loaded.join(','));
    assert.deepEqual(engine.fusion.trained?.weights, out.fusion.weights);
    await engine.close();
  } finally {
    cleanup();
  }
});
