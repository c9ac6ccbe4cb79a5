/**
 * Several systems on the same test set, as a comparison report: each metric's score with its percentile bootstrap
 * interval over documents, and each system's paired difference against the baseline (paired bootstrap interval and
 * p-value, same resamples for every system). ROUGE is rouge-score's F with the Porter stemmer, averaged over
 * documents; BLEU and chrF are sacreBLEU's corpus scores, resampled through their sufficient statistics.
 */
import { TunekitError } from '../errors.js';
import { nearestName } from '../nearest.js';
import { BLEU, CHRF, pairedDifference, RougeScorer, statisticsInterval, type IntervalOptions } from '../metrics/index.js';
import { REPORT_SCHEMA, type ComparisonReport, type ExampleRow, type ForgettingRow, type ReportCheck, type SystemSummary } from '../report/index.js';

export const COMPARISON_METRICS = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum', 'bleu', 'chrf'] as const;
export type ComparisonMetric = (typeof COMPARISON_METRICS)[number];
export const DEFAULT_COMPARISON_METRICS: readonly ComparisonMetric[] = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum', 'bleu'];

/** A system's outputs on the test set (in test order) and what is known of how it was made. */
export interface SystemOutputs extends Omit<SystemSummary, 'metrics' | 'significance'> {
  outputs: readonly string[];
}

export interface ComparisonOptions {
  title: string;
  /** The name of the system the others are tested against. */
  baseline: string;
  references: readonly string[];
  /** The test inputs (for the examples table; default: none shown). */
  inputs?: readonly string[];
  metrics?: readonly ComparisonMetric[];
  bootstrap?: IntervalOptions;
  /** Example rows in the report (default 20). */
  examples?: number;
  forgetting?: ForgettingRow[];
  checks?: ReportCheck[];
  notes?: string[];
}

type Statistics = { rows: number[][]; score: (sum: readonly number[], count: number) => number };

/** Per-document statistics of one metric and the score they sum to. */
export function metricStatistics(metric: ComparisonMetric, outputs: readonly string[], references: readonly string[]): Statistics {
  if (outputs.length !== references.length) throw new TunekitError('E_CORPUS_SHAPE', `got ${outputs.length} outputs for ${references.length} references`);
  if (metric === 'bleu' || metric === 'chrf') {
    const scorer = metric === 'bleu' ? new BLEU() : new CHRF();
    const rows = scorer.corpusStatistics(outputs, references.map((reference) => [reference]));
    return { rows, score: metric === 'bleu' ? (sum) => (scorer as BLEU).scoreFromStatistics(sum).score : (sum) => (scorer as CHRF).fScore(sum) };
  }
  const scorer = new RougeScorer({ types: [metric], useStemmer: true });
  return { rows: outputs.map((output, index) => [scorer.score(output, references[index])[metric].fmeasure]), score: (sum, count) => sum[0] / count };
}

/** Means with intervals for every system, and paired differences against the baseline. */
export function summarizeSystems(systems: readonly SystemOutputs[], references: readonly string[], baseline: string, metrics: readonly ComparisonMetric[] = DEFAULT_COMPARISON_METRICS, bootstrap: IntervalOptions = {}): SystemSummary[] {
  if (systems.length === 0) throw new TunekitError('E_COMPARE', 'nothing to compare: no systems');
  if (references.length === 0) throw new TunekitError('E_COMPARE', 'nothing to compare: the test set is empty');
  const names = systems.map((system) => system.name);
  if (new Set(names).size !== names.length) throw new TunekitError('E_COMPARE', `system names must differ, got ${names.join(', ')}`);
  const base = systems.find((system) => system.name === baseline);
  if (base === undefined) throw new TunekitError('E_COMPARE', `the baseline "${baseline}" is not among the systems (${names.join(', ')})${nearestName(baseline, names) ? `; did you mean "${nearestName(baseline, names)}"?` : ''}`);
  for (const metric of metrics) if (!COMPARISON_METRICS.includes(metric)) throw new TunekitError('E_COMPARE', `unknown metric "${metric}" (known: ${COMPARISON_METRICS.join(', ')})`);
  const baseStatistics = new Map(metrics.map((metric) => [metric, metricStatistics(metric, base.outputs, references)]));
  return systems.map(({ outputs, ...rest }) => {
    const summary: SystemSummary = { ...rest, metrics: {} };
    if (rest.name !== baseline) summary.significance = {};
    for (const metric of metrics) {
      const statistics = rest.name === baseline ? (baseStatistics.get(metric) as Statistics) : metricStatistics(metric, outputs, references);
      summary.metrics[metric] = statisticsInterval(statistics.rows, statistics.score, bootstrap);
      if (summary.significance !== undefined) summary.significance[metric] = pairedDifference((baseStatistics.get(metric) as Statistics).rows, statistics.rows, statistics.score, bootstrap);
    }
    return summary;
  });
}

/** The whole comparison report (schema.ts), ready for `report.writeReport`. */
export function comparisonReport(systems: readonly SystemOutputs[], options: ComparisonOptions): ComparisonReport {
  const metrics = [...(options.metrics ?? DEFAULT_COMPARISON_METRICS)];
  const summaries = summarizeSystems(systems, options.references, options.baseline, metrics, options.bootstrap);
  const report: ComparisonReport = {
    schema: REPORT_SCHEMA,
    title: options.title,
    createdAt: new Date().toISOString(),
    baseline: options.baseline,
    metrics,
    confidence: options.bootstrap?.confidence ?? 0.95,
    bootstrapSamples: options.bootstrap?.samples ?? 1000,
    seed: options.bootstrap?.seed ?? 12345,
    testSize: options.references.length,
    systems: summaries,
  };
  if (options.inputs !== undefined) {
    const count = Math.min(options.examples ?? 20, options.references.length);
    const rows: ExampleRow[] = [];
    for (let index = 0; index < count; index++) {
      rows.push({ input: options.inputs[index], reference: options.references[index], outputs: Object.fromEntries(systems.map((system) => [system.name, system.outputs[index]])) });
    }
    report.examples = rows;
  }
  if (options.forgetting !== undefined) report.forgetting = options.forgetting;
  if (options.checks !== undefined) report.checks = options.checks;
  if (options.notes !== undefined) report.notes = options.notes;
  return report;
}
