import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { memory, ones, tidy } from '../src/torch/index.js';

describe('worker threads', () => {
  it('a worker runs libtorch with its own tensor table while the main thread keeps its tensors', async () => {
    const mine = ones([3]).keep();
    const before = memory().liveTensors;
    const moduleUrl = new URL('../src/torch/index.js', import.meta.url).href;
    const source = `
      const { parentPort } = require('node:worker_threads');
      import(${JSON.stringify(moduleUrl)}).then((torch) => {
        const total = torch.tidy(() => torch.arange(10).float().square().sum().item());
        parentPort.postMessage({ total, live: torch.memory().liveTensors });
      });
    `;
    const result = await new Promise<{ total: number; live: number }>((resolve, reject) => {
      const worker = new Worker(source, { eval: true });
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    assert.equal(result.total, 285);
    assert.equal(result.live, 0);
    assert.equal(memory().liveTensors, before);
    assert.deepEqual(tidy(() => mine.add(1).toArray()), [2, 2, 2]);
  });
});
