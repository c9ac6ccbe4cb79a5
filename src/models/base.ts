import type { Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { Tensor } from '../torch/tensor.js';
import { batchLogits, batchLoss } from './batch.js';
import type { Batch, CausalForwardOptions, LanguageModel, ModelSource } from './types.js';

/** What every architecture shares: where it was loaded from, and batch logits and loss through its own forward. */
export abstract class PretrainedModel extends Module {
  source: ModelSource | null = null;

  logits(batch: Batch): Tensor {
    return batchLogits(this as unknown as LanguageModel, batch);
  }

  loss(batch: Batch): Tensor {
    return batchLoss(this as unknown as LanguageModel, batch);
  }
}

/** A decoder-only architecture: final hidden states, then the output head. */
export abstract class CausalModel extends PretrainedModel {
  abstract readonly lm_head: Linear;

  /** Final hidden states [batch, length, hidden]. */
  abstract hiddenStates(inputIds: Tensor | null, options?: CausalForwardOptions): Tensor;

  /**
   * Logits [batch, length, vocab]: only the last position with `lastOnly`; [n, vocab] at `outputPositions`; the
   * hidden states instead of logits with `headless`.
   */
  forward(inputIds: Tensor | null, options: CausalForwardOptions = {}): Tensor {
    let hidden = this.hiddenStates(inputIds, options);
    if (options.lastOnly) hidden = hidden.narrow(1, hidden.shape[1] - 1, 1);
    if (options.outputPositions !== undefined) hidden = hidden.reshape([-1, hidden.shape[2]]).indexSelect(0, options.outputPositions);
    return options.headless ? hidden : this.lm_head.forward(hidden);
  }
}
