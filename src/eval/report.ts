/**
 * `lenta eval --report out.html`: one self-contained HTML file (inline CSS, inline SVG, no
 * scripts, no external resources) with the run's parameters, a table per k, metric-vs-k charts,
 * the popularity distribution of recommended items per algorithm, coverage, and timings.
 */
import type { AlgorithmResult, EvaluationResult } from './evaluate.js';

export interface ReportContext {
  format: string;
  data: string;
  algorithmOptions: Record<string, unknown>;
}

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];

const ACCURACY = ['recall', 'ndcg', 'map', 'hit_rate', 'mrr'];
const BEYOND = ['coverage', 'novelty', 'intra_list_diversity', 'popularity_bias', 'in_network_share'];
const LABELS: Record<string, string> = {
  recall: 'Recall',
  ndcg: 'NDCG',
  map: 'MAP',
  hit_rate: 'Hit rate',
  mrr: 'MRR',
  coverage: 'Coverage',
  novelty: 'Novelty',
  intra_list_diversity: 'Intra-list diversity',
  popularity_bias: 'Popularity bias',
  in_network_share: 'In-network share',
};
/** Metrics where lower is the "better" direction for highlighting. */
const LOWER_IS_BETTER = new Set(['popularity_bias']);

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function fmt(x: number | undefined, digits = 4): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  return x.toFixed(digits);
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const exp = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * exp >= v) return m * exp;
  return 10 * exp;
}

/** Axis scale with `ticks` intervals of a round step (1, 2, 2.5 or 5 × 10^e) covering v. */
function niceScale(v: number, ticks: number): { max: number; step: number; digits: number } {
  const raw = (v > 0 ? v : 1) / ticks;
  const exp = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * exp).find((s) => s >= raw * (1 - 1e-12)) ?? 10 * exp;
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (Math.abs(step / Math.pow(10, Math.floor(Math.log10(step) + 1e-9)) - 2.5) < 1e-9 ? 1 : 0));
  return { max: step * ticks, step, digits };
}

interface Series {
  name: string;
  color: string;
  values: number[];
}

/** A small line chart: x = the k values (evenly spaced), one line per series. */
function lineChart(title: string, xs: number[], series: Series[]): string {
  const W = 300;
  const H = 190;
  const L = 46;
  const R = 22;
  const T = 28;
  const B = 30;
  const scale = niceScale(Math.max(0, ...series.flatMap((s) => s.values.filter(Number.isFinite))), 4);
  const max = scale.max;
  const x = (i: number): number => (xs.length === 1 ? L + (W - L - R) / 2 : L + (i * (W - L - R)) / (xs.length - 1));
  const y = (v: number): number => T + (H - T - B) * (1 - v / max);
  const parts: string[] = [];
  parts.push(`<text x="${L}" y="16" class="ct">${esc(title)}</text>`);
  for (let g = 0; g <= 4; g++) {
    const v = scale.step * g;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`);
    parts.push(`<text x="${L - 6}" y="${(y(v) + 3.5).toFixed(1)}" class="ax" text-anchor="end">${v.toFixed(scale.digits)}</text>`);
  }
  xs.forEach((k, i) => parts.push(`<text x="${x(i).toFixed(1)}" y="${H - 12}" class="ax" text-anchor="middle">@${k}</text>`));
  for (const s of series) {
    const pts = s.values.map((v, i) => [x(i), y(Number.isFinite(v) ? v : 0)] as const);
    if (pts.length > 1) parts.push(`<polyline points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}" fill="none" stroke="${s.color}" stroke-width="2.2" stroke-linejoin="round"/>`);
    for (const [i, [a, b]] of pts.entries()) parts.push(`<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="3.2" fill="${s.color}"><title>${esc(s.name)} ${esc(title)}@${xs[i]} = ${fmt(s.values[i])}</title></circle>`);
  }
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)} versus k">${parts.join('')}</svg>`;
}

/** Bars of the share of recommended slots per popularity decile, one chart per algorithm. */
function decileChart(name: string, color: string, shares: number[]): string {
  const W = 250;
  const H = 150;
  const L = 36;
  const R = 8;
  const T = 26;
  const B = 26;
  const max = niceMax(Math.max(0.1, ...shares));
  const bw = (W - L - R) / shares.length;
  const y = (v: number): number => T + (H - T - B) * (1 - v / max);
  const parts: string[] = [`<text x="${L}" y="15" class="ct">${esc(name)}</text>`];
  for (let g = 0; g <= 2; g++) {
    const v = (max * g) / 2;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`);
    parts.push(`<text x="${L - 5}" y="${(y(v) + 3.5).toFixed(1)}" class="ax" text-anchor="end">${(v * 100).toFixed(0)}%</text>`);
  }
  shares.forEach((s, d) => {
    const x0 = L + d * bw + 2;
    parts.push(`<rect x="${x0.toFixed(1)}" y="${y(s).toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${(y(0) - y(s)).toFixed(1)}" rx="2" fill="${color}" opacity="${(1 - d * 0.06).toFixed(2)}"><title>decile ${d + 1}: ${(s * 100).toFixed(1)}% of slots</title></rect>`);
    parts.push(`<text x="${(x0 + (bw - 4) / 2).toFixed(1)}" y="${H - 12}" class="ax" text-anchor="middle">${d + 1}</text>`);
  });
  // the 10% line of a popularity-blind recommender
  parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(0.1).toFixed(1)}" y2="${y(0.1).toFixed(1)}" class="ref"/>`);
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="popularity deciles of ${esc(name)}">${parts.join('')}</svg>`;
}

/** Horizontal bars, one per algorithm. */
function hbarChart(title: string, rows: { name: string; color: string; value: number }[], asPercent: boolean): string {
  const W = 420;
  const rowH = 24;
  const L = 110;
  const R = 60;
  const T = 26;
  const H = T + rows.length * rowH + 8;
  const max = niceMax(Math.max(0, ...rows.map((r) => r.value)));
  const parts: string[] = [`<text x="0" y="15" class="ct">${esc(title)}</text>`];
  rows.forEach((r, i) => {
    const yy = T + i * rowH;
    const w = ((W - L - R) * (Number.isFinite(r.value) ? r.value : 0)) / max;
    parts.push(`<text x="${L - 8}" y="${yy + 15}" class="lb" text-anchor="end">${esc(r.name)}</text>`);
    parts.push(`<rect x="${L}" y="${yy + 3}" width="${Math.max(1, w).toFixed(1)}" height="${rowH - 8}" rx="3" fill="${r.color}"/>`);
    parts.push(`<text x="${(L + w + 6).toFixed(1)}" y="${yy + 15}" class="ax">${asPercent ? `${(r.value * 100).toFixed(2)}%` : fmt(r.value, 2)}</text>`);
  });
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg>`;
}

function metricTable(r: EvaluationResult, k: number): string {
  const metrics = [...ACCURACY, ...BEYOND].filter((m) => r.results.some((a) => a.metrics[`${m}@${k}`] !== undefined));
  const best = new Map<string, number>();
  for (const m of metrics) {
    const vals = r.results.map((a) => a.metrics[`${m}@${k}`]).filter((v): v is number => v !== undefined);
    if (vals.length > 1) best.set(m, LOWER_IS_BETTER.has(m) ? Math.min(...vals) : Math.max(...vals));
  }
  const head = metrics.map((m) => `<th class="${ACCURACY.includes(m) ? 'acc' : 'bey'}">${esc(LABELS[m] ?? m)}</th>`).join('');
  const rows = r.results
    .map((a, i) => {
      const cells = metrics
        .map((m) => {
          const v = a.metrics[`${m}@${k}`];
          const isBest = v !== undefined && best.get(m) === v;
          return `<td class="${isBest ? 'best' : ''}">${fmt(v)}</td>`;
        })
        .join('');
      return `<tr><th class="algo"><span class="dot" style="background:${PALETTE[i % PALETTE.length]}"></span>${esc(a.name)}</th>${cells}</tr>`;
    })
    .join('');
  return `<div class="tablewrap"><table><thead><tr><th class="algo">@${k}</th>${head}</tr></thead><tbody>${rows}</tbody></table></div>`;
}

export function renderReport(r: EvaluationResult, ctx: ReportContext): string {
  const color = (i: number): string => PALETTE[i % PALETTE.length];
  const maxK = r.ks[r.ks.length - 1];
  const params: [string, string][] = [
    ['data set', `${r.dataset} (${ctx.data})`],
    ['format', ctx.format],
    ['protocol', r.protocol + (r.protocol === 'random' ? `, seed ${r.seed}` : '')],
    ['test positives', r.explicitRatings ? `held-out ratings ≥ ${r.threshold}` : 'every held-out interaction'],
    ['k', r.ks.join(', ')],
    ['users / items', `${r.users.toLocaleString('en-US')} / ${r.items.toLocaleString('en-US')}`],
    ['interactions', `${r.interactions.toLocaleString('en-US')} (${r.duplicates.toLocaleString('en-US')} duplicate pairs dropped)`],
    ['train / test', `${r.train.toLocaleString('en-US')} / ${r.test.toLocaleString('en-US')}`],
    ['candidate items', r.candidates.toLocaleString('en-US')],
    ['evaluated users', r.testUsers.toLocaleString('en-US')],
  ];
  const opts = Object.entries(ctx.algorithmOptions).filter(([, v]) => v !== undefined);
  if (opts.length > 0) params.push(['settings', opts.map(([k, v]) => `${k}=${String(v)}`).join(', ')]);
  params.push(['run', `${r.startedAt}, ${r.seconds.toFixed(1)} s`]);

  const chartMetrics = [...ACCURACY, 'coverage', 'novelty', 'intra_list_diversity', 'popularity_bias', 'in_network_share'].filter((m) => r.results.some((a) => a.metrics[`${m}@${r.ks[0]}`] !== undefined));
  const legend = r.results.map((a, i) => `<span class="lg"><span class="dot" style="background:${color(i)}"></span>${esc(a.name)}</span>`).join('');
  const lineCharts = chartMetrics
    .map((m) => lineChart(LABELS[m] ?? m, r.ks, r.results.map((a, i) => ({ name: a.name, color: color(i), values: r.ks.map((k) => a.metrics[`${m}@${k}`] ?? NaN) }))))
    .map((svg) => `<div class="chart">${svg}</div>`)
    .join('');
  const deciles = r.results.map((a: AlgorithmResult, i) => `<div class="chart">${decileChart(a.name, color(i), a.popularityDeciles[maxK] ?? [])}</div>`).join('');
  const coverage = hbarChart(`Coverage@${maxK}: share of candidate items recommended to anyone`, r.results.map((a, i) => ({ name: a.name, color: color(i), value: a.metrics[`coverage@${maxK}`] ?? 0 })), true);
  const popBias = hbarChart(`Popularity bias@${maxK}: slots taken by the top-10% items`, r.results.map((a, i) => ({ name: a.name, color: color(i), value: a.metrics[`popularity_bias@${maxK}`] ?? 0 })), true);
  const timing = r.results
    .map((a, i) => `<tr><th class="algo"><span class="dot" style="background:${color(i)}"></span>${esc(a.name)}</th><td>${a.fitSeconds.toFixed(2)}</td><td>${a.recommendSeconds.toFixed(2)}</td><td class="note">${esc(Object.entries(a.notes).map(([k, v]) => `${k}: ${v}`).join('; '))}</td></tr>`)
    .join('');

  const css = `
:root{--bg:#f6f7fb;--card:#fff;--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--accent:#2563eb}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
header{background:linear-gradient(120deg,#1e3a8a,#2563eb 60%,#0891b2);color:#fff;padding:28px 36px}
header h1{margin:0 0 4px;font-size:24px;font-weight:650;letter-spacing:-.01em}
header p{margin:0;opacity:.85}
main{max-width:1180px;margin:0 auto;padding:24px 24px 48px}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 22px;margin:0 0 20px;box-shadow:0 1px 2px rgba(0,0,0,.03)}
h2{font-size:16px;margin:0 0 12px;font-weight:650}
h2 small{font-weight:400;color:var(--muted);margin-left:8px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:0}
dt{color:var(--muted)}dd{margin:0;font-variant-numeric:tabular-nums}
.tablewrap{overflow-x:auto;margin-bottom:14px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:7px 10px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
thead th{font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.03em}
thead th.bey{color:#0e7490}
th.algo{text-align:left;font-weight:600}
td.best{font-weight:700;color:var(--accent);background:#eff6ff}
td.note{text-align:left;color:var(--muted);white-space:normal}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:8px;vertical-align:0}
.legend{margin:0 0 10px}.lg{margin-right:18px;white-space:nowrap}
.charts{display:flex;flex-wrap:wrap;gap:10px 18px}
.chart{flex:0 0 auto}
svg text{font-family:inherit}
.ct{font-size:12.5px;font-weight:600;fill:#374151}
.ax{font-size:10.5px;fill:#6b7280}
.lb{font-size:12px;fill:#374151}
.grid{stroke:#eef0f4;stroke-width:1}
.ref{stroke:#9ca3af;stroke-width:1;stroke-dasharray:4 3}
p.hint{color:var(--muted);margin:4px 0 12px;max-width:880px}
footer{color:var(--muted);font-size:12px;max-width:1180px;margin:0 auto;padding:0 24px 32px}
`;
  const title = `Lenta evaluation — ${r.dataset}, ${r.protocol}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${css}</style></head>
<body>
<header><h1>${esc(title)}</h1><p>${r.results.length} algorithm${r.results.length === 1 ? '' : 's'} · ${r.testUsers.toLocaleString('en-US')} evaluated users · full ranking over ${r.candidates.toLocaleString('en-US')} candidate items</p></header>
<main>
<section><h2>Run</h2><dl>${params.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl></section>
<section><h2>Metrics<small>best value per column highlighted (lowest for popularity bias)</small></h2>${r.ks.map((k) => metricTable(r, k)).join('')}</section>
<section><h2>Metrics versus k</h2><div class="legend">${legend}</div><div class="charts">${lineCharts}</div></section>
<section><h2>Popularity of recommended items<small>@${maxK}</small></h2>
<p class="hint">Share of all recommended slots per popularity decile of the candidate items (1 = the 10% most popular in training, 10 = the long tail). The dashed line is 10%, what a popularity-blind recommender would show.</p>
<div class="charts">${deciles}</div></section>
<section><h2>Coverage and concentration</h2><div class="charts"><div class="chart">${coverage}</div><div class="chart">${popBias}</div></div></section>
<section><h2>Timings</h2><div class="tablewrap"><table><thead><tr><th class="algo">algorithm</th><th>fit s</th><th>recommend s</th><th class="algo">notes</th></tr></thead><tbody>${timing}</tbody></table></div></section>
</main>
<footer>Protocol: docs/EVAL_PROTOCOL.md. Recall@k = hits / min(k, |positives|); NDCG with binary gains; MAP@k = mean precision at hits / min(k, |positives|); novelty = mean −log2 of the share of training users who interacted with the recommended item; intra-list diversity = mean pairwise 1 − cosine of item vectors. Generated by lenta eval.</footer>
</body></html>
`;
}
