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

/** Logits of a batch through the model's own forward (causal: all positions; seq2seq: the decoder's). */
export function batchLogits(model: LanguageModel, batch: Batch): Tensor {
  const ids = batchTensor(batch.inputIds);
  const attentionMask = batch.attentionMask === undefined ? ones(ids.shape, { dtype: 'int64' }) : batchTensor(batch.attentionMask);
  if (model.kind === 'causal') return model.forward(ids, { attentionMask });
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
