import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventTypeRegistry } from '../../domain/event-types.js';
import type { LogRecord } from '../../domain/types.js';
import { ImportError } from '../importer.js';
import { obdImporter, parseObdTimestamp } from './obd.js';

const types = new EventTypeRegistry();
const root = mkdtempSync(join(tmpdir(), 'lenta-obd-'));
let n = 0;

const HEADER = ',timestamp,item_id,position,click,propensity_score,user_feature_0,user_feature_1,user_feature_2,user_feature_3,user-item_affinity_0,user-item_affinity_1';
const ITEMS = ',item_id,item_feature_0,item_feature_1\n0,0,-0.5,abc\n1,1,0.25,def\n';

function campaign(rows: string[], policy = 'random', name = 'men'): string {
  const dir = join(root, `r${n++}`, policy, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.csv`), [HEADER, ...rows].join('\n') + '\n');
  writeFileSync(join(dir, 'item_context.csv'), ITEMS);
  return dir;
}

async function collect(input: string): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for await (const r of obdImporter.read(input, { types })) out.push(r);
  return out;
}

test('obd: items, one impression per row and a click where click = 1', async () => {
  const dir = campaign([
    '0,2019-11-24 00:03:13.442536+00:00,1,3,0,0.5,a,b,c,d,0.0,1.0',
    '1,2019-11-24 00:03:14.000001+00:00,0,1,1,0.25,a,b,c,d,0.0,0.0',
    '2,2019-11-24 00:03:15+00:00,0,2,0,1,a,b,c,e,0.0,0.0',
  ]);
  const records = await collect(dir);
  assert.deepEqual(records.slice(0, 2), [
    { kind: 'item', item: { id: 'men:0', attributes: { item_feature_0: -0.5, item_feature_1: 'abc' }, tags: ['item_feature_1:abc'] } },
    { kind: 'item', item: { id: 'men:1', attributes: { item_feature_0: 0.25, item_feature_1: 'def' }, tags: ['item_feature_1:def'] } },
  ]);
  const events = records.slice(2).map((r) => (r.kind === 'event' ? r.event : assert.fail('expected events after the items')));
  assert.deepEqual(events.map((e) => [e.id, e.type, e.itemId, e.context]), [
    ['obd:random:men:0', 'impression', 'men:1', { position: 2, propensity: 0.5, variant: 'random' }],
    ['obd:random:men:1', 'impression', 'men:0', { position: 0, propensity: 0.25, variant: 'random' }],
    ['obd:random:men:1:click', 'click', 'men:0', { position: 0, propensity: 0.25, variant: 'random' }],
    ['obd:random:men:2', 'impression', 'men:0', { position: 1, propensity: 1, variant: 'random' }],
  ]);
  assert.equal(events[0].timestamp, Date.UTC(2019, 10, 24, 0, 3, 13, 442));
  assert.equal(events[2].timestamp, events[1].timestamp);
  // The same user features give the same user id; different ones a different id.
  assert.match(events[0].userId, /^ctx:[0-9a-f]{16}$/);
  assert.equal(events[1].userId, events[0].userId);
  assert.equal(events[2].userId, events[0].userId);
  assert.notEqual(events[3].userId, events[0].userId);
  assert.equal(obdImporter.explicitRatings, false);
  // The campaign CSV path works too.
  assert.deepEqual(await collect(join(dir, 'men.csv')), records);
});

test('obd: bad rows name file, line and field', async () => {
  const cases: [string, string][] = [
    ['0,2019-11-24 00:03:13.442536+00:00,1,3,2,0.5,a,b,c,d,0,0', 'click'],
    ['0,2019-11-24 00:03:13.442536+00:00,1,3,0,0,a,b,c,d,0,0', 'propensity_score'],
    ['0,2019-11-24 00:03:13.442536+00:00,1,0,0,0.5,a,b,c,d,0,0', 'position'],
    ['0,24/11/2019 00:03,1,3,0,0.5,a,b,c,d,0,0', 'timestamp'],
  ];
  for (const [row, field] of cases) {
    const dir = campaign(['0,2019-11-24 00:03:13+00:00,1,3,0,0.5,a,b,c,d,0,0', row]);
    await assert.rejects(() => collect(dir), (err: unknown) => {
      assert.ok(err instanceof ImportError, String(err));
      assert.equal(err.line, 3);
      assert.equal(err.field, field);
      assert.ok(err.message.startsWith(join(dir, 'men.csv') + ':3:'), err.message);
      return true;
    });
  }
  const short = campaign(['0,2019-11-24 00:03:13+00:00,1,3,0,0.5,a,b,c,d,0']);
  await assert.rejects(() => collect(short), /men\.csv:2: expected 12 comma-separated columns/);
});

test('parseObdTimestamp: offsets, Z, no fraction; rejects malformed times', () => {
  const p = (s: string): number => parseObdTimestamp(s, 0, s.length);
  assert.equal(p('2019-11-24 00:03:13.442536+00:00'), Date.UTC(2019, 10, 24, 0, 3, 13, 442));
  assert.equal(p('2019-11-24T00:03:13Z'), Date.UTC(2019, 10, 24, 0, 3, 13));
  assert.equal(p('2019-11-24 09:03:13.5+09:00'), Date.UTC(2019, 10, 24, 0, 3, 13, 500));
  assert.equal(p('2019-11-24 00:03:13'), Date.UTC(2019, 10, 24, 0, 3, 13));
  for (const s of ['2019-02-30 00:00:00+00:00', '2019-11-24 24:00:00+00:00', '2019-11-24 00:03:13.+00:00', '2019-11-24', '2019-11-24 00:03:13 UTC']) {
    assert.ok(Number.isNaN(p(s)), s);
  }
});
