// Data parallel training on c10d over loopback: N processes × batch B train as one process × batch N·B does (the
// same per-step losses and final weights), under `tunekit train --nproc` or torchrun's environment, and faults
// end the job with errors that name the rank.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { distributedAvailable, distributedSamplerIndices, gradientBuckets, loadSafetensorsFile, tensor, tidy, trainerEpochOrder, workerEnvironment, zeros } from '../src/index.js';
import { modelWithCharTokenizer } from './helpers/char-tokenizer.js';
import { freePort } from './helpers/free-port.js';
import { repoRoot } from './helpers/paths.js';
import { pythonWithTorch } from './helpers/python.js';

const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-ddp-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const skip = distributedAvailable() ? false : 'the addon was built without c10d (install libgloo-dev and rebuild)';

const model = modelWithCharTokenizer(path.join(repoRoot, 'test', 'fixtures', 'models', 'llama_bias'), path.join(scratch, 'model'));
// Completions of different lengths, so that normalizing by all ranks' supervised tokens matters.
const records = Array.from({ length: 8 }, (_, i) => ({ prompt: `Tell me ${'abcdefgh'.slice(0, 1 + (i % 5))}`, completion: ` ok${'!'.repeat((i % 3) + 1)}` }));
writeFileSync(path.join(scratch, 'train.jsonl'), records.map((record) => JSON.stringify(record)).join('\n') + '\n');
const common = ['--model', model, '--dataset', 'train.jsonl', '--max-steps', '3', '--logging-steps', '1', '--learning-rate', '0.01', '--seed', '3', '--json'];

const jsonLines = (text: string) => text.trimEnd().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
const losses = (stdout: string) => jsonLines(stdout).filter((event) => event.event === 'step').map((event) => event.loss as number);
const env = { ...process.env, TUNEKIT_THREADS: '1' };

function train(args: string[], extraEnv: Record<string, string> = {}) {
  return spawnSync(process.execPath, [cli, 'train', ...common, ...args], { cwd: scratch, encoding: 'utf8', env: { ...env, ...extraEnv }, timeout: 120_000 });
}

function start(args: string[], extraEnv: Record<string, string>): { child: ChildProcess; done: Promise<{ status: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [cli, 'train', ...common, ...args], { cwd: scratch, env: { ...env, ...extraEnv } });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => (stdout += chunk));
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  return { child, done: new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr }))) };
}

async function maxWeightDifference(fileA: string, fileB: string): Promise<number> {
  const [a, b] = [await loadSafetensorsFile(fileA), await loadSafetensorsFile(fileB)];
  assert.deepEqual([...a.tensors.keys()].sort(), [...b.tensors.keys()].sort());
  let largest = 0;
  for (const [name, tensorA] of a.tensors) largest = Math.max(largest, tidy(() => tensorA.float().sub(b.tensors.get(name)!.float()).abs().amax().item()));
  [...a.tensors.values(), ...b.tensors.values()].forEach((t) => t.dispose());
  return largest;
}

function assertClose(actual: number[], expected: number[], tolerance: number): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((value, i) => assert.ok(Math.abs(value - expected[i]) <= tolerance * Math.max(1, Math.abs(expected[i])), `step ${i + 1}: ${value} vs ${expected[i]}`));
}

describe('DistributedSampler order and DDP buckets', () => {
  it('pads by repeating the order and interleaves the ranks, as torch.utils.data.DistributedSampler', () => {
    assert.deepEqual(distributedSamplerIndices([4, 0, 3, 1, 2], 0, 2), [4, 3, 2]);
    assert.deepEqual(distributedSamplerIndices([4, 0, 3, 1, 2], 1, 2), [0, 1, 4]);
    assert.deepEqual([0, 1, 2, 3].map((rank) => distributedSamplerIndices([1, 0], rank, 4)), [[1], [0], [1], [0]]);
  });

  it("equals torch's DistributedSampler with shuffle, seed and epoch", { skip: pythonWithTorch() === null ? 'no python with torch' : false }, () => {
    const cases = [[10, 3, 7, 0], [10, 3, 7, 2], [5, 4, 0, 1], [17, 2, 42, 3]];
    const script = `import json, sys, torch.utils.data as d
out = []
for n, world, seed, epoch in json.loads(sys.argv[1]):
    ranks = []
    for rank in range(world):
        s = d.DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=True, seed=seed)
        s.set_epoch(epoch)
        ranks.append(list(s))
    out.append(ranks)
print(json.dumps(out))`;
    const result = spawnSync(pythonWithTorch()!, ['-c', script, JSON.stringify(cases)], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const expected = JSON.parse(result.stdout) as number[][][];
    cases.forEach(([n, world, seed, epoch], i) => {
      const order = trainerEpochOrder(n, seed, epoch);
      assert.deepEqual(Array.from({ length: world }, (_, rank) => distributedSamplerIndices(order, rank, world)), expected[i], `n ${n}, world ${world}`);
    });
  });

  it("reads torchrun's environment, and says which variable is wrong", () => {
    assert.equal(workerEnvironment({}), null);
    assert.equal(workerEnvironment({ WORLD_SIZE: '1', RANK: '0' }), null);
    assert.deepEqual(workerEnvironment({ WORLD_SIZE: '4', RANK: '3', LOCAL_RANK: '1', MASTER_ADDR: 'node0', MASTER_PORT: '29501', TUNEKIT_DIST_TIMEOUT: '2.5' }), { rank: 3, localRank: 1, worldSize: 4, masterAddr: 'node0', masterPort: 29501, timeoutMs: 2500 });
    assert.throws(() => workerEnvironment({ WORLD_SIZE: '2', MASTER_ADDR: 'a', MASTER_PORT: '1' }), /RANK is not set/);
    assert.throws(() => workerEnvironment({ WORLD_SIZE: '2', RANK: '2', MASTER_ADDR: 'a', MASTER_PORT: '1' }), /RANK 2 is not below WORLD_SIZE 2/);
    assert.throws(() => workerEnvironment({ WORLD_SIZE: '2', RANK: '1', MASTER_PORT: '1' }), /MASTER_ADDR is not set/);
    assert.throws(() => workerEnvironment({ WORLD_SIZE: 'two', RANK: '1' }), /WORLD_SIZE must be a non-negative integer, got "two"/);
  });

  it('buckets gradients in reverse parameter order up to the cap, one dtype a bucket', () => {
    const parameters = [zeros([4]), zeros([8]), zeros([2], { dtype: 'float64' }), tensor([1, 2, 3])];
    const buckets = gradientBuckets(parameters, 40);
    // float32 bytes: [3] 12, [8] 32 → over 40 with 12 already in: a new bucket; [4] 16 joins it? 32 + 16 > 40: new.
    assert.deepEqual(buckets.map((bucket) => bucket.map((p) => parameters.indexOf(p))), [[3], [2], [1], [0]]);
    assert.deepEqual(gradientBuckets(parameters, 1 << 20).map((bucket) => bucket.map((p) => parameters.indexOf(p))), [[3, 1, 0], [2]]);
    parameters.forEach((p) => p.dispose());
  });
});

describe('tunekit train --nproc (c10d, Gloo over loopback)', { skip }, () => {
  for (const method of ['full', 'lora'] as const) {
    it(`${method}: 2 processes × batch 2 give the losses and weights of 1 process × batch 4`, async () => {
      const methodArgs = method === 'lora' ? ['--method', 'lora', '--r', '4', '--lora-alpha', '8', '--lora-dropout', '0', '--target-modules', '[q_proj, v_proj]'] : ['--method', 'full'];
      const one = train([...methodArgs, '--per-device-train-batch-size', '4', '--output-dir', `${method}-one`]);
      assert.equal(one.status, 0, one.stderr);
      const two = train([...methodArgs, '--per-device-train-batch-size', '2', '--output-dir', `${method}-two`, '--nproc', '2', '--master-port', String(await freePort())]);
      assert.equal(two.status, 0, two.stderr);
      assert.equal(losses(two.stdout).length, 3);
      assertClose(losses(two.stdout), losses(one.stdout), 1e-5);
      const file = method === 'lora' ? 'adapter_model.safetensors' : 'model.safetensors';
      // Adam moves each weight by up to lr a step whatever the gradient's size, so summation-order noise in the
      // tiniest gradients shows up to a small fraction of lr (measured: 9e-5 with lr 0.01).
      const difference = await maxWeightDifference(path.join(scratch, `${method}-one`, file), path.join(scratch, `${method}-two`, file));
      assert.ok(difference < 1e-3, `weights differ by ${difference}`);
      // One writer: rank 0's generator state and rank 1's are both in the checkpoint.
      const checkpoint = path.join(scratch, `${method}-two`, 'checkpoint-3');
      assert.ok(readFileSync(path.join(checkpoint, 'rng_state_1.bin')).length > 0);
      assert.equal(jsonLines(readFileSync(path.join(scratch, `${method}-two`, 'metrics.jsonl'), 'utf8')).length, 3);
    });
  }

  it('a 2-process run resumed mid-epoch from its checkpoint equals the uninterrupted run (LoRA with dropout: each rank its generator)', async () => {
    const args = ['--method', 'lora', '--r', '4', '--lora-alpha', '8', '--lora-dropout', '0.2', '--target-modules', '[q_proj, v_proj]', '--per-device-train-batch-size', '1', '--max-steps', '5', '--save-steps', '3', '--nproc', '2'];
    const whole = train([...args, '--output-dir', 'resume-whole', '--master-port', String(await freePort())]);
    assert.equal(whole.status, 0, whole.stderr);
    cpSync(path.join(scratch, 'resume-whole', 'checkpoint-3'), path.join(scratch, 'resume-part', 'checkpoint-3'), { recursive: true });
    const resumed = train([...args, '--output-dir', 'resume-part', '--resume-from-checkpoint', '--master-port', String(await freePort())]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.deepEqual(losses(resumed.stdout), losses(whole.stdout).slice(3));
    const file = 'adapter_model.safetensors';
    assert.equal(await maxWeightDifference(path.join(scratch, 'resume-whole', file), path.join(scratch, 'resume-part', file)), 0);
    // The same checkpoint resumed by one process is refused, saying why.
    const single = train(['--method', 'lora', '--r', '4', '--lora-alpha', '8', '--lora-dropout', '0.2', '--target-modules', '[q_proj, v_proj]', '--per-device-train-batch-size', '1', '--max-steps', '5', '--save-steps', '3', '--output-dir', 'resume-part', '--resume-from-checkpoint']);
    assert.equal(single.status, 1);
    assert.match(single.stderr, /trained with world_size 2, this run has 1/);
  });

  it('--shard-optimizer (ZeRO-1) gives the losses, weights and checkpointed AdamW state of unsharded DDP, and resumes', async () => {
    const args = ['--method', 'full', '--per-device-train-batch-size', '2', '--max-steps', '4', '--save-steps', '2', '--max-grad-norm', '1', '--nproc', '2'];
    const plain = train([...args, '--output-dir', 'zero-plain', '--master-port', String(await freePort())]);
    assert.equal(plain.status, 0, plain.stderr);
    const sharded = train([...args, '--output-dir', 'zero-sharded', '--shard-optimizer', '--master-port', String(await freePort())]);
    assert.equal(sharded.status, 0, sharded.stderr);
    assertClose(losses(sharded.stdout), losses(plain.stdout), 1e-5);
    const at = (dir: string, ...parts: string[]) => path.join(scratch, dir, ...parts);
    assert.ok((await maxWeightDifference(at('zero-plain', 'model.safetensors'), at('zero-sharded', 'model.safetensors'))) < 1e-3);
    // The sharded state is gathered into AdamW's own layout: the same names and (nearly) the same moments.
    assert.ok((await maxWeightDifference(at('zero-plain', 'checkpoint-2', 'optimizer.safetensors'), at('zero-sharded', 'checkpoint-2', 'optimizer.safetensors'))) < 1e-4);
    cpSync(at('zero-sharded', 'checkpoint-2'), at('zero-resumed', 'checkpoint-2'), { recursive: true });
    const resumed = train([...args, '--output-dir', 'zero-resumed', '--shard-optimizer', '--resume-from-checkpoint', '--master-port', String(await freePort())]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.deepEqual(losses(resumed.stdout), losses(sharded.stdout).slice(2));
    assert.equal(await maxWeightDifference(at('zero-sharded', 'model.safetensors'), at('zero-resumed', 'model.safetensors')), 0);
  });

  it("workers started with torchrun's environment (no --nproc) train together", async () => {
    const port = String(await freePort());
    const workers = [0, 1].map((rank) => start(['--method', 'full', '--per-device-train-batch-size', '2', '--output-dir', 'torchrun'], { RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: port }));
    const [rank0, rank1] = await Promise.all(workers.map((worker) => worker.done));
    assert.equal(rank0.status, 0, rank0.stderr);
    assert.equal(rank1.status, 0, rank1.stderr);
    assert.equal(rank1.stdout, '', 'only rank 0 reports');
    const one = jsonLines(readFileSync(path.join(scratch, 'full-one', 'metrics.jsonl'), 'utf8')).map((event) => event.loss as number);
    assertClose(losses(rank0.stdout), one, 1e-5);
  });

  it('ranks started with different configs fail on every rank, naming the config hash mismatch', async () => {
    const port = String(await freePort());
    const workers = [0, 1].map((rank) =>
      start(['--method', 'full', '--per-device-train-batch-size', '2', '--output-dir', 'mismatch', ...(rank === 1 ? ['--weight-decay', '0.5'] : [])], { RANK: String(rank), WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: port, TUNEKIT_DIST_TIMEOUT: '20' }),
    );
    for (const result of await Promise.all(workers.map((worker) => worker.done))) {
      assert.equal(result.status, 1);
      assert.match(result.stderr, /rank 1 started with a different config than rank 0 \(config hash mismatch\)/);
    }
  });

  it('SIGINT to the launcher stops every rank after the same step, with one checkpoint, exit status 130', async () => {
    const launcher = start(['--method', 'full', '--per-device-train-batch-size', '2', '--max-steps', '100000', '--save-steps', '100000', '--output-dir', 'interrupted', '--nproc', '2', '--master-port', String(await freePort())], {});
    await new Promise<void>((resolve) => launcher.child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('"event":"step"') && resolve()));
    launcher.child.kill('SIGINT');
    const result = await launcher.done;
    assert.equal(result.status, 130, result.stderr);
    const checkpoints = readdirSync(path.join(scratch, 'interrupted')).filter((name) => name.startsWith('checkpoint-'));
    assert.equal(checkpoints.length, 1);
    const summary = jsonLines(result.stdout).find((event) => event.event === 'result')!;
    assert.equal(summary.interrupted, true);
    assert.equal(checkpoints[0], `checkpoint-${summary.global_step}`);
    assert.ok(readFileSync(path.join(scratch, 'interrupted', checkpoints[0], 'rng_state_1.bin')).length > 0);
  });

  it('a taken master port and launcher flags without --nproc are one-line errors', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const taken = start(['--method', 'full', '--output-dir', 'taken', '--nproc', '2', '--master-port', String(port), '--dist-timeout', '20'], {});
      const result = await taken.done;
      assert.equal(result.status, 1);
      assert.match(result.stderr, new RegExp(`rank 0 cannot listen on 127\\.0\\.0\\.1:${port}: the port is taken`));
      assert.match(result.stderr, /tunekit: rank 0 \(pid \d+\) exited with status 1; stopping the other ranks/);
    } finally {
      server.close();
    }
    const orphan = train(['--method', 'full', '--output-dir', 'orphan', '--nnodes', '2']);
    assert.equal(orphan.status, 1);
    assert.match(orphan.stderr, /--nnodes needs --nproc N/);
    const alone = train(['--method', 'full', '--output-dir', 'alone', '--shard-optimizer']);
    assert.equal(alone.status, 1);
    assert.match(alone.stderr, /--shard-optimizer shards the optimizer state over data parallel ranks/);
  });

  it('kill -9 of one worker ends the job non-zero within the timeout, naming the rank', async () => {
    const launcher = start(['--method', 'full', '--per-device-train-batch-size', '2', '--max-steps', '100000', '--save-strategy', 'no', '--output-dir', 'killed', '--nproc', '2', '--master-port', String(await freePort()), '--dist-timeout', '10'], {});
    await new Promise<void>((resolve) => launcher.child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('"event":"step"') && resolve()));
    const children = readFileSync(`/proc/${launcher.child.pid}/task/${launcher.child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    const rank1 = children.find((pid) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('RANK=1'));
    assert.ok(rank1 !== undefined);
    const killed = Date.now();
    process.kill(rank1, 'SIGKILL');
    const result = await launcher.done;
    assert.ok(Date.now() - killed < 15_000, 'ended within the timeout');
    assert.equal(result.status, 1);
    assert.match(result.stderr, new RegExp(`rank 1 \\(pid ${rank1}\\) was killed by SIGKILL; stopping the other ranks`));
  });
});

// Two "hosts": network namespaces joined by a veth pair, made here and removed after (root with CAP_NET_ADMIN only).
const namespaces = [`tkddp${process.pid}a`, `tkddp${process.pid}b`];
function makeHosts(): string | false {
  const sh = (command: string) => spawnSync('sh', ['-c', command], { encoding: 'utf8' });
  const [a, b] = namespaces;
  const setup = sh(
    [`ip netns add ${a}`, `ip netns add ${b}`, `ip link add tkv${process.pid}a netns ${a} type veth peer name tkv${process.pid}b netns ${b}`,
      `ip -n ${a} addr add 10.231.0.1/24 dev tkv${process.pid}a`, `ip -n ${b} addr add 10.231.0.2/24 dev tkv${process.pid}b`,
      `ip -n ${a} link set tkv${process.pid}a up`, `ip -n ${b} link set tkv${process.pid}b up`, `ip -n ${a} link set lo up`, `ip -n ${b} link set lo up`].join(' && '),
  );
  if (setup.status !== 0) {
    removeHosts();
    return `cannot make network namespaces here (${setup.stderr.trim().split('\n')[0]})`;
  }
  return false;
}
function removeHosts(): void {
  for (const name of namespaces) spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
}

describe('--nnodes 2 over a non-loopback address (two network namespaces)', { skip: skip || (process.getuid?.() !== 0 ? 'needs root for ip netns' : false) }, () => {
  it('two single-process nodes train as one process × the global batch', async (t) => {
    const cannot = makeHosts();
    if (cannot !== false) return t.skip(cannot);
    try {
      const one = train(['--method', 'full', '--per-device-train-batch-size', '4', '--output-dir', 'nodes-one']);
      assert.equal(one.status, 0, one.stderr);
      const port = String(await freePort());
      const nodes = namespaces.map((namespace, node) => {
        const args = [cli, 'train', ...common, '--method', 'full', '--per-device-train-batch-size', '2', '--output-dir', `nodes-${node}`, '--nproc', '1', '--nnodes', '2', '--node-rank', String(node), '--master-addr', '10.231.0.1', '--master-port', port, '--dist-timeout', '30'];
        const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, ...args], { cwd: scratch, env: { ...env, GLOO_SOCKET_IFNAME: `tkv${process.pid}${node === 0 ? 'a' : 'b'}` } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk) => (stdout += chunk));
        child.stderr.on('data', (chunk) => (stderr += chunk));
        return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
      });
      const [node0, node1] = await Promise.all(nodes);
      assert.equal(node0.status, 0, node0.stderr);
      assert.equal(node1.status, 0, node1.stderr);
      assertClose(losses(node0.stdout), losses(one.stdout), 1e-5);
    } finally {
      removeHosts();
    }
  });
});
