/**
 * Model folders as Hugging Face writes them: one `model.safetensors`, or shards `model-00001-of-00003.safetensors`
 * plus `model.safetensors.index.json` = `{"metadata": {"total_size": bytes}, "weight_map": {tensor: shard file}}`.
 * The prefix is a parameter (`adapter_model` works the same way).
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { oneLine, readTextFile } from './text.js';
import {
  readSafetensors,
  readSafetensorsHeader,
  type TensorEntry,
  tensorBytes,
  writeSafetensors,
  type SafetensorsContent,
  type TensorRecord,
  type TensorSource,
} from './safetensors.js';

export const SHARDED_ERROR = 'E_SAFETENSORS_INDEX';

export interface SafetensorsIndex {
  metadata: Record<string, unknown>;
  weightMap: Record<string, string>;
}

export interface SafetensorsFolder extends SafetensorsContent {
  /** The safetensors files read, relative to the folder, in reading order. */
  files: string[];
  /** Present when the folder is sharded. */
  index?: SafetensorsIndex;
  /** The path of the file holding each tensor (for errors that name the shard). */
  fileOfTensor: Map<string, string>;
}

export interface FolderOptions {
  /** File name stem: `model` gives model.safetensors / model.safetensors.index.json. */
  prefix?: string;
}

export function singleFileName(prefix = 'model'): string {
  return `${prefix}.safetensors`;
}

export function indexFileName(prefix = 'model'): string {
  return `${prefix}.safetensors.index.json`;
}

/** `model-00002-of-00005.safetensors`: five digits, as transformers numbers shards. */
export function shardFileName(prefix: string, shardNumber: number, shardCount: number): string {
  const pad = (value: number) => String(value).padStart(5, '0');
  return `${prefix}-${pad(shardNumber)}-of-${pad(shardCount)}.safetensors`;
}

async function isFile(candidate: string): Promise<boolean> {
  try {
    return (await stat(candidate)).isFile();
  } catch {
    return false;
  }
}

/**
 * Parses `<prefix>.safetensors.index.json`. Shard names must be plain file names in the index's folder (no `/`,
 * `\`, `.`, `..` or NUL), as they are joined onto that folder, and onto the hub cache when downloading.
 */
export function parseSafetensorsIndex(text: string, source: string): SafetensorsIndex {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new TunekitError(SHARDED_ERROR, `${source}: not valid JSON (${oneLine((error as Error).message)})`);
  }
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isObject(parsed)) throw new TunekitError(SHARDED_ERROR, `${source}: expected a JSON object`);
  const { metadata = {}, weight_map: weightMap } = parsed;
  if (!isObject(metadata)) throw new TunekitError(SHARDED_ERROR, `${source}: "metadata" must be an object`);
  if (!isObject(weightMap)) {
    throw new TunekitError(SHARDED_ERROR, `${source}: "weight_map" must be an object {tensor name: shard file}`);
  }
  for (const [name, file] of Object.entries(weightMap)) {
    if (typeof file !== 'string' || file === '' || /[/\\\0]/.test(file) || file === '.' || file === '..') {
      throw new TunekitError(
        SHARDED_ERROR,
        `${source}: weight_map[${oneLine(JSON.stringify(name))}] must be a file name in the same folder, got ${oneLine(JSON.stringify(file) ?? 'nothing')}`,
      );
    }
  }
  return { metadata, weightMap: weightMap as Record<string, string> };
}

async function readFolderWith<R>(
  directory: string,
  options: FolderOptions,
  readFile: (file: string) => Promise<{ metadata: Record<string, string>; tensors: Map<string, R> }>,
): Promise<Omit<SafetensorsFolder, 'tensors'> & { tensors: Map<string, R> }> {
  const prefix = options.prefix ?? 'model';
  const singlePath = path.join(directory, singleFileName(prefix));
  if (await isFile(singlePath)) {
    const { metadata, tensors } = await readFile(singlePath);
    return { metadata, tensors, files: [singleFileName(prefix)], fileOfTensor: new Map([...tensors.keys()].map((name) => [name, singlePath])) };
  }
  const indexPath = path.join(directory, indexFileName(prefix));
  if (!(await isFile(indexPath))) {
    throw new TunekitError(
      'E_NOT_FOUND',
      `${directory}: neither ${singleFileName(prefix)} nor ${indexFileName(prefix)} is there`,
    );
  }
  const index = parseSafetensorsIndex(await readTextFile(indexPath, SHARDED_ERROR), indexPath);

  const namesByFile = new Map<string, string[]>();
  for (const [name, file] of Object.entries(index.weightMap)) {
    const names = namesByFile.get(file) ?? [];
    names.push(name);
    namesByFile.set(file, names);
  }
  const files = [...namesByFile.keys()].sort();
  const tensors = new Map<string, R>();
  const fileOfTensor = new Map<string, string>();
  let metadata: Record<string, string> | undefined;
  for (const file of files) {
    const shardPath = path.join(directory, file);
    const wanted = namesByFile.get(file) ?? [];
    if (!(await isFile(shardPath))) {
      throw new TunekitError(
        SHARDED_ERROR,
        `${indexPath}: shard ${file} (holding ${oneLine(JSON.stringify(wanted[0]))} and ${wanted.length - 1} more) ` +
          `is missing from ${directory}`,
      );
    }
    const shard = await readFile(shardPath);
    metadata ??= shard.metadata;
    for (const name of wanted) {
      if (!shard.tensors.has(name)) {
        throw new TunekitError(
          SHARDED_ERROR,
          `${indexPath}: tensor ${oneLine(JSON.stringify(name))} is listed in shard ${file} but not found in it`,
        );
      }
    }
    for (const [name, record] of shard.tensors) {
      const earlier = fileOfTensor.get(name);
      if (earlier !== undefined) {
        throw new TunekitError(SHARDED_ERROR, `${directory}: tensor ${oneLine(JSON.stringify(name))} is in both ${earlier} and ${file}`);
      }
      fileOfTensor.set(name, file);
      tensors.set(name, record);
    }
  }
  const fileOfTensorPath = new Map([...fileOfTensor].map(([name, file]) => [name, path.join(directory, file)]));
  return { metadata: metadata ?? {}, tensors, files, index, fileOfTensor: fileOfTensorPath };
}

/**
 * Reads `<prefix>.safetensors` from `directory`, or else `<prefix>.safetensors.index.json` and every shard it names
 * (the single file wins when both exist, as in transformers). Every tensor the index lists must be in its shard;
 * tensors a shard holds beyond the index are kept. `metadata` is the first file's `__metadata__`.
 */
export async function readSafetensorsFolder(directory: string, options: FolderOptions = {}): Promise<SafetensorsFolder> {
  return readFolderWith(directory, options, (file) => readSafetensors(file));
}

/** Where a tensor's bytes are: its file and byte range, without reading them. */
export interface TensorLocation extends TensorEntry {
  file: string;
  /** Absolute file offset of the first byte. */
  offset: number;
  byteLength: number;
}

/** readSafetensorsFolder's checks and result, headers only: each tensor's location instead of its bytes. */
export async function readSafetensorsFolderLayout(directory: string, options: FolderOptions = {}): Promise<Omit<SafetensorsFolder, 'tensors'> & { tensors: Map<string, TensorLocation> }> {
  return readFolderWith(directory, options, async (file) => {
    const header = await readSafetensorsHeader(file);
    const tensors = new Map<string, TensorLocation>();
    for (const [name, entry] of header.tensors) {
      tensors.set(name, { ...entry, file, offset: header.dataStart + entry.dataOffsets[0], byteLength: entry.dataOffsets[1] - entry.dataOffsets[0] });
    }
    return { metadata: header.metadata, tensors };
  });
}

/** The shard files an index names, each once, sorted. */
export function shardFiles(index: SafetensorsIndex): string[] {
  return [...new Set(Object.values(index.weightMap))].sort();
}

export interface ShardedWriteOptions extends FolderOptions {
  /** Tensor bytes per shard (headers not counted), as transformers' max_shard_size; default 5 GB (5e9). */
  maxShardBytes?: number;
  /** Every file's `__metadata__`; default `{format: 'pt'}`, as save_pretrained writes. */
  metadata?: Record<string, string>;
}

/**
 * Splits tensors, in the caller's order, into shards by transformers' rule: start a new shard when the next tensor
 * would overflow the current one; a tensor bigger than the limit gets a shard of its own (kept in order, where
 * transformers puts it before the shard being filled).
 */
export function planShards(tensors: TensorSource, maxShardBytes: number): Array<Map<string, TensorRecord>> {
  const entries = tensors instanceof Map
    ? [...(tensors as ReadonlyMap<string, TensorRecord>)]
    : Object.entries(tensors as Readonly<Record<string, TensorRecord>>);
  const shards: Array<Map<string, TensorRecord>> = [];
  let current = new Map<string, TensorRecord>();
  let currentBytes = 0;
  for (const [name, record] of entries) {
    const size = record.data.byteLength;
    if ((size > maxShardBytes || currentBytes + size > maxShardBytes) && current.size > 0) {
      shards.push(current);
      current = new Map();
      currentBytes = 0;
    }
    current.set(name, record);
    currentBytes += size;
    if (size > maxShardBytes) {
      shards.push(current);
      current = new Map();
      currentBytes = 0;
    }
  }
  if (current.size > 0 || shards.length === 0) shards.push(current);
  return shards;
}

/**
 * Writes `<prefix>.safetensors` when everything fits in one shard, else numbered shards and the index (each file
 * atomically; the index last, so it never names a shard not yet written). Files of an earlier save with this
 * prefix that the new layout does not use are removed afterwards. For an all-or-nothing folder, call this inside
 * `withAtomicDirectory`. Returns the file names written.
 */
export async function writeShardedSafetensors(
  directory: string,
  tensors: TensorSource,
  options: ShardedWriteOptions = {},
): Promise<string[]> {
  const prefix = options.prefix ?? 'model';
  const maxShardBytes = options.maxShardBytes ?? 5_000_000_000;
  const metadata = options.metadata ?? { format: 'pt' };
  if (!(maxShardBytes > 0)) {
    throw new TunekitError(SHARDED_ERROR, `maxShardBytes must be positive, got ${maxShardBytes}`);
  }
  const shards = planShards(tensors, maxShardBytes);
  await mkdir(directory, { recursive: true });

  let written: string[];
  if (shards.length === 1) {
    written = [singleFileName(prefix)];
    await writeSafetensors(path.join(directory, written[0]), shards[0], metadata);
  } else {
    written = shards.map((_, index) => shardFileName(prefix, index + 1, shards.length));
    const weightMap = new Map<string, string>();
    for (const [index, shard] of shards.entries()) {
      await writeSafetensors(path.join(directory, written[index]), shard, metadata);
      for (const name of shard.keys()) weightMap.set(name, written[index]);
    }
    await writeFileAtomic(path.join(directory, indexFileName(prefix)), formatIndex(weightMap, tensorBytes(tensors)));
    written.push(indexFileName(prefix));
  }

  await removeStaleFiles(directory, prefix, new Set(written));
  return written;
}

/**
 * The index as transformers writes it (json.dumps with indent 2 and sorted keys), built by hand because a JS object
 * would reorder integer-like tensor names.
 */
function formatIndex(weightMap: ReadonlyMap<string, string>, totalSize: number): string {
  const names = [...weightMap.keys()].sort((left, right) => (left < right ? -1 : left > right ? 1 : 0));
  const lines = names.map((name) => `    ${JSON.stringify(name)}: ${JSON.stringify(weightMap.get(name))}`);
  return `{\n  "metadata": {\n    "total_size": ${totalSize}\n  },\n  "weight_map": {\n${lines.join(',\n')}\n  }\n}\n`;
}

async function removeStaleFiles(directory: string, prefix: string, keep: ReadonlySet<string>): Promise<void> {
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const ours = new RegExp(`^${escaped}(-\\d{5}-of-\\d{5}\\.safetensors|\\.safetensors|\\.safetensors\\.index\\.json)$`);
  for (const name of await readdir(directory)) {
    if (ours.test(name) && !keep.has(name)) await rm(path.join(directory, name), { force: true });
  }
}
