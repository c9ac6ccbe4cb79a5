import { TunekitError } from '../errors.js';
import { LayerNorm, RMSNorm } from '../nn/layers.js';
import { matchesPattern, type NamePattern } from '../nn/module.js';
import { HFRMSNorm } from '../models/norms.js';
import type { LanguageModel } from '../models/types.js';
import { Tensor } from '../torch/tensor.js';
import { type AdapterConfigBase, COMMON_DEFAULTS, type ConfigOptions } from './config.js';
import { copyParameters } from './copies.js';
import { adapterModulePattern, type PeftMethod, registerPeftMethod } from './method.js';
import { layerIndexOf } from './targets.js';

export interface SelectiveOptions {
  /** Train parameters whose names match (glob like "decoder.*" or a RegExp). */
  trainOnly?: NamePattern[];
  /** Train the last N numbered blocks (of each stack, for encoder-decoder models). */
  lastBlocks?: number;
  /** BitFit: train every bias and every normalization weight. */
  bitfit?: boolean;
}

/** The stack a block parameter belongs to ("model.layers", "encoder.block", …) and its block index. */
function blockOf(name: string): { stack: string; index: number } | undefined {
  const index = layerIndexOf(name);
  if (index === undefined) return undefined;
  const match = new RegExp(`^(.*?)\\.?(?:layers|h|block|blocks|layer)\\.${index}\\.`).exec(name);
  return { stack: match?.[1] ?? '', index };
}

/** The base parameters selective fine-tuning trains: chosen by pattern, by block, or by BitFit. */
export function selectParameters(model: LanguageModel, options: SelectiveOptions): [string, Tensor][] {
  if (options.trainOnly === undefined && options.lastBlocks === undefined && !options.bitfit) {
    throw new TunekitError('E_SELECTIVE', 'selective fine-tuning needs trainOnly patterns, lastBlocks or bitfit');
  }
  const normWeights = new Set<Tensor>();
  if (options.bitfit) {
    for (const [, module] of model.namedModules()) {
      if (module instanceof LayerNorm || module instanceof RMSNorm || module instanceof HFRMSNorm) for (const p of module.parameters()) normWeights.add(p);
    }
  }
  const internal = adapterModulePattern();
  const parameters = model.namedParameters().filter(([name]) => !internal.test(name));
  const lastIndex = new Map<string, number>();
  if (options.lastBlocks !== undefined) {
    if (!Number.isInteger(options.lastBlocks) || options.lastBlocks < 1) throw new TunekitError('E_SELECTIVE', `lastBlocks must be a positive integer, got ${options.lastBlocks}`);
    for (const [name] of parameters) {
      const block = blockOf(name);
      if (block !== undefined) lastIndex.set(block.stack, Math.max(lastIndex.get(block.stack) ?? -1, block.index));
    }
  }
  const chosen = parameters.filter(([name, parameter]) => {
    const byPattern = options.trainOnly?.some((pattern) => matchesPattern(name, pattern)) ?? false;
    const block = options.lastBlocks === undefined ? undefined : blockOf(name);
    const byBlock = block !== undefined && block.index > (lastIndex.get(block.stack) as number) - (options.lastBlocks as number);
    const byBitfit = options.bitfit === true && (name.endsWith('.bias') || normWeights.has(parameter));
    return byPattern || byBlock || byBitfit;
  });
  if (chosen.length === 0) throw new TunekitError('E_SELECTIVE', `no parameter matches ${JSON.stringify({ ...options, trainOnly: options.trainOnly?.map(String) })}`);
  return chosen;
}

/**
 * Selective fine-tuning in place: freezes every parameter, then unfreezes those `selectParameters` chooses.
 * Returns the trainable parameters by name (pass them to the optimizer).
 */
export function selectTrainable(model: LanguageModel, options: SelectiveOptions): [string, Tensor][] {
  const chosen = selectParameters(model, options);
  model.freeze();
  for (const [, parameter] of chosen) parameter.requiresGrad = true;
  return chosen;
}

/**
 * Selective fine-tuning as an adapter (tunekit's own `peft_type` SELECTIVE): the chosen base parameters get a
 * per-adapter copy, trained and saved in adapter_model.safetensors under their model names, so several selective
 * adapters and the untouched base coexist like any other adapters.
 */
export interface SelectiveConfig extends AdapterConfigBase {
  peftType: 'SELECTIVE';
  /** Glob patterns over parameter names ("decoder.*", "*.bias"). */
  trainOnly: string[] | null;
  /** Train the last N numbered blocks of each stack. */
  lastBlocks: number | null;
  /** Train every bias and normalization weight. */
  bitfit: boolean;
}

const SELECTIVE_DEFAULTS: Omit<SelectiveConfig, keyof AdapterConfigBase> = { trainOnly: null, lastBlocks: null, bitfit: false };

export function selectiveConfig(options: ConfigOptions<SelectiveConfig> = {}): SelectiveConfig {
  return { ...COMMON_DEFAULTS, ...SELECTIVE_DEFAULTS, ...options, peftType: 'SELECTIVE' };
}

export const selectiveMethod: PeftMethod<SelectiveConfig> = {
  peftType: 'SELECTIVE',
  moduleKeys: [],
  configKeys: ['train_only', 'last_blocks', 'bitfit'],
  mergeable: false,
  parseConfig: (read, json, file) => {
    const lastBlocks = json.last_blocks ?? null;
    if (lastBlocks !== null && !(typeof lastBlocks === 'number' && Number.isInteger(lastBlocks) && lastBlocks >= 1)) {
      throw new TunekitError('E_ADAPTER_CONFIG', `${file}: "last_blocks" must be a positive integer or null, found ${JSON.stringify(lastBlocks)}`);
    }
    return { trainOnly: read.stringList('train_only'), lastBlocks: lastBlocks as number | null, bitfit: read.boolean('bitfit', false) };
  },
  serializeConfig: (config) => ({ bitfit: config.bitfit, last_blocks: config.lastBlocks, train_only: config.trainOnly }),
  attach({ model }, config) {
    const chosen = selectParameters(model, { trainOnly: config.trainOnly ?? undefined, lastBlocks: config.lastBlocks ?? undefined, bitfit: config.bitfit });
    return { layers: [], copies: copyParameters(chosen), sharedTrainable: [] };
  },
};

registerPeftMethod(selectiveMethod);
