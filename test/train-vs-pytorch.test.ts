import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { countingBatch } from './helpers/counting.js';
import { saveSafetensorsFile } from '../src/io/tensors.js';
import { MiniGPT } from '../src/models/mini-gpt.js';
import * as F from '../src/nn/functional.js';
import { Linear } from '../src/nn/layers.js';
import { Module } from '../src/nn/module.js';
import { AdamW, SGD, clipGradNorm } from '../src/optim/index.js';
import { getNumThreads, manualSeed, randn, setNumThreads, Tensor, tidy } from '../src/torch/index.js';
import { repoRoot } from './helpers/paths.js';
import { pythonWithTorch, runPythonJson } from './helpers/python.js';

const skip = pythonWithTorch() === null ? 'python3 with torch is not installed' : false;
const peer = path.join(repoRoot, 'bench', 'peer', 'train_peer.py');
const workDir = mkdtempSync(path.join(tmpdir(), 'tunekit-peer-'));
after(() => rmSync(workDir, { recursive: true, force: true }));

class TwoLayerMLP extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(inputs: number, hidden: number, outputs: number) {
    super();
    this.fc1 = this.registerModule('fc1', new Linear(inputs, hidden));
    this.fc2 = this.registerModule('fc2', new Linear(hidden, outputs));
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.fc1.forward(x).tanh());
  }
}

function assertLossesClose(ours: number[], theirs: number[]): void {
  assert.equal(ours.length, theirs.length);
  ours.forEach((loss, step) => {
    assert.ok(Math.abs(loss - theirs[step]) <= 1e-5, `step ${step}: tunekit ${loss}, PyTorch ${theirs[step]}`);
  });
}

describe('training agrees with PyTorch from the same initial weights', { skip }, () => {
  const threads = getNumThreads();
  after(() => setNumThreads(threads));

  it('two-layer MLP with SGD + momentum', async () => {
    setNumThreads(1);
    manualSeed(3);
    const config = { inputs: 16, hidden: 32, outputs: 4 };
    const model = new TwoLayerMLP(config.inputs, config.hidden, config.outputs);
    const steps = 25;
    const data = new Map<string, Tensor>();
    for (let step = 0; step < steps; step++) {
      const x = randn([8, config.inputs]);
      data.set(`x.${step}`, x);
      data.set(`y.${step}`, x.narrow(1, 0, config.outputs).argmax(1));
    }
    const weights = path.join(workDir, 'mlp.safetensors');
    const batches = path.join(workDir, 'mlp-data.safetensors');
    await saveSafetensorsFile(weights, model.stateDict());
    await saveSafetensorsFile(batches, data);
    const optimizer = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 });
    const losses: number[] = [];
    for (let step = 0; step < steps; step++) {
      const loss = tidy(() => {
        const value = F.crossEntropy(model.forward(data.get(`x.${step}`) as Tensor), data.get(`y.${step}`) as Tensor);
        value.backward();
        return value.item();
      });
      optimizer.step();
      optimizer.zeroGrad();
      losses.push(loss);
    }
    const theirs = runPythonJson<{ losses: number[] }>(peer, [
      JSON.stringify({ model: 'mlp', config, weights, data: batches, steps, threads: 1, optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 } }),
    ]);
    assertLossesClose(losses, theirs.losses);
    assert.ok(losses[steps - 1] < losses[0]);
    model.dispose();
    optimizer.dispose();
  });

  for (const fused of [true, false]) {
    it(`small GPT with AdamW (${fused ? 'fused kernel' : 'per-tensor loop'}) and gradient clipping`, async () => {
      setNumThreads(1);
      manualSeed(5);
      const config = { vocabSize: 96, dModel: 64, numHeads: 4, numLayers: 2, maxPositions: 24 };
      const model = new MiniGPT(config);
      const steps = 15;
      const data = new Map<string, Tensor>();
      for (let step = 0; step < steps; step++) data.set(`batch.${step}`, countingBatch(4, config.maxPositions, config.vocabSize));
      const weights = path.join(workDir, `gpt-${fused}.safetensors`);
      const batches = path.join(workDir, `gpt-data-${fused}.safetensors`);
      await saveSafetensorsFile(weights, model.stateDict());
      await saveSafetensorsFile(batches, data);
      const optimizer = new AdamW(model.parameters(), { lr: 3e-3, weightDecay: 0.05, fused });
      const losses: number[] = [];
      for (let step = 0; step < steps; step++) {
        const loss = tidy(() => {
          const value = model.loss(data.get(`batch.${step}`) as Tensor);
          value.backward();
          return value.item();
        });
        clipGradNorm(model.parameters(), 0.5);
        optimizer.step();
        optimizer.zeroGrad();
        losses.push(loss);
      }
      const theirs = runPythonJson<{ losses: number[] }>(peer, [
        JSON.stringify({ model: 'gpt', config, weights, data: batches, steps, threads: 1, clip: 0.5, optimizer: { name: 'adamw', lr: 3e-3, weightDecay: 0.05, fused } }),
      ]);
      assertLossesClose(losses, theirs.losses);
      assert.ok(losses[steps - 1] < losses[0]);
      model.dispose();
      optimizer.dispose();
    });
  }
});
