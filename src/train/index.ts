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
  evaluateLoss,
  train,
  TRAIN_ERROR,
  trainerSchedule,
  trainingPlan,
  type DoneEvent,
  type EvalEvent,
  type StepEvent,
  type TrainEvent,
  type TrainExample,
  type TrainingPlan,
  type TrainOptions,
  type TrainResult,
} from './trainer.js';
export { METHODS, parseConfigValue, parseRunConfig, readRunConfigFile, RUN_CONFIG_ERROR, runConfigKeys, runTraining, type Method, type RunConfig, type RunResult, type RunSettings } from './run.js';
