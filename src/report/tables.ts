/**
 * The report's tables as plain text cells, built once and drawn by both renderers (Markdown escapes them for
 * Markdown, HTML for HTML), so the two files always say the same thing.
 */
import {
  formatBytes,
  formatDifference,
  formatInterval,
  formatNumber,
  formatParameters,
  formatSeconds,
  formatSignedInterval,
  isSignificant,
  metricDecimals,
  metricLabel,
  MISSING,
  SIGNIFICANT_MARK,
} from './format.js';
import type { ComparisonReport, ForgettingRow, SystemSummary } from './schema.js';

/** What a cell says beyond its text, for the HTML renderer's colours (Markdown shows the text only). */
export type CellTone = 'significant' | 'worse' | 'better' | 'baseline';

export interface Cell {
  text: string;
  tone?: CellTone;
}

export interface Table {
  headers: string[];
  /** Per column: numbers are right-aligned. */
  numeric: boolean[];
  rows: Cell[][];
  /** One line under the table explaining its marks, or undefined. */
  footnote?: string;
}

export const WORSE_MARK = '▼';
export const BETTER_MARK = '▲';

const cell = (text: string, tone?: CellTone): Cell => (tone === undefined ? { text } : { text, tone });

export function systemLabel(report: ComparisonReport, name: string): string {
  return report.systems.find((system) => system.name === name)?.label ?? name;
}

function percentOf(confidence: number): string {
  return Number.isFinite(confidence) ? `${Number((confidence * 100).toFixed(2))}%` : 'confidence';
}

/** Decimals per metric, chosen from every system's values so a column reads uniformly. */
function decimalsByMetric(report: ComparisonReport): Map<string, number> {
  return new Map(
    report.metrics.map((metric) => {
      const values = report.systems.flatMap((system) => {
        const interval = system.metrics[metric];
        return interval === undefined ? [] : [interval.value, interval.low, interval.high];
      });
      return [metric, metricDecimals(metric, values)];
    }),
  );
}

interface ResourceColumn {
  header: string;
  text(system: SystemSummary): string;
}

const RESOURCE_COLUMNS: ResourceColumn[] = [
  { header: 'Trainable parameters', text: (system) => formatParameters(system.trainableParameters, system.totalParameters) },
  { header: 'Train time', text: (system) => formatSeconds(system.trainSeconds) },
  { header: 'Peak memory', text: (system) => formatBytes(system.peakMemoryBytes) },
  { header: 'Artifact', text: (system) => formatBytes(system.artifactBytes) },
];

/**
 * The headline table: one row per system; per metric its mean with interval and the paired difference against
 * the baseline; then parameters, time, memory and artifact size (columns no system has are left out).
 */
export function resultsTable(report: ComparisonReport): Table {
  const decimals = decimalsByMetric(report);
  const resources = RESOURCE_COLUMNS.filter((column) => report.systems.some((system) => column.text(system) !== MISSING));
  const headers = ['System', 'Method'];
  for (const metric of report.metrics) headers.push(metricLabel(metric), `Δ ${metricLabel(metric)}`);
  headers.push(...resources.map((column) => column.header));
  const rows = report.systems.map((system) => {
    const isBaseline = system.name === report.baseline;
    const row: Cell[] = [cell(system.label, isBaseline ? 'baseline' : undefined), cell(system.method)];
    for (const metric of report.metrics) {
      const places = decimals.get(metric)!;
      const interval = system.metrics[metric];
      row.push(cell(interval === undefined ? MISSING : formatInterval(interval, places)));
      const difference = system.significance?.[metric];
      if (isBaseline) row.push(cell('baseline', 'baseline'));
      else if (difference === undefined) row.push(cell(MISSING));
      else row.push(cell(formatDifference(difference, places), isSignificant(difference) ? 'significant' : undefined));
    }
    for (const column of resources) row.push(cell(column.text(system)));
    return row;
  });
  const numeric = headers.map((_, index) => index >= 2);
  const footnote =
    `Metrics: mean over ${report.testSize} test documents with a ${percentOf(report.confidence)} bootstrap interval ` +
    `(${report.bootstrapSamples} resamples, seed ${report.seed}). Δ: paired difference against ${systemLabel(report, report.baseline)} ` +
    `with its interval and p-value; ${SIGNIFICANT_MARK} p < 0.05.`;
  return { headers, numeric, rows, footnote };
}

/** The row keys of the forgetting table: each (task, metric) once, in order of first appearance. */
export function forgettingTasks(rows: readonly ForgettingRow[]): { task: string; metric: string; rows: ForgettingRow[] }[] {
  const groups = new Map<string, { task: string; metric: string; rows: ForgettingRow[] }>();
  for (const row of rows) {
    const key = JSON.stringify([row.task, row.metric]);
    if (!groups.has(key)) groups.set(key, { task: row.task, metric: row.metric, rows: [] });
    groups.get(key)!.rows.push(row);
  }
  return [...groups.values()];
}

/** Systems in report order that have rows, then any others the rows name. */
export function forgettingSystems(report: ComparisonReport, rows: readonly ForgettingRow[]): string[] {
  const named = new Set(rows.map((row) => row.system));
  const ordered = report.systems.map((system) => system.name).filter((name) => named.has(name));
  return [...ordered, ...[...named].filter((name) => !ordered.includes(name))];
}

/** Worse or better beyond the interval, given the metric's direction; undefined when the interval holds zero. */
export function forgettingTone(row: ForgettingRow): 'worse' | 'better' | undefined {
  const { low, high } = row.delta;
  if (!Number.isFinite(low) || !Number.isFinite(high)) return undefined;
  if (high < 0) return row.higherIsBetter ? 'worse' : 'better';
  if (low > 0) return row.higherIsBetter ? 'better' : 'worse';
  return undefined;
}

export function forgettingDecimals(group: { metric: string; rows: readonly ForgettingRow[] }): number {
  return metricDecimals(group.metric, group.rows.flatMap((row) => [row.before, row.after, row.delta.value]));
}

/** Task × system: the change after − before with its interval, marked where it is beyond the interval. */
export function forgettingTable(report: ComparisonReport): Table | undefined {
  const all = report.forgetting ?? [];
  if (all.length === 0) return undefined;
  const systems = forgettingSystems(report, all);
  const headers = ['Task', 'Metric', 'Documents', 'Before', ...systems.map((name) => systemLabel(report, name))];
  const rows = forgettingTasks(all).map((group) => {
    const places = forgettingDecimals(group);
    const befores = [...new Set(group.rows.map((row) => row.before))];
    const documents = [...new Set(group.rows.map((row) => row.documents))];
    const row: Cell[] = [
      cell(group.task),
      cell(`${metricLabel(group.metric)} (${group.rows[0].higherIsBetter ? 'higher' : 'lower'} is better)`),
      cell(documents.join(', ')),
      cell(befores.length === 1 ? formatNumber(befores[0], places) : 'varies'),
    ];
    for (const name of systems) {
      const found = group.rows.find((candidate) => candidate.system === name);
      if (found === undefined) {
        row.push(cell(MISSING));
        continue;
      }
      const tone = forgettingTone(found);
      const mark = tone === 'worse' ? ` ${WORSE_MARK}` : tone === 'better' ? ` ${BETTER_MARK}` : '';
      row.push(cell(`${formatSignedInterval(found.delta.value, found.delta.low, found.delta.high, places)}${mark}`, tone));
    }
    return row;
  });
  const footnote =
    `Δ = after − before fine-tuning, with a ${percentOf(report.confidence)} paired bootstrap interval over the task's documents; ` +
    `${WORSE_MARK} worse and ${BETTER_MARK} better beyond the interval.`;
  return { headers, numeric: headers.map((_, index) => index >= 2), rows, footnote };
}

/** Each system's free-form facts (template, shots, rank, …), or undefined when no system has any. */
export function systemsTable(report: ComparisonReport): Table | undefined {
  if (!report.systems.some((system) => system.details !== undefined && Object.keys(system.details).length > 0)) return undefined;
  const rows = report.systems.map((system) => [
    cell(system.label),
    cell(system.name),
    cell(system.method),
    cell(
      Object.entries(system.details ?? {})
        .map(([key, value]) => `${key}=${String(value)}`)
        .join(', ') || MISSING,
    ),
  ]);
  return { headers: ['System', 'Name', 'Method', 'Details'], numeric: [false, false, false, false], rows };
}

/** The systems shown in the examples table: report order first, then names only the examples carry. */
export function exampleSystems(report: ComparisonReport): string[] {
  const named = new Set((report.examples ?? []).flatMap((example) => Object.keys(example.outputs)));
  const ordered = report.systems.map((system) => system.name).filter((name) => named.has(name));
  return [...ordered, ...[...named].filter((name) => !ordered.includes(name))];
}
