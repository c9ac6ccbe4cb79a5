import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { countingBatch } from './helpers/counting.js';
import { loadSafetensorsFile, saveSafetensorsFile } from '../src/io/tensors.js';
import { MiniGPT } from '../src/models/mini-gpt.js';
import { AdamW, LRScheduler, SGD, clipGradNorm, constantSchedule, cosineSchedule, linearSchedule } from '../src/optim/index.js';
import type { Optimizer, OptimizerState } from '../src/optim/index.js';
import { dispose, manualSeed, tensor, Tensor, tidy } from '../src/torch/index.js';

const workDir = mkdtempSync(path.join(tmpdir(), 'tunekit-optim-'));
after(() => rmSync(workDir, { recursive: true, force: true }));

describe('schedules', () => {
  it('linear and cosine with warmup follow the transformers formulas', () => {
    const linear = linearSchedule({ warmupSteps: 10, totalSteps: 110 });
    assert.equal(linear(0), 0);
    assert.equal(linear(5), 0.5);
    assert.equal(linear(10), 1);
    assert.equal(linear(60), 0.5);
    assert.equal(linear(110), 0);
    const cosine = cosineSchedule({ warmupSteps: 10, totalSteps: 110 });
    assert.equal(cosine(10), 1);
    assert.ok(Math.abs(cosine(60) - 0.5) < 1e-12);
    assert.ok(Math.abs(cosine(110)) < 1e-12);
    assert.equal(cosineSchedule({ totalSteps: 100, minRatio: 0.1 })(100), 0.1);
    assert.equal(constantSchedule({ warmupSteps: 4 })(2), 0.5);
    assert.throws(() => linearSchedule({ totalSteps: 0 }), /totalSteps/);
  });

  it('LRScheduler sets each group from its base learning rate', () => {
    const a = tensor([1], { requiresGrad: true });
    const b = tensor([1], { requiresGrad: true });
    const optimizer = new SGD([{ params: [a] }, { params: [b], options: { lr: 0.5 } }], { lr: 0.1 });
    const scheduler = new LRScheduler(optimizer, linearSchedule({ warmupSteps: 2, totalSteps: 4 }));
    assert.deepEqual(scheduler.lastLr, [0, 0]);
    scheduler.step();
    assert.deepEqual(scheduler.lastLr, [0.05, 0.25]);
    scheduler.setStep(3);
    assert.deepEqual(scheduler.lastLr, [0.05, 0.25]);
  });
});

describe('gradient clipping', () => {
  it('scales all gradients to the max global norm and returns the old norm', () => {
    const a = tensor([3, 0], { requiresGrad: true });
    const b = tensor([4], { requiresGrad: true });
    tidy(() => a.mul(tensor([3, 0])).sum().add(b.mul(4).sum()).backward());
    const norm = clipGradNorm([a, b], 1);
    assert.equal(norm, 5);
    const ga = a.grad?.toFlatArray() as number[];
    const gb = b.grad?.toFlatArray() as number[];
    assert.ok(Math.abs(ga[0] - 0.6) < 1e-6 && Math.abs(gb[0] - 0.8) < 1e-6);
  });
});

async function saveOptimizer(optimizer: Optimizer, file: string): Promise<string> {
  const state = optimizer.stateDict();
  await saveSafetensorsFile(file, state.tensors, { step: String(state.step), groups: JSON.stringify(state.groups) });
  return file;
}

async function loadOptimizer(optimizer: Optimizer, file: string): Promise<void> {
  const { tensors, metadata } = await loadSafetensorsFile(file);
  const state: OptimizerState = { step: Number(metadata.step), groups: JSON.parse(metadata.groups), tensors };
  optimizer.loadStateDict(state);
  dispose(tensors);
}

describe('optimizer state save and resume', () => {
  const config = { vocabSize: 32, dModel: 32, numHeads: 2, numLayers: 1, maxPositions: 16 };
  const batches = (() => {
    manualSeed(11);
    return Array.from({ length: 10 }, () => countingBatch(4, config.maxPositions, config.vocabSize).keep());
  })();

  function train(model: MiniGPT, optimizer: Optimizer, from: number, to: number): void {
    for (let step = from; step < to; step++) {
      tidy(() => model.loss(batches[step]).backward());
      optimizer.step();
      optimizer.zeroGrad();
    }
  }

  for (const [name, make] of [
    ['AdamW', (model: MiniGPT) => new AdamW(model.namedParameters(), { lr: 1e-2 })],
    ['SGD', (model: MiniGPT) => new SGD(model.namedParameters(), { lr: 1e-1, momentum: 0.9 })],
  ] as const) {
    it(`${name}: 5 steps + save + load + 5 steps equals 10 uninterrupted steps, bit for bit`, async () => {
      manualSeed(2);
      const reference = new MiniGPT(config);
      const initial = new Map([...reference.stateDict()].map(([k, v]) => [k, v.clone().keep()]));
      const referenceOptimizer = make(reference);
      train(reference, referenceOptimizer, 0, 10);

      const first = new MiniGPT(config);
      first.loadStateDict(initial);
      const firstOptimizer = make(first);
      train(first, firstOptimizer, 0, 5);
      await saveSafetensorsFile(path.join(workDir, `${name}-model.safetensors`), first.stateDict());
      const optimizerFile = await saveOptimizer(firstOptimizer, path.join(workDir, `${name}-optimizer.safetensors`));

      const resumed = new MiniGPT(config);
      const { tensors } = await loadSafetensorsFile(path.join(workDir, `${name}-model.safetensors`));
      resumed.loadStateDict(tensors);
      const resumedOptimizer = make(resumed);
      await loadOptimizer(resumedOptimizer, optimizerFile);
      train(resumed, resumedOptimizer, 5, 10);

      const want = reference.stateDict();
      for (const [key, value] of resumed.stateDict()) {
        assert.deepEqual(value.bytes(), (want.get(key) as Tensor).bytes(), key);
      }
      for (const m of [reference, first, resumed]) m.dispose();
      for (const o of [referenceOptimizer, firstOptimizer, resumedOptimizer]) o.dispose();
      dispose([initial, tensors]);
    });
  }

  it('AdamW fused and per-tensor paths give the same losses', () => {
    // Parameters whose true gradient is 0 (attention key biases) get rounding-noise updates amplified by Adam's
    // normalization, so the paths are compared by the losses they produce, as PyTorch's own tests do.
    manualSeed(4);
    const a = new MiniGPT(config);
    const b = new MiniGPT(config);
    b.loadStateDict(a.stateDict());
    const fused = new AdamW(a.parameters(), { lr: 1e-2, fused: true });
    const loop = new AdamW(b.parameters(), { lr: 1e-2, fused: false });
    for (let step = 0; step < 8; step++) {
      const [lossA, lossB] = [a, b].map((model) => tidy(() => {
        const loss = model.loss(batches[step]);
        loss.backward();
        return loss.item();
      }));
      fused.step();
      loop.step();
      fused.zeroGrad();
      loop.zeroGrad();
      assert.ok(Math.abs(lossA - lossB) < 1e-5, `step ${step}: fused ${lossA}, loop ${lossB}`);
    }
  });
});
