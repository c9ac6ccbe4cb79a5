import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { TunekitError } from '../src/errors.js';
import {
  DTYPE_BYTES,
  bytesOf,
  parseSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  serializeSafetensors,
  writeSafetensors,
  type SafetensorsDtype,
  type TensorRecord,
} from '../src/io/safetensors.js';
import { hasShared, sharedDir } from './helpers/paths.js';

const root = mkdtempSync(path.join(tmpdir(), 'tunekit-safetensors-'));
after(() => rmSync(root, { recursive: true, force: true }));
let fileCounter = 0;
const freshPath = (name = 'x.safetensors') => path.join(root, `${fileCounter++}-${name}`);

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

const ALL_DTYPES = Object.keys(DTYPE_BYTES) as SafetensorsDtype[];
const SHAPES = [[3, 5], [], [0], [2, 0, 3], [7]];

function record(dtype: SafetensorsDtype, shape: number[], seed: number): TensorRecord {
  const count = shape.reduce((product, size) => product * size, 1);
  const data = randomBytes(count * DTYPE_BYTES[dtype], seed);
  if (dtype === 'BOOL') data.forEach((value, index) => (data[index] = value & 1));
  return { dtype, shape, data };
}

function sampleTensors(): Map<string, TensorRecord> {
  const tensors = new Map<string, TensorRecord>();
  let seed = 1;
  for (const dtype of ALL_DTYPES) {
    for (const shape of SHAPES) tensors.set(`${dtype.toLowerCase()}.shape_${shape.join('x') || 'scalar'}`, record(dtype, shape, seed++));
  }
  return tensors;
}

function assertSameTensors(actual: Map<string, TensorRecord>, expected: Map<string, TensorRecord>): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  for (const [name, want] of expected) {
    const got = actual.get(name)!;
    assert.equal(got.dtype, want.dtype, name);
    assert.deepEqual(got.shape, want.shape, name);
    assert.deepEqual(Buffer.from(got.data), Buffer.from(want.data), name);
  }
}

/** A file built by hand: `header` (text or object) padded to `headerLength`, then `data`. */
function handMade(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: number | bigint): Uint8Array {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const json = Buffer.from(text, 'utf8');
  const file = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(file.buffer).setBigUint64(0, BigInt(headerLength ?? json.byteLength), true);
  file.set(json, 8);
  file.set(data, 8 + json.byteLength);
  return file;
}

function expectError(buffer: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => parseSafetensors(buffer, 'bad.safetensors'),
    (error: unknown) => {
      assert.ok(error instanceof TunekitError, `expected a TunekitError, got ${String(error)}`);
      assert.equal(error.code, 'E_SAFETENSORS');
      assert.match(error.message, /^bad\.safetensors: /);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

describe('safetensors round trip', () => {
  it('is bit-exact for every dtype, scalars and zero-size tensors, with metadata', async () => {
    const tensors = sampleTensors();
    const metadata = { format: 'pt', note: 'ünïcode and "quotes"', '0': 'integer-like key' };
    const target = freshPath();
    await writeSafetensors(target, tensors, metadata);
    const read = await readSafetensors(target);
    assertSameTensors(read.tensors, tensors);
    assert.deepEqual(read.metadata, metadata);
    assert.deepEqual(readFileSync(target), Buffer.from(serializeSafetensors(tensors, metadata)));
    assert.deepEqual(readdirSync(path.dirname(target)).filter((name) => name.includes('.tmp-')), []);
  });

  it('writes the same bytes again after reading (stable layout)', async () => {
    const first = serializeSafetensors(sampleTensors(), { format: 'pt' });
    const parsed = parseSafetensors(first, 'memory');
    assert.deepEqual(Buffer.from(serializeSafetensors(parsed.tensors, parsed.metadata)), Buffer.from(first));
  });

  it('lays tensors out by descending dtype alignment then name, header padded to 8 bytes', () => {
    const tensors = {
      'b.mask': record('BOOL', [3], 1),
      'a.weight': record('F16', [3], 2),
      'z.weight': record('F32', [1], 3),
      'c.ids': record('I64', [1], 4),
      'a.bias': record('F32', [1], 5),
      '10': record('F32', [1], 6),
      '9': record('F32', [1], 7),
    };
    const bytes = serializeSafetensors(tensors);
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(headerLength % 8, 0);
    const text = Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('utf8');
    assert.match(text, /^\{.*\} *$/s);
    const order = Object.keys(JSON.parse(text));
    // JSON.parse reorders integer-like keys, so read the order from the text itself.
    const textOrder = [...text.matchAll(/"([^"]+)":\{"dtype"/g)].map((match) => match[1]);
    assert.deepEqual(textOrder, ['c.ids', '10', '9', 'a.bias', 'z.weight', 'a.weight', 'b.mask']);
    assert.equal(order.length, 7);
    assert.ok(!text.includes('__metadata__'), 'no metadata key when there is no metadata');
    const parsed = parseSafetensors(bytes, 'memory');
    for (const name of ['c.ids', '10', 'a.bias']) {
      const { data } = parsed.tensors.get(name)!;
      assert.equal(data.byteOffset % DTYPE_BYTES[parsed.tensors.get(name)!.dtype], 0, `${name} is aligned`);
    }
  });

  it('matches the reference crate byte for byte on its documented example', () => {
    const values = new Float32Array([0, 1, 2, 3, 4, 5]);
    const bytes = serializeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: bytesOf(values) } });
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    assert.equal(header.length, 64);
    assert.deepEqual(Buffer.from(bytes), Buffer.concat([Buffer.from([64, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(header), Buffer.from(bytesOf(values))]));
    assert.deepEqual(Buffer.from(serializeSafetensors({})), Buffer.from([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]));
  });

  it('returns views into one buffer, not copies', () => {
    const bytes = serializeSafetensors(sampleTensors());
    const parsed = parseSafetensors(bytes, 'memory');
    for (const { data } of parsed.tensors.values()) assert.equal(data.buffer, bytes.buffer);
  });

  it('reads tensor by tensor when the file is larger than one buffer may be', async () => {
    const tensors = sampleTensors();
    const target = freshPath();
    await writeSafetensors(target, tensors, { format: 'pt' });
    const whole = await readSafetensors(target);
    const piecewise = await readSafetensors(target, { maxBufferBytes: 16 });
    assertSameTensors(piecewise.tensors, whole.tensors);
    assert.deepEqual(piecewise.metadata, { format: 'pt' });
    const buffers = new Set([...piecewise.tensors.values()].map(({ data }) => data.buffer));
    assert.equal(buffers.size, tensors.size);
  });

  it('reads only the header on request', async () => {
    const target = freshPath();
    await writeSafetensors(target, { w: record('BF16', [4, 2], 9), s: record('I64', [], 8) }, { k: 'v' });
    const header = await readSafetensorsHeader(target);
    assert.deepEqual(header.metadata, { k: 'v' });
    assert.deepEqual(header.tensors.get('w'), { dtype: 'BF16', shape: [4, 2], dataOffsets: [8, 24] });
    assert.deepEqual(header.tensors.get('s'), { dtype: 'I64', shape: [], dataOffsets: [0, 8] });
    assert.equal(header.dataStart % 8, 0);
  });

  it('accepts tensors in any order in the header, padded with spaces', () => {
    const file = handMade(
      '{"second":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},"first":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"__metadata__":{"a":"b"}}   ',
      new Uint8Array([1, 2, 3, 4]),
    );
    const parsed = parseSafetensors(file, 'hand');
    assert.deepEqual([...parsed.tensors.get('first')!.data], [1, 2]);
    assert.deepEqual([...parsed.tensors.get('second')!.data], [3, 4]);
    assert.deepEqual(parsed.metadata, { a: 'b' });
  });
});

describe('malformed safetensors files give a TunekitError naming the problem', () => {
  const u8 = (begin: number, end: number, shape = [end - begin]) => ({ dtype: 'U8', shape, data_offsets: [begin, end] });
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['shorter than 8 bytes', new Uint8Array(5), /5 bytes, shorter than the 8-byte header length/],
    ['empty file', new Uint8Array(0), /0 bytes, shorter than/],
    ['header length past the end', handMade({}, new Uint8Array(0), 1000), /header length 1000 bytes runs past the end of the 10-byte file/],
    ['absurd header length', handMade({}, new Uint8Array(0), 2n ** 40n), /over the 100000000-byte limit/],
    ['header length u64 max', handMade({}, new Uint8Array(0), 2n ** 64n - 1n), /over the 100000000-byte limit/],
    ['header not UTF-8', (() => { const file = handMade('{"a"}'); file[10] = 0xff; return file; })(), /not valid UTF-8/],
    ['header not starting with {', handMade(' {}'), /must start with '\{'/],
    ['header an array', handMade('[]'), /must start with '\{'/],
    ['header not JSON', handMade('{"a": '), /not valid JSON/],
    ['header with trailing garbage', handMade('{}xx'), /not valid JSON/],
    ['tensor entry not an object', handMade({ w: 3 }), /tensor "w": expected an object/],
    ['unknown dtype', handMade({ w: { dtype: 'F128', shape: [], data_offsets: [0, 16] } }, new Uint8Array(16)), /tensor "w": unknown dtype "F128"/],
    ['missing dtype', handMade({ w: { shape: [], data_offsets: [0, 1] } }, new Uint8Array(1)), /tensor "w": unknown dtype undefined/],
    ['shape not an array', handMade({ w: { dtype: 'U8', shape: 4, data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor "w": shape must be an array of non-negative integers, got 4/],
    ['negative dimension', handMade({ w: u8(0, 4, [-4]) }, new Uint8Array(4)), /tensor "w": shape .* got \[-4\]/],
    ['fractional dimension', handMade({ w: u8(0, 4, [1.5]) }, new Uint8Array(4)), /tensor "w": shape .* got \[1\.5\]/],
    ['string dimension', handMade({ w: u8(0, 4, ['4' as unknown as number]) }, new Uint8Array(4)), /tensor "w": shape/],
    ['one offset', handMade({ w: { dtype: 'U8', shape: [1], data_offsets: [0] } }, new Uint8Array(1)), /tensor "w": data_offsets must be two non-negative integers/],
    ['offsets not integers', handMade({ w: { dtype: 'U8', shape: [1], data_offsets: [0, 'x'] } }, new Uint8Array(1)), /tensor "w": data_offsets must be two/],
    ['negative offset', handMade({ w: { dtype: 'U8', shape: [1], data_offsets: [-1, 0] } }, new Uint8Array(1)), /tensor "w": data_offsets must be two non-negative/],
    ['begin after end', handMade({ w: { dtype: 'U8', shape: [0], data_offsets: [4, 2] } }, new Uint8Array(4)), /tensor "w": data_offsets begin 4 is after end 2/],
    ['offsets outside the data', handMade({ w: u8(0, 8) }, new Uint8Array(4)), /tensor "w": data_offsets \[0, 8\] run past the 4-byte data buffer/],
    ['huge offsets', handMade('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,18446744073709551616]}}'), /tensor "w": data_offsets must be two/],
    ['length not shape × element size', handMade({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 12] } }, new Uint8Array(12)), /tensor "w": data_offsets \[0, 12\] hold 12 bytes, but F32 \[2,3\] needs 24/],
    ['element count overflow', handMade({ w: { dtype: 'F64', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 8] } }, new Uint8Array(8)), /tensor "w": shape .* is too large/],
    ['overlapping tensors', handMade({ a: u8(0, 4), b: u8(2, 6) }, new Uint8Array(6)), /tensor "b": data_offsets \[2, 6\] overlap tensor "a"/],
    ['identical offsets', handMade({ a: u8(0, 4), b: u8(0, 4) }, new Uint8Array(4)), /overlap tensor "[ab]"/],
    ['a hole between tensors', handMade({ a: u8(0, 2), b: u8(4, 6) }, new Uint8Array(6)), /tensor "b": .* leave a hole of 2 bytes at 2/],
    ['a hole at the start', handMade({ a: u8(2, 4) }, new Uint8Array(4)), /tensor "a": .* hole of 2 bytes at 0/],
    ['bytes after the last tensor', handMade({ a: u8(0, 2) }, new Uint8Array(5)), /3 bytes after the last tensor's data/],
    ['data but no tensors', handMade({}, new Uint8Array(1)), /1 bytes after the last tensor's data/],
    ['metadata not an object', handMade({ __metadata__: 'pt' }), /"__metadata__" must be an object of strings/],
    ['metadata value not a string', handMade({ __metadata__: { total_size: 12 } }), /"__metadata__" value for key "total_size" must be a string, got 12/],
    ['duplicate tensor names', handMade('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', new Uint8Array(2)), /header lists "a" twice/],
    ['duplicate metadata keys', handMade('{"__metadata__":{},"__metadata__":{}}'), /header lists "__metadata__" twice/],
  ];
  for (const [name, buffer, pattern] of cases) it(name, () => expectError(buffer, pattern));

  it('nested duplicate keys and escaped quotes do not confuse the duplicate check', () => {
    const file = handMade('{"__metadata__":{"k":"a\\"b","k2":"x"},"a\\"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1));
    const parsed = parseSafetensors(file, 'hand');
    assert.deepEqual(parsed.metadata, { k: 'a"b', k2: 'x' });
    assert.ok(parsed.tensors.has('a"'));
  });

  it('reports the same errors through readSafetensors, naming the path', async () => {
    const target = freshPath('truncated.safetensors');
    const good = serializeSafetensors({ w: record('F32', [4], 1) });
    writeFileSync(target, good.subarray(0, good.byteLength - 3));
    for (const options of [{}, { maxBufferBytes: 4 }]) {
      await assert.rejects(readSafetensors(target, options), (error: unknown) => {
        assert.ok(error instanceof TunekitError);
        assert.ok(error.message.startsWith(target + ': '), error.message);
        assert.match(error.message, /run past the 13-byte data buffer/);
        return true;
      });
    }
    await assert.rejects(readSafetensors(path.join(root, 'missing.safetensors')), (error: unknown) => {
      assert.ok(error instanceof TunekitError);
      assert.equal(error.code, 'E_NOT_FOUND');
      assert.match(error.message, /missing\.safetensors: file not found/);
      return true;
    });
  });
});

describe('writeSafetensors refuses bad tensors before touching the file', () => {
  const cases: Array<[string, Record<string, TensorRecord>, Record<string, string> | undefined, RegExp]> = [
    ['wrong byte length', { w: { dtype: 'F32', shape: [2, 2], data: new Uint8Array(12) } }, undefined, /tensor "w": F32 \[2,2\] needs 16 bytes, data has 12/],
    ['unknown dtype', { w: { dtype: 'F128' as SafetensorsDtype, shape: [], data: new Uint8Array(16) } }, undefined, /tensor "w": unknown dtype "F128"/],
    ['bad shape', { w: { dtype: 'U8', shape: [-1], data: new Uint8Array(0) } }, undefined, /tensor "w": shape must be/],
    ['reserved name', { __metadata__: { dtype: 'U8', shape: [], data: new Uint8Array(1) } }, undefined, /"__metadata__" is reserved/],
    ['metadata not a string', { w: record('U8', [1], 1) }, { size: 3 as unknown as string }, /metadata value for key "size" must be a string/],
  ];
  for (const [name, tensors, metadata, pattern] of cases) {
    it(name, async () => {
      const target = freshPath();
      writeFileSync(target, 'previous content');
      await assert.rejects(writeSafetensors(target, tensors, metadata), (error: unknown) => {
        assert.ok(error instanceof TunekitError);
        assert.equal(error.code, 'E_SAFETENSORS');
        assert.ok(error.message.startsWith(target), error.message);
        assert.match(error.message, pattern);
        return true;
      });
      assert.equal(readFileSync(target, 'utf8'), 'previous content');
      assert.equal(existsSync(`${target}.tmp-${process.pid}`), false);
    });
  }
});

const modelsDir = path.join(sharedDir, 'reference', 'models', 'hf-tiny');
const haveModels = hasShared && existsSync(modelsDir);

describe('reference checkpoints written by transformers and PEFT', { skip: !haveModels && `${modelsDir} absent` }, () => {
  const torchToSafetensors: Record<string, SafetensorsDtype> = {
    float32: 'F32', float16: 'F16', bfloat16: 'BF16', float64: 'F64', int64: 'I64', int32: 'I32', uint8: 'U8', bool: 'BOOL',
  };
  interface FileInfo { bytes: number; header_bytes: number; metadata: Record<string, string>; tensors: Record<string, { dtype: string; shape: number[] }> }
  const checks: Array<[string, FileInfo]> = [];
  if (haveModels) {
    for (const model of readdirSync(modelsDir).filter((name) => existsSync(path.join(modelsDir, name, 'golden.json')))) {
      const golden = JSON.parse(readFileSync(path.join(modelsDir, model, 'golden.json'), 'utf8'));
      checks.push([path.join(model, 'model.safetensors'), golden.files['model.safetensors']]);
      for (const [adapter, info] of Object.entries(golden.adapters ?? {}) as Array<[string, { files?: Record<string, FileInfo> }]>) {
        const file = info.files?.['adapter_model.safetensors'];
        if (file) checks.push([path.join(model, 'adapters', adapter, 'adapter_model.safetensors'), file]);
      }
    }
  }

  it('finds the reference files', () => assert.ok(checks.length >= 10, `found ${checks.length}`));

  for (const [relative, info] of checks) {
    it(`${relative}: names, dtypes, shapes and metadata match golden.json; rewriting gives the same bytes`, async () => {
      const filePath = path.join(modelsDir, relative);
      const original = readFileSync(filePath);
      assert.equal(original.byteLength, info.bytes);
      const { metadata, tensors } = await readSafetensors(filePath);
      assert.deepEqual(metadata, info.metadata);
      assert.deepEqual([...tensors.keys()].sort(), Object.keys(info.tensors).sort());
      for (const [name, expected] of Object.entries(info.tensors)) {
        const tensor = tensors.get(name)!;
        assert.equal(tensor.dtype, torchToSafetensors[expected.dtype], name);
        assert.deepEqual(tensor.shape, expected.shape, name);
      }
      assert.equal(Number(original.readBigUInt64LE(0)), info.header_bytes);
      assert.ok(Buffer.from(serializeSafetensors(tensors, metadata)).equals(original), 'byte-identical rewrite');
    });
  }
});
