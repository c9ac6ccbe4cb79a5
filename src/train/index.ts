// Training: transformers' TrainingArguments and a train() loop equal to its Trainer, step for step.
export {
  parseTrainingArguments,
  TRAINING_ARGUMENT_DEFAULTS,
  TRAINING_ARGUMENTS_ERROR,
  type IntervalStrategy,
  type SchedulerType,
  type TrainingArguments,
} from './arguments.js';
export { MersenneTwister, torchRandperm, trainerEpochOrder } from './sampler.js';
export {
  decayParameterNames,
  train,
  trainerSchedule,
  trainingPlan,
  type DoneEvent,
  type EarlyStopping,
  type EvalEvent,
  type ResumeEvent,
  type SaveEvent,
  type StepEvent,
  type TrainEvent,
  type TrainingPlan,
  type TrainOptions,
  type TrainResult,
} from './trainer.js';
export { evaluateLoss, evaluateModel, TRAIN_ERROR, type EvaluationMetrics, type TrainExample } from './evaluation.js';
export { CHECKPOINT_ERROR, listCheckpoints, loadTrainedWeights, saveTrainedModel, TRAINER_STATE_FILE, type TrainerState } from './checkpoint.js';
export { estimateTrainingMemory, type MemoryEstimate } from './memory.js';
export { dryRunTraining, type DatasetStatistics, type DryRunReport, type RunOptions, type RunStart } from './run.js';
export { generationMetrics, type GenerationEvalOptions, type GenerationEvalResult } from './generation-eval.js';
export { adapterConfigFor, METHODS, parseConfigValue, parseRunConfig, readRunConfigFile, RUN_CONFIG_ERROR, runConfigKeys, runConfigRecords, runTraining, type RunRecords, type Method, type RunConfig, type RunResult, type RunSettings } from './run.js';
export { backwardMicroBatch, supervisedPositions, type BackwardOptions } from './loss.js';
export { BUCKET_BYTES, configHash, DataParallel, distributedSamplerIndices, gradientBuckets, processGroupFromEnvironment, workerEnvironment, type WorkerEnvironment } from './distributed.js';
