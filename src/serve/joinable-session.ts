import { KVCache } from '../models/kv-cache.js';
import type { CausalLM } from '../models/types.js';
import { cat, tensor } from '../torch/ops.js';
import { type Tensor, tidy } from '../torch/tensor.js';

/** The attention mask of left-padded rows: `pads[r]` zeros, then ones up to `width`. */
function maskFor(pads: readonly number[], width: number): Tensor {
  return tensor(
    pads.map((pad) => Array.from({ length: width }, (_, column) => (column < pad ? 0 : 1))),
    { dtype: 'int64' },
  );
}

/** Left-pads prompts to one length: ids, pads per row, and positions as `positionsFromMask` gives them. */
function leftPadded(prompts: readonly number[][]): { ids: number[][]; pads: number[]; positions: number[][] } {
  const width = Math.max(...prompts.map((prompt) => prompt.length));
  const pads = prompts.map((prompt) => width - prompt.length);
  return {
    ids: prompts.map((prompt, r) => [...new Array<number>(pads[r]).fill(0), ...prompt]),
    pads,
    positions: prompts.map((_, r) => Array.from({ length: width }, (_, column) => (column < pads[r] ? 1 : column - pads[r]))),
  };
}

/**
 * A decoder-only batch that rows join and leave between steps (continuous batching). Each row is left-padded:
 * `pads[r]` leading cache positions are masked out, and its positions count its own tokens only, so a row
 * computes what it would alone. Joining rows are prefilled in a cache of their own, then merged in; padding
 * no row needs is trimmed when rows leave. Without padding anywhere, no mask is passed (the plain causal path,
 * as `generate()` takes for one prompt).
 */
export class JoinableSession {
  #cache = new KVCache();
  #pads: number[] = [];

  constructor(private readonly model: CausalLM) {}

  get rows(): number {
    return this.#pads.length;
  }

  /** Cache positions per row (padding included). */
  get width(): number {
    return this.#cache.length();
  }

  /**
   * One step: the next-token logits [rows + prompts, vocab] of the current rows given their `tokens` (none on
   * the first call) followed by those of the `prompts` joining now, which become the last rows.
   */
  advance(tokens: readonly number[] | null, prompts: readonly number[][]): Tensor {
    return tidy(() => {
      const parts: Tensor[] = [];
      if (tokens !== null && this.rows > 0) parts.push(this.stepRows(tokens));
      if (prompts.length > 0) parts.push(this.joinRows(prompts));
      return parts.length === 1 ? parts[0] : cat(parts, 0);
    });
  }

  /** The next-token logits [rows, vocab] of the current rows, given the token each took last. */
  step(tokens: readonly number[]): Tensor {
    return tidy(() => this.stepRows(tokens));
  }

  /** Prefills `prompts` as new last rows; their next-token logits [prompts, vocab]. */
  join(prompts: readonly number[][]): Tensor {
    return tidy(() => this.joinRows(prompts));
  }

  private stepRows(tokens: readonly number[]): Tensor {
    const padded = this.#pads.some((pad) => pad > 0);
    const width = this.width;
    const ids = tensor([...tokens], { dtype: 'int64', shape: [tokens.length, 1] });
    const attentionMask = padded ? maskFor(this.#pads, width + 1) : null;
    const positionIds = padded ? tensor(this.#pads.map((pad) => [width - pad]), { dtype: 'int64' }) : undefined;
    return this.model.forward(ids, { attentionMask, positionIds, cache: this.#cache, lastOnly: true }).squeeze(1).float();
  }

  private joinRows(prompts: readonly number[][]): Tensor {
    const { ids, pads, positions } = leftPadded(prompts);
    const padded = pads.some((pad) => pad > 0);
    const fresh = new KVCache();
    const logits = this.model
      .forward(tensor(ids, { dtype: 'int64' }), {
        attentionMask: padded ? maskFor(pads, ids[0].length) : null,
        positionIds: padded ? tensor(positions, { dtype: 'int64' }) : undefined,
        cache: fresh,
        lastOnly: true,
      })
      .squeeze(1)
      .float();
    if (this.rows === 0) {
      this.#cache.dispose();
      this.#cache = fresh;
      this.#pads = pads;
    } else {
      const { padded: mine, otherPadded: theirs } = this.#cache.merge(fresh);
      this.#pads = [...this.#pads.map((pad) => pad + mine), ...pads.map((pad) => pad + theirs)];
    }
    return logits;
  }

  /** Keeps the rows `rows` (in that order) and drops the padding none of them needs. */
  select(rows: readonly number[]): void {
    tidy(() => {
      this.#cache.select(tensor([...rows], { dtype: 'int64' }));
      return undefined;
    });
    this.#pads = rows.map((row) => this.#pads[row]);
    const unused = Math.min(...this.#pads);
    if (unused > 0) {
      this.#cache.trimLeft(unused);
      this.#pads = this.#pads.map((pad) => pad - unused);
    }
  }

  dispose(): void {
    this.#cache.dispose();
    this.#pads = [];
  }
}
