// A face over the addon's c10d process group (torch.distributed with the Gloo backend): the collectives data
// parallel training needs, each blocking until every rank took part, errors as TunekitErrors naming the rank.
import { TunekitError } from '../errors.js';
import { native } from './native.js';
import type { Tensor } from './tensor.js';

export const DISTRIBUTED_ERROR = 'E_DISTRIBUTED';

export interface ProcessGroupOptions {
  rank: number;
  worldSize: number;
  /** The host of rank 0's TCPStore (torchrun's MASTER_ADDR). */
  masterAddr: string;
  /** Its port (MASTER_PORT). */
  masterPort: number;
  /** How long rendezvous and each collective may wait for the other ranks (default 60 s). */
  timeoutMs?: number;
}

/** Whether this build of the addon has the distributed part (it needs Gloo's headers, Debian's libgloo-dev). */
export function distributedAvailable(): boolean {
  return native().distributedBackends().includes('gloo');
}

export function requireDistributed(): void {
  if (!distributedAvailable()) {
    throw new TunekitError(
      DISTRIBUTED_ERROR,
      "this tunekit addon was built without data parallel training: it needs Gloo's C++ headers (Debian/Ubuntu: " +
        '`apt-get install libgloo-dev`, or GLOO_INCLUDE=/path), then `node native/build.mjs` (or `npm rebuild tunekit`)',
    );
  }
}

function checkRank(options: ProcessGroupOptions): void {
  const { rank, worldSize, masterPort } = options;
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new TunekitError(DISTRIBUTED_ERROR, `world size must be a positive integer, got ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new TunekitError(DISTRIBUTED_ERROR, `rank must be an integer in [0, ${worldSize}), got ${rank}`);
  if (!Number.isInteger(masterPort) || masterPort < 1 || masterPort > 65535) throw new TunekitError(DISTRIBUTED_ERROR, `master port must be an integer in [1, 65535], got ${masterPort}`);
  if (options.masterAddr === '') throw new TunekitError(DISTRIBUTED_ERROR, 'master address is empty');
}

/** c10d's rendezvous errors, said in terms of the launcher's settings. */
function rendezvousError(error: unknown, options: ProcessGroupOptions, timeoutMs: number): TunekitError {
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  const where = `${options.masterAddr}:${options.masterPort}`;
  if (options.rank === 0 && /EADDRINUSE|address already in use/i.test(message)) {
    return new TunekitError(DISTRIBUTED_ERROR, `rank 0 cannot listen on ${where}: the port is taken by another process; choose another --master-port (${message})`);
  }
  if (options.rank !== 0) {
    return new TunekitError(DISTRIBUTED_ERROR, `rank ${options.rank} could not reach the master at ${where} within ${timeoutMs / 1000} s: check --master-addr/--master-port and that rank 0 is running (${message})`);
  }
  return new TunekitError(DISTRIBUTED_ERROR, `rank 0: rendezvous at ${where} failed: not all ${options.worldSize} ranks joined within ${timeoutMs / 1000} s (${message})`);
}

/** torch.distributed's process group over c10d (TCPStore rendezvous, ProcessGroupGloo). */
export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly timeoutMs: number;
  #id: number | null;

  private constructor(id: number, rank: number, worldSize: number, timeoutMs: number) {
    this.#id = id;
    this.rank = rank;
    this.worldSize = worldSize;
    this.timeoutMs = timeoutMs;
  }

  /** Rendezvous (rank 0 serves the store), blocking until all ranks joined or the timeout passed. */
  static init(options: ProcessGroupOptions): ProcessGroup {
    requireDistributed();
    checkRank(options);
    const timeoutMs = options.timeoutMs ?? 60_000;
    const addon = native();
    let id: number;
    try {
      id = addon.distCreateGroup!({ masterAddr: options.masterAddr, masterPort: options.masterPort, rank: options.rank, worldSize: options.worldSize, timeoutMs });
    } catch (error) {
      throw rendezvousError(error, options, timeoutMs);
    }
    return new ProcessGroup(id, options.rank, options.worldSize, timeoutMs);
  }

  get isOpen(): boolean {
    return this.#id !== null;
  }

  #collective(op: 'allreduce' | 'broadcast' | 'allgather' | 'reduceScatter' | 'barrier', tensor?: Tensor, other?: Tensor | number): void {
    if (this.#id === null) throw new TunekitError(DISTRIBUTED_ERROR, `rank ${this.rank}: ${op} on a destroyed process group`);
    try {
      native().distCollective!(this.#id, op, tensor?.handle, typeof other === 'number' ? other : other?.handle);
    } catch (error) {
      const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new TunekitError(DISTRIBUTED_ERROR, `rank ${this.rank}: ${op} failed (a peer rank died or did not answer within ${this.timeoutMs / 1000} s?): ${message}`);
    }
  }

  /** Sums a contiguous tensor over all ranks, in place (dist.all_reduce). */
  allReduce(tensor: Tensor): void {
    this.#collective('allreduce', tensor);
  }

  /** Overwrites `tensor` with root's (dist.broadcast). */
  broadcast(tensor: Tensor, root = 0): void {
    this.#collective('broadcast', tensor, root);
  }

  /** `output` (worldSize × input's elements) gets every rank's input in rank order (dist.all_gather_into_tensor). */
  allGather(output: Tensor, input: Tensor): void {
    this.#collective('allgather', output, input);
  }

  /** `output` gets this rank's slice of the sum over ranks of `input` (dist.reduce_scatter_tensor, SUM). */
  reduceScatter(output: Tensor, input: Tensor): void {
    this.#collective('reduceScatter', output, input);
  }

  barrier(): void {
    this.#collective('barrier');
  }

  /** dist.destroy_process_group: closes the pairs and the store. */
  destroy(): void {
    if (this.#id === null) return;
    native().distDestroyGroup!(this.#id);
    this.#id = null;
  }
}
