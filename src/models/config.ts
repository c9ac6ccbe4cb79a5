import { TunekitError } from '../errors.js';

/** A parsed config.json: readers below name the file and key when a value is missing or mistyped. */
export interface RawConfig {
  values: Record<string, unknown>;
  source: string;
}

function fail(config: RawConfig, key: string, expected: string): never {
  const found = config.values[key];
  throw new TunekitError('E_CONFIG', `${config.source}: "${key}" must be ${expected}, found ${found === undefined ? 'nothing' : JSON.stringify(found)}`);
}

export function requireNumber(config: RawConfig, key: string): number {
  const value = config.values[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(config, key, 'a number');
  return value;
}

export function requireInteger(config: RawConfig, key: string): number {
  const value = requireNumber(config, key);
  if (!Number.isInteger(value) || value < 0) fail(config, key, 'a non-negative integer');
  return value;
}

export function optionalNumber(config: RawConfig, key: string, fallback: number): number {
  return config.values[key] === undefined || config.values[key] === null ? fallback : requireNumber(config, key);
}

export function optionalInteger(config: RawConfig, key: string, fallback: number): number {
  return config.values[key] === undefined || config.values[key] === null ? fallback : requireInteger(config, key);
}

export function optionalBoolean(config: RawConfig, key: string, fallback: boolean): boolean {
  const value = config.values[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') fail(config, key, 'true or false');
  return value;
}

export function optionalString(config: RawConfig, key: string, fallback: string): string {
  const value = config.values[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string') fail(config, key, 'a string');
  return value;
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
