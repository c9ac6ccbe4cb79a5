/**
 * GGUF, the file format of llama.cpp / ggml (spec: ggml's docs/gguf.md; gguf-py's constants.py for the ids).
 * Version 3, little-endian:
 *
 *   "GGUF" (4 bytes) | version u32 = 3 | tensor count u64 | metadata count u64
 *   metadata: key (string) | value type u32 | value          — a string is u64 byte length + UTF-8, no NUL
 *   tensor infos: name (string) | n_dims u32 | dims u64[n_dims] | ggml type u32 | offset u64
 *   zero padding to the alignment | tensor data, each tensor at its offset (relative to the data section's
 *   start, a multiple of the alignment) and zero-padded to the alignment
 *
 * Dims are in ggml order, innermost (contiguous) first: a PyTorch tensor of shape [out, in] has dims [in, out].
 * This module's API speaks PyTorch's row-major `shape` everywhere and reverses it only in the file; the reader
 * reports both. The alignment is `general.alignment` (u32, a power of two) when present, else 32.
 *
 * ggml's loader (gguf.cpp) is stricter than the spec on a few points and the writer keeps to those too: tensor
 * names are under 64 bytes, at most 4 dims, tensor data laid out in tensor-info order with no gaps beyond the
 * padding, and the last tensor padded as well.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { constants as bufferConstants } from 'node:buffer';
import { TunekitError } from '../errors.js';
import { withAtomicFile, writeAll } from './atomic.js';

export const GGUF_ERROR = 'E_GGUF';
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_NAME is 64 including the terminating NUL. */
export const GGUF_MAX_TENSOR_NAME_BYTES = 63;
/** ggml's GGML_MAX_DIMS. */
export const GGUF_MAX_DIMS = 4;
const MAGIC = [0x47, 0x47, 0x55, 0x46]; // "GGUF"

/** Metadata value types: gguf_metadata_value_type in the spec. */
export const GGUF_VALUE_TYPE = {
  uint8: 0, int8: 1, uint16: 2, int16: 3, uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9,
  uint64: 10, int64: 11, float64: 12,
} as const;
export type GgufValueTypeName = keyof typeof GGUF_VALUE_TYPE;
const VALUE_TYPE_NAMES = new Map<number, GgufValueTypeName>(
  Object.entries(GGUF_VALUE_TYPE).map(([name, id]) => [id, name as GgufValueTypeName]),
);

export type GgufNumberTypeName = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';
export type GgufBigIntTypeName = 'uint64' | 'int64';

/** One metadata value with its GGUF type. 64-bit integers read back as bigint; a safe-integer number is accepted. */
export type GgufScalar =
  | { type: GgufNumberTypeName; value: number }
  | { type: GgufBigIntTypeName; value: bigint | number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string };
/** Elements are numbers, bigints, booleans, strings, or (for an array of arrays) GgufArray values. */
export interface GgufArray {
  type: 'array';
  itemType: GgufValueTypeName;
  value: readonly (number | bigint | boolean | string | GgufArray)[];
}
export type GgufValue = GgufScalar | GgufArray;

/** Shorthands for building metadata values. */
export const ggufValue = {
  uint8: (value: number): GgufValue => ({ type: 'uint8', value }),
  int8: (value: number): GgufValue => ({ type: 'int8', value }),
  uint16: (value: number): GgufValue => ({ type: 'uint16', value }),
  int16: (value: number): GgufValue => ({ type: 'int16', value }),
  uint32: (value: number): GgufValue => ({ type: 'uint32', value }),
  int32: (value: number): GgufValue => ({ type: 'int32', value }),
  float32: (value: number): GgufValue => ({ type: 'float32', value }),
  float64: (value: number): GgufValue => ({ type: 'float64', value }),
  uint64: (value: bigint | number): GgufValue => ({ type: 'uint64', value }),
  int64: (value: bigint | number): GgufValue => ({ type: 'int64', value }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  string: (value: string): GgufValue => ({ type: 'string', value }),
  array: (itemType: GgufValueTypeName, value: GgufArray['value']): GgufValue => ({ type: 'array', itemType, value }),
};

/** ggml tensor types (enum ggml_type); ids 4, 5 and 31–33, 36–38 were removed from the format. */
export const GGML_TYPE = {
  F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q8_1: 9,
  Q2_K: 10, Q3_K: 11, Q4_K: 12, Q5_K: 13, Q6_K: 14, Q8_K: 15,
  IQ2_XXS: 16, IQ2_XS: 17, IQ3_XXS: 18, IQ1_S: 19, IQ4_NL: 20, IQ3_S: 21, IQ2_S: 22, IQ4_XS: 23,
  I8: 24, I16: 25, I32: 26, I64: 27, F64: 28, IQ1_M: 29, BF16: 30, TQ1_0: 34, TQ2_0: 35, MXFP4: 39,
  NVFP4: 40, Q1_0: 41,
} as const;
export type GgmlTypeName = keyof typeof GGML_TYPE;

/** [elements per block, bytes per block] for each type (gguf-py's GGML_QUANT_SIZES). */
const GGML_BLOCK: Readonly<Record<number, readonly [number, number]>> = {
  0: [1, 4], 1: [1, 2], 2: [32, 18], 3: [32, 20], 6: [32, 22], 7: [32, 24], 8: [32, 34], 9: [32, 40],
  10: [256, 84], 11: [256, 110], 12: [256, 144], 13: [256, 176], 14: [256, 210], 15: [256, 292],
  16: [256, 66], 17: [256, 74], 18: [256, 98], 19: [256, 50], 20: [32, 18], 21: [256, 110], 22: [256, 82],
  23: [256, 136], 24: [1, 1], 25: [1, 2], 26: [1, 4], 27: [1, 8], 28: [1, 8], 29: [256, 56], 30: [1, 2],
  34: [256, 54], 35: [256, 66], 39: [32, 17], 40: [64, 36], 41: [128, 18],
};
const GGML_TYPE_NAMES = new Map<number, GgmlTypeName>(
  Object.entries(GGML_TYPE).map(([name, id]) => [id, name as GgmlTypeName]),
);

export function ggmlTypeName(type: number): string {
  return GGML_TYPE_NAMES.get(type) ?? `unknown(${type})`;
}

/** Bytes taken by a tensor of this type and row-major shape; throws when the row is not a whole number of blocks. */
export function ggmlTensorBytes(type: number, shape: readonly number[], what = 'tensor'): number {
  const block = GGML_BLOCK[type];
  if (block === undefined) throw new TunekitError(GGUF_ERROR, `${what}: unknown ggml type ${type}`);
  const [blockSize, blockBytes] = block;
  const inner = shape.length === 0 ? 1 : shape[shape.length - 1];
  if (inner % blockSize !== 0) {
    throw new TunekitError(
      GGUF_ERROR,
      `${what}: innermost dimension ${inner} is not a multiple of ${ggmlTypeName(type)}'s block size ${blockSize}`,
    );
  }
  let elements = 1;
  for (const dim of shape) elements *= dim;
  return (elements / blockSize) * blockBytes;
}

export function alignUp(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

/** A tensor to write. `data` is raw little-endian bytes in row-major order, or a function producing them at write
 * time (called once, in order, so a large file need not hold every tensor in memory at once). */
export interface GgufTensorInput {
  name: string;
  /** A ggml type id, e.g. GGML_TYPE.F16. */
  type: number;
  /** Row-major (PyTorch) shape, outermost first; written reversed as ggml dims. */
  shape: readonly number[];
  data: Uint8Array | (() => Uint8Array | Promise<Uint8Array>);
}

export interface GgufFileInput {
  /** In the order they are written. `general.alignment`, when given, sets the alignment. */
  metadata: ReadonlyMap<string, GgufValue> | Iterable<readonly [string, GgufValue]> | Readonly<Record<string, GgufValue>>;
  tensors: readonly GgufTensorInput[];
}

function fail(message: string): never {
  throw new TunekitError(GGUF_ERROR, message);
}

/** A growable little-endian byte buffer. */
class ByteSink {
  private buffer = new Uint8Array(4096);
  private view = new DataView(this.buffer.buffer);
  length = 0;

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.byteLength) return;
    let capacity = this.buffer.byteLength * 2;
    while (capacity < this.length + extra) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }
  bytes(data: Uint8Array): void {
    this.reserve(data.byteLength);
    this.buffer.set(data, this.length);
    this.length += data.byteLength;
  }
  u8(value: number): void { this.reserve(1); this.view.setUint8(this.length, value); this.length += 1; }
  i8(value: number): void { this.reserve(1); this.view.setInt8(this.length, value); this.length += 1; }
  u16(value: number): void { this.reserve(2); this.view.setUint16(this.length, value, true); this.length += 2; }
  i16(value: number): void { this.reserve(2); this.view.setInt16(this.length, value, true); this.length += 2; }
  u32(value: number): void { this.reserve(4); this.view.setUint32(this.length, value, true); this.length += 4; }
  i32(value: number): void { this.reserve(4); this.view.setInt32(this.length, value, true); this.length += 4; }
  f32(value: number): void { this.reserve(4); this.view.setFloat32(this.length, value, true); this.length += 4; }
  f64(value: number): void { this.reserve(8); this.view.setFloat64(this.length, value, true); this.length += 8; }
  u64(value: bigint): void { this.reserve(8); this.view.setBigUint64(this.length, value, true); this.length += 8; }
  i64(value: bigint): void { this.reserve(8); this.view.setBigInt64(this.length, value, true); this.length += 8; }
  string(value: string): void {
    const encoded = Buffer.from(value, 'utf8');
    this.u64(BigInt(encoded.byteLength));
    this.bytes(encoded);
  }
  zeros(count: number): void { this.reserve(count); this.buffer.fill(0, this.length, this.length + count); this.length += count; }
  result(): Uint8Array { return this.buffer.subarray(0, this.length); }
}

const INTEGER_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  uint8: [0, 0xff], int8: [-0x80, 0x7f], uint16: [0, 0xffff], int16: [-0x8000, 0x7fff],
  uint32: [0, 0xffffffff], int32: [-0x80000000, 0x7fffffff],
};

function checkInteger(type: string, value: unknown, where: string): number {
  const [low, high] = INTEGER_RANGES[type];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < low || value > high) {
    fail(`${where}: ${String(value)} is not a valid ${type}`);
  }
  return value;
}

function toBigInt(type: GgufBigIntTypeName, value: unknown, where: string): bigint {
  let big: bigint;
  if (typeof value === 'bigint') big = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) big = BigInt(value);
  else fail(`${where}: ${String(value)} is not a valid ${type} (give a bigint or a safe integer)`);
  const [low, high] = type === 'uint64' ? [0n, (1n << 64n) - 1n] : [-(1n << 63n), (1n << 63n) - 1n];
  if (big < low || big > high) fail(`${where}: ${big} is out of range for ${type}`);
  return big;
}

/** Writes one value of `type` (without its type tag, except inside arrays of arrays, which carry their own). */
function writeValue(sink: ByteSink, type: GgufValueTypeName, value: unknown, where: string, itemType?: GgufValueTypeName): void {
  switch (type) {
    case 'uint8': sink.u8(checkInteger(type, value, where)); return;
    case 'int8': sink.i8(checkInteger(type, value, where)); return;
    case 'uint16': sink.u16(checkInteger(type, value, where)); return;
    case 'int16': sink.i16(checkInteger(type, value, where)); return;
    case 'uint32': sink.u32(checkInteger(type, value, where)); return;
    case 'int32': sink.i32(checkInteger(type, value, where)); return;
    case 'float32':
    case 'float64':
      if (typeof value !== 'number') fail(`${where}: ${String(value)} is not a number`);
      if (type === 'float32') sink.f32(value); else sink.f64(value);
      return;
    case 'uint64': sink.u64(toBigInt(type, value, where)); return;
    case 'int64': sink.i64(toBigInt(type, value, where)); return;
    case 'bool':
      if (typeof value !== 'boolean') fail(`${where}: ${String(value)} is not a boolean`);
      sink.u8(value ? 1 : 0);
      return;
    case 'string':
      if (typeof value !== 'string') fail(`${where}: ${String(value)} is not a string`);
      sink.string(value);
      return;
    case 'array': {
      if (itemType === undefined || !Object.hasOwn(GGUF_VALUE_TYPE, itemType)) {
        fail(`${where}: array has no valid itemType (${String(itemType)})`);
      }
      if (!Array.isArray(value)) fail(`${where}: array value is not an array`);
      sink.u32(GGUF_VALUE_TYPE[itemType]);
      sink.u64(BigInt(value.length));
      value.forEach((item: unknown, index: number) => {
        const at = `${where}[${index}]`;
        if (itemType === 'array') {
          const nested = item as GgufArray;
          if (typeof nested !== 'object' || nested === null || nested.type !== 'array') {
            fail(`${at}: an array of arrays needs GgufArray elements`);
          }
          writeValue(sink, 'array', nested.value, at, nested.itemType);
        } else {
          writeValue(sink, itemType, item, at);
        }
      });
      return;
    }
    default:
      fail(`${where}: unknown value type ${String(type)}`);
  }
}

function metadataEntries(metadata: GgufFileInput['metadata']): [string, GgufValue][] {
  if (metadata instanceof Map) return [...(metadata as ReadonlyMap<string, GgufValue>)];
  if (Symbol.iterator in Object(metadata)) {
    return [...(metadata as Iterable<readonly [string, GgufValue]>)].map(([key, value]) => [key, value]);
  }
  return Object.entries(metadata as Readonly<Record<string, GgufValue>>);
}

interface PlannedTensor {
  input: GgufTensorInput;
  byteLength: number;
  offset: number;
}

interface Plan {
  header: Uint8Array;
  tensors: PlannedTensor[];
  alignment: number;
  /** Header + padding + padded data. */
  fileBytes: number;
}

function planGguf(input: GgufFileInput): Plan {
  const entries = metadataEntries(input.metadata);
  const keys = new Set<string>();
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  for (const [key, value] of entries) {
    if (typeof key !== 'string' || key.length === 0) fail('metadata key must be a non-empty string');
    if (!/^[\x20-\x7e]+$/.test(key)) fail(`metadata key "${key}" must be printable ASCII`);
    if (keys.has(key)) fail(`metadata key "${key}" is given twice`);
    keys.add(key);
    if (typeof value !== 'object' || value === null || !Object.hasOwn(GGUF_VALUE_TYPE, value.type)) {
      fail(`metadata "${key}": value must be {type, value} with a GGUF type`);
    }
    if (key === 'general.alignment') {
      if (value.type !== 'uint32') fail('metadata "general.alignment" must be a uint32');
      const requested = value.value;
      if (!Number.isInteger(requested) || requested <= 0 || (requested & (requested - 1)) !== 0) {
        fail(`metadata "general.alignment": ${requested} is not a power of two`);
      }
      alignment = requested;
    }
  }

  const sink = new ByteSink();
  sink.bytes(Uint8Array.from(MAGIC));
  sink.u32(GGUF_VERSION);
  sink.u64(BigInt(input.tensors.length));
  sink.u64(BigInt(entries.length));
  for (const [key, value] of entries) {
    sink.string(key);
    sink.u32(GGUF_VALUE_TYPE[value.type]);
    writeValue(sink, value.type, value.value, `metadata "${key}"`, value.type === 'array' ? value.itemType : undefined);
  }

  const names = new Set<string>();
  const tensors: PlannedTensor[] = [];
  let offset = 0;
  for (const tensor of input.tensors) {
    const { name, type, shape } = tensor;
    if (typeof name !== 'string' || name.length === 0) fail('tensor name must be a non-empty string');
    const where = `tensor "${name}"`;
    if (Buffer.byteLength(name, 'utf8') > GGUF_MAX_TENSOR_NAME_BYTES) {
      fail(`${where}: name is longer than ggml's ${GGUF_MAX_TENSOR_NAME_BYTES} bytes`);
    }
    if (names.has(name)) fail(`${where} is given twice`);
    names.add(name);
    if (!Array.isArray(shape) || shape.length < 1 || shape.length > GGUF_MAX_DIMS) {
      fail(`${where}: shape must have 1 to ${GGUF_MAX_DIMS} dimensions`);
    }
    for (const dim of shape) {
      if (!Number.isSafeInteger(dim) || dim < 0) fail(`${where}: shape [${shape.join(', ')}] has an invalid dimension`);
    }
    const byteLength = ggmlTensorBytes(type, shape, where);
    if (tensor.data instanceof Uint8Array && tensor.data.byteLength !== byteLength) {
      fail(`${where}: data is ${tensor.data.byteLength} bytes, ${ggmlTypeName(type)} [${shape.join(', ')}] needs ${byteLength}`);
    }
    sink.string(name);
    sink.u32(shape.length);
    for (let axis = shape.length - 1; axis >= 0; axis--) sink.u64(BigInt(shape[axis]));
    sink.u32(type);
    sink.u64(BigInt(offset));
    tensors.push({ input: tensor, byteLength, offset });
    offset += alignUp(byteLength, alignment);
  }
  sink.zeros(alignUp(sink.length, alignment) - sink.length);
  const header = sink.result();
  return { header, tensors, alignment, fileBytes: header.byteLength + offset };
}

async function tensorData(planned: PlannedTensor): Promise<Uint8Array> {
  const { input, byteLength } = planned;
  const data = input.data instanceof Uint8Array ? input.data : await input.data();
  if (!(data instanceof Uint8Array) || data.byteLength !== byteLength) {
    fail(`tensor "${input.name}": data is ${data?.byteLength} bytes, ${ggmlTypeName(input.type)} [${input.shape.join(', ')}] needs ${byteLength}`);
  }
  return data;
}

/** The whole file in memory (for small files and tests); the data functions are called in order. */
export async function encodeGguf(input: GgufFileInput): Promise<Uint8Array> {
  const plan = planGguf(input);
  if (plan.fileBytes > bufferConstants.MAX_LENGTH) fail(`file of ${plan.fileBytes} bytes is too large for one buffer; use writeGguf`);
  const out = new Uint8Array(plan.fileBytes);
  out.set(plan.header);
  for (const planned of plan.tensors) out.set(await tensorData(planned), plan.header.byteLength + planned.offset);
  return out;
}

export interface WriteGgufResult {
  bytes: number;
  alignment: number;
  tensorCount: number;
}

/** Writes a GGUF v3 file atomically (`<path>.tmp-<pid>`, fsync, rename): a failure leaves `path` as it was. */
export async function writeGguf(filePath: string, input: GgufFileInput): Promise<WriteGgufResult> {
  const plan = planGguf(input);
  await withAtomicFile(filePath, async (file) => {
    await writeAll(file, plan.header);
    const padding = new Uint8Array(plan.alignment);
    for (const planned of plan.tensors) {
      await writeAll(file, await tensorData(planned));
      const pad = alignUp(planned.byteLength, plan.alignment) - planned.byteLength;
      if (pad > 0) await writeAll(file, padding.subarray(0, pad));
    }
  });
  return { bytes: plan.fileBytes, alignment: plan.alignment, tensorCount: plan.tensors.length };
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

export interface GgufTensorInfo {
  name: string;
  type: number;
  typeName: string;
  /** As stored: ggml order, innermost first. */
  dims: number[];
  /** Row-major (PyTorch) order: dims reversed. */
  shape: number[];
  /** Relative to the data section. */
  offset: number;
  byteLength: number;
}

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** File offset of the data section. */
  dataOffset: number;
}

export interface GgufTensor extends GgufTensorInfo {
  /** A view into the file's bytes (no copy). */
  data: Uint8Array;
}

export interface GgufContent extends Omit<GgufHeader, 'tensors'> {
  tensors: GgufTensor[];
}

/** Thrown inside the parser when the bytes given end before the header does. */
class NeedMoreBytes extends Error {}

class ByteSource {
  private readonly view: DataView;
  position = 0;
  constructor(
    private readonly bytes: Uint8Array,
    /** The whole file's size, so that running off `bytes` can be told apart from a truncated file. */
    private readonly fileSize: number,
    private readonly source: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private take(count: number, what: string): number {
    const at = this.position;
    if (at + count > this.bytes.byteLength) {
      if (at + count > this.fileSize) {
        throw new TunekitError(GGUF_ERROR, `${this.source}: file ends inside ${what} (at byte ${at}, ${this.fileSize} bytes in all)`);
      }
      throw new NeedMoreBytes();
    }
    this.position += count;
    return at;
  }
  remaining(): number { return this.fileSize - this.position; }
  u8(what: string): number { return this.view.getUint8(this.take(1, what)); }
  i8(what: string): number { return this.view.getInt8(this.take(1, what)); }
  u16(what: string): number { return this.view.getUint16(this.take(2, what), true); }
  i16(what: string): number { return this.view.getInt16(this.take(2, what), true); }
  u32(what: string): number { return this.view.getUint32(this.take(4, what), true); }
  i32(what: string): number { return this.view.getInt32(this.take(4, what), true); }
  f32(what: string): number { return this.view.getFloat32(this.take(4, what), true); }
  f64(what: string): number { return this.view.getFloat64(this.take(8, what), true); }
  u64(what: string): bigint { return this.view.getBigUint64(this.take(8, what), true); }
  i64(what: string): bigint { return this.view.getBigInt64(this.take(8, what), true); }
  /** A u64 count or size that must fit in a JavaScript number. */
  size(what: string): number {
    const value = this.u64(what);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new TunekitError(GGUF_ERROR, `${this.source}: ${what} ${value} is too large`);
    return Number(value);
  }
  string(what: string): string {
    const length = this.size(`${what} length`);
    if (length > this.remaining()) {
      throw new TunekitError(GGUF_ERROR, `${this.source}: ${what} claims ${length} bytes, beyond the end of the file`);
    }
    const at = this.take(length, what);
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + at, length).toString('utf8');
  }
}

/** Smallest encoded size of one value of each type, to refuse absurd counts before allocating. */
const MIN_VALUE_BYTES: Readonly<Record<GgufValueTypeName, number>> = {
  uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, bool: 1, string: 8, array: 12,
  uint64: 8, int64: 8, float64: 8,
};

function readValueType(source: ByteSource, what: string, file: string): GgufValueTypeName {
  const id = source.u32(what);
  const name = VALUE_TYPE_NAMES.get(id);
  if (name === undefined) throw new TunekitError(GGUF_ERROR, `${file}: ${what} is ${id}, not a GGUF value type`);
  return name;
}

function readValue(source: ByteSource, type: GgufValueTypeName, what: string, file: string): GgufValue {
  switch (type) {
    case 'uint8': return { type, value: source.u8(what) };
    case 'int8': return { type, value: source.i8(what) };
    case 'uint16': return { type, value: source.u16(what) };
    case 'int16': return { type, value: source.i16(what) };
    case 'uint32': return { type, value: source.u32(what) };
    case 'int32': return { type, value: source.i32(what) };
    case 'float32': return { type, value: source.f32(what) };
    case 'float64': return { type, value: source.f64(what) };
    case 'uint64': return { type, value: source.u64(what) };
    case 'int64': return { type, value: source.i64(what) };
    case 'bool': {
      const byte = source.u8(what);
      if (byte > 1) throw new TunekitError(GGUF_ERROR, `${file}: ${what} is a bool of value ${byte} (must be 0 or 1)`);
      return { type, value: byte === 1 };
    }
    case 'string': return { type, value: source.string(what) };
    case 'array': {
      const itemType = readValueType(source, `${what} item type`, file);
      const count = source.size(`${what} length`);
      if (count * MIN_VALUE_BYTES[itemType] > source.remaining()) {
        throw new TunekitError(GGUF_ERROR, `${file}: ${what} claims ${count} items, more than the file holds`);
      }
      const items: (number | bigint | boolean | string | GgufArray)[] = new Array(count);
      for (let index = 0; index < count; index++) {
        const item = readValue(source, itemType, `${what}[${index}]`, file);
        items[index] = item.type === 'array' ? item : item.value;
      }
      return { type, itemType, value: items };
    }
  }
}

function parseHeader(bytes: Uint8Array, fileSize: number, file: string): GgufHeader {
  const source = new ByteSource(bytes, fileSize, file);
  const magic = [source.u8('magic'), source.u8('magic'), source.u8('magic'), source.u8('magic')];
  if (magic.some((byte, index) => byte !== MAGIC[index])) {
    throw new TunekitError(GGUF_ERROR, `${file}: not a GGUF file (starts with ${Buffer.from(magic).toString('hex')}, not "GGUF")`);
  }
  const version = source.u32('version');
  if (version === 0x03000000 || version === 0x02000000) {
    throw new TunekitError(GGUF_ERROR, `${file}: a big-endian GGUF file; only little-endian files are supported`);
  }
  if (version !== 2 && version !== 3) {
    throw new TunekitError(GGUF_ERROR, `${file}: GGUF version ${version} is not supported (2 and 3 are)`);
  }
  const tensorCount = source.size('tensor count');
  const kvCount = source.size('metadata count');
  if (kvCount * 12 > source.remaining() || tensorCount * 24 > source.remaining()) {
    throw new TunekitError(GGUF_ERROR, `${file}: claims ${kvCount} metadata entries and ${tensorCount} tensors, more than the file holds`);
  }
  const metadata = new Map<string, GgufValue>();
  for (let index = 0; index < kvCount; index++) {
    const key = source.string(`metadata key #${index}`);
    if (metadata.has(key)) throw new TunekitError(GGUF_ERROR, `${file}: metadata key "${key}" appears twice`);
    const type = readValueType(source, `type of metadata "${key}"`, file);
    metadata.set(key, readValue(source, type, `metadata "${key}"`, file));
  }
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const alignmentValue = metadata.get('general.alignment');
  if (alignmentValue !== undefined) {
    const value = alignmentValue.value;
    if (alignmentValue.type !== 'uint32' || typeof value !== 'number' || value === 0 || (value & (value - 1)) !== 0) {
      throw new TunekitError(GGUF_ERROR, `${file}: general.alignment must be a uint32 power of two`);
    }
    alignment = value;
  }
  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let index = 0; index < tensorCount; index++) {
    const name = source.string(`tensor name #${index}`);
    if (names.has(name)) throw new TunekitError(GGUF_ERROR, `${file}: tensor "${name}" appears twice`);
    names.add(name);
    const nDims = source.u32(`tensor "${name}" n_dims`);
    if (nDims < 1 || nDims > GGUF_MAX_DIMS) {
      throw new TunekitError(GGUF_ERROR, `${file}: tensor "${name}" has ${nDims} dims (1 to ${GGUF_MAX_DIMS} allowed)`);
    }
    const dims: number[] = [];
    for (let axis = 0; axis < nDims; axis++) dims.push(source.size(`tensor "${name}" dim ${axis}`));
    const type = source.u32(`tensor "${name}" type`);
    const offset = source.size(`tensor "${name}" offset`);
    if (offset % alignment !== 0) {
      throw new TunekitError(GGUF_ERROR, `${file}: tensor "${name}" offset ${offset} is not a multiple of the alignment ${alignment}`);
    }
    const shape = [...dims].reverse();
    const byteLength = ggmlTensorBytes(type, shape, `${file}: tensor "${name}"`);
    tensors.push({ name, type, typeName: ggmlTypeName(type), dims, shape, offset, byteLength });
  }
  const dataOffset = alignUp(source.position, alignment);
  const dataBytes = fileSize - dataOffset;
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const tensor of byOffset) {
    if (tensor.offset < end) throw new TunekitError(GGUF_ERROR, `${file}: tensor "${tensor.name}" overlaps the tensor before it`);
    end = tensor.offset + tensor.byteLength;
    if (end > dataBytes) {
      throw new TunekitError(GGUF_ERROR, `${file}: tensor "${tensor.name}" (${tensor.byteLength} bytes at data offset ${tensor.offset}) runs past the end of the file`);
    }
  }
  return { version, metadata, tensors, alignment, dataOffset };
}

/** Parses a whole GGUF file held in memory; each tensor's `data` views `bytes`. */
export function parseGguf(bytes: Uint8Array, source = 'GGUF data'): GgufContent {
  let header: GgufHeader;
  try {
    header = parseHeader(bytes, bytes.byteLength, source);
  } catch (error) {
    if (error instanceof NeedMoreBytes) throw new TunekitError(GGUF_ERROR, `${source}: truncated`);
    throw error;
  }
  const tensors = header.tensors.map((info) => ({
    ...info,
    data: bytes.subarray(header.dataOffset + info.offset, header.dataOffset + info.offset + info.byteLength),
  }));
  return { ...header, tensors };
}

async function openForReading(filePath: string): Promise<FileHandle> {
  try {
    return await open(filePath, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new TunekitError('E_NOT_FOUND', `${filePath}: no such file`);
    throw error;
  }
}

async function readAt(file: FileHandle, buffer: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buffer.byteLength) {
    const { bytesRead } = await file.read(buffer, done, buffer.byteLength - done, position + done);
    if (bytesRead === 0) throw new TunekitError(GGUF_ERROR, 'file shrank while being read');
    done += bytesRead;
  }
}

/** Reads only the header (metadata and tensor infos), however large the file: for inspecting models. */
export async function readGgufHeader(filePath: string): Promise<GgufHeader> {
  const file = await openForReading(filePath);
  try {
    const { size } = await file.stat();
    let length = Math.min(size, 1 << 20);
    for (;;) {
      const bytes = new Uint8Array(length);
      await readAt(file, bytes, 0);
      try {
        return parseHeader(bytes, size, filePath);
      } catch (error) {
        if (!(error instanceof NeedMoreBytes)) throw error;
        length = Math.min(size, length * 4);
      }
    }
  } finally {
    await file.close();
  }
}

/** Reads a whole GGUF file into memory: header, metadata, tensor infos and a data view per tensor. */
export async function readGguf(filePath: string): Promise<GgufContent> {
  const file = await openForReading(filePath);
  try {
    const { size } = await file.stat();
    if (size > bufferConstants.MAX_LENGTH) {
      throw new TunekitError(GGUF_ERROR, `${filePath}: ${size} bytes is too large to read whole; use readGgufHeader`);
    }
    const bytes = new Uint8Array(size);
    await readAt(file, bytes, 0);
    return parseGguf(bytes, filePath);
  } finally {
    await file.close();
  }
}
