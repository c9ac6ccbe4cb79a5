/**
 * The backward pass of one micro-batch, computing logits only where a label is supervised: prompt and padding
 * positions never reach the output head (a [rows × vocab] product that is most of the memory for large
 * vocabularies), and when many rows remain the head and cross-entropy run in chunks, each backpropagated to the
 * hidden states before the next is computed, so only one chunk's logits exist at a time. The loss is the same sum
 * over supervised tokens / items as Trainer's (ForCausalLMLoss with num_items_in_batch).
 */
import type { CollatedBatch } from '../data/collate.js';
import type { LanguageModel } from '../models/types.js';
import * as F from '../nn/functional.js';
import type { Module } from '../nn/module.js';
import { PeftModel } from '../peft/index.js';
import { tensor } from '../torch/ops.js';
import { type Tensor, tidy } from '../torch/tensor.js';
import { batchLossOver } from './evaluation.js';

/** Logit elements per chunk (float32: 128 MiB). */
export const LOGIT_CHUNK_ELEMENTS = 2 ** 25;

interface Head extends Module {
  forward(hidden: Tensor): Tensor;
}

function outputHead(model: LanguageModel): Head | null {
  const inner = model instanceof PeftModel ? model.model : model;
  const head = (inner as unknown as { lm_head?: Head }).lm_head;
  return head !== undefined && typeof head.forward === 'function' ? head : null;
}

/**
 * Flattened positions of the logits frame (a soft prompt's virtual positions first) whose prediction has a
 * supervised target, and those targets: position virtual + t predicts labels[t + 1]; with a soft prompt, its last
 * virtual position predicts labels[0], as PEFT's -100 padding of the labels lets it.
 */
export function supervisedPositions(labels: readonly (readonly number[])[], virtual: number): { positions: number[]; targets: number[] } {
  const positions: number[] = [];
  const targets: number[] = [];
  labels.forEach((row, b) => {
    const frame = row.length + virtual;
    for (let t = virtual > 0 ? -1 : 0; t < row.length - 1; t++) {
      const target = row[t + 1];
      if (target === -100) continue;
      positions.push(b * frame + virtual + t);
      targets.push(target);
    }
  });
  return { positions, targets };
}

/** Runs forward and backward for `batch` with the loss normalized by `items`; returns the loss value. */
export interface BackwardOptions {
  /** Runs the forward under the run's precision (bf16 autocast); default: as it is. */
  autocast?: <T>(work: () => T) => T;
  /** Logit elements per chunk of the head and cross-entropy (default 2^25: 128 MiB of float32). */
  chunkElements?: number;
  /** false: logits at every position, as the model's own logits() gives them (the reference path). */
  supervisedOnly?: boolean;
}

export function backwardMicroBatch(model: LanguageModel, batch: CollatedBatch, items: number, options: BackwardOptions = {}): number {
  const autocast = options.autocast ?? (<T>(work: () => T): T => work());
  const head = model.kind === 'causal' && options.supervisedOnly !== false ? outputHead(model) : null;
  if (head === null || model.kind !== 'causal') {
    return tidy(() => {
      const value = autocast(() => batchLossOver(model, batch, items));
      value.backward();
      return value.item();
    });
  }
  const virtual = model instanceof PeftModel ? model.virtualTokens : 0;
  const { positions, targets } = supervisedPositions(batch.labels, virtual);
  if (positions.length === 0) return 0;
  return tidy(() => {
    const ids = tensor(batch.inputIds, { dtype: 'int64' });
    const attentionMask = batch.attentionMask === undefined ? undefined : tensor(batch.attentionMask, { dtype: 'int64' });
    const targetTensor = tensor(targets, { dtype: 'int64' });
    const positionIds = batch.positionIds === undefined ? undefined : tensor(batch.positionIds, { dtype: 'int64' });
    const hidden = autocast(() => model.forward(ids, { attentionMask, positionIds, outputPositions: tensor(positions, { dtype: 'int64' }), headless: true }));
    const vocab = (head as unknown as { weight: Tensor }).weight.shape[0];
    const rows = Math.max(1, Math.floor((options.chunkElements ?? LOGIT_CHUNK_ELEMENTS) / vocab));
    if (positions.length <= rows) {
      const value = autocast(() => F.crossEntropy(head.forward(hidden).float(), targetTensor, { reduction: 'sum' }).div(items));
      value.backward();
      return value.item();
    }
    const detached = hidden.detach();
    detached.requiresGrad = true;
    let total = 0;
    for (let start = 0; start < positions.length; start += rows) {
      const length = Math.min(rows, positions.length - start);
      total += tidy(() => {
        const value = autocast(() => F.crossEntropy(head.forward(detached.narrow(0, start, length)).float(), targetTensor.narrow(0, start, length), { reduction: 'sum' }).div(items));
        value.backward();
        return value.item();
      });
    }
    hidden.backward(detached.grad as Tensor);
    return total;
  });
}
