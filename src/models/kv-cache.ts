import { cat, empty, zeros } from '../torch/ops.js';
import { Tensor, tidy } from '../torch/tensor.js';

interface Entry {
  /** [batch, heads, capacity, head_dim]; positions 0…length-1 are filled. */
  key: Tensor;
  value: Tensor;
  length: number;
  /** Static entries (T5 cross-attention) never grow. */
  fixed: boolean;
}

/**
 * Keys and values of past positions, per layer, as [batch, kv_heads, length, head_dim]. Self-attention entries live
 * in buffers that double when full, so a long generation copies each position a constant number of times instead of
 * re-concatenating the whole cache at every step. The cache owns its buffers (they survive `tidy`); `dispose()`
 * frees them.
 */
export class KVCache {
  readonly #layers = new Map<string, Entry>();

  /** Positions cached so far (of the first self-attention layer). */
  length(layer = '0'): number {
    return this.#layers.get(layer)?.length ?? 0;
  }

  private view(entry: Entry): { key: Tensor; value: Tensor } {
    if (entry.fixed) return { key: entry.key, value: entry.value };
    return { key: entry.key.narrow(2, 0, entry.length), value: entry.value.narrow(2, 0, entry.length) };
  }

  get(layer: string): { key: Tensor; value: Tensor } | undefined {
    const entry = this.#layers.get(layer);
    return entry === undefined ? undefined : this.view(entry);
  }

  /** Appends new keys/values along the sequence and returns views of all positions so far. */
  append(layer: string, key: Tensor, value: Tensor): { key: Tensor; value: Tensor } {
    let entry = this.#layers.get(layer);
    const added = key.shape[2];
    const needed = (entry?.length ?? 0) + added;
    if (entry === undefined || entry.key.shape[2] < needed) {
      const capacity = Math.max(needed, 2 * (entry?.key.shape[2] ?? 0), 64);
      const grow = (source: Tensor, old: Tensor | undefined): Tensor =>
        tidy(() => {
          const [batch, heads, , width] = source.shape;
          const buffer = empty([batch, heads, capacity, width], { dtype: source.dtype, device: source.device as 'cpu' });
          if (old !== undefined && entry !== undefined && entry.length > 0) buffer.narrow(2, 0, entry.length).copy_(old.narrow(2, 0, entry.length));
          return buffer;
        }).keep();
      const grown: Entry = { key: grow(key, entry?.key), value: grow(value, entry?.value), length: entry?.length ?? 0, fixed: false };
      entry?.key.dispose();
      entry?.value.dispose();
      entry = grown;
      this.#layers.set(layer, entry);
    }
    const start = entry.length;
    tidy(() => {
      (entry as Entry).key.narrow(2, start, added).copy_(key);
      (entry as Entry).value.narrow(2, start, added).copy_(value);
      return undefined;
    });
    entry.length = needed;
    return this.view(entry);
  }

  /** Stores keys/values that never grow (T5 cross-attention over the encoder output). */
  setStatic(layer: string, key: Tensor, value: Tensor): { key: Tensor; value: Tensor } {
    this.#layers.get(layer)?.key.dispose();
    this.#layers.get(layer)?.value.dispose();
    const entry: Entry = { key: key.keep(), value: value.keep(), length: key.shape[2], fixed: true };
    this.#layers.set(layer, entry);
    return this.view(entry);
  }

  /** Keeps the batch rows `indices` (in that order): beam search reorders hypotheses. */
  select(indices: Tensor): void {
    for (const entry of this.#layers.values()) {
      const key = entry.key.indexSelect(0, indices).keep();
      const value = entry.value.indexSelect(0, indices).keep();
      entry.key.dispose();
      entry.value.dispose();
      entry.key = key;
      entry.value = value;
    }
  }

  /**
   * Appends the rows of `other` after this cache's rows (continuous batching: requests join a batch between
   * steps). The shorter of the two is left-padded with zero positions to the longer length; the caller masks
   * them. Returns the padding each side got. `other` is emptied. Self-attention entries only.
   */
  merge(other: KVCache): { padded: number; otherPadded: number } {
    const length = this.length();
    const otherLength = other.length();
    const target = Math.max(length, otherLength);
    for (const [layer, entry] of this.#layers) {
      const incoming = other.#layers.get(layer);
      if (entry.fixed || incoming === undefined || incoming.fixed) throw new Error(`KVCache.merge: layer ${layer} is not a self-attention entry of both caches`);
      const join = (mine: Tensor, theirs: Tensor): Tensor =>
        tidy(() => {
          const padLeft = (buffer: Tensor, filled: number): Tensor => {
            const view = buffer.narrow(2, 0, filled);
            if (filled === target) return view;
            const [batch, heads, , width] = buffer.shape;
            return cat([zeros([batch, heads, target - filled, width], { dtype: buffer.dtype, device: buffer.device as 'cpu' }), view], 2);
          };
          return cat([padLeft(mine, entry.length), padLeft(theirs, incoming.length)], 0);
        }).keep();
      const key = join(entry.key, incoming.key);
      const value = join(entry.value, incoming.value);
      entry.key.dispose();
      entry.value.dispose();
      this.#layers.set(layer, { key, value, length: target, fixed: false });
    }
    other.dispose();
    return { padded: target - length, otherPadded: target - otherLength };
  }

  /** Drops the first `positions` positions of every row (padding no row needs any more). */
  trimLeft(positions: number): void {
    if (positions <= 0) return;
    for (const [layer, entry] of this.#layers) {
      if (entry.fixed) continue;
      const cut = (buffer: Tensor): Tensor => tidy(() => buffer.narrow(2, positions, entry.length - positions).contiguous()).keep();
      const key = cut(entry.key);
      const value = cut(entry.value);
      entry.key.dispose();
      entry.value.dispose();
      this.#layers.set(layer, { key, value, length: entry.length - positions, fixed: false });
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

