import { TunekitError } from '../errors.js';
import { LayerNorm, RMSNorm } from '../nn/layers.js';
import { matchesPattern, type NamePattern } from '../nn/module.js';
import { HFRMSNorm } from '../models/norms.js';
import type { LanguageModel } from '../models/types.js';
import { Tensor } from '../torch/tensor.js';
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

/**
 * Selective fine-tuning: freezes every parameter, then unfreezes those chosen by pattern, by block, or by BitFit.
 * Returns the trainable parameters by name (pass them to the optimizer).
 */
export function selectTrainable(model: LanguageModel, options: SelectiveOptions): [string, Tensor][] {
  if (options.trainOnly === undefined && options.lastBlocks === undefined && !options.bitfit) {
    throw new TunekitError('E_SELECTIVE', 'selective fine-tuning needs trainOnly patterns, lastBlocks or bitfit');
  }
  model.freeze();
  const normWeights = new Set<Tensor>();
  if (options.bitfit) {
    for (const [, module] of model.namedModules()) {
      if (module instanceof LayerNorm || module instanceof RMSNorm || module instanceof HFRMSNorm) for (const p of module.parameters()) normWeights.add(p);
    }
  }
  const lastIndex = new Map<string, number>();
  if (options.lastBlocks !== undefined) {
    if (!Number.isInteger(options.lastBlocks) || options.lastBlocks < 1) throw new TunekitError('E_SELECTIVE', `lastBlocks must be a positive integer, got ${options.lastBlocks}`);
    for (const [name] of model.namedParameters()) {
      const block = blockOf(name);
      if (block !== undefined) lastIndex.set(block.stack, Math.max(lastIndex.get(block.stack) ?? -1, block.index));
    }
  }
  const chosen: [string, Tensor][] = [];
  for (const [name, parameter] of model.namedParameters()) {
    const byPattern = options.trainOnly?.some((pattern) => matchesPattern(name, pattern)) ?? false;
    const block = options.lastBlocks === undefined ? undefined : blockOf(name);
    const byBlock = block !== undefined && block.index > (lastIndex.get(block.stack) as number) - (options.lastBlocks as number);
    const byBitfit = options.bitfit === true && (name.endsWith('.bias') || normWeights.has(parameter));
    if (byPattern || byBlock || byBitfit) {
      parameter.requiresGrad = true;
      chosen.push([name, parameter]);
    }
  }
  if (chosen.length === 0) throw new TunekitError('E_SELECTIVE', `no parameter matches ${JSON.stringify({ ...options, trainOnly: options.trainOnly?.map(String) })}`);
  return chosen;
}
