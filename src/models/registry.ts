import { TunekitError } from '../errors.js';
import { type LayerOptions } from '../nn/layers.js';
import type { RawConfig } from './config.js';
import { GPT2LMHeadModel, parseGPT2Config } from './gpt2.js';
import { LlamaForCausalLM, parseLlamaConfig } from './llama.js';
import { parseT5Config, T5ForConditionalGeneration } from './t5.js';
import type { LanguageModel } from './types.js';

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
}

export interface ModelDimensions {
  layers: number;
  hiddenSize: number;
  contextLength: number | null;
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
};

const t5: Architecture = {
  name: 't5',
  create: (config, options) => new T5ForConditionalGeneration(parseT5Config(config), options),
  tiedKeys: (config) => ['encoder.embed_tokens.weight', 'decoder.embed_tokens.weight', ...(parseT5Config(config).tieWordEmbeddings ? ['lm_head.weight'] : [])],
  dimensions: (config) => {
    const parsed = parseT5Config(config);
    return { layers: parsed.numLayers, hiddenSize: parsed.dModel, contextLength: null };
  },
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

/** The architecture for config.json's `model_type`; Llama-shaped configs of other names load as Llama. */
export function architectureFor(config: RawConfig): Architecture {
  const modelType = config.values.model_type;
  if (typeof modelType !== 'string') throw new TunekitError('E_CONFIG', `${config.source}: "model_type" is missing`);
  const known = architectures.get(modelType);
  if (known !== undefined) return known;
  const v = config.values;
  const llamaShaped = typeof v.rms_norm_eps === 'number' && typeof v.intermediate_size === 'number' && typeof v.num_attention_heads === 'number' && (v.hidden_act ?? 'silu') === 'silu';
  const architecturesList = Array.isArray(v.architectures) ? v.architectures.map(String) : [];
  if (llamaShaped && architecturesList.some((name) => name.endsWith('ForCausalLM'))) return llamaFamily;
  throw new TunekitError(
    'E_ARCHITECTURE',
    `${config.source}: model_type "${modelType}" is not supported (supported: ${[...architectures.keys()].join(', ')}, and Llama-shaped causal LMs)`,
  );
}
