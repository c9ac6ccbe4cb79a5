import { TunekitError } from '../errors.js';
import { Embedding } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { LanguageModel } from '../models/types.js';
import { cat, ones, randint, tensor } from '../torch/ops.js';
import { noGrad } from '../torch/runtime.js';
import { Tensor, tidy } from '../torch/tensor.js';
import { type AdapterConfigBase, COMMON_DEFAULTS, type ConfigOptions } from './config.js';
import { type PeftMethod, registerPeftMethod } from './method.js';

export interface PromptTuningConfig extends AdapterConfigBase {
  peftType: 'PROMPT_TUNING';
  numVirtualTokens: number;
  /** The token-embedding width; null until attached (PEFT derives it from the base model). */
  tokenDim: number | null;
  /** 1 for decoder-only models, 2 for encoder-decoder ones; null until attached. */
  numTransformerSubmodules: number | null;
  numAttentionHeads: number | null;
  numLayers: number | null;
  promptTuningInit: 'RANDOM' | 'TEXT' | 'SAMPLE_VOCAB';
  promptTuningInitText: string | null;
  tokenizerNameOrPath: string | null;
}

const PROMPT_TUNING_DEFAULTS: Omit<PromptTuningConfig, keyof AdapterConfigBase> = {
  numVirtualTokens: 20,
  tokenDim: null,
  numTransformerSubmodules: null,
  numAttentionHeads: null,
  numLayers: null,
  promptTuningInit: 'RANDOM',
  promptTuningInitText: null,
  tokenizerNameOrPath: null,
};

/** A prompt-tuning config with Hugging Face PEFT's defaults; the sizes come from the base model when attached. */
export function promptTuningConfig(options: ConfigOptions<PromptTuningConfig> = {}): PromptTuningConfig {
  return { ...COMMON_DEFAULTS, ...PROMPT_TUNING_DEFAULTS, ...options, peftType: 'PROMPT_TUNING' };
}

/** The sizes a soft prompt needs, known once it is attached. */
type CompletePromptConfig = PromptTuningConfig & { tokenDim: number; numTransformerSubmodules: number };

/**
 * Soft prompt: `numVirtualTokens × numTransformerSubmodules` trainable vectors in the token-embedding space
 * (PEFT's `prompt_encoder.<name>.embedding.weight`, saved as `prompt_embeddings`). Only the first
 * `numVirtualTokens` rows are used: prepended to the decoder-only input, or to the T5 encoder input.
 */
export class SoftPrompt extends Module {
  readonly embedding: Embedding;

  constructor(readonly config: CompletePromptConfig, options: { dtype?: Tensor['dtype'] } = {}) {
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

export const promptTuningMethod: PeftMethod<PromptTuningConfig> = {
  peftType: 'PROMPT_TUNING',
  moduleKeys: [],
  configKeys: ['num_virtual_tokens', 'token_dim', 'num_transformer_submodules', 'num_attention_heads', 'num_layers', 'prompt_tuning_init', 'prompt_tuning_init_text', 'tokenizer_name_or_path', 'tokenizer_kwargs', 'modules_to_save'],
  mergeable: false,
  parseConfig: (read) => ({
    numVirtualTokens: read.number('num_virtual_tokens'),
    tokenDim: read.number('token_dim'),
    numTransformerSubmodules: read.number('num_transformer_submodules', 1),
    numAttentionHeads: read.number('num_attention_heads', 0),
    numLayers: read.number('num_layers', 0),
    promptTuningInit: read.string('prompt_tuning_init', 'RANDOM', ['RANDOM', 'TEXT', 'SAMPLE_VOCAB'] as const) as PromptTuningConfig['promptTuningInit'],
    promptTuningInitText: read.string('prompt_tuning_init_text', null),
    tokenizerNameOrPath: read.string('tokenizer_name_or_path', null),
  }),
  serializeConfig: (config) => ({
    num_attention_heads: config.numAttentionHeads,
    num_layers: config.numLayers,
    num_transformer_submodules: config.numTransformerSubmodules,
    num_virtual_tokens: config.numVirtualTokens,
    prompt_tuning_init: config.promptTuningInit,
    prompt_tuning_init_text: config.promptTuningInitText,
    token_dim: config.tokenDim,
    tokenizer_kwargs: null,
    tokenizer_name_or_path: config.tokenizerNameOrPath,
  }),
  /**
   * PEFT's `_prepare_prompt_learning_config`: sizes from the base model where the config leaves them unset. Sizes
   * the config gives must fit the base: a decoder-only model takes one prompt (an encoder-decoder one, as T5's
   * PEFT adapters, one or two) and the prompt's width is the token embeddings' width.
   */
  complete(config, model, source) {
    const sizes = model.config as { numLayers?: number; numHeads?: number };
    const tokenDim = tidy(() => model.embedTokens(tensor([[0]], { dtype: 'int64' })).shape[2]);
    const base = `the base model (${model.config.modelType})`;
    const submodules = config.numTransformerSubmodules;
    if (submodules !== null && submodules !== undefined) {
      if (model.kind === 'causal' && submodules !== 1) {
        throw new TunekitError('E_ADAPTER', `${source}: "num_transformer_submodules" is ${submodules}${submodules === 2 ? ' (a soft prompt for encoder-decoder models such as T5)' : ''}, but ${base} is decoder-only, which takes 1`);
      }
      if (submodules !== 1 && submodules !== 2) {
        throw new TunekitError('E_ADAPTER', `${source}: "num_transformer_submodules" is ${submodules}, but ${base} is encoder-decoder, which takes 1 or 2`);
      }
    }
    if (config.tokenDim !== null && config.tokenDim !== undefined && config.tokenDim !== tokenDim) {
      throw new TunekitError('E_ADAPTER', `${source}: "token_dim" is ${config.tokenDim}, but the token embeddings of ${base} are ${tokenDim} wide`);
    }
    if (!Number.isSafeInteger(config.numVirtualTokens) || config.numVirtualTokens < 1) {
      throw new TunekitError('E_ADAPTER_CONFIG', `${source}: "num_virtual_tokens" must be a whole number ≥ 1, found ${config.numVirtualTokens}`);
    }
    return {
      ...config,
      tokenDim: config.tokenDim ?? tokenDim,
      numTransformerSubmodules: submodules ?? (model.kind === 'seq2seq' ? 2 : 1),
      numAttentionHeads: config.numAttentionHeads ?? sizes.numHeads ?? null,
      numLayers: config.numLayers ?? sizes.numLayers ?? null,
    };
  },
  attach({ model, promptInitTextIds }, config) {
    if (config.tokenDim === null || config.numTransformerSubmodules === null) throw new TunekitError('E_ADAPTER_CONFIG', 'a prompt-tuning config needs token_dim and num_transformer_submodules (complete it with the base model)');
    const dtype = model.parameters()[0]?.dtype ?? 'float32';
    const prompt = new SoftPrompt(config as CompletePromptConfig, { dtype });
    try {
      prompt.initialize(model, { textIds: promptInitTextIds });
      return { layers: [], prompt, copies: [], sharedTrainable: [] };
    } catch (error) {
      prompt.dispose();
      throw error;
    }
  },
};

registerPeftMethod(promptTuningMethod);
