import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Embedding, LayerNorm, Linear, ModuleList, RMSNorm, Dropout } from '../src/nn/index.js';
import { Module } from '../src/nn/module.js';
import { manualSeed, ones, tensor, Tensor, tidy, zeros } from '../src/torch/index.js';

class Tiny extends Module {
  readonly embed: Embedding;
  readonly layers: ModuleList<Linear>;
  readonly norm: LayerNorm;
  readonly head: Linear;
  constructor(tied = false) {
    super();
    this.embed = this.registerModule('embed', new Embedding(10, 4));
    this.layers = this.registerModule('layers', new ModuleList([new Linear(4, 4), new Linear(4, 4)]));
    this.norm = this.registerModule('norm', new LayerNorm([4]));
    this.head = this.registerModule('head', new Linear(4, 10, { bias: false }));
    if (tied) this.head.setParameter('weight', this.embed.weight);
  }
  forward(ids: Tensor): Tensor {
    let x = this.embed.forward(ids);
    for (const layer of this.layers) x = layer.forward(x).relu();
    return this.head.forward(this.norm.forward(x));
  }
}

declare module '../src/torch/tensor.js' {
  interface Tensor {
    relu(): Tensor;
  }
}
Tensor.prototype.relu = function relu(this: Tensor) {
  return this.clamp(0);
};

describe('Module', () => {
  it('names parameters with dotted paths, ties once', () => {
    const model = new Tiny(true);
    const names = model.namedParameters().map(([name]) => name);
    assert.deepEqual(names, ['embed.weight', 'layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias', 'norm.weight', 'norm.bias']);
    assert.ok(model.stateDict().has('head.weight'));
    assert.equal(model.parameterCount().total, 40 + 20 + 20 + 8);
  });

  it('loadStateDict copies values and checks keys and shapes', () => {
    manualSeed(1);
    const a = new Tiny();
    const b = new Tiny();
    b.loadStateDict(a.stateDict());
    const ids = tensor([[1, 2, 3]], { dtype: 'int64' });
    assert.deepEqual(tidy(() => b.forward(ids).toArray()), tidy(() => a.forward(ids).toArray()));
    const missing = new Map(a.stateDict());
    missing.delete('norm.bias');
    missing.set('extra.weight', zeros([1]));
    assert.throws(() => b.loadStateDict(missing), /missing keys: norm\.bias; unexpected keys: extra\.weight/);
    assert.deepEqual(b.loadStateDict(missing, { strict: false }), { missingKeys: ['norm.bias'], unexpectedKeys: ['extra.weight'] });
    const wrong = new Map(a.stateDict());
    wrong.set('layers.1.weight', ones([4, 5]));
    assert.throws(() => b.loadStateDict(wrong, { strict: false, source: 'ckpt.safetensors' }), /shape mismatch for "layers\.1\.weight" \(ckpt\.safetensors\): model expects \[4,4\], checkpoint has \[4,5\]/);
  });

  it('freeze/unfreeze by pattern, train/eval propagate', () => {
    const model = new Tiny();
    model.freeze();
    assert.equal(model.parameterCount().trainable, 0);
    model.unfreeze(['layers.*', '*.bias']);
    assert.deepEqual(model.trainableParameters().map(([n]) => n), ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias', 'norm.bias']);
    model.eval();
    assert.equal(model.layers.at(1).training, false);
    model.train();
    assert.equal(model.norm.training, true);
  });

  it('to(dtype) converts in place and keeps ties', () => {
    const model = new Tiny(true);
    const embedding = model.embed.weight;
    model.to('float64');
    assert.equal(model.embed.weight, embedding);
    assert.equal(model.head.weight.dtype, 'float64');
    assert.equal(model.head.weight, model.embed.weight);
    assert.equal(model.embed.weight.requiresGrad, true);
  });

  it('layers compute what their definitions say', () => {
    const norm = new RMSNorm([2], 1e-6);
    const out = tidy(() => norm.forward(tensor([[3, 4]])).toArray() as number[][]);
    const rms = Math.sqrt((9 + 16) / 2 + 1e-6);
    assert.ok(Math.abs(out[0][0] - 3 / rms) < 1e-6 && Math.abs(out[0][1] - 4 / rms) < 1e-6);
    const dropout = new Dropout(0.5);
    dropout.eval();
    assert.deepEqual(tidy(() => dropout.forward(ones([4])).toArray()), [1, 1, 1, 1]);
    dropout.train();
    const dropped = tidy(() => dropout.forward(ones([1000])).toFlatArray());
    assert.ok(dropped.every((v) => v === 0 || v === 2));
    const linear = new Linear(3, 2);
    const bound = 1 / Math.sqrt(3);
    assert.ok(linear.weight.toFlatArray().every((v) => Math.abs(v) <= bound));
  });
});
