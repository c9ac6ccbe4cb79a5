/**
 * Greedy decoding throughput with a KV cache, tunekit vs transformers (same torch), on random-weight models shaped
 * like SmolLM2-135M (Llama) and FLAN-T5-small (T5), batch 1 and 8. EOS is disabled so both generate every token.
 * Prints one JSON line per case with tokens/s of each and `ratio` (tunekit ÷ transformers).
 *
 *   npm run bench:generate -- --json [--threads N] [--new-tokens N] [--prompt N] [--models llama,t5] [--batches 1,8]
 *                                     [--repeats R]   (each side: the median of R timed runs after a warm-up)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from '../src/generate/index.js';
import { architectureFor } from '../src/models/registry.js';
import type { LanguageModel } from '../src/models/types.js';
import { defaultNumThreads, getNumThreads, manualSeed, setNumThreads, torchVersion } from '../src/torch/index.js';
import { benchFlags } from './args.js';

const flags = benchFlags();
const threads = Number(flags.get('threads') ?? defaultNumThreads());
const newTokens = Number(flags.get('new-tokens') ?? 32);
const promptLength = Number(flags.get('prompt') ?? 32);
const models = String(flags.get('models') ?? 'llama,t5').split(',');
const batches = String(flags.get('batches') ?? '1,8').split(',').map(Number);
const repeats = Number(flags.get('repeats') ?? 3);
const python = process.env.PYTHON ?? 'python3';
const peer = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'peer', 'generate_bench.py');

const configs: Record<string, { kind: 'causal' | 'seq2seq'; config: Record<string, unknown> }> = {
  llama: {
    kind: 'causal',
    config: {
      model_type: 'llama', vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30,
      num_attention_heads: 9, num_key_value_heads: 3, rms_norm_eps: 1e-5, rope_theta: 100000, max_position_embeddings: 8192,
      tie_word_embeddings: true, hidden_act: 'silu', bos_token_id: 1, eos_token_id: 2,
    },
  },
  t5: {
    kind: 'seq2seq',
    config: {
      model_type: 't5', vocab_size: 32128, d_model: 512, d_ff: 1024, d_kv: 64, num_heads: 6, num_layers: 8, num_decoder_layers: 8,
      feed_forward_proj: 'gated-gelu', tie_word_embeddings: false, relative_attention_num_buckets: 32, relative_attention_max_distance: 128,
      layer_norm_epsilon: 1e-6, pad_token_id: 0, eos_token_id: 1, decoder_start_token_id: 0,
    },
  },
};

function hasTransformers(): boolean {
  return spawnSync(python, ['-c', 'import torch, transformers'], { stdio: 'ignore' }).status === 0;
}

function randomPrompt(batch: number, vocab: number): number[][] {
  let state = 12345;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) % (vocab - 3);
  return Array.from({ length: batch }, () => Array.from({ length: promptLength }, () => 3 + next()));
}

/** Median tokens/s of `repeats` timed runs after one warm-up run. */
function measureTunekit(model: LanguageModel, batch: number, vocab: number): number {
  const inputIds = randomPrompt(batch, vocab);
  const options = { maxNewTokens: newTokens, eosTokenIds: [] as number[], padTokenId: 0 };
  generate(model, { inputIds }, options);
  const rates: number[] = [];
  for (let run = 0; run < repeats; run++) {
    const start = performance.now();
    generate(model, { inputIds }, options);
    rates.push((batch * newTokens) / ((performance.now() - start) / 1000));
  }
  return rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)];
}

setNumThreads(threads);
manualSeed(0);
const withPython = hasTransformers();
for (const name of models) {
  const { kind, config } = configs[name];
  const model = architectureFor({ values: config, source: `bench ${name}` }).create({ values: config, source: `bench ${name}` }, {});
  model.eval();
  for (const batch of batches) {
    const ours = measureTunekit(model, batch, config.vocab_size as number);
    let theirs: { tokens_per_s: number; peak_rss_mb: number; transformers: string } | null = null;
    if (withPython) {
      const spec = { kind, config, batch, prompt: promptLength, new: newTokens, threads, repeats };
      theirs = JSON.parse(execFileSync(python, [peer, JSON.stringify(spec)], { encoding: 'utf8' }).trim().split('\n').pop() as string);
    }
    console.log(
      JSON.stringify({
        bench: 'generate',
        model: name === 'llama' ? 'SmolLM2-135M-shaped llama (random weights)' : 'FLAN-T5-small-shaped t5 (random weights)',
        batch,
        promptTokens: promptLength,
        newTokens,
        repeats,
        threads: getNumThreads(),
        libtorch: torchVersion(),
        tunekit_tokens_per_s: Number(ours.toFixed(2)),
        transformers_tokens_per_s: theirs === null ? null : Number(theirs.tokens_per_s.toFixed(2)),
        transformers_version: theirs?.transformers ?? null,
        ratio: theirs === null ? null : Number((ours / theirs.tokens_per_s).toFixed(3)),
        note: theirs === null ? `${python} lacks torch+transformers: transformers side skipped` : undefined,
      }),
    );
  }
  model.dispose();
}
