import * as F from '../nn/functional.js';
import { Tensor } from '../torch/tensor.js';

/** Next-token loss: logits at t predict labels at t+1; labels of -100 carry no loss (transformers' convention). */
export function causalLMLoss(logits: Tensor, labels: Tensor): Tensor {
  const length = logits.shape[1];
  const vocab = logits.shape[2];
  const predictions = logits.narrow(1, 0, length - 1).reshape([-1, vocab]);
  const targets = labels.narrow(1, 1, length - 1).reshape([-1]);
  return F.crossEntropy(predictions.float(), targets, { ignoreIndex: -100 });
}

/** Encoder-decoder loss: logits at t predict labels at t (decoder inputs are the labels shifted right). */
export function seq2seqLoss(logits: Tensor, labels: Tensor): Tensor {
  const vocab = logits.shape[2];
  return F.crossEntropy(logits.reshape([-1, vocab]).float(), labels.reshape([-1]), { ignoreIndex: -100 });
}
