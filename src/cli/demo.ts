import { arange, getNumThreads, manualSeed, memory, MiniGPT, optim, randint, setNumThreads, type Tensor, tidy, torchVersion } from '../index.js';
import { Progress } from './progress.js';
import { flagBoolean, flagNumber, noExtraPositionals, parseArgs } from './args.js';
import type { Verb } from './verb.js';

/**
 * Counting sequences with a hidden stride: start s and stride d in 1..3, tokens s, s+d, s+2d, … (mod vocab). The
 * model must infer d from context, so the loss falls from ln(vocab) towards 0 as it learns.
 */
export function countingBatch(batchSize: number, length: number, vocabSize: number): Tensor {
  return tidy(() => {
    const starts = randint(0, vocabSize, [batchSize, 1]);
    const strides = randint(1, 4, [batchSize, 1]);
    return starts.add(strides.mul(arange(length).unsqueeze(0))).remainder(vocabSize);
  });
}

export interface DemoOptions {
  steps: number;
  seed: number;
  json: boolean;
  threads?: number;
}

export interface DemoResult {
  firstLoss: number;
  lastLoss: number;
  steps: number;
  seconds: number;
}

export function runDemo(options: DemoOptions): DemoResult {
  if (options.threads !== undefined) setNumThreads(options.threads);
  manualSeed(options.seed);
  const config = { vocabSize: 64, dModel: 64, numHeads: 4, numLayers: 2, maxPositions: 32 };
  const model = new MiniGPT(config);
  const optimizer = new optim.AdamW(model.parameters(), { lr: 3e-3, weightDecay: 0.01 });
  const scheduler = new optim.LRScheduler(optimizer, optim.cosineSchedule({ warmupSteps: 10, totalSteps: options.steps }));
  const progress = new Progress({ total: options.steps, label: 'demo', unit: 'step', json: options.json, stream: process.stderr });
  const log = (record: object) => process.stdout.write(JSON.stringify(record) + '\n');
  if (progress.isJson || options.json) log({ event: 'start', torch: torchVersion(), threads: getNumThreads(), model: config, parameters: model.parameterCount().total });
  else console.log(`tunekit demo: a ${model.parameterCount().total}-parameter GPT learns counting sequences (libtorch ${torchVersion()}, ${getNumThreads()} threads)`);
  const startMs = performance.now();
  let firstLoss = NaN;
  let lastLoss = NaN;
  for (let step = 1; step <= options.steps; step++) {
    const loss = tidy(() => {
      const value = tidy(() => model.loss(countingBatch(16, config.maxPositions, config.vocabSize)));
      value.backward();
      return value.item();
    });
    optim.clipGradNorm(model.parameters(), 1.0);
    optimizer.step();
    optimizer.zeroGrad();
    scheduler.step();
    if (step === 1) firstLoss = loss;
    lastLoss = loss;
    progress.update(step, { loss });
    if (!progress.isJson && (step === 1 || step % 25 === 0)) process.stdout.write(`\rstep ${String(step).padStart(4)}  loss ${loss.toFixed(4)}\x1b[K\n`);
  }
  progress.finish();
  const seconds = (performance.now() - startMs) / 1000;
  const result = { firstLoss, lastLoss, steps: options.steps, seconds };
  if (progress.isJson || options.json) log({ event: 'done', ...result, liveTensors: memory().liveTensors });
  else console.log(`loss ${firstLoss.toFixed(3)} → ${lastLoss.toFixed(3)} in ${options.steps} steps, ${seconds.toFixed(1)} s`);
  optimizer.dispose();
  model.dispose();
  return result;
}

export const demoVerb: Verb = {
  name: 'demo',
  summary: 'train a tiny GPT on generated counting data for a few seconds (offline, no downloads)',
  help: [
    'usage: tunekit demo [--steps N] [--seed S] [--threads T] [--json]',
    '',
    'Trains a small GPT defined in code on generated sequences and prints its falling loss.',
    '  --steps N     optimizer steps (default 200)',
    '  --seed S      random seed (default 0)',
    '  --threads T   libtorch threads (default: TUNEKIT_THREADS or the cores available)',
    '  --json        JSON lines on stdout instead of text',
  ].join('\n'),
  async run(argv) {
    const args = parseArgs(argv, { steps: 'value', seed: 'value', threads: 'value', json: 'switch' });
    noExtraPositionals(args);
    const threads = flagNumber(args, 'threads', { integer: true, min: 1, max: 1024 });
    const steps = flagNumber(args, 'steps', { integer: true, min: 1, max: 1_000_000 }) ?? 200;
    const result = runDemo({ steps, seed: flagNumber(args, 'seed', { integer: true, min: 0 }) ?? 0, json: flagBoolean(args, 'json'), threads });
    return result.lastLoss < result.firstLoss ? 0 : 1;
  },
};
