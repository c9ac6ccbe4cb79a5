/**
 * Data parallel training over a c10d process group, as torch's DistributedDataParallel and DistributedSampler do it:
 * each rank its interleaved shard of the epoch's order, parameters broadcast from rank 0 at the start, gradients
 * summed over ranks in ~25 MiB buckets in reverse parameter order after a step's last micro-batch, and the few
 * scalars the loop must agree on (supervised tokens, the logged loss, a stop request) summed alongside.
 */
import { createHash } from 'node:crypto';
import { TunekitError } from '../errors.js';
import { cat, tensor, zeros, zerosLike } from '../torch/ops.js';
import { DISTRIBUTED_ERROR, ProcessGroup } from '../torch/distributed.js';
import { noGrad } from '../torch/runtime.js';
import { type Tensor, tidy } from '../torch/tensor.js';
import { dtypeByteSize } from '../torch/dtype.js';

/** DistributedDataParallel's bucket_cap_mb default. */
export const BUCKET_BYTES = 25 * 2 ** 20;

/**
 * torch.utils.data.DistributedSampler's indices for `rank` (drop_last false): the epoch's order padded to a multiple
 * of the world size by repeating its start, then every worldSize-th index from `rank`.
 */
export function distributedSamplerIndices(order: readonly number[], rank: number, worldSize: number): number[] {
  const perRank = Math.ceil(order.length / worldSize);
  const total = perRank * worldSize;
  const padded = [...order];
  while (padded.length < total) padded.push(...order.slice(0, total - padded.length));
  const shard: number[] = [];
  for (let i = rank; i < total; i += worldSize) shard.push(padded[i]);
  return shard;
}

/** Parameters in DDP's bucket order: reversed (backward produces the last layers' gradients first), one dtype a bucket. */
export function gradientBuckets(parameters: readonly Tensor[], capBytes = BUCKET_BYTES): Tensor[][] {
  const buckets: Tensor[][] = [];
  const open = new Map<string, { bucket: Tensor[]; bytes: number }>();
  for (const parameter of [...parameters].reverse()) {
    const bytes = parameter.numel * dtypeByteSize[parameter.dtype];
    let current = open.get(parameter.dtype);
    if (current === undefined || (current.bytes > 0 && current.bytes + bytes > capBytes)) {
      current = { bucket: [], bytes: 0 };
      open.set(parameter.dtype, current);
      buckets.push(current.bucket);
    }
    current.bucket.push(parameter);
    current.bytes += bytes;
  }
  return buckets;
}

/** A stable hash of what every rank must agree on (the resolved config, the data sizes). */
export function configHash(value: unknown): string {
  const canonical = (item: unknown): unknown =>
    Array.isArray(item) ? item.map(canonical) : item !== null && typeof item === 'object' ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, canonical(v)])) : item;
  return createHash('sha256').update(JSON.stringify(canonical(value))).digest('hex');
}

/** One rank's side of data parallel training. */
export class DataParallel {
  readonly group: ProcessGroup;
  readonly #buckets: Tensor[][];

  constructor(group: ProcessGroup, parameters: readonly Tensor[]) {
    this.group = group;
    this.#buckets = gradientBuckets(parameters);
  }

  get rank(): number {
    return this.group.rank;
  }

  get worldSize(): number {
    return this.group.worldSize;
  }

  /** Fails on every rank, naming the ranks whose hash differs from rank 0's, when the ranks were started differently. */
  checkSameConfig(hash: string): void {
    const words = Array.from({ length: 6 }, (_, i) => Number.parseInt(hash.slice(i * 6, i * 6 + 6), 16));
    const differing = tidy(() => {
      const gathered = zeros([words.length * this.worldSize], { dtype: 'float64' });
      this.group.allGather(gathered, tensor(words, { dtype: 'float64' }));
      const all = gathered.toFlatArray();
      const differs: number[] = [];
      for (let rank = 1; rank < this.worldSize; rank++) if (words.some((_, i) => all[rank * words.length + i] !== all[i])) differs.push(rank);
      return differs;
    });
    if (differing.length > 0) {
      throw new TunekitError(DISTRIBUTED_ERROR, `rank ${differing.join(', ')} started with a different config than rank 0 (config hash mismatch): start every rank with the same flags, config file and data`);
    }
  }

  /** DDP's constructor: every rank starts from rank 0's parameters. */
  broadcastParameters(): void {
    for (const bucket of this.#buckets) {
      tidy(() =>
        noGrad(() => {
          const flat = cat(bucket.map((parameter) => parameter.detach().flatten()));
          this.group.broadcast(flat, 0);
          flat.split(bucket.map((parameter) => parameter.numel)).forEach((piece, i) => bucket[i].copy_(piece.view(bucket[i].shape)));
        }),
      );
    }
  }

  /**
   * Sums every gradient over the ranks (the loss is already normalized by all ranks' supervised tokens). A parameter
   * no rank produced a gradient for keeps none, as in one process; one some ranks lack counts zero there.
   */
  allReduceGradients(): void {
    const produced = tidy(() => {
      const flags = tensor(this.#buckets.flat().map((parameter) => (parameter.grad === null ? 0 : 1)), { dtype: 'float32' });
      this.group.allReduce(flags);
      return flags.toFlatArray();
    });
    let index = 0;
    for (const all of this.#buckets) {
      const bucket = all.filter(() => produced[index++] > 0);
      if (bucket.length === 0) continue;
      tidy(() =>
        noGrad(() => {
          const grads = bucket.map((parameter) => parameter.grad);
          const flat = cat(grads.map((grad, i) => (grad ?? zerosLike(bucket[i])).flatten()));
          this.group.allReduce(flat);
          flat.split(bucket.map((parameter) => parameter.numel)).forEach((piece, i) => {
            const summed = piece.view(bucket[i].shape);
            const grad = grads[i];
            if (grad === null) bucket[i].grad = summed.clone();
            else grad.copy_(summed);
          });
        }),
      );
    }
  }

  /** Sums numbers over the ranks in float64 (one collective). */
  sum(values: readonly number[]): number[] {
    return tidy(() => {
      const summed = tensor([...values], { dtype: 'float64' });
      this.group.allReduce(summed);
      return summed.toFlatArray();
    });
  }

  /** Every rank's bytes of equal length, in rank order (the CPU generators' states for a checkpoint). */
  gatherBytes(bytes: Uint8Array): Uint8Array[] {
    return tidy(() => {
      const gathered = zeros([bytes.length * this.worldSize], { dtype: 'uint8' });
      this.group.allGather(gathered, tensor(bytes));
      const all = gathered.bytes();
      return Array.from({ length: this.worldSize }, (_, rank) => all.slice(rank * bytes.length, (rank + 1) * bytes.length));
    });
  }

  barrier(): void {
    this.group.barrier();
  }
}

/** The environment torchrun gives each worker (and `tunekit train --nproc` too). */
export interface WorkerEnvironment {
  rank: number;
  localRank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  timeoutMs: number;
}

function integerVariable(env: NodeJS.ProcessEnv, name: string, fallback?: number): number {
  const text = env[name];
  if (text === undefined || text === '') {
    if (fallback !== undefined) return fallback;
    throw new TunekitError(DISTRIBUTED_ERROR, `${name} is not set: a data parallel worker needs RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (as torchrun sets them)`);
  }
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) throw new TunekitError(DISTRIBUTED_ERROR, `${name} must be a non-negative integer, got "${text}"`);
  return value;
}

/**
 * torchrun's contract read from `env`: null when WORLD_SIZE is absent or 1 (a single process). TUNEKIT_DIST_TIMEOUT
 * (seconds, default 60) bounds rendezvous and every collective.
 */
export function workerEnvironment(env: NodeJS.ProcessEnv = process.env): WorkerEnvironment | null {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === '') return null;
  const worldSize = integerVariable(env, 'WORLD_SIZE');
  if (worldSize <= 1) return null;
  const rank = integerVariable(env, 'RANK');
  if (rank >= worldSize) throw new TunekitError(DISTRIBUTED_ERROR, `RANK ${rank} is not below WORLD_SIZE ${worldSize}`);
  const timeout = env.TUNEKIT_DIST_TIMEOUT === undefined ? 60 : Number(env.TUNEKIT_DIST_TIMEOUT);
  if (!(timeout > 0)) throw new TunekitError(DISTRIBUTED_ERROR, `TUNEKIT_DIST_TIMEOUT must be a positive number of seconds, got "${env.TUNEKIT_DIST_TIMEOUT}"`);
  const masterAddr = env.MASTER_ADDR;
  if (masterAddr === undefined || masterAddr === '') throw new TunekitError(DISTRIBUTED_ERROR, 'MASTER_ADDR is not set: a data parallel worker needs the address of rank 0');
  return { rank, localRank: integerVariable(env, 'LOCAL_RANK', rank), worldSize, masterAddr, masterPort: integerVariable(env, 'MASTER_PORT'), timeoutMs: Math.round(timeout * 1000) };
}

/** The worker's process group (rendezvous at MASTER_ADDR:MASTER_PORT), or null outside data parallel training. */
export function processGroupFromEnvironment(env: NodeJS.ProcessEnv = process.env): ProcessGroup | null {
  const worker = workerEnvironment(env);
  return worker === null ? null : ProcessGroup.init(worker);
}
