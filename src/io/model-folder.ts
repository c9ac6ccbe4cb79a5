/**
 * Hugging Face model folders without the tensor engine: config.json and generation_config.json read with errors
 * that name the file and key, typed getters for config values, and the whole folder (configs, safetensors weights,
 * tokenizer files) written atomically, as transformers' save_pretrained lays it out.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { withAtomicDirectory, writeFileAtomic } from './atomic.js';
import { formatConfigJson, readJsonFile } from './json-file.js';
import { type TensorSource } from './safetensors.js';
import { indexFileName, singleFileName, writeShardedSafetensors } from './sharded.js';

export const CONFIG_FILE = 'config.json';
export const GENERATION_CONFIG_FILE = 'generation_config.json';
export const CONFIG_ERROR = 'E_CONFIG';

/** A parsed config.json: every key as transformers wrote it; `model_type` is checked to be a string. */
export type ModelConfig = Record<string, unknown> & { model_type: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function readConfigObject(filePath: string): Promise<Record<string, unknown>> {
  const parsed = await readJsonFile(filePath, CONFIG_ERROR);
  if (!isObject(parsed)) {
    throw new TunekitError(CONFIG_ERROR, `${filePath}: expected a JSON object {"key": value, …}`);
  }
  return parsed;
}

/** Reads `<dir>/config.json`; it must be a JSON object with a string `model_type`. */
export async function readModelConfig(dir: string): Promise<ModelConfig> {
  const filePath = path.join(dir, CONFIG_FILE);
  const config = await readConfigObject(filePath);
  const modelType = config.model_type;
  if (typeof modelType !== 'string' || modelType === '') {
    throw new TunekitError(
      CONFIG_ERROR,
      `${filePath}: "model_type" must be a non-empty string naming the architecture (such as "llama" or "t5"), ` +
        `found ${modelType === undefined ? 'nothing' : JSON.stringify(modelType)}`,
    );
  }
  return config as ModelConfig;
}

/** Reads `<dir>/generation_config.json`, or undefined when the folder has none. */
export async function readGenerationConfig(dir: string): Promise<Record<string, unknown> | undefined> {
  const filePath = path.join(dir, GENERATION_CONFIG_FILE);
  try {
    return await readConfigObject(filePath);
  } catch (error) {
    if (error instanceof TunekitError && error.code === 'E_NOT_FOUND') return undefined;
    throw error;
  }
}

function describe(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

function wrongType(config: Record<string, unknown>, key: string, file: string, expected: string): never {
  throw new TunekitError(CONFIG_ERROR, `${file}: "${key}" must be ${expected}, found ${describe(config[key])}`);
}

/** Absent and null both mean "not set", as transformers writes unset options as null. */
function isUnset(value: unknown): boolean {
  return value === undefined || value === null;
}

export function configNumber(config: Record<string, unknown>, key: string, file: string): number {
  const value = config[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) wrongType(config, key, file, 'a number');
  return value;
}

/** A whole number ≥ 0 (sizes, counts, token ids). */
export function configInteger(config: Record<string, unknown>, key: string, file: string): number {
  const value = config[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    wrongType(config, key, file, 'a non-negative integer');
  }
  return value;
}

export function configOptionalNumber(config: Record<string, unknown>, key: string, file: string): number | undefined;
export function configOptionalNumber(config: Record<string, unknown>, key: string, file: string, fallback: number): number;
export function configOptionalNumber(config: Record<string, unknown>, key: string, file: string, fallback?: number): number | undefined {
  return isUnset(config[key]) ? fallback : configNumber(config, key, file);
}

export function configOptionalInteger(config: Record<string, unknown>, key: string, file: string): number | undefined;
export function configOptionalInteger(config: Record<string, unknown>, key: string, file: string, fallback: number): number;
export function configOptionalInteger(config: Record<string, unknown>, key: string, file: string, fallback?: number): number | undefined {
  return isUnset(config[key]) ? fallback : configInteger(config, key, file);
}

export function configString(config: Record<string, unknown>, key: string, file: string): string {
  const value = config[key];
  if (typeof value !== 'string') wrongType(config, key, file, 'a string');
  return value;
}

export function configOptionalString(config: Record<string, unknown>, key: string, file: string): string | undefined;
export function configOptionalString(config: Record<string, unknown>, key: string, file: string, fallback: string): string;
export function configOptionalString(config: Record<string, unknown>, key: string, file: string, fallback?: string): string | undefined {
  return isUnset(config[key]) ? fallback : configString(config, key, file);
}

export function configBoolean(config: Record<string, unknown>, key: string, file: string): boolean {
  const value = config[key];
  if (typeof value !== 'boolean') wrongType(config, key, file, 'true or false');
  return value;
}

export function configOptionalBoolean(config: Record<string, unknown>, key: string, file: string): boolean | undefined;
export function configOptionalBoolean(config: Record<string, unknown>, key: string, file: string, fallback: boolean): boolean;
export function configOptionalBoolean(config: Record<string, unknown>, key: string, file: string, fallback?: boolean): boolean | undefined {
  return isUnset(config[key]) ? fallback : configBoolean(config, key, file);
}

export interface SaveModelFolderOptions {
  /** Written as config.json; must have a string `model_type`. */
  config: Record<string, unknown>;
  generationConfig?: Record<string, unknown>;
  /** The weights, in state-dict order (the order decides how shards are filled). */
  tensors: TensorSource;
  /** Tensor bytes per shard; default 5 GB, as transformers. */
  maxShardBytes?: number;
  /** Each safetensors file's `__metadata__`; default `{format: "pt"}`. */
  metadata?: Record<string, string>;
  /** More files by relative path (tokenizer.json, tokenizer_config.json, …): text is written as UTF-8. */
  extraFiles?: Record<string, string | Uint8Array>;
}

function checkExtraFileName(name: string, reserved: ReadonlySet<string>): void {
  const parts = name.split('/');
  if (name === '' || name.includes('\\') || path.isAbsolute(name) || parts.some((part) => part === '' || part === '.' || part === '..')) {
    throw new TunekitError('E_MODEL_FOLDER', `extraFiles: "${name}" must be a relative path inside the folder`);
  }
  if (reserved.has(name) || /^model(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?$/.test(name)) {
    throw new TunekitError('E_MODEL_FOLDER', `extraFiles: "${name}" is written by saveModelFolder itself`);
  }
}

/**
 * Writes a model folder: config.json (and generation_config.json) formatted as transformers formats them, the
 * weights as model.safetensors or shards + model.safetensors.index.json, and `extraFiles`. The folder appears
 * whole or not at all (an existing one is replaced). Returns the file names written, sorted.
 */
export async function saveModelFolder(dir: string, options: SaveModelFolderOptions): Promise<string[]> {
  const { config, generationConfig, extraFiles = {} } = options;
  if (typeof config.model_type !== 'string' || config.model_type === '') {
    throw new TunekitError(CONFIG_ERROR, `saveModelFolder(${dir}): config.model_type must be a non-empty string`);
  }
  const reserved = new Set([CONFIG_FILE, GENERATION_CONFIG_FILE, singleFileName(), indexFileName()]);
  for (const name of Object.keys(extraFiles)) checkExtraFileName(name, reserved);
  const configText = formatConfigJson(config, CONFIG_FILE);
  const generationText = generationConfig === undefined ? undefined : formatConfigJson(generationConfig, GENERATION_CONFIG_FILE);

  return withAtomicDirectory(dir, async (temporary) => {
    const written: string[] = [CONFIG_FILE];
    await writeFileAtomic(path.join(temporary, CONFIG_FILE), configText);
    if (generationText !== undefined) {
      await writeFileAtomic(path.join(temporary, GENERATION_CONFIG_FILE), generationText);
      written.push(GENERATION_CONFIG_FILE);
    }
    written.push(...(await writeShardedSafetensors(temporary, options.tensors, {
      maxShardBytes: options.maxShardBytes,
      metadata: options.metadata,
    })));
    for (const [name, content] of Object.entries(extraFiles)) {
      const target = path.join(temporary, ...name.split('/'));
      await mkdir(path.dirname(target), { recursive: true });
      await writeFileAtomic(target, content);
      written.push(name);
    }
    return written.sort();
  });
}
