import { arange, randint, type Tensor, tidy } from '../../src/index.js';

/**
 * Counting sequences with a hidden stride: start s and stride d in 1..3, tokens s, s+d, s+2d, … (mod vocab). The
 * model must infer d from context, so the loss falls from ln(vocab) towards 0 as it learns.
 */
export function countingBatch(batchSize: number, length: number, vocabSize: number): Tensor {
  return tidy(() => {
    const starts = randint(0, vocabSize, [batchSize, 1]);
    const strides = randint(1, 4, [batchSize, 1]);
    return starts.add(strides.mul(arange(length).unsqueeze(0))).remainder(vocabSize);
  });
}
