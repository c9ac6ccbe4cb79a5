import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { withAtomicDirectory, writeFileAtomic } from '../io/atomic.js';
import { parseJson } from '../io/json-file.js';
import { loadSafetensorsFile, saveSafetensorsFile } from '../io/tensors.js';
import { noGrad } from '../torch/runtime.js';
import { firstNonFinite } from '../torch/ops.js';
import { dispose, Tensor } from '../torch/tensor.js';
import { type AdapterConfig, type AdapterConfigBase, type Json, parseAdapterConfig, serializeAdapterConfig } from './config.js';
import { ProjectionLayer } from '../nn/layers.js';
import { adapterLayersOf, adapterParameterPattern } from './method.js';
import type { PeftModel } from './peft-model.js';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
const PREFIX = 'base_model.model.';

/** PEFT's file key for an adapter tensor: the adapter name dropped, `base_model.model.` in front. */
function fileKeyOf(modelKey: string, adapter: string): string {
  if (modelKey === `prompt_encoder.${adapter}.embedding.weight`) return 'prompt_embeddings';
  return PREFIX + modelKey.replace(adapterParameterPattern(adapter), (_, kind: string, _name: string, tail: string) => `.${kind}${tail}`);
}

/** Every tensor of adapter `name` under the key PEFT writes to adapter_model.safetensors. */
export function adapterStateDict(model: PeftModel, name: string): Map<string, Tensor> {
  const state = new Map<string, Tensor>();
  for (const [key, tensor] of model.adapterParameters(name)) state.set(fileKeyOf(key, name), tensor);
  // PEFT names the bias of a layer it wrapped after the wrapped base layer: `…q_proj.base_layer.bias`.
  for (const [key, tensor] of model.trainedBiases(name)) {
    const moduleName = key.slice(0, -'.bias'.length);
    const module = model.model.getSubmodule(moduleName);
    const wrapped = module instanceof ProjectionLayer && adapterLayersOf(module).length > 0;
    state.set(PREFIX + (wrapped ? `${moduleName}.base_layer.bias` : key), tensor);
  }
  // PEFT ≥ 0.10 writes modules_to_save under the module's own key (older versions added ".modules_to_save").
  for (const copy of model.parameterCopies(name)) state.set(PREFIX + copy.name, copy.adapterValue);
  return state;
}

/** Writes adapter_config.json + adapter_model.safetensors, as PeftModel.save_pretrained does; the folder appears whole. */
export async function saveAdapter(model: PeftModel, dir: string, name = model.activeAdapter ?? 'default', extraConfig: Partial<AdapterConfigBase> = {}): Promise<void> {
  // PEFT's save_pretrained writes inference_mode true whatever the adapter was trained with.
  const config: AdapterConfigBase = { ...model.adapterConfig(name), inferenceMode: true, ...extraConfig };
  const state = adapterStateDict(model, name);
  await withAtomicDirectory(dir, async (temporary) => {
    await writeFileAtomic(path.join(temporary, ADAPTER_CONFIG_FILE), JSON.stringify(serializeAdapterConfig(config), null, 2) + '\n');
    await saveSafetensorsFile(path.join(temporary, ADAPTER_WEIGHTS_FILE), state, { format: 'pt' });
  });
}

/** An adapter folder's adapter_config.json as a JSON object, unparsed, with its path (for readers that need keys the parsed config drops). */
export async function readAdapterConfigJson(dir: string): Promise<{ json: Json; file: string }> {
  const file = path.join(dir, ADAPTER_CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new TunekitError('E_NOT_FOUND', `${file} not found: an adapter folder needs adapter_config.json and adapter_model.safetensors`);
  }
  const json = parseJson(text, file, 'E_ADAPTER_CONFIG');
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new TunekitError('E_ADAPTER_CONFIG', `${file}: expected a JSON object`);
  return { json: json as Json, file };
}

export async function readAdapterConfig(dir: string, onWarning?: (message: string) => void): Promise<AdapterConfig> {
  const { json, file } = await readAdapterConfigJson(dir);
  return parseAdapterConfig(json, file, onWarning);
}

/**
 * Refuses adapter weights holding NaN or ±Inf (a diverged run, a corrupt file), naming `where` (the weights file,
 * or the adapter) and the first such tensor, with what was not done.
 */
export function checkFiniteWeights(tensors: Iterable<readonly [string, Tensor]>, where: string, refused: string): void {
  const key = firstNonFinite(tensors);
  if (key !== null) throw new TunekitError('E_ADAPTER_WEIGHTS', `${where}: tensor "${key}" holds NaN or infinite values; ${refused}`);
}

/** One spelling for keys PEFT versions write differently (`.base_layer.bias`, `.modules_to_save.weight`). */
export function canonicalKey(key: string): string {
  return key.replace('.modules_to_save.', '.').replace('.base_layer.', '.');
}

export interface LoadAdapterOptions {
  /** Keep the adapter trainable (default: inference, everything frozen). */
  trainable?: boolean;
  onWarning?: (message: string) => void;
}

/**
 * Loads a PEFT adapter folder as adapter `name` and activates it. Every tensor must match a tensor the config
 * creates on this base model, with the same shape; a mismatch names the tensor and both shapes.
 */
export async function loadAdapter(model: PeftModel, dir: string, name = 'default', options: LoadAdapterOptions = {}): Promise<AdapterConfig> {
  const { json, file } = await readAdapterConfigJson(dir);
  const config = parseAdapterConfig(json, file, options.onWarning);
  const weightsFile = path.join(dir, ADAPTER_WEIGHTS_FILE);
  const { tensors: stored } = await loadSafetensorsFile(weightsFile);
  const tensors = new Map([...stored].map(([key, value]) => [canonicalKey(key), value]));
  try {
    checkFiniteWeights(stored, weightsFile, 'the adapter was not loaded');
    model.addAdapter(name, config, { source: file });
    try {
      const expected = new Map([...adapterStateDict(model, name)].map(([key, value]) => [canonicalKey(key), value]));
      for (const [key, target] of expected) {
        const source = tensors.get(key);
        if (source !== undefined && source.shape.join() !== target.shape.join()) {
          throw new TunekitError('E_ADAPTER_WEIGHTS', `${weightsFile}: tensor "${key}" has shape [${source.shape}], the base model needs [${target.shape}]`);
        }
      }
      const unexpected = [...tensors.keys()].filter((key) => !expected.has(key));
      if (unexpected.length > 0) {
        throw new TunekitError('E_ADAPTER_WEIGHTS', `${weightsFile}: tensor "${unexpected[0]}" has no place in this base model with this adapter config${unexpected.length > 1 ? ` (and ${unexpected.length - 1} more)` : ''}`);
      }
      const missing = [...expected.keys()].filter((key) => !tensors.has(key));
      if (missing.length > 0) throw new TunekitError('E_ADAPTER_WEIGHTS', `${weightsFile}: tensor "${missing[0]}" is missing${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`);
      noGrad(() => {
        for (const [key, target] of expected) target.copy_(tensors.get(key) as Tensor);
      });
    } catch (error) {
      model.deleteAdapter(name);
      throw error;
    }
  } finally {
    dispose(tensors);
  }
  if (!options.trainable) for (const tensor of model.parameters()) tensor.requiresGrad = false;
  return config;
}
