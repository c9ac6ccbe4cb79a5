export { AdamW, type AdamWOptions } from './adamw.js';
export { SGD, type SGDOptions } from './sgd.js';
export { clipGradNorm } from './clip.js';
export { LRScheduler, constantSchedule, linearSchedule, cosineSchedule, type Schedule } from './schedule.js';
export type { Optimizer, OptimizerState, ParamGroup } from './optimizer.js';
