/**
 * Fine-tuning throughput and peak memory: tunekit's train() against transformers + PEFT on the same torch, in the
 * same run, on a SmolLM2-135M-shaped Llama and a FLAN-T5-small-shaped T5 (random weights written once by the peer,
 * loaded by both), full fine-tuning and LoRA (r 8, alpha 16, q and v), the same fixed instruction batches with the
 * prompt half masked (-100). Each measurement runs in its own process, so its peak RSS is its own.
 *
 *   npm run bench:finetune -- --json [--threads N] [--steps N] [--warmup N] [--shapes smollm2-135m,flan-t5-small]
 *                                     [--methods lora,full] [--batch B] [--length L] [--gradient-checkpointing]
 *
 * Prints one JSON object: `ratio` is tunekit ÷ peer tokens/s for LoRA on the Llama shape; `runs` has every figure
 * (tokens/s, s/step, peak RSS in MiB and their ratios, and the first-step losses of both, which must agree).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getPeftModel, loadModelFromFolder, loraConfig, manualSeed, setNumThreads, train, type LanguageModel, type TrainEvent } from '../src/index.js';
import { benchFlags } from './args.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.join(here, '..', '..');
const peer = path.join(repo, 'bench', 'peer', 'finetune_peer.py');
const outDir = path.join(repo, 'bench', 'out', 'finetune');
const python = process.env.PYTHON ?? 'python3';

interface Spec {
  shape: string;
  model: string;
  seq2seq: boolean;
  method: 'full' | 'lora';
  threads: number;
  steps: number;
  warmup: number;
  lr: number;
  r: number;
  alpha: number;
  targets: string[];
  /** Both sides (decoder-only shapes only). */
  gradient_checkpointing: boolean;
  batches: { input_ids: number[][]; labels: number[][] }[];
}

interface Measured {
  tokens_per_second: number;
  seconds_per_step: number;
  peak_rss_mb: number;
  losses: number[];
}

/** Deterministic token ids (a 32-bit LCG), never the special ids 0–3. */
function tokenStream(seed: number, vocab: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return 4 + (state % (vocab - 4));
  };
}

/** Causal: prompt then completion, the prompt's labels -100. Seq2seq: the prompt is the input, the completion the target. */
function fixedBatches(seq2seq: boolean, vocab: number, batch: number, length: number): Spec['batches'] {
  const next = tokenStream(7, vocab);
  return Array.from({ length: 2 }, () => {
    const input_ids: number[][] = [];
    const labels: number[][] = [];
    for (let row = 0; row < batch; row++) {
      const prompt = Array.from({ length: length / 2 }, next);
      const completion = Array.from({ length: length / 2 }, next);
      if (seq2seq) {
        input_ids.push(prompt);
        labels.push(completion);
      } else {
        input_ids.push([...prompt, ...completion]);
        labels.push([...prompt.map(() => -100), ...completion]);
      }
    }
    return { input_ids, labels };
  });
}

function tokensPerStep(spec: Spec): number {
  const first = spec.batches[0];
  return first.input_ids.flat().length + (spec.seq2seq ? first.labels.flat().length : 0);
}

/** One measurement of tunekit, in this (child) process. */
async function measureOurs(spec: Spec): Promise<Measured> {
  setNumThreads(spec.threads);
  manualSeed(0);
  const base = await loadModelFromFolder(spec.model);
  let model: LanguageModel = base;
  if (spec.method === 'lora') model = getPeftModel(base, loraConfig({ r: spec.r, loraAlpha: spec.alpha, targetModules: spec.targets, loraDropout: 0, taskType: spec.seq2seq ? 'SEQ_2_SEQ_LM' : 'CAUSAL_LM' }));
  else base.unfreeze();
  // Each batch's rows as examples in order, one optimizer step per batch.
  const examples = spec.batches.flatMap((batch) => batch.input_ids.map((ids, row) => ({ input_ids: ids, labels: batch.labels[row] })));
  const rows = spec.batches[0].input_ids.length;
  const repeated = Array.from({ length: spec.warmup + spec.steps }, (_, step) => examples.slice((step % spec.batches.length) * rows, (step % spec.batches.length + 1) * rows)).flat();
  const stamps: number[] = [];
  const losses: number[] = [];
  stamps.push(performance.now());
  await train(model, repeated, { max_steps: spec.warmup + spec.steps, per_device_train_batch_size: rows, learning_rate: spec.lr, logging_steps: 1, save_strategy: 'no', max_grad_norm: 1, gradient_checkpointing: spec.gradient_checkpointing }, {
    padTokenId: 0,
    shuffle: false,
    onEvent: (event: TrainEvent) => {
      if (event.event !== 'step') return;
      stamps.push(performance.now());
      losses.push(event.loss);
    },
  });
  const seconds = (stamps[stamps.length - 1] - stamps[spec.warmup]) / 1000;
  return {
    tokens_per_second: (tokensPerStep(spec) * spec.steps) / seconds,
    seconds_per_step: seconds / spec.steps,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    losses,
  };
}

function measureInChild(spec: Spec, who: 'ours' | 'peer'): Measured {
  const specFile = path.join(outDir, `spec-${spec.shape}-${spec.method}.json`);
  writeFileSync(specFile, JSON.stringify(spec));
  const command = who === 'ours' ? process.execPath : python;
  const args = who === 'ours' ? [fileURLToPath(import.meta.url), '--worker', specFile] : [peer, 'train', specFile];
  const output = execFileSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, OMP_NUM_THREADS: String(spec.threads) } });
  return JSON.parse(output.trim().split('\n').pop() as string) as Measured;
}

const SHAPES: Record<string, { seq2seq: boolean; vocab: number; targets: string[] }> = {
  'smollm2-135m': { seq2seq: false, vocab: 49152, targets: ['q_proj', 'v_proj'] },
  'flan-t5-small': { seq2seq: true, vocab: 32128, targets: ['q', 'v'] },
};

async function main(): Promise<void> {
  const flags = benchFlags();
  if (flags.has('worker')) {
    const spec = JSON.parse((await import('node:fs')).readFileSync(flags.get('worker') as string, 'utf8')) as Spec;
    console.log(JSON.stringify(await measureOurs(spec)));
    return;
  }
  const threads = Number(flags.get('threads') ?? 2);
  const steps = Number(flags.get('steps') ?? 4);
  const warmup = Number(flags.get('warmup') ?? 1);
  const batch = Number(flags.get('batch') ?? 4);
  const length = Number(flags.get('length') ?? 128);
  const shapes = String(flags.get('shapes') ?? 'smollm2-135m,flan-t5-small').split(',');
  const methods = String(flags.get('methods') ?? 'lora,full').split(',') as ('lora' | 'full')[];
  const checkpointing = flags.has('gradient-checkpointing');
  mkdirSync(outDir, { recursive: true });
  const runs: Record<string, unknown>[] = [];
  for (const shape of shapes) {
    const facts = SHAPES[shape];
    if (facts === undefined) throw new Error(`unknown shape ${shape}; known: ${Object.keys(SHAPES).join(', ')}`);
    const model = path.join(outDir, shape);
    if (!existsSync(path.join(model, 'config.json'))) execFileSync(python, [peer, 'make', shape, model], { stdio: 'inherit' });
    for (const method of methods) {
      const spec: Spec = { shape, model, seq2seq: facts.seq2seq, method, threads, steps, warmup, lr: method === 'lora' ? 1e-3 : 1e-5, r: 8, alpha: 16, targets: facts.targets, gradient_checkpointing: checkpointing && !facts.seq2seq, batches: fixedBatches(facts.seq2seq, facts.vocab, batch, length) };
      const ours = measureInChild(spec, 'ours');
      const theirs = measureInChild(spec, 'peer');
      runs.push({
        shape,
        method,
        gradient_checkpointing: spec.gradient_checkpointing,
        tokens_per_step: tokensPerStep(spec),
        tunekit: ours,
        peer: theirs,
        speed_ratio: ours.tokens_per_second / theirs.tokens_per_second,
        memory_ratio: ours.peak_rss_mb / theirs.peak_rss_mb,
        first_loss_relative_difference: Math.abs(ours.losses[0] - theirs.losses[0]) / Math.abs(theirs.losses[0]),
      });
      if (!flags.has('json')) console.error(`${shape} ${method}: ${(ours.tokens_per_second).toFixed(0)} vs ${(theirs.tokens_per_second).toFixed(0)} tokens/s, ${ours.peak_rss_mb.toFixed(0)} vs ${theirs.peak_rss_mb.toFixed(0)} MiB`);
    }
  }
  const headline = runs.find((run) => run.shape === 'smollm2-135m' && run.method === 'lora') ?? runs[0];
  const result = { bench: 'finetune', gradient_checkpointing: checkpointing, threads, steps, warmup, batch, length, ratio: headline.speed_ratio, memory_ratio: headline.memory_ratio, runs };
  console.log(JSON.stringify(flags.has('json') ? result : result, null, flags.has('json') ? undefined : 2));
}

await main();
