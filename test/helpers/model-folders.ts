import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './paths.js';

export const modelFixtures = path.join(repoRoot, 'test', 'fixtures', 'models');

/** A fresh copy of test/fixtures/models/<name> in a temporary folder. */
export function copyFixture(name: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `tunekit-${name}-`));
  cpSync(path.join(modelFixtures, name), dir, { recursive: true });
  return dir;
}

export function readConfigJson(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
}

/** Rewrites config.json with `change` applied (a key set to undefined is removed). */
export function editConfig(dir: string, change: Record<string, unknown>): void {
  const config = { ...readConfigJson(dir), ...change };
  for (const [key, value] of Object.entries(change)) if (value === undefined) delete config[key];
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
}

/** A safetensors file split into its header object and data bytes. */
export function splitSafetensors(bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + length)).toString('utf8')) as Record<string, unknown>;
  return { header, data: bytes.subarray(8 + length) };
}

/** A safetensors file from a header (object or raw text) and data, with `headerLength` overriding the prefix. */
export function joinSafetensors(header: unknown, data: Uint8Array, headerLength?: bigint): Uint8Array {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const file = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(file.buffer).setBigUint64(0, headerLength ?? BigInt(json.byteLength), true);
  file.set(json, 8);
  file.set(data, 8 + json.byteLength);
  return file;
}

/** Rewrites <dir>/model.safetensors with its header passed through `change`. */
export function editSafetensorsHeader(dir: string, change: (header: Record<string, unknown>) => void): string {
  const file = path.join(dir, 'model.safetensors');
  const { header, data } = splitSafetensors(readFileSync(file));
  change(header);
  writeFileSync(file, joinSafetensors(header, data));
  return file;
}
