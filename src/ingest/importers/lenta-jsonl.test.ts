import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventTypeRegistry } from '../../domain/event-types.js';
import type { LogRecord } from '../../domain/types.js';
import { ImportError, type ImportProgress } from '../importer.js';
import { lentaJsonlImporter } from './lenta-jsonl.js';

const types = new EventTypeRegistry();
const dir = mkdtempSync(join(tmpdir(), 'lenta-jsonl-'));
let n = 0;
function fixture(lines: string[], eol = '\n'): string {
  const file = join(dir, `f${n++}.jsonl`);
  writeFileSync(file, lines.join(eol));
  return file;
}

async function collect(file: string, onProgress?: (p: ImportProgress) => void): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for await (const r of lentaJsonlImporter.read(file, { types, onProgress })) out.push(r);
  return out;
}

async function importError(file: string): Promise<ImportError> {
  try {
    await collect(file);
  } catch (err) {
    assert.ok(err instanceof ImportError, `expected an ImportError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an ImportError');
}

test('lenta-jsonl: every record kind, CRLF and blank lines, in file order', async () => {
  const file = fixture(
    [
      '{"kind":"user","id":"alice","createdAt":"2024-01-01T00:00:00Z"}',
      '',
      '{"kind":"item","id":"p1","authorId":"alice","tags":["cats"],"text":"hi","createdAt":1700000000000}',
      '   ',
      '{"kind":"follow","userId":"bob","targetId":"alice","timestamp":1700000000001}',
      '{"kind":"mute","userId":"bob","targetId":"carol","timestamp":1700000000002}',
      '{"kind":"block","userId":"bob","targetId":"dave","timestamp":1700000000003,"removed":true}',
      '{"kind":"event","userId":"bob","itemId":"p1","type":"impression","timestamp":1700000000004,"context":{"position":0,"propensity":0.5,"requestId":"r1"}}',
      '{"kind":"event","id":"e9","userId":"bob","itemId":"p1","type":"dwell","timestamp":1700000000005,"value":1200}',
      '',
    ],
    '\r\n',
  );
  const progress: ImportProgress[] = [];
  const records = await collect(file, (p) => progress.push(p));
  assert.deepEqual(records, [
    { kind: 'user', user: { id: 'alice', createdAt: Date.UTC(2024, 0, 1) } },
    { kind: 'item', item: { id: 'p1', authorId: 'alice', tags: ['cats'], text: 'hi', createdAt: 1700000000000 } },
    { kind: 'edge', edge: { userId: 'bob', targetId: 'alice', kind: 'follow', timestamp: 1700000000001 } },
    { kind: 'edge', edge: { userId: 'bob', targetId: 'carol', kind: 'mute', timestamp: 1700000000002 } },
    { kind: 'edge', edge: { userId: 'bob', targetId: 'dave', kind: 'block', timestamp: 1700000000003, removed: true } },
    { kind: 'event', event: { userId: 'bob', itemId: 'p1', type: 'impression', timestamp: 1700000000004, context: { position: 0, propensity: 0.5, requestId: 'r1' } } },
    { kind: 'event', event: { id: 'e9', userId: 'bob', itemId: 'p1', type: 'dwell', timestamp: 1700000000005, value: 1200 } },
  ]);
  assert.equal(progress.at(-1)?.bytesRead, progress.at(-1)?.totalBytes);
  assert.deepEqual(await lentaJsonlImporter.files(file), [file]);
});

test('lenta-jsonl: a validation error names the line and the field', async () => {
  const file = fixture([
    '{"kind":"user","id":"a"}',
    '',
    '{"kind":"event","userId":"a","itemId":"p","type":"zap","timestamp":1}',
  ]);
  const err = await importError(file);
  assert.equal(err.file, file);
  assert.equal(err.line, 3);
  assert.equal(err.field, 'line 3.type');
  assert.match(err.message, /:3: line 3\.type: unknown event type "zap"/);
});

test('lenta-jsonl: invalid JSON, unknown kinds and missing values are ImportErrors with file:line', async () => {
  const json = await importError(fixture(['{"kind":"user","id":"a"}', '{"kind":"user",']));
  assert.equal(json.line, 2);
  assert.match(json.message, new RegExp(`^${json.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: invalid JSON`));

  const kind = await importError(fixture(['{"kind":"like","userId":"a"}']));
  assert.equal(kind.field, 'line 1.kind');

  const value = await importError(fixture(['{"kind":"event","userId":"a","itemId":"p","type":"rating","timestamp":1}']));
  assert.equal(value.field, 'line 1.value');

  const self = await importError(fixture(['{"kind":"follow","userId":"a","targetId":"a","timestamp":1}']));
  assert.equal(self.field, 'line 1.targetId');

  const arr = await importError(fixture(['[1,2]']));
  assert.equal(arr.line, 1);
});

test('lenta-jsonl: a missing file is a clear error', async () => {
  await assert.rejects(() => lentaJsonlImporter.files(join(dir, 'nope.jsonl')), /lenta-jsonl: expected a \.jsonl file/);
});
