import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CsvSyntaxError,
  ProgressTracker,
  blankFieldBounds,
  fieldBounds,
  parseDecimal,
  parseIsoDate,
  parseUint,
  readLineBatches,
  readLines,
  splitCsvLine,
} from './lines.js';
import type { ImportProgress } from './importer.js';

const dir = mkdtempSync(join(tmpdir(), 'lenta-lines-'));
let fileNo = 0;
function fixture(content: string | Buffer): string {
  const file = join(dir, `f${fileNo++}.txt`);
  writeFileSync(file, content);
  return file;
}

async function linesOf(file: string, chunkSize?: number, encoding?: 'utf8' | 'latin1' | 'auto'): Promise<[string, number][]> {
  const out: [string, number][] = [];
  for await (const l of readLines(file, { chunkSize, encoding })) out.push([l.text, l.lineNumber]);
  return out;
}

test('readLines strips CRLF and LF, keeps empty lines and a last line without newline', async () => {
  const file = fixture('a,b\r\nc\n\r\n\nlast');
  assert.deepEqual(await linesOf(file), [['a,b', 1], ['c', 2], ['', 3], ['', 4], ['last', 5]]);
});

test('readLines: no extra empty line after a final newline; empty file has no lines', async () => {
  assert.deepEqual(await linesOf(fixture('x\r\ny\r\n')), [['x', 1], ['y', 2]]);
  assert.deepEqual(await linesOf(fixture('')), []);
  assert.deepEqual(await linesOf(fixture('\n')), [['', 1]]);
});

test('readLines drops a UTF-8 byte-order mark', async () => {
  const file = fixture(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('id,name\n1,é\n')]));
  for (const chunkSize of [1, 2, 65536]) assert.deepEqual(await linesOf(file, chunkSize), [['id,name', 1], ['1,é', 2]]);
});

test('readLines gives the same lines for every chunk size (lines and UTF-8 characters across chunk boundaries)', async () => {
  const rows: string[] = [];
  for (let i = 0; i < 300; i++) rows.push(`${i},Café ☕ naïve ${'x'.repeat(i % 17)},ü${i % 3 === 0 ? '\r' : ''}`);
  rows.push('', 'a very long line ' + 'é'.repeat(5000));
  const content = rows.join('\n');
  const file = fixture(content);
  const expected = content.split('\n').map((t, i) => [t.endsWith('\r') ? t.slice(0, -1) : t, i + 1]);
  for (const chunkSize of [1, 2, 3, 5, 7, 64, 1000, 65536]) {
    assert.deepEqual(await linesOf(file, chunkSize), expected, `chunkSize ${chunkSize}`);
  }
});

test('readLines (auto) decodes a line that is not UTF-8 as Latin-1 and keeps UTF-8 lines', async () => {
  const file = fixture(Buffer.concat([Buffer.from('1\trock français\r\n', 'latin1'), Buffer.from('2\tRöyksopp\r\n3\t\uFFFD literal\n', 'utf8')]));
  assert.deepEqual(await linesOf(file), [['1\trock français', 1], ['2\tRöyksopp', 2], ['3\t\uFFFD literal', 3]]);
  assert.deepEqual((await linesOf(file, 4))[0], ['1\trock français', 1]);
  assert.deepEqual((await linesOf(file, undefined, 'latin1'))[0], ['1\trock français', 1]);
});

test('readLineBatches numbers lines across batches and reports every byte read', async () => {
  const content = Array.from({ length: 1000 }, (_, i) => `line ${i}`).join('\r\n') + '\r\n';
  const file = fixture(content);
  let bytes = 0;
  let count = 0;
  for await (const batch of readLineBatches(file, { chunkSize: 100, onBytes: (n) => (bytes += n) })) {
    batch.lines.forEach((t, i) => assert.equal(t, `line ${batch.firstLine + i - 1}`));
    count += batch.lines.length;
  }
  assert.equal(count, 1000);
  assert.equal(bytes, Buffer.byteLength(content));
});

test('ProgressTracker reports at most every step bytes and always at the end of a file', () => {
  const seen: ImportProgress[] = [];
  const p = new ProgressTracker(1000, (x) => seen.push(x), 300);
  const onBytes = p.reader('a');
  for (let i = 0; i < 10; i++) onBytes(100);
  p.done('a');
  p.done('a');
  assert.deepEqual(seen.map((s) => s.bytesRead), [300, 600, 900, 1000]);
  assert.ok(seen.every((s) => s.totalBytes === 1000 && s.file === 'a'));
});

test('splitCsvLine handles quoted separators, "" escapes and empty fields', () => {
  assert.deepEqual(splitCsvLine('11,"American President, The (1995)",Comedy|Drama'), ['11', 'American President, The (1995)', 'Comedy|Drama']);
  assert.deepEqual(splitCsvLine('7789,"11\'09""01 - September 11 (2002)",Drama'), ['7789', '11\'09"01 - September 11 (2002)', 'Drama']);
  assert.deepEqual(splitCsvLine('"",a,,"b"""'), ['', 'a', '', 'b"']);
  assert.deepEqual(splitCsvLine('a,b,'), ['a', 'b', '']);
  assert.deepEqual(splitCsvLine('a;"b;c"', ';'), ['a', 'b;c']);
  assert.throws(() => splitCsvLine('1,"unterminated,x'), (e: unknown) => e instanceof CsvSyntaxError && e.column === 1);
  assert.throws(() => splitCsvLine('1,"a"b,x'), CsvSyntaxError);
});

test('fieldBounds and blankFieldBounds find fields without allocating', () => {
  const b = new Int32Array(6);
  const line = '1,22,,4444';
  assert.equal(fieldBounds(line, 44, b), 4);
  assert.deepEqual([line.slice(b[0], b[1]), line.slice(b[2], b[3]), line.slice(b[4], b[5])], ['1', '22', '']);
  assert.equal(fieldBounds('', 44, b), 1);
  const spaced = '  308   12\t4 ';
  assert.equal(blankFieldBounds(spaced, b), 3);
  assert.deepEqual([spaced.slice(b[0], b[1]), spaced.slice(b[2], b[3]), spaced.slice(b[4], b[5])], ['308', '12', '4']);
  assert.equal(blankFieldBounds('   ', b), 0);
});

test('parseDecimal equals Number() on decimals and rejects what is not a number', () => {
  const samples = ['0', '4.0', '3.5', '0.5', '964982703', '-2.25', '+7', '.5', '5.', '0.029411764705882353', '1e3', '-0.6771831139635117', '123456789012345678', '0.1', '2.675'];
  for (const s of samples) assert.equal(parseDecimal(s, 0, s.length), Number(s), s);
  for (let i = 0; i < 10000; i++) {
    const s = (Math.random() * 10 ** Math.floor(Math.random() * 8)).toFixed(Math.floor(Math.random() * 8));
    assert.equal(parseDecimal(s, 0, s.length), Number(s), s);
  }
  for (const s of ['', ' ', 'abc', '1,5', '4 ', '0x10', '.', '-', '1.2.3', 'NaN', 'Infinity']) assert.ok(Number.isNaN(parseDecimal(s, 0, s.length)), JSON.stringify(s));
  assert.equal(parseDecimal('x,3.5,y', 2, 5), 3.5);
  assert.equal(parseUint('0042', 0, 4), 42);
  assert.equal(parseUint('4a', 0, 2), -1);
  assert.equal(parseUint('', 0, 0), -1);
});

test('parseIsoDate accepts real dates only', () => {
  assert.equal(parseIsoDate('2000-07-12', 0, 10), Date.UTC(2000, 6, 12));
  assert.equal(parseIsoDate('x,2013-11-28', 2, 12), Date.UTC(2013, 10, 28));
  for (const s of ['2001-02-29', '2000-13-01', '2000-00-10', '2000-1-12', '12-07-2000', '2000/07/12', '0000-00-00']) {
    assert.ok(Number.isNaN(parseIsoDate(s, 0, s.length)), s);
  }
  assert.equal(parseIsoDate('2000-02-29', 0, 10), Date.UTC(2000, 1, 29));
});
