import { stack } from '../torch/ops.js';
import { noGrad } from '../torch/runtime.js';
import { callOp, Tensor, tidy } from '../torch/tensor.js';

/**
 * Scales all gradients together so their global p-norm is at most `maxNorm` (torch.nn.utils.clip_grad_norm_).
 * Returns the norm before clipping.
 */
export function clipGradNorm(parameters: Iterable<Tensor>, maxNorm: number, normType = 2): number {
  return noGrad(() =>
    tidy(() => {
      const grads: Tensor[] = [];
      for (const param of parameters) {
        const grad = param.grad;
        if (grad !== null) grads.push(grad);
      }
      if (grads.length === 0) return 0;
      const norms = callOp('aten::_foreach_norm.Scalar', grads, normType, null) as Tensor[];
      const total = normType === Infinity ? stack(norms).amax() : stack(norms).norm(normType);
      const coefficient = total.add(1e-6).reciprocal().mul(maxNorm).clamp(undefined, 1);
      callOp('aten::_foreach_mul_.Tensor', grads, coefficient);
      return total.item();
    }),
  );
}
