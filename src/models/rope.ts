import { TunekitError } from '../errors.js';
import { arange, cat, where } from '../torch/ops.js';
import { callTensorOp, Tensor, tidy } from '../torch/tensor.js';

/** RoPE settings as config.json gives them (`rope_theta` + `rope_scaling`, or transformers 5's `rope_parameters`). */
export interface RopeConfig {
  theta: number;
  /** Rotated dimensions per head. */
  dim: number;
  scaling?: Record<string, unknown>;
  source: string;
}

function scalingNumber(scaling: Record<string, unknown>, key: string, source: string): number {
  const value = scaling[key];
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TunekitError('E_CONFIG', `${source}: rope_scaling.${key} must be a finite number greater than 0, found ${JSON.stringify(value) ?? 'nothing'}`);
  }
  return value;
}

const SUPPORTED_SCALING = ['default', 'linear', 'llama3'];

function scalingType(config: RopeConfig): string {
  const scaling = config.scaling;
  return scaling === undefined ? 'default' : String(scaling.rope_type ?? scaling.type ?? 'default');
}

/**
 * Checks the RoPE settings from their arithmetic alone (theta, rotated dimensions, the scaling type and its numbers),
 * so a config fails before any layer is allocated.
 */
export function checkRopeConfig(config: RopeConfig): void {
  if (!Number.isFinite(config.theta) || config.theta <= 0) {
    throw new TunekitError('E_CONFIG', `${config.source}: "rope_theta" must be a finite number greater than 0, found ${config.theta}`);
  }
  if (!Number.isSafeInteger(config.dim) || config.dim < 2 || config.dim % 2 !== 0) {
    throw new TunekitError('E_CONFIG', `${config.source}: the rotated dimensions per head (head_dim × partial_rotary_factor = ${config.dim}) must be an even whole number ≥ 2`);
  }
  const type = scalingType(config);
  const scaling = config.scaling ?? {};
  if (type === 'default') return;
  if (type === 'linear') {
    scalingNumber(scaling, 'factor', config.source);
    return;
  }
  if (type === 'llama3') {
    for (const key of ['factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings']) scalingNumber(scaling, key, config.source);
    if (scaling.high_freq_factor === scaling.low_freq_factor) {
      throw new TunekitError('E_CONFIG', `${config.source}: rope_scaling.high_freq_factor must differ from rope_scaling.low_freq_factor (both ${String(scaling.low_freq_factor)})`);
    }
    return;
  }
  throw new TunekitError('E_CONFIG', `${config.source}: rope scaling type "${type}" is not supported (supported: ${SUPPORTED_SCALING.join(', ')})`);
}

/**
 * Inverse frequencies 1/θ^(2i/d) in float32, computed with the same tensor ops as transformers so they agree bit
 * for bit, then adjusted for `linear` or `llama3` scaling.
 */
export function inverseFrequencies(config: RopeConfig): Tensor {
  // The intermediate tensors are freed here: outside a caller's tidy each model construction leaked four of them.
  return tidy(() => computeInverseFrequencies(config));
}

function computeInverseFrequencies(config: RopeConfig): Tensor {
  const exponents = arange(0, config.dim, 2).float().div(config.dim);
  let inverse = callTensorOp('aten::pow.Scalar', config.theta, exponents).reciprocal();
  const scaling = config.scaling;
  const type = scalingType(config);
  if (scaling === undefined || type === 'default') return inverse;
  if (type === 'linear') return inverse.div(scalingNumber(scaling, 'factor', config.source));
  if (type === 'llama3') {
    const factor = scalingNumber(scaling, 'factor', config.source);
    const lowFrequencyFactor = scalingNumber(scaling, 'low_freq_factor', config.source);
    const highFrequencyFactor = scalingNumber(scaling, 'high_freq_factor', config.source);
    const originalContext = scalingNumber(scaling, 'original_max_position_embeddings', config.source);
    const lowFrequencyWavelength = originalContext / lowFrequencyFactor;
    const highFrequencyWavelength = originalContext / highFrequencyFactor;
    const wavelength = inverse.reciprocal().mul(2 * Math.PI);
    const scaled = where(wavelength.gt(lowFrequencyWavelength), inverse.div(factor), inverse);
    const smooth = wavelength.reciprocal().mul(originalContext).sub(lowFrequencyFactor).div(highFrequencyFactor - lowFrequencyFactor);
    const smoothed = smooth.neg().add(1).mul(scaled).div(factor).add(smooth.mul(scaled));
    const isMedium = wavelength.lt(highFrequencyWavelength).logicalNot().logicalAnd(wavelength.gt(lowFrequencyWavelength).logicalNot());
    return where(isMedium, smoothed, scaled);
  }
  throw new TunekitError('E_CONFIG', `${config.source}: rope scaling type "${type}" is not supported (supported: ${SUPPORTED_SCALING.join(', ')})`);
}

/** cos and sin tables [batch, length, dim] for position ids [batch, length], in float32. */
export function rotaryTables(inverse: Tensor, positionIds: Tensor): { cos: Tensor; sin: Tensor } {
  const frequencies = positionIds.float().unsqueeze(-1).mul(inverse);
  const angles = cat([frequencies, frequencies], -1);
  return { cos: angles.cos(), sin: angles.sin() };
}

/** (x1, x2) → (−x2, x1) over the two halves of the last dimension. */
function rotateHalf(x: Tensor): Tensor {
  const half = x.shape[x.ndim - 1] / 2;
  const [first, second] = x.split(half, -1);
  return cat([second.neg(), first], -1);
}

/** Applies RoPE to x [batch, heads, length, dim] with tables [batch, length, dim]. */
export function applyRotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const c = cos.unsqueeze(1).to(x.dtype);
  const s = sin.unsqueeze(1).to(x.dtype);
  return x.mul(c).add(rotateHalf(x).mul(s));
}
