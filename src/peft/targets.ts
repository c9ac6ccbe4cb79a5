import { TunekitError } from '../errors.js';
import { ProjectionLayer } from '../nn/layers.js';
import type { LanguageModel } from '../models/types.js';
import { adapterModulePattern } from './method.js';

/** PEFT's default LoRA/IA³ targets per model_type (transformers' naming). */
export const DEFAULT_LORA_TARGETS: Record<string, string[]> = {
  t5: ['q', 'v'],
  mt5: ['q', 'v'],
  llama: ['q_proj', 'v_proj'],
  mistral: ['q_proj', 'v_proj'],
  qwen2: ['q_proj', 'v_proj'],
  gpt2: ['c_attn'],
};

export const DEFAULT_IA3_TARGETS: Record<string, { targets: string[]; feedforward: string[] }> = {
  t5: { targets: ['k', 'v', 'wo'], feedforward: ['wo'] },
  mt5: { targets: ['k', 'v', 'wo'], feedforward: ['wo'] },
  llama: { targets: ['k_proj', 'v_proj', 'down_proj'], feedforward: ['down_proj'] },
  mistral: { targets: ['k_proj', 'v_proj', 'down_proj'], feedforward: ['down_proj'] },
  qwen2: { targets: ['k_proj', 'v_proj', 'down_proj'], feedforward: ['down_proj'] },
  gpt2: { targets: ['c_attn', 'mlp.c_proj'], feedforward: ['mlp.c_proj'] },
};

/** `targetModules` as PEFT accepts it: a list of names (exact or dotted suffix), a regex (full match), or "all-linear". */
export type TargetModules = string[] | string;

/** Module name patterns that hold numbered layers, as PEFT looks for them. */
const LAYER_PATTERNS = ['layers', 'h', 'block', 'blocks', 'layer'];

/** The index of the transformer layer a module belongs to, or undefined. */
export function layerIndexOf(name: string, layersPattern?: string | string[] | null): number | undefined {
  const patterns = layersPattern === undefined || layersPattern === null ? LAYER_PATTERNS : Array.isArray(layersPattern) ? layersPattern : [layersPattern];
  for (const pattern of patterns) {
    const match = new RegExp(`(?:^|\\.)${pattern}\\.(\\d+)\\.`).exec(name);
    if (match !== null) return Number(match[1]);
  }
  return undefined;
}

/** Whether module `name` is targeted (PEFT's rule: regex full match for a string, else equal or dotted suffix). */
export function isTargeted(name: string, targets: TargetModules): boolean {
  if (typeof targets === 'string') return new RegExp(`^(?:${targets})$`).test(name);
  return targets.some((target) => name === target || name.endsWith(`.${target}`));
}


/** The output head, which "all-linear" leaves alone (every architecture here names it so). */
const OUTPUT_HEAD = 'lm_head';

export interface SelectOptions {
  targets: TargetModules;
  layersToTransform?: number[] | number | null;
  layersPattern?: string | string[] | null;
}

/** The projection layers a PEFT method should attach to, with their dotted names. */
export function selectProjections(model: LanguageModel, options: SelectOptions): [string, ProjectionLayer][] {
  const projections: [string, ProjectionLayer][] = [];
  const internal = adapterModulePattern();
  for (const [name, module] of model.namedModules()) {
    if (name !== '' && module instanceof ProjectionLayer && !internal.test(name)) projections.push([name, module]);
  }
  const allLinear = options.targets === 'all-linear';
  const layers = options.layersToTransform === undefined || options.layersToTransform === null ? null : ([] as number[]).concat(options.layersToTransform);
  const selected = projections.filter(([name]) => {
    if (allLinear ? name === OUTPUT_HEAD || name.endsWith(`.${OUTPUT_HEAD}`) : !isTargeted(name, options.targets)) return false;
    if (layers === null) return true;
    const index = layerIndexOf(name, options.layersPattern);
    return index !== undefined && layers.includes(index);
  });
  if (selected.length === 0) {
    const sample = projections.slice(0, 8).map(([name]) => name).join(', ');
    throw new TunekitError('E_ADAPTER_TARGETS', `target modules ${JSON.stringify(options.targets)} match no layer of this model (layers look like: ${sample}, …)`);
  }
  return selected;
}

/** PEFT's rank_pattern/alpha_pattern lookup: the first key matching the module name's dotted suffix. */
export function patternValue(name: string, pattern: Record<string, number> | undefined, fallback: number): number {
  if (pattern === undefined) return fallback;
  for (const [key, value] of Object.entries(pattern)) {
    if (new RegExp(`^(?:.*\\.)?(?:${key})$`).test(name)) return value;
  }
  return fallback;
}
