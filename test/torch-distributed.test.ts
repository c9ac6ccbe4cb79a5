import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { distributedAvailable, ProcessGroup } from '../src/torch/index.js';
import { freePort } from './helpers/free-port.js';

const skip = distributedAvailable() ? false : 'the addon was built without c10d (install libgloo-dev and rebuild)';
const worker = fileURLToPath(new URL('./helpers/collectives-worker.js', import.meta.url));

function runRank(rank: number, worldSize: number, port: number): Promise<Record<string, number[]>> {
  return new Promise((resolve, reject) => {
    const child = fork(worker, [String(rank), String(worldSize), String(port)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: Record<string, number[]> | undefined;
    child.on('message', (message) => (result = message as Record<string, number[]>));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 && result !== undefined ? resolve(result) : reject(new Error(`rank ${rank} exited ${code}`))));
  });
}

describe('c10d process group (Gloo over loopback)', { skip }, () => {
  it('two processes all-reduce, broadcast, all-gather, reduce-scatter and meet at a barrier', async () => {
    const port = await freePort();
    const [rank0, rank1] = await Promise.all([runRank(0, 2, port), runRank(1, 2, port)]);
    for (const result of [rank0, rank1]) {
      assert.deepEqual(result.summed, [3, 6, 9]);
      assert.deepEqual(result.broadcast, [7, 8]);
      assert.deepEqual(result.gathered, [0, 0.5, 1, 1.5]);
    }
    // Σ over ranks of arange(4) + rank = [1, 3, 5, 7]; rank r keeps elements 2r, 2r + 1.
    assert.deepEqual(rank0.scattered, [1, 3]);
    assert.deepEqual(rank1.scattered, [5, 7]);
  });

  it('a taken port is an error that names it', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      assert.throws(() => ProcessGroup.init({ rank: 0, worldSize: 1, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 5000 }), (error: Error) => {
        assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}.*taken`));
        return true;
      });
    } finally {
      server.close();
    }
  });

  it('a worker that cannot reach the master fails within the timeout, naming the address', async () => {
    const port = await freePort();
    const started = Date.now();
    assert.throws(() => ProcessGroup.init({ rank: 1, worldSize: 2, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 3000 }), /rank 1 could not reach the master at 127\.0\.0\.1:\d+ within 3 s/);
    assert.ok(Date.now() - started < 20_000);
  });
});
