import path from 'node:path';
import type { CollatedBatch } from '../data/collate.js';
import { TunekitError } from '../errors.js';
import type { LanguageModel } from '../models/types.js';
import { LayerNorm } from '../nn/layers.js';
import { AdamW, clipGradNorm, constantSchedule, cosineSchedule, linearSchedule, LRScheduler, type Schedule } from '../optim/index.js';
import { dtypeByteSize } from '../torch/dtype.js';
import { getCpuRngState, setCpuRngState } from '../torch/runtime.js';
import type { ProcessGroup } from '../torch/distributed.js';
import { Tensor } from '../torch/tensor.js';
import { parseTrainingArguments, type TrainingArguments } from './arguments.js';
import {
  checkpointName,
  loadTrainedWeights,
  type LoopState,
  readCheckpoint,
  resolveResumeCheckpoint,
  rotateCheckpoints,
  type TrainerState,
  writeCheckpoint,
} from './checkpoint.js';
import { checkExamples, collateFor, evaluateModel, supervisedTokens, TRAIN_ERROR, type TrainExample } from './evaluation.js';
import { backwardMicroBatch, checkGradientCheckpointing } from './loss.js';
import { withAutocast } from './precision.js';
import { DataParallel, distributedSamplerIndices } from './distributed.js';
import { trainerEpochOrder } from './sampler.js';
import { ShardedAdamW } from './zero.js';

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
/** One evaluation: eval_loss, eval_perplexity, eval_mean_token_accuracy, eval_entropy and any extra eval_ metric. */
export interface EvalEvent {
  event: 'eval';
  step: number;
  epoch: number;
  eval_loss: number;
  [metric: `eval_${string}`]: number;
}
export interface SaveEvent {
  event: 'save';
  step: number;
  checkpoint: string;
  /** Checkpoints deleted by save_total_limit. */
  deleted: string[];
}
export interface ResumeEvent {
  event: 'resume';
  step: number;
  checkpoint: string;
}
export interface DoneEvent {
  event: 'done';
  global_step: number;
  epoch: number;
  /** Trainer's train_loss: every step's loss summed, over the number of steps. */
  train_loss: number;
  seconds: number;
  /** Stopped by options.signal (a checkpoint was saved first when output_dir is set). */
  interrupted: boolean;
  /** Stopped by early stopping. */
  early_stopped: boolean;
  best_metric: number | null;
  best_model_checkpoint: string | null;
  /** Bytes of optimizer state this process held at the end (with shardOptimizer, its slice only). */
  optimizer_state_bytes: number;
}
export type TrainEvent = StepEvent | EvalEvent | SaveEvent | ResumeEvent | DoneEvent;

export interface EarlyStopping {
  /** Evaluations without improvement before training stops (EarlyStoppingCallback's early_stopping_patience). */
  patience: number;
  /** How much better than the best a metric must be to count as an improvement. */
  threshold?: number;
}

export interface TrainOptions {
  onEvent?: (event: TrainEvent) => void;
  evalExamples?: readonly TrainExample[];
  /** The collator's pad id (sftPadTokenId(tokenizer).padTokenId). */
  padTokenId: number;
  /** More eval metrics (generation + ROUGE on a sample…), by name without the eval_ prefix, merged into each evaluation. */
  extraMetrics?: (model: LanguageModel) => Promise<Record<string, number>>;
  earlyStopping?: EarlyStopping;
  /** false: every epoch in example order (default true: Trainer's seeded RandomSampler). */
  shuffle?: boolean;
  /**
   * TRL's padding_free (forced on by packing): each micro-batch is one row, its examples concatenated, position ids
   * restarting per sequence, so attention and loss stay inside each sequence.
   */
  paddingFree?: boolean;
  /** Aborting it stops training after the current optimizer step, with a checkpoint when output_dir is set. */
  signal?: AbortSignal;
  /**
   * Data parallel training over this c10d group (DDP): this rank trains on its DistributedSampler shard, gradients are
   * summed over the ranks and only rank 0 writes checkpoints. Every rank must call train() with the same arguments.
   */
  processGroup?: ProcessGroup;
  /** With processGroup: ZeRO stage 1, each rank keeping and updating only its slice of the AdamW state. */
  shardOptimizer?: boolean;
}

export interface TrainResult {
  globalStep: number;
  trainLoss: number;
  /** Every logged step and eval, in order (a resumed run's include those before the checkpoint). */
  history: (StepEvent | EvalEvent)[];
  interrupted: boolean;
  earlyStopped: boolean;
  bestMetric: number | null;
  bestModelCheckpoint: string | null;
  /** The checkpoint the run resumed from. */
  resumedFrom: string | null;
  /** trainer_state.json at the end (Trainer.save_state). */
  state: TrainerState;
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

function tokensIn(batch: CollatedBatch): number {
  return batch.inputIds.reduce((sum, row, i) => sum + (batch.attentionMask?.[i].reduce((a, b) => a + b, 0) ?? row.length), 0);
}

/** What must be the same for a checkpoint to continue this run: the data, its order and the step plan. */
function runFingerprint(examples: number, args: TrainingArguments, plan: TrainingPlan, shuffle: boolean, paddingFree: boolean, worldSize: number): Record<string, number | string> {
  return {
    world_size: worldSize,
    shuffle: String(shuffle),
    padding_free: String(paddingFree),
    train_examples: examples,
    per_device_train_batch_size: args.per_device_train_batch_size,
    gradient_accumulation_steps: args.gradient_accumulation_steps,
    data_seed: args.data_seed ?? args.seed,
    max_steps: plan.maxSteps,
  };
}

function checkFingerprint(saved: Record<string, number | string>, current: Record<string, number | string>, dir: string): void {
  for (const [key, value] of Object.entries(current)) {
    if ((saved[key] ?? (key === 'world_size' ? 1 : undefined)) !== value) {
      throw new TunekitError(TRAIN_ERROR, `cannot resume from ${dir}: it was trained with ${key} ${saved[key]}, this run has ${value}; resume with the same data and settings, or start a new run`);
    }
  }
}

/** The metric load_best_model_at_end and early stopping compare (Trainer._determine_best_metric's metric_to_check). */
function bestMetricKey(args: TrainingArguments): string | null {
  const name = args.metric_for_best_model;
  if (name === null) return null;
  return name.startsWith('eval_') ? name : `eval_${name}`;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Fine-tunes `model` on tokenized examples as transformers 5.17's Trainer.train does (Trainer._inner_training_loop):
 * the same example order, step count, optimizer groups, schedule, loss normalization, clipping and logged values;
 * evaluations, checkpoint-N folders in output_dir (save_strategy, save_steps, save_total_limit), the best checkpoint
 * (metric_for_best_model, load_best_model_at_end), early stopping, and an exact resume (resume_from_checkpoint).
 */
export async function train(model: LanguageModel, trainExamples: readonly TrainExample[], rawArgs: Partial<TrainingArguments>, options: TrainOptions): Promise<TrainResult> {
  const args = parseTrainingArguments(rawArgs, 'train() arguments');
  checkExamples(trainExamples, 'training');
  const emit = options.onEvent ?? (() => {});
  const worldSize = options.processGroup?.worldSize ?? 1;
  const rank = options.processGroup?.rank ?? 0;
  // DistributedSampler: each rank's epoch is ceil(examples / world size) of them.
  const plan = trainingPlan(Math.ceil(trainExamples.length / worldSize), args);
  const loggingSteps = intervalSteps(args.logging_steps, plan.maxSteps);
  const evalSteps = intervalSteps(args.eval_steps ?? args.logging_steps, plan.maxSteps);
  const saveSteps = intervalSteps(args.save_steps, plan.maxSteps);
  const outputDir = args.output_dir === null ? null : path.resolve(args.output_dir);
  const saving = args.save_strategy !== 'no' && outputDir !== null;
  const metricKey = bestMetricKey(args);
  if (args.eval_strategy !== 'no' && (options.evalExamples === undefined || options.evalExamples.length === 0)) {
    throw new TunekitError(TRAIN_ERROR, `eval_strategy is '${args.eval_strategy}' but no evalExamples were given`);
  }
  if (options.earlyStopping !== undefined && (metricKey === null || args.eval_strategy === 'no')) {
    throw new TunekitError(TRAIN_ERROR, 'early stopping needs evaluations (eval_strategy) and a metric_for_best_model (or load_best_model_at_end)');
  }
  if (args.gradient_checkpointing) checkGradientCheckpointing(model);
  const fingerprint = runFingerprint(trainExamples.length, args, plan, options.shuffle !== false, options.paddingFree === true, worldSize);
  const { optimizer, parameters } = createOptimizer(model, args);
  const trainable = model.namedParameters().filter(([, parameter]) => parameter.requiresGrad).map(([, parameter]) => parameter);
  const ddp = options.processGroup === undefined ? null : new DataParallel(options.processGroup, trainable);
  const scheduler = new LRScheduler(optimizer, trainerSchedule(args, plan));
  const history: (StepEvent | EvalEvent)[] = [];
  const loop: LoopState = { fingerprint, epoch: 0, updatesInEpoch: 0, trLoss: 0, totalLoss: 0, lastLogged: 0, patience: 0, optimizerSteps: 0 };
  let globalStep = 0;
  let epochValue = 0;
  let bestMetric: number | null = null;
  let bestGlobalStep: number | null = null;
  let bestModelCheckpoint: string | null = null;
  let resumedFrom: string | null = null;
  const started = performance.now();
  let windowStarted = started;
  let windowTokens = 0;
  let earlyStopped = false;
  let interrupted = false;
  let savedAt = -1;
  let optimizerStateBytes = 0;
  if (options.shardOptimizer === true && ddp === null) throw new TunekitError(TRAIN_ERROR, 'shardOptimizer needs a processGroup (data parallel training)');
  let sharded: ShardedAdamW | null = null;
  let pendingOptimizerState: Awaited<ReturnType<typeof readCheckpoint>>['optimizer'] | null = null;

  const trainerState = (): TrainerState => ({
    best_global_step: bestGlobalStep,
    best_metric: bestMetric,
    best_model_checkpoint: bestModelCheckpoint,
    epoch: epochValue,
    eval_steps: evalSteps,
    global_step: globalStep,
    is_hyper_param_search: false,
    is_local_process_zero: rank === 0,
    is_world_process_zero: rank === 0,
    log_history: history.map(({ event: _event, ...entry }) => entry as Record<string, number>),
    logging_steps: loggingSteps,
    max_steps: plan.maxSteps,
    num_input_tokens_seen: 0,
    num_train_epochs: plan.epochs,
    save_steps: saveSteps,
    stateful_callbacks: {},
    total_flos: 0,
    train_batch_size: args.per_device_train_batch_size,
    trial_name: null,
    trial_params: null,
  });

  /** `state`: where a resume continues from (the epoch's end is the next epoch's start). */
  const save = async (state: LoopState = loop): Promise<void> => {
    if (outputDir === null || savedAt === globalStep) return;
    const dir = path.join(outputDir, checkpointName(globalStep));
    if (bestGlobalStep === globalStep) bestModelCheckpoint = dir;
    const full = !args.save_only_model;
    // Every rank's generator state goes into rank 0's checkpoint; the other ranks write nothing.
    const rngStates = full ? (ddp?.gatherBytes(getCpuRngState()) ?? [getCpuRngState()]) : undefined;
    // ZeRO-1 gathers the slices into the unsharded state, so a checkpoint reads the same either way.
    const optimizerState = full ? (sharded?.stateDict() ?? optimizer.stateDict()) : undefined;
    let deleted: string[] = [];
    if (rank === 0) {
      await writeCheckpoint(outputDir, {
        model,
        trainerState: trainerState(),
        loop: full ? { ...state } : undefined,
        optimizer: optimizerState,
        schedulerStep: scheduler.currentStep,
        rngState: rngStates?.[0],
        otherRankRngStates: rngStates?.slice(1),
      });
      deleted = rotateCheckpoints(outputDir, args.save_total_limit, bestModelCheckpoint);
    }
    if (sharded !== null) optimizerState?.tensors.forEach((tensor) => tensor.dispose());
    ddp?.barrier(); // the checkpoint exists for every rank once save() returns
    savedAt = globalStep;
    emit({ event: 'save', step: globalStep, checkpoint: dir, deleted });
  };

  const runEval = async (): Promise<void> => {
    const measured = evaluateModel(model, options.evalExamples ?? [], args, options.padTokenId);
    const extra = options.extraMetrics === undefined ? {} : await options.extraMetrics(model);
    const event = { event: 'eval', step: globalStep, epoch: epochValue } as EvalEvent;
    for (const [name, value] of Object.entries({ ...measured, ...extra })) event[`eval_${name}`] = value;
    history.push(event);
    emit(event);
    if (metricKey === null) return;
    const value = event[metricKey as `eval_${string}`];
    if (value === undefined) {
      throw new TunekitError(TRAIN_ERROR, `metric_for_best_model '${args.metric_for_best_model}' is not among the eval metrics (${Object.keys(event).filter((key) => key.startsWith('eval_')).join(', ')})`);
    }
    const better = (a: number, b: number): boolean => (args.greater_is_better ? a > b : a < b);
    // EarlyStoppingCallback.on_evaluate sees the best metric before this evaluation updates it.
    if (options.earlyStopping !== undefined) {
      const improved = bestMetric === null || (better(value, bestMetric) && Math.abs(value - bestMetric) > (options.earlyStopping.threshold ?? 0));
      loop.patience = improved ? 0 : loop.patience + 1;
      if (loop.patience >= options.earlyStopping.patience) earlyStopped = true;
    }
    if (bestMetric === null || better(value, bestMetric)) {
      bestMetric = value;
      bestGlobalStep = globalStep;
    }
  };

  try {
    if (args.resume_from_checkpoint !== null && args.resume_from_checkpoint !== false) {
      const dir = resolveResumeCheckpoint(args.resume_from_checkpoint, outputDir);
      const resume = await readCheckpoint(dir, rank);
      checkFingerprint(resume.loop.fingerprint, fingerprint, dir);
      await loadTrainedWeights(model, dir);
      if (options.shardOptimizer === true) pendingOptimizerState = resume.optimizer;
      else {
        optimizer.loadStateDict(resume.optimizer);
        resume.optimizer.tensors.forEach((tensor) => tensor.dispose());
      }
      scheduler.setStep(resume.schedulerStep);
      setCpuRngState(resume.rngState);
      Object.assign(loop, resume.loop);
      globalStep = resume.trainerState.global_step;
      epochValue = resume.trainerState.epoch;
      bestMetric = resume.trainerState.best_metric;
      bestGlobalStep = resume.trainerState.best_global_step;
      bestModelCheckpoint = resume.trainerState.best_model_checkpoint;
      for (const entry of resume.trainerState.log_history) history.push({ event: 'eval_loss' in entry ? 'eval' : 'step', ...entry } as StepEvent | EvalEvent);
      resumedFrom = dir;
      savedAt = globalStep;
      emit({ event: 'resume', step: globalStep, checkpoint: dir });
    }
    ddp?.broadcastParameters();
    if (ddp !== null && options.shardOptimizer === true) {
      sharded = new ShardedAdamW(optimizer, ddp.group);
      if (pendingOptimizerState !== null) {
        sharded.loadStateDict(pendingOptimizerState);
        pendingOptimizerState.tensors.forEach((tensor) => tensor.dispose());
      }
    }
    model.train();
    optimizer.zeroGrad();
    let stop = globalStep >= plan.maxSteps;
    for (; loop.epoch < plan.epochs && !stop; loop.epoch++, loop.updatesInEpoch = 0) {
      const epochOrder = options.shuffle === false ? trainExamples.map((_, index) => index) : trainerEpochOrder(trainExamples.length, args.data_seed ?? args.seed, loop.epoch);
      const order = ddp === null ? epochOrder : distributedSamplerIndices(epochOrder, rank, worldSize);
      const batches: number[][] = [];
      for (let start = 0; start < order.length; start += args.per_device_train_batch_size) batches.push(order.slice(start, start + args.per_device_train_batch_size));
      let microStep = Math.min(loop.updatesInEpoch * args.gradient_accumulation_steps, batches.length) - 1;
      for (let update = loop.updatesInEpoch; update < plan.updateStepsPerEpoch && !stop; update++) {
        // get_batch_samples: the step's micro-batches, fewer for the last step of an epoch that does not divide evenly.
        const stepBatches = batches
          .slice(update * args.gradient_accumulation_steps, (update + 1) * args.gradient_accumulation_steps)
          .map((indices) => collateFor(model, indices.map((i) => trainExamples[i]), { padTokenId: options.padTokenId, paddingFree: options.paddingFree }));
        if (stepBatches.length === 0) break;
        const localItems = stepBatches.reduce((sum, batch) => sum + supervisedTokens(model, batch), 0);
        // The loss is normalized by every rank's supervised tokens, so that summed gradients equal one big batch's.
        const items = ddp === null ? localItems : ddp.sum([localItems])[0];
        if (items === 0) throw new TunekitError(TRAIN_ERROR, `step ${globalStep + 1}: no example in the step has a supervised label (all are -100)`);
        let rankLoss = 0;
        let rankTokens = 0;
        for (const batch of stepBatches) {
          microStep++;
          const loss = backwardMicroBatch(model, batch, items, { autocast: (work) => withAutocast(args.bf16, model, work), gradientCheckpointing: args.gradient_checkpointing });
          if (ddp === null) loop.trLoss = Math.fround(loop.trLoss + loss); // Trainer._tr_loss: a float32 tensor
          else rankLoss += loss;
          rankTokens += tokensIn(batch);
        }
        if (ddp !== null) {
          // Only after the step's last micro-batch: accumulation micro-steps communicate nothing.
          if (sharded === null) ddp.allReduceGradients(); // ZeRO-1 reduce-scatters them in its step instead
          const [stepLoss, stepTokens] = ddp.sum([rankLoss, rankTokens]);
          loop.trLoss = Math.fround(loop.trLoss + stepLoss);
          rankTokens = stepTokens;
        }
        windowTokens += rankTokens;
        // Trainer._clip_grad_norm (accelerator.clip_grad_norm_ = torch's clip_grad_norm_ on the total 2-norm) when
        // max_grad_norm > 0, else Trainer._get_grad_norm: the same call with an infinite bound, which only measures.
        const maxNorm = args.max_grad_norm > 0 ? args.max_grad_norm : Infinity;
        const learningRate = optimizer.groups[0].options.lr; // _get_learning_rate before lr_scheduler.step()
        let gradNorm: number;
        if (sharded !== null) gradNorm = sharded.step(maxNorm);
        else {
          gradNorm = clipGradNorm(parameters, maxNorm);
          optimizer.step();
        }
        scheduler.step();
        optimizer.zeroGrad();
        globalStep++;
        loop.updatesInEpoch = update + 1;
        epochValue = loop.epoch + (microStep + 1) / batches.length;
        const last = globalStep >= plan.maxSteps;
        if (globalStep % loggingSteps === 0) {
          const now = performance.now();
          const event: StepEvent = {
            event: 'step',
            step: globalStep,
            epoch: epochValue,
            loss: loop.trLoss / (globalStep - loop.lastLogged),
            learning_rate: learningRate,
            grad_norm: gradNorm,
            tokens_per_second: windowTokens / Math.max((now - windowStarted) / 1000, 1e-9),
          };
          loop.totalLoss += loop.trLoss; // Trainer._total_loss_scalar: a Python float
          loop.trLoss = 0;
          loop.lastLogged = globalStep;
          windowStarted = now;
          windowTokens = 0;
          history.push(event);
          emit(event);
        }
        // DefaultFlowCallback.on_step_end: every eval_steps/save_steps, and evaluation once more at the end.
        if (args.eval_strategy === 'steps' && (globalStep % evalSteps === 0 || last)) await runEval();
        if (saving && (globalStep % saveSteps === 0 || last) && args.save_strategy === 'steps') await save();
        await yieldToEventLoop(); // lets a SIGINT handler abort options.signal
        if (options.signal?.aborted) interrupted = true;
        // A stop request reaching any rank stops them all after the same step.
        if (ddp !== null) interrupted = ddp.sum([interrupted ? 1 : 0])[0] > 0;
        if (last || earlyStopped || interrupted) stop = true;
      }
      if (interrupted) break;
      // on_epoch_end
      if (args.eval_strategy === 'epoch') await runEval();
      if (saving && args.save_strategy === 'epoch') await save({ ...loop, epoch: loop.epoch + 1, updatesInEpoch: 0 });
      if (earlyStopped) stop = true;
    }
    // An interruption, and a run's end, leave a checkpoint to resume from or to pick the best from.
    if (interrupted && outputDir !== null) await save();
    if (args.load_best_model_at_end && bestModelCheckpoint !== null && !interrupted) await loadTrainedWeights(model, bestModelCheckpoint);
    optimizerStateBytes = sharded?.stateBytes ?? [...optimizer.stateDict().tensors.values()].reduce((sum, tensor) => sum + tensor.numel * dtypeByteSize[tensor.dtype], 0);
  } finally {
    optimizer.dispose();
    sharded?.dispose();
    model.eval();
  }
  const trainLoss = globalStep > 0 ? (loop.totalLoss + loop.trLoss) / globalStep : 0;
  const done: DoneEvent = {
    event: 'done',
    global_step: globalStep,
    epoch: epochValue,
    train_loss: trainLoss,
    seconds: (performance.now() - started) / 1000,
    interrupted,
    early_stopped: earlyStopped,
    best_metric: bestMetric,
    best_model_checkpoint: bestModelCheckpoint,
    optimizer_state_bytes: optimizerStateBytes,
  };
  emit(done);
  return { globalStep, trainLoss, history, interrupted, earlyStopped, bestMetric, bestModelCheckpoint, resumedFrom, state: trainerState() };
}

