/**
 * QLoRA's memory claim and cost: base-weight bytes in NF4 (double-quantized scales included) vs float32, the
 * logit error of the quantized model vs the float model on a fixed batch, and the forward time of both.
 *
 *   npm run bench:qlora -- --json [--model DIR]   (default: ../shared/reference/models/stories260K, else a random
 *                                                  SmolLM2-shaped Llama)
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModelFromFolder } from '../src/models/load.js';
import { architectureFor } from '../src/models/registry.js';
import type { CausalLM, LanguageModel } from '../src/models/types.js';
import * as F from '../src/nn/functional.js';
import { quantizeModel } from '../src/peft/index.js';
import { getNumThreads, manualSeed, noGrad, randint, Tensor, tidy } from '../src/torch/index.js';
import { benchFlags } from './args.js';

const flags = benchFlags();
const here = path.dirname(fileURLToPath(import.meta.url));
const stories = path.resolve(here, '..', '..', '..', 'shared', 'reference', 'models', 'stories260K');
const folder = typeof flags.get('model') === 'string' ? (flags.get('model') as string) : existsSync(stories) ? stories : null;

async function loadSubject(): Promise<{ model: LanguageModel; name: string }> {
  if (folder !== null) return { model: await loadModelFromFolder(folder), name: folder };
  const values = { model_type: 'llama', vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, rms_norm_eps: 1e-5, tie_word_embeddings: true };
  const config = { values, source: 'bench' };
  return { model: architectureFor(config).create(config, {}), name: 'SmolLM2-135M-shaped llama (random weights)' };
}

manualSeed(0);
const { model, name } = await loadSubject();
const causal = model as CausalLM;
const ids = randint(3, causal.config.vocabSize, [4, 64]).keep();
const time = (fn: () => Tensor): { logits: Tensor; ms: number } => {
  noGrad(() => tidy(() => fn()).dispose());
  const start = performance.now();
  const logits = noGrad(() => tidy(() => fn()));
  return { logits: logits.keep(), ms: performance.now() - start };
};
const float = time(() => causal.forward(ids));
const report = quantizeModel(model);
const quantized = time(() => causal.forward(ids));
const crossEntropy = (logits: Tensor) =>
  tidy(() => F.crossEntropy(logits.narrow(1, 0, 63).reshape([-1, causal.config.vocabSize]), ids.narrow(1, 1, 63).reshape([-1])).item());
const errors = tidy(() => {
  const difference = quantized.logits.sub(float.logits);
  return {
    maxAbs: difference.abs().amax().item(),
    relativeRms: difference.square().mean().sqrt().div(float.logits.square().mean().sqrt()).item(),
    top1Agreement: quantized.logits.argmax(-1).eq(float.logits.argmax(-1)).float().mean().item(),
  };
});
console.log(
  JSON.stringify({
    bench: 'qlora',
    model: name,
    threads: getNumThreads(),
    quantizedLayers: report.layers,
    quantizedParameters: report.parameters,
    float32_bytes: report.float32Bytes,
    nf4_bytes: report.nf4Bytes,
    ratio: Number((report.nf4Bytes / report.float32Bytes).toFixed(4)),
    bits_per_parameter: Number(report.bitsPerParameter.toFixed(3)),
    logits_max_abs_error: Number(errors.maxAbs.toFixed(5)),
    logits_relative_rms_error: Number(errors.relativeRms.toFixed(5)),
    top1_agreement: Number(errors.top1Agreement.toFixed(4)),
    float_forward_ms: Number(float.ms.toFixed(1)),
    nf4_forward_ms: Number(quantized.ms.toFixed(1)),
    cross_entropy_on_batch: { float: Number(crossEntropy(float.logits).toFixed(5)), nf4: Number(crossEntropy(quantized.logits).toFixed(5)) },
  }),
);
