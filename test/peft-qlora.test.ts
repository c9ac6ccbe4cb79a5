import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadModelFromFolder } from '../src/models/load.js';
import type { CausalLM } from '../src/models/types.js';
import { PeftModel, quantizeModel, requantizeLayers } from '../src/peft/index.js';
import { ProjectionLayer } from '../src/nn/layers.js';
import * as F from '../src/nn/functional.js';
import { AdamW } from '../src/optim/index.js';
import { linspace, manualSeed, NF4Tensor, nf4Levels, randn, tensor, Tensor, tidy } from '../src/torch/index.js';
import { loraConfig } from './helpers/peft-configs.js';
import { hasShared, sharedDir } from './helpers/paths.js';

/** Φ(x) from the series of erf, accurate to double precision for |x| < 4. */
function normalCdf(x: number): number {
  const z = x / Math.SQRT2;
  let term = z;
  let sum = z;
  for (let n = 1; n < 200; n++) {
    term *= (-z * z) / n;
    sum += term / (2 * n + 1);
  }
  return 0.5 * (1 + (2 / Math.sqrt(Math.PI)) * sum);
}

/** Φ⁻¹(p) by bisection. */
function normalQuantile(p: number): number {
  let low = -8;
  let high = 8;
  for (let i = 0; i < 200; i++) {
    const middle = (low + high) / 2;
    if (normalCdf(middle) < p) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}

/**
 * NF4 as the QLoRA paper builds it: quantiles of N(0,1) for 8 positive and 7 negative levels plus an exact zero,
 * the outermost probability halfway between the 15- and 16-level choices, normalized to [-1, 1].
 */
function derivedNf4Levels(): number[] {
  const offset = (1 - 1 / (2 * 15) + (1 - 1 / (2 * 16))) / 2;
  const spaced = (count: number) => Array.from({ length: count }, (_, i) => offset + ((0.5 - offset) * i) / (count - 1)).slice(0, -1);
  const positive = spaced(9).map(normalQuantile);
  const negative = spaced(8).map((p) => -normalQuantile(p));
  const all = [...positive, 0, ...negative].sort((a, b) => a - b);
  const maximum = Math.max(...all.map(Math.abs));
  return all.map((v) => v / maximum);
}

describe('NF4 (QLoRA 4-bit NormalFloat)', () => {
  it('the code book equals the one derived from the paper\'s quantile construction', () => {
    const derived = derivedNf4Levels();
    const levels = nf4Levels();
    assert.equal(levels.length, 16);
    levels.forEach((level, i) => assert.ok(Math.abs(level - derived[i]) < 2e-6, `level ${i}: ${level} vs ${derived[i]}`));
  });

  it('quantize/dequantize a fixed tensor gives the nearest level times the block absmax', () => {
    // One block of 64 values in [-2, 2]: the double-quantized absmax of a single block is exact (offset = absmax).
    const values = tidy(() => linspace(-2, 2, 64).keep());
    const quantized = NF4Tensor.quantize(values);
    const restored = quantized.dequantize().toFlatArray();
    const levels = nf4Levels();
    values.toFlatArray().forEach((value, i) => {
      const normalized = value / 2;
      let best = 0;
      levels.forEach((level, j) => {
        if (Math.abs(level - normalized) < Math.abs(levels[best] - normalized)) best = j;
      });
      assert.ok(Math.abs(restored[i] - Math.fround(levels[best]) * 2) < 1e-6, `element ${i}: ${restored[i]} vs ${levels[best] * 2}`);
    });
    const codes = quantized.codes.bytes();
    assert.deepEqual(Array.from(codes.slice(0, 2)), [0x00, 0x00]);
    assert.equal(codes[31] & 0x0f, 15);
  });

  it('many blocks: error within half a level gap plus the 8-bit scale error; CPU kernel equals the tensor-op path', () => {
    manualSeed(0);
    const weight = randn([300, 130]);
    const quantized = NF4Tensor.quantize(weight);
    const kernel = quantized.dequantize();
    const generic = quantized.dequantize('float32', { withTensorOps: true });
    assert.deepEqual(kernel.bytes(), generic.bytes());
    const blocks = tidy(() => weight.reshape([-1]).narrow(0, 0, 64 * Math.floor((300 * 130) / 64)).reshape([-1, 64]).abs().amax(1));
    const maxAbsmax = blocks.amax().item();
    const worst = tidy(() => kernel.sub(weight).abs().amax().item());
    const largestGap = 1 - 0.7229568362236023;
    assert.ok(worst <= (largestGap / 2) * maxAbsmax + maxAbsmax / 127, `worst error ${worst}`);
    assert.ok(quantized.bytes / (300 * 130 * 4) <= 0.145, `bytes ratio ${quantized.bytes / (300 * 130 * 4)}`);
  });

  it('the NF4 linear passes gradients to its input like the dequantized linear', () => {
    manualSeed(1);
    const weight = randn([24, 16]);
    const quantized = NF4Tensor.quantize(weight);
    const dense = quantized.dequantize();
    const x = randn([3, 16], { requiresGrad: true });
    const probe = randn([3, 24]);
    tidy(() => quantized.linear(x).mul(probe).sum().backward());
    const viaNf4 = (x.grad as Tensor).toFlatArray();
    x.zeroGrad();
    tidy(() => F.linear(x, dense).mul(probe).sum().backward());
    const viaDense = (x.grad as Tensor).toFlatArray();
    viaNf4.forEach((g, i) => assert.ok(Math.abs(g - viaDense[i]) < 1e-5));
  });
});

const stories = path.join(sharedDir, 'reference', 'models', 'stories260K');
const hfTiny = path.join(sharedDir, 'reference', 'models', 'hf-tiny', 'llama');

describe('QLoRA: NF4 base + LoRA', { skip: hasShared && existsSync(stories) ? false : 'no reference models' }, () => {
  it('stories260K quantized: logits within the documented bound (relative RMS ≤ 0.15, loss +≤ 0.05) and ≤ 0.145× the float32 bytes', async () => {
    const goldens = JSON.parse(readFileSync(path.join(stories, 'goldens.json'), 'utf8'));
    const model = (await loadModelFromFolder(stories)) as CausalLM;
    const ids = tensor([[...goldens.cases[5].prompt_ids, ...goldens.cases[5].greedy.continuation_ids]], { dtype: 'int64' });
    const loss = (logits: Tensor) =>
      tidy(() => F.crossEntropy(logits.squeeze(0).narrow(0, 0, ids.shape[1] - 1), ids.squeeze(0).narrow(0, 1, ids.shape[1] - 1)).item());
    const reference = tidy(() => model.forward(ids)).keep();
    const report = quantizeModel(model);
    assert.ok(report.nf4Bytes / report.float32Bytes <= 0.145, `bytes ratio ${report.nf4Bytes / report.float32Bytes}`);
    const quantized = tidy(() => model.forward(ids));
    const relative = tidy(() => quantized.sub(reference).square().mean().sqrt().div(reference.square().mean().sqrt()).item());
    assert.ok(relative <= 0.15, `relative RMS error ${relative}`);
    assert.ok(loss(quantized) - loss(reference) <= 0.05, `loss ${loss(reference)} → ${loss(quantized)}`);
  });

  for (const computeDtype of ['float32', 'bfloat16'] as const) {
    it(`training LoRA on an NF4 base (${computeDtype}) leaves the 4-bit codes bit-identical and lowers the loss; merge dequantizes`, async () => {
      manualSeed(4);
      const base = await loadModelFromFolder(hfTiny);
      quantizeModel(base, { computeDtype });
      const layers = [...base.namedModules()].map(([, m]) => m).filter((m): m is ProjectionLayer => m instanceof ProjectionLayer && m.quantizedWeight !== null);
      const codesBefore = layers.map((layer) => layer.quantizedWeight?.codes.bytes() as Uint8Array);
      const peft = new PeftModel(base);
      peft.addAdapter('default', loraConfig({ r: 8, loraAlpha: 16, targetModules: 'all-linear' }));
      const batch = { inputIds: [[1, 37, 12, 101, 5, 77, 200, 3]], labels: [[1, 37, 12, 101, 5, 77, 200, 3]] };
      const optimizer = new AdamW(peft.parameters().filter((p) => p.requiresGrad), { lr: 2e-2 });
      const losses: number[] = [];
      for (let step = 0; step < 8; step++) {
        losses.push(tidy(() => {
          const loss = peft.loss(batch);
          loss.backward();
          return loss.item();
        }));
        optimizer.step();
        optimizer.zeroGrad();
      }
      assert.ok(losses[7] < losses[0], `losses ${losses}`);
      layers.forEach((layer, i) => assert.deepEqual(layer.quantizedWeight?.codes.bytes(), codesBefore[i]));
      const unmerged = tidy(() => peft.logits(batch).float().toFloat32Array());
      peft.mergeAdapter();
      assert.ok(layers.every((layer) => layer.quantizedWeight === null), 'merge leaves float weights');
      const merged = tidy(() => peft.logits(batch).float().toFloat32Array());
      const scale = Math.max(...Array.from(unmerged, Math.abs));
      const tolerance = computeDtype === 'float32' ? 1e-5 : 2e-2;
      assert.ok(Math.max(...Array.from(unmerged, (v, i) => Math.abs(v - merged[i]))) <= tolerance * scale);
      const error = requantizeLayers(layers);
      assert.ok(error > 0 && error < 1, `re-quantization error ${error}`);
      optimizer.dispose();
    });
  }
});
