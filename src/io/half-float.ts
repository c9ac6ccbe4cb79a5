/**
 * Conversions between float32 values and the 16-bit float formats stored in checkpoints: bfloat16 (float32's top
 * half) and IEEE binary16. Narrowing rounds to nearest, ties to even, as PyTorch does; NaN stays NaN (as the quiet
 * NaN 0x7FC0 / 0x7E00 with the sign dropped, like PyTorch's scalar conversions), ±Infinity stays ±Infinity, and
 * values too large for binary16 become ±Infinity.
 */

const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

function float32Bits(value: number): number {
  scratchFloat[0] = value;
  return scratchBits[0];
}

function float32FromBits(bits: number): number {
  scratchBits[0] = bits >>> 0;
  return scratchFloat[0];
}

/** The bfloat16 bit pattern nearest to `value` (first rounded to float32). */
export function float32ToBfloat16Bits(value: number): number {
  if (Number.isNaN(value)) return 0x7fc0;
  const bits = float32Bits(value);
  const roundingBias = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + roundingBias) >>> 16) & 0xffff;
}

export function bfloat16BitsToFloat32(bits: number): number {
  return float32FromBits((bits & 0xffff) << 16);
}

/** The IEEE binary16 bit pattern nearest to `value` (first rounded to float32). */
export function float32ToFloat16Bits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const bits = float32Bits(value);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00;
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Subnormal result: shift the full 24-bit significand down to units of 2^-24.
    if (halfExponent < -10) return sign;
    const significand = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    const kept = significand >>> shift;
    const remainder = significand & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    const roundUp = remainder > halfway || (remainder === halfway && (kept & 1) === 1);
    return sign | (kept + (roundUp ? 1 : 0));
  }
  const kept = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  const roundUp = remainder > 0x1000 || (remainder === 0x1000 && (kept & 1) === 1);
  // A carry out of the mantissa correctly bumps the exponent, up to Infinity (0x7C00).
  return sign | (kept + (roundUp ? 1 : 0));
}

export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
