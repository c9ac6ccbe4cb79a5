import { TunekitError } from '../errors.js';
import {
  configInteger,
  configNumber,
  configOptionalBoolean,
  configOptionalInteger,
  configOptionalNumber,
  configOptionalString,
} from '../io/model-folder.js';

/** A parsed config.json with the path it came from, so every reader below can name file and key in errors. */
export interface RawConfig {
  values: Record<string, unknown>;
  source: string;
}

export const requireNumber = (config: RawConfig, key: string): number => configNumber(config.values, key, config.source);
export const requireInteger = (config: RawConfig, key: string): number => configInteger(config.values, key, config.source);
export const optionalNumber = (config: RawConfig, key: string, fallback: number): number => configOptionalNumber(config.values, key, config.source, fallback);
export const optionalInteger = (config: RawConfig, key: string, fallback: number): number => configOptionalInteger(config.values, key, config.source, fallback);
export const optionalBoolean = (config: RawConfig, key: string, fallback: boolean): boolean => configOptionalBoolean(config.values, key, config.source, fallback);
export const optionalString = (config: RawConfig, key: string, fallback: string): string => configOptionalString(config.values, key, config.source, fallback);

/**
 * The largest size (width, count of layers or heads) a config may give: libtorch indexes with int64, but a single
 * dimension past 2^31 - 1 cannot be allocated on any machine tunekit runs on; the weights check then bounds the rest.
 */
export const MAX_CONFIG_SIZE = 2 ** 31 - 1;
/** `max_position_embeddings` / `n_positions` above this is a typo (the longest contexts shipped are ~10M). */
export const MAX_POSITIONS = 2 ** 27;

export function fail(config: RawConfig, key: string, expected: string): never {
  throw new TunekitError('E_CONFIG', `${config.source}: "${key}" must be ${expected}, found ${describe(config.values[key])}`);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function checkSize(config: RawConfig, key: string, value: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) fail(config, key, `a whole number from 1 to ${max}`);
  return value;
}

/** A required width or count: a whole number ≥ 1 (and ≤ `max`). */
export function requireSize(config: RawConfig, key: string, max = MAX_CONFIG_SIZE): number {
  const value = config.values[key];
  if (typeof value !== 'number') fail(config, key, `a whole number from 1 to ${max}`);
  return checkSize(config, key, value, max);
}

/** An optional width or count: absent or null gives `fallback`, anything else must be a whole number ≥ 1. */
export function optionalSize(config: RawConfig, key: string, fallback: number, max = MAX_CONFIG_SIZE): number {
  const value = config.values[key];
  if (value === undefined || value === null) return fallback;
  return requireSize(config, key, max);
}

/** An optional finite number > 0 (epsilons, rope theta). */
export function optionalPositiveNumber(config: RawConfig, key: string, fallback: number): number {
  const value = config.values[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(config, key, 'a finite number greater than 0');
  return value;
}

/** Fails unless `whole` (from `wholeKey`) is a multiple of `part` (from `partKey`), naming both keys. */
export function requireMultiple(config: RawConfig, wholeKey: string, whole: number, partKey: string, part: number, why: string): void {
  if (whole % part !== 0) {
    throw new TunekitError('E_CONFIG', `${config.source}: "${wholeKey}" (${whole}) must be a multiple of "${partKey}" (${part}) ${why}`);
  }
}

/**
 * A token id setting that may be a number, a list of numbers, or absent. With `vocabSize`, every id must lie in the
 * vocabulary [0, vocabSize).
 */
export function optionalTokenIds(config: RawConfig, key: string, vocabSize?: number): number[] {
  const value = config.values[key];
  if (value === undefined || value === null) return [];
  const ids = typeof value === 'number' ? [value] : Array.isArray(value) && value.every((v) => typeof v === 'number') ? (value as number[]) : undefined;
  if (ids === undefined) fail(config, key, 'a token id or a list of token ids');
  for (const id of ids) {
    if (!Number.isSafeInteger(id) || id < 0) fail(config, key, 'a whole number ≥ 0 (or a list of them)');
    if (vocabSize !== undefined && id >= vocabSize) {
      throw new TunekitError('E_CONFIG', `${config.source}: "${key}" ${id} is outside the vocabulary ("vocab_size" ${vocabSize}: ids 0 to ${vocabSize - 1})`);
    }
  }
  return ids;
}

export function optionalObject(config: RawConfig, key: string): Record<string, unknown> | undefined {
  const value = config.values[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) fail(config, key, 'an object');
  return value as Record<string, unknown>;
}

/** The dtypes transformers writes as `torch_dtype` (transformers 4) or `dtype` (transformers 5). */
export const CONFIG_DTYPES = ['float32', 'float16', 'bfloat16', 'float64'] as const;
export type ConfigDtype = (typeof CONFIG_DTYPES)[number];

/** The checkpoint dtype config.json declares (`torch_dtype`, else `dtype`), or undefined when it declares none; any other value fails. */
export function configDtype(config: RawConfig): ConfigDtype | undefined {
  let declared: ConfigDtype | undefined;
  for (const key of ['torch_dtype', 'dtype']) {
    const value = config.values[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || !(CONFIG_DTYPES as readonly string[]).includes(value)) {
      fail(config, key, `one of ${CONFIG_DTYPES.map((name) => `"${name}"`).join(', ')}`);
    }
    declared ??= value as ConfigDtype;
  }
  return declared;
}
