import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Copies an adapter folder to `target` (never mutate the reference copies), then rewrites keys of its
 * adapter_config.json (`undefined` deletes a key) and returns `target`.
 */
export function copyAdapter(source: string, target: string, config: Record<string, unknown> = {}): string {
  cpSync(source, target, { recursive: true });
  if (Object.keys(config).length > 0) {
    const file = path.join(target, 'adapter_config.json');
    const json = { ...JSON.parse(readFileSync(file, 'utf8')), ...config } as Record<string, unknown>;
    writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
  }
  return target;
}

/** Overwrites element `index` of F32 tensor `key` in a safetensors file, in place (the header is left as is). */
export function setFloat32InSafetensors(file: string, key: string, index: number, value: number): void {
  const bytes = readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const entry = header[key];
  if (entry === undefined || entry.dtype !== 'F32') throw new Error(`${file}: no F32 tensor "${key}"`);
  bytes.writeFloatLE(value, 8 + headerLength + entry.data_offsets[0] + 4 * index);
  writeFileSync(file, bytes);
}
