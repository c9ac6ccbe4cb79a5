import { TunekitError } from '../errors.js';
import { arange, cat, full, where, zeros } from '../torch/ops.js';
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
  /** [batch, queries] packed-sequence index of each position (no cache): a query sees only keys of its own sequence. */
  segments?: Tensor | null;
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
  if (options.segments !== undefined && options.segments !== null) {
    const sameSequence = options.segments.unsqueeze(2).eq(options.segments.unsqueeze(1)).unsqueeze(1);
    allowed = allowed === null ? sameSequence : allowed.logicalAnd(sameSequence);
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
  /** From `packedSegments`: a block-diagonal causal mask, one block per packed sequence. */
  segments?: Tensor | null;
  dtype: DType;
}): Tensor | null {
  const { attentionMask, batch, length, pastLength, dtype } = options;
  const window = options.slidingWindow ?? null;
  const segments = options.segments ?? null;
  const padded = attentionMask !== undefined && attentionMask !== null;
  const needed = padded || segments !== null || (pastLength > 0 && length > 1) || (window !== null && pastLength + length > window);
  if (!needed) return null;
  return additiveMask({ keyMask: attentionMask, batch, queries: length, keys: pastLength + length, pastLength, causal: true, slidingWindow: window, segments, dtype });
}

/**
 * Which packed sequence each position belongs to [batch, length], or null when no row holds more than one.
 * A sequence starts wherever a position id is not the previous one plus 1 (so at every restart at 0), the rule
 * of transformers 5.17's find_packed_sequence_indices. Position ids [1, length] serve every row.
 */
export function packedSequenceIndices(positionIds: Tensor, batch: number): Tensor | null {
  if (positionIds.ndim !== 2 || (positionIds.shape[0] !== batch && positionIds.shape[0] !== 1)) {
    throw new TunekitError('E_BATCH', `positionIds must be [${batch}, length] or [1, length], got [${positionIds.shape.join(', ')}]`);
  }
  const rows = positionIds.expand([batch, positionIds.shape[1]]);
  const length = rows.shape[1];
  if (length < 2) return null;
  const starts = rows.narrow(1, 1, length - 1).sub(rows.narrow(1, 0, length - 1)).ne(1).long();
  const indices = cat([zeros([batch, 1], { dtype: 'int64' }), starts], 1).cumsum(-1);
  return indices.narrow(1, length - 1, 1).any().item() !== 0 ? indices : null;
}

/**
 * The packed-sequence indices a decoder-only forward must respect: only for position ids given without an
 * attention mask and without a cache (a padding-free training row), as transformers decides it.
 */
export function packedSegments(options: { positionIds?: Tensor; attentionMask?: Tensor | null; cache?: unknown }, batch: number): Tensor | null {
  const { positionIds, attentionMask, cache } = options;
  if (positionIds === undefined || (attentionMask !== undefined && attentionMask !== null) || cache !== undefined) return null;
  return packedSequenceIndices(positionIds, batch);
}
