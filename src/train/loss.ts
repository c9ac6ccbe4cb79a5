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
import { TunekitError } from '../errors.js';
import { CausalModel } from '../models/base.js';
import { PeftModel } from '../peft/index.js';
import { getCpuRngState, noGrad, setCpuRngState } from '../torch/runtime.js';
import { tensor } from '../torch/ops.js';
import { type Tensor, tidy } from '../torch/tensor.js';
import { batchLossOver, TRAIN_ERROR } from './evaluation.js';

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
  /**
   * Keep only each decoder layer's input in the forward and recompute the layer in backward, with the CPU
   * generator replayed so dropout draws the same masks (transformers' gradient_checkpointing).
   */
  gradientCheckpointing?: boolean;
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
    const outputPositions = tensor(positions, { dtype: 'int64' });
    if (options.gradientCheckpointing) return checkpointedBackward(model, { ids, attentionMask, positionIds, outputPositions }, head, targetTensor, items, autocast, options.chunkElements);
    const hidden = autocast(() => model.forward(ids, { attentionMask, positionIds, outputPositions, headless: true }));
    return headBackward(hidden, head, targetTensor, items, autocast, options.chunkElements);
  });
}

/** The head and cross-entropy on supervised hidden states [n, hidden], backpropagated (in chunks when large). */
function headBackward(hidden: Tensor, head: Head, targets: Tensor, items: number, autocast: <T>(work: () => T) => T, chunkElements = LOGIT_CHUNK_ELEMENTS): number {
  const vocab = (head as unknown as { weight: Tensor }).weight.shape[0];
  const rows = Math.max(1, Math.floor(chunkElements / vocab));
  const count = hidden.shape[0];
  if (count <= rows) {
    const value = autocast(() => F.crossEntropy(head.forward(hidden).float(), targets, { reduction: 'sum' }).div(items));
    value.backward();
    return value.item();
  }
  const detached = hidden.detach();
  detached.requiresGrad = true;
  let total = 0;
  for (let start = 0; start < count; start += rows) {
    const length = Math.min(rows, count - start);
    total += tidy(() => {
      const value = autocast(() => F.crossEntropy(head.forward(detached.narrow(0, start, length)).float(), targets.narrow(0, start, length), { reduction: 'sum' }).div(items));
      value.backward();
      return value.item();
    });
  }
  hidden.backward(detached.grad as Tensor);
  return total;
}

interface CheckpointInputs {
  ids: Tensor;
  attentionMask?: Tensor;
  positionIds?: Tensor;
  outputPositions: Tensor;
}

/**
 * Gradient checkpointing over the decoder layers: a forward without autograd that keeps each layer's input, the
 * head's backward from the last one, then, layer by layer from the top, the layer recomputed with autograd from
 * its kept input (the generator set back to its state before that layer ran, so dropout repeats) and
 * backpropagated; the embeddings last. The generator ends where the plain forward would have left it.
 */
/** Refuses gradient checkpointing where checkpointedBackward cannot run it: seq2seq models and soft prompts. */
export function checkGradientCheckpointing(model: LanguageModel): void {
  const inner = model instanceof PeftModel ? model.model : model;
  if (model instanceof PeftModel && model.virtualTokens > 0) throw new TunekitError(TRAIN_ERROR, 'gradient_checkpointing does not support soft prompts (prompt tuning) yet');
  if (!(inner instanceof CausalModel) || outputHead(model) === null) throw new TunekitError(TRAIN_ERROR, `gradient_checkpointing is for decoder-only models; ${model.config.modelType} is not one`);
}

function checkpointedBackward(model: LanguageModel, inputs: CheckpointInputs, head: Head, targets: Tensor, items: number, autocast: <T>(work: () => T) => T, chunkElements?: number): number {
  checkGradientCheckpointing(model);
  const inner = (model instanceof PeftModel ? model.model : model) as unknown as CausalModel;
  const stages = inner.decoderStages(inputs.ids, { attentionMask: inputs.attentionMask, positionIds: inputs.positionIds });
  const before: Uint8Array[] = [];
  const kept: Tensor[] = [];
  before.push(getCpuRngState());
  let x = tidy(() => noGrad(() => autocast(() => stages.embed())));
  for (let index = 0; index < stages.layerCount; index++) {
    kept.push(x);
    before.push(getCpuRngState());
    const input = x;
    // Its own scope: only the layer's output outlives it, not the intermediate values of its forward.
    x = tidy(() => noGrad(() => autocast(() => stages.layer(index, input))));
  }
  const after = getCpuRngState();
  const top = x.detach();
  top.requiresGrad = true;
  const hidden = autocast(() => stages.finish(top)).reshape([-1, top.shape[2]]).indexSelect(0, inputs.outputPositions);
  const loss = headBackward(hidden, head, targets, items, autocast, chunkElements);
  let gradient = top.grad as Tensor;
  for (let index = stages.layerCount - 1; index >= 0; index--) {
    setCpuRngState(before[index + 1]);
    const input = kept[index].detach();
    input.requiresGrad = true;
    const output = gradient;
    tidy(() => {
      autocast(() => stages.layer(index, input)).backward(output);
      return undefined;
    });
    gradient = input.grad as Tensor;
  }
  setCpuRngState(before[0]);
  const embeddings = autocast(() => stages.embed());
  if (embeddings.requiresGrad) embeddings.backward(gradient); // frozen embeddings (LoRA) need nothing
  setCpuRngState(after);
  return loss;
}
