import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventTypeRegistry } from './event-types.js';
import { ValidationError, validateEvent, validateRecord, parseTimestamp } from './validate.js';

const types = new EventTypeRegistry();

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${String(err)}`);
    return err.field;
  }
  assert.fail('expected a ValidationError');
}

test('an event with an unknown type names the type field', () => {
  assert.equal(fieldOf(() => validateEvent({ userId: 'u', itemId: 'i', type: 'zap', timestamp: 1 }, 'events[3]', types)), 'events[3].type');
});

test('missing user id and non-numeric timestamps name their fields', () => {
  assert.equal(fieldOf(() => validateEvent({ itemId: 'i', type: 'like', timestamp: 1 }, 'e', types)), 'e.userId');
  assert.equal(fieldOf(() => validateEvent({ userId: 'u', itemId: 'i', type: 'like', timestamp: 'soon' }, 'e', types)), 'e.timestamp');
  assert.equal(fieldOf(() => validateEvent({ userId: 'u', itemId: 'i', type: 'like', timestamp: 1, extra: 1 }, 'e', types)), 'e.extra');
});

test('valued types require a value; impressions check propensity', () => {
  assert.equal(fieldOf(() => validateEvent({ userId: 'u', itemId: 'i', type: 'dwell', timestamp: 1 }, 'e', types)), 'e.value');
  assert.equal(
    fieldOf(() => validateEvent({ userId: 'u', itemId: 'i', type: 'impression', timestamp: 1, context: { propensity: 0 } }, 'e', types)),
    'e.context.propensity',
  );
});

test('timestamps accept epoch ms and ISO 8601', () => {
  assert.equal(parseTimestamp(1_700_000_000_000, 't'), 1_700_000_000_000);
  assert.equal(parseTimestamp('2024-01-02T03:04:05Z', 't'), Date.UTC(2024, 0, 2, 3, 4, 5));
  assert.throws(() => parseTimestamp(1e16, 't'), /out of range/);
});

test('lenta-jsonl records dispatch on kind', () => {
  const r = validateRecord({ kind: 'mute', userId: 'a', targetId: 'b', timestamp: 5 }, 'l', types);
  assert.deepEqual(r, { kind: 'edge', edge: { userId: 'a', targetId: 'b', kind: 'mute', timestamp: 5 } });
  assert.equal(fieldOf(() => validateRecord({ kind: 'post' }, 'l', types)), 'l.kind');
});
