import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TunekitError } from '../errors.js';

/** A libtorch tensor held by the addon's table: a number naming its slot (and the slot's generation). */
export type TensorHandle = number & { readonly __tensorHandle: unique symbol };

/** The functions native/src/addon.cc exports. */
export interface NativeAddon {
  opHandle(name: string, overload: string): number;
  opSchema(handle: number): string;
  /** The type of each return of an operator ("Tensor", "Tensor[]", "Tensor?", "int", …). */
  opReturns(handle: number): string[];
  call(handle: number, args: unknown[]): unknown;
  fromBytes(bytes: ArrayBufferView, dtype: number, shape: readonly number[]): TensorHandle;
  toBytes(tensor: TensorHandle): ArrayBuffer;
  shape(tensor: TensorHandle): number[];
  dtype(tensor: TensorHandle): number;
  device(tensor: TensorHandle): string;
  item(tensor: TensorHandle): number | boolean;
  dispose(tensor: TensorHandle): void;
  /** Reports the tensor's bytes to V8 as external memory (for tensors only the garbage collector may free). */
  reportToGc(tensor: TensorHandle): void;
  requiresGrad(tensor: TensorHandle): boolean;
  setRequiresGrad(tensor: TensorHandle, value: boolean): void;
  grad(tensor: TensorHandle): TensorHandle | null;
  setGrad(tensor: TensorHandle, grad: TensorHandle | null): void;
  isLeaf(tensor: TensorHandle): boolean;
  retainGrad(tensor: TensorHandle): void;
  backward(tensor: TensorHandle, gradient: TensorHandle | null, retainGraph?: boolean): void;
  setGradEnabled(enabled: boolean): boolean;
  isGradEnabled(): boolean;
  /** Enters or leaves PyTorch's inference mode on this thread; returns whether it was on. */
  setInferenceMode(enabled: boolean): boolean;
  manualSeed(seed: number): void;
  getCpuRngState(): Uint8Array;
  setCpuRngState(state: Uint8Array): void;
  setAutocast(device: 'cpu' | 'cuda', enabled: boolean, dtype: 'bfloat16' | 'float16'): boolean;
  setNumThreads(threads: number): void;
  getNumThreads(): number;
  memory(): { liveTensors: number; liveBytes: number };
  cudaDeviceCount(): number;
  version(): string;
  nf4Quantize(weight: TensorHandle, blockSize: number, scaleBlockSize: number): TensorHandle[];
  nf4Dequantize(
    codes: TensorHandle,
    scaleCodes: TensorHandle,
    scaleScales: TensorHandle,
    scaleOffset: TensorHandle,
    shape: readonly number[],
    dtype: number,
    blockSize: number,
    scaleBlockSize: number,
    withTensorOps?: boolean,
  ): TensorHandle;
  nf4Linear(
    input: TensorHandle,
    codes: TensorHandle,
    scaleCodes: TensorHandle,
    scaleScales: TensorHandle,
    scaleOffset: TensorHandle,
    shape: readonly number[],
    blockSize: number,
    scaleBlockSize: number,
  ): TensorHandle;
  nf4Levels(): number[];
  /** The process group backends this build has: ['gloo'], or [] when it was built without Gloo's headers. */
  distributedBackends(): string[];
  distCreateGroup?(options: { masterAddr: string; masterPort: number; rank: number; worldSize: number; timeoutMs: number }): number;
  distDestroyGroup?(group: number): void;
  distCollective?(group: number, op: 'allreduce' | 'broadcast' | 'allgather' | 'reduceScatter' | 'barrier', tensor?: TensorHandle, other?: TensorHandle | number): void;
}

function findAddon(): string {
  if (process.env.TUNEKIT_ADDON) return process.env.TUNEKIT_ADDON;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'native', 'build', 'Release', 'tunekit.node');
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new TunekitError(
    'E_NO_ADDON',
    "tunekit's native addon is not built. It needs libtorch >= 2.1: `pip install torch` (or set LIBTORCH=/path), " +
      'then `npm rebuild tunekit` (or `node native/build.mjs` in a checkout).',
  );
}

let loaded: NativeAddon | undefined;

/** The addon, loaded on first use so that code paths without tensors never need libtorch. */
export function native(): NativeAddon {
  if (loaded === undefined) {
    const require = createRequire(import.meta.url);
    loaded = require(findAddon()) as NativeAddon;
    loaded.setNumThreads(defaultNumThreads());
  }
  return loaded;
}

/** The thread count tunekit uses unless told otherwise: TUNEKIT_THREADS, else the cores available. */
export function defaultNumThreads(): number {
  const fromEnvironment = Number(process.env.TUNEKIT_THREADS);
  return Number.isInteger(fromEnvironment) && fromEnvironment > 0 ? fromEnvironment : availableParallelism();
}
