import { type DType } from '../torch/dtype.js';
import { empty, ones, randn, zeros } from '../torch/ops.js';
import { noGrad } from '../torch/runtime.js';
import { NF4Tensor } from '../torch/nf4.js';
import { type Device, Tensor, tidy } from '../torch/tensor.js';
import * as F from './functional.js';
import { Module } from './module.js';

export interface LayerOptions {
  dtype?: DType;
  device?: Device;
}

let initializing = true;

/**
 * Builds modules without drawing initial weights (memory is allocated but left as is), for modules whose weights
 * are about to be loaded from a checkpoint.
 */
export function withoutInitialization<T>(build: () => T): T {
  const previous = initializing;
  initializing = false;
  try {
    return build();
  } finally {
    initializing = previous;
  }
}

export function isInitializing(): boolean {
  return initializing;
}

/** Uniform(-bound, bound) with bound = 1/sqrt(fanIn): PyTorch's default Linear init (kaiming_uniform, a=√5). */
function uniformInit(shape: number[], fanIn: number, options: LayerOptions): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  const tensor = empty(shape, options);
  if (initializing) noGrad(() => tensor.uniform_(-bound, bound));
  return tensor;
}

/**
 * Something that changes what a projection computes without replacing the layer: LoRA adds to the output, IA³
 * rescales it (or the input), bottleneck adapters transform it. Several may be attached; they apply in order.
 */
export interface LinearAdapter {
  adaptInput?(input: Tensor): Tensor;
  adaptOutput?(input: Tensor, output: Tensor): Tensor;
}

/** A weight-times-input layer that PEFT methods can attach to (Linear and GPT-2's Conv1D). */
export abstract class ProjectionLayer extends Module {
  readonly adapters: LinearAdapter[] = [];
  /** The frozen weight in NF4 (QLoRA), [out, in]; when set, the float `weight` parameter is gone. */
  quantizedWeight: NF4Tensor | null = null;
  /** Dtype the layer computes in (the float weight's, or the compute dtype chosen when quantizing). */
  computeDtype: DType = 'float32';

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
  ) {
    super();
  }

  get weight(): Tensor {
    return this.parameter('weight');
  }

  get bias(): Tensor | null {
    return this.optionalParameter('bias');
  }

  /** The weight's dtype whether it is stored in float or in NF4. */
  get weightDtype(): DType {
    return this.quantizedWeight === null ? this.weight.dtype : this.computeDtype;
  }

  get weightDevice(): Device {
    return (this.quantizedWeight === null ? this.weight.device : this.quantizedWeight.device) as Device;
  }

  /** Replaces the float weight by its NF4 quantization (freed); the layer then computes in `computeDtype`. */
  quantize(computeDtype: DType, options: { blockSize?: number; scaleBlockSize?: number } = {}): NF4Tensor {
    const weight = this.weight;
    const quantized = tidy(() => NF4Tensor.quantize(this.fanInFanOut ? weight.t() : weight, options));
    this.quantizedWeight = quantized;
    // Non-persistent buffers: they follow `to(device)` but are not checkpoint weights.
    this.registerBuffer('weight_nf4_codes', quantized.codes, false, { keepDtype: true });
    this.registerBuffer('weight_nf4_scale_codes', quantized.scaleCodes, false, { keepDtype: true });
    this.registerBuffer('weight_nf4_scale_scales', quantized.scaleScales, false, { keepDtype: true });
    this.registerBuffer('weight_nf4_scale_offset', quantized.scaleOffset, false, { keepDtype: true });
    this.computeDtype = computeDtype;
    this.removeParameter('weight')?.dispose();
    const bias = this.bias;
    if (bias !== null && bias.dtype !== computeDtype) this.to(computeDtype);
    return quantized;
  }

  /** Restores a float weight (dequantized, or `weight` when given) in place of the NF4 one. */
  dequantize(weight?: Tensor): Tensor {
    const quantized = this.quantizedWeight;
    if (quantized === null) return this.weight;
    const restored = weight ?? quantized.dequantize(this.computeDtype);
    const stored = this.fanInFanOut ? tidy(() => restored.t().contiguous()) : restored;
    if (stored !== restored) restored.dispose();
    this.registerParameter('weight', stored);
    stored.requiresGrad = false;
    for (const name of ['weight_nf4_codes', 'weight_nf4_scale_codes', 'weight_nf4_scale_scales', 'weight_nf4_scale_offset']) this.removeBuffer(name);
    quantized.dispose();
    this.quantizedWeight = null;
    return stored;
  }

  /** Whether the weight is stored [in, out] (Conv1D) rather than [out, in] (Linear). */
  abstract readonly fanInFanOut: boolean;

  /** The base computation, without adapters. */
  abstract project(input: Tensor): Tensor;

  forward(input: Tensor): Tensor {
    if (this.adapters.length === 0) return this.project(input);
    let x = input;
    for (const adapter of this.adapters) if (adapter.adaptInput !== undefined) x = adapter.adaptInput(x);
    let y = this.project(x);
    for (const adapter of this.adapters) if (adapter.adaptOutput !== undefined) y = adapter.adaptOutput(x, y);
    return y;
  }
}

/** y = x·Wᵀ + b with W [out, in], as torch.nn.Linear. */
export class Linear extends ProjectionLayer {
  readonly fanInFanOut = false;

  constructor(inFeatures: number, outFeatures: number, options: LayerOptions & { bias?: boolean } = {}) {
    super(inFeatures, outFeatures);
    this.registerParameter('weight', uniformInit([outFeatures, inFeatures], inFeatures, options));
    if (options.bias !== false) this.registerParameter('bias', uniformInit([outFeatures], inFeatures, options));
  }

  project(input: Tensor): Tensor {
    if (this.quantizedWeight !== null) {
      const output = this.quantizedWeight.linear(input.to(this.computeDtype));
      return this.bias === null ? output : output.add(this.bias);
    }
    return F.linear(input, this.weight, this.bias);
  }
}

export class Embedding extends Module {
  readonly paddingIndex: number;

  get weight(): Tensor {
    return this.parameter('weight');
  }

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    options: LayerOptions & { paddingIndex?: number } = {},
  ) {
    super();
    this.paddingIndex = options.paddingIndex ?? -1;
    this.registerParameter('weight', initializing ? randn([numEmbeddings, embeddingDim], options) : empty([numEmbeddings, embeddingDim], options));
  }

  forward(indices: Tensor): Tensor {
    return F.embedding(this.weight, indices, this.paddingIndex);
  }
}

export class LayerNorm extends Module {
  get weight(): Tensor | null {
    return this.optionalParameter('weight');
  }

  get bias(): Tensor | null {
    return this.optionalParameter('bias');
  }

  constructor(
    readonly normalizedShape: number[],
    readonly eps = 1e-5,
    options: LayerOptions & { elementwiseAffine?: boolean; bias?: boolean } = {},
  ) {
    super();
    const affine = options.elementwiseAffine ?? true;
    if (affine) this.registerParameter('weight', ones(normalizedShape, options));
    if (affine && options.bias !== false) this.registerParameter('bias', zeros(normalizedShape, options));
  }

  forward(input: Tensor): Tensor {
    return F.layerNorm(input, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}

export class RMSNorm extends Module {
  get weight(): Tensor {
    return this.parameter('weight');
  }

  constructor(
    readonly normalizedShape: number[],
    readonly eps?: number,
    options: LayerOptions = {},
  ) {
    super();
    this.registerParameter('weight', ones(normalizedShape, options));
  }

  forward(input: Tensor): Tensor {
    return F.rmsNorm(input, this.normalizedShape, this.weight, this.eps);
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
  }

  forward(input: Tensor): Tensor {
    return F.dropout(input, this.p, this.training);
  }
}

/**
 * GPT-2's "Conv1D": a linear layer whose weight is stored [in, out] (transposed from Linear), y = x·W + b.
 * Kept as its own layer so checkpoints load by name and LoRA knows to transpose (PEFT's fan_in_fan_out).
 */
export class Conv1D extends ProjectionLayer {
  readonly fanInFanOut = true;

  constructor(inFeatures: number, outFeatures: number, options: LayerOptions = {}) {
    super(inFeatures, outFeatures);
    const weight = empty([inFeatures, outFeatures], options);
    if (initializing) noGrad(() => weight.normal_(0, 0.02));
    this.registerParameter('weight', weight);
    this.registerParameter('bias', zeros([outFeatures], options));
  }

  project(input: Tensor): Tensor {
    if (this.quantizedWeight !== null) return this.quantizedWeight.linear(input.to(this.computeDtype)).add(this.bias as Tensor);
    return F.linear(input, this.weight.t(), this.bias);
  }
}
