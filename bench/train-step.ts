/**
 * Training-step throughput of the same GPT in tunekit and in Python PyTorch (the torch tunekit links), alternating
 * runs in one session. Prints one JSON line with steps/s of each, the ratio tunekit ÷ PyTorch, threads and peak RSS.
 *
 *   npm run bench:train-step -- --json [--threads N] [--steps N] [--rounds N]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MiniGPT } from '../src/models/mini-gpt.js';
import { AdamW } from '../src/optim/index.js';
import { defaultNumThreads, getNumThreads, manualSeed, randint, setNumThreads, Tensor, tidy, torchVersion } from '../src/torch/index.js';
import { benchFlags } from './args.js';

const flags = benchFlags();
const threads = Number(flags.get('threads') ?? defaultNumThreads());
const steps = Number(flags.get('steps') ?? 20);
const rounds = Number(flags.get('rounds') ?? 3);
const warmup = 3;
const batch = 8;
const config = { vocabSize: 1000, dModel: 256, numHeads: 4, numLayers: 4, maxPositions: 128 };
const json = flags.has('json');
const python = process.env.PYTHON ?? 'python3';
const peer = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'peer', 'train_step_bench.py');

setNumThreads(threads);
manualSeed(0);
const model = new MiniGPT(config);
const optimizer = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.01 });
const batches = Array.from({ length: 4 }, () => randint(0, config.vocabSize, [batch, config.maxPositions + 1]).keep());

function trainStep(i: number): void {
  tidy(() => {
    // The inner scope frees forward intermediates before backward (autograd keeps what it needs), as Python's
    // reference counting does.
    const loss = tidy(() => model.loss(batches[i % batches.length] as Tensor));
    loss.backward();
    loss.item();
    return undefined;
  });
  optimizer.step();
  optimizer.zeroGrad();
}

function measureTunekit(): number {
  for (let i = 0; i < warmup; i++) trainStep(i);
  const start = performance.now();
  for (let i = 0; i < steps; i++) trainStep(i);
  return steps / ((performance.now() - start) / 1000);
}

function hasPythonTorch(): boolean {
  return spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

function measurePytorch(): { steps_per_s: number; peak_rss_mb: number; torch: string } {
  const spec = { config, batch, steps, warmup, threads, fused: true };
  const out = execFileSync(python, [peer, JSON.stringify(spec)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop() as string);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const withPython = hasPythonTorch();
const ours: number[] = [];
const theirs: number[] = [];
let pythonRssMb = 0;
let pythonTorch = '';
for (let round = 0; round < rounds; round++) {
  ours.push(measureTunekit());
  if (withPython) {
    const result = measurePytorch();
    theirs.push(result.steps_per_s);
    pythonRssMb = Math.max(pythonRssMb, result.peak_rss_mb);
    pythonTorch = result.torch;
  }
  if (!json) console.error(`round ${round + 1}/${rounds}: tunekit ${ours.at(-1)?.toFixed(2)} steps/s${withPython ? `, PyTorch ${theirs.at(-1)?.toFixed(2)} steps/s` : ''}`);
}
const tunekitStepsPerS = median(ours);
const result = {
  bench: 'train-step',
  model: { ...config, batch, optimizer: 'AdamW' },
  threads: getNumThreads(),
  libtorch: torchVersion(),
  rounds,
  stepsPerRound: steps,
  tunekit_steps_per_s: Number(tunekitStepsPerS.toFixed(3)),
  tunekit_peak_rss_mb: Number((process.resourceUsage().maxRSS / 1024).toFixed(1)),
  pytorch_steps_per_s: withPython ? Number(median(theirs).toFixed(3)) : null,
  pytorch_peak_rss_mb: withPython ? Number(pythonRssMb.toFixed(1)) : null,
  pytorch_version: withPython ? pythonTorch : null,
  ratio: withPython ? Number((tunekitStepsPerS / median(theirs)).toFixed(3)) : null,
  note: withPython ? undefined : `${python} has no torch: PyTorch side skipped (pip install torch)`,
};
console.log(JSON.stringify(result));
