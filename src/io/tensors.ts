import { TunekitError } from '../errors.js';
import { type DType, fromSafetensorsDtype, toSafetensorsDtype } from '../torch/dtype.js';
import { fromBytes } from '../torch/ops.js';
import { Tensor } from '../torch/tensor.js';
import { readSafetensors, type SafetensorsDtype, type TensorRecord, writeSafetensors } from './safetensors.js';
import { closeSync, openSync, readSync } from 'node:fs';
import { readSafetensorsFolder, type TensorLocation, writeShardedSafetensors } from './sharded.js';
import { oneLine } from './text.js';

/** Each tensor's libtorch dtype, every one known before anything is allocated (a refusal leaves no tensor behind). */
function loadableDtypes(entries: ReadonlyMap<string, { dtype: string }>, source: string): Map<string, DType> {
  const dtypes = new Map<string, DType>();
  for (const [name, entry] of entries) {
    try {
      dtypes.set(name, fromSafetensorsDtype(entry.dtype));
    } catch {
      throw new TunekitError('E_DTYPE', `${source}: tensor ${oneLine(JSON.stringify(name))} has dtype ${entry.dtype}, which tunekit does not load`);
    }
  }
  return dtypes;
}

/** Copies safetensors records into libtorch tensors (one copy: file buffer → tensor memory). */
export function recordsToTensors(records: ReadonlyMap<string, TensorRecord>, source: string): Map<string, Tensor> {
  const dtypes = loadableDtypes(records, source);
  // Every dtype is known before the first copy, so a refusal leaves no tensor behind.
  const tensors = new Map<string, Tensor>();
  for (const [name, record] of records) tensors.set(name, fromBytes(record.data, dtypes.get(name) as DType, record.shape));
  return tensors;
}

/**
 * Reads tensors from where readSafetensorsFolderLayout found them, one at a time through one buffer the size of
 * the largest, so loading holds the weights once (as tensors) plus that buffer, not the files' bytes beside them.
 */
export function readTensorsAt(locations: ReadonlyMap<string, TensorLocation>, source: string): Map<string, Tensor> {
  const dtypes = loadableDtypes(locations, source);
  const scratch = new Uint8Array(Math.max(0, ...[...locations.values()].map((location) => location.byteLength)));
  const tensors = new Map<string, Tensor>();
  const descriptors = new Map<string, number>();
  try {
    for (const [name, location] of locations) {
      let descriptor = descriptors.get(location.file);
      if (descriptor === undefined) {
        descriptor = openSync(location.file, 'r');
        descriptors.set(location.file, descriptor);
      }
      const view = scratch.subarray(0, location.byteLength);
      let read = 0;
      while (read < view.byteLength) {
        const got = readSync(descriptor, view, read, view.byteLength - read, location.offset + read);
        if (got === 0) throw new TunekitError('E_SAFETENSORS', `${location.file}: ends inside tensor ${oneLine(JSON.stringify(name))}`);
        read += got;
      }
      tensors.set(name, fromBytes(view, dtypes.get(name) as DType, location.shape));
    }
  } catch (error) {
    for (const tensor of tensors.values()) tensor.dispose();
    throw error;
  } finally {
    for (const descriptor of descriptors.values()) closeSync(descriptor);
  }
  return tensors;
}

/** The bytes of each tensor as safetensors records (contiguous CPU copies). */
export function tensorsToRecords(tensors: ReadonlyMap<string, Tensor>): Map<string, TensorRecord> {
  const records = new Map<string, TensorRecord>();
  for (const [name, tensor] of tensors) {
    records.set(name, { dtype: toSafetensorsDtype(tensor.dtype) as SafetensorsDtype, shape: tensor.shape, data: tensor.bytes() });
  }
  return records;
}

/** Loads a .safetensors file into tensors owned by the caller. */
export async function loadSafetensorsFile(filePath: string): Promise<{ tensors: Map<string, Tensor>; metadata: Record<string, string> }> {
  const content = await readSafetensors(filePath);
  return { tensors: recordsToTensors(content.tensors, filePath), metadata: content.metadata };
}

/** Loads `model.safetensors`, or an index and its shards, from a folder. */
export async function loadSafetensorsFolder(dir: string, prefix = 'model'): Promise<Map<string, Tensor>> {
  const folder = await readSafetensorsFolder(dir, { prefix });
  return recordsToTensors(folder.tensors, dir);
}

/** Writes tensors to one safetensors file, atomically. */
export async function saveSafetensorsFile(filePath: string, tensors: ReadonlyMap<string, Tensor>, metadata?: Record<string, string>): Promise<void> {
  await writeSafetensors(filePath, tensorsToRecords(tensors), metadata);
}

/** Writes tensors as `model.safetensors`, or shards + index when larger than `maxShardBytes`. */
export async function saveSafetensorsFolder(
  dir: string,
  tensors: ReadonlyMap<string, Tensor>,
  options: { maxShardBytes?: number; prefix?: string; metadata?: Record<string, string> } = {},
): Promise<string[]> {
  return writeShardedSafetensors(dir, tensorsToRecords(tensors), { metadata: { format: 'pt' }, ...options });
}
