// The public API, grouped as the layers are (each layer imports only the ones listed before it).
export { TunekitError } from './errors.js';
export { editDistance, nearestName } from './nearest.js';

// metrics: ROUGE, BLEU, chrF and significance, pure TypeScript.
export * as metrics from './metrics/index.js';

// torch: tensors over libtorch; nn: modules and layers; optim: optimizers and schedules.
export * from './torch/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';

// io: safetensors, model folders, the hub, atomic writes and destinations.
export * from './io/safetensors.js';
export * from './io/sharded.js';
export * from './io/atomic.js';
export * from './io/destination.js';
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

// report: comparison results as JSON, Markdown and self-contained HTML with SVG plots (plain data, no tensors).
export * as report from './report/index.js';

// tokenize: tokenizer.json and chat templates.
export * from './tokenize/index.js';

// models: the one model interface and its architectures; peft: methods, adapters, PEFT format, GGUF export.
export * from './models/index.js';
export * from './peft/index.js';

// generate: decoding for any model, with or without adapters.
export * from './generate/index.js';

// data: sources, templates, splits, mixtures, and tokenization, collation and packing as TRL does them.
export * from './data/index.js';

// train: TrainingArguments and a train() loop equal to transformers' Trainer.
export * from './train/index.js';

// evaluate: lm-evaluation-harness tasks, requests, metrics and results layout.
export * as evaluate from './evaluate/index.js';

// demo: `tunekit demo`'s whole pipeline as one call.
export * as demo from './demo/index.js';
export type { DemoEvent, DemoMethod, DemoSystemResult } from './demo/index.js';

// serve: the OpenAI-compatible server.
export * from './serve/index.js';
