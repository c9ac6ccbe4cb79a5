import { collateLanguageModeling, type CollatedBatch } from '../data/collate.js';
import { TunekitError } from '../errors.js';
import type { LanguageModel } from '../models/types.js';
import * as F from '../nn/functional.js';
import { LayerNorm } from '../nn/layers.js';
import { AdamW, clipGradNorm, constantSchedule, cosineSchedule, linearSchedule, LRScheduler, type Schedule } from '../optim/index.js';
import { cat, full, tensor } from '../torch/ops.js';
import { noGrad } from '../torch/runtime.js';
import { Tensor, tidy } from '../torch/tensor.js';
import { parseTrainingArguments, type TrainingArguments } from './arguments.js';
import { trainerEpochOrder } from './sampler.js';

export const TRAIN_ERROR = 'E_TRAIN';

/** A tokenized example, as tokenizeSftDataset gives it. */
export interface TrainExample {
  input_ids: readonly number[];
  labels?: readonly number[];
}

/** One Trainer log line (`logging_steps`): the loss averaged over the steps since the last one, as Trainer logs it. */
export interface StepEvent {
  event: 'step';
  step: number;
  epoch: number;
  loss: number;
  learning_rate: number;
  grad_norm: number;
  tokens_per_second: number;
}
export interface EvalEvent {
  event: 'eval';
  step: number;
  epoch: number;
  eval_loss: number;
}
export interface DoneEvent {
  event: 'done';
  global_step: number;
  epoch: number;
  /** Trainer's train_loss: every step's loss summed, over the number of steps. */
  train_loss: number;
  seconds: number;
}
export type TrainEvent = StepEvent | EvalEvent | DoneEvent;

export interface TrainOptions {
  onEvent?: (event: TrainEvent) => void;
  evalExamples?: readonly TrainExample[];
  /** The collator's pad id (sftPadTokenId(tokenizer).padTokenId). */
  padTokenId: number;
}

export interface TrainResult {
  globalStep: number;
  trainLoss: number;
  /** Every logged step and eval, in order. */
  history: (StepEvent | EvalEvent)[];
}

/** The step plan, as Trainer.set_initial_training_values computes it. */
export interface TrainingPlan {
  batchesPerEpoch: number;
  updateStepsPerEpoch: number;
  maxSteps: number;
  epochs: number;
  warmupSteps: number;
}

export function trainingPlan(examples: number, args: TrainingArguments): TrainingPlan {
  if (examples < 1) throw new TunekitError(TRAIN_ERROR, 'train() needs at least one training example');
  const batchesPerEpoch = Math.ceil(examples / args.per_device_train_batch_size); // DataLoader, drop_last false
  const accumulation = args.gradient_accumulation_steps;
  // set_initial_training_values: max(len // ga + int(len % ga > 0), 1), then ceil(num_train_epochs × that) or max_steps.
  const updateStepsPerEpoch = Math.max(Math.floor(batchesPerEpoch / accumulation) + (batchesPerEpoch % accumulation > 0 ? 1 : 0), 1);
  const maxSteps = args.max_steps > 0 ? args.max_steps : Math.ceil(args.num_train_epochs * updateStepsPerEpoch);
  const epochs = args.max_steps > 0 ? Math.ceil(maxSteps / updateStepsPerEpoch) : Math.ceil(args.num_train_epochs);
  // TrainingArguments.get_warmup_steps: an integer count, or ceil(total × ratio) below 1 (warmup_ratio: 4.x's key).
  let warmupSteps = args.warmup_steps >= 1 ? Math.trunc(args.warmup_steps) : Math.ceil(maxSteps * args.warmup_steps);
  if (warmupSteps === 0 && args.warmup_ratio > 0) warmupSteps = Math.ceil(maxSteps * args.warmup_ratio);
  return { batchesPerEpoch, updateStepsPerEpoch, maxSteps, epochs, warmupSteps };
}

/** Steps given as a ratio below 1 become ceil(maxSteps × ratio), as Trainer sets state.logging_steps/eval_steps. */
function intervalSteps(value: number, maxSteps: number): number {
  return value < 1 ? Math.ceil(maxSteps * value) : value;
}

/** transformers' get_scheduler for the supported names (the constant schedule has no warmup there). */
export function trainerSchedule(args: TrainingArguments, plan: TrainingPlan): Schedule {
  const options = { warmupSteps: plan.warmupSteps, totalSteps: plan.maxSteps };
  switch (args.lr_scheduler_type) {
    case 'linear':
      return linearSchedule(options);
    case 'cosine':
      return cosineSchedule(options);
    case 'constant':
      return constantSchedule();
    case 'constant_with_warmup':
      return constantSchedule({ warmupSteps: plan.warmupSteps });
  }
}

// Trainer.get_decay_parameter_names: no decay inside nn.LayerNorm, nor for names matching these (lower-cased).
const NO_DECAY_PATTERNS = [/bias/, /layernorm/, /rmsnorm/, /(?:^|\.)norm(?:$|\.)/, /_norm(?:$|\.)/];

/** The names of the parameters that get weight decay (Trainer.get_decay_parameter_names). */
export function decayParameterNames(model: LanguageModel): Set<string> {
  const insideLayerNorm = new Set<string>();
  for (const [prefix, module] of model.namedModules()) {
    if (!(module instanceof LayerNorm)) continue;
    for (const [name] of module.namedParameters()) insideLayerNorm.add(prefix === '' ? name : `${prefix}.${name}`);
  }
  const names = new Set<string>();
  for (const [name] of model.namedParameters()) {
    if (insideLayerNorm.has(name) || NO_DECAY_PATTERNS.some((pattern) => pattern.test(name.toLowerCase()))) continue;
    names.add(name);
  }
  return names;
}

/** Trainer.create_optimizer: AdamW (adamw_torch_fused) over two groups, decay and no decay, trainable parameters only. */
function createOptimizer(model: LanguageModel, args: TrainingArguments): { optimizer: AdamW; parameters: Tensor[] } {
  const decayNames = decayParameterNames(model);
  const decay: [string, Tensor][] = [];
  const noDecay: [string, Tensor][] = [];
  for (const [name, parameter] of model.namedParameters()) {
    if (!parameter.requiresGrad) continue;
    (decayNames.has(name) ? decay : noDecay).push([name, parameter]);
  }
  if (decay.length + noDecay.length === 0) throw new TunekitError(TRAIN_ERROR, 'the model has no trainable parameters');
  const groups = [
    { params: decay, options: { weightDecay: args.weight_decay } },
    { params: noDecay, options: { weightDecay: 0 } },
  ].filter((group) => group.params.length > 0);
  const optimizer = new AdamW(groups, { lr: args.learning_rate, beta1: args.adam_beta1, beta2: args.adam_beta2, eps: args.adam_epsilon, fused: true });
  return { optimizer, parameters: [...decay, ...noDecay].map(([, parameter]) => parameter) };
}

/**
 * The labels that carry loss (Trainer._get_num_items_in_batch): causal losses shift, so labels[..., 1:] != -100;
 * seq2seq: every label != -100.
 */
function supervisedTokens(model: LanguageModel, batch: CollatedBatch): number {
  let count = 0;
  for (const row of batch.labels) for (let i = model.kind === 'causal' ? 1 : 0; i < row.length; i++) if (row[i] !== -100) count++;
  return count;
}

/**
 * Summed cross-entropy over the supervised tokens of a batch, divided by `items` (the model's loss_function with
 * num_items_in_batch: ForCausalLMLoss with reduction "sum" / num_items_in_batch).
 */
function batchLossOver(model: LanguageModel, batch: CollatedBatch, items: number): Tensor {
  const logits = model.logits(batch);
  let labels = tensor(batch.labels, { dtype: 'int64' });
  const vocab = logits.shape[2];
  if (model.kind === 'seq2seq') return F.crossEntropy(logits.reshape([-1, vocab]).float(), labels.reshape([-1]), { reduction: 'sum' }).div(items);
  const extra = logits.shape[1] - labels.shape[1];
  if (extra > 0) labels = cat([full([labels.shape[0], extra], -100, { dtype: 'int64' }), labels], 1);
  const length = logits.shape[1];
  const predictions = logits.narrow(1, 0, length - 1).reshape([-1, vocab]).float();
  const targets = labels.narrow(1, 1, length - 1).reshape([-1]);
  return F.crossEntropy(predictions, targets, { reduction: 'sum' }).div(items);
}

function tokensIn(batch: CollatedBatch): number {
  return batch.inputIds.reduce((sum, row, i) => sum + (batch.attentionMask?.[i].reduce((a, b) => a + b, 0) ?? row.length), 0);
}

function checkExamples(examples: readonly TrainExample[], what: string): void {
  examples.forEach((example, index) => {
    if (!Array.isArray(example.input_ids) || example.input_ids.length === 0) {
      throw new TunekitError(TRAIN_ERROR, `${what} example ${index + 1}: input_ids must be a non-empty array of token ids`);
    }
  });
}

/**
 * Trainer.evaluate's eval_loss: sequential batches of per_device_eval_batch_size, each batch's loss over its own
 * supervised tokens (prediction_step), repeated per example and averaged (evaluation_loop).
 */
export function evaluateLoss(model: LanguageModel, examples: readonly TrainExample[], args: TrainingArguments, padTokenId: number): number {
  checkExamples(examples, 'eval');
  const wasTraining = model.training;
  model.eval();
  let weighted = 0;
  try {
    for (let start = 0; start < examples.length; start += args.per_device_eval_batch_size) {
      const batch = collateLanguageModeling(examples.slice(start, start + args.per_device_eval_batch_size), { padTokenId });
      const items = supervisedTokens(model, batch);
      const loss = noGrad(() => tidy(() => batchLossOver(model, batch, items).item()));
      weighted += loss * batch.inputIds.length;
    }
  } finally {
    model.train(wasTraining);
  }
  return weighted / examples.length;
}

/**
 * Fine-tunes `model` on tokenized examples as transformers 5.17's Trainer.train does (Trainer._inner_training_loop):
 * the same example order, step count, optimizer groups, schedule, loss normalization, clipping and logged values.
 * No checkpoints and no resume here.
 */
export function train(model: LanguageModel, trainExamples: readonly TrainExample[], rawArgs: Partial<TrainingArguments>, options: TrainOptions): TrainResult {
  const args = parseTrainingArguments(rawArgs, 'train() arguments');
  checkExamples(trainExamples, 'training');
  const emit = options.onEvent ?? (() => {});
  const plan = trainingPlan(trainExamples.length, args);
  const loggingSteps = intervalSteps(args.logging_steps, plan.maxSteps);
  const evalSteps = intervalSteps(args.eval_steps ?? args.logging_steps, plan.maxSteps);
  const evaluating = args.eval_strategy !== 'no';
  if (evaluating && (options.evalExamples === undefined || options.evalExamples.length === 0)) {
    throw new TunekitError(TRAIN_ERROR, `eval_strategy is '${args.eval_strategy}' but no evalExamples were given`);
  }
  const { optimizer, parameters } = createOptimizer(model, args);
  const scheduler = new LRScheduler(optimizer, trainerSchedule(args, plan));
  const history: (StepEvent | EvalEvent)[] = [];
  const started = performance.now();
  let windowStarted = started;
  let windowTokens = 0;
  let globalStep = 0;
  let lastLogged = 0;
  let trLoss = 0; // Trainer._tr_loss: a float32 tensor
  let totalLoss = 0; // Trainer._total_loss_scalar: a Python float
  let epochValue = 0;
  const runEval = (): void => {
    const event: EvalEvent = { event: 'eval', step: globalStep, epoch: epochValue, eval_loss: evaluateLoss(model, options.evalExamples ?? [], args, options.padTokenId) };
    history.push(event);
    emit(event);
  };
  try {
    model.train();
    optimizer.zeroGrad();
    let stop = false;
    for (let epoch = 0; epoch < plan.epochs && !stop; epoch++) {
      const order = trainerEpochOrder(trainExamples.length, args.data_seed ?? args.seed, epoch);
      const batches: number[][] = [];
      for (let start = 0; start < order.length; start += args.per_device_train_batch_size) batches.push(order.slice(start, start + args.per_device_train_batch_size));
      let microStep = -1;
      for (let update = 0; update < plan.updateStepsPerEpoch && !stop; update++) {
        // get_batch_samples: the step's micro-batches, fewer for the last step of an epoch that does not divide evenly.
        const stepBatches = batches
          .slice(update * args.gradient_accumulation_steps, (update + 1) * args.gradient_accumulation_steps)
          .map((indices) => collateLanguageModeling(indices.map((i) => trainExamples[i]), { padTokenId: options.padTokenId }));
        if (stepBatches.length === 0) break;
        const items = stepBatches.reduce((sum, batch) => sum + supervisedTokens(model, batch), 0);
        if (items === 0) throw new TunekitError(TRAIN_ERROR, `step ${globalStep + 1}: no example in the step has a supervised label (all are -100)`);
        for (const batch of stepBatches) {
          microStep++;
          const loss = tidy(() => {
            const value = batchLossOver(model, batch, items);
            value.backward();
            return value.item();
          });
          trLoss = Math.fround(trLoss + loss);
          windowTokens += tokensIn(batch);
        }
        // Trainer._clip_grad_norm (accelerator.clip_grad_norm_ = torch's clip_grad_norm_ on the total 2-norm) when
        // max_grad_norm > 0, else Trainer._get_grad_norm: the same call with an infinite bound, which only measures.
        const gradNorm = clipGradNorm(parameters, args.max_grad_norm > 0 ? args.max_grad_norm : Infinity);
        const learningRate = optimizer.groups[0].options.lr; // _get_learning_rate before lr_scheduler.step()
        optimizer.step();
        scheduler.step();
        optimizer.zeroGrad();
        globalStep++;
        epochValue = epoch + (microStep + 1) / batches.length;
        const last = globalStep >= plan.maxSteps;
        if (globalStep % loggingSteps === 0) {
          const now = performance.now();
          const event: StepEvent = {
            event: 'step',
            step: globalStep,
            epoch: epochValue,
            loss: trLoss / (globalStep - lastLogged),
            learning_rate: learningRate,
            grad_norm: gradNorm,
            tokens_per_second: windowTokens / Math.max((now - windowStarted) / 1000, 1e-9),
          };
          totalLoss += trLoss;
          trLoss = 0;
          lastLogged = globalStep;
          windowStarted = now;
          windowTokens = 0;
          history.push(event);
          emit(event);
        }
        // DefaultFlowCallback.on_step_end: every eval_steps, and once more at the end when that step was not one.
        if (args.eval_strategy === 'steps' && (globalStep % evalSteps === 0 || last)) runEval();
        if (last) stop = true;
      }
      if (args.eval_strategy === 'epoch') runEval(); // on_epoch_end
    }
  } finally {
    optimizer.dispose();
    model.eval();
  }
  totalLoss += trLoss;
  const done: DoneEvent = { event: 'done', global_step: globalStep, epoch: epochValue, train_loss: globalStep > 0 ? totalLoss / globalStep : 0, seconds: (performance.now() - started) / 1000 };
  emit(done);
  return { globalStep, trainLoss: done.train_loss, history };
}
