// The demo layer: `tunekit demo`'s pipeline (base model, data, baselines, fine-tuning, comparison, report) as a
// library call, above train and evaluate and below the CLI.
export { DEMO_BASE_RECIPE, demoBaseDir, demoBaseModel, tunekitCacheDir, type DemoBase } from './base-model.js';
export { DEMO_METHODS, runDemoPipeline, type DemoEvent, type DemoMethod, type DemoOptions, type DemoRun, type DemoSystemResult } from './pipeline.js';
export { runDemo, type DemoOutcome, type DemoRunOptions } from './run.js';
