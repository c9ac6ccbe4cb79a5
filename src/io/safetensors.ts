/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N,
 * N bytes of UTF-8 JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}`
 * (trailing spaces allowed), then the data buffer; offsets are relative to the start of that buffer.
 *
 * Reading follows the reference implementation's rules: the header starts with `{`, is at most 100 MB, has no
 * duplicate keys, and the tensors tile the data buffer exactly: no overlaps, no holes, no trailing bytes (the
 * spec forbids holes so that a file cannot smuggle other content; the Rust crate rejects all three).
 *
 * Writing matches the Python library byte for byte: tensors ordered by descending dtype alignment then by name
 * (UTF-8 bytes), laid out back to back in that order, `__metadata__` first when there is any, compact JSON, the
 * header padded with spaces to a multiple of 8 bytes so every tensor starts aligned.
 */
import { constants as bufferConstants } from 'node:buffer';
import { open, type FileHandle } from 'node:fs/promises';
import { TunekitError } from '../errors.js';
import { withAtomicFile, writeAll } from './atomic.js';
import { oneLine } from './text.js';

export type SafetensorsDtype =
  | 'F64' | 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'F8_E5M2'
  | 'I64' | 'I32' | 'I16' | 'I8'
  | 'U64' | 'U32' | 'U16' | 'U8'
  | 'BOOL';

export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1,
};

/** The reference writer's dtype order (increasing alignment); it lays tensors out in the reverse order. */
const DTYPE_ORDER: readonly SafetensorsDtype[] = [
  'BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64',
];

export function isSafetensorsDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_BYTES, value);
}

/** One tensor: row-major little-endian bytes. When read, `data` is a view into the file's buffer (no copy). */
export interface TensorRecord {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Uint8Array;
}

export interface SafetensorsContent {
  metadata: Record<string, string>;
  tensors: Map<string, TensorRecord>;
}

/** A tensor as the header describes it, before any data is read. */
export interface TensorEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** [begin, end) in the data buffer, which starts at byte `dataStart` of the file. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  /** In header order. */
  tensors: Map<string, TensorEntry>;
  /** File offset of the data buffer: 8 + the header length. */
  dataStart: number;
}

/** Tensors to write: a Map keeps the caller's order for the sharded writer; a plain object works too. */
export type TensorSource = ReadonlyMap<string, TensorRecord> | Readonly<Record<string, TensorRecord>>;

export const SAFETENSORS_ERROR = 'E_SAFETENSORS';
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';
/** fs reads and writes take at most 2^31 - 1 bytes per call. */
const CHUNK_BYTES = 1 << 30;

/** Messages quote tensor names and header text, which may hold line breaks: they are escaped to keep one line. */
function fail(source: string, message: string): never {
  throw new TunekitError(SAFETENSORS_ERROR, `${source}: ${oneLine(message)}`);
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? text.slice(0, 77) + '...' : text;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

function isValidShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((size) => Number.isSafeInteger(size) && size >= 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

/** Reads N from the first 8 bytes and checks it against the limit and the file size. */
function readHeaderLength(prefix: Uint8Array, fileBytes: number, source: string): number {
  if (fileBytes < 8) fail(source, `file is ${fileBytes} bytes, shorter than the 8-byte header length`);
  const length = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    fail(source, `header length ${length} bytes is over the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  }
  const headerLength = Number(length);
  if (8 + headerLength > fileBytes) {
    fail(source, `header length ${headerLength} bytes runs past the end of the ${fileBytes}-byte file`);
  }
  return headerLength;
}

/** The first key that occurs twice in the top-level object of `text` (which must be valid JSON). */
function findDuplicateTopLevelKey(text: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  for (let index = 0; index < text.length; index++) {
    const character = text.charCodeAt(index);
    if (character === 0x22 /* " */) {
      const start = index;
      for (index++; text.charCodeAt(index) !== 0x22; index++) {
        if (text.charCodeAt(index) === 0x5c /* \ */) index++;
      }
      if (depth !== 1) continue;
      let next = index + 1;
      while (' \t\n\r'.includes(text[next])) next++;
      if (text[next] !== ':') continue;
      const key = JSON.parse(text.slice(start, index + 1)) as string;
      if (seen.has(key)) return key;
      seen.add(key);
    } else if (character === 0x7b /* { */ || character === 0x5b /* [ */) {
      depth++;
    } else if (character === 0x7d /* } */ || character === 0x5d /* ] */) {
      depth--;
    }
  }
  return undefined;
}

function parseMetadata(value: unknown, source: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(source, `"__metadata__" must be an object of strings, got ${describe(value)}`);
  }
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') {
      fail(source, `"__metadata__" value for key "${key}" must be a string, got ${describe(entry)}`);
    }
  }
  return Object.fromEntries(Object.entries(value)) as Record<string, string>;
}

function parseTensorEntry(name: string, value: unknown, source: string): TensorEntry {
  const where = `tensor "${name}"`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(source, `${where}: expected an object {dtype, shape, data_offsets}, got ${describe(value)}`);
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (!isSafetensorsDtype(dtype)) {
    fail(source, `${where}: unknown dtype ${describe(dtype)} (expected one of ${DTYPE_ORDER.join(', ')})`);
  }
  if (!isValidShape(shape)) {
    fail(source, `${where}: shape must be an array of non-negative integers, got ${describe(shape)}`);
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((offset) => Number.isSafeInteger(offset) && offset >= 0)
  ) {
    fail(source, `${where}: data_offsets must be two non-negative integers [begin, end], got ${describe(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) fail(source, `${where}: data_offsets begin ${begin} is after end ${end}`);
  const expectedBytes = elementCount(shape) * DTYPE_BYTES[dtype];
  if (!Number.isSafeInteger(expectedBytes)) fail(source, `${where}: shape ${describe(shape)} is too large`);
  if (end - begin !== expectedBytes) {
    fail(
      source,
      `${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${dtype} ${describe(shape)} ` +
        `needs ${expectedBytes}`,
    );
  }
  return { dtype, shape: [...shape], dataOffsets: [begin, end] };
}

/** Checks that the tensors tile [0, dataBytes) exactly. */
function checkCoverage(tensors: Map<string, TensorEntry>, dataBytes: number, source: string): void {
  const byOffset = [...tensors].sort(
    ([, left], [, right]) => left.dataOffsets[0] - right.dataOffsets[0] || left.dataOffsets[1] - right.dataOffsets[1],
  );
  let covered = 0;
  let previousName: string | undefined;
  for (const [name, { dataOffsets: [begin, end] }] of byOffset) {
    if (end > dataBytes) {
      fail(source, `tensor "${name}": data_offsets [${begin}, ${end}] run past the ${dataBytes}-byte data buffer`);
    }
    if (begin < covered) {
      fail(source, `tensor "${name}": data_offsets [${begin}, ${end}] overlap tensor "${previousName}"`);
    }
    if (begin > covered) {
      fail(
        source,
        `tensor "${name}": data_offsets [${begin}, ${end}] leave a hole of ${begin - covered} bytes at ${covered} ` +
          '(the data buffer must be fully covered by tensors)',
      );
    }
    covered = end;
    previousName = name;
  }
  if (covered !== dataBytes) {
    fail(source, `${dataBytes - covered} bytes after the last tensor's data (the data buffer must be fully covered)`);
  }
}

/** Parses and validates the JSON header against a data buffer of `dataBytes` bytes. */
function decodeHeader(
  headerBytes: Uint8Array,
  dataBytes: number,
  source: string,
): { metadata: Record<string, string>; tensors: Map<string, TensorEntry> } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    fail(source, 'header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(source, `header must start with '{', got ${describe(text.slice(0, 20))}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    fail(source, `header is not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    fail(source, 'header must be a JSON object');
  }
  const duplicate = findDuplicateTopLevelKey(text);
  if (duplicate !== undefined) fail(source, `header lists "${duplicate}" twice`);

  let metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorEntry>();
  for (const [name, value] of Object.entries(parsed)) {
    if (name === METADATA_KEY) metadata = parseMetadata(value, source);
    else tensors.set(name, parseTensorEntry(name, value, source));
  }
  checkCoverage(tensors, dataBytes, source);
  return { metadata, tensors };
}

/** Parses a whole safetensors file held in memory; each tensor's `data` is a view into `buffer`. */
export function parseSafetensors(buffer: Uint8Array, source: string): SafetensorsContent {
  const headerLength = readHeaderLength(buffer, buffer.byteLength, source);
  const dataStart = 8 + headerLength;
  const { metadata, tensors } = decodeHeader(
    buffer.subarray(8, dataStart),
    buffer.byteLength - dataStart,
    source,
  );
  const records = new Map<string, TensorRecord>();
  for (const [name, { dtype, shape, dataOffsets: [begin, end] }] of tensors) {
    records.set(name, { dtype, shape, data: buffer.subarray(dataStart + begin, dataStart + end) });
  }
  return { metadata, tensors: records };
}

async function openForReading(filePath: string): Promise<FileHandle> {
  try {
    return await open(filePath, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TunekitError('E_NOT_FOUND', `${filePath}: file not found`);
    throw error;
  }
}

/** Fills `target` from the file starting at byte `position`. */
async function readExactly(file: FileHandle, target: Uint8Array, position: number, source: string): Promise<void> {
  let filled = 0;
  while (filled < target.byteLength) {
    const length = Math.min(CHUNK_BYTES, target.byteLength - filled);
    const { bytesRead } = await file.read(target, filled, length, position + filled);
    if (bytesRead === 0) fail(source, `file ended early at byte ${position + filled} (was it truncated while read?)`);
    filled += bytesRead;
  }
}

async function readHeaderFrom(file: FileHandle, source: string): Promise<SafetensorsHeader & { fileBytes: number }> {
  const { size: fileBytes } = await file.stat();
  const prefix = new Uint8Array(8);
  if (fileBytes >= 8) await readExactly(file, prefix, 0, source);
  const headerLength = readHeaderLength(prefix, fileBytes, source);
  const headerBytes = new Uint8Array(headerLength);
  await readExactly(file, headerBytes, 8, source);
  const dataStart = 8 + headerLength;
  const { metadata, tensors } = decodeHeader(headerBytes, fileBytes - dataStart, source);
  return { metadata, tensors, dataStart, fileBytes };
}

/** Reads and validates only the header: names, dtypes, shapes and offsets, without any tensor data. */
export async function readSafetensorsHeader(filePath: string): Promise<SafetensorsHeader> {
  const file = await openForReading(filePath);
  try {
    const { metadata, tensors, dataStart } = await readHeaderFrom(file, filePath);
    return { metadata, tensors, dataStart };
  } finally {
    await file.close();
  }
}

export interface ReadSafetensorsOptions {
  /**
   * Files up to this size are read into one buffer that all tensors view; larger ones get one buffer per tensor.
   * Defaults to the largest Buffer Node can allocate.
   */
  maxBufferBytes?: number;
}

/** Reads a safetensors file with one copy into memory (one buffer, or one per tensor for huge files). */
export async function readSafetensors(
  filePath: string,
  options: ReadSafetensorsOptions = {},
): Promise<SafetensorsContent> {
  const maxBufferBytes = options.maxBufferBytes ?? bufferConstants.MAX_LENGTH;
  const file = await openForReading(filePath);
  try {
    const { size } = await file.stat();
    if (size <= maxBufferBytes) {
      const buffer = new Uint8Array(size);
      await readExactly(file, buffer, 0, filePath);
      return parseSafetensors(buffer, filePath);
    }
    const { metadata, tensors, dataStart } = await readHeaderFrom(file, filePath);
    const records = new Map<string, TensorRecord>();
    for (const [name, { dtype, shape, dataOffsets: [begin, end] }] of tensors) {
      if (end - begin > bufferConstants.MAX_LENGTH) {
        fail(filePath, `tensor "${name}" is ${end - begin} bytes, more than one Node buffer can hold`);
      }
      const data = new Uint8Array(end - begin);
      await readExactly(file, data, dataStart + begin, filePath);
      records.set(name, { dtype, shape, data });
    }
    return { metadata, tensors: records };
  } finally {
    await file.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

interface WritePlan {
  /** The 8-byte length followed by the padded JSON header. */
  header: Uint8Array;
  /** Tensors in the order their bytes follow the header. */
  ordered: Array<[string, TensorRecord]>;
  dataBytes: number;
}

function entriesOf(tensors: TensorSource): Array<[string, TensorRecord]> {
  return tensors instanceof Map
    ? [...(tensors as ReadonlyMap<string, TensorRecord>)]
    : Object.entries(tensors as Readonly<Record<string, TensorRecord>>);
}

function checkRecord(name: string, record: TensorRecord, target: string): void {
  const where = `tensor "${name}"`;
  if (name === METADATA_KEY) fail(target, `"${METADATA_KEY}" is reserved and cannot name a tensor`);
  if (!isSafetensorsDtype(record.dtype)) fail(target, `${where}: unknown dtype ${describe(record.dtype)}`);
  if (!isValidShape(record.shape)) {
    fail(target, `${where}: shape must be an array of non-negative integers, got ${describe(record.shape)}`);
  }
  if (!(record.data instanceof Uint8Array)) fail(target, `${where}: data must be a Uint8Array of raw bytes`);
  const expectedBytes = elementCount(record.shape) * DTYPE_BYTES[record.dtype];
  if (record.data.byteLength !== expectedBytes) {
    fail(
      target,
      `${where}: ${record.dtype} ${describe(record.shape)} needs ${expectedBytes} bytes, ` +
        `data has ${record.data.byteLength}`,
    );
  }
}

const compareStrings = (left: string, right: string) => (left < right ? -1 : left > right ? 1 : 0);

/** Plans the layout: sorted tensors, their offsets and the header bytes. `target` names the file in errors. */
function planSafetensors(
  tensors: TensorSource,
  metadata: Readonly<Record<string, string>> | undefined,
  target: string,
): WritePlan {
  const rank = (dtype: SafetensorsDtype) => DTYPE_ORDER.indexOf(dtype);
  const entries = entriesOf(tensors).map(([name, record]) => {
    checkRecord(name, record, target);
    return { name, record, nameBytes: Buffer.from(name, 'utf8') };
  });
  entries.sort(
    (left, right) =>
      rank(right.record.dtype) - rank(left.record.dtype) || Buffer.compare(left.nameBytes, right.nameBytes),
  );

  // Built by hand: a JS object would move integer-like names ("0", "1") to the front.
  const parts: string[] = [];
  const metadataEntries = Object.entries(metadata ?? {}).sort(([left], [right]) => compareStrings(left, right));
  if (metadataEntries.length > 0) {
    for (const [key, value] of metadataEntries) {
      if (typeof value !== 'string') {
        fail(target, `metadata value for key "${key}" must be a string, got ${describe(value)}`);
      }
    }
    const body = metadataEntries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',');
    parts.push(`"${METADATA_KEY}":{${body}}`);
  }
  let offset = 0;
  for (const { name, record } of entries) {
    const end = offset + record.data.byteLength;
    const shape = record.shape.join(',');
    parts.push(`${JSON.stringify(name)}:{"dtype":"${record.dtype}","shape":[${shape}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const paddedLength = Math.ceil(json.byteLength / 8) * 8;
  const header = new Uint8Array(8 + paddedLength).fill(0x20, 8 + json.byteLength);
  new DataView(header.buffer).setBigUint64(0, BigInt(paddedLength), true);
  header.set(json, 8);
  return { header, ordered: entries.map(({ name, record }) => [name, record]), dataBytes: offset };
}

/** The whole file as one buffer; for large checkpoints prefer `writeSafetensors`, which streams. */
export function serializeSafetensors(tensors: TensorSource, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const { header, ordered, dataBytes } = planSafetensors(tensors, metadata, 'safetensors');
  const output = new Uint8Array(header.byteLength + dataBytes);
  output.set(header, 0);
  let position = header.byteLength;
  for (const [, record] of ordered) {
    output.set(record.data, position);
    position += record.data.byteLength;
  }
  return output;
}

/**
 * Writes a safetensors file atomically, tensor by tensor (never one buffer of everything). An empty or absent
 * `metadata` writes no `__metadata__` key, so a file read and written back is byte-identical.
 */
export async function writeSafetensors(
  filePath: string,
  tensors: TensorSource,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const { header, ordered } = planSafetensors(tensors, metadata, filePath);
  await withAtomicFile(filePath, async (file) => {
    await writeAll(file, header);
    for (const [, record] of ordered) await writeAll(file, record.data);
  });
}

/** Total tensor bytes (what `model.safetensors.index.json` calls total_size). */
export function tensorBytes(tensors: TensorSource): number {
  return entriesOf(tensors).reduce((sum, [, record]) => sum + record.data.byteLength, 0);
}

/** Raw bytes of a typed array, as a view (no copy), for building a TensorRecord. */
export function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
