import type { LanguageModel } from '../models/types.js';
import { autocast } from '../torch/runtime.js';

/**
 * Trainer's bf16: the forward (and so the backward's matrix products) under autocast to bfloat16 on the device the
 * model's parameters are on; weights, gradients and optimizer state stay float32.
 */
export function withAutocast<T>(bf16: boolean, model: LanguageModel, work: () => T): T {
  if (!bf16) return work();
  const device = model.parameters()[0]?.device.startsWith('cuda') ? 'cuda' : 'cpu';
  return autocast(device, 'bfloat16', work);
}
