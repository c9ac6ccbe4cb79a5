/**
 * Cross-checks with PyTorch: Python reads a file we wrote and writes one we read, with its own few lines of
 * json + torch.frombuffer (not the safetensors package), so both sides of the format are checked independently.
 * Skips when python3 with torch is not installed.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  bfloat16BitsToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
} from '../src/io/half-float.js';
import { DTYPE_BYTES, bytesOf, readSafetensors, writeSafetensors, type SafetensorsDtype, type TensorRecord } from '../src/io/safetensors.js';

const python = process.env.PYTHON ?? 'python3';
const haveTorch = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 120_000 }).status === 0;

const PYTHON_SCRIPT = String.raw`
import json, math, struct, sys
import torch

DTYPES = {'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16,
          'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8, 'U8': torch.uint8,
          'BOOL': torch.bool}
NAMES = {dtype: name for name, dtype in DTYPES.items()}

def read(path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    metadata = header.pop('__metadata__', {})
    tensors = {}
    for name, info in header.items():
        begin, end = info['data_offsets']
        dtype = DTYPES[info['dtype']]
        chunk = bytearray(raw[8 + n + begin:8 + n + end])
        flat = torch.frombuffer(chunk, dtype=dtype) if chunk else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(info['shape'])
    return metadata, tensors

def write(path, tensors, metadata):
    header, blobs, offset = {'__metadata__': metadata}, [], 0
    for name, tensor in tensors.items():
        data = tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {'dtype': NAMES[tensor.dtype], 'shape': list(tensor.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as file:
        file.write(struct.pack('<Q', len(text)))
        file.write(text)
        for blob in blobs:
            file.write(blob)

def show(value):
    if isinstance(value, bool):
        return '1' if value else '0'
    if isinstance(value, int):
        return str(value)
    return 'nan' if math.isnan(value) else repr(value)

ours, theirs = sys.argv[1], sys.argv[2]
metadata, tensors = read(ours)
report = {'metadata': metadata, 'tensors': {
    name: {'dtype': NAMES[t.dtype], 'shape': list(t.shape), 'values': [show(v) for v in t.reshape(-1).tolist()]}
    for name, t in tensors.items()}}

out = {'copy.' + name: t.clone() for name, t in tensors.items()}
source = tensors['random_f32']
out['to_bf16'] = source.to(torch.bfloat16)
out['to_f16'] = source.to(torch.float16)
out['python.arange'] = torch.arange(-3, 3, dtype=torch.int64).reshape(2, 3)
out['python.extremes'] = torch.tensor([-2**63, 2**63 - 1], dtype=torch.int64)
out['python.scalar_bf16'] = torch.tensor(-1.5, dtype=torch.bfloat16)
out['python.mask'] = torch.tensor([[True, False], [False, True]])
write(theirs, out, {'written_by': 'python'})
print(json.dumps(report))
`;

/** Deterministic bytes (mulberry32). */
function randomBytes(count: number, seed: number): Uint8Array {
  let state = seed >>> 0;
  const bytes = new Uint8Array(count);
  for (let index = 0; index < count; index++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), state | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    bytes[index] = (mixed ^ (mixed >>> 14)) & 0xff;
  }
  return bytes;
}

type Scalar = number | bigint;

/** Element values of a tensor's bytes, as numbers (floats, small ints, bools) or bigints (64-bit ints). */
function decode({ dtype, data }: TensorRecord): Scalar[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const readers: Partial<Record<SafetensorsDtype, (offset: number) => Scalar>> = {
    F64: (offset) => view.getFloat64(offset, true),
    F32: (offset) => view.getFloat32(offset, true),
    F16: (offset) => float16BitsToFloat32(view.getUint16(offset, true)),
    BF16: (offset) => bfloat16BitsToFloat32(view.getUint16(offset, true)),
    I64: (offset) => view.getBigInt64(offset, true),
    I32: (offset) => view.getInt32(offset, true),
    I16: (offset) => view.getInt16(offset, true),
    I8: (offset) => view.getInt8(offset),
    U8: (offset) => view.getUint8(offset),
    BOOL: (offset) => view.getUint8(offset),
  };
  const read = readers[dtype]!;
  const size = DTYPE_BYTES[dtype];
  return Array.from({ length: data.byteLength / size }, (_, index) => read(index * size));
}

function parsePython(text: string, dtype: SafetensorsDtype): Scalar {
  if (dtype === 'I64') return BigInt(text);
  if (text === 'nan') return NaN;
  if (text === 'inf') return Infinity;
  if (text === '-inf') return -Infinity;
  return Number(text);
}

function float32Values(): Float32Array {
  const specials = [
    0, -0, 1, -1, 65504, 65519, 65520, 1e-8, 2 ** -25, 3 * 2 ** -25, 2 ** -24, 1 + 2 ** -11, 1 + 3 * 2 ** -11,
    1 + 2 ** -8, 1 + 3 * 2 ** -8, Infinity, -Infinity, NaN, 3.4028234663852886e38, 1e-40, -1e-45, Math.PI,
  ];
  const random = new Float32Array(randomBytes(4 * 3000, 99).buffer);
  const uniform = Array.from(randomBytes(2000, 7), (byte, index) => ((byte - 128) * (index + 1)) / 3.7);
  const tiny = Array.from(randomBytes(1000, 8), (byte, index) => ((byte - 128) * 2 ** -30 * (index + 1)) / 7);
  return new Float32Array([...specials, ...random, ...uniform, ...tiny]);
}

function ourTensors(): Map<string, TensorRecord> {
  const tensors = new Map<string, TensorRecord>();
  let seed = 1;
  for (const dtype of ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'] as SafetensorsDtype[]) {
    for (const shape of [[2, 3], [], [0, 4], [5]]) {
      const count = shape.reduce((product, size) => product * size, 1);
      const data = randomBytes(count * DTYPE_BYTES[dtype], seed++);
      if (dtype === 'BOOL') data.forEach((byte, index) => (data[index] = byte & 1));
      tensors.set(`${dtype}.${shape.join('x') || 'scalar'}`, { dtype, shape, data });
    }
  }
  tensors.set('random_f32', { dtype: 'F32', shape: [float32Values().length], data: bytesOf(float32Values()) });
  return tensors;
}

const sameScalar = (left: Scalar, right: Scalar) => Object.is(left, right) || left === right;

describe('interoperability with PyTorch', { skip: !haveTorch && `${python} with torch not available` }, () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'tunekit-python-'));
  after(() => rmSync(directory, { recursive: true, force: true }));
  const ours = path.join(directory, 'ours.safetensors');
  const theirs = path.join(directory, 'theirs.safetensors');
  const tensors = ourTensors();
  let report: { metadata: Record<string, string>; tensors: Record<string, { dtype: string; shape: number[]; values: string[] }> };

  it('Python reads what we wrote: names, dtypes, shapes, metadata and every value', async () => {
    await writeSafetensors(ours, tensors, { format: 'pt', who: 'tunekit' });
    const output = execFileSync(python, ['-c', PYTHON_SCRIPT, ours, theirs], { encoding: 'utf8', timeout: 300_000, maxBuffer: 64 << 20 });
    report = JSON.parse(output);
    assert.deepEqual(report.metadata, { format: 'pt', who: 'tunekit' });
    assert.deepEqual(Object.keys(report.tensors).sort(), [...tensors.keys()].sort());
    for (const [name, record] of tensors) {
      const seen = report.tensors[name];
      assert.equal(seen.dtype, record.dtype, name);
      assert.deepEqual(seen.shape, record.shape, name);
      const expected = decode(record);
      assert.equal(seen.values.length, expected.length, name);
      seen.values.forEach((text, index) => {
        const value = parsePython(text, record.dtype);
        assert.ok(sameScalar(value, expected[index]), `${name}[${index}]: Python ${text}, we ${expected[index]}`);
      });
    }
  });

  it('we read what Python wrote, bit for bit, and round to bf16/f16 exactly as torch does', async (context) => {
    if (!report) return context.skip('the Python run above failed');
    const read = await readSafetensors(theirs);
    assert.deepEqual(read.metadata, { written_by: 'python' });
    for (const [name, record] of tensors) {
      const copy = read.tensors.get(`copy.${name}`)!;
      assert.equal(copy.dtype, record.dtype, name);
      assert.deepEqual(copy.shape, record.shape, name);
      assert.ok(Buffer.from(copy.data).equals(Buffer.from(record.data)), `copy.${name} is bit-identical`);
    }

    const source = float32Values();
    for (const [name, convert] of [['to_bf16', float32ToBfloat16Bits], ['to_f16', float32ToFloat16Bits]] as const) {
      const converted = read.tensors.get(name)!;
      const bits = new DataView(converted.data.buffer, converted.data.byteOffset, converted.data.byteLength);
      let checked = 0;
      source.forEach((value, index) => {
        const torchBits = bits.getUint16(index * 2, true);
        if (Number.isNaN(value)) {
          const decoded = name === 'to_bf16' ? bfloat16BitsToFloat32(torchBits) : float16BitsToFloat32(torchBits);
          assert.ok(Number.isNaN(decoded), `${name}[${index}] NaN`);
        } else {
          assert.equal(convert(value).toString(16), torchBits.toString(16), `${name}[${index}] from ${value}`);
          checked++;
        }
      });
      assert.ok(checked > 5000, `${name}: ${checked} values compared`);
    }

    assert.deepEqual(decode(read.tensors.get('python.arange')!), [-3n, -2n, -1n, 0n, 1n, 2n]);
    assert.deepEqual(read.tensors.get('python.arange')!.shape, [2, 3]);
    assert.deepEqual(decode(read.tensors.get('python.extremes')!), [-(2n ** 63n), 2n ** 63n - 1n]);
    const scalar = read.tensors.get('python.scalar_bf16')!;
    assert.deepEqual([scalar.dtype, scalar.shape, decode(scalar)], ['BF16', [], [-1.5]]);
    const mask = read.tensors.get('python.mask')!;
    assert.deepEqual([mask.dtype, mask.shape, decode(mask)], ['BOOL', [2, 2], [1, 0, 0, 1]]);
  });
});
