import { arange, getNumThreads, LlamaForCausalLM, manualSeed, memory, parseLlamaConfig, randint, setNumThreads, type Tensor, tidy, torchVersion, train } from '../index.js';
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

/** A two-layer Llama defined in code (random weights, seeded). */
function demoModel(): LlamaForCausalLM {
  const values = {
    model_type: 'llama', vocab_size: 64, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 4, max_position_embeddings: 32, rms_norm_eps: 1e-5, tie_word_embeddings: false, bos_token_id: 0, eos_token_id: 1,
  };
  return new LlamaForCausalLM(parseLlamaConfig({ values, source: 'the demo model' }));
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  if (options.threads !== undefined) setNumThreads(options.threads);
  manualSeed(options.seed);
  const model = demoModel();
  const batchSize = 16;
  const length = 32;
  const examples = countingBatch(batchSize * options.steps, length, model.config.vocabSize).toArray() as number[][];
  const progress = new Progress({ total: options.steps, label: 'demo', unit: 'step', json: options.json, stream: process.stderr });
  const log = (record: object) => process.stdout.write(JSON.stringify(record) + '\n');
  const parameters = model.parameterCount().total;
  if (progress.isJson || options.json) log({ event: 'start', torch: torchVersion(), threads: getNumThreads(), model: 'llama', parameters });
  else console.log(`tunekit demo: a ${parameters}-parameter Llama learns counting sequences (libtorch ${torchVersion()}, ${getNumThreads()} threads)`);
  const startMs = performance.now();
  let firstLoss = NaN;
  let lastLoss = NaN;
  model.unfreeze();
  await train(
    model,
    examples.map((ids) => ({ input_ids: ids })),
    { max_steps: options.steps, per_device_train_batch_size: batchSize, learning_rate: 3e-3, weight_decay: 0.01, warmup_steps: 10, lr_scheduler_type: 'cosine', logging_steps: 1, seed: options.seed, save_strategy: 'no' },
    {
      padTokenId: 0,
      onEvent: (event) => {
        if (event.event !== 'step') return;
        if (event.step === 1) firstLoss = event.loss;
        lastLoss = event.loss;
        progress.update(event.step, { loss: event.loss });
        if (!progress.isJson && (event.step === 1 || event.step % 25 === 0)) process.stdout.write(`\rstep ${String(event.step).padStart(4)}  loss ${event.loss.toFixed(4)}\x1b[K\n`);
      },
    },
  );
  progress.finish();
  const seconds = (performance.now() - startMs) / 1000;
  const result = { firstLoss, lastLoss, steps: options.steps, seconds };
  if (progress.isJson || options.json) log({ event: 'done', ...result, liveTensors: memory().liveTensors });
  else console.log(`loss ${firstLoss.toFixed(3)} → ${lastLoss.toFixed(3)} in ${options.steps} steps, ${seconds.toFixed(1)} s`);
  model.dispose();
  return result;
}

export const demoVerb: Verb = {
  name: 'demo',
  summary: 'train a tiny Llama on generated counting data for a few seconds (offline, no downloads)',
  help: [
    'usage: tunekit demo [--steps N] [--seed S] [--threads T] [--json]',
    '',
    'Trains a small Llama defined in code on generated sequences with train() and prints its falling loss.',
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
    const result = await runDemo({ steps, seed: flagNumber(args, 'seed', { integer: true, min: 0 }) ?? 0, json: flagBoolean(args, 'json'), threads });
    return result.lastLoss < result.firstLoss ? 0 : 1;
  },
};
