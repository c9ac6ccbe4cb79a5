import { type DType, dtypeCode } from './dtype.js';
import { native } from './native.js';
import { Tensor } from './tensor.js';

/**
 * A weight stored in 4-bit NormalFloat (QLoRA): 4-bit codes, one 8-bit absmax per block of `blockSize` values, and
 * those absmaxes' own float scale per `scaleBlockSize` blocks plus their mean (double quantization).
 */
export class NF4Tensor {
  constructor(
    readonly codes: Tensor,
    readonly scaleCodes: Tensor,
    readonly scaleScales: Tensor,
    readonly scaleOffset: Tensor,
    readonly shape: readonly number[],
    readonly blockSize: number,
    readonly scaleBlockSize: number,
  ) {}

  /** Quantizes `weight` (any float dtype, any device). */
  static quantize(weight: Tensor, options: { blockSize?: number; scaleBlockSize?: number } = {}): NF4Tensor {
    const blockSize = options.blockSize ?? 64;
    const scaleBlockSize = options.scaleBlockSize ?? 256;
    const [codes, scaleCodes, scaleScales, scaleOffset] = native().nf4Quantize(weight.handle, blockSize, scaleBlockSize).map((handle) => new Tensor(handle).keep());
    return new NF4Tensor(codes, scaleCodes, scaleScales, scaleOffset, weight.shape, blockSize, scaleBlockSize);
  }

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Bytes held: codes, block scales, their scales and the offset. */
  get bytes(): number {
    return this.codes.numel + this.scaleCodes.numel + 4 * this.scaleScales.numel + 4;
  }

  get device(): string {
    return this.codes.device;
  }

  dequantize(dtype: DType = 'float32', options: { withTensorOps?: boolean } = {}): Tensor {
    return new Tensor(
      native().nf4Dequantize(
        this.codes.handle,
        this.scaleCodes.handle,
        this.scaleScales.handle,
        this.scaleOffset.handle,
        this.shape,
        dtypeCode(dtype),
        this.blockSize,
        this.scaleBlockSize,
        options.withTensorOps ?? false,
      ),
    );
  }

  /** input·Wᵀ with W dequantized in the kernel (again in backward, so no float copy is kept for autograd). */
  linear(input: Tensor): Tensor {
    return new Tensor(
      native().nf4Linear(input.handle, this.codes.handle, this.scaleCodes.handle, this.scaleScales.handle, this.scaleOffset.handle, this.shape, this.blockSize, this.scaleBlockSize),
    );
  }

  dispose(): void {
    for (const tensor of [this.codes, this.scaleCodes, this.scaleScales, this.scaleOffset]) tensor.dispose();
  }
}

/** The 16 NF4 levels the kernel uses. */
export function nf4Levels(): number[] {
  return native().nf4Levels();
}
