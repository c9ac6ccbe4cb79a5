export * from './torch/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * from './models/index.js';
export * from './generate/index.js';
export * from './tokenize/index.js';
export * as metrics from './metrics/index.js';
export * from './io/safetensors.js';
export * from './io/sharded.js';
export * from './io/atomic.js';
export * from './io/half-float.js';
export * from './io/tensors.js';
export * from './io/model-folder.js';
export {
  hubDownload,
  hubFileExists,
  hubRepoInfo,
  snapshotDownload,
  resolveModelSource,
  resolveAdapterSource,
  type HubOptions,
  type HubProgress,
  type ModelSourceOptions,
} from './io/hub.js';
export { Progress, type ProgressOptions } from './train/progress.js';
export { TunekitError } from './errors.js';
export * from './io/destination.js';
