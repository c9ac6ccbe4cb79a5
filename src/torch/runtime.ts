import { native } from './native.js';

export { defaultNumThreads } from './native.js';

/** Seeds libtorch's generators (CPU and CUDA) so random tensors, dropout and sampling repeat. */
export function manualSeed(seed: number): void {
  native().manualSeed(seed);
}

/** The CPU generator's state (torch.get_rng_state): a checkpoint keeps it so a resumed run draws the same numbers. */
export function getCpuRngState(): Uint8Array {
  return native().getCpuRngState();
}

export function setCpuRngState(state: Uint8Array): void {
  native().setCpuRngState(state);
}

/**
 * Runs `work` under torch.autocast(device, dtype): matrix products and the other ops autocast lists compute in
 * `dtype` while parameters stay float32 (mixed precision); the previous setting is restored after.
 */
export function autocast<T>(device: 'cpu' | 'cuda', dtype: 'bfloat16' | 'float16', work: () => T): T {
  const previous = native().setAutocast(device, true, dtype);
  try {
    return work();
  } finally {
    native().setAutocast(device, previous, dtype);
  }
}

/** libtorch's intra-op threads (OpenMP and its BLAS share this pool, so they do not oversubscribe). */
export function setNumThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  native().setNumThreads(threads);
}

export function getNumThreads(): number {
  return native().getNumThreads();
}

export interface MemoryInfo {
  /** Tensor handles alive (created and not yet disposed or collected). */
  liveTensors: number;
  /** Bytes those handles view (a view counts its own elements, so shared storage can be counted twice). */
  liveBytes: number;
}

export function memory(): MemoryInfo {
  return native().memory();
}

/** Runs `fn` with gradient recording off (PyTorch's `torch.no_grad()`); `fn` must be synchronous. */
export function noGrad<T>(fn: () => T): T {
  const previous = native().setGradEnabled(false);
  try {
    return fn();
  } finally {
    native().setGradEnabled(previous);
  }
}

/**
 * Runs `fn` in PyTorch's inference mode: like `noGrad` but without any autograd bookkeeping, for pure inference.
 * Tensors made inside cannot take part in autograd later; `fn` must be synchronous.
 */
export function inferenceMode<T>(fn: () => T): T {
  const previous = native().setInferenceMode(true);
  try {
    return fn();
  } finally {
    if (!previous) native().setInferenceMode(false);
  }
}

/** Runs `fn` with gradient recording on, even inside `noGrad`. */
export function enableGrad<T>(fn: () => T): T {
  const previous = native().setGradEnabled(true);
  try {
    return fn();
  } finally {
    native().setGradEnabled(previous);
  }
}

export function isGradEnabled(): boolean {
  return native().isGradEnabled();
}

export function cudaDeviceCount(): number {
  return native().cudaDeviceCount();
}

export function cudaAvailable(): boolean {
  return cudaDeviceCount() > 0;
}

export function torchVersion(): string {
  return native().version();
}
