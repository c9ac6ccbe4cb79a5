import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { saveModelFolder } from '../io/model-folder.js';
import { tensorsToRecords } from '../io/tensors.js';
import { Tensor } from '../torch/tensor.js';
import { architectureFor } from './registry.js';
import type { LanguageModel } from './types.js';

/** Tokenizer and chat-template files copied along when a model is saved from a loaded folder. */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'tokenizer.model', 'added_tokens.json'];

export interface SaveModelOptions {
  /** config.json values; defaults to the config the model was loaded with. */
  config?: Record<string, unknown>;
  generationConfig?: Record<string, unknown>;
  maxShardBytes?: number;
  /** Copy tokenizer files from the folder the model was loaded from (default true). */
  copyTokenizer?: boolean;
}

/**
 * Saves a model as transformers does: config.json (dtype updated), generation_config.json, weights as
 * model.safetensors or shards + index (tied copies written once), and the tokenizer files of its source folder.
 * The folder appears whole or not at all.
 */
export async function saveModel(model: LanguageModel, dir: string, options: SaveModelOptions = {}): Promise<string[]> {
  const source = model.source;
  const baseConfig = options.config ?? source?.config;
  if (baseConfig === undefined) throw new TunekitError('E_MODEL_FOLDER', `saveModel(${dir}): pass options.config — the model was not loaded from a folder`);
  const architecture = architectureFor({ values: baseConfig, source: `${dir}/config.json` });
  const tied = new Set(architecture.tiedKeys({ values: baseConfig, source: `${dir}/config.json` }));
  const tensors = new Map<string, Tensor>();
  for (const [name, tensor] of model.stateDict()) if (!tied.has(name)) tensors.set(name, tensor);
  const dtype = model.parameters()[0]?.dtype ?? 'float32';
  const config: Record<string, unknown> = { ...baseConfig };
  if ('dtype' in config || !('torch_dtype' in config)) config.dtype = dtype;
  if ('torch_dtype' in config) config.torch_dtype = dtype;
  const extraFiles: Record<string, Uint8Array> = {};
  if ((options.copyTokenizer ?? true) && source !== null) {
    const present = new Set(await readdir(source.dir));
    for (const name of TOKENIZER_FILES) if (present.has(name)) extraFiles[name] = await readFile(path.join(source.dir, name));
  }
  return saveModelFolder(dir, {
    config,
    generationConfig: options.generationConfig ?? source?.generationConfig ?? undefined,
    tensors: tensorsToRecords(tensors),
    maxShardBytes: options.maxShardBytes,
    extraFiles,
  });
}
