import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../peft/format.js';
import { ApiError } from './api-error.js';

const PICKLE_WEIGHTS = ['adapter_model.bin', 'adapter_model.pt', 'adapter_model.pth', 'adapter_model.ckpt'];

function inside(root: string, target: string): boolean {
  const relative = path.relative(root, target);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

async function realOrNull(file: string): Promise<string | null> {
  try {
    return await realpath(file);
  } catch {
    return null;
  }
}

/**
 * The folder a run-time load (`POST /v1/load_lora_adapter`) may read: `loraPath` (relative to `adapterDir`, or
 * absolute) must be a folder inside `adapterDir` after every symlink is resolved, and so must its
 * adapter_config.json and adapter_model.safetensors (regular files). Pickle weights are refused.
 */
export async function resolveRuntimeAdapter(adapterDir: string | undefined, loraPath: string): Promise<string> {
  if (adapterDir === undefined) {
    throw new ApiError(403, 'loading adapters at run time is off: start the server with --adapter-dir DIR to allow adapters from DIR', 'lora_path', 'adapter_loading_disabled');
  }
  if (loraPath.includes('\0')) throw new ApiError(400, 'lora_path must not contain NUL bytes', 'lora_path');
  const root = await realOrNull(adapterDir);
  if (root === null) throw new ApiError(500, `the adapter folder ${adapterDir} does not exist`);
  const requested = path.resolve(root, loraPath);
  if (!inside(root, requested)) throw new ApiError(400, 'lora_path must name a folder inside the server\'s adapter folder', 'lora_path', 'path_outside_adapter_dir');
  const real = await realOrNull(requested);
  if (real === null) throw new ApiError(404, `no adapter folder "${loraPath}" in the server's adapter folder`, 'lora_path', 'adapter_not_found');
  if (!inside(root, real)) throw new ApiError(400, 'lora_path leads outside the server\'s adapter folder through a symbolic link', 'lora_path', 'path_outside_adapter_dir');
  if (!(await lstat(real)).isDirectory()) throw new ApiError(400, 'lora_path must be an adapter folder', 'lora_path');
  for (const file of [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE]) {
    const target = await realOrNull(path.join(real, file));
    if (target === null) {
      const pickled = await Promise.all(PICKLE_WEIGHTS.map((name) => realOrNull(path.join(real, name))));
      if (file === ADAPTER_WEIGHTS_FILE && pickled.some((found) => found !== null)) {
        throw new ApiError(400, 'this adapter has pickle weights only (adapter_model.bin); tunekit never unpickles: save it with safetensors', 'lora_path', 'pickle_refused');
      }
      throw new ApiError(400, `the adapter folder has no ${file}`, 'lora_path');
    }
    if (!inside(root, target)) throw new ApiError(400, `${file} leads outside the server's adapter folder through a symbolic link`, 'lora_path', 'path_outside_adapter_dir');
    if (!(await lstat(target)).isFile()) throw new ApiError(400, `${file} must be a regular file`, 'lora_path');
  }
  return real;
}
