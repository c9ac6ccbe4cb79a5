import { TunekitError } from '../errors.js';
import { Embedding } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { LanguageModel } from '../models/types.js';
import { cat, ones, randint, tensor } from '../torch/ops.js';
import { noGrad } from '../torch/runtime.js';
import { Tensor, tidy } from '../torch/tensor.js';
import type { PromptTuningConfig } from './config.js';

/**
 * Soft prompt: `numVirtualTokens × numTransformerSubmodules` trainable vectors in the token-embedding space
 * (PEFT's `prompt_encoder.<name>.embedding.weight`, saved as `prompt_embeddings`). Only the first
 * `numVirtualTokens` rows are used: prepended to the decoder-only input, or to the T5 encoder input.
 */
export class SoftPrompt extends Module {
  readonly embedding: Embedding;

  constructor(readonly config: PromptTuningConfig, options: { dtype?: Tensor['dtype'] } = {}) {
    super();
    this.embedding = this.registerModule('embedding', new Embedding(config.numVirtualTokens * config.numTransformerSubmodules, config.tokenDim, options));
  }

  get numVirtualTokens(): number {
    return this.config.numVirtualTokens;
  }

  /** The soft prompt for a batch: [batch, numVirtualTokens, tokenDim]. */
  prompts(batch: number): Tensor {
    return this.embedding.weight.narrow(0, 0, this.numVirtualTokens).unsqueeze(0).expand([batch, -1, -1]);
  }

  /** Input embeddings with the soft prompt in front. */
  prepend(tokenEmbeddings: Tensor): Tensor {
    const prompts = this.prompts(tokenEmbeddings.shape[0]).to(tokenEmbeddings.dtype);
    return cat([prompts, tokenEmbeddings], 1);
  }

  /** An attention mask [batch, length] with ones for the virtual tokens in front. */
  prependMask(mask: Tensor): Tensor {
    return cat([ones([mask.shape[0], this.numVirtualTokens], { dtype: mask.dtype }), mask], 1);
  }

  /** Labels [batch, length] with -100 for the virtual tokens in front (they carry no loss). */
  prependLabels(labels: Tensor): Tensor {
    return cat([tensor(new BigInt64Array(labels.shape[0] * this.numVirtualTokens).fill(-100n), { shape: [labels.shape[0], this.numVirtualTokens] }), labels], 1);
  }

  /**
   * Initializes the prompt as PEFT does: from the embeddings of `text`'s tokens (repeated or cut to length), or
   * from random vocabulary rows; RANDOM keeps the N(0, 1) draw.
   */
  initialize(model: LanguageModel, options: { textIds?: number[] } = {}): void {
    noGrad(() =>
      tidy(() => {
        const rows = this.numVirtualTokens * this.config.numTransformerSubmodules;
        let ids: Tensor | null = null;
        if (this.config.promptTuningInit === 'TEXT') {
          const text = options.textIds;
          if (text === undefined || text.length === 0) {
            throw new TunekitError('E_ADAPTER_CONFIG', 'prompt_tuning_init TEXT needs prompt_tuning_init_text and a tokenizer to encode it');
          }
          const repeated = Array.from({ length: rows }, (_, i) => text[i % text.length]);
          ids = tensor(repeated, { dtype: 'int64' });
        } else if (this.config.promptTuningInit === 'SAMPLE_VOCAB') {
          ids = randint(0, model.config.vocabSize, [rows]);
        }
        if (ids !== null) this.embedding.weight.copy_(model.embedTokens(ids.unsqueeze(0)).squeeze(0));
        return undefined;
      }),
    );
  }
}
