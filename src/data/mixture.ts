/**
 * FLAN/T5-style multitask mixtures: several tasks, each with its records (and optionally its templates), mixed
 * into one interleaved stream by sampling a task per example at fixed rates:
 * - examples-proportional with a cap: `rate_i = min(n_i, cap) / Σ_j min(n_j, cap)` (no cap: plain proportional);
 * - temperature: `rate_i ∝ min(n_i, cap)^(1/T)` (T = 1 is proportional; large T tends to uniform).
 * Within a task, records are drawn without replacement in a seeded shuffled order, reshuffled after each pass.
 * Everything depends on the seed only, so the same seed gives the same stream on every run and machine.
 */
import { TunekitError } from '../errors.js';
import { checkSeed, recordRandom, shuffleInPlace } from './random.js';
import { applyTemplate, type ApplyTemplateOptions, type TemplateSet, type TemplatedRecord } from './template-file.js';

export const MIXTURE_ERROR = 'E_MIXTURE';

export interface MixtureTask {
  name: string;
  records: readonly Record<string, unknown>[];
  /** Renders each drawn record (prompt/completion or messages); without it, records pass through unchanged. */
  templates?: TemplateSet;
  /** Options for applyTemplate other than the seed (format, examplePool, templateName). */
  templateOptions?: Omit<ApplyTemplateOptions, 'seed' | 'excludeFromPool'>;
}

export interface MixtureRateOptions {
  /** 'proportional' (default) or 'temperature'. */
  method?: 'proportional' | 'temperature';
  /** Examples counted per task at most (FLAN's cap), for either method. */
  cap?: number;
  /** For 'temperature'; T ≥ 1 flattens, T < 1 sharpens. */
  temperature?: number;
}

export interface MixtureOptions extends MixtureRateOptions {
  seed: number;
  /** How many records to draw; default Σ min(n_i, cap). */
  count?: number;
}

/** A drawn record: the record (or its rendering) plus its task's name. */
export type MixedRecord = (Record<string, unknown> | TemplatedRecord) & { task: string };

export interface MixtureResult {
  records: MixedRecord[];
  /** The sampling rate of each task. */
  rates: Record<string, number>;
  /** What the draw realized per task. */
  realized: Record<string, { count: number; proportion: number; rate: number }>;
}

function mixtureError(message: string): TunekitError {
  return new TunekitError(MIXTURE_ERROR, message);
}

/** Sampling rates for tasks of the given sizes (see the module comment). */
export function mixtureRates(sizes: Record<string, number>, options: MixtureRateOptions = {}): Record<string, number> {
  const method = options.method ?? 'proportional';
  if (method !== 'proportional' && method !== 'temperature') throw mixtureError(`unknown mixture method '${String(method)}' (proportional or temperature)`);
  const cap = options.cap ?? Infinity;
  if (!(cap > 0)) throw mixtureError(`the mixture cap must be positive, got ${options.cap}`);
  const temperature = method === 'temperature' ? options.temperature : 1;
  if (temperature === undefined || !(temperature > 0) || !Number.isFinite(temperature)) throw mixtureError(`temperature sampling needs a positive finite temperature, got ${options.temperature}`);
  if (method === 'proportional' && options.temperature !== undefined) throw mixtureError(`a temperature was given with method 'proportional'; use method 'temperature'`);
  const weights: Record<string, number> = {};
  let total = 0;
  for (const [name, size] of Object.entries(sizes)) {
    if (!(Number.isInteger(size) && size >= 0)) throw mixtureError(`task '${name}': size must be a whole number, got ${size}`);
    const weight = size === 0 ? 0 : Math.min(size, cap) ** (1 / temperature);
    weights[name] = weight;
    total += weight;
  }
  if (total === 0) throw mixtureError(`a mixture needs at least one task with records`);
  return Object.fromEntries(Object.entries(weights).map(([name, weight]) => [name, weight / total]));
}

function checkTasks(tasks: readonly MixtureTask[]): void {
  if (tasks.length === 0) throw mixtureError('a mixture needs at least one task');
  const names = new Set<string>();
  for (const task of tasks) {
    if (typeof task.name !== 'string' || task.name === '') throw mixtureError('every mixture task needs a name');
    if (names.has(task.name)) throw mixtureError(`two mixture tasks are named '${task.name}'`);
    names.add(task.name);
  }
}

/**
 * The mixture as a stream: `count` records (endless when count is Infinity), each from a task drawn at its rate.
 * Record i of the stream is the same for a seed however far it is read.
 */
export function* streamMixture(tasks: readonly MixtureTask[], options: MixtureOptions & { count: number }): Generator<MixedRecord> {
  checkTasks(tasks);
  const seed = checkSeed(options.seed);
  const rates = mixtureRates(Object.fromEntries(tasks.map((task) => [task.name, task.records.length])), options);
  const cumulative: number[] = [];
  let sum = 0;
  for (const task of tasks) cumulative.push((sum += rates[task.name]));
  const picker = recordRandom(seed, 0, 0x6d6978);
  const state = tasks.map((task, index) => ({ order: [] as number[], position: 0, pass: -1, random: recordRandom(seed, index, 0x7461736b), size: task.records.length }));
  for (let drawn = 0; drawn < options.count; drawn++) {
    const u = picker.nextUint32() / 4294967296;
    let t = cumulative.findIndex((bound) => u < bound);
    if (t === -1) for (let index = tasks.length - 1; t === -1; index--) if (rates[tasks[index].name] > 0) t = index; // rounding left u above the last bound
    const task = tasks[t];
    const own = state[t];
    if (own.position >= own.order.length) {
      own.order = shuffleInPlace(Array.from({ length: own.size }, (_, index) => index), own.random);
      own.position = 0;
      own.pass++;
    }
    const index = own.order[own.position++];
    const record = task.records[index];
    if (task.templates === undefined) {
      yield { ...record, task: task.name };
      continue;
    }
    const pool = task.templateOptions?.examplePool;
    // Each pass renders a record with a fresh (seeded) template choice.
    const rendered = applyTemplate(task.templates, record, own.pass * own.size + index, {
      ...task.templateOptions,
      seed,
      excludeFromPool: pool === task.records ? index : undefined,
    });
    yield { ...rendered, task: task.name };
  }
}

/** Draws the mixture into an array, with the rates and the realized proportions. */
export function mixTasks(tasks: readonly MixtureTask[], options: MixtureOptions): MixtureResult {
  checkTasks(tasks);
  const cap = options.cap ?? Infinity;
  const count = options.count ?? tasks.reduce((total, task) => total + Math.min(task.records.length, cap), 0);
  if (!(Number.isInteger(count) && count >= 0)) throw mixtureError(`the mixture count must be a whole number, got ${count}`);
  const records = [...streamMixture(tasks, { ...options, count })];
  const rates = mixtureRates(Object.fromEntries(tasks.map((task) => [task.name, task.records.length])), options);
  const counts: Record<string, number> = Object.fromEntries(tasks.map((task) => [task.name, 0]));
  for (const record of records) counts[record.task]++;
  const realized = Object.fromEntries(
    tasks.map((task) => [task.name, { count: counts[task.name], proportion: records.length === 0 ? 0 : counts[task.name] / records.length, rate: rates[task.name] }]),
  );
  return { records, rates, realized };
}

/** The realized proportions as aligned text lines, for a CLI to print. */
export function formatMixture(result: MixtureResult): string {
  const names = Object.keys(result.realized);
  const width = Math.max(4, ...names.map((name) => name.length));
  const lines = [`${'task'.padEnd(width)}  ${'rate'.padStart(7)}  ${'realized'.padStart(8)}  ${'count'.padStart(8)}`];
  for (const name of names) {
    const { count, proportion, rate } = result.realized[name];
    lines.push(`${name.padEnd(width)}  ${(rate * 100).toFixed(2).padStart(6)}%  ${(proportion * 100).toFixed(2).padStart(7)}%  ${String(count).padStart(8)}`);
  }
  return lines.join('\n');
}
