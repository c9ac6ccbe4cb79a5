import { tensor, Tensor, tidy } from '../../src/torch/index.js';

/** The largest |actual − expected| over all elements, expected given as nested JSON numbers. */
export function maxAbsDiff(actual: Tensor, expected: unknown): number {
  return tidy(() => actual.float().sub(tensor(expected as number[])).abs().amax().item());
}
