import { collateLanguageModeling, collateSeq2Seq, type CollatedBatch } from '../data/collate.js';
import { TunekitError } from '../errors.js';
import type { LanguageModel } from '../models/types.js';
import * as F from '../nn/functional.js';
import { cat, full, tensor } from '../torch/ops.js';
import { noGrad } from '../torch/runtime.js';
import { Tensor, tidy } from '../torch/tensor.js';
import type { TrainingArguments } from './arguments.js';

export const TRAIN_ERROR = 'E_TRAIN';

/** A tokenized example, as tokenizeSftDataset gives it. */
export interface TrainExample {
  input_ids: readonly number[];
  labels?: readonly number[];
}

/**
 * A batch for the model's kind: decoder-only as TRL's collator builds it (optionally padding-free), seq2seq as
 * DataCollatorForSeq2Seq does (inputs and targets padded each to their own longest).
 */
export function collateFor(model: LanguageModel, examples: readonly TrainExample[], options: { padTokenId: number; paddingFree?: boolean }): CollatedBatch {
  if (model.kind === 'seq2seq') return collateSeq2Seq(examples, { padTokenId: options.padTokenId });
  return collateLanguageModeling(examples, options);
}

export function checkExamples(examples: readonly TrainExample[], what: string): void {
  examples.forEach((example, index) => {
    if (!Array.isArray(example.input_ids) || example.input_ids.length === 0) {
      throw new TunekitError(TRAIN_ERROR, `${what} example ${index + 1}: input_ids must be a non-empty array of token ids`);
    }
  });
}

/**
 * The labels that carry loss (Trainer._get_num_items_in_batch): causal losses shift, so labels[..., 1:] != -100;
 * seq2seq: every label != -100.
 */
export function supervisedTokens(model: LanguageModel, batch: CollatedBatch): number {
  let count = 0;
  for (const row of batch.labels) for (let i = model.kind === 'causal' ? 1 : 0; i < row.length; i++) if (row[i] !== -100) count++;
  return count;
}

/**
 * Predictions [n, vocab] and their targets [n] at every position of a batch: causal logits shifted by one (a soft
 * prompt's virtual positions in front get -100 targets, as PEFT pads them), seq2seq logits as they are.
 */
export function predictionsAndTargets(model: LanguageModel, batch: CollatedBatch): { predictions: Tensor; targets: Tensor } {
  const logits = model.logits(batch);
  let labels = tensor(batch.labels, { dtype: 'int64' });
  const vocab = logits.shape[2];
  if (model.kind === 'seq2seq') return { predictions: logits.reshape([-1, vocab]).float(), targets: labels.reshape([-1]) };
  const extra = logits.shape[1] - labels.shape[1];
  if (extra > 0) labels = cat([full([labels.shape[0], extra], -100, { dtype: 'int64' }), labels], 1);
  const length = logits.shape[1];
  return {
    predictions: logits.narrow(1, 0, length - 1).reshape([-1, vocab]).float(),
    targets: labels.narrow(1, 1, length - 1).reshape([-1]),
  };
}

/**
 * Summed cross-entropy over the supervised tokens of a batch, divided by `items` (the model's loss_function with
 * num_items_in_batch: ForCausalLMLoss with reduction "sum" / num_items_in_batch).
 */
export function batchLossOver(model: LanguageModel, batch: CollatedBatch, items: number): Tensor {
  const { predictions, targets } = predictionsAndTargets(model, batch);
  return F.crossEntropy(predictions, targets, { reduction: 'sum' }).div(items);
}

/** Evaluation metrics under Trainer's and TRL's names (without the eval_/test_ prefix). */
export interface EvaluationMetrics {
  /** Trainer's eval_loss: each batch's mean loss, weighted by its examples. */
  loss: number;
  /** exp(loss). */
  perplexity: number;
  /** SFTTrainer's mean_token_accuracy: each batch's share of supervised tokens predicted right, averaged over batches. */
  mean_token_accuracy: number;
  /** SFTTrainer's entropy: each batch's mean entropy of the predicted distribution at supervised tokens, averaged over batches. */
  entropy: number;
}

/**
 * Trainer.evaluate over sequential batches of per_device_eval_batch_size (prediction_step: each batch's loss over
 * its own supervised tokens, repeated per example and averaged in evaluation_loop), with SFTTrainer's per-batch
 * token accuracy and entropy averaged over batches (SFTTrainer.log).
 */
export function evaluateModel(model: LanguageModel, examples: readonly TrainExample[], args: Pick<TrainingArguments, 'per_device_eval_batch_size'>, padTokenId: number): EvaluationMetrics {
  checkExamples(examples, 'eval');
  if (examples.length === 0) throw new TunekitError(TRAIN_ERROR, 'evaluation needs at least one example');
  const wasTraining = model.training;
  model.eval();
  let weightedLoss = 0;
  let accuracySum = 0;
  let entropySum = 0;
  let batches = 0;
  try {
    for (let start = 0; start < examples.length; start += args.per_device_eval_batch_size) {
      const batch = collateFor(model, examples.slice(start, start + args.per_device_eval_batch_size), { padTokenId });
      const measured = noGrad(() =>
        tidy(() => {
          const { predictions, targets } = predictionsAndTargets(model, batch);
          const supervised = targets.ne(-100);
          const total = supervised.sum().item();
          const loss = F.crossEntropy(predictions, targets, { reduction: 'sum' }).item() / total;
          const correct = predictions.argmax(-1).eq(targets).logicalAnd(supervised).sum().item();
          const logProbabilities = predictions.logSoftmax(-1);
          const entropy = logProbabilities.exp().mul(logProbabilities).sum(-1).neg().mul(supervised.float()).sum().item();
          return { loss, accuracy: total > 0 ? correct / total : 0, entropy: total > 0 ? entropy / total : 0 };
        }),
      );
      weightedLoss += measured.loss * batch.inputIds.length;
      accuracySum += measured.accuracy;
      entropySum += measured.entropy;
      batches++;
    }
  } finally {
    model.train(wasTraining);
  }
  const loss = weightedLoss / examples.length;
  return { loss, perplexity: Math.exp(loss), mean_token_accuracy: accuracySum / batches, entropy: entropySum / batches };
}

/** Trainer's eval_loss alone (see evaluateModel). */
export function evaluateLoss(model: LanguageModel, examples: readonly TrainExample[], args: Pick<TrainingArguments, 'per_device_eval_batch_size'>, padTokenId: number): number {
  return evaluateModel(model, examples, args, padTokenId).loss;
}
