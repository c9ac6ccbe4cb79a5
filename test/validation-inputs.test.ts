import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseJsonl, readJsonl, recordError, streamJsonl } from '../src/data/records.js';
import { TunekitError } from '../src/errors.js';
import { readModelConfig } from '../src/io/model-folder.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { loadModelFromFolder } from '../src/models/load.js';
import { supportedModelTypes } from '../src/models/registry.js';
import { checkTokenizerFitsModel, loadTokenizer } from '../src/tokenize/index.js';
import { memory } from '../src/torch/index.js';
import { copyFixture, editConfig, editSafetensorsHeader, joinSafetensors, splitSafetensors } from './helpers/model-folders.js';
import { repoRoot } from './helpers/paths.js';

/** Asserts a TunekitError whose message is one line and matches every pattern. */
function assertOneLine(error: unknown, code: string | undefined, ...patterns: RegExp[]): true {
  assert.ok(error instanceof TunekitError, `expected a TunekitError, got ${String(error)}`);
  if (code !== undefined) assert.equal(error.code, code, error.message);
  assert.ok(!/[\r\n]/.test(error.message), `message is not one line: ${JSON.stringify(error.message)}`);
  for (const pattern of patterns) assert.match(error.message, pattern);
  return true;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Loading `dir` fails with a one-line error naming config.json, and leaves no tensor alive. */
async function refusesConfig(dir: string, code: string, ...patterns: RegExp[]): Promise<void> {
  const before = memory().liveTensors;
  await assert.rejects(loadModelFromFolder(dir), (error) => assertOneLine(error, code, new RegExp(escape(path.join(dir, 'config.json'))), ...patterns));
  assert.equal(memory().liveTensors, before, 'a refused config allocated tensors');
}

describe('config values the weights cannot back are refused before allocation', () => {
  it('num_hidden_layers far beyond the layers the safetensors header lists', async () => {
    const dir = copyFixture('llama_tied');
    editConfig(dir, { num_hidden_layers: 1e9 });
    await refusesConfig(dir, 'E_CONFIG', /"num_hidden_layers" is 1000000000, but the weights .* hold 2 layers \(model\.layers\.0 to model\.layers\.1\)/);
  });

  it('a vocabulary larger than the embedding in the file', async () => {
    const dir = copyFixture('llama_tied');
    editConfig(dir, { vocab_size: 1_000_000 });
    await refusesConfig(dir, 'E_CONFIG', /"vocab_size" gives 1000000, but tensor "model\.embed_tokens\.weight" in .*model\.safetensors has shape \[128, 32\]/);
  });

  it('vocab_size 1e10 and absurd hidden sizes fail from the arithmetic alone', async () => {
    for (const [change, key] of [[{ vocab_size: 1e10 }, 'vocab_size'], [{ hidden_size: 2 ** 40 }, 'hidden_size'], [{ intermediate_size: 1e15 }, 'intermediate_size']] as const) {
      const dir = copyFixture('llama_tied');
      editConfig(dir, change);
      await refusesConfig(dir, 'E_CONFIG', new RegExp(`"${key}" must be a whole number from 1 to 2147483647`));
    }
  });

  it('widths that disagree with the checkpoint name the key (GPT-2 positions, T5 layers and d_ff)', async () => {
    const gpt2 = copyFixture('gpt2_inner_scaled');
    editConfig(gpt2, { n_positions: 4096 });
    await refusesConfig(gpt2, 'E_CONFIG', /"n_positions" gives 4096, but tensor "transformer\.wpe\.weight"/);
    const t5 = copyFixture('t5_gated_silu');
    editConfig(t5, { num_decoder_layers: 40 });
    await refusesConfig(t5, 'E_CONFIG', /"num_decoder_layers" is 40, but the weights/);
    const t5ff = copyFixture('t5_gated_silu');
    editConfig(t5ff, { d_ff: 100_000 });
    await refusesConfig(t5ff, 'E_CONFIG', /"d_ff" gives 100000, but tensor "encoder\.block\.0\.layer\.1\.DenseReluDense\.wi_0\.weight"/);
  });
});

describe('config values outside their domain name config.json and the key', () => {
  const cases: Array<[string, string, Record<string, unknown>, RegExp]> = [
    ['rms_norm_eps 0', 'llama_tied', { rms_norm_eps: 0 }, /"rms_norm_eps" must be a finite number greater than 0, found 0/],
    ['rms_norm_eps negative', 'llama_tied', { rms_norm_eps: -1e-5 }, /"rms_norm_eps" must be a finite number greater than 0/],
    ['rms_norm_eps infinite (1e400 in JSON)', 'llama_tied', { rms_norm_eps: 'INFINITY' }, /"rms_norm_eps" must be a finite number greater than 0/],
    ['max_position_embeddings 0', 'llama_tied', { max_position_embeddings: 0 }, /"max_position_embeddings" must be a whole number from 1 to 134217728, found 0/],
    ['max_position_embeddings absurd', 'llama_tied', { max_position_embeddings: 1e12 }, /"max_position_embeddings" must be a whole number from 1 to 134217728/],
    ['a fractional size', 'llama_tied', { intermediate_size: 63.5 }, /"intermediate_size" must be a whole number/],
    ['a negative layer count', 'llama_tied', { num_hidden_layers: -2 }, /"num_hidden_layers" must be a whole number from 1/],
    ['heads that do not divide hidden_size', 'qwen2', { num_attention_heads: 5 }, /"hidden_size" \(32\) must be a multiple of "num_attention_heads" \(5\)/],
    ['key/value heads that do not divide the heads', 'llama_tied', { num_key_value_heads: 3 }, /"num_attention_heads" \(4\) must be a multiple of "num_key_value_heads" \(3\)/],
    ['GPT-2 heads that do not divide n_embd', 'gpt2_inner_scaled', { n_head: 5 }, /"n_embd" \(32\) must be a multiple of "n_head" \(5\)/],
    ['eos_token_id outside the vocabulary', 'llama_tied', { eos_token_id: 128 }, /"eos_token_id" 128 is outside the vocabulary \("vocab_size" 128: ids 0 to 127\)/],
    ['one of several eos ids outside', 'llama_tied', { eos_token_id: [2, 900] }, /"eos_token_id" 900 is outside the vocabulary/],
    ['bos_token_id negative', 'llama_tied', { bos_token_id: -1 }, /"bos_token_id" must be a whole number ≥ 0/],
    ['pad_token_id outside (GPT-2)', 'gpt2_inner_scaled', { pad_token_id: 50256 }, /"pad_token_id" 50256 is outside the vocabulary/],
    ['decoder_start_token_id outside (T5)', 't5_classic_relu', { decoder_start_token_id: 4096 }, /"decoder_start_token_id" 4096 is outside the vocabulary/],
    ['an unknown torch_dtype', 'llama3_rope_scaling_hub_config', { torch_dtype: 'float8' }, /"torch_dtype" must be one of "float32", "float16", "bfloat16", "float64", found "float8"/],
    ['an unknown dtype', 'llama_tied', { dtype: 'int4' }, /"dtype" must be one of/],
    ['an unknown activation', 'llama_tied', { hidden_act: 'swiglu' }, /activation "swiglu" is not supported/],
    ['an unknown rope scaling type', 'llama_tied', { rope_scaling: { rope_type: 'yarn', factor: 4 } }, /rope scaling type "yarn" is not supported/],
    ['a rope factor of 0', 'llama_tied', { rope_scaling: { rope_type: 'linear', factor: 0 } }, /rope_scaling\.factor must be a finite number greater than 0/],
    ['T5 with too few relative buckets', 't5_classic_relu', { relative_attention_num_buckets: 2 }, /"relative_attention_num_buckets" must be a whole number ≥ 4/],
  ];
  for (const [title, fixture, change, pattern] of cases) {
    it(title, async () => {
      const dir = copyFixture(fixture);
      editConfig(dir, change);
      if (change.rms_norm_eps === 'INFINITY') {
        const file = path.join(dir, 'config.json');
        writeFileSync(file, readFileSync(file, 'utf8').replace('"INFINITY"', '1e400'));
      }
      await refusesConfig(dir, 'E_CONFIG', pattern);
    });
  }
});

describe('model types tunekit does not implement', () => {
  it('refuses a Llama-shaped Granite config with the supported list (it used to load as Llama)', async () => {
    const dir = copyFixture('llama_tied');
    editConfig(dir, { model_type: 'granite', architectures: ['GraniteForCausalLM'], attention_multiplier: 0.015625, residual_multiplier: 0.22 });
    const supported = supportedModelTypes();
    assert.deepEqual(supported, ['gpt2', 'llama', 'mistral', 'mt5', 'qwen2', 't5']);
    await refusesConfig(dir, 'E_ARCHITECTURE', /"model_type" "granite" is not supported \(supported: gpt2, llama, mistral, mt5, qwen2, t5\)/);
  });

  it('refuses Gemma and Phi-3 the same way', async () => {
    for (const [modelType, architecture] of [['gemma', 'GemmaForCausalLM'], ['phi3', 'Phi3ForCausalLM']]) {
      const dir = copyFixture('llama_tied');
      editConfig(dir, { model_type: modelType, architectures: [architecture] });
      await refusesConfig(dir, 'E_ARCHITECTURE', new RegExp(`"model_type" "${modelType}" is not supported`));
    }
  });
});

describe('safetensors dtypes that do not fit a weight', () => {
  it('refuses an int tensor for a float weight naming the file and tensor, before allocating', async () => {
    const dir = copyFixture('llama_tied');
    const file = editSafetensorsHeader(dir, (header) => {
      (header['model.norm.weight'] as Record<string, unknown>).dtype = 'I32';
    });
    const before = memory().liveTensors;
    await assert.rejects(loadModelFromFolder(dir), (error) => assertOneLine(error, 'E_DTYPE', new RegExp(`^${escape(file)}: tensor "model\\.norm\\.weight" is stored as I32, but a model weight must be a float tensor`)));
    assert.equal(memory().liveTensors, before);
  });

  it('refuses a bool tensor too', async () => {
    const dir = copyFixture('gpt2_inner_scaled');
    editSafetensorsHeader(dir, (header) => {
      const entry = header['transformer.ln_f.bias'] as { dtype: string; shape: number[] };
      entry.dtype = 'BOOL';
      entry.shape = [entry.shape[0] * 4];
    });
    await assert.rejects(loadModelFromFolder(dir), (error) => assertOneLine(error, 'E_DTYPE', /tensor "transformer\.ln_f\.bias" is stored as BOOL/));
  });
});

describe('a tokenizer larger than the model', () => {
  const folder = path.join(repoRoot, 'test', 'fixtures', 'tokenize', 'gpt2-bpe');

  it('fits when the vocabulary is at most vocab_size', () => {
    const tokenizer = loadTokenizer(folder);
    checkTokenizerFitsModel(tokenizer, tokenizer.vocabSize, 'm/config.json');
    checkTokenizerFitsModel(tokenizer, tokenizer.vocabSize + 64, 'm/config.json');
  });

  it('names config.json, vocab_size and the largest id when added tokens exceed it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tunekit-tokenizer-'));
    cpSync(folder, dir, { recursive: true });
    const file = path.join(dir, 'tokenizer.json');
    const json = JSON.parse(readFileSync(file, 'utf8')) as { added_tokens: Array<Record<string, unknown>> };
    json.added_tokens.push({ id: 600, content: '<|extra|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    writeFileSync(file, JSON.stringify(json));
    const tokenizer = loadTokenizer(dir);
    assert.throws(
      () => checkTokenizerFitsModel(tokenizer, 420, 'm/config.json'),
      (error) => assertOneLine(error, 'E_TOKENIZER_VOCAB', /^m\/config\.json: "vocab_size" is 420, but the tokenizer in .* has ids up to 600 \("<\|extra\|>"\)/),
    );
  });

  it('names a special token id outside the model', () => {
    const fake = { folder: 'tok', vocabSize: 10, idToToken: () => undefined, eosTokenId: [3, 12] };
    assert.throws(() => checkTokenizerFitsModel(fake, 10, 'm/config.json'), (error) => assertOneLine(error, 'E_TOKENIZER_VOCAB', /gives eos_token id 12, outside the model's vocabulary/));
  });
});

describe('text files: BOM, invalid UTF-8, JSON Lines', () => {
  const scratch = () => mkdtempSync(path.join(tmpdir(), 'tunekit-text-'));

  it('config.json with invalid UTF-8 names the file and line', async () => {
    const dir = scratch();
    writeFileSync(path.join(dir, 'config.json'), Buffer.concat([Buffer.from('{\n  "model_type": "llama",\n  "name": "'), Buffer.from([0xc3, 0x28]), Buffer.from('"\n}\n')]));
    await assert.rejects(readModelConfig(dir), (error) => assertOneLine(error, 'E_CONFIG', new RegExp(`^${escape(path.join(dir, 'config.json'))}: invalid UTF-8 at line 3 \\(byte \\d+: 0xc3\\)`)));
  });

  it('tokenizer.json with invalid UTF-8 names the file and line', () => {
    const dir = scratch();
    cpSync(path.join(repoRoot, 'test', 'fixtures', 'tokenize', 'gpt2-bpe'), dir, { recursive: true });
    const file = path.join(dir, 'tokenizer.json');
    writeFileSync(file, Buffer.concat([readFileSync(file).subarray(0, 20), Buffer.from([0xff]), readFileSync(file).subarray(20)]));
    assert.throws(() => loadTokenizer(dir), (error) => assertOneLine(error, undefined, new RegExp(`${escape(file)}: invalid UTF-8 at line \\d+ \\(byte 20: 0xff\\)`)));
  });

  it('JSONL: BOM and CRLF accepted, blank lines skipped, line numbers kept', async () => {
    const file = path.join(scratch(), 'data.jsonl');
    writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}\r\n\r\n   \n{"a":"é"}\n[3]')]));
    const expected = [{ line: 1, value: { a: 1 } }, { line: 4, value: { a: 'é' } }, { line: 5, value: [3] }];
    assert.deepEqual(await readJsonl(file), expected);
    const streamed = [];
    for await (const record of streamJsonl(file, { chunkBytes: 3 })) streamed.push(record);
    assert.deepEqual(streamed, expected);
    assert.deepEqual(parseJsonl('\ufeff{"b":2}\n', 'stdin'), [{ line: 1, value: { b: 2 } }]);
  });

  it('JSONL: invalid UTF-8 and invalid JSON are file:line one-liners', async () => {
    const file = path.join(scratch(), 'bad.jsonl');
    writeFileSync(file, Buffer.concat([Buffer.from('{"a":1}\n\n{"a":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}\n')]));
    const utf8 = new RegExp(`^${escape(file)}:3: invalid UTF-8 at byte 7 of the line \\(0xe2\\)$`);
    await assert.rejects(readJsonl(file), (error) => assertOneLine(error, 'E_JSONL', utf8));
    await assert.rejects((async () => {
      for await (const record of streamJsonl(file, { chunkBytes: 5 })) void record;
    })(), (error) => assertOneLine(error, 'E_JSONL', utf8));
    writeFileSync(file, '{"a":1}\n{"a":\n');
    await assert.rejects(readJsonl(file), (error) => assertOneLine(error, 'E_JSONL', new RegExp(`^${escape(file)}:2: not valid JSON`)));
    assertOneLine(recordError('d.jsonl', 7, 'field "prompt"\nmust be a string'), 'E_JSONL', /^d\.jsonl:7: field "prompt"\\u000amust be a string$/);
  });
});

describe('malformed safetensors headers', () => {
  const base = () => splitSafetensors(readFileSync(path.join(repoRoot, 'test', 'fixtures', 'models', 'llama_tied', 'model.safetensors')));
  const write = (bytes: Uint8Array) => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'tunekit-st-')), 'model.safetensors');
    writeFileSync(file, bytes);
    return file;
  };
  const entry = (header: Record<string, unknown>) => header['model.norm.weight'] as { dtype: unknown; shape: unknown; data_offsets: [number, number] };
  const cases: Array<[string, () => Uint8Array, RegExp]> = [
    ['a huge header length', () => joinSafetensors({}, new Uint8Array(0), 2n ** 63n), /header length \d+ bytes is over the 100000000-byte limit/],
    ['a header length past the file end', () => joinSafetensors({}, new Uint8Array(0), 5000n), /runs past the end of the/],
    ['a JSON array header', () => joinSafetensors('[1, 2]', new Uint8Array(0)), /header must start with '\{'/],
    ['a non-object after the brace check', () => joinSafetensors('{"a": 1}', new Uint8Array(0)), /tensor "a": expected an object/],
    ['an unknown dtype', () => { const { header, data } = base(); entry(header).dtype = 'Q4_K'; return joinSafetensors(header, data); }, /tensor "model\.norm\.weight": unknown dtype "Q4_K"/],
    ['a negative dimension', () => { const { header, data } = base(); entry(header).shape = [-32]; return joinSafetensors(header, data); }, /tensor "model\.norm\.weight": shape must be an array of non-negative integers/],
    ['a shape whose product overflows', () => { const { header, data } = base(); entry(header).shape = [2 ** 40, 2 ** 40, 2 ** 40]; return joinSafetensors(header, data); }, /tensor "model\.norm\.weight": shape \[.*\] is too large/],
    ['a shape that disagrees with the byte length', () => { const { header, data } = base(); entry(header).shape = [33]; return joinSafetensors(header, data); }, /tensor "model\.norm\.weight": data_offsets .* hold 128 bytes, but F32 \[33\] needs 132/],
    ['offsets out of range', () => { const { header, data } = base(); const e = entry(header); e.data_offsets = [e.data_offsets[0] + 1e9, e.data_offsets[1] + 1e9]; return joinSafetensors(header, data); }, /tensor "model\.norm\.weight": data_offsets .* run past the/],
    ['overlapping offsets', () => { const { header, data } = base(); const e = entry(header); e.data_offsets = [0, 128]; return joinSafetensors(header, data); }, /overlap tensor/],
    ['a tensor name with a line break', () => joinSafetensors('{"a\\nb": {"dtype": "F32", "shape": [1], "data_offsets": [0, 8]}}', new Uint8Array(8)), /tensor "a\\u000ab": data_offsets \[0, 8\] hold 8 bytes/],
  ];
  for (const [title, build, pattern] of cases) {
    it(title, async () => {
      const file = write(build());
      await assert.rejects(readSafetensors(file), (error) => assertOneLine(error, 'E_SAFETENSORS', new RegExp(`^${escape(file)}: `), pattern));
    });
  }
});
