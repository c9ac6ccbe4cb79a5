/**
 * An estimate of a run's peak memory before it starts: the weights as they are held (quantized ones at their
 * packed size), float32 gradients and AdamW's two moments for every trainable parameter, and the activations
 * autograd keeps for the largest micro-batch (per layer and token: the inputs of every projection, the MLP's
 * intermediate values and, for eager attention, the score matrix), plus the logits of one chunk of supervised
 * positions (backwardMicroBatch computes the head in chunks). Bytes throughout; a bound to compare with the
 * measured peak, not an exact figure.
 */
import type { LanguageModel } from '../models/types.js';
import { dtypeByteSize } from '../torch/dtype.js';
import type { TrainingArguments } from './arguments.js';
import type { TrainExample } from './evaluation.js';
import { LOGIT_CHUNK_ELEMENTS } from './loss.js';

export interface MemoryEstimate {
  weights: number;
  gradients: number;
  optimizer: number;
  activations: number;
  total: number;
}

interface Shape {
  layers: number;
  decoderLayers: number;
  hidden: number;
  intermediate: number;
  heads: number;
  vocab: number;
}

function shapeOf(model: LanguageModel): Shape {
  const config = model.config as unknown as Record<string, number>;
  const hidden = config.hiddenSize ?? config.dModel ?? 0;
  return {
    layers: config.numLayers ?? 0,
    decoderLayers: model.kind === 'seq2seq' ? config.numDecoderLayers ?? config.numLayers ?? 0 : 0,
    hidden,
    intermediate: config.intermediateSize ?? config.dFf ?? config.innerSize ?? 4 * hidden,
    heads: config.numHeads ?? 1,
    vocab: config.vocabSize,
  };
}

/** Activations one layer keeps per token (float32): norm, projection inputs and outputs, attention output, MLP. */
function perTokenLayerBytes(shape: Shape): number {
  return 4 * (10 * shape.hidden + 4 * shape.intermediate);
}

export function estimateTrainingMemory(model: LanguageModel, examples: readonly TrainExample[], args: Pick<TrainingArguments, 'per_device_train_batch_size'>): MemoryEstimate {
  let weights = 0;
  const seen = new Set<unknown>();
  for (const [, tensor] of model.stateDict()) {
    if (seen.has(tensor)) continue;
    seen.add(tensor);
    weights += tensor.numel * dtypeByteSize[tensor.dtype];
  }
  let trainable = 0;
  for (const parameter of model.parameters()) if (parameter.requiresGrad) trainable += parameter.numel;
  const gradients = 4 * trainable;
  const optimizer = 2 * 4 * trainable;
  const shape = shapeOf(model);
  const rows = Math.min(args.per_device_train_batch_size, Math.max(1, examples.length));
  const longest = [...examples].sort((a, b) => b.input_ids.length - a.input_ids.length).slice(0, rows);
  const inputLength = Math.max(1, ...longest.map((example) => example.input_ids.length));
  const targetLength = model.kind === 'seq2seq' ? Math.max(1, ...longest.map((example) => example.labels?.length ?? 1)) : 0;
  const perToken = perTokenLayerBytes(shape);
  const scores = (length: number) => 4 * shape.heads * length * length * rows;
  let activations = rows * inputLength * perToken * shape.layers + scores(inputLength) * shape.layers;
  if (model.kind === 'seq2seq') activations += (rows * targetLength * (perToken + 16 * shape.hidden) + scores(targetLength) + 4 * shape.heads * targetLength * inputLength * rows) * shape.decoderLayers;
  const supervised = model.kind === 'seq2seq' ? rows * targetLength : rows * inputLength;
  // The head's chunk: its logits, their float32 copy and log-softmax, and the gradient of the logits.
  activations += Math.min(supervised, Math.max(1, Math.floor(LOGIT_CHUNK_ELEMENTS / shape.vocab))) * shape.vocab * 4 * 4;
  return { weights, gradients, optimizer, activations, total: weights + gradients + optimizer + activations };
}
