/**
 * `tunekit eval` as a library call: task names (or .yaml files) resolved against include paths, the tasks loaded,
 * run on a model with its tokenizer, and lm-eval's results layout returned; `writeEvaluationOutput` lays the
 * results (and samples) out under an output path as lm-eval's EvaluationTracker does.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { floatRepr } from '../data/template.js';
import { TunekitError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { HubOptions } from '../io/hub.js';
import type { LanguageModel } from '../models/types.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';
import { evaluateTasks, hashString, pythonText, type EvaluateOptions, type EvaluationResults, type LoggedSample } from './evaluate.js';
import { HarnessModel } from './harness-model.js';
import { aggregateGroups } from './groups.js';
import { TaskIndex, type ResolvedGroup } from './task-index.js';
import { EvalTask } from './task.js';
import { withDataFiles } from './task-data.js';

export interface RunEvaluationOptions extends EvaluateOptions {
  /** Folders of task YAML (lm-eval's --include_path). */
  includePaths?: string[];
  batchSize?: number;
  /** Run a context shared by several requests once (default true); false scores each request alone, as lm-eval. */
  shareContexts?: boolean;
  /** The model's context length for requests (default as lm-eval reads it from config.json). */
  maxLength?: number;
  generationConfig?: Record<string, unknown> | null;
  fewshotSeed?: number;
  /** Local files (split → files) every task reads instead of its dataset (see withDataFiles). */
  dataFiles?: Record<string, string[]>;
  /** For hub datasets. */
  hub?: Omit<HubOptions, 'repoType'>;
}

/** Evaluates `model` on tasks, tags, groups or .yaml files, as `lm_eval --tasks …` does. */
export async function runEvaluation(model: LanguageModel, tokenizer: Tokenizer | null, tasks: readonly string[], options: RunEvaluationOptions = {}): Promise<EvaluationResults> {
  if (tokenizer === null) throw new TunekitError('E_NO_TOKENIZER', 'evaluation needs the model\'s tokenizer.json (this model folder has none)');
  const { loaded, groups } = await loadEvaluationTasks(tasks, options);
  return aggregateGroups(evaluateTasks(harnessFor(model, tokenizer, options), loaded, options), groups);
}

/** The tasks that task names, tags, groups or .yaml files resolve to, loaded, and the groups they form. */
export async function loadEvaluationTasks(tasks: readonly string[], options: RunEvaluationOptions = {}): Promise<{ loaded: EvalTask[]; groups: ResolvedGroup[] }> {
  if (tasks.length === 0) throw new TunekitError('E_TASK_CONFIG', 'no tasks given');
  const index = new TaskIndex(options.includePaths ?? []);
  const groups: ResolvedGroup[] = [];
  const resolved = index.resolve(tasks, groups);
  const configs = options.dataFiles === undefined ? resolved : resolved.map((config) => withDataFiles(config, options.dataFiles!));
  const loaded: EvalTask[] = [];
  for (const config of configs) loaded.push(await EvalTask.load(config, { hub: options.hub, fewshotSeed: options.fewshotSeed }));
  return { loaded, groups };
}

/** The request runner for a model with the run's batch size, context length and generation config. */
export function harnessFor(model: LanguageModel, tokenizer: Tokenizer, options: RunEvaluationOptions = {}): HarnessModel {
  return new HarnessModel(model, tokenizer, { batchSize: options.batchSize, maxLength: options.maxLength, generationConfig: options.generationConfig, shareContexts: options.shareContexts });
}

/** lm-eval's sanitize_model_name: the folder name results go under. */
export function sanitizeModelName(name: string): string {
  return name.replace(/["<>:/|\\?*[\]]+/g, '__');
}

/** sanitize_list: every leaf as Python's str() of it, for samples files (log-likelihoods are floats there). */
function sanitize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sanitize);
  if (typeof value === 'number') return floatRepr(value);
  return pythonText(value);
}

/** A logged sample as lm-eval's samples_*.jsonl holds it (arguments as gen_args_i.arg_j, leaves as strings). */
export function samplesFileRecord(sample: LoggedSample): Record<string, unknown> {
  const args: Record<string, Record<string, unknown>> = {};
  sample.arguments.forEach((argument, i) => {
    args[`gen_args_${i}`] = Object.fromEntries((argument as unknown[]).map((item, j) => [`arg_${j}`, item]));
  });
  return { ...sample, arguments: args, resps: sanitize(sample.resps), filtered_resps: sanitize(sample.filtered_resps), target: pythonText(sample.target) };
}

export interface EvaluationOutputFiles {
  results: string;
  samples: string[];
}

/**
 * Writes results_<date>.json (with task_hashes) and, when the results hold samples, samples_<task>_<date>.jsonl:
 * under `outputPath/<model name sanitized>/`, or beside `outputPath` when it names a .json file. Each file is
 * written atomically.
 */
export async function writeEvaluationOutput(outputPath: string, modelName: string, results: EvaluationResults, extra: Record<string, unknown> = {}): Promise<EvaluationOutputFiles> {
  const date = new Date().toISOString().replace(/Z$/, '').replaceAll(':', '-');
  const isFile = outputPath.endsWith('.json');
  const folder = isFile ? path.dirname(outputPath) : path.join(outputPath, sanitizeModelName(modelName));
  await mkdir(folder, { recursive: true });
  const { samples, ...aggregated } = results;
  const taskHashes: Record<string, string> = {};
  for (const [task, list] of Object.entries(samples ?? {})) taskHashes[task] = hashString(list.map((s) => s.doc_hash + s.prompt_hash + s.target_hash).join(''));
  const resultsFile = isFile ? path.join(folder, `${path.basename(outputPath, '.json')}_${date}.json`) : path.join(folder, `results_${date}.json`);
  await writeFileAtomic(resultsFile, JSON.stringify({ ...aggregated, task_hashes: taskHashes, model_name: modelName, model_name_sanitized: sanitizeModelName(modelName), ...extra }, null, 2));
  const written: string[] = [];
  for (const [task, list] of Object.entries(samples ?? {})) {
    const file = path.join(folder, `samples_${task}_${date}.jsonl`);
    await writeFileAtomic(file, list.map((sample) => JSON.stringify(samplesFileRecord(sample)) + '\n').join(''));
    written.push(file);
  }
  return { results: resultsFile, samples: written };
}
