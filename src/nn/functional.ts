import { callTensorOp, Tensor } from '../torch/tensor.js';

export function linear(input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return callTensorOp('aten::linear', input, weight, bias ?? null);
}

/** Rows of `weight` picked by `indices`; rows equal to `paddingIndex` get no gradient. */
export function embedding(weight: Tensor, indices: Tensor, paddingIndex = -1): Tensor {
  return callTensorOp('aten::embedding', weight, indices, paddingIndex, false, false);
}

export function layerNorm(input: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  return callTensorOp('aten::layer_norm', input, normalizedShape, weight ?? null, bias ?? null, eps, true);
}

/** x / sqrt(mean(x²) + eps) · weight, over the trailing `normalizedShape` dims. */
export function rmsNorm(input: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, eps?: number): Tensor {
  return callTensorOp('aten::rms_norm', input, normalizedShape, weight ?? null, eps ?? null);
}

/** GELU, exact (erf) or with the tanh approximation (`gelu_new` in Hugging Face configs). */
export function gelu(input: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return callTensorOp('aten::gelu', input, approximate);
}

export function silu(input: Tensor): Tensor {
  return callTensorOp('aten::silu', input);
}

export function relu(input: Tensor): Tensor {
  return callTensorOp('aten::relu', input);
}

export function sigmoid(input: Tensor): Tensor {
  return callTensorOp('aten::sigmoid', input);
}

export function tanh(input: Tensor): Tensor {
  return callTensorOp('aten::tanh', input);
}

export function softmax(input: Tensor, dim: number): Tensor {
  return callTensorOp('aten::softmax.int', input, dim, null);
}

export function logSoftmax(input: Tensor, dim: number): Tensor {
  return callTensorOp('aten::log_softmax.int', input, dim, null);
}

/** Zeroes elements with probability p and rescales the rest by 1/(1-p) while training; identity otherwise. */
export function dropout(input: Tensor, p: number, training: boolean): Tensor {
  if (!training || p === 0) return callTensorOp('aten::alias', input);
  return callTensorOp('aten::dropout', input, p, training);
}

export interface AttentionOptions {
  /** Boolean (true = attend) or additive float mask, broadcastable to [batch, heads, query, key]. */
  attentionMask?: Tensor | null;
  dropoutP?: number;
  isCausal?: boolean;
  /** Defaults to 1/sqrt(head_dim); T5 uses 1. */
  scale?: number;
  /** Lets key/value have fewer heads than query (grouped-query attention). */
  enableGqa?: boolean;
}

/** softmax(q·kᵀ·scale + mask)·v with PyTorch's fused kernels; q, k, v are [batch, heads, seq, head_dim]. */
export function scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, options: AttentionOptions = {}): Tensor {
  return callTensorOp(
    'aten::scaled_dot_product_attention',
    query,
    key,
    value,
    options.attentionMask ?? null,
    options.dropoutP ?? 0,
    options.isCausal ?? false,
    options.scale ?? null,
    options.enableGqa ?? false,
  );
}

export type Reduction = 'none' | 'mean' | 'sum';
const reductionCodes: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

export interface CrossEntropyOptions {
  /** Targets equal to this carry no loss (PyTorch and Hugging Face use -100 for masked labels). */
  ignoreIndex?: number;
  reduction?: Reduction;
  labelSmoothing?: number;
  weight?: Tensor | null;
}

/** Cross-entropy of `logits` [N, C] (or [N, C, …]) against class indices `target` [N] (or [N, …]). */
export function crossEntropy(logits: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  return callTensorOp(
    'aten::cross_entropy_loss',
    logits,
    target,
    options.weight ?? null,
    reductionCodes[options.reduction ?? 'mean'],
    options.ignoreIndex ?? -100,
    options.labelSmoothing ?? 0,
  );
}

export function nllLoss(logProbabilities: Tensor, target: Tensor, options: { ignoreIndex?: number; reduction?: Reduction } = {}): Tensor {
  return callTensorOp('aten::nll_loss_nd', logProbabilities, target, null, reductionCodes[options.reduction ?? 'mean'], options.ignoreIndex ?? -100);
}

export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return callTensorOp('aten::mse_loss', input, target, reductionCodes[reduction]);
}
