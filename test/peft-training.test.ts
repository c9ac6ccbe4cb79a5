import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadModelFromFolder } from '../src/models/load.js';
import type { LanguageModel } from '../src/models/types.js';
import type { AdapterConfig } from '../src/peft/config.js';
import { PeftModel, selectTrainable } from '../src/peft/index.js';
import { AdamW } from '../src/optim/index.js';
import { manualSeed, tensor, Tensor, tidy } from '../src/torch/index.js';
import { common, loraConfig } from './helpers/peft-configs.js';
import { hasShared, sharedDir } from './helpers/paths.js';

const root = path.join(sharedDir, 'reference', 'models', 'hf-tiny');

const lora = loraConfig;

const methods: Record<string, AdapterConfig> = {
  lora: lora({ targetModules: null, loraDropout: 0.1 }),
  'lora all-linear rsLoRA gaussian': lora({ targetModules: 'all-linear', useRslora: true, initLoraWeights: 'gaussian' }),
  'prompt tuning': { ...common, peftType: 'PROMPT_TUNING', numVirtualTokens: 4, tokenDim: 64, numTransformerSubmodules: 1, numAttentionHeads: 8, numLayers: 4, promptTuningInit: 'SAMPLE_VOCAB', promptTuningInitText: null, tokenizerNameOrPath: null },
  ia3: { ...common, peftType: 'IA3', targetModules: null, feedforwardModules: null, fanInFanOut: false, initIa3Weights: true, modulesToSave: null },
  'bottleneck houlsby': { ...common, peftType: 'BOTTLENECK_ADAPTER', bottleneckSize: 8, nonLinearity: 'relu', placement: 'houlsby', scaling: 1 },
};

const batch = {
  inputIds: [[1, 37, 12, 101, 5, 77, 200, 3], [1, 88, 14, 250, 9, 0, 0, 0]],
  attentionMask: [[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0, 0]],
  labels: [[1, 37, 12, 101, 5, 77, 200, 3], [1, 88, 14, 250, 9, -100, -100, -100]],
};

function snapshot(model: LanguageModel): Map<string, Uint8Array> {
  return new Map([...model.stateDict()].map(([key, value]) => [key, value.bytes()]));
}

function train(peft: PeftModel, parameters: Tensor[], steps: number): number[] {
  const optimizer = new AdamW(parameters, { lr: 1e-2, weightDecay: 0.1 });
  const losses: number[] = [];
  peft.train();
  for (let step = 0; step < steps; step++) {
    losses.push(
      tidy(() => {
        const loss = peft.loss(batch);
        loss.backward();
        return loss.item();
      }),
    );
    optimizer.step();
    optimizer.zeroGrad();
  }
  peft.eval();
  optimizer.dispose();
  return losses;
}

describe('training a PEFT method changes only its own parameters', { skip: hasShared ? false : 'no ../shared' }, () => {
  for (const [name, config] of Object.entries(methods)) {
    it(`${name}: loss falls, every base weight stays bit-identical`, async () => {
      manualSeed(1);
      const base = await loadModelFromFolder(path.join(root, 'llama'));
      const before = snapshot(base);
      const peft = new PeftModel(base);
      peft.addAdapter('task', config);
      const trainable = peft.namedParameters().filter(([, p]) => p.requiresGrad);
      assert.ok(trainable.length > 0);
      assert.ok(trainable.every(([key]) => !before.has(key.replace(/^base_model\.model\./, ''))), 'only adapter parameters are trainable');
      const summary = peft.trainableSummary();
      assert.ok(summary.percent > 0 && summary.percent < 100);
      assert.equal(summary.optimizerBytes, 3 * 4 * summary.trainable);
      const losses = train(peft, trainable.map(([, p]) => p), 8);
      assert.ok(losses[losses.length - 1] < losses[0], `losses ${losses}`);
      for (const [key, value] of base.stateDict()) {
        const original = before.get(key);
        if (original !== undefined) assert.deepEqual(value.bytes(), original, key);
      }
      peft.dispose();
    });
  }

  it('a trained LoRA merged gives the unmerged outputs (1e-5 relative); merge-and-unload leaves a plain model', async () => {
    manualSeed(2);
    const base = await loadModelFromFolder(path.join(root, 'llama'));
    const peft = new PeftModel(base);
    peft.addAdapter('task', lora({ targetModules: 'all-linear', loraDropout: 0 }));
    train(peft, peft.parameters().filter((p) => p.requiresGrad), 5);
    const unmerged = tidy(() => peft.logits(batch).toFloat32Array());
    peft.mergeAdapter('task');
    const merged = tidy(() => peft.logits(batch).toFloat32Array());
    const scale = Math.max(...Array.from(unmerged, Math.abs));
    const worst = Math.max(...Array.from(unmerged, (v, i) => Math.abs(v - merged[i])));
    assert.ok(worst <= 1e-5 * scale, `max diff ${worst} at scale ${scale}`);
    const plain = peft.mergeAndUnload();
    assert.ok(plain.namedParameters().every(([key]) => !key.includes('lora_')));
    const fromPlain = tidy(() => (plain.kind === 'causal' ? plain.forward(tensor(batch.inputIds, { dtype: 'int64' }), { attentionMask: tensor(batch.attentionMask, { dtype: 'int64' }) }).toFloat32Array() : new Float32Array()));
    assert.deepEqual(fromPlain, merged);
  });

  it('selective: trainOnly, lastBlocks and BitFit freeze everything else, which stays bit-identical', async () => {
    manualSeed(3);
    const base = await loadModelFromFolder(path.join(root, 'llama'));
    const before = snapshot(base);
    const chosen = selectTrainable(base, { lastBlocks: 1, bitfit: true, trainOnly: ['lm_head.*'] });
    const names = chosen.map(([key]) => key);
    assert.ok(names.includes('lm_head.weight'));
    assert.ok(names.includes('model.layers.3.self_attn.q_proj.weight'));
    assert.ok(!names.includes('model.layers.2.self_attn.q_proj.weight'));
    assert.ok(names.includes('model.layers.0.input_layernorm.weight') && names.includes('model.norm.weight'));
    const peft = new PeftModel(base);
    train(peft, chosen.map(([, p]) => p), 4);
    for (const [key, value] of base.stateDict()) {
      const changed = Buffer.compare(Buffer.from(value.bytes()), Buffer.from(before.get(key) as Uint8Array)) !== 0;
      assert.equal(changed, names.includes(key), key);
    }
  });
});
