/**
 * A sweep: one base run config and one varied setting (LoRA's `r`, `num_virtual_tokens`, `max_train_samples`,
 * `model` across a family, or any other key, dotted for a nested one such as `mixture.count`). Each value is one
 * run with its own output_dir under the sweep's folder; each is trained, then decodes the same test prompts, and
 * all end in one comparison report: one system per value, the first value the baseline, with trainable
 * parameters, training seconds, the saved artifact's bytes and the loss curves of trainer_state.json.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { checkDestination } from '../io/destination.js';
import type { IntervalOptions } from '../metrics/intervals.js';
import { loadModel } from '../models/load.js';
import { PeftModel } from '../peft/peft-model.js';
import type { ComparisonReport, ForgettingRow } from '../report/schema.js';
import { parseConfigValue, parseRunConfig, runConfigRecords, runTraining, type RunConfig, type RunOptions, type RunResult } from '../train/run.js';
import type { TrainEvent } from '../train/trainer.js';
import { readInstructionRecords } from '../data/instructions.js';
import { COMPARISON_METRICS, comparisonReport, type ComparisonMetric, type SystemOutputs } from './compare.js';
import { safetensorsBytes } from './compare-run.js';
import { generateCompletions, type CompletionOptions } from './completions.js';
import { saveComparisonReport } from './report-file.js';
import { lossCurveFromState, measuresForgetting, trainWithForgetting } from './train-forgetting.js';

export const SWEEP_ERROR = 'E_SWEEP';

export interface SweepVariation {
  /** A run-config key, or a dotted path into a nested one (mixture.count). */
  key: string;
  values: unknown[];
}

/** Where the test prompts come from: a dataset file (rendered with the config's template) or the config's own split. */
export type SweepTestSource = { file: string; split?: string } | { split: 'test' | 'validation' };

export interface SweepTestSet {
  prompts: string[];
  references: string[];
  /** What the set is, for the report's notes. */
  source: string;
}

export interface SweepOptions {
  /** The sweep's folder: runs/<n>-<value>/ (each run's output_dir) and the report. */
  outputDir: string;
  /** Default: the config's test split (test_dataset, or the test part of `split`). */
  test?: SweepTestSource;
  /** Test prompts decoded (default all). */
  limit?: number;
  generation?: Omit<CompletionOptions, 'onProgress'>;
  metrics?: readonly ComparisonMetric[];
  bootstrap?: IntervalOptions;
  /** Replace runs already in the sweep's folder. */
  overwrite?: boolean;
  onEvent?: (event: SweepEvent) => void;
}

export type SweepEvent =
  | { type: 'run'; index: number; runs: number; name: string; outputDir: string }
  | { type: 'train-start'; name: string; maxSteps: number; trainExamples: number; trainable: number }
  | { type: 'train'; name: string; event: TrainEvent }
  | { type: 'generate'; name: string; done: number; total: number }
  | { type: 'run-done'; name: string; trainSeconds: number; generateSeconds: number };

export interface SweepRun {
  name: string;
  value: unknown;
  outputDir: string;
  result: RunResult;
  outputs: string[];
}

export interface SweepResult {
  report: ComparisonReport;
  runs: SweepRun[];
  /** The report files written into the sweep's folder. */
  reportFiles: string[];
}

function fail(message: string): never {
  throw new TunekitError(SWEEP_ERROR, message);
}

/** Splits at the commas outside brackets, braces and quotes: "1,2" → ["1", "2"]; "[q, v],[k]" → ["[q, v]", "[k]"]. */
function splitValues(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let current = '';
  for (const char of text) {
    if (quote !== null) {
      if (char === quote) quote = null;
    } else if (char === '"' || char === "'") quote = char;
    else if (char === '[' || char === '{') depth++;
    else if (char === ']' || char === '}') depth--;
    else if (char === ',' && depth === 0) {
      parts.push(current.trim());
      current = '';
      continue;
    }
    current += char;
  }
  parts.push(current.trim());
  return parts;
}

/** `KEY=V1,V2,…`, each value read as YAML reads it (4 → number, [q_proj, v_proj] → list, null). */
export function parseVariation(text: string): SweepVariation {
  const at = text.indexOf('=');
  const key = at < 0 ? '' : text.slice(0, at).trim();
  if (key === '' || at === text.length - 1) fail(`--vary expects KEY=V1,V2,… (for example r=1,4,8), got "${text}"`);
  const parts = splitValues(text.slice(at + 1));
  if (parts.some((part) => part === '')) fail(`--vary ${key}: an empty value in "${text.slice(at + 1)}"`);
  const values = parts.map(parseConfigValue);
  const seen = new Set<string>();
  for (const value of values) {
    const shown = JSON.stringify(value);
    if (seen.has(shown)) fail(`--vary ${key}: the value ${shown} is given twice`);
    seen.add(shown);
  }
  return { key, values };
}

/** The raw config with `key` (dotted for nested mappings) set to `value`. */
export function withKeyPath(raw: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const parts = key.split('.');
  if (parts.some((part) => part === '')) fail(`"${key}" is not a key path (KEY or KEY.SUBKEY)`);
  const copy = structuredClone(raw);
  let node: Record<string, unknown> = copy;
  for (const [index, part] of parts.slice(0, -1).entries()) {
    const next = node[part] ?? {};
    if (typeof next !== 'object' || next === null || Array.isArray(next)) fail(`cannot set ${key}: ${parts.slice(0, index + 1).join('.')} is not a mapping`);
    node[part] = next;
    node = next as Record<string, unknown>;
  }
  node[parts[parts.length - 1]] = value;
  return copy;
}

/** How a value names its run: a model folder by its last part, other values as YAML writes them. */
function valueName(key: string, value: unknown): string {
  if (key === 'model' && typeof value === 'string') return path.basename(value.replace(/[\\/]+$/, '')) || value;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function folderName(index: number, name: string): string {
  return `${String(index + 1).padStart(2, '0')}-${name.replace(/[^A-Za-z0-9._=-]+/g, '_').slice(0, 60)}`;
}

/** Prompt/completion records as prompts and references. */
function promptPairs(records: readonly Record<string, unknown>[], what: string): { prompts: string[]; references: string[] } {
  const prompts: string[] = [];
  const references: string[] = [];
  records.forEach((record, index) => {
    if (typeof record.prompt !== 'string' || typeof record.completion !== 'string') fail(`${what}: record ${index + 1} is not a {prompt, completion} record of strings; a sweep decodes prompts and scores the completions (give a template that makes them)`);
    prompts.push(record.prompt);
    references.push(record.completion);
  });
  if (prompts.length === 0) fail(`${what}: the test set is empty`);
  return { prompts, references };
}

/** The test prompts and references a run config (or a test file rendered with its template) gives. */
export async function sweepTestSet(config: RunConfig, test: SweepTestSource = { split: 'test' }, limit?: number): Promise<SweepTestSet> {
  let records: Record<string, unknown>[];
  let source: string;
  if ('file' in test) {
    records = (await readInstructionRecords(test.file, { template: config.run.template, seed: config.training.seed, split: test.split ?? 'test', config: config.run.dataset_config ?? undefined })).records;
    source = test.file;
  } else {
    const all = await runConfigRecords(config);
    const part = test.split === 'test' ? all.test : all.eval;
    if (part === undefined) fail(`the config has no ${test.split} set (give ${test.split === 'test' ? 'test_dataset' : 'eval_dataset'}, or a split with a ${test.split} part), so pass --test FILE`);
    records = part.records;
    source = part.what;
  }
  const { prompts, references } = promptPairs(limit === undefined ? records : records.slice(0, limit), source);
  return { prompts, references, source };
}

const sameTestSet = (a: SweepTestSet, b: SweepTestSet) => a.prompts.length === b.prompts.length && a.prompts.every((prompt, i) => prompt === b.prompts[i] && a.references[i] === b.references[i]);

/**
 * Trains one run per value of `variation` over the base config, decodes the same test prompts with each trained
 * model, and writes the comparison report into `options.outputDir`. Every run's config is checked (by the run
 * config's own validation) before the first one trains.
 */
export async function runSweep(base: Record<string, unknown>, source: string, variation: SweepVariation, options: SweepOptions): Promise<SweepResult> {
  const { key, values } = variation;
  if (values.length === 0) fail(`--vary ${key}: no values`);
  if (key === 'output_dir' || key.startsWith('output_dir.')) fail('a sweep sets each run\'s output_dir itself (under its folder); vary another key');
  const sweepDir = checkDestination(options.outputDir, { kind: 'directory', overwrite: true, inputs: [] });
  for (const metric of options.metrics ?? []) if (!COMPARISON_METRICS.includes(metric)) fail(`unknown metric "${metric}" (known: ${COMPARISON_METRICS.join(', ')})`);
  const names = values.map((value) => `${key}=${valueName(key, value)}`);
  if (new Set(names).size !== names.length) fail(`--vary ${key}: two values name the same run (${names.join(', ')})`);
  const configs = values.map((value, index) => {
    const raw = withKeyPath(base, key, value);
    raw.output_dir = path.join(sweepDir, 'runs', folderName(index, valueName(key, value)));
    if (options.overwrite) raw.overwrite_output_dir = true;
    return parseRunConfig(raw, `${source} (${names[index]})`);
  });
  // The same test set for every run: read it from each config, and refuse a varied key that changes it.
  const test = await sweepTestSet(configs[0], options.test, options.limit);
  if (options.test === undefined || !('file' in options.test)) {
    for (const [index, config] of configs.entries()) {
      if (index > 0 && !sameTestSet(test, await sweepTestSet(config, options.test, options.limit))) fail(`varying ${key} changes the config's test set (${names[index]}); give a fixed one with --test FILE`);
    }
  }
  mkdirSync(path.join(sweepDir, 'runs'), { recursive: true });
  const emit = options.onEvent ?? (() => {});
  const runs: SweepRun[] = [];
  const systems: SystemOutputs[] = [];
  const forgetting: ForgettingRow[] = [];
  for (const [index, config] of configs.entries()) {
    const name = names[index];
    emit({ type: 'run', index, runs: configs.length, name, outputDir: config.training.output_dir });
    const started = performance.now();
    const runOptions: RunOptions = {
      onStart: (start) => emit({ type: 'train-start', name, maxSteps: start.maxSteps, trainExamples: start.trainExamples, trainable: start.trainable }),
      onEvent: (event) => emit({ type: 'train', name, event }),
    };
    let result: RunResult;
    if (measuresForgetting(config)) {
      const measured = await trainWithForgetting(config, { ...runOptions, forgetting: { ...options.bootstrap } });
      result = measured.run;
      for (const row of measured.forgetting?.forgetting ?? []) forgetting.push({ ...row, system: name });
    } else result = await runTraining(config, runOptions);
    const trainSeconds = (performance.now() - started) / 1000;
    if (result.interrupted) fail(`${name}: the run stopped before its end (${result.outputDir})`);
    const outputs = await decodeTestSet(config, result.outputDir, test, options, (done, total) => emit({ type: 'generate', name, done, total }));
    emit({ type: 'run-done', name, trainSeconds, generateSeconds: outputs.seconds });
    runs.push({ name, value: values[index], outputDir: result.outputDir, result, outputs: outputs.texts });
    systems.push({
      name,
      label: name,
      method: config.run.method,
      outputs: outputs.texts,
      trainableParameters: result.trainable,
      totalParameters: result.total,
      trainSeconds,
      artifactBytes: safetensorsBytes(result.outputDir),
      loss: lossCurveFromState(result.state),
      details: { [key]: valueName(key, values[index]), steps: result.globalStep, train_examples: result.trainExamples, train_loss: Number(result.trainLoss.toFixed(4)), output_dir: result.outputDir },
    });
  }
  const report = comparisonReport(systems, {
    title: `Sweep of ${key}: ${values.map((value) => valueName(key, value)).join(', ')}`,
    baseline: names[0],
    references: test.references,
    inputs: test.prompts,
    metrics: options.metrics,
    bootstrap: options.bootstrap,
    forgetting: forgetting.length > 0 ? forgetting : undefined,
    notes: [`base config: ${source}`, `varied: ${key}`, `test set: ${test.source} (${test.prompts.length} prompts)`, `model: ${[...new Set(configs.map((config) => config.run.model))].join(', ')}`],
  });
  const reportFiles = await saveComparisonReport(sweepDir, report);
  return { report, runs, reportFiles };
}

/** The trained model (full: output_dir; PEFT: the base with the adapter) decoding every test prompt. */
async function decodeTestSet(config: RunConfig, outputDir: string, test: SweepTestSet, options: SweepOptions, onProgress: (done: number, total: number) => void): Promise<{ texts: string[]; seconds: number }> {
  const loaded = await loadModel(config.run.method === 'full' ? outputDir : config.run.model);
  const model = config.run.method === 'full' ? loaded.model : await PeftModel.fromPretrained(loaded.model, outputDir);
  try {
    if (loaded.tokenizer === null) fail(`${config.run.model}: no tokenizer.json to decode the test prompts with`);
    const maxNewTokens = options.generation?.maxNewTokens ?? config.run.generation_max_length ?? undefined;
    const numBeams = options.generation?.numBeams ?? config.run.generation_num_beams ?? undefined;
    const completions = generateCompletions(model, loaded.tokenizer, test.prompts, { ...options.generation, maxNewTokens, numBeams, onProgress });
    return { texts: completions.texts, seconds: completions.seconds };
  } finally {
    model.dispose();
  }
}
