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

function fail(config: RawConfig, key: string, expected: string): never {
  throw new TunekitError('E_CONFIG', `${config.source}: "${key}" must be ${expected}, found ${JSON.stringify(config.values[key])}`);
}

/** A token id setting that may be a number, a list of numbers, or absent. */
export function optionalTokenIds(config: RawConfig, key: string): number[] {
  const value = config.values[key];
  if (value === undefined || value === null) return [];
  if (typeof value === 'number') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'number')) return value as number[];
  fail(config, key, 'a token id or a list of token ids');
}

export function optionalObject(config: RawConfig, key: string): Record<string, unknown> | undefined {
  const value = config.values[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) fail(config, key, 'an object');
  return value as Record<string, unknown>;
}
