import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsRegistry, mergeMetrics } from './metrics.js';

test('mergeMetrics: each process\'s samples labelled with its worker, one HELP/TYPE per family, families kept together', () => {
  const texts = ['1', '2'].map((worker, k) => {
    const m = new MetricsRegistry();
    m.counter('lenta_requests_total', 'requests').inc({ route: '/a' }, 3 + k);
    m.counter('lenta_plain_total', 'no labels').inc({}, 10 * (k + 1));
    m.histogram('lenta_seconds', 'latency', [0.1]).observe(k === 0 ? 0.05 : 0.5, { route: '/a' });
    return { worker, text: m.render() };
  });
  const merged = mergeMetrics(texts);
  const lines = merged.trim().split('\n');
  assert.equal(lines.filter((l) => l === '# TYPE lenta_requests_total counter').length, 1);
  assert.ok(lines.includes('lenta_requests_total{worker="1",route="/a"} 3'), merged);
  assert.ok(lines.includes('lenta_requests_total{worker="2",route="/a"} 4'), merged);
  assert.ok(lines.includes('lenta_plain_total{worker="2"} 20'), merged);
  assert.ok(lines.includes('lenta_seconds_bucket{worker="1",route="/a",le="0.1"} 1'), merged);
  assert.ok(lines.includes('lenta_seconds_bucket{worker="2",route="/a",le="0.1"} 0'), merged);
  // A family's samples follow its header, before the next family's header.
  const family = (name: string) => lines.findIndex((l) => l === `# TYPE ${name} counter`);
  const last = lines.map((l, i) => (l.startsWith('lenta_requests_total{') ? i : -1)).filter((i) => i >= 0).pop()!;
  assert.ok(family('lenta_requests_total') < last && last < family('lenta_plain_total'));
});
