import { TunekitError } from '../errors.js';
import { type LayerOptions } from '../nn/layers.js';
import type { RawConfig } from './config.js';
import { GPT2LMHeadModel, gpt2WeightExpectations, parseGPT2Config } from './gpt2.js';
import { LlamaForCausalLM, llamaWeightExpectations, parseLlamaConfig } from './llama.js';
import { parseT5Config, T5ForConditionalGeneration, t5WeightExpectations } from './t5.js';
import type { LanguageModel } from './types.js';
import type { WeightExpectation } from './weights-check.js';

export interface Architecture {
  /** Names the architecture in messages and `tunekit info`. */
  name: string;
  create(config: RawConfig, options: LayerOptions): LanguageModel;
  /** Checkpoint keys that may be absent because they are tied to another tensor. */
  tiedKeys(config: RawConfig): string[];
  /** Keys older checkpoints carry that are derived state, not weights (skipped on load). */
  ignoredKeys?: RegExp;
  /** Depth, width and the longest sequence its positions cover (null where positions are relative). */
  dimensions(config: RawConfig): ModelDimensions;
  /**
   * The layer counts and dimensions the checkpoint's tensors must show for this config, computed without allocating
   * anything; the loader checks them against the safetensors headers before `create`.
   */
  weightExpectations?(config: RawConfig): WeightExpectation[];
}

export interface ModelDimensions {
  layers: number;
  hiddenSize: number;
  contextLength: number | null;
  /**
   * The layer counts and dimensions the checkpoint's tensors must show for this config, computed without allocating
   * anything; the loader checks them against the safetensors headers before `create`.
   */
  weightExpectations?(config: RawConfig): WeightExpectation[];
}

const llamaFamily: Architecture = {
  name: 'llama',
  create: (config, options) => new LlamaForCausalLM(parseLlamaConfig(config), options),
  tiedKeys: (config) => (parseLlamaConfig(config).tieWordEmbeddings ? ['lm_head.weight'] : []),
  ignoredKeys: /\.rotary_emb\.inv_freq$/,
  dimensions: (config) => {
    const parsed = parseLlamaConfig(config);
    return { layers: parsed.numLayers, hiddenSize: parsed.hiddenSize, contextLength: parsed.maxPositionEmbeddings };
  },
  weightExpectations: llamaWeightExpectations,
};

const gpt2: Architecture = {
  name: 'gpt2',
  create: (config, options) => new GPT2LMHeadModel(parseGPT2Config(config), options),
  tiedKeys: (config) => (parseGPT2Config(config).tieWordEmbeddings ? ['lm_head.weight'] : []),
  ignoredKeys: /\.attn\.(bias|masked_bias)$/,
  dimensions: (config) => {
    const parsed = parseGPT2Config(config);
    return { layers: parsed.numLayers, hiddenSize: parsed.hiddenSize, contextLength: parsed.maxPositions };
  },
  weightExpectations: gpt2WeightExpectations,
};

const t5: Architecture = {
  name: 't5',
  create: (config, options) => new T5ForConditionalGeneration(parseT5Config(config), options),
  tiedKeys: (config) => ['encoder.embed_tokens.weight', 'decoder.embed_tokens.weight', ...(parseT5Config(config).tieWordEmbeddings ? ['lm_head.weight'] : [])],
  dimensions: (config) => {
    const parsed = parseT5Config(config);
    return { layers: parsed.numLayers, hiddenSize: parsed.dModel, contextLength: null };
  },
  weightExpectations: t5WeightExpectations,
};

const architectures = new Map<string, Architecture>([
  ['t5', t5],
  ['mt5', t5],
  ['gpt2', gpt2],
  ['llama', llamaFamily],
  ['mistral', llamaFamily],
  ['qwen2', llamaFamily],
]);

export function registerArchitecture(modelType: string, architecture: Architecture): void {
  architectures.set(modelType, architecture);
}

/** The model_type values tunekit can build, sorted. */
export function supportedModelTypes(): string[] {
  return [...architectures.keys()].sort();
}

/**
 * The architecture for config.json's `model_type`. Only the registered types load: a config of another type that
 * looks Llama-shaped (Granite with its multipliers, Gemma, Phi-3) would build a model that runs and computes the
 * wrong function, so it is refused with the list of supported types.
 */
export function architectureFor(config: RawConfig): Architecture {
  const modelType = config.values.model_type;
  if (typeof modelType !== 'string' || modelType === '') {
    throw new TunekitError('E_CONFIG', `${config.source}: "model_type" is missing (supported: ${supportedModelTypes().join(', ')})`);
  }
  const known = architectures.get(modelType);
  if (known !== undefined) return known;
  throw new TunekitError(
    'E_ARCHITECTURE',
    `${config.source}: "model_type" ${JSON.stringify(modelType)} is not supported (supported: ${supportedModelTypes().join(', ')})`,
  );
}
