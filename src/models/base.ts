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

/**
 * A decoder-only forward in stages, so a trainer can run them one by one (gradient checkpointing keeps only each
 * stage's input and recomputes the stage in backward). Masks and rotary tables are built once, by decoderStages.
 */
export interface DecoderStages {
  layerCount: number;
  /** The input embeddings [batch, length, hidden]. */
  embed(): Tensor;
  /** Decoder layer `index` applied to its input. */
  layer(index: number, x: Tensor): Tensor;
  /** The final norm. */
  finish(x: Tensor): Tensor;
}

/** A decoder-only architecture: final hidden states, then the output head. */
export abstract class CausalModel extends PretrainedModel {
  abstract readonly lm_head: Linear;

  abstract decoderStages(inputIds: Tensor | null, options?: CausalForwardOptions): DecoderStages;

  /** Final hidden states [batch, length, hidden]. */
  hiddenStates(inputIds: Tensor | null, options: CausalForwardOptions = {}): Tensor {
    const stages = this.decoderStages(inputIds, options);
    let x = stages.embed();
    for (let index = 0; index < stages.layerCount; index++) x = stages.layer(index, x);
    return stages.finish(x);
  }

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
