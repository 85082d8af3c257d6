/**
 * A small Prometheus registry: counters and histograms with labels, and gauges read at scrape
 * time. Rendered in the Prometheus text exposition format (version 0.0.4).
 */

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys.map((k) => `${k}="${labels[k]!.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',');
}

export class Counter {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`;
    if (this.values.size === 0) out += `${this.name} 0\n`;
    for (const [k, v] of this.values) out += `${this.name}${k ? `{${k}}` : ''} ${v}\n`;
    return out;
  }
}

export class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}
  observe(value: number, labels: Labels = {}): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    for (const [k, s] of this.series) {
      const sep = k ? `${k},` : '';
      this.buckets.forEach((b, i) => (out += `${this.name}_bucket{${sep}le="${b}"} ${s.counts[i]}\n`));
      out += `${this.name}_bucket{${sep}le="+Inf"} ${s.count}\n`;
      out += `${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}\n`;
      out += `${this.name}_count${k ? `{${k}}` : ''} ${s.count}\n`;
    }
    return out;
  }
}

export class MetricsRegistry {
  private readonly metrics: (Counter | Histogram)[] = [];
  private readonly gauges: { name: string; help: string; read: () => [Labels, number][] }[] = [];

  counter(name: string, help: string): Counter {
    const c = new Counter(name, help);
    this.metrics.push(c);
    return c;
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    const h = new Histogram(name, help, buckets);
    this.metrics.push(h);
    return h;
  }

  /** A gauge whose values are read when scraped. */
  gauge(name: string, help: string, read: () => number | [Labels, number][]): void {
    this.gauges.push({ name, help, read: () => {
      const v = read();
      return typeof v === 'number' ? [[{}, v]] : v;
    } });
  }

  render(): string {
    let out = this.metrics.map((m) => m.render()).join('');
    for (const g of this.gauges) {
      out += `# HELP ${g.name} ${g.help}\n# TYPE ${g.name} gauge\n`;
      for (const [labels, v] of g.read()) {
        const k = labelKey(labels);
        out += `${g.name}${k ? `{${k}}` : ''} ${v}\n`;
      }
    }
    return out;
  }
}

/**
 * Several processes' metrics texts as one exposition: each sample gets a `worker` label with its
 * process's id, and the samples of one metric family stay together under one HELP/TYPE header.
 */
export function mergeMetrics(parts: readonly { worker: string; text: string }[]): string {
  const families = new Map<string, { headers: string[]; samples: string[] }>();
  for (const { worker, text } of parts) {
    const label = `worker="${worker.replace(/["\\\n]/g, '_')}"`;
    let family: { headers: string[]; samples: string[] } | undefined;
    for (const line of text.split('\n')) {
      if (!line) continue;
      const header = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (header) {
        const name = header[2]!;
        family = families.get(name);
        if (!family) families.set(name, (family = { headers: [], samples: [] }));
        if (!family.headers.some((h) => h.startsWith(`# ${header[1]} `))) family.headers.push(line);
        continue;
      }
      if (line.startsWith('#')) continue;
      const brace = line.indexOf('{');
      const space = line.indexOf(' ');
      const sample = brace >= 0 && brace < space ? `${line.slice(0, brace + 1)}${label},${line.slice(brace + 1)}` : `${line.slice(0, space)}{${label}}${line.slice(space)}`;
      if (!family) families.set('', (family = { headers: [], samples: [] }));
      family.samples.push(sample);
    }
  }
  let out = '';
  for (const f of families.values()) out += `${f.headers.join('\n')}${f.headers.length ? '\n' : ''}${f.samples.join('\n')}\n`;
  return out;
}
