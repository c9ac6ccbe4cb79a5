import { TunekitError } from '../errors.js';
import type { TargetModules } from './targets.js';

export type TaskType = 'CAUSAL_LM' | 'SEQ_2_SEQ_LM';
export type LoraBias = 'none' | 'all' | 'lora_only';

export interface LoraConfig {
  peftType: 'LORA';
  r: number;
  loraAlpha: number;
  loraDropout: number;
  targetModules: TargetModules | null;
  useRslora: boolean;
  initLoraWeights: boolean | 'gaussian';
  bias: LoraBias;
  fanInFanOut: boolean;
  modulesToSave: string[] | null;
  layersToTransform: number[] | number | null;
  layersPattern: string | string[] | null;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
}

export interface PromptTuningConfig {
  peftType: 'PROMPT_TUNING';
  numVirtualTokens: number;
  tokenDim: number;
  numTransformerSubmodules: number;
  numAttentionHeads: number;
  numLayers: number;
  promptTuningInit: 'RANDOM' | 'TEXT' | 'SAMPLE_VOCAB';
  promptTuningInitText: string | null;
  tokenizerNameOrPath: string | null;
}

export interface IA3Config {
  peftType: 'IA3';
  targetModules: TargetModules | null;
  /** Targets whose input (not output) is rescaled: the feed-forward down projections. */
  feedforwardModules: TargetModules | null;
  fanInFanOut: boolean;
  initIa3Weights: boolean;
  modulesToSave: string[] | null;
}

/** tunekit's own bottleneck adapters (PEFT has none), stored in the same two-file layout. */
export interface BottleneckConfig {
  peftType: 'BOTTLENECK_ADAPTER';
  bottleneckSize: number;
  nonLinearity: 'relu' | 'gelu' | 'silu' | 'tanh';
  /** houlsby: after the attention and the feed-forward sublayers; pfeiffer: after the feed-forward sublayer only. */
  placement: 'houlsby' | 'pfeiffer';
  /** Multiplier on the adapter's output before it is added back. */
  scaling: number;
}

export type AdapterConfig = (LoraConfig | PromptTuningConfig | IA3Config | BottleneckConfig) & {
  taskType: TaskType | null;
  baseModelNameOrPath: string | null;
  revision: string | null;
  inferenceMode: boolean;
};

type Json = Record<string, unknown>;

function check<T>(ok: boolean, file: string, key: string, expected: string, value: unknown): T {
  if (!ok) throw new TunekitError('E_ADAPTER_CONFIG', `${file}: "${key}" must be ${expected}, found ${JSON.stringify(value)}`);
  return value as T;
}

const reader = (json: Json, file: string) => ({
  number: (key: string, fallback?: number): number => {
    const v = json[key] ?? fallback;
    return check<number>(typeof v === 'number' && Number.isFinite(v), file, key, 'a number', json[key]);
  },
  boolean: (key: string, fallback: boolean): boolean => {
    const v = json[key] ?? fallback;
    return check<boolean>(typeof v === 'boolean', file, key, 'true or false', json[key]);
  },
  string: <S extends string>(key: string, fallback: S | null, allowed?: readonly S[]): S | null => {
    const v = json[key] ?? fallback;
    if (v === null) return null;
    return check<S>(typeof v === 'string' && (allowed === undefined || allowed.includes(v as S)), file, key, allowed === undefined ? 'a string' : `one of ${allowed.join(', ')}`, json[key]);
  },
  targets: (key: string): TargetModules | null => {
    const v = json[key];
    if (v === undefined || v === null) return null;
    return check<TargetModules>(typeof v === 'string' || (Array.isArray(v) && v.every((t) => typeof t === 'string')), file, key, 'a module name list or a regex string', v);
  },
  stringList: (key: string): string[] | null => {
    const v = json[key];
    if (v === undefined || v === null) return null;
    return check<string[]>(Array.isArray(v) && v.every((t) => typeof t === 'string'), file, key, 'a list of module names', v);
  },
  numberMap: (key: string): Record<string, number> => {
    const v = json[key] ?? {};
    return check<Record<string, number>>(typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((n) => typeof n === 'number'), file, key, 'an object of numbers', v);
  },
});

/** The keys each PEFT type understands; anything else (newer PEFT versions) is reported, not fatal. */
const KNOWN_KEYS: Record<string, string[]> = {
  common: ['peft_type', 'task_type', 'base_model_name_or_path', 'revision', 'inference_mode', 'auto_mapping', 'peft_version'],
  LORA: ['r', 'lora_alpha', 'lora_dropout', 'target_modules', 'use_rslora', 'init_lora_weights', 'bias', 'fan_in_fan_out', 'modules_to_save', 'layers_to_transform', 'layers_pattern', 'rank_pattern', 'alpha_pattern', 'megatron_config', 'megatron_core', 'loftq_config', 'use_dora', 'exclude_modules', 'lora_bias', 'layer_replication', 'runtime_config', 'eva_config', 'corda_config', 'use_qalora', 'qalora_group_size', 'trainable_token_indices', 'target_parameters', 'arrow_config', 'alora_invocation_tokens', 'ensure_weight_tying'],
  PROMPT_TUNING: ['num_virtual_tokens', 'token_dim', 'num_transformer_submodules', 'num_attention_heads', 'num_layers', 'prompt_tuning_init', 'prompt_tuning_init_text', 'tokenizer_name_or_path', 'tokenizer_kwargs', 'modules_to_save'],
  IA3: ['target_modules', 'feedforward_modules', 'fan_in_fan_out', 'init_ia3_weights', 'modules_to_save', 'exclude_modules'],
  BOTTLENECK_ADAPTER: ['bottleneck_size', 'non_linearity', 'placement', 'scaling'],
};

/** Parses adapter_config.json. Unknown keys go to `onWarning`; settings tunekit cannot honour are errors. */
export function parseAdapterConfig(json: Json, file: string, onWarning: (message: string) => void = () => {}): AdapterConfig {
  const r = reader(json, file);
  const peftType = r.string('peft_type', null, ['LORA', 'PROMPT_TUNING', 'IA3', 'BOTTLENECK_ADAPTER'] as const);
  if (peftType === null) throw new TunekitError('E_ADAPTER_CONFIG', `${file}: "peft_type" is missing`);
  const isUnset = (value: unknown) =>
    value === null || value === false || (Array.isArray(value) && value.length === 0) || (typeof value === 'object' && value !== null && Object.keys(value).length === 0);
  // Settings newer PEFT versions add are ignored; only those set to something other than "off" are worth a warning.
  const unknown = Object.keys(json).filter((key) => !KNOWN_KEYS.common.includes(key) && !KNOWN_KEYS[peftType].includes(key) && !isUnset(json[key]));
  if (unknown.length > 0) onWarning(`${file}: ignoring keys this tunekit does not know (from a newer PEFT?): ${unknown.join(', ')}`);
  const common = {
    taskType: r.string('task_type', null, ['CAUSAL_LM', 'SEQ_2_SEQ_LM'] as const),
    baseModelNameOrPath: r.string('base_model_name_or_path', null),
    revision: r.string('revision', null),
    inferenceMode: r.boolean('inference_mode', true),
  };
  if (peftType === 'LORA') {
    if (json.use_dora === true) throw new TunekitError('E_ADAPTER_CONFIG', `${file}: "use_dora": true (DoRA) is not supported`);
    if (json.lora_bias === true) throw new TunekitError('E_ADAPTER_CONFIG', `${file}: "lora_bias": true is not supported`);
    const init = json.init_lora_weights ?? true;
    return {
      ...common,
      peftType,
      r: r.number('r', 8),
      loraAlpha: r.number('lora_alpha', 8),
      loraDropout: r.number('lora_dropout', 0),
      targetModules: r.targets('target_modules'),
      useRslora: r.boolean('use_rslora', false),
      initLoraWeights: check<boolean | 'gaussian'>(init === true || init === false || init === 'gaussian', file, 'init_lora_weights', 'true, false or "gaussian"', init),
      bias: r.string('bias', 'none', ['none', 'all', 'lora_only'] as const) as LoraBias,
      fanInFanOut: r.boolean('fan_in_fan_out', false),
      modulesToSave: r.stringList('modules_to_save'),
      layersToTransform: (json.layers_to_transform ?? null) as number[] | number | null,
      layersPattern: (json.layers_pattern ?? null) as string | string[] | null,
      rankPattern: r.numberMap('rank_pattern'),
      alphaPattern: r.numberMap('alpha_pattern'),
    };
  }
  if (peftType === 'PROMPT_TUNING') {
    return {
      ...common,
      peftType,
      numVirtualTokens: r.number('num_virtual_tokens'),
      tokenDim: r.number('token_dim'),
      numTransformerSubmodules: r.number('num_transformer_submodules', 1),
      numAttentionHeads: r.number('num_attention_heads', 0),
      numLayers: r.number('num_layers', 0),
      promptTuningInit: r.string('prompt_tuning_init', 'RANDOM', ['RANDOM', 'TEXT', 'SAMPLE_VOCAB'] as const) as 'RANDOM',
      promptTuningInitText: r.string('prompt_tuning_init_text', null),
      tokenizerNameOrPath: r.string('tokenizer_name_or_path', null),
    };
  }
  if (peftType === 'IA3') {
    return {
      ...common,
      peftType,
      targetModules: r.targets('target_modules'),
      feedforwardModules: r.targets('feedforward_modules'),
      fanInFanOut: r.boolean('fan_in_fan_out', false),
      initIa3Weights: r.boolean('init_ia3_weights', true),
      modulesToSave: r.stringList('modules_to_save'),
    };
  }
  return {
    ...common,
    peftType,
    bottleneckSize: r.number('bottleneck_size', 64),
    nonLinearity: r.string('non_linearity', 'relu', ['relu', 'gelu', 'silu', 'tanh'] as const) as 'relu',
    placement: r.string('placement', 'pfeiffer', ['houlsby', 'pfeiffer'] as const) as 'pfeiffer',
    scaling: r.number('scaling', 1),
  };
}

/** adapter_config.json as PEFT writes it (snake_case, every key present, sorted). */
export function serializeAdapterConfig(config: AdapterConfig): Json {
  const common = {
    auto_mapping: null,
    base_model_name_or_path: config.baseModelNameOrPath,
    inference_mode: config.inferenceMode,
    peft_type: config.peftType,
    revision: config.revision,
    task_type: config.taskType,
  };
  let specific: Json;
  switch (config.peftType) {
    case 'LORA':
      specific = {
        alpha_pattern: config.alphaPattern,
        bias: config.bias,
        fan_in_fan_out: config.fanInFanOut,
        init_lora_weights: config.initLoraWeights,
        layers_pattern: config.layersPattern,
        layers_to_transform: config.layersToTransform,
        loftq_config: {},
        lora_alpha: config.loraAlpha,
        lora_dropout: config.loraDropout,
        megatron_config: null,
        megatron_core: 'megatron.core',
        modules_to_save: config.modulesToSave,
        r: config.r,
        rank_pattern: config.rankPattern,
        target_modules: config.targetModules,
        use_rslora: config.useRslora,
      };
      break;
    case 'PROMPT_TUNING':
      specific = {
        num_attention_heads: config.numAttentionHeads,
        num_layers: config.numLayers,
        num_transformer_submodules: config.numTransformerSubmodules,
        num_virtual_tokens: config.numVirtualTokens,
        prompt_tuning_init: config.promptTuningInit,
        prompt_tuning_init_text: config.promptTuningInitText,
        token_dim: config.tokenDim,
        tokenizer_kwargs: null,
        tokenizer_name_or_path: config.tokenizerNameOrPath,
      };
      break;
    case 'IA3':
      specific = {
        fan_in_fan_out: config.fanInFanOut,
        feedforward_modules: config.feedforwardModules,
        init_ia3_weights: config.initIa3Weights,
        modules_to_save: config.modulesToSave,
        target_modules: config.targetModules,
      };
      break;
    case 'BOTTLENECK_ADAPTER':
      specific = { bottleneck_size: config.bottleneckSize, non_linearity: config.nonLinearity, placement: config.placement, scaling: config.scaling };
      break;
  }
  const merged: Json = { ...common, ...specific };
  return Object.fromEntries(Object.keys(merged).sort().map((key) => [key, merged[key]]));
}
