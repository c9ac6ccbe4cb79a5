import { cat, full, tensor, where } from '../torch/ops.js';
import { Tensor } from '../torch/tensor.js';
import type { ResolvedGenerationOptions } from './options.js';

/**
 * Applies transformers' logits processors in their order: repetition penalty, minimum new tokens (EOS banned),
 * then — for sampling — temperature, top-k and top-p. `logits` is [rows, vocab] float32.
 */
export function processLogits(logits: Tensor, sequences: number[][], generated: number, options: ResolvedGenerationOptions, sampling: boolean): Tensor {
  let scores = logits;
  if (options.repetitionPenalty !== 1) {
    const index = tensor(sequences, { dtype: 'int64' });
    const seen = scores.gather(1, index);
    const penalized = where(seen.lt(0), seen.mul(options.repetitionPenalty), seen.div(options.repetitionPenalty));
    scores = scores.scatter(1, index, penalized);
  }
  if (generated < options.minNewTokens && options.eosTokenIds.length > 0) {
    const vocab = scores.shape[1];
    const banned = options.eosTokenIds.filter((id) => id < vocab);
    if (banned.length > 0) scores = scores.indexFill(1, tensor(banned, { dtype: 'int64' }), -Infinity);
  }
  if (!sampling) return scores;
  if (options.temperature !== 1) scores = scores.div(options.temperature);
  if (options.topK > 0 && options.topK < scores.shape[1]) {
    const threshold = scores.topk(options.topK, -1).values.narrow(1, options.topK - 1, 1);
    scores = scores.maskedFill(scores.lt(threshold), -Infinity);
  }
  if (options.topP < 1) {
    const { values, indices } = scores.sort(-1, false);
    const cumulative = values.softmax(-1).cumsum(-1);
    // Remove the low tail whose total probability is at most 1 - topP, always keeping the most likely token.
    const removeSorted = cumulative.le(1 - options.topP);
    const keepLast = full([removeSorted.shape[0], 1], false);
    const guarded = removeSorted.narrow(1, 0, removeSorted.shape[1] - 1);
    const finalRemove = cat([guarded, keepLast], 1);
    const remove = finalRemove.scatter(1, indices, finalRemove);
    scores = scores.maskedFill(remove, -Infinity);
  }
  return scores;
}
