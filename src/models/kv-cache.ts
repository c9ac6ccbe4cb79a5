import { cat } from '../torch/ops.js';
import { Tensor } from '../torch/tensor.js';

interface Entry {
  key: Tensor;
  value: Tensor;
}

/**
 * Keys and values of past positions, per layer, as [batch, kv_heads, length, head_dim]. The cache owns its tensors
 * (they survive `tidy`); `dispose()` frees them.
 */
export class KVCache {
  readonly #layers = new Map<string, Entry>();

  /** Positions cached so far (of the first self-attention layer). */
  length(layer = '0'): number {
    const entry = this.#layers.get(layer);
    return entry === undefined ? 0 : entry.key.shape[2];
  }

  get(layer: string): Entry | undefined {
    return this.#layers.get(layer);
  }

  /** Appends new keys/values along the sequence and returns the full ones (owned by the cache). */
  append(layer: string, key: Tensor, value: Tensor): Entry {
    const previous = this.#layers.get(layer);
    const entry = previous === undefined ? { key: key.alias().keep(), value: value.alias().keep() } : { key: cat([previous.key, key], 2).keep(), value: cat([previous.value, value], 2).keep() };
    previous?.key.dispose();
    previous?.value.dispose();
    this.#layers.set(layer, entry);
    return entry;
  }

  /** Stores keys/values that never grow (T5 cross-attention over the encoder output). */
  setStatic(layer: string, key: Tensor, value: Tensor): Entry {
    const entry = { key: key.keep(), value: value.keep() };
    this.#layers.get(layer)?.key.dispose();
    this.#layers.get(layer)?.value.dispose();
    this.#layers.set(layer, entry);
    return entry;
  }

  /** Keeps the batch rows `indices` (in that order): beam search reorders hypotheses. */
  select(indices: Tensor): void {
    for (const [name, entry] of this.#layers) {
      const key = entry.key.indexSelect(0, indices).keep();
      const value = entry.value.indexSelect(0, indices).keep();
      entry.key.dispose();
      entry.value.dispose();
      this.#layers.set(name, { key, value });
    }
  }

  dispose(): void {
    for (const entry of this.#layers.values()) {
      entry.key.dispose();
      entry.value.dispose();
    }
    this.#layers.clear();
  }
}
