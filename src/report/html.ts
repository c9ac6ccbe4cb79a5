/**
 * The report as one self-contained HTML file: inline CSS and inline SVG only (no scripts, fonts, images or
 * styles from anywhere else), so it opens from disk offline. Every text is escaped: outputs are model-generated.
 * Order: title and notes, the headline table, plots, then details (forgetting, checks, systems, examples).
 */
import { formatInterval, formatSignedInterval, metricDecimals, metricLabel } from './format.js';
import type { ComparisonReport } from './schema.js';
import { barChart, escapeXml, lineChart, seriesColour, whiskerChart, type LegendItem, type LineSeries } from './svg.js';
import {
  exampleSystems,
  forgettingDecimals,
  forgettingSystems,
  forgettingTable,
  forgettingTasks,
  resultsTable,
  systemLabel,
  systemsTable,
  type Table,
} from './tables.js';

const STYLE = `
:root { color-scheme: light; }
body { margin: 0; background: #f6f7f9; color: #1f2328; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 28px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 36px 0 12px; padding-bottom: 4px; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 15px; margin: 0 0 8px; }
.meta { color: #57606a; margin: 0 0 8px; }
.notes { margin: 8px 0 0; padding-left: 20px; color: #24292f; }
.table-wrap { overflow-x: auto; background: #fff; border: 1px solid #d0d7de; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 10px; border-bottom: 1px solid #eaeef2; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; white-space: nowrap; }
tr:last-child td { border-bottom: none; }
table.results td:first-child, table.forgetting td:first-child { white-space: nowrap; font-weight: 600; }
td.numeric, th.numeric { text-align: right; white-space: nowrap; }
td.significant { font-weight: 700; }
td.worse { color: #b42318; font-weight: 600; }
td.better { color: #1a7f37; font-weight: 600; }
td.baseline { color: #57606a; font-style: italic; }
.footnote { color: #57606a; font-size: 13px; margin: 6px 2px 0; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 12px; max-width: 100%; box-sizing: border-box; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { font-weight: 600; margin-bottom: 6px; }
.checks { list-style: none; padding: 0; margin: 0; }
.checks li { padding: 4px 0; }
.checks .mark { display: inline-block; width: 1.4em; font-weight: 700; }
.checks .passed .mark { color: #1a7f37; }
.checks .failed .mark { color: #b42318; }
.checks .detail { color: #57606a; }
.examples td { min-width: 180px; }
.examples td:first-child { min-width: 0; width: 2em; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; max-height: 16em; overflow-y: auto; }
footer { margin-top: 40px; color: #8c959f; font-size: 12px; }
`;

/** Colour per system: its place in `report.systems`, so a system has one colour in every chart. */
function colourOf(report: ComparisonReport): (name: string) => string {
  const order = report.systems.map((system) => system.name);
  return (name) => {
    const index = order.indexOf(name);
    return seriesColour(index === -1 ? order.length : index);
  };
}

function htmlTable(table: Table, className = ''): string {
  const head = table.headers.map((header, index) => `<th${table.numeric[index] ? ' class="numeric"' : ''} scope="col">${escapeXml(header)}</th>`).join('');
  const body = table.rows
    .map((row) => {
      const cells = row.map((cell, index) => {
        const classes = [table.numeric[index] ? 'numeric' : '', cell.tone ?? ''].filter((name) => name !== '').join(' ');
        return `<td${classes === '' ? '' : ` class="${classes}"`}>${escapeXml(cell.text)}</td>`;
      });
      return `<tr>${cells.join('')}</tr>`;
    })
    .join('\n');
  const footnote = table.footnote === undefined ? '' : `<p class="footnote">${escapeXml(table.footnote)}</p>`;
  return `<div class="table-wrap"><table${className === '' ? '' : ` class="${className}"`}><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>${footnote}`;
}

function figure(id: string, caption: string, svg: string): string {
  return `<figure id="${escapeXml(id)}"><figcaption>${escapeXml(caption)}</figcaption>${svg}</figure>`;
}

/** Training (solid) and validation (dashed) loss per system over steps; undefined when no system has a curve. */
export function lossPlot(report: ComparisonReport): string | undefined {
  const colour = colourOf(report);
  const series: LineSeries[] = [];
  const legendItems: LegendItem[] = [];
  let anyEval = false;
  for (const system of report.systems) {
    const train = system.loss?.train ?? [];
    const validation = system.loss?.eval ?? [];
    if (train.length === 0 && validation.length === 0) continue;
    legendItems.push({ label: system.label, colour: colour(system.name) });
    if (train.length > 0) series.push({ key: `${system.name} train`, colour: colour(system.name), points: train });
    if (validation.length > 0) {
      series.push({ key: `${system.name} eval`, colour: colour(system.name), dashed: true, points: validation });
      anyEval = true;
    }
  }
  if (series.length === 0) return undefined;
  legendItems.push({ label: 'training', colour: '#666666' });
  if (anyEval) legendItems.push({ label: 'validation', colour: '#666666', dashed: true });
  return lineChart({ label: 'Training and validation loss over steps', xTitle: 'step', yTitle: 'loss', series, legend: legendItems });
}

/** One bar chart per metric: each system's mean with its interval. */
export function metricPlots(report: ComparisonReport): { metric: string; svg: string }[] {
  const colour = colourOf(report);
  return report.metrics.map((metric) => {
    const values = report.systems.flatMap((system) => {
      const interval = system.metrics[metric];
      return interval === undefined ? [] : [interval.value, interval.low, interval.high];
    });
    const decimals = metricDecimals(metric, values);
    const bars = report.systems.map((system) => {
      const interval = system.metrics[metric] ?? { value: NaN, low: NaN, high: NaN };
      return {
        key: system.name,
        label: system.label,
        colour: colour(system.name),
        ...interval,
        tooltip: `${system.label}: ${formatInterval(interval, decimals)}`,
      };
    });
    return { metric, svg: barChart({ label: `${metricLabel(metric)} per system`, yTitle: metricLabel(metric), bars, decimals }) };
  });
}

/** One chart per held-out task: each system's change with its interval around zero. */
export function forgettingPlots(report: ComparisonReport): { task: string; metric: string; svg: string }[] {
  const all = report.forgetting ?? [];
  const colour = colourOf(report);
  const order = forgettingSystems(report, all);
  return forgettingTasks(all).map((group) => {
    const decimals = forgettingDecimals(group);
    const rows = order.flatMap((name) => {
      const row = group.rows.find((candidate) => candidate.system === name);
      if (row === undefined) return [];
      const label = systemLabel(report, name);
      return [{ key: name, label, colour: colour(name), ...row.delta, tooltip: `${label}: ${formatSignedInterval(row.delta.value, row.delta.low, row.delta.high, decimals)}` }];
    });
    const title = `${group.task}: change in ${metricLabel(group.metric)} (${group.rows[0].higherIsBetter ? 'higher' : 'lower'} is better)`;
    return { task: group.task, metric: group.metric, svg: whiskerChart({ label: title, xTitle: `Δ ${metricLabel(group.metric)} (after − before)`, rows }) };
  });
}

function plotsSection(report: ComparisonReport): string {
  const parts: string[] = [];
  const loss = lossPlot(report);
  if (loss !== undefined) parts.push(`<div class="plots">${figure('plot-loss', 'Loss over training steps', loss)}</div>`);
  const metrics = metricPlots(report);
  if (metrics.length > 0) {
    parts.push(`<h3>Metrics with ${Number((report.confidence * 100).toFixed(2))}% intervals</h3>`);
    parts.push(`<div class="plots">${metrics.map(({ metric, svg }, index) => figure(`plot-metric-${index}`, metricLabel(metric), svg)).join('')}</div>`);
  }
  const forgetting = forgettingPlots(report);
  if (forgetting.length > 0) {
    parts.push('<h3>Forgetting: change on held-out tasks</h3>');
    parts.push(`<div class="plots">${forgetting.map(({ task, metric, svg }, index) => figure(`plot-forgetting-${index}`, `${task} · ${metricLabel(metric)}`, svg)).join('')}</div>`);
  }
  return parts.length === 0 ? '' : `<section id="plots"><h2>Plots</h2>${parts.join('\n')}</section>`;
}

function checksSection(report: ComparisonReport): string {
  const checks = report.checks ?? [];
  if (checks.length === 0) return '';
  const passed = checks.filter((check) => check.passed).length;
  const items = checks.map(
    (check) =>
      `<li class="${check.passed ? 'passed' : 'failed'}"><span class="mark">${check.passed ? '✓' : '✗'}</span>${escapeXml(check.name)}` +
      `${check.detail === '' ? '' : ` <span class="detail">— ${escapeXml(check.detail)}</span>`}</li>`,
  );
  return `<section id="checks"><h2>Checks (${passed} of ${checks.length} passed)</h2><ul class="checks">${items.join('')}</ul></section>`;
}

function examplesSection(report: ComparisonReport): string {
  const examples = report.examples ?? [];
  if (examples.length === 0) return '';
  const systems = exampleSystems(report);
  const head = ['#', 'Input', 'Reference', ...systems.map((name) => systemLabel(report, name))].map((header) => `<th scope="col">${escapeXml(header)}</th>`).join('');
  const rows = examples.map((example, index) => {
    const texts = [example.input, example.reference, ...systems.map((name) => example.outputs[name] ?? '—')];
    return `<tr><td class="numeric">${index + 1}</td>${texts.map((value) => `<td><div class="text">${escapeXml(value)}</div></td>`).join('')}</tr>`;
  });
  return `<section id="examples"><h2>Examples</h2><div class="table-wrap"><table class="examples"><thead><tr>${head}</tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table></div></section>`;
}

export function renderHtml(report: ComparisonReport): string {
  const notes = report.notes ?? [];
  const meta = `Created ${report.createdAt} · baseline: ${systemLabel(report, report.baseline)} · ${report.testSize} test documents · ${report.systems.length} systems`;
  const forgetting = forgettingTable(report);
  const systems = systemsTable(report);
  const body = [
    `<header><h1>${escapeXml(report.title)}</h1><p class="meta">${escapeXml(meta)}</p>`,
    notes.length === 0 ? '' : `<ul class="notes">${notes.map((note) => `<li>${escapeXml(note)}</li>`).join('')}</ul>`,
    '</header>',
    `<section id="results"><h2>Results</h2>${htmlTable(resultsTable(report), 'results')}</section>`,
    plotsSection(report),
    forgetting === undefined ? '' : `<section id="forgetting"><h2>Forgetting</h2>${htmlTable(forgetting, 'forgetting')}</section>`,
    checksSection(report),
    systems === undefined ? '' : `<section id="systems"><h2>Systems</h2>${htmlTable(systems, 'systems')}</section>`,
    examplesSection(report),
    `<footer>Report ${escapeXml(report.schema)} · ${report.bootstrapSamples} bootstrap resamples, seed ${report.seed}</footer>`,
  ].filter((part) => part !== '');
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // Nothing may load or run, even if an escaping bug let markup through.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    `<title>${escapeXml(report.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body><main>',
    ...body,
    '</main></body>',
    '</html>',
    '',
  ].join('\n');
}
