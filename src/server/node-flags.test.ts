import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { SERVER_YOUNG_GENERATION_FLAG, setsYoungGeneration, withServerHeapFlags } from './node-flags.js';

const root = new URL('../../../', import.meta.url);

test('serving processes get the young-generation flag unless their flags or NODE_OPTIONS size it', () => {
  assert.deepEqual(withServerHeapFlags([], ''), [SERVER_YOUNG_GENERATION_FLAG]);
  assert.deepEqual(withServerHeapFlags(['--cpu-prof'], ''), ['--cpu-prof', SERVER_YOUNG_GENERATION_FLAG]);
  assert.deepEqual(withServerHeapFlags(['--max-semi-space-size=8'], ''), ['--max-semi-space-size=8']);
  assert.deepEqual(withServerHeapFlags([], '--max-old-space-size=4096 --max-semi-space-size=32'), []);
  assert.equal(setsYoungGeneration(['--max-semi-space-size-x']), false);
  assert.equal(setsYoungGeneration(['--max-old-space-size=100']), false);
});

test('bin/lenta.js, npm start and npm run lenta start node with the same flag, and V8 takes it (a larger young generation)', () => {
  const bin = readFileSync(new URL('bin/lenta.js', root), 'utf8').split('\n')[0]!;
  assert.equal(bin, `#!/usr/bin/env -S node ${SERVER_YOUNG_GENERATION_FLAG}`);
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts.start!, new RegExp(`node ${SERVER_YOUNG_GENERATION_FLAG} bin/lenta\\.js demo`));
  assert.equal(pkg.scripts.lenta, `node ${SERVER_YOUNG_GENERATION_FLAG} bin/lenta.js`);
  // The young generation's ceiling as V8 reports it, with and without the flag.
  const youngMax = (flags: string[]) => {
    const r = spawnSync(process.execPath, [...flags, '-e', "const v8 = require('node:v8'); const keep = []; for (let i = 0; i < 4e6; i++) { const o = { i }; if (i % 2) keep.push(o); } console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size)"], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    assert.equal(r.status, 0, r.stderr);
    return Number(r.stdout.trim());
  };
  const plain = youngMax([]);
  const flagged = youngMax([SERVER_YOUNG_GENERATION_FLAG]);
  assert.ok(flagged > plain, `new space ${flagged} with the flag > ${plain} without`);
});
