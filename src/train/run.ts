/**
 * One training run from one config: transformers' TrainingArguments keys, PEFT's adapter keys, TRL's data keys and a
 * few of ours (`model`, `method`, `adapter`, `dataset`, `eval_dataset`, `test_dataset`, `template`, `split`…). Loads
 * the model and data, trains with `train()`, and lays output_dir out as Trainer does: checkpoint-N folders during
 * the run, then the final model (full fine-tuning: a transformers model folder) or adapter (a PEFT folder) in
 * output_dir itself, trainer_state.json, train_results.json, test_results.json; and ours: `config.yaml` (the
 * resolved config) and `metrics.jsonl` (one line per logged step and evaluation).
 */
import path from 'node:path';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { parse as parseYaml, stringify } from 'yaml';
import { mixTasks, type MixtureResult, type MixtureTask, packExamples, type PackingStrategy, readInstructionRecords, sftPadTokenId, splitRecords, templatesFrom, tokenizeSftDataset } from '../data/index.js';
import { suggestNearest } from '../data/random.js';
import { TunekitError } from '../errors.js';
import { checkDestination } from '../io/destination.js';
import { cleanUpInterruptedWrites, writeFileAtomic } from '../io/atomic.js';
import { loadModel } from '../models/load.js';
import type { LanguageModel } from '../models/types.js';
import type { ProcessGroup } from '../torch/distributed.js';
import { manualSeed } from '../torch/runtime.js';
import { bottleneckConfig, getPeftModel, ia3Config, loraConfig, PeftModel, promptTuningConfig, qloraConfig, selectiveConfig, type AdapterConfigBase } from '../peft/index.js';
import type { Tokenizer } from '../tokenize/index.js';
import { parseTrainingArguments, TRAINING_ARGUMENT_DEFAULTS, type TrainingArguments } from './arguments.js';
import { saveTrainedModel, TRAINER_STATE_FILE } from './checkpoint.js';
import { evaluateModel, type TrainExample } from './evaluation.js';
import { generationMetrics } from './generation-eval.js';
import { estimateTrainingMemory, type MemoryEstimate } from './memory.js';
import { configHash, DataParallel } from './distributed.js';
import { train, type TrainEvent, trainingPlan, type TrainResult } from './trainer.js';

export const RUN_CONFIG_ERROR = 'E_RUN_CONFIG';

export const METHODS = ['full', 'lora', 'qlora', 'prompt_tuning', 'ia3', 'adapter', 'selective'] as const;
export type Method = (typeof METHODS)[number];

/** Our keys and TRL's data keys, with their defaults. */
const RUN_DEFAULTS = {
  model: null as string | null,
  method: 'lora' as Method,
  /** An adapter folder (or hub id) to keep training, instead of a new adapter. */
  adapter: null as string | null,
  dataset: null as string | null,
  eval_dataset: null as string | null,
  test_dataset: null as string | null,
  /** Split `dataset` into train/test or train/validation/test: "0.8,0.1,0.1", [0.9, 0.1], "rest,100,100". */
  split: null as string | number[] | null,
  /** false: train in file order, every epoch. */
  shuffle: true,
  /** A FLAN-style multitask mixture as the training data instead of `dataset` (see MixtureSettings). */
  mixture: null as MixtureSettings | null,
  /** A template file or a bundled template name; absent: the records already are TRL records. */
  template: null as string | null,
  dataset_split: 'train',
  /** The split eval_dataset and test_dataset are read from, when they are hub datasets or folders. */
  eval_dataset_split: 'validation',
  test_dataset_split: 'test',
  /** A hub dataset's configuration (subset), for dataset, eval_dataset and test_dataset (TRL's dataset_config). */
  dataset_config: null as string | null,
  overwrite_output_dir: false,
  // TRL's SFTConfig
  max_length: 1024 as number | null,
  completion_only_loss: null as boolean | null,
  assistant_only_loss: false,
  dataset_text_field: 'text',
  /** Pack the training examples into rows of max_length (TRL's packing; padding-free, no attention across examples). */
  packing: false,
  packing_strategy: 'bfd' as PackingStrategy,
  // EarlyStoppingCallback's arguments
  early_stopping_patience: null as number | null,
  early_stopping_threshold: 0,
  // Seq2SeqTrainingArguments' generation keys: evaluate by generating and scoring ROUGE
  predict_with_generate: false,
  generation_max_length: null as number | null,
  generation_num_beams: null as number | null,
  /** Generate for only the first this many eval (and test) examples. */
  generation_samples: null as number | null,
  /** Train on only the first this many training examples (of the train split), as transformers' examples' max_train_samples. */
  max_train_samples: null as number | null,
  // Catastrophic forgetting measured at the end of the run (by the evaluate layer: see trainWithForgetting)
  /** lm-eval task names (or .yaml files) scored on the base model and the trained one. */
  forgetting_tasks: null as string[] | null,
  /** Folders of task YAML the names are found in (lm-eval's --include_path). */
  forgetting_include_path: null as string[] | null,
  /** General text whose perplexity is compared: .jsonl with "text", a .json list, or plain text. */
  forgetting_text: null as string | null,
  /** Documents per task (and of the text). */
  forgetting_limit: null as number | null,
};

/** PEFT's adapter keys, by the method they configure (snake_case as in adapter_config.json). */
const PEFT_KEYS: Record<string, string> = {
  r: 'r', lora_alpha: 'loraAlpha', lora_dropout: 'loraDropout', target_modules: 'targetModules', use_rslora: 'useRslora', bias: 'bias',
  modules_to_save: 'modulesToSave', num_virtual_tokens: 'numVirtualTokens', prompt_tuning_init: 'promptTuningInit',
  prompt_tuning_init_text: 'promptTuningInitText', feedforward_modules: 'feedforwardModules', bottleneck_size: 'bottleneckSize',
  non_linearity: 'nonLinearity', placement: 'placement', train_only: 'trainOnly', last_blocks: 'lastBlocks', bitfit: 'bitfit',
};

/** `mixture:` — tasks, each a dataset with its template, mixed as mixTasks does (FLAN's examples-proportional or temperature sampling). */
export interface MixtureSettings {
  tasks: { name: string; dataset: string; template: string | null; split: string; config: string | null }[];
  method: 'proportional' | 'temperature';
  cap: number | null;
  temperature: number | null;
  count: number | null;
}

const MIXTURE_KEYS = ['tasks', 'method', 'cap', 'temperature', 'count'];
const MIXTURE_TASK_KEYS = ['name', 'dataset', 'template', 'split', 'config'];

function parseMixture(raw: unknown, source: string): MixtureSettings {
  const where = `${source}: mixture`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(where, 'must be a mapping with tasks (and method, cap, temperature, count)');
  const value = raw as Record<string, unknown>;
  for (const key of Object.keys(value)) if (!MIXTURE_KEYS.includes(key)) fail(where, `unknown key '${key}'${suggestNearest(key, MIXTURE_KEYS)}`);
  if (!Array.isArray(value.tasks) || value.tasks.length === 0) fail(where, "'tasks' must be a non-empty list of {name, dataset, template}");
  const tasks = (value.tasks as unknown[]).map((task, index) => {
    const at = `${where}.tasks[${index}]`;
    if (typeof task !== 'object' || task === null || Array.isArray(task)) fail(at, 'must be a mapping {name, dataset, template}');
    const fields = task as Record<string, unknown>;
    for (const key of Object.keys(fields)) if (!MIXTURE_TASK_KEYS.includes(key)) fail(at, `unknown key '${key}'${suggestNearest(key, MIXTURE_TASK_KEYS)}`);
    if (typeof fields.dataset !== 'string' || fields.dataset === '') fail(at, "'dataset' is required");
    if (fields.template !== undefined && fields.template !== null && typeof fields.template !== 'string') fail(at, "'template' must be a template file or bundled name");
    return { name: typeof fields.name === 'string' && fields.name !== '' ? fields.name : `task${index + 1}`, dataset: fields.dataset as string, template: (fields.template as string | undefined) ?? null, split: typeof fields.split === 'string' ? fields.split : 'train', config: typeof fields.config === 'string' ? fields.config : null };
  });
  const names = new Set(tasks.map((task) => task.name));
  if (names.size !== tasks.length) fail(where, 'task names must differ');
  const method = value.method ?? 'proportional';
  if (method !== 'proportional' && method !== 'temperature') fail(where, `'method' must be proportional or temperature, got ${JSON.stringify(method)}`);
  const positive = (key: string): number | null => {
    const number = value[key];
    if (number === undefined || number === null) return null;
    if (typeof number !== 'number' || !(number > 0)) fail(where, `'${key}' must be a positive number`);
    return number;
  };
  return { tasks, method, cap: positive('cap'), temperature: positive('temperature'), count: positive('count') };
}

export type RunSettings = typeof RUN_DEFAULTS & { model: string; dataset: string | null };

export interface RunConfig {
  run: RunSettings;
  training: TrainingArguments & { output_dir: string };
  /** The adapter settings given, camelCase (PEFT's defaults fill the rest). */
  peft: Record<string, unknown>;
}

/** Every key a run config may hold. */
export function runConfigKeys(): string[] {
  return [...Object.keys(RUN_DEFAULTS), ...Object.keys(PEFT_KEYS), ...Object.keys(TRAINING_ARGUMENT_DEFAULTS)];
}

function fail(source: string, message: string): never {
  throw new TunekitError(RUN_CONFIG_ERROR, `${source}: ${message}`);
}

/** A run config file (YAML, or JSON, which is YAML too) as a mapping of key: value. */
export function readRunConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new TunekitError('E_NOT_FOUND', `${file}: no such file`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    fail(file, `not valid YAML or JSON (${(error as Error).message.split('\n')[0]})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail(file, 'expected a mapping of key: value');
  return { ...(parsed as Record<string, unknown>) };
}

/** A value written on the command line, read as YAML reads it: 2e-4 → number, true → boolean, [q, v] → list. */
export function parseConfigValue(text: string): unknown {
  try {
    return parseYaml(text);
  } catch {
    return text;
  }
}

/** Splits a run config into our settings, PEFT's and Trainer's, refusing unknown keys with the nearest known one. */
export function parseRunConfig(raw: unknown, source: string): RunConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(source, 'a run config must be a mapping of key: value');
  const run: Record<string, unknown> = { ...RUN_DEFAULTS };
  const peft: Record<string, unknown> = {};
  const training: Record<string, unknown> = {};
  const known = runConfigKeys();
  for (const [key, value] of Object.entries(raw)) {
    if (key in RUN_DEFAULTS) run[key] = value;
    else if (key in PEFT_KEYS) peft[PEFT_KEYS[key]] = value;
    else if (key in TRAINING_ARGUMENT_DEFAULTS) training[key] = value;
    else fail(source, `unknown key '${key}'${suggestNearest(key, known)}`);
  }
  if (typeof run.model !== 'string' || run.model === '') fail(source, `'model' is required (a folder or hub id)`);
  if (run.mixture !== null) {
    run.mixture = parseMixture(run.mixture, source);
    if (run.dataset !== null) fail(source, "give 'dataset' or 'mixture', not both");
  } else if (typeof run.dataset !== 'string' || run.dataset === '') fail(source, `'dataset' (a file, folder or hub id) or 'mixture' is required`);
  if (!METHODS.includes(run.method as Method)) fail(source, `'method' must be one of ${METHODS.join(', ')}, got ${JSON.stringify(run.method)}`);
  for (const key of ['eval_dataset', 'test_dataset', 'template', 'adapter', 'dataset_config'] as const) if (run[key] !== null && typeof run[key] !== 'string') fail(source, `'${key}' must be a string`);
  for (const key of ['dataset_split', 'eval_dataset_split', 'test_dataset_split'] as const) if (typeof run[key] !== 'string' || run[key] === '') fail(source, `'${key}' must be a split name`);
  if (run.split !== null && typeof run.split !== 'string' && !(Array.isArray(run.split) && run.split.every((value) => typeof value === 'number'))) fail(source, `'split' must be sizes such as "0.8,0.1,0.1" or [0.9, 0.1], got ${JSON.stringify(run.split)}`);
  parseForgettingKeys(run, source);
  for (const key of ['early_stopping_patience', 'generation_max_length', 'generation_num_beams', 'generation_samples', 'max_train_samples', 'forgetting_limit'] as const) {
    if (run[key] !== null && !(Number.isInteger(run[key]) && (run[key] as number) >= 1)) fail(source, `'${key}' must be a positive integer, got ${JSON.stringify(run[key])}`);
  }
  if (!(typeof run.early_stopping_threshold === 'number' && run.early_stopping_threshold >= 0)) fail(source, `'early_stopping_threshold' must be a non-negative number`);
  if (!['bfd', 'bfd_split', 'wrapped'].includes(run.packing_strategy as string)) fail(source, `'packing_strategy' must be bfd, bfd_split or wrapped, got ${JSON.stringify(run.packing_strategy)}`);
  if (run.packing && run.max_length === null) fail(source, `'packing' needs max_length, the length of a packed row`);
  if (run.adapter !== null && run.method === 'full') fail(source, `'adapter' continues an adapter; it does nothing with method 'full'`);
  if (run.adapter !== null && Object.keys(peft).length > 0) fail(source, `adapter keys (${Object.keys(raw).filter((key) => key in PEFT_KEYS).join(', ')}) cannot change the adapter given by 'adapter': its adapter_config.json decides`);
  if (run.max_length !== null && !(Number.isInteger(run.max_length) && (run.max_length as number) >= 1)) fail(source, `'max_length' must be a positive integer or null, got ${JSON.stringify(run.max_length)}`);
  for (const key of ['overwrite_output_dir', 'assistant_only_loss', 'shuffle', 'predict_with_generate', 'packing'] as const) if (typeof run[key] !== 'boolean') fail(source, `'${key}' must be true or false`);
  if (run.completion_only_loss !== null && typeof run.completion_only_loss !== 'boolean') fail(source, `'completion_only_loss' must be true, false or null`);
  if (run.method === 'full' && Object.keys(peft).length > 0) fail(source, `adapter keys (${Object.keys(raw).filter((key) => key in PEFT_KEYS).join(', ')}) do nothing with method 'full'`);
  const args = parseTrainingArguments(training, source);
  if (args.output_dir === null || args.output_dir === '') fail(source, `'output_dir' is required`);
  if (run.early_stopping_patience !== null && args.metric_for_best_model === null) fail(source, `'early_stopping_patience' needs metric_for_best_model (or load_best_model_at_end) and evaluations`);
  if (run.early_stopping_patience !== null && args.eval_strategy === 'no') fail(source, `'early_stopping_patience' needs evaluations: set eval_strategy`);
  return { run: run as RunSettings, training: args as TrainingArguments & { output_dir: string }, peft };
}

/** A list of names: a YAML list of strings, or one string of comma-separated names. */
function nameList(value: unknown, key: string, source: string): string[] | null {
  if (value === null) return null;
  const list = typeof value === 'string' ? value.split(',').map((name) => name.trim()).filter((name) => name !== '') : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((name) => typeof name === 'string' && name !== '')) fail(source, `'${key}' must be a list of names, such as [task_a, task_b], got ${JSON.stringify(value)}`);
  return list as string[];
}

/** forgetting_*: checked and normalized in place (lists of names; the others need something to measure). */
function parseForgettingKeys(run: Record<string, unknown>, source: string): void {
  run.forgetting_tasks = nameList(run.forgetting_tasks, 'forgetting_tasks', source);
  run.forgetting_include_path = nameList(run.forgetting_include_path, 'forgetting_include_path', source);
  if (run.forgetting_text !== null && (typeof run.forgetting_text !== 'string' || run.forgetting_text === '')) fail(source, `'forgetting_text' must be a file of general text`);
  const measured = run.forgetting_tasks !== null || run.forgetting_text !== null;
  for (const key of ['forgetting_include_path', 'forgetting_limit'] as const) if (run[key] !== null && !measured) fail(source, `'${key}' does nothing without forgetting_tasks or forgetting_text`);
}

/** The adapter config of a method from PEFT's settings (camelCase), PEFT's defaults for the rest. */
export function adapterConfigFor(method: Exclude<Method, 'full'>, settings: Record<string, unknown>, model: LanguageModel): AdapterConfigBase {
  const taskType = model.kind === 'causal' ? 'CAUSAL_LM' : 'SEQ_2_SEQ_LM';
  const common = { taskType, ...settings } as never;
  switch (method) {
    case 'lora':
      return loraConfig(common);
    case 'qlora':
      return qloraConfig(common);
    case 'prompt_tuning':
      return promptTuningConfig(common);
    case 'ia3':
      return ia3Config(common);
    case 'adapter':
      return bottleneckConfig(common);
    case 'selective':
      return selectiveConfig(common);
  }
}

export interface RunResult extends TrainResult {
  outputDir: string;
  trainExamples: number;
  evalExamples: number;
  testExamples: number;
  trainable: number;
  total: number;
  /** test_results.json's values (test_loss, test_perplexity, …), when there was a test set and the run ended. */
  testMetrics: Record<string, number> | null;
  memoryEstimate: MemoryEstimate;
  /** The process's measured peak resident memory (getrusage's maxrss), in bytes. */
  peakRssBytes: number;
}

export interface RunStart {
  maxSteps: number;
  trainExamples: number;
  evalExamples: number;
  testExamples: number;
  trainable: number;
  total: number;
  resumeFrom: string | boolean | null;
  memoryEstimate: MemoryEstimate;
  mixture: MixtureResult['realized'] | null;
}

export interface RunOptions {
  onEvent?: (event: TrainEvent) => void;
  onStart?: (start: RunStart) => void;
  /** Abort (SIGINT, SIGTERM) to stop after the current step with a checkpoint to resume from. */
  signal?: AbortSignal;
  /** Data parallel over this c10d group: every rank runs the same config; only rank 0 writes output_dir. */
  processGroup?: ProcessGroup;
  /** With processGroup: ZeRO stage 1 (each rank keeps its slice of the optimizer state). */
  shardOptimizer?: boolean;
}

interface RunData {
  train: TrainExample[];
  eval?: TrainExample[];
  test?: TrainExample[];
}

/** The train, eval and test examples: their own datasets, or the splits of `dataset`. */
/** The mixture's records: each task's raw records, drawn and rendered with its templates by mixTasks. */
async function mixtureRecords(mixture: MixtureSettings, seed: number, onMixture?: (result: MixtureResult) => void): Promise<Record<string, unknown>[]> {
  const tasks: MixtureTask[] = [];
  for (const task of mixture.tasks) {
    const { records } = await readInstructionRecords(task.dataset, { template: null, seed, split: task.split, config: task.config ?? undefined });
    tasks.push({ name: task.name, records, templates: task.template === null ? undefined : await templatesFrom(task.template) });
  }
  const result = mixTasks(tasks, { seed, method: mixture.method, cap: mixture.cap ?? undefined, temperature: mixture.temperature ?? undefined, count: mixture.count ?? undefined });
  onMixture?.(result);
  return result.records.map(({ task: _task, ...record }) => record);
}

/** A part of the run's data as records, and how messages name it. */
interface RecordSet {
  records: Record<string, unknown>[];
  what: string;
}

export interface RunRecords {
  train: RecordSet;
  eval?: RecordSet;
  test?: RecordSet;
}

/** The train, eval and test records (rendered with the template): their own datasets, or the splits of `dataset`. */
async function readRunRecords(run: RunSettings, seed: number, onMixture?: (result: MixtureResult) => void): Promise<RunRecords> {
  const read = async (source: string, split: string) => (await readInstructionRecords(source, { template: run.template, seed, split, config: run.dataset_config ?? undefined })).records;
  const records = run.mixture !== null ? (await mixtureRecords(run.mixture, seed, onMixture)) : await read(run.dataset as string, run.dataset_split);
  const trainRecords = (list: Record<string, unknown>[]) => (run.max_train_samples === null ? list : list.slice(0, run.max_train_samples));
  const name = run.dataset ?? 'the mixture';
  let data: RunRecords;
  if (run.split === null) {
    data = { train: { records: trainRecords(records), what: name } };
  } else {
    const { splits } = splitRecords(records, { sizes: run.split, seed });
    data = { train: { records: trainRecords(splits.train), what: `${name} (split train)` } };
    if (splits.validation !== undefined) data.eval = { records: splits.validation, what: `${name} (split validation)` };
    if (splits.test !== undefined) data.test = { records: splits.test, what: `${name} (split test)` };
  }
  if (run.eval_dataset !== null) data.eval = { records: await read(run.eval_dataset, run.eval_dataset_split), what: run.eval_dataset };
  if (run.test_dataset !== null) data.test = { records: await read(run.test_dataset, run.test_dataset_split), what: run.test_dataset };
  return data;
}

/** The run's records before tokenization, split as the run splits them (same seed): for evaluating what it trains. */
export async function runConfigRecords(config: RunConfig): Promise<RunRecords> {
  return readRunRecords(config.run, config.training.seed);
}

async function readRunData(run: RunSettings, seed: number, tokenizer: Tokenizer, seq2seq: boolean, onMixture?: (result: MixtureResult) => void): Promise<RunData> {
  const tokenization = {
    maxLength: run.max_length,
    completionOnlyLoss: run.completion_only_loss ?? undefined,
    assistantOnlyLoss: run.assistant_only_loss,
    datasetTextField: run.dataset_text_field,
    seq2seq,
  };
  const tokenize = ({ records, what }: RecordSet): TrainExample[] => {
    if (records.length === 0) throw new TunekitError(RUN_CONFIG_ERROR, `${what}: the split is empty`);
    const result = tokenizeSftDataset(tokenizer, records, tokenization);
    if (result.examples.length === 0) throw new TunekitError(RUN_CONFIG_ERROR, `${what}: no example has a supervised token left (max_length ${run.max_length})`);
    return result.examples;
  };
  const records = await readRunRecords(run, seed, onMixture);
  const data: RunData = { train: tokenize(records.train) };
  if (records.eval !== undefined) data.eval = tokenize(records.eval);
  if (records.test !== undefined) data.test = tokenize(records.test);
  return data;
}

function prefixed(prefix: string, metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).map(([key, value]) => [`${prefix}_${key}`, value]));
}

/** Moves every file of `from` into `into` (each rename atomic), replacing files of the same name, then removes `from`. */
function moveFilesInto(from: string, into: string): void {
  for (const name of readdirSync(from)) renameSync(path.join(from, name), path.join(into, name));
  rmSync(from, { recursive: true, force: true });
}

interface PreparedRun {
  base: LanguageModel;
  model: LanguageModel;
  tokenizer: Tokenizer;
  data: RunData;
  counts: { trainable: number; total: number };
  resolvedConfig: Record<string, unknown>;
  /** The mixture's realized proportions per task, when the data is a mixture. */
  mixture: MixtureResult['realized'] | null;
}

/** Loads the model and tokenizer, reads and tokenizes the data, and builds the model to train; the caller disposes `base`. */
async function prepareRun(config: RunConfig): Promise<PreparedRun> {
  const { run, training } = config;
  const { model: base, tokenizer } = await loadModel(run.model);
  try {
    if (tokenizer === null) throw new TunekitError(RUN_CONFIG_ERROR, `${run.model}: the model has no tokenizer.json to tokenize the dataset with`);
    let mixture: MixtureResult['realized'] | null = null;
    const data = await readRunData(run, training.seed, tokenizer, base.kind === 'seq2seq', (result) => (mixture = result.realized));
    if (run.packing) {
      if (base.kind === 'seq2seq') throw new TunekitError(RUN_CONFIG_ERROR, `'packing' is for decoder-only models; ${run.model} is an encoder-decoder model`);
      data.train = packExamples(data.train.map((example) => ({ input_ids: example.input_ids, labels: example.labels ?? example.input_ids })), run.max_length as number, run.packing_strategy);
    }
    if (training.eval_strategy !== 'no' && data.eval === undefined) {
      throw new TunekitError(RUN_CONFIG_ERROR, `eval_strategy is '${training.eval_strategy}' but there is no eval set: give eval_dataset, or a three-way split`);
    }
    // Adapter initialization draws from the seed, as a script that seeds before get_peft_model does.
    manualSeed(training.seed);
    let model: LanguageModel;
    if (run.method === 'full') {
      base.unfreeze();
      model = base;
    } else if (run.adapter !== null) {
      model = await PeftModel.fromPretrained(base, run.adapter, { isTrainable: true });
    } else {
      model = getPeftModel(base, adapterConfigFor(run.method, config.peft, base));
    }
    const counts = model instanceof PeftModel ? model.trainableSummary() : { trainable: base.parameterCount().trainable, total: base.parameterCount().total };
    const resolvedConfig = { ...run, ...training, ...Object.fromEntries(Object.entries(PEFT_KEYS).filter(([, name]) => name in config.peft).map(([key, name]) => [key, config.peft[name]])) };
    return { base, model, tokenizer, data, counts, resolvedConfig, mixture };
  } catch (error) {
    base.dispose();
    throw error;
  }
}

export interface DatasetStatistics {
  examples: number;
  tokens: number;
  supervised_tokens: number;
  longest: number;
}

function statistics(examples: readonly TrainExample[]): DatasetStatistics {
  let tokens = 0;
  let supervised = 0;
  let longest = 0;
  for (const example of examples) {
    tokens += example.input_ids.length;
    longest = Math.max(longest, example.input_ids.length);
    for (const label of example.labels ?? example.input_ids) if (label !== -100) supervised++;
  }
  return { examples: examples.length, tokens, supervised_tokens: supervised, longest };
}

/** What `tunekit train --dry-run` prints: the resolved config, the data, the parameters and the memory estimate. */
export interface DryRunReport {
  config: Record<string, unknown>;
  max_steps: number;
  datasets: { train: DatasetStatistics; eval: DatasetStatistics | null; test: DatasetStatistics | null };
  trainable_parameters: number;
  total_parameters: number;
  memory_estimate: MemoryEstimate;
  mixture: MixtureResult['realized'] | null;
}

/** Everything a run does before its first step (model, data, adapter, checks), and no training or writing. */
export async function dryRunTraining(config: RunConfig): Promise<DryRunReport> {
  const prepared = await prepareRun(config);
  try {
    return {
      config: prepared.resolvedConfig,
      max_steps: trainingPlan(prepared.data.train.length, config.training).maxSteps,
      datasets: {
        train: statistics(prepared.data.train),
        eval: prepared.data.eval === undefined ? null : statistics(prepared.data.eval),
        test: prepared.data.test === undefined ? null : statistics(prepared.data.test),
      },
      trainable_parameters: prepared.counts.trainable,
      total_parameters: prepared.counts.total,
      memory_estimate: estimateTrainingMemory(prepared.model, prepared.data.train, config.training),
      mixture: prepared.mixture,
    };
  } finally {
    prepared.base.dispose();
  }
}

/**
 * Runs `config` to its end (or to an abort of options.signal, which leaves a checkpoint) and lays out its
 * output_dir. A new run needs an empty or absent output_dir (overwrite_output_dir: its old contents are deleted
 * first); resume_from_checkpoint continues in the output_dir that holds the checkpoint.
 */
export async function runTraining(config: RunConfig, options: RunOptions = {}): Promise<RunResult> {
  const { run, training } = config;
  const resuming = training.resume_from_checkpoint !== null && training.resume_from_checkpoint !== false;
  const inputs = [run.model, run.dataset, run.eval_dataset, run.test_dataset, run.adapter, ...(run.mixture?.tasks.map((task) => task.dataset) ?? [])].filter((input): input is string => input !== null);
  const writer = (options.processGroup?.rank ?? 0) === 0;
  let outputDir: string;
  if (resuming || !writer) {
    outputDir = path.resolve(training.output_dir);
  } else {
    try {
      outputDir = checkDestination(training.output_dir, { kind: 'directory', overwrite: run.overwrite_output_dir, inputs });
    } catch (error) {
      if (error instanceof TunekitError) throw new TunekitError(error.code, error.message.replace('pass --overwrite to replace it', 'set overwrite_output_dir (--overwrite-output-dir) to replace it'));
      throw error;
    }
  }
  const { base, model, tokenizer, data, counts, resolvedConfig, mixture } = await prepareRun(config);
  const memoryEstimate = estimateTrainingMemory(model, data.train, training);
  try {
    if (options.processGroup !== undefined) {
      const { output_dir: _ignored, ...agreed } = resolvedConfig;
      new DataParallel(options.processGroup, []).checkSameConfig(configHash({ config: agreed, train: data.train.length, eval: data.eval?.length ?? 0, counts, shardOptimizer: options.shardOptimizer === true }));
    }
    options.onStart?.({
      maxSteps: trainingPlan(data.train.length, training).maxSteps,
      trainExamples: data.train.length,
      evalExamples: data.eval?.length ?? 0,
      testExamples: data.test?.length ?? 0,
      trainable: counts.trainable,
      total: counts.total,
      resumeFrom: training.resume_from_checkpoint,
      memoryEstimate,
      mixture,
    });
    if (writer) {
      if (!resuming && existsSync(outputDir)) rmSync(outputDir, { recursive: true, force: true }); // overwrite_output_dir
      mkdirSync(outputDir, { recursive: true });
      // What a killed run was writing (a half checkpoint, the final files' staging folder) goes before the resume.
      for (const name of readdirSync(outputDir)) {
        const interrupted = /^(checkpoint-\d+|\.final)\.(?:tmp|old)-/.exec(name);
        if (interrupted !== null) cleanUpInterruptedWrites(path.join(outputDir, interrupted[1]));
      }
      await writeFileAtomic(path.join(outputDir, 'config.yaml'), stringify(resolvedConfig));
    }
    const metricsFile = path.join(outputDir, 'metrics.jsonl');
    const padTokenId = sftPadTokenId(tokenizer).padTokenId;
    const generationOptions = { tokenizer, maxNewTokens: run.generation_max_length ?? undefined, numBeams: run.generation_num_beams ?? undefined, samples: run.generation_samples ?? undefined };
    const trainStarted = performance.now();
    const result = await train(model, data.train, { ...training, output_dir: outputDir }, {
      padTokenId,
      evalExamples: data.eval,
      shuffle: run.shuffle,
      paddingFree: run.packing && run.packing_strategy !== 'wrapped',
      signal: options.signal,
      processGroup: options.processGroup,
      shardOptimizer: options.shardOptimizer,
      earlyStopping: run.early_stopping_patience === null ? undefined : { patience: run.early_stopping_patience, threshold: run.early_stopping_threshold },
      extraMetrics: run.predict_with_generate ? async (trained) => generationMetrics(trained, data.eval ?? [], generationOptions).metrics : undefined,
      onEvent: (event) => {
        // Appended as it happens, so a run that dies keeps its log; rewritten whole when the run ends.
        if (writer && (event.event === 'step' || event.event === 'eval')) appendFileSync(metricsFile, JSON.stringify(event) + '\n');
        options.onEvent?.(event);
      },
    });
    let testMetrics: Record<string, number> | null = null;
    if (writer) await writeFileAtomic(metricsFile, result.history.map((event) => JSON.stringify(event) + '\n').join(''));
    if (writer && !result.interrupted) {
      // Trainer.save_model: the final model or adapter in output_dir itself.
      const staging = path.join(outputDir, `.final.tmp-${process.pid}`);
      rmSync(staging, { recursive: true, force: true });
      await saveTrainedModel(model, staging);
      moveFilesInto(staging, outputDir);
      if (data.test !== undefined) {
        const measured: Record<string, number> = { ...evaluateModel(model, data.test, training, padTokenId) };
        if (run.predict_with_generate) Object.assign(measured, generationMetrics(model, data.test, generationOptions).metrics);
        testMetrics = prefixed('test', { ...measured, samples: data.test.length });
        await writeFileAtomic(path.join(outputDir, 'test_results.json'), JSON.stringify(testMetrics, null, 2) + '\n');
      }
      // Trainer's train_runtime (seconds of the training loop, this process's part of a resumed run), and our peak memory.
      const trainRuntime = (performance.now() - trainStarted) / 1000;
      const trainResults = { epoch: result.history.at(-1)?.epoch ?? 0, train_loss: result.trainLoss, train_runtime: trainRuntime, train_samples: data.train.length, global_step: result.globalStep, peak_rss_bytes: process.resourceUsage().maxRSS * 1024 };
      await writeFileAtomic(path.join(outputDir, 'train_results.json'), JSON.stringify(trainResults, null, 2) + '\n');
      await writeFileAtomic(path.join(outputDir, 'all_results.json'), JSON.stringify({ ...trainResults, ...(testMetrics ?? {}) }, null, 2) + '\n');
      await writeFileAtomic(path.join(outputDir, TRAINER_STATE_FILE), JSON.stringify(result.state, null, 2) + '\n');
    }
    return {
      ...result,
      outputDir,
      trainExamples: data.train.length,
      evalExamples: data.eval?.length ?? 0,
      testExamples: data.test?.length ?? 0,
      trainable: counts.trainable,
      total: counts.total,
      testMetrics,
      memoryEstimate,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    };
  } finally {
    base.dispose();
  }
}
