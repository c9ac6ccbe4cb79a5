/**
 * Data parallel throughput and memory: the same global batch trained by 1 process × 2 threads and by 2 processes ×
 * 1 thread (`tunekit train --nproc 2`, c10d/Gloo over loopback), tokens/s of each and their ratio; and each rank's
 * AdamW state with and without --shard-optimizer (ZeRO-1), with their ratio. The model is a Llama the bench builds.
 *
 *   npm run bench:ddp -- --json [--steps N] [--hidden N] [--layers N]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { distributedAvailable, LlamaForCausalLM, manualSeed, parseLlamaConfig, saveModel } from '../src/index.js';
import { writeCharTokenizer } from '../test/helpers/char-tokenizer.js';
import { benchFlags } from './args.js';

const flags = benchFlags();
const json = flags.has('json');
const steps = Number(flags.get('steps') ?? 20);
const hidden = Number(flags.get('hidden') ?? 256);
const layers = Number(flags.get('layers') ?? 4);
const globalBatch = 8;
const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

if (!distributedAvailable()) {
  console.log(JSON.stringify({ bench: 'ddp', error: "the addon was built without c10d: install libgloo-dev and rebuild (node native/build.mjs)" }));
  process.exit(1);
}

const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-bench-ddp-'));
const values = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 128, hidden_size: hidden, intermediate_size: Math.round((hidden * 8) / 3),
  num_hidden_layers: layers, num_attention_heads: 4, num_key_value_heads: 4, head_dim: hidden / 4, max_position_embeddings: 512,
  rms_norm_eps: 1e-5, hidden_act: 'silu', bos_token_id: 1, eos_token_id: 1, pad_token_id: 0, tie_word_embeddings: false, dtype: 'float32',
  rope_parameters: { rope_theta: 10000.0, rope_type: 'default' },
};
manualSeed(0);
const model = new LlamaForCausalLM(parseLlamaConfig({ values, source: 'the bench model' }));
const modelDir = path.join(scratch, 'model');
await saveModel(model, modelDir, { config: values });
model.dispose();
writeCharTokenizer(modelDir);
const words = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'and', 'dog', 'ran', 'far', 'away', 'home'];
const records = Array.from({ length: 256 }, (_, i) => ({
  prompt: Array.from({ length: 24 }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' '),
  completion: ' ' + Array.from({ length: 16 }, (_, j) => words[(i + j) % words.length]).join(' '),
}));
writeFileSync(path.join(scratch, 'train.jsonl'), records.map((record) => JSON.stringify(record)).join('\n') + '\n');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

interface Measured {
  tokens_per_s: number;
  optimizer_state_bytes: number;
  seconds: number;
}

async function run(name: string, threads: number, extra: string[]): Promise<Measured> {
  const args = [cli, 'train', '--model', modelDir, '--method', 'full', '--dataset', 'train.jsonl', '--output-dir', name, '--max-steps', String(steps), '--logging-steps', '1', '--save-strategy', 'no', '--json', ...extra];
  const result = spawnSync(process.execPath, args, { cwd: scratch, encoding: 'utf8', env: { ...process.env, TUNEKIT_THREADS: String(threads) }, maxBuffer: 64 * 2 ** 20 });
  if (result.status !== 0) throw new Error(`${name} failed (${result.status}): ${result.stderr}`);
  const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, number | string>);
  // The first steps warm up allocators and the Gloo pairs.
  const rates = events.filter((event) => event.event === 'step').slice(2).map((event) => event.tokens_per_second as number).sort((a, b) => a - b);
  const done = events.find((event) => event.event === 'done')!;
  if (!json) console.error(`${name}: ${rates[Math.floor(rates.length / 2)].toFixed(0)} tokens/s`);
  return { tokens_per_s: rates[Math.floor(rates.length / 2)], optimizer_state_bytes: done.optimizer_state_bytes as number, seconds: done.seconds as number };
}

try {
  const single = await run('one', 2, ['--per-device-train-batch-size', String(globalBatch)]);
  const ddp = await run('two', 1, ['--per-device-train-batch-size', String(globalBatch / 2), '--nproc', '2', '--master-port', String(await freePort())]);
  const zero = await run('zero', 1, ['--per-device-train-batch-size', String(globalBatch / 2), '--nproc', '2', '--master-port', String(await freePort()), '--shard-optimizer']);
  const round = (value: number, digits = 3) => Number(value.toFixed(digits));
  console.log(
    JSON.stringify({
      bench: 'ddp',
      model: { hidden_size: hidden, layers, vocab: 128, global_batch: globalBatch, steps },
      one_process_two_threads_tokens_per_s: round(single.tokens_per_s, 1),
      two_processes_one_thread_tokens_per_s: round(ddp.tokens_per_s, 1),
      ratio_ddp_over_single: round(ddp.tokens_per_s / single.tokens_per_s),
      optimizer_state_bytes_per_rank: ddp.optimizer_state_bytes,
      optimizer_state_bytes_per_rank_sharded: zero.optimizer_state_bytes,
      ratio_sharded_over_unsharded: round(zero.optimizer_state_bytes / ddp.optimizer_state_bytes),
      zero_tokens_per_s: round(zero.tokens_per_s, 1),
      pytorch_ddp: null,
      note: 'the PyTorch DDP (torchrun) comparison is not measured by this bench yet',
    }),
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
