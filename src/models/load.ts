import path from 'node:path';
import { TunekitError } from '../errors.js';
import { type ModelSourceOptions, resolveModelSource } from '../io/hub.js';
import { readGenerationConfig, readModelConfig } from '../io/model-folder.js';
import { loadSafetensorsFolder } from '../io/tensors.js';
import { withoutInitialization } from '../nn/layers.js';
import { type DType } from '../torch/dtype.js';
import { dispose, type Device } from '../torch/tensor.js';
import type { RawConfig } from './config.js';
import { architectureFor } from './registry.js';
import type { LanguageModel } from './types.js';

export interface LoadModelOptions {
  /** Compute dtype; defaults to the config's `torch_dtype`/`dtype` when it is float32 or bfloat16, else float32. */
  dtype?: DType;
  device?: Device;
  /** Called with one line for each non-fatal oddity (skipped keys). */
  onWarning?: (message: string) => void;
}

export async function readConfig(dir: string): Promise<RawConfig> {
  return { values: await readModelConfig(dir), source: path.join(dir, 'config.json') };
}

function configDtype(config: RawConfig): DType {
  const declared = config.values.torch_dtype ?? config.values.dtype;
  return declared === 'bfloat16' ? 'bfloat16' : 'float32';
}

/** Where a loaded model came from: its config.json values, generation_config.json and folder. */
export interface ModelSource {
  dir: string;
  config: Record<string, unknown>;
  generationConfig?: Record<string, unknown>;
}

const sources = new WeakMap<object, ModelSource>();

export function modelSource(model: LanguageModel): ModelSource | undefined {
  return sources.get(model);
}

/** Builds the model config.json describes and loads its safetensors weights (single file or shards). */
export async function loadModelFromFolder(dir: string, options: LoadModelOptions = {}): Promise<LanguageModel> {
  const config = await readConfig(dir);
  const architecture = architectureFor(config);
  const dtype = options.dtype ?? configDtype(config);
  const model = withoutInitialization(() => architecture.create(config, { dtype }));
  const weights = await loadSafetensorsFolder(dir);
  try {
    const tied = new Set(architecture.tiedKeys(config));
    for (const key of [...weights.keys()]) {
      if (architecture.ignoredKeys?.test(key)) {
        weights.get(key)?.dispose();
        weights.delete(key);
        options.onWarning?.(`${dir}: skipped derived tensor "${key}"`);
      }
    }
    const result = model.loadStateDict(weights, { strict: false, source: dir, assign: true });
    const missing = result.missingKeys.filter((key) => !tied.has(key));
    if (missing.length > 0 || result.unexpectedKeys.length > 0) {
      const parts: string[] = [];
      if (missing.length > 0) parts.push(`missing: ${missing.join(', ')}`);
      if (result.unexpectedKeys.length > 0) parts.push(`unexpected: ${result.unexpectedKeys.join(', ')}`);
      throw new TunekitError('E_STATE_KEYS', `${dir}: the weights do not match the ${architecture.name} architecture of config.json (${parts.join('; ')})`);
    }
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    dispose(weights);
  }
  if (options.device !== undefined && options.device !== 'cpu') model.to(options.device);
  model.eval();
  sources.set(model, { dir, config: config.values, generationConfig: await readGenerationConfig(dir) });
  return model;
}

export interface LoadOptions extends LoadModelOptions {
  /** Hub options for repo ids (revision, token, offline, progress). */
  hub?: ModelSourceOptions;
}

/** Loads a model from a local folder or a Hugging Face hub repo id (downloaded into the shared cache). */
export async function loadModel(idOrPath: string, options: LoadOptions = {}): Promise<LanguageModel> {
  const dir = await resolveModelSource(idOrPath, options.hub);
  return loadModelFromFolder(dir, options);
}
