/**
 * GGUF writer/reader (src/io/gguf-writer.ts) and the PEFT LoRA → llama.cpp GGUF adapter export (src/peft/gguf.ts).
 *
 * Expectations are computed here independently of the exporter: the q/k row permutation by the reshape/swap-axes
 * definition that llama.cpp's converter and the GGUF spec use, and by its meaning (attention scores after
 * Hugging Face's rotate-half RoPE equal those after ggml's interleaved RoPE on the exported rows). PEFT's per-module
 * scaling comes from the reference golden.json. Peer check: llama.cpp's own Python reader (`gguf` package) when
 * TUNEKIT_GGUF_PYTHON names a Python that has it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { TunekitError } from '../src/errors.js';
import {
  GGML_TYPE,
  encodeGguf,
  ggufValue as v,
  parseGguf,
  readGguf,
  readGgufHeader,
  writeGguf,
  type GgufContent,
  type GgufValue,
} from '../src/io/gguf-writer.js';
import {
  bfloat16BitsToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
} from '../src/io/half-float.js';
import { readSafetensors, writeSafetensors, type TensorRecord } from '../src/io/safetensors.js';
import { exportLoraToGguf, type GgufOutType } from '../src/peft/gguf.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

const work = mkdtempSync(path.join(tmpdir(), 'tunekit-gguf-'));
after(() => rmSync(work, { recursive: true, force: true }));
let counter = 0;
const tmpPath = (name: string): string => path.join(work, `${counter++}-${name}`);

const f32Bytes = (values: number[] | Float32Array): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);

function floatsOf(data: Uint8Array, type: number): Float32Array {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (type === GGML_TYPE.F32) return Float32Array.from({ length: data.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
  const decode = type === GGML_TYPE.F16 ? float16BitsToFloat32 : bfloat16BitsToFloat32;
  return Float32Array.from({ length: data.byteLength / 2 }, (_, i) => decode(view.getUint16(i * 2, true)));
}

/** Deterministic pseudo-random floats in [-1, 1). */
function randomFloats(count: number, seed: number): Float32Array {
  let state = seed >>> 0 || 1;
  return Float32Array.from({ length: count }, () => {
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    return state / 2 ** 31 - 1;
  });
}

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof TunekitError, `expected a TunekitError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------------------------
describe('GGUF writer and reader', () => {
  it('lays out the v3 header, metadata, tensor infos (ggml dim order), padding and aligned data byte for byte', async () => {
    const bytes = await encodeGguf({
      metadata: [['general.architecture', v.string('llama')]],
      tensors: [
        { name: 'a', type: GGML_TYPE.F32, shape: [2, 3], data: f32Bytes([1, 2, 3, 4, 5, 6]) },
        { name: 'b', type: GGML_TYPE.F16, shape: [1], data: new Uint8Array([0x00, 0x3c]) },
      ],
    });
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 0;
    const u32 = () => { const x = view.getUint32(at, true); at += 4; return x; };
    const u64 = () => { const x = Number(view.getBigUint64(at, true)); at += 8; return x; };
    const str = () => { const n = u64(); const s = Buffer.from(bytes.subarray(at, at + n)).toString('utf8'); at += n; return s; };
    assert.equal(Buffer.from(bytes.subarray(0, 4)).toString('latin1'), 'GGUF'); at = 4;
    assert.equal(u32(), 3, 'version');
    assert.equal(u64(), 2, 'tensor count');
    assert.equal(u64(), 1, 'metadata count');
    assert.equal(str(), 'general.architecture');
    assert.equal(u32(), 8, 'string type');
    assert.equal(str(), 'llama');
    assert.equal(str(), 'a');
    assert.equal(u32(), 2, 'n_dims');
    assert.deepEqual([u64(), u64()], [3, 2], 'dims innermost first');
    assert.equal(u32(), 0, 'F32');
    assert.equal(u64(), 0, 'offset');
    assert.equal(str(), 'b');
    assert.equal(u32(), 1);
    assert.equal(u64(), 1);
    assert.equal(u32(), 1, 'F16');
    assert.equal(u64(), 32, 'second tensor at the next multiple of 32');
    const dataStart = Math.ceil(at / 32) * 32;
    assert.ok(bytes.subarray(at, dataStart).every((b) => b === 0), 'zero padding before the data');
    assert.deepEqual([...floatsOf(bytes.subarray(dataStart, dataStart + 24), GGML_TYPE.F32)], [1, 2, 3, 4, 5, 6]);
    assert.ok(bytes.subarray(dataStart + 24, dataStart + 32).every((b) => b === 0));
    assert.deepEqual([...bytes.subarray(dataStart + 32, dataStart + 34)], [0x00, 0x3c]);
    assert.equal(bytes.byteLength, dataStart + 64, 'the last tensor is padded too');
  });

  it('round-trips every metadata type, arrays of strings and nested arrays, and F32/F16/BF16 tensors', async () => {
    const metadata: [string, GgufValue][] = [
      ['t.u8', v.uint8(255)], ['t.i8', v.int8(-128)], ['t.u16', v.uint16(65535)], ['t.i16', v.int16(-32768)],
      ['t.u32', v.uint32(4294967295)], ['t.i32', v.int32(-2147483648)], ['t.f32', v.float32(0.1)],
      ['t.f64', v.float64(0.1)], ['t.u64', v.uint64((1n << 64n) - 1n)], ['t.i64', v.int64(-(1n << 63n))],
      ['t.true', v.bool(true)], ['t.false', v.bool(false)], ['t.str', v.string('héllo ✓')], ['t.empty', v.string('')],
      ['t.strings', v.array('string', ['a', '', 'ünï', '<0x0A>'])], ['t.ints', v.array('int32', [1, -2, 3])],
      ['t.floats', v.array('float32', [0.5, -1.25])], ['t.bools', v.array('bool', [true, false])],
      ['t.u64s', v.array('uint64', [0n, 5n])], ['t.none', v.array('uint8', [])],
      ['t.nested', v.array('array', [{ type: 'array', itemType: 'string', value: ['x'] }, { type: 'array', itemType: 'int8', value: [-1, 2] }])],
    ];
    const values = [1.5, -2.25, 1e-3, 65504, -0, 3.14159];
    const halves = new Uint8Array(new Uint16Array(values.map(float32ToFloat16Bits)).buffer);
    const bhalves = new Uint8Array(new Uint16Array(values.map(float32ToBfloat16Bits)).buffer);
    const file = tmpPath('all.gguf');
    const result = await writeGguf(file, {
      metadata,
      tensors: [
        { name: 'f32', type: GGML_TYPE.F32, shape: [2, 3], data: f32Bytes(values) },
        { name: 'f16', type: GGML_TYPE.F16, shape: [3, 2], data: halves },
        { name: 'bf16', type: GGML_TYPE.BF16, shape: [1, 2, 3], data: () => bhalves },
      ],
    });
    const read = await readGguf(file);
    assert.equal(read.version, 3);
    assert.equal(read.alignment, 32);
    assert.equal(result.bytes, readFileSync(file).byteLength);
    const expected = new Map(metadata.map(([key, value]) => [key, value]));
    // float32 reads back rounded; 64-bit integers as bigint
    expected.set('t.f32', v.float32(Math.fround(0.1)));
    expected.set('t.floats', v.array('float32', [0.5, -1.25]));
    assert.deepEqual(read.metadata, expected);
    assert.deepEqual(read.tensors.map((t) => [t.name, t.typeName, t.dims, t.shape]), [
      ['f32', 'F32', [3, 2], [2, 3]], ['f16', 'F16', [2, 3], [3, 2]], ['bf16', 'BF16', [3, 2, 1], [1, 2, 3]],
    ]);
    assert.deepEqual([...floatsOf(read.tensors[0].data, GGML_TYPE.F32)], values.map(Math.fround));
    assert.deepEqual([...read.tensors[1].data], [...halves]);
    assert.deepEqual([...read.tensors[2].data], [...bhalves]);
    for (const tensor of read.tensors) assert.equal((read.dataOffset + tensor.offset) % 32, 0);
    const header = await readGgufHeader(file);
    assert.deepEqual(header.metadata, read.metadata);
    assert.deepEqual(header.tensors, read.tensors.map(({ data: _data, ...info }) => info));
  });

  it('honours general.alignment and reads headers larger than the first read', async () => {
    const tokens = Array.from({ length: 120_000 }, (_, i) => `token-${i}`);
    const file = tmpPath('aligned.gguf');
    await writeGguf(file, {
      metadata: { 'general.alignment': v.uint32(64), 'tokenizer.ggml.tokens': v.array('string', tokens) },
      tensors: [
        { name: 'x', type: GGML_TYPE.F32, shape: [3], data: f32Bytes([1, 2, 3]) },
        { name: 'y', type: GGML_TYPE.Q8_0, shape: [2, 32], data: new Uint8Array(68) },
      ],
    });
    const header = await readGgufHeader(file);
    assert.ok(header.dataOffset > 1 << 20);
    assert.equal(header.alignment, 64);
    assert.equal(header.dataOffset % 64, 0);
    assert.deepEqual(header.tensors.map((t) => [t.offset, t.byteLength, t.typeName]), [[0, 12, 'F32'], [64, 68, 'Q8_0']]);
    assert.equal(readFileSync(file).byteLength, header.dataOffset + 64 + 128);
    const tokensRead = header.metadata.get('tokenizer.ggml.tokens');
    assert.equal(tokensRead?.type === 'array' && tokensRead.value[119_999], 'token-119999');
  });

  it('refuses what ggml would not load, naming the tensor or key', async () => {
    const tensor = { name: 't', type: GGML_TYPE.F32, shape: [2], data: f32Bytes([1, 2]) };
    const cases: [Parameters<typeof encodeGguf>[0], RegExp][] = [
      [{ metadata: [], tensors: [{ ...tensor, data: f32Bytes([1]) }] }, /tensor "t": data is 4 bytes, F32 \[2\] needs 8/],
      [{ metadata: [], tensors: [{ ...tensor, name: 'n'.repeat(64) }] }, /longer than ggml's 63 bytes/],
      [{ metadata: [], tensors: [tensor, tensor] }, /tensor "t" is given twice/],
      [{ metadata: [], tensors: [{ ...tensor, shape: [1, 1, 1, 1, 2] }] }, /1 to 4 dimensions/],
      [{ metadata: [], tensors: [{ ...tensor, type: GGML_TYPE.Q8_0, shape: [16] }] }, /16 is not a multiple of Q8_0's block size 32/],
      [{ metadata: [], tensors: [{ ...tensor, type: 99 }] }, /unknown ggml type 99/],
      [{ metadata: [['k', v.uint8(256)]], tensors: [] }, /metadata "k": 256 is not a valid uint8/],
      [{ metadata: [['k', v.int32(1.5)]], tensors: [] }, /not a valid int32/],
      [{ metadata: [['k', v.uint64(-1n)]], tensors: [] }, /out of range for uint64/],
      [{ metadata: [['k', v.string('a')], ['k', v.string('b')]], tensors: [] }, /"k" is given twice/],
      [{ metadata: [['k', v.array('string', ['a', 3])]], tensors: [] }, /metadata "k"\[1\]: 3 is not a string/],
      [{ metadata: [['general.alignment', v.uint32(48)]], tensors: [] }, /48 is not a power of two/],
      [{ metadata: [['general.alignment', v.uint64(64)]], tensors: [] }, /must be a uint32/],
    ];
    for (const [input, pattern] of cases) await rejectsWith(encodeGguf(input), 'E_GGUF', pattern);
  });

  it('leaves an existing file untouched when writing fails, and leaves no temporary behind', async () => {
    const dir = tmpPath('atomic');
    mkdirSync(dir);
    const file = path.join(dir, 'out.gguf');
    writeFileSync(file, 'old');
    await assert.rejects(writeGguf(file, {
      metadata: [],
      tensors: [{ name: 't', type: GGML_TYPE.F32, shape: [1], data: () => { throw new Error('boom'); } }],
    }), /boom/);
    assert.equal(readFileSync(file, 'utf8'), 'old');
    assert.deepEqual(readdirSync(dir), ['out.gguf']);
  });

  it('rejects corrupt files with the file name and what is wrong', async () => {
    const good = await encodeGguf({ metadata: [['a', v.uint32(1)]], tensors: [{ name: 't', type: GGML_TYPE.F32, shape: [4], data: f32Bytes([1, 2, 3, 4]) }] });
    assert.throws(() => parseGguf(Buffer.from('GGML....'), 'x.gguf'), /x\.gguf: not a GGUF file/);
    const bigEndian = Uint8Array.from(good);
    new DataView(bigEndian.buffer).setUint32(4, 3, false);
    assert.throws(() => parseGguf(bigEndian, 'be.gguf'), /be\.gguf: a big-endian GGUF/);
    const v1 = Uint8Array.from(good);
    new DataView(v1.buffer).setUint32(4, 1, true);
    assert.throws(() => parseGguf(v1, 'v1.gguf'), /version 1 is not supported/);
    assert.throws(() => parseGguf(good.subarray(0, 60), 'cut.gguf'), /cut\.gguf: file ends inside tensor "t" dim/);
    assert.throws(() => parseGguf(good.subarray(0, good.byteLength - 20), 'short.gguf'), /tensor "t" .* runs past the end of the file/);
    const file = tmpPath('truncated.gguf');
    writeFileSync(file, good.subarray(0, 60));
    await rejectsWith(readGgufHeader(file), 'E_GGUF', /truncated\.gguf: file ends inside/);
    await rejectsWith(readGguf(path.join(work, 'missing.gguf')), 'E_NOT_FOUND', /missing\.gguf: no such file/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Independent expectations for the export

/** out[i][k][j][l] = in[i][j][k][l] for a row-major [a, b, c, d] array: numpy's swapaxes(1, 2). */
function swapAxes12(values: Float32Array, [a, b, c, d]: [number, number, number, number]): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let k = 0; k < c; k++) for (let l = 0; l < d; l++) {
    out[((i * c + k) * b + j) * d + l] = values[((i * b + j) * c + k) * d + l];
  }
  return out;
}

/** llama.cpp's converter: w.reshape(n_head, 2, rows // n_head // 2, cols).swapaxes(1, 2).reshape(rows, cols). */
function converterPermute(values: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  return swapAxes12(values, [heads, 2, rows / heads / 2, cols]);
}

function matmul(a: Float32Array, rows: number, inner: number, b: Float32Array, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let k = 0; k < inner; k++) {
    const x = a[r * inner + k];
    for (let c = 0; c < cols; c++) out[r * cols + c] += x * b[k * cols + c];
  }
  return out;
}

/** Hugging Face RoPE (rotate_half: dim i pairs with i + d/2) on one head vector. */
function ropeHf(x: Float64Array, position: number, theta: number): Float64Array {
  const d = x.length;
  const out = new Float64Array(d);
  for (let i = 0; i < d / 2; i++) {
    const angle = position * theta ** (-(2 * i) / d);
    out[i] = x[i] * Math.cos(angle) - x[i + d / 2] * Math.sin(angle);
    out[i + d / 2] = x[i + d / 2] * Math.cos(angle) + x[i] * Math.sin(angle);
  }
  return out;
}

/** ggml's normal RoPE (what llama.cpp uses for arch "llama": dims 2i and 2i + 1 pair up). */
function ropeGgml(x: Float64Array, position: number, theta: number): Float64Array {
  const d = x.length;
  const out = new Float64Array(d);
  for (let i = 0; i < d / 2; i++) {
    const angle = position * theta ** (-(2 * i) / d);
    out[2 * i] = x[2 * i] * Math.cos(angle) - x[2 * i + 1] * Math.sin(angle);
    out[2 * i + 1] = x[2 * i] * Math.sin(angle) + x[2 * i + 1] * Math.cos(angle);
  }
  return out;
}

const dot = (a: Float64Array, b: Float64Array): number => a.reduce((sum, x, i) => sum + x * b[i], 0);

const GGUF_BASE: Readonly<Record<string, string>> = {
  'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v', 'self_attn.o_proj': 'attn_output',
  'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down',
};

interface ExpectedTensor { dims: number[]; values: Float32Array }

/** What the file must hold, from the safetensors file and the converter's rules as the test states them. */
function expectedTensors(tensors: Map<string, TensorRecord>, heads: number, kvHeads: number): Map<string, ExpectedTensor> {
  const expected = new Map<string, ExpectedTensor>();
  for (const [key, record] of tensors) {
    const match = /^base_model\.model\.model\.layers\.(\d+)\.(.+)\.lora_([AB])\.weight$/.exec(key);
    assert.ok(match, key);
    const [, layer, module, which] = match;
    const name = `blk.${layer}.${GGUF_BASE[module]}.weight.lora_${which.toLowerCase()}`;
    const [rows, cols] = record.shape;
    let values = floatsOf(record.data, GGML_TYPE.F32);
    if (which === 'B' && module === 'self_attn.q_proj') values = converterPermute(values, rows, cols, heads);
    if (which === 'B' && module === 'self_attn.k_proj') values = converterPermute(values, rows, cols, kvHeads);
    expected.set(name, { dims: [cols, rows], values });
  }
  return expected;
}

function rounded(values: Float32Array, outType: GgufOutType): Float32Array {
  if (outType === 'f32') return values;
  if (outType === 'f16') return values.map((x) => float16BitsToFloat32(float32ToFloat16Bits(x)));
  return values.map((x) => bfloat16BitsToFloat32(float32ToBfloat16Bits(x)));
}

const TYPE_OF: Record<GgufOutType, [number, string, number]> = { f32: [0, 'F32', 0], f16: [1, 'F16', 1], bf16: [30, 'BF16', 32] };

const llamaDir = path.join(sharedDir, 'reference', 'models', 'hf-tiny', 'llama');
const skipShared = hasShared && existsSync(path.join(llamaDir, 'config.json')) ? false : 'reference models not present';

describe('exportLoraToGguf on the reference Llama adapters', { skip: skipShared }, () => {
  const baseConfig = (): Record<string, unknown> => JSON.parse(readFileSync(path.join(llamaDir, 'config.json'), 'utf8'));
  const golden = (): { adapters: Record<string, { modules: Record<string, { scaling: number }> }> } =>
    JSON.parse(readFileSync(path.join(llamaDir, 'golden.json'), 'utf8'));

  for (const adapter of ['lora_default', 'lora_all_linear', 'lora_rslora']) {
    for (const outType of ['f32', 'f16', 'bf16'] as const) {
      it(`${adapter} as ${outType}: metadata, names, dims, types and values (q/k lora_b permuted)`, async () => {
        const adapterDir = path.join(llamaDir, 'adapters', adapter);
        const outPath = tmpPath(`${adapter}-${outType}.gguf`);
        const config = baseConfig();
        const result = await exportLoraToGguf({ adapterDir, baseConfig: config, outPath, outType });
        const gguf = await readGguf(outPath);
        const alpha = adapter === 'lora_rslora' ? 8 * Math.sqrt(4) : 8;
        const [typeId, typeName, fileType] = TYPE_OF[outType];
        assert.deepEqual([...gguf.metadata], [
          ['general.architecture', v.string('llama')],
          ['general.type', v.string('adapter')],
          ['general.name', v.string(adapter)],
          ['adapter.type', v.string('lora')],
          ['adapter.lora.alpha', v.float32(alpha)],
          ['general.file_type', v.uint32(fileType)],
          ['general.quantization_version', v.uint32(2)],
          ['general.base_model.count', v.uint32(1)],
          ['general.base_model.0.name', v.string('tiny/llama')],
        ]);
        assert.equal(result.alpha, alpha);
        assert.equal(result.architecture, 'llama');

        const { tensors } = await readSafetensors(path.join(adapterDir, 'adapter_model.safetensors'));
        const expected = expectedTensors(tensors, config.num_attention_heads as number, config.num_key_value_heads as number);
        assert.equal(gguf.tensors.length, expected.size);
        assert.equal(result.tensorCount, expected.size);
        const order = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'];
        const sortKey = (name: string): number => {
          const [, layer, module, ab] = /^blk\.(\d+)\.(\w+)\.weight\.lora_([ab])$/.exec(name) as RegExpExecArray;
          return Number(layer) * 100 + order.indexOf(module) * 2 + (ab === 'b' ? 1 : 0);
        };
        assert.deepEqual(gguf.tensors.map((t) => t.name), [...expected.keys()].sort((a, b) => sortKey(a) - sortKey(b)));
        for (const tensor of gguf.tensors) {
          const want = expected.get(tensor.name) as ExpectedTensor;
          assert.deepEqual(tensor.dims, want.dims, tensor.name);
          assert.equal(tensor.type, typeId, tensor.name);
          assert.equal(tensor.typeName, typeName);
          assert.deepEqual(floatsOf(tensor.data, tensor.type), rounded(want.values, outType), tensor.name);
        }

        // llama.cpp's scale alpha / r (r from lora_b's dims[0]) must be PEFT's scaling for every module.
        const modules = golden().adapters[adapter].modules;
        for (const [module, { scaling }] of Object.entries(modules)) {
          const [, layer, name] = /^base_model\.model\.model\.layers\.(\d+)\.(.+)$/.exec(module) as RegExpExecArray;
          const b = gguf.tensors.find((t) => t.name === `blk.${layer}.${GGUF_BASE[name]}.weight.lora_b`);
          assert.ok(b, module);
          const scale = Math.fround(alpha) / b.dims[0];
          assert.ok(Math.abs(scale - scaling) < 1e-6 * scaling, `${module}: llama.cpp scale ${scale}, PEFT ${scaling}`);
        }
      });
    }
  }

  it('the permutation keeps attention scores: HF rotate-half RoPE on PEFT rows = ggml RoPE on exported rows', async () => {
    const adapterDir = path.join(llamaDir, 'adapters', 'lora_all_linear');
    const outPath = tmpPath('scores.gguf');
    const config = baseConfig();
    await exportLoraToGguf({ adapterDir, baseConfig: config, outPath });
    const gguf = await readGguf(outPath);
    const { tensors } = await readSafetensors(path.join(adapterDir, 'adapter_model.safetensors'));
    const heads = config.num_attention_heads as number;
    const kvHeads = config.num_key_value_heads as number;
    const hidden = config.hidden_size as number;
    const headDim = hidden / heads;
    const theta = config.rope_theta as number;
    const f = (record: TensorRecord): Float32Array => floatsOf(record.data, GGML_TYPE.F32);
    const g = (name: string): Float32Array => {
      const tensor = gguf.tensors.find((t) => t.name === name);
      assert.ok(tensor, name);
      return floatsOf(tensor.data, tensor.type);
    };
    const x1 = randomFloats(hidden, 7);
    const x2 = randomFloats(hidden, 11);
    // delta(x) = B (A x), x as a column
    const delta = (b: Float32Array, a: Float32Array, out: number, x: Float32Array): Float64Array => {
      const ax = Float32Array.from(matmul(a, 4, hidden, x, 1));
      return matmul(b, out, 4, ax, 1);
    };
    let checked = 0;
    for (let layer = 0; layer < (config.num_hidden_layers as number); layer++) {
      const p = `base_model.model.model.layers.${layer}.self_attn.`;
      const qHf = delta(f(tensors.get(p + 'q_proj.lora_B.weight') as TensorRecord), f(tensors.get(p + 'q_proj.lora_A.weight') as TensorRecord), heads * headDim, x1);
      const kHf = delta(f(tensors.get(p + 'k_proj.lora_B.weight') as TensorRecord), f(tensors.get(p + 'k_proj.lora_A.weight') as TensorRecord), kvHeads * headDim, x2);
      const qG = delta(g(`blk.${layer}.attn_q.weight.lora_b`), g(`blk.${layer}.attn_q.weight.lora_a`), heads * headDim, x1);
      const kG = delta(g(`blk.${layer}.attn_k.weight.lora_b`), g(`blk.${layer}.attn_k.weight.lora_a`), kvHeads * headDim, x2);
      for (let h = 0; h < heads; h++) {
        const kv = Math.floor(h / (heads / kvHeads));
        const head = (y: Float64Array, index: number): Float64Array => y.slice(index * headDim, (index + 1) * headDim);
        const hf = dot(ropeHf(head(qHf, h), 5, theta), ropeHf(head(kHf, kv), 2, theta));
        const gg = dot(ropeGgml(head(qG, h), 5, theta), ropeGgml(head(kG, kv), 2, theta));
        assert.ok(Math.abs(hf - gg) <= 1e-9 + 1e-6 * Math.abs(hf), `layer ${layer} head ${h}: ${hf} vs ${gg}`);
        // and without the permutation the scores would differ (the check has teeth)
        const wrong = dot(ropeGgml(head(qHf, h), 5, theta), ropeGgml(head(kHf, kv), 2, theta));
        assert.ok(Math.abs(hf - wrong) > 1e-6 * Math.abs(hf), `layer ${layer} head ${h}: unpermuted also matches`);
        checked++;
      }
    }
    assert.equal(checked, 32);
  });

  it('refuses a prompt-tuning adapter, naming adapter_config.json and peft_type', async () => {
    const adapterDir = path.join(llamaDir, 'adapters', 'prompt_tuning');
    await rejectsWith(
      exportLoraToGguf({ adapterDir, baseConfig: baseConfig(), outPath: tmpPath('pt.gguf') }),
      'E_GGUF_EXPORT',
      /prompt_tuning[/\\]adapter_config\.json: peft_type is "PROMPT_TUNING"; only LoRA adapters/,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Synthetic adapters: embeddings, lm_head, other architectures, and every refusal

const TINY = {
  model_type: 'llama', hidden_size: 8, intermediate_size: 12, num_attention_heads: 2, num_key_value_heads: 1,
  num_hidden_layers: 2, vocab_size: 16, tie_word_embeddings: false,
};

const LORA_CONFIG = {
  peft_type: 'LORA', r: 2, lora_alpha: 4, bias: 'none', use_rslora: false, modules_to_save: null, rank_pattern: {},
  alpha_pattern: {}, target_modules: ['q_proj'], base_model_name_or_path: 'tiny/base', some_future_key: 1,
};

function record(shape: number[], seed: number, dtype: 'F32' | 'F16' | 'BF16' | 'I32' = 'F32'): TensorRecord {
  const values = randomFloats(shape[0] * shape[1], seed);
  if (dtype === 'F32' || dtype === 'I32') return { dtype, shape, data: f32Bytes(values) };
  const bits = values.map(dtype === 'F16' ? float32ToFloat16Bits : float32ToBfloat16Bits);
  return { dtype, shape, data: new Uint8Array(Uint16Array.from(bits).buffer) };
}

async function makeAdapter(config: Record<string, unknown>, tensors: Record<string, TensorRecord> | null): Promise<string> {
  const dir = tmpPath('adapter');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify(config));
  if (tensors !== null) await writeSafetensors(path.join(dir, 'adapter_model.safetensors'), tensors);
  return dir;
}

const P = 'base_model.model.model.layers.0.';
const qPair = (seed = 1): Record<string, TensorRecord> => ({
  [`${P}self_attn.q_proj.lora_A.weight`]: record([2, 8], seed),
  [`${P}self_attn.q_proj.lora_B.weight`]: record([8, 2], seed + 1),
});

const tensorOf = (gguf: GgufContent, name: string) => {
  const tensor = gguf.tensors.find((t) => t.name === name);
  assert.ok(tensor, `${name} in ${gguf.tensors.map((t) => t.name).join(', ')}`);
  return tensor;
};

describe('exportLoraToGguf on synthetic adapters', () => {
  it('embed_tokens: lora_a is lora_embedding_A transposed, so row t gives token t\'s delta; lm_head as a plain linear', async () => {
    const a = record([2, 16], 3); // [r, vocab]
    const b = record([8, 2], 4); // [n_embd, r]
    const dir = await makeAdapter({ ...LORA_CONFIG, target_modules: ['embed_tokens', 'lm_head'] }, {
      'base_model.model.model.embed_tokens.lora_embedding_A': a,
      'base_model.model.model.embed_tokens.lora_embedding_B': b,
      'base_model.model.lm_head.lora_A.weight': record([2, 8], 5),
      'base_model.model.lm_head.lora_B.weight': record([16, 2], 6),
    });
    const outPath = tmpPath('embd.gguf');
    await exportLoraToGguf({ adapterDir: dir, baseConfig: TINY, outPath, name: 'embd' });
    const gguf = await readGguf(outPath);
    assert.deepEqual(gguf.tensors.map((t) => [t.name, t.dims]), [
      ['token_embd.weight.lora_a', [2, 16]], ['token_embd.weight.lora_b', [2, 8]],
      ['output.weight.lora_a', [8, 2]], ['output.weight.lora_b', [2, 16]],
    ]);
    assert.deepEqual(gguf.metadata.get('general.name'), v.string('embd'));
    const aValues = floatsOf(a.data, GGML_TYPE.F32);
    const bValues = floatsOf(b.data, GGML_TYPE.F32);
    const ga = floatsOf(tensorOf(gguf, 'token_embd.weight.lora_a').data, GGML_TYPE.F32);
    const gb = floatsOf(tensorOf(gguf, 'token_embd.weight.lora_b').data, GGML_TYPE.F32);
    assert.deepEqual(gb, bValues);
    for (let token = 0; token < 16; token++) {
      // PEFT: delta = (A^T)[token] @ B^T; llama.cpp: ggml_mul_mat(lora_b, get_rows(lora_a, token)) = B · lora_a[token]
      for (let e = 0; e < 8; e++) {
        let peft = 0;
        let ggml = 0;
        for (let k = 0; k < 2; k++) {
          peft += aValues[k * 16 + token] * bValues[e * 2 + k];
          ggml += gb[e * 2 + k] * ga[token * 2 + k];
        }
        assert.equal(ggml, peft);
      }
    }
  });

  it('qwen2 is arch "qwen2" and not permuted; mistral is arch "llama" and permuted; F16/BF16 adapters read right', async () => {
    for (const [modelType, arch, dtype] of [['qwen2', 'qwen2', 'F16'], ['mistral', 'llama', 'BF16']] as const) {
      const a = record([2, 8], 8, dtype);
      const b = record([8, 2], 9, dtype);
      const dir = await makeAdapter(LORA_CONFIG, { [`${P}self_attn.q_proj.lora_A.weight`]: a, [`${P}self_attn.q_proj.lora_B.weight`]: b });
      const outPath = tmpPath(`${modelType}.gguf`);
      await exportLoraToGguf({ adapterDir: dir, baseConfig: { ...TINY, model_type: modelType }, outPath });
      const gguf = await readGguf(outPath);
      assert.deepEqual(gguf.metadata.get('general.architecture'), v.string(arch));
      assert.deepEqual(floatsOf(tensorOf(gguf, 'blk.0.attn_q.weight.lora_a').data, GGML_TYPE.F32), floatsOf(a.data, GGML_TYPE[dtype]));
      const bValues = floatsOf(b.data, GGML_TYPE[dtype]);
      const want = modelType === 'qwen2' ? bValues : converterPermute(bValues, 8, 2, 2);
      assert.deepEqual(floatsOf(tensorOf(gguf, 'blk.0.attn_q.weight.lora_b').data, GGML_TYPE.F32), want);
      if (modelType === 'mistral') assert.notDeepEqual(want, bValues);
    }
  });

  it('rank_pattern without rsLoRA keeps each module\'s rank (llama.cpp reads r from lora_b); with rsLoRA it is refused', async () => {
    const tensors = {
      ...qPair(),
      [`${P}self_attn.v_proj.lora_A.weight`]: record([3, 8], 12),
      [`${P}self_attn.v_proj.lora_B.weight`]: record([4, 3], 13),
    };
    const config = { ...LORA_CONFIG, rank_pattern: { v_proj: 3 } };
    const outPath = tmpPath('ranks.gguf');
    const result = await exportLoraToGguf({ adapterDir: await makeAdapter(config, tensors), baseConfig: TINY, outPath });
    assert.deepEqual(result.ranks, [2, 3]);
    const gguf = await readGguf(outPath);
    assert.deepEqual(tensorOf(gguf, 'blk.0.attn_v.weight.lora_b').dims, [3, 4]);
    assert.deepEqual(gguf.metadata.get('adapter.lora.alpha'), v.float32(4));
    await rejectsWith(
      exportLoraToGguf({ adapterDir: await makeAdapter({ ...config, use_rslora: true }, tensors), baseConfig: TINY, outPath: tmpPath('x.gguf') }),
      'E_GGUF_EXPORT', /adapter_config\.json: rank_pattern with use_rslora cannot be exported/,
    );
  });

  it('writes aLoRA invocation tokens as adapter.alora.invocation_tokens (uint32 array)', async () => {
    const outPath = tmpPath('alora.gguf');
    await exportLoraToGguf({ adapterDir: await makeAdapter({ ...LORA_CONFIG, alora_invocation_tokens: [5, 7, 9] }, qPair()), baseConfig: TINY, outPath });
    assert.deepEqual((await readGguf(outPath)).metadata.get('adapter.alora.invocation_tokens'), v.array('uint32', [5, 7, 9]));
  });

  const refusals: [string, Record<string, unknown>, Record<string, TensorRecord> | null, Record<string, unknown>, string, RegExp][] = [
    ['a non-LoRA adapter', { ...LORA_CONFIG, peft_type: 'IA3' }, qPair(), TINY, 'E_GGUF_EXPORT', /adapter_config\.json: peft_type is "IA3"/],
    ['a T5 base', LORA_CONFIG, qPair(), { ...TINY, model_type: 't5' }, 'E_GGUF_EXPORT', /base config\.json: model_type "t5" cannot be exported .*supported: llama, mistral, qwen2/],
    ['a base without num_attention_heads', LORA_CONFIG, qPair(), { ...TINY, num_attention_heads: undefined }, 'E_CONFIG', /base config\.json: "num_attention_heads" must be a whole number from 1 to \d+, found nothing/],
    ['a base with a fractional size', LORA_CONFIG, qPair(), { ...TINY, intermediate_size: 12.5 }, 'E_CONFIG', /base config\.json: "intermediate_size" must be a whole number from 1 to \d+, found 12\.5/],
    ['an adapter for encoder-decoder models', { ...LORA_CONFIG, task_type: 'SEQ_2_SEQ_LM' }, qPair(), TINY, 'E_ADAPTER', /adapter_config\.json: "task_type" is "SEQ_2_SEQ_LM" \(an adapter for encoder-decoder models\), but the base model \(llama\) is decoder-only \(CAUSAL_LM\)/],
    ['alpha_pattern', { ...LORA_CONFIG, alpha_pattern: { q_proj: 8 } }, qPair(), TINY, 'E_GGUF_EXPORT', /adapter_config\.json: alpha_pattern is not empty; llama\.cpp has one alpha per adapter/],
    ['DoRA', { ...LORA_CONFIG, use_dora: true }, qPair(), TINY, 'E_GGUF_EXPORT', /adapter_config\.json: use_dora is true; DoRA/],
    ['modules_to_save', { ...LORA_CONFIG, modules_to_save: ['lm_head'] }, qPair(), TINY, 'E_GGUF_EXPORT', /adapter_config\.json: modules_to_save is \["lm_head"\]/],
    ['trained biases', { ...LORA_CONFIG, bias: 'lora_only' }, qPair(), TINY, 'E_GGUF_EXPORT', /adapter_config\.json: bias is "lora_only"/],
    ['lora_alpha 0', { ...LORA_CONFIG, lora_alpha: 0 }, qPair(), TINY, 'E_GGUF_EXPORT', /adapter_config\.json: lora_alpha must be a positive number/],
    ['a DoRA tensor', LORA_CONFIG, { ...qPair(), [`${P}self_attn.q_proj.lora_magnitude_vector`]: record([1, 8], 2) }, TINY, 'E_GGUF_EXPORT', /adapter_model\.safetensors: tensor ".*lora_magnitude_vector" is a DoRA magnitude vector/],
    ['an unsupported target', LORA_CONFIG, { [`${P}self_attn.qkv_proj.lora_A.weight`]: record([2, 8], 1), [`${P}self_attn.qkv_proj.lora_B.weight`]: record([8, 2], 1) }, TINY, 'E_GGUF_EXPORT', /tensor "base_model\.model\.model\.layers\.0\.self_attn\.qkv_proj\.lora_A\.weight" adapts module "model\.layers\.0\.self_attn\.qkv_proj", which has no llama\.cpp tensor/],
    ['lm_head on a tied base', LORA_CONFIG, { 'base_model.model.lm_head.lora_A.weight': record([2, 8], 1), 'base_model.model.lm_head.lora_B.weight': record([16, 2], 1) }, { ...TINY, tie_word_embeddings: true }, 'E_GGUF_EXPORT', /adapts lm_head, but the base model ties it/],
    ['a layer the base lacks', LORA_CONFIG, { [`base_model.model.model.layers.5.self_attn.q_proj.lora_A.weight`]: record([2, 8], 1), [`base_model.model.model.layers.5.self_attn.q_proj.lora_B.weight`]: record([8, 2], 1) }, TINY, 'E_GGUF_EXPORT', /is for layer 5, but the base model has 2 layers/],
    ['shapes of another base', LORA_CONFIG, qPair(), { ...TINY, hidden_size: 16 }, 'E_GGUF_EXPORT', /module "model\.layers\.0\.self_attn\.q_proj" adapts a \[8, 8\] weight, but the base config gives \[16, 16\]/],
    ['a missing lora_B', LORA_CONFIG, { [`${P}self_attn.q_proj.lora_A.weight`]: record([2, 8], 1) }, TINY, 'E_GGUF_EXPORT', /module "model\.layers\.0\.self_attn\.q_proj" has lora_B missing/],
    ['a rank that disagrees with r', { ...LORA_CONFIG, r: 4 }, qPair(), TINY, 'E_GGUF_EXPORT', /has rank 2, but adapter_config\.json says r = 4/],
    ['integer weights', LORA_CONFIG, { [`${P}self_attn.q_proj.lora_A.weight`]: record([2, 8], 1, 'I32'), [`${P}self_attn.q_proj.lora_B.weight`]: record([8, 2], 1) }, TINY, 'E_GGUF_EXPORT', /lora_A\.weight" has dtype I32; LoRA weights must be F32, F16 or BF16/],
    ['a missing adapter_model.safetensors', LORA_CONFIG, null, TINY, 'E_NOT_FOUND', /adapter_model\.safetensors: no such file/],
  ];
  for (const [what, config, tensors, base, code, pattern] of refusals) {
    it(`refuses ${what}, naming the file and field`, async () => {
      const outPath = tmpPath('refused.gguf');
      await rejectsWith(exportLoraToGguf({ adapterDir: await makeAdapter(config, tensors), baseConfig: base, outPath }), code, pattern);
      assert.equal(existsSync(outPath), false);
    });
  }

  it('refuses a missing adapter_config.json and a pickle-only adapter', async () => {
    const empty = tmpPath('empty');
    mkdirSync(empty);
    await rejectsWith(exportLoraToGguf({ adapterDir: empty, baseConfig: TINY, outPath: tmpPath('x.gguf') }), 'E_NOT_FOUND', /adapter_config\.json not found: an adapter folder needs/);
    const pickle = await makeAdapter(LORA_CONFIG, null);
    writeFileSync(path.join(pickle, 'adapter_model.bin'), 'not read');
    await rejectsWith(exportLoraToGguf({ adapterDir: pickle, baseConfig: TINY, outPath: tmpPath('x.gguf') }), 'E_GGUF_EXPORT', /adapter_model\.bin is a pickle.*safe_serialization=True/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Peer: llama.cpp's gguf-py reader

const ggufPython = process.env.TUNEKIT_GGUF_PYTHON;
const peerReady = ggufPython !== undefined && spawnSync(ggufPython, ['-c', 'import gguf, numpy'], { stdio: 'ignore', timeout: 60_000 }).status === 0;
const skipPeer = !peerReady ? 'set TUNEKIT_GGUF_PYTHON to a Python with the gguf package' : skipShared;

interface PeerView {
  version: number;
  alignment: number;
  metadata: Record<string, { types: string[]; value: unknown }>;
  tensors: { name: string; type: string; dims: number[]; values: number[] | null }[];
}

describe('gguf-py (llama.cpp\'s reader) reads our files as we do', { skip: skipPeer }, () => {
  for (const adapter of ['lora_default', 'lora_all_linear', 'lora_rslora']) {
    it(`${adapter} in f32, f16 and bf16`, async () => {
      const baseConfig = JSON.parse(readFileSync(path.join(llamaDir, 'config.json'), 'utf8')) as Record<string, unknown>;
      for (const outType of ['f32', 'f16', 'bf16'] as const) {
        const outPath = tmpPath(`${adapter}-${outType}-peer.gguf`);
        await exportLoraToGguf({ adapterDir: path.join(llamaDir, 'adapters', adapter), baseConfig, outPath, outType });
        const ours = await readGguf(outPath);
        const script = path.join(repoRoot, 'bench', 'peer', 'check_gguf.py');
        const peer = JSON.parse(execFileSync(ggufPython as string, [script, outPath], { encoding: 'utf8', maxBuffer: 256 << 20 })) as PeerView;
        assert.equal(peer.version, 3);
        assert.equal(peer.alignment, 32);
        const typeNames: Record<string, string> = { string: 'STRING', float32: 'FLOAT32', uint32: 'UINT32' };
        assert.deepEqual(Object.keys(peer.metadata), [...ours.metadata.keys()]);
        for (const [key, value] of ours.metadata) {
          assert.deepEqual(peer.metadata[key], { types: [typeNames[value.type]], value: value.value }, key);
        }
        assert.deepEqual(peer.tensors.map((t) => [t.name, t.type, t.dims]), ours.tensors.map((t) => [t.name, t.typeName, t.dims]));
        peer.tensors.forEach((tensor, index) => {
          assert.deepEqual(tensor.values, [...floatsOf(ours.tensors[index].data, ours.tensors[index].type)], tensor.name);
        });
      }
    });
  }
});
