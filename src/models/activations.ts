import { TunekitError } from '../errors.js';
import * as F from '../nn/functional.js';
import { Tensor } from '../torch/tensor.js';

export type Activation = (x: Tensor) => Tensor;

/** Activations by their Hugging Face config names (`hidden_act`, `activation_function`, `dense_act_fn`). */
export function activationByName(name: string, source: string): Activation {
  switch (name) {
    case 'silu':
    case 'swish':
      return F.silu;
    case 'gelu':
      return (x) => F.gelu(x);
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
      return (x) => F.gelu(x, 'tanh');
    case 'relu':
      return F.relu;
    case 'tanh':
      return F.tanh;
    default:
      throw new TunekitError('E_CONFIG', `${source}: activation "${name}" is not supported (silu, gelu, gelu_new, gelu_pytorch_tanh, relu, tanh)`);
  }
}
