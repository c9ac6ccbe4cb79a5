import { arange, full, where } from '../torch/ops.js';
import { type DType } from '../torch/dtype.js';
import { Tensor } from '../torch/tensor.js';

/** The most negative finite value of a float dtype: Hugging Face masks with it instead of -inf, so a fully masked row stays finite. */
export function maskValue(dtype: DType): number {
  switch (dtype) {
    case 'float64':
      return -Number.MAX_VALUE;
    case 'float16':
      return -65504;
    case 'bfloat16':
      return -3.3895313892515355e38;
    default:
      return -3.4028234663852886e38;
  }
}

/**
 * Additive mask [batch, 1, queries, keys]: 0 where a query may attend a key, the dtype's minimum elsewhere.
 * `keyMask` [batch, keys] marks real tokens (1) and padding (0); `causal` also hides keys after each query, whose
 * absolute positions are `pastLength`…`pastLength+queries-1`.
 */
export function additiveMask(options: {
  keyMask?: Tensor | null;
  batch: number;
  queries: number;
  keys: number;
  pastLength: number;
  causal: boolean;
  /** Causal only: a query sees at most this many most recent keys (itself included), as Mistral's sliding window. */
  slidingWindow?: number | null;
  dtype: DType;
}): Tensor {
  const { keyMask, queries, keys, pastLength, causal, dtype } = options;
  let allowed: Tensor | null = null;
  if (causal) {
    const keyPositions = arange(keys).unsqueeze(0);
    const queryPositions = arange(pastLength, pastLength + queries).unsqueeze(1);
    let visible = keyPositions.le(queryPositions);
    if (options.slidingWindow !== undefined && options.slidingWindow !== null) {
      visible = visible.logicalAnd(queryPositions.sub(keyPositions).lt(options.slidingWindow));
    }
    allowed = visible.unsqueeze(0).unsqueeze(0);
  }
  if (keyMask !== null && keyMask !== undefined) {
    const keyAllowed = keyMask.ne(0).unsqueeze(1).unsqueeze(1);
    allowed = allowed === null ? keyAllowed : allowed.logicalAnd(keyAllowed);
  }
  if (allowed === null) return full([options.batch, 1, queries, keys], 0, { dtype });
  return where(allowed, 0, maskValue(dtype)).to(dtype).expand([options.batch, 1, queries, keys]);
}

/** Position ids for left-padded rows: the i-th real token gets position i; padding gets 1 (as transformers' generate). */
export function positionsFromMask(attentionMask: Tensor): Tensor {
  const positions = attentionMask.long().cumsum(-1).sub(1);
  return positions.maskedFill(attentionMask.eq(0), 1);
}

/**
 * The mask a decoder-only forward needs, or null when a plain causal attention suffices (no padding, no cached
 * keys seen by several queries, sliding window not reached): sdpa's own causal path is faster.
 */
export function decoderMask(options: {
  attentionMask?: Tensor | null;
  batch: number;
  length: number;
  pastLength: number;
  slidingWindow?: number | null;
  dtype: DType;
}): Tensor | null {
  const { attentionMask, batch, length, pastLength, dtype } = options;
  const window = options.slidingWindow ?? null;
  const padded = attentionMask !== undefined && attentionMask !== null;
  const needed = padded || (pastLength > 0 && length > 1) || (window !== null && pastLength + length > window);
  if (!needed) return null;
  return additiveMask({ keyMask: attentionMask, batch, queries: length, keys: pastLength + length, pastLength, causal: true, slidingWindow: window, dtype });
}
