import * as F from '../nn/functional.js';
import { ones } from '../torch/ops.js';
import { Tensor } from '../torch/tensor.js';
import { type LayerOptions } from '../nn/layers.js';
import { Module } from '../nn/module.js';

/**
 * Root-mean-square norm as Llama and T5 define it: statistics in float32, the normalized value cast back to the
 * input dtype, then scaled by the weight. In float32 that is exactly PyTorch's fused rms_norm.
 */
export class HFRMSNorm extends Module {
  get weight(): Tensor {
    return this.parameter('weight');
  }

  constructor(
    readonly size: number,
    readonly eps: number,
    options: LayerOptions = {},
  ) {
    super();
    this.registerParameter('weight', ones([size], options));
  }

  forward(x: Tensor): Tensor {
    if (x.dtype === 'float32' && this.weight.dtype === 'float32') return F.rmsNorm(x, [this.size], this.weight, this.eps);
    const inputDtype = x.dtype;
    const wide = x.float();
    const normalized = wide.mul(wide.square().mean(-1, true).add(this.eps).rsqrt());
    return this.weight.mul(normalized.to(this.weight.dtype === 'float32' ? inputDtype : this.weight.dtype));
  }
}
