/**
 * One training run from one config: transformers' TrainingArguments keys, PEFT's adapter keys, TRL's data keys and a
 * few of ours (`model`, `method`, `dataset`, `eval_dataset`, `template`, `seed`…). Loads the model and data,
 * trains with `train()`, and writes `output_dir`: the final model (full fine-tuning: a transformers model folder)
 * or adapter (a PEFT folder), `config.yaml` (the resolved config) and `metrics.jsonl` (one line per logged step and
 * evaluation). Checkpoints and resume are not part of this yet.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { parse as parseYaml, stringify } from 'yaml';
import { readInstructionRecords, sftPadTokenId, tokenizeSftDataset } from '../data/index.js';
import { suggestNearest } from '../data/random.js';
import { TunekitError } from '../errors.js';
import { checkDestination } from '../io/destination.js';
import { withAtomicDirectory, writeFileAtomic } from '../io/atomic.js';
import { loadModel } from '../models/load.js';
import { saveModel } from '../models/save.js';
import type { LanguageModel } from '../models/types.js';
import { manualSeed } from '../torch/runtime.js';
import { bottleneckConfig, getPeftModel, ia3Config, loraConfig, PeftModel, promptTuningConfig, qloraConfig, saveAdapter, selectiveConfig, type AdapterConfigBase } from '../peft/index.js';
import { parseTrainingArguments, TRAINING_ARGUMENT_DEFAULTS, type TrainingArguments } from './arguments.js';
import { train, type TrainEvent, type TrainExample, trainingPlan, type TrainResult } from './trainer.js';

export const RUN_CONFIG_ERROR = 'E_RUN_CONFIG';

export const METHODS = ['full', 'lora', 'qlora', 'prompt_tuning', 'ia3', 'adapter', 'selective'] as const;
export type Method = (typeof METHODS)[number];

/** Our keys and TRL's data keys, with their defaults. */
const RUN_DEFAULTS = {
  model: null as string | null,
  method: 'lora' as Method,
  dataset: null as string | null,
  eval_dataset: null as string | null,
  /** A template file or a bundled template name; absent: the records already are TRL records. */
  template: null as string | null,
  dataset_split: 'train',
  overwrite_output_dir: false,
  // TRL's SFTConfig
  max_length: 1024 as number | null,
  completion_only_loss: null as boolean | null,
  assistant_only_loss: false,
  dataset_text_field: 'text',
};

/** PEFT's adapter keys, by the method they configure (snake_case as in adapter_config.json). */
const PEFT_KEYS: Record<string, string> = {
  r: 'r', lora_alpha: 'loraAlpha', lora_dropout: 'loraDropout', target_modules: 'targetModules', use_rslora: 'useRslora', bias: 'bias',
  modules_to_save: 'modulesToSave', num_virtual_tokens: 'numVirtualTokens', prompt_tuning_init: 'promptTuningInit',
  prompt_tuning_init_text: 'promptTuningInitText', feedforward_modules: 'feedforwardModules', bottleneck_size: 'bottleneckSize',
  non_linearity: 'nonLinearity', placement: 'placement', train_only: 'trainOnly', last_blocks: 'lastBlocks', bitfit: 'bitfit',
};

export type RunSettings = typeof RUN_DEFAULTS & { model: string; dataset: string };

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
  for (const key of ['model', 'dataset'] as const) if (typeof run[key] !== 'string' || run[key] === '') fail(source, `'${key}' is required (a folder, file or hub id)`);
  if (!METHODS.includes(run.method as Method)) fail(source, `'method' must be one of ${METHODS.join(', ')}, got ${JSON.stringify(run.method)}`);
  for (const key of ['eval_dataset', 'template'] as const) if (run[key] !== null && typeof run[key] !== 'string') fail(source, `'${key}' must be a string`);
  if (run.max_length !== null && !(Number.isInteger(run.max_length) && (run.max_length as number) >= 1)) fail(source, `'max_length' must be a positive integer or null, got ${JSON.stringify(run.max_length)}`);
  for (const key of ['overwrite_output_dir', 'assistant_only_loss'] as const) if (typeof run[key] !== 'boolean') fail(source, `'${key}' must be true or false`);
  if (run.completion_only_loss !== null && typeof run.completion_only_loss !== 'boolean') fail(source, `'completion_only_loss' must be true, false or null`);
  if (run.method === 'full' && Object.keys(peft).length > 0) fail(source, `adapter keys (${Object.keys(raw).filter((key) => key in PEFT_KEYS).join(', ')}) do nothing with method 'full'`);
  const args = parseTrainingArguments(training, source);
  if (args.output_dir === null || args.output_dir === '') fail(source, `'output_dir' is required`);
  return { run: run as RunSettings, training: args as TrainingArguments & { output_dir: string }, peft };
}

/** The adapter config of a method from PEFT-named settings, PEFT's defaults for the rest. */
function adapterConfigFor(method: Exclude<Method, 'full'>, settings: Record<string, unknown>, model: LanguageModel): AdapterConfigBase {
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
  trainable: number;
  total: number;
}

/** Runs `config` to the end and writes its output folder (atomically); events as `train()` emits them. */
export async function runTraining(
  config: RunConfig,
  options: { onEvent?: (event: TrainEvent) => void; onStart?: (start: { maxSteps: number; trainExamples: number; evalExamples: number }) => void } = {},
): Promise<RunResult> {
  const { run, training } = config;
  let outputDir: string;
  try {
    outputDir = checkDestination(training.output_dir, { kind: 'directory', overwrite: run.overwrite_output_dir, inputs: [run.model, run.dataset, ...(run.eval_dataset === null ? [] : [run.eval_dataset])] });
  } catch (error) {
    if (error instanceof TunekitError) throw new TunekitError(error.code, error.message.replace('pass --overwrite to replace it', 'set overwrite_output_dir (--overwrite-output-dir) to replace it'));
    throw error;
  }
  const { model: base, tokenizer } = await loadModel(run.model);
  try {
    if (tokenizer === null) throw new TunekitError(RUN_CONFIG_ERROR, `${run.model}: the model has no tokenizer.json to tokenize the dataset with`);
    // Adapter initialization draws from the seed, as a script that seeds before get_peft_model does.
    manualSeed(training.seed);
    const model: LanguageModel = run.method === 'full' ? base : getPeftModel(base, adapterConfigFor(run.method, config.peft, base));
    if (run.method === 'full') base.unfreeze();
    const tokenization = {
      maxLength: run.max_length,
      completionOnlyLoss: run.completion_only_loss ?? undefined,
      assistantOnlyLoss: run.assistant_only_loss,
      datasetTextField: run.dataset_text_field,
      seq2seq: base.kind === 'seq2seq',
    };
    const tokenize = async (source: string): Promise<TrainExample[]> => {
      const { records } = await readInstructionRecords(source, { template: run.template, seed: training.seed, split: run.dataset_split });
      const result = tokenizeSftDataset(tokenizer, records, tokenization);
      if (result.examples.length === 0) throw new TunekitError(RUN_CONFIG_ERROR, `${source}: no example has a supervised token left (max_length ${run.max_length})`);
      return result.examples;
    };
    const trainExamples = await tokenize(run.dataset);
    const evalExamples = run.eval_dataset === null ? undefined : await tokenize(run.eval_dataset);
    options.onStart?.({ maxSteps: trainingPlan(trainExamples.length, training).maxSteps, trainExamples: trainExamples.length, evalExamples: evalExamples?.length ?? 0 });
    const history: string[] = [];
    const result = train(model, trainExamples, training, {
      padTokenId: sftPadTokenId(tokenizer).padTokenId,
      evalExamples,
      onEvent: (event) => {
        if (event.event !== 'done') history.push(JSON.stringify(event));
        options.onEvent?.(event);
      },
    });
    const counts = model instanceof PeftModel ? model.trainableSummary() : { trainable: base.parameterCount().trainable, total: base.parameterCount().total };
    await withAtomicDirectory(outputDir, async (folder) => {
      if (model instanceof PeftModel) await saveAdapter(model, folder);
      else await saveModel(base, folder);
      await writeFileAtomic(path.join(folder, 'config.yaml'), stringify({ ...run, ...training, ...Object.fromEntries(Object.entries(PEFT_KEYS).filter(([, name]) => name in config.peft).map(([key, name]) => [key, config.peft[name]])) }));
      await writeFileAtomic(path.join(folder, 'metrics.jsonl'), history.map((line) => line + '\n').join(''));
    });
    return { ...result, outputDir, trainExamples: trainExamples.length, evalExamples: evalExamples?.length ?? 0, trainable: counts.trainable, total: counts.total };
  } finally {
    base.dispose();
  }
}
