import { suggestNearest } from '../data/random.js';
import { TunekitError } from '../errors.js';

export const TRAINING_ARGUMENTS_ERROR = 'E_TRAINING_ARGUMENTS';

export type SchedulerType = 'linear' | 'cosine' | 'constant' | 'constant_with_warmup';
export type IntervalStrategy = 'no' | 'steps' | 'epoch';

/**
 * The training options, under transformers' TrainingArguments key names (as a user writes them in YAML or JSON) and
 * with its defaults (transformers 5.17, training_args.py). Step counts below 1 (logging_steps, eval_steps,
 * save_steps, warmup_steps) are ratios of the total steps, as there.
 */
export interface TrainingArguments {
  output_dir: string | null;
  learning_rate: number;
  num_train_epochs: number;
  max_steps: number;
  per_device_train_batch_size: number;
  per_device_eval_batch_size: number;
  gradient_accumulation_steps: number;
  /** An integer count, or a ratio of the total steps when below 1 (TrainingArguments.get_warmup_steps). */
  warmup_steps: number;
  /** transformers 4.x's warmup_ratio (5.x folds it into warmup_steps < 1); used when warmup_steps is 0. */
  warmup_ratio: number;
  lr_scheduler_type: SchedulerType;
  weight_decay: number;
  adam_beta1: number;
  adam_beta2: number;
  adam_epsilon: number;
  max_grad_norm: number;
  logging_steps: number;
  eval_strategy: IntervalStrategy;
  /** Default: logging_steps (as TrainingArguments.__post_init__ sets it). */
  eval_steps: number | null;
  save_strategy: IntervalStrategy;
  save_steps: number;
  /** Keep at most this many checkpoint-N folders (the oldest go first; the best one is kept). */
  save_total_limit: number | null;
  /** Checkpoints hold only the model or adapter: no optimizer, scheduler or RNG state, so they cannot be resumed. */
  save_only_model: boolean;
  load_best_model_at_end: boolean;
  /** An eval metric name, with or without `eval_`; default: loss when load_best_model_at_end. */
  metric_for_best_model: string | null;
  /** Default: true unless the metric ends in "loss". */
  greater_is_better: boolean | null;
  /** A checkpoint folder, or true for the newest complete checkpoint-N in output_dir. */
  resume_from_checkpoint: string | boolean | null;
  /** bf16 mixed precision: matrix products autocast to bfloat16, weights and optimizer state stay float32. */
  bf16: boolean;
  /** Keep only each decoder layer's input and recompute the layer in backward (decoder-only models). */
  gradient_checkpointing: boolean;
  seed: number;
  /** The sampler's seed; default: seed. */
  data_seed: number | null;
}

export const TRAINING_ARGUMENT_DEFAULTS: Readonly<TrainingArguments> = Object.freeze({
  output_dir: null,
  learning_rate: 5e-5,
  num_train_epochs: 3,
  max_steps: -1,
  per_device_train_batch_size: 8,
  per_device_eval_batch_size: 8,
  gradient_accumulation_steps: 1,
  warmup_steps: 0,
  warmup_ratio: 0,
  lr_scheduler_type: 'linear',
  weight_decay: 0,
  adam_beta1: 0.9,
  adam_beta2: 0.999,
  adam_epsilon: 1e-8,
  max_grad_norm: 1,
  logging_steps: 500,
  eval_strategy: 'no',
  eval_steps: null,
  save_strategy: 'steps',
  save_steps: 500,
  save_total_limit: null,
  save_only_model: false,
  load_best_model_at_end: false,
  metric_for_best_model: null,
  greater_is_better: null,
  resume_from_checkpoint: null,
  bf16: false,
  gradient_checkpointing: false,
  seed: 42,
  data_seed: null,
});

type Check = (value: unknown) => string | null;

const number = (test: (value: number) => boolean, expected: string): Check => (value) =>
  typeof value === 'number' && Number.isFinite(value) && test(value) ? null : expected;
const integer = (test: (value: number) => boolean, expected: string): Check => (value) =>
  typeof value === 'number' && Number.isInteger(value) && test(value) ? null : expected;
const oneOf = (choices: readonly string[]): Check => (value) =>
  typeof value === 'string' && choices.includes(value)
    ? null
    : `one of ${choices.join(', ')}${typeof value === 'string' ? suggestNearest(value, choices) : ''}`;
const nullable = (check: Check): Check => (value) => (value === null ? null : check(value));
const steps = number((v) => v > 0, 'a positive number (below 1: a ratio of the total steps)');
const boolean: Check = (value) => (typeof value === 'boolean' ? null : 'true or false');
const beta = number((v) => v >= 0 && v < 1, 'a number in [0, 1)');

const checks: { [K in keyof TrainingArguments]: Check } = {
  output_dir: nullable((value) => (typeof value === 'string' && value !== '' ? null : 'a non-empty path')),
  learning_rate: number((v) => v >= 0, 'a non-negative number'),
  num_train_epochs: number((v) => v > 0, 'a positive number'),
  max_steps: integer((v) => v === -1 || v > 0, 'a positive integer, or -1 for num_train_epochs'),
  per_device_train_batch_size: integer((v) => v >= 1, 'a positive integer'),
  per_device_eval_batch_size: integer((v) => v >= 1, 'a positive integer'),
  gradient_accumulation_steps: integer((v) => v >= 1, 'a positive integer'),
  warmup_steps: number((v) => v >= 0 && (v < 1 || Number.isInteger(v)), 'a non-negative integer, or a ratio in [0, 1)'),
  warmup_ratio: number((v) => v >= 0 && v <= 1, 'a number in [0, 1]'),
  lr_scheduler_type: oneOf(['linear', 'cosine', 'constant', 'constant_with_warmup']),
  weight_decay: number((v) => v >= 0, 'a non-negative number'),
  adam_beta1: beta,
  adam_beta2: beta,
  adam_epsilon: number((v) => v >= 0, 'a non-negative number'),
  max_grad_norm: number((v) => v >= 0, 'a non-negative number (0: no clipping)'),
  logging_steps: steps,
  eval_strategy: oneOf(['no', 'steps', 'epoch']),
  eval_steps: nullable(steps),
  save_strategy: oneOf(['no', 'steps', 'epoch']),
  save_steps: steps,
  save_total_limit: nullable(integer((v) => v >= 1, 'a positive integer')),
  save_only_model: boolean,
  load_best_model_at_end: boolean,
  metric_for_best_model: nullable((value) => (typeof value === 'string' && value !== '' ? null : 'a metric name such as loss or eval_rougeL')),
  greater_is_better: nullable(boolean),
  resume_from_checkpoint: nullable((value) => (typeof value === 'boolean' || (typeof value === 'string' && value !== '') ? null : 'a checkpoint folder, or true for the newest one in output_dir')),
  bf16: boolean,
  gradient_checkpointing: boolean,
  seed: integer((v) => v >= 0 && v <= Number.MAX_SAFE_INTEGER, 'a non-negative integer'),
  data_seed: nullable(integer((v) => v >= 0 && v <= Number.MAX_SAFE_INTEGER, 'a non-negative integer')),
};

const KNOWN = Object.keys(checks);

function describe(value: unknown): string {
  return value === undefined ? 'undefined' : JSON.stringify(value);
}

/**
 * Reads TrainingArguments from parsed YAML/JSON: unknown keys (with the nearest known one), wrong types and values
 * out of their domain are refused as one-line errors naming `source` and the key; missing keys take Trainer's defaults.
 */
export function parseTrainingArguments(raw: unknown, source = 'training arguments'): TrainingArguments {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new TunekitError(TRAINING_ARGUMENTS_ERROR, `${source}: training arguments must be an object of key: value, got ${Array.isArray(raw) ? 'an array' : describe(raw)}`);
  }
  const result: Record<string, unknown> = { ...TRAINING_ARGUMENT_DEFAULTS };
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in checks)) {
      throw new TunekitError(TRAINING_ARGUMENTS_ERROR, `${source}: unknown key '${key}'${suggestNearest(key, KNOWN)}`);
    }
    const problem = checks[key as keyof TrainingArguments](value);
    if (problem !== null) throw new TunekitError(TRAINING_ARGUMENTS_ERROR, `${source}: '${key}' must be ${problem}, got ${describe(value)}`);
    result[key] = value;
  }
  const args = result as unknown as TrainingArguments;
  if (args.eval_steps === null) args.eval_steps = args.logging_steps;
  // TrainingArguments.__post_init__: the best model is chosen on eval loss unless told otherwise.
  if (args.load_best_model_at_end && args.metric_for_best_model === null) args.metric_for_best_model = 'loss';
  if (args.metric_for_best_model !== null && args.greater_is_better === null) args.greater_is_better = !args.metric_for_best_model.endsWith('loss');
  if (args.load_best_model_at_end) {
    const fail = (message: string): never => {
      throw new TunekitError(TRAINING_ARGUMENTS_ERROR, `${source}: load_best_model_at_end ${message}`);
    };
    if (args.eval_strategy === 'no') fail(`needs evaluations: set eval_strategy to 'steps' or 'epoch'`);
    if (args.save_strategy !== args.eval_strategy) fail(`needs save_strategy equal to eval_strategy ('${args.eval_strategy}'), got '${args.save_strategy}'`);
    if (args.eval_strategy === 'steps' && args.save_steps % (args.eval_steps as number) !== 0) fail(`needs save_steps (${args.save_steps}) to be a multiple of eval_steps (${args.eval_steps})`);
    if (args.save_only_model) fail('cannot be used with save_only_model');
  }
  return args;
}
