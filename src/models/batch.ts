import { TunekitError } from '../errors.js';
import { cat, full, ones, tensor, zeros } from '../torch/ops.js';
import { Tensor } from '../torch/tensor.js';
import { causalLMLoss, seq2seqLoss } from './loss.js';
import { type Batch, decoderStartToken, type LanguageModel } from './types.js';

export function batchTensor(value: number[][] | Tensor): Tensor {
  return value instanceof Tensor ? value : tensor(value, { dtype: 'int64' });
}

/** Decoder inputs from labels: decoder_start followed by labels[:-1], with -100 replaced by pad. */
export function shiftRight(labels: Tensor, decoderStartTokenId: number, padTokenId: number): Tensor {
  const [batch] = labels.shape;
  const start = zeros([batch, 1], { dtype: 'int64' }).add(decoderStartTokenId);
  const shifted = cat([start, labels.narrow(1, 0, labels.shape[1] - 1)], 1);
  return shifted.maskedFill(shifted.eq(-100), padTokenId);
}

/** A batch's position ids as a tensor, checked against its input ids (null when it has none). */
function batchPositionIds(batch: Batch, ids: Tensor): Tensor | null {
  if (batch.positionIds === undefined) return null;
  const positionIds = batchTensor(batch.positionIds);
  const [rows, length] = ids.shape;
  if (positionIds.ndim !== 2 || (positionIds.shape[0] !== rows && positionIds.shape[0] !== 1) || positionIds.shape[1] !== length) {
    throw new TunekitError('E_BATCH', `positionIds is [${positionIds.shape.join(', ')}] but inputIds is [${rows}, ${length}]`);
  }
  return positionIds;
}

/**
 * Logits of a batch through the model's own forward (causal: all positions; seq2seq: the decoder's). Causal position
 * ids without an attention mask go in unmasked, so packed rows are detected from them (no cross-sequence attention).
 */
export function batchLogits(model: LanguageModel, batch: Batch): Tensor {
  const ids = batchTensor(batch.inputIds);
  const positionIds = batchPositionIds(batch, ids);
  if (model.kind === 'causal') {
    if (positionIds === null) return model.forward(ids, { attentionMask: batch.attentionMask === undefined ? ones(ids.shape, { dtype: 'int64' }) : batchTensor(batch.attentionMask) });
    return model.forward(ids, { attentionMask: batch.attentionMask === undefined ? null : batchTensor(batch.attentionMask), positionIds });
  }
  if (positionIds !== null) throw new TunekitError('E_BATCH', `${model.config.modelType} is an encoder-decoder model with relative positions: a batch for it takes no positionIds (packing is for decoder-only models)`);
  const attentionMask = batch.attentionMask === undefined ? ones(ids.shape, { dtype: 'int64' }) : batchTensor(batch.attentionMask);
  let decoderInputIds: Tensor;
  if (batch.decoderInputIds !== undefined) decoderInputIds = batchTensor(batch.decoderInputIds);
  else if (batch.labels !== undefined) decoderInputIds = shiftRight(batchTensor(batch.labels), decoderStartToken(model), model.config.padTokenId ?? 0);
  else throw new TunekitError('E_BATCH', 'a seq2seq batch needs labels or decoderInputIds');
  return model.forward(ids, { attentionMask, decoderInputIds });
}

/**
 * The training loss of a batch. Causal logits longer than the labels (a soft prompt's virtual positions in front)
 * get -100 labels there, as PEFT pads them.
 */
export function batchLoss(model: LanguageModel, batch: Batch): Tensor {
  if (batch.labels === undefined) throw new TunekitError('E_BATCH', 'loss needs labels');
  const labels = batchTensor(batch.labels);
  const logits = model.logits(batch);
  if (model.kind === 'seq2seq') return seq2seqLoss(logits, labels);
  const extra = logits.shape[1] - labels.shape[1];
  return causalLMLoss(logits, extra > 0 ? cat([full([labels.shape[0], extra], -100, { dtype: 'int64' }), labels], 1) : labels);
}
