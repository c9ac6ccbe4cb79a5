import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countingBatch } from './helpers/counting.js';
import { MiniGPT } from '../src/models/mini-gpt.js';
import { AdamW, clipGradNorm } from '../src/optim/index.js';
import { manualSeed, memory, tidy } from '../src/torch/index.js';

describe('memory stays flat while training', () => {
  it('200 steps of a small GPT: live tensors constant, RSS flat', () => {
    manualSeed(0);
    const config = { vocabSize: 128, dModel: 64, numHeads: 4, numLayers: 2, maxPositions: 32 };
    const model = new MiniGPT(config);
    const optimizer = new AdamW(model.parameters(), { lr: 1e-3 });
    const trainStep = () => {
      tidy(() => {
        const loss = model.loss(countingBatch(8, config.maxPositions, config.vocabSize));
        loss.backward();
        return undefined;
      });
      clipGradNorm(model.parameters(), 1);
      optimizer.step();
      optimizer.zeroGrad();
    };
    for (let step = 0; step < 30; step++) trainStep();
    const tensorsAfterWarmup = memory().liveTensors;
    const bytesAfterWarmup = memory().liveBytes;
    const rssAfterWarmup = process.memoryUsage.rss();
    const samples: number[] = [];
    for (let step = 30; step < 200; step++) {
      trainStep();
      if (step % 10 === 0) samples.push(process.memoryUsage.rss());
    }
    assert.equal(memory().liveTensors, tensorsAfterWarmup);
    assert.equal(memory().liveBytes, bytesAfterWarmup);
    const growthMb = (process.memoryUsage.rss() - rssAfterWarmup) / 2 ** 20;
    assert.ok(growthMb < 12, `RSS grew ${growthMb.toFixed(1)} MiB over 170 steps (samples: ${samples.map((s) => (s / 2 ** 20).toFixed(0)).join(', ')})`);
    const live = memory().liveTensors;
    optimizer.dispose();
    model.dispose();
    assert.ok(memory().liveTensors < live);
  });
});
