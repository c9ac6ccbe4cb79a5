/**
 * Reading a report back: `validateReport` checks a parsed JSON value field by field against the schema and names
 * the field at fault (`report.json: systems[2].metrics.rougeL.low must be a number`). Unknown keys are refused,
 * and names must agree (the baseline, forgetting rows and example outputs name systems; every system has every
 * listed metric). Statistics may be null: JSON.stringify writes NaN as null, so they read back as NaN.
 */
import { TunekitError } from '../errors.js';
import { readJsonFile } from '../io/json-file.js';
import { nearestName } from '../nearest.js';
import {
  REPORT_SCHEMA,
  type ComparisonReport,
  type ExampleRow,
  type ForgettingRow,
  type Interval,
  type LossCurve,
  type PairedDifference,
  type ReportCheck,
  type SystemSummary,
} from './schema.js';

export const REPORT_ERROR = 'E_REPORT';

type Fields = Record<string, unknown>;

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
  if (typeof value === 'number') return String(value);
  return `a ${typeof value}`;
}

/** `metrics.rougeL`, or `outputs["two words"]` for keys that are not plain names. */
function member(path: string, key: string): string {
  const part = /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  return path === '' ? part.replace(/^\./, '') : `${path}${part}`;
}

class ReportReader {
  constructor(private readonly source: string) {}

  fail(path: string, message: string): never {
    throw new TunekitError(REPORT_ERROR, `${this.source}: ${path === '' ? 'the report' : path} ${message}`);
  }

  /** A plain object with these keys only; required ones must be present. */
  object(value: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, `must be an object (got ${describe(value)})`);
    const fields = value as Fields;
    const known = [...required, ...optional];
    for (const key of Object.keys(fields)) {
      if (known.includes(key)) continue;
      const near = nearestName(key, known);
      this.fail(member(path, key), `is not a field of this object${near === undefined ? '' : ` (did you mean "${near}"?)`}; known: ${known.join(', ')}`);
    }
    for (const key of required) if (fields[key] === undefined) this.fail(member(path, key), 'is missing');
    return fields;
  }

  /** An object used as a map (metric → interval, system → output): any keys, values read by `read`. */
  record<T>(value: unknown, path: string, read: (item: unknown, itemPath: string) => T): Record<string, T> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, `must be an object (got ${describe(value)})`);
    const result: Record<string, T> = {};
    for (const [key, item] of Object.entries(value as Fields)) result[key] = read(item, member(path, key));
    return result;
  }

  array<T>(value: unknown, path: string, read: (item: unknown, itemPath: string) => T): T[] {
    if (!Array.isArray(value)) this.fail(path, `must be an array (got ${describe(value)})`);
    return value.map((item, index) => read(item, `${path}[${index}]`));
  }

  string(value: unknown, path: string, options: { nonEmpty?: boolean } = {}): string {
    if (typeof value !== 'string') this.fail(path, `must be a string (got ${describe(value)})`);
    if (options.nonEmpty && value.trim() === '') this.fail(path, 'must not be empty');
    return value;
  }

  boolean(value: unknown, path: string): boolean {
    if (typeof value !== 'boolean') this.fail(path, `must be true or false (got ${describe(value)})`);
    return value;
  }

  /** A finite number, optionally an integer and bounded. */
  number(value: unknown, path: string, range: { integer?: boolean; min?: number; max?: number } = {}): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(path, `must be a number (got ${describe(value)})`);
    if (range.integer && !Number.isInteger(value)) this.fail(path, `must be an integer (got ${value})`);
    if (range.min !== undefined && value < range.min) this.fail(path, `must be ≥ ${range.min} (got ${value})`);
    if (range.max !== undefined && value > range.max) this.fail(path, `must be ≤ ${range.max} (got ${value})`);
    return value;
  }

  /** A measured statistic: a number, or null (NaN written as JSON) read back as NaN. */
  statistic(value: unknown, path: string): number {
    if (value === null) return NaN;
    if (typeof value !== 'number') this.fail(path, `must be a number (got ${describe(value)})`);
    return value;
  }

  optional<T>(fields: Fields, key: string, path: string, read: (item: unknown, itemPath: string) => T): T | undefined {
    return fields[key] === undefined ? undefined : read(fields[key], member(path, key));
  }
}

function readInterval(reader: ReportReader, value: unknown, path: string): Interval {
  const fields = reader.object(value, path, ['value', 'low', 'high']);
  return {
    value: reader.statistic(fields.value, member(path, 'value')),
    low: reader.statistic(fields.low, member(path, 'low')),
    high: reader.statistic(fields.high, member(path, 'high')),
  };
}

function readDifference(reader: ReportReader, value: unknown, path: string): PairedDifference {
  const fields = reader.object(value, path, ['difference', 'low', 'high', 'pValue']);
  const pValue = reader.statistic(fields.pValue, member(path, 'pValue'));
  if (pValue < 0 || pValue > 1) reader.fail(member(path, 'pValue'), `must be between 0 and 1 (got ${pValue})`);
  return {
    difference: reader.statistic(fields.difference, member(path, 'difference')),
    low: reader.statistic(fields.low, member(path, 'low')),
    high: reader.statistic(fields.high, member(path, 'high')),
    pValue,
  };
}

function readPoints(reader: ReportReader, value: unknown, path: string): [number, number][] {
  return reader.array(value, path, (point, pointPath) => {
    if (!Array.isArray(point) || point.length !== 2) reader.fail(pointPath, `must be a [step, loss] pair (got ${describe(point)})`);
    return [reader.number(point[0], `${pointPath}[0]`), reader.statistic(point[1], `${pointPath}[1]`)];
  });
}

function readLoss(reader: ReportReader, value: unknown, path: string): LossCurve {
  const fields = reader.object(value, path, ['train', 'eval']);
  return { train: readPoints(reader, fields.train, member(path, 'train')), eval: readPoints(reader, fields.eval, member(path, 'eval')) };
}

const SYSTEM_OPTIONAL = ['significance', 'trainableParameters', 'totalParameters', 'trainSeconds', 'peakMemoryBytes', 'artifactBytes', 'loss', 'details'];

function readSystem(reader: ReportReader, value: unknown, path: string): SystemSummary {
  const fields = reader.object(value, path, ['name', 'label', 'method', 'metrics'], SYSTEM_OPTIONAL);
  const count = (key: string) => reader.optional(fields, key, path, (item, itemPath) => reader.number(item, itemPath, { integer: true, min: 0 }));
  const system: SystemSummary = {
    name: reader.string(fields.name, member(path, 'name'), { nonEmpty: true }),
    label: reader.string(fields.label, member(path, 'label')),
    method: reader.string(fields.method, member(path, 'method')),
    metrics: reader.record(fields.metrics, member(path, 'metrics'), (item, itemPath) => readInterval(reader, item, itemPath)),
  };
  const significance = reader.optional(fields, 'significance', path, (item, itemPath) => reader.record(item, itemPath, (entry, entryPath) => readDifference(reader, entry, entryPath)));
  if (significance !== undefined) system.significance = significance;
  const trainableParameters = count('trainableParameters');
  if (trainableParameters !== undefined) system.trainableParameters = trainableParameters;
  const totalParameters = count('totalParameters');
  if (totalParameters !== undefined) system.totalParameters = totalParameters;
  if (trainableParameters !== undefined && totalParameters !== undefined && trainableParameters > totalParameters) {
    reader.fail(member(path, 'trainableParameters'), `must not exceed totalParameters (${trainableParameters} > ${totalParameters})`);
  }
  const trainSeconds = reader.optional(fields, 'trainSeconds', path, (item, itemPath) => reader.number(item, itemPath, { min: 0 }));
  if (trainSeconds !== undefined) system.trainSeconds = trainSeconds;
  const peakMemoryBytes = count('peakMemoryBytes');
  if (peakMemoryBytes !== undefined) system.peakMemoryBytes = peakMemoryBytes;
  const artifactBytes = count('artifactBytes');
  if (artifactBytes !== undefined) system.artifactBytes = artifactBytes;
  const loss = reader.optional(fields, 'loss', path, (item, itemPath) => readLoss(reader, item, itemPath));
  if (loss !== undefined) system.loss = loss;
  const details = reader.optional(fields, 'details', path, (item, itemPath) =>
    reader.record(item, itemPath, (entry, entryPath) => {
      if (typeof entry === 'string' || typeof entry === 'boolean' || (typeof entry === 'number' && Number.isFinite(entry))) return entry;
      return reader.fail(entryPath, `must be a string, number or boolean (got ${describe(entry)})`);
    }),
  );
  if (details !== undefined) system.details = details;
  return system;
}

function readForgetting(reader: ReportReader, value: unknown, path: string): ForgettingRow {
  const fields = reader.object(value, path, ['system', 'task', 'metric', 'before', 'after', 'delta', 'higherIsBetter', 'documents']);
  return {
    system: reader.string(fields.system, member(path, 'system')),
    task: reader.string(fields.task, member(path, 'task'), { nonEmpty: true }),
    metric: reader.string(fields.metric, member(path, 'metric'), { nonEmpty: true }),
    before: reader.statistic(fields.before, member(path, 'before')),
    after: reader.statistic(fields.after, member(path, 'after')),
    delta: readInterval(reader, fields.delta, member(path, 'delta')),
    higherIsBetter: reader.boolean(fields.higherIsBetter, member(path, 'higherIsBetter')),
    documents: reader.number(fields.documents, member(path, 'documents'), { integer: true, min: 0 }),
  };
}

function readExample(reader: ReportReader, value: unknown, path: string): ExampleRow {
  const fields = reader.object(value, path, ['input', 'reference', 'outputs']);
  return {
    input: reader.string(fields.input, member(path, 'input')),
    reference: reader.string(fields.reference, member(path, 'reference')),
    outputs: reader.record(fields.outputs, member(path, 'outputs'), (item, itemPath) => reader.string(item, itemPath)),
  };
}

function readCheck(reader: ReportReader, value: unknown, path: string): ReportCheck {
  const fields = reader.object(value, path, ['name', 'passed', 'detail']);
  return {
    name: reader.string(fields.name, member(path, 'name'), { nonEmpty: true }),
    passed: reader.boolean(fields.passed, member(path, 'passed')),
    detail: reader.string(fields.detail, member(path, 'detail')),
  };
}

/** The names that tie the report together: unique, and each reference names something that exists. */
function checkNames(reader: ReportReader, report: ComparisonReport): void {
  const names = new Map<string, number>();
  report.systems.forEach((system, index) => {
    if (names.has(system.name)) reader.fail(`systems[${index}].name`, `repeats "${system.name}" (also systems[${names.get(system.name)}])`);
    names.set(system.name, index);
  });
  if (report.systems.length === 0) reader.fail('systems', 'must list at least one system');
  if (!names.has(report.baseline)) reader.fail('baseline', `must name one of the systems (${[...names.keys()].join(', ')}); got "${report.baseline}"`);
  report.metrics.forEach((metric, index) => {
    if (report.metrics.indexOf(metric) !== index) reader.fail(`metrics[${index}]`, `repeats "${metric}"`);
  });
  report.systems.forEach((system, index) => {
    for (const metric of report.metrics) {
      if (system.metrics[metric] === undefined) reader.fail(member(`systems[${index}].metrics`, metric), 'is missing (the report lists it in metrics)');
    }
    for (const metric of Object.keys(system.metrics)) {
      if (!report.metrics.includes(metric)) reader.fail(member(`systems[${index}].metrics`, metric), `is not in the report's metrics (${report.metrics.join(', ')})`);
    }
    for (const metric of Object.keys(system.significance ?? {})) {
      if (!report.metrics.includes(metric)) reader.fail(member(`systems[${index}].significance`, metric), `is not in the report's metrics (${report.metrics.join(', ')})`);
    }
  });
  const seen = new Map<string, number>();
  (report.forgetting ?? []).forEach((row, index) => {
    if (!names.has(row.system)) reader.fail(`forgetting[${index}].system`, `must name one of the systems; got "${row.system}"`);
    const key = JSON.stringify([row.system, row.task, row.metric]);
    if (seen.has(key)) reader.fail(`forgetting[${index}]`, `repeats system "${row.system}", task "${row.task}", metric "${row.metric}" (also forgetting[${seen.get(key)}])`);
    seen.set(key, index);
  });
  (report.examples ?? []).forEach((example, index) => {
    for (const name of Object.keys(example.outputs)) {
      if (!names.has(name)) reader.fail(member(`examples[${index}].outputs`, name), 'must name one of the systems');
    }
  });
}

const REPORT_REQUIRED = ['schema', 'title', 'createdAt', 'baseline', 'metrics', 'confidence', 'bootstrapSamples', 'seed', 'testSize', 'systems'];
const REPORT_OPTIONAL = ['forgetting', 'examples', 'checks', 'notes'];

/** Checks `value` (parsed JSON, or a report built in memory) and returns it as a fresh ComparisonReport. */
export function validateReport(value: unknown, source: string): ComparisonReport {
  const reader = new ReportReader(source);
  const fields = reader.object(value, '', REPORT_REQUIRED, REPORT_OPTIONAL);
  if (fields.schema !== REPORT_SCHEMA) reader.fail('schema', `must be "${REPORT_SCHEMA}" (got ${describe(fields.schema)})`);
  const createdAt = reader.string(fields.createdAt, 'createdAt');
  if (!/^\d{4}-\d{2}-\d{2}(T|$)/.test(createdAt) || Number.isNaN(Date.parse(createdAt))) reader.fail('createdAt', `must be an ISO 8601 date (got ${describe(createdAt)})`);
  const confidence = reader.number(fields.confidence, 'confidence');
  if (!(confidence > 0 && confidence < 1)) reader.fail('confidence', `must be between 0 and 1, exclusive (got ${confidence})`);
  const report: ComparisonReport = {
    schema: REPORT_SCHEMA,
    title: reader.string(fields.title, 'title'),
    createdAt,
    baseline: reader.string(fields.baseline, 'baseline'),
    metrics: reader.array(fields.metrics, 'metrics', (item, path) => reader.string(item, path, { nonEmpty: true })),
    confidence,
    bootstrapSamples: reader.number(fields.bootstrapSamples, 'bootstrapSamples', { integer: true, min: 0 }),
    seed: reader.number(fields.seed, 'seed', { integer: true }),
    testSize: reader.number(fields.testSize, 'testSize', { integer: true, min: 0 }),
    systems: reader.array(fields.systems, 'systems', (item, path) => readSystem(reader, item, path)),
  };
  const forgetting = reader.optional(fields, 'forgetting', '', (item, path) => reader.array(item, path, (row, rowPath) => readForgetting(reader, row, rowPath)));
  if (forgetting !== undefined) report.forgetting = forgetting;
  const examples = reader.optional(fields, 'examples', '', (item, path) => reader.array(item, path, (row, rowPath) => readExample(reader, row, rowPath)));
  if (examples !== undefined) report.examples = examples;
  const checks = reader.optional(fields, 'checks', '', (item, path) => reader.array(item, path, (row, rowPath) => readCheck(reader, row, rowPath)));
  if (checks !== undefined) report.checks = checks;
  const notes = reader.optional(fields, 'notes', '', (item, path) => reader.array(item, path, (line, linePath) => reader.string(line, linePath)));
  if (notes !== undefined) report.notes = notes;
  checkNames(reader, report);
  return report;
}

/** Reads and validates a saved report.json; errors name the file and the field (or the line, for bad JSON). */
export async function readReport(file: string): Promise<ComparisonReport> {
  return validateReport(await readJsonFile(file, REPORT_ERROR), file);
}
