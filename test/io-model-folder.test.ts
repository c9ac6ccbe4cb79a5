import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { TunekitError } from '../src/errors.js';
import { formatConfigJson, parseJson } from '../src/io/json-file.js';
import {
  configBoolean,
  configInteger,
  configNumber,
  configOptionalBoolean,
  configOptionalInteger,
  configOptionalNumber,
  configOptionalString,
  configString,
  readGenerationConfig,
  readModelConfig,
  saveModelFolder,
} from '../src/io/model-folder.js';
import { type TensorRecord } from '../src/io/safetensors.js';
import { readSafetensorsFolder } from '../src/io/sharded.js';

const root = mkdtempSync(path.join(tmpdir(), 'tunekit-model-folder-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDirectory = () => path.join(root, `folder-${counter++}`);

function folderWith(files: Record<string, string>): string {
  const dir = freshDirectory();
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

function throwsWith(action: () => unknown, code: string, ...patterns: RegExp[]): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof TunekitError, String(error));
    assert.equal(error.code, code, error.message);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

function rejectsWith(promise: Promise<unknown>, code: string, ...patterns: RegExp[]): Promise<void> {
  return assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof TunekitError, String(error));
    assert.equal(error.code, code, error.message);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

function f32(values: number[], shape = [values.length]): TensorRecord {
  return { dtype: 'F32', shape, data: new Uint8Array(new Float32Array(values).buffer) };
}

function stateDict(): Map<string, TensorRecord> {
  return new Map<string, TensorRecord>([
    ['model.embed_tokens.weight', f32([1, 2, 3, 4, 5, 6], [3, 2])],
    ['model.layers.0.self_attn.q_proj.weight', f32([5, 6, 7, 8], [2, 2])],
    ['model.layers.1.self_attn.q_proj.weight', f32([9, 10, 11, 12], [2, 2])],
    ['model.norm.weight', { dtype: 'BF16', shape: [2], data: new Uint8Array([0x80, 0x3f, 0x00, 0x40]) }],
  ]);
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

describe('readModelConfig', () => {
  it('reads config.json as an object with its model_type', async () => {
    const dir = folderWith({ 'config.json': '\ufeff{"model_type": "llama", "hidden_size": 64, "rope_scaling": null}' });
    const config = await readModelConfig(dir);
    assert.equal(config.model_type, 'llama');
    assert.equal(config.hidden_size, 64);
  });

  it('names the file, line and column of invalid JSON', async () => {
    const dir = folderWith({ 'config.json': '{\n  "model_type": "llama",\n  "hidden_size": 64,\n}\n' });
    await rejectsWith(readModelConfig(dir), 'E_CONFIG', new RegExp(`${path.join(dir, 'config.json').replace(/[.]/g, '\\.')}: invalid JSON at line 4, column 1`));
    const bareWord = folderWith({ 'config.json': '{\n  "model_type": tru\n}' });
    await rejectsWith(readModelConfig(bareWord), 'E_CONFIG', /line 2, column 20/);
    const cut = folderWith({ 'config.json': '{\n  "model_type": "t5"' });
    await rejectsWith(readModelConfig(cut), 'E_CONFIG', /line 2, column 21/);
  });

  it('requires an object with a string model_type', async () => {
    await rejectsWith(readModelConfig(folderWith({ 'config.json': '[1, 2]' })), 'E_CONFIG', /expected a JSON object/);
    await rejectsWith(readModelConfig(folderWith({ 'config.json': '{"hidden_size": 4}' })), 'E_CONFIG', /config\.json: "model_type" must be a non-empty string/, /found nothing/);
    await rejectsWith(readModelConfig(folderWith({ 'config.json': '{"model_type": 7}' })), 'E_CONFIG', /found 7/);
    await rejectsWith(readModelConfig(folderWith({})), 'E_NOT_FOUND', /config\.json: no such file/);
  });

  it('reads generation_config.json when there is one', async () => {
    assert.equal(await readGenerationConfig(folderWith({})), undefined);
    assert.deepEqual(await readGenerationConfig(folderWith({ 'generation_config.json': '{"max_new_tokens": 8}' })), { max_new_tokens: 8 });
    await rejectsWith(readGenerationConfig(folderWith({ 'generation_config.json': '{"a": }' })), 'E_CONFIG', /generation_config\.json: invalid JSON at line 1, column 7/);
  });
});

describe('config getters', () => {
  const file = '/m/config.json';
  const config: Record<string, unknown> = {
    hidden_size: 64,
    rms_norm_eps: 1e-6,
    model_type: 'llama',
    tie_word_embeddings: false,
    rope_scaling: null,
    vocab_size: '32000',
    ratio: -0.5,
  };

  it('return typed values', () => {
    assert.equal(configNumber(config, 'rms_norm_eps', file), 1e-6);
    assert.equal(configInteger(config, 'hidden_size', file), 64);
    assert.equal(configString(config, 'model_type', file), 'llama');
    assert.equal(configBoolean(config, 'tie_word_embeddings', file), false);
    assert.equal(configOptionalNumber(config, 'rope_theta', file), undefined);
    assert.equal(configOptionalNumber(config, 'rope_theta', file, 10000), 10000);
    assert.equal(configOptionalNumber(config, 'rope_scaling', file, 1), 1);
    assert.equal(configOptionalInteger(config, 'hidden_size', file, 1), 64);
    assert.equal(configOptionalString(config, 'hidden_act', file, 'silu'), 'silu');
    assert.equal(configOptionalBoolean(config, 'tie_word_embeddings', file, true), false);
  });

  it('name the file, key, expected type and value found', () => {
    throwsWith(() => configNumber(config, 'vocab_size', file), 'E_CONFIG', /\/m\/config\.json: "vocab_size" must be a number, found "32000"/);
    throwsWith(() => configNumber(config, 'num_layers', file), 'E_CONFIG', /"num_layers" must be a number, found nothing/);
    throwsWith(() => configInteger(config, 'ratio', file), 'E_CONFIG', /"ratio" must be a non-negative integer, found -0\.5/);
    throwsWith(() => configString(config, 'hidden_size', file), 'E_CONFIG', /"hidden_size" must be a string, found 64/);
    throwsWith(() => configBoolean(config, 'model_type', file), 'E_CONFIG', /"model_type" must be true or false, found "llama"/);
    throwsWith(() => configOptionalNumber(config, 'vocab_size', file, 1), 'E_CONFIG', /must be a number/);
    throwsWith(() => configOptionalBoolean(config, 'hidden_size', file), 'E_CONFIG', /must be true or false/);
  });
});

describe('JSON as transformers writes it', () => {
  it('sorts keys, indents by 2, escapes non-ASCII and writes floats as Python repr does', () => {
    const text = formatConfigJson({
      vocab_size: 10,
      architectures: ['LlamaForCausalLM'],
      rms_norm_eps: 1e-6,
      initializer_range: 0.02,
      id2label: { 10: 'x', 2: 'y' },
      empty: {},
      list: [],
      name: 'café "q"\n',
      big: 1e22,
      small: 1.5e-7,
      omitted: undefined,
      rope_scaling: null,
      flag: true,
    });
    assert.equal(text, [
      '{',
      '  "architectures": [',
      '    "LlamaForCausalLM"',
      '  ],',
      '  "big": 1e+22,',
      '  "empty": {},',
      '  "flag": true,',
      '  "id2label": {',
      '    "10": "x",',
      '    "2": "y"',
      '  },',
      '  "initializer_range": 0.02,',
      '  "list": [],',
      '  "name": "caf\\u00e9 \\"q\\"\\n",',
      '  "rms_norm_eps": 1e-06,',
      '  "rope_scaling": null,',
      '  "small": 1.5e-07,',
      '  "vocab_size": 10',
      '}',
      '',
    ].join('\n'));
    assert.equal(formatConfigJson({ a: 0.0001, b: 0.00012, c: 123456.789, d: -3e-5 }), '{\n  "a": 0.0001,\n  "b": 0.00012,\n  "c": 123456.789,\n  "d": -3e-05\n}\n');
    throwsWith(() => formatConfigJson({ a: Number.NaN }), 'E_JSON', /config\.a: NaN/);
  });

  it('agrees with Python json.dumps(indent=2, sort_keys=True) where python3 is present', (context) => {
    const value = {
      z: [1e-5, 2.5e-9, 0.1, 1 / 3, 123456789.125, 1e16, 1.5e300, -0.0001, 5e-324],
      a: { nested: { 'ünï': 'tab\tbell\u0007 del\u007f emoji 😀', empty: [] }, n: null, t: true },
      '10': 1, '9': 2, 'B': 3, 'a b': 4,
    };
    const python = spawnSync('python3', ['-c', 'import json,sys; sys.stdout.write(json.dumps(json.load(sys.stdin), indent=2, sort_keys=True) + "\\n")'], {
      input: JSON.stringify(value),
      encoding: 'utf8',
    });
    if (python.status !== 0) return context.skip('no python3');
    assert.equal(formatConfigJson(value), python.stdout);
  });

  it('parses what it writes back to the same values', () => {
    const value = { a: [1, 2.5, 'x'], b: { c: null, d: 'ü😀' }, e: 1e-12 };
    assert.deepEqual(parseJson(formatConfigJson(value), 'x'), value);
  });
});

describe('saveModelFolder', () => {
  const config = { model_type: 'llama', hidden_size: 2, architectures: ['LlamaForCausalLM'] };

  it('writes a single-file folder that reads back the same', async () => {
    const dir = freshDirectory();
    const written = await saveModelFolder(dir, {
      config,
      generationConfig: { max_new_tokens: 4, eos_token_id: [1, 2] },
      tensors: stateDict(),
      extraFiles: { 'tokenizer.json': '{"model": {}}', 'tokenizer_config.json': '{}', 'sub/notes.bin': new Uint8Array([1, 2, 3]) },
    });
    assert.deepEqual(written, ['config.json', 'generation_config.json', 'model.safetensors', 'sub/notes.bin', 'tokenizer.json', 'tokenizer_config.json']);
    assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'sub', 'tokenizer.json', 'tokenizer_config.json']);
    assert.deepEqual(await readModelConfig(dir), config);
    assert.deepEqual(await readGenerationConfig(dir), { max_new_tokens: 4, eos_token_id: [1, 2] });
    assert.equal(readFileSync(path.join(dir, 'config.json'), 'utf8'), formatConfigJson(config));
    assert.deepEqual([...readFileSync(path.join(dir, 'sub', 'notes.bin'))], [1, 2, 3]);
    const folder = await readSafetensorsFolder(dir);
    assertSameTensors(folder.tensors, stateDict());
    assert.deepEqual(folder.metadata, { format: 'pt' });
  });

  it('writes shards and an index when the weights exceed maxShardBytes, replacing an earlier folder', async () => {
    const dir = freshDirectory();
    await saveModelFolder(dir, { config, tensors: stateDict(), extraFiles: { 'stale.txt': 'old' } });
    const written = await saveModelFolder(dir, { config, tensors: stateDict(), maxShardBytes: 24 });
    assert.deepEqual(written, [
      'config.json',
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
      'model.safetensors.index.json',
    ]);
    assert.deepEqual(readdirSync(dir).sort(), written);
    const folder = await readSafetensorsFolder(dir);
    assert.equal(folder.files.length, 3);
    assertSameTensors(folder.tensors, stateDict());
    assert.deepEqual(readdirSync(root).filter((name) => name.includes('.tmp-') || name.includes('.old-')), []);
  });

  it('leaves an existing folder untouched when the save fails', async () => {
    const dir = freshDirectory();
    await saveModelFolder(dir, { config, tensors: stateDict() });
    const before = readFileSync(path.join(dir, 'model.safetensors'));
    const broken = new Map(stateDict());
    broken.set('bad', { dtype: 'F32', shape: [3], data: new Uint8Array(4) });
    await assert.rejects(saveModelFolder(dir, { config: { ...config, hidden_size: 3 }, tensors: broken }));
    assert.deepEqual(readFileSync(path.join(dir, 'model.safetensors')), before);
    assert.deepEqual((await readModelConfig(dir)).hidden_size, 2);
  });

  it('refuses a config without model_type and extra files that clash or escape', async () => {
    await rejectsWith(saveModelFolder(freshDirectory(), { config: { hidden_size: 2 }, tensors: stateDict() }), 'E_CONFIG', /model_type/);
    await rejectsWith(saveModelFolder(freshDirectory(), { config, tensors: stateDict(), extraFiles: { '../x': 'y' } }), 'E_MODEL_FOLDER', /relative path/);
    await rejectsWith(saveModelFolder(freshDirectory(), { config, tensors: stateDict(), extraFiles: { 'config.json': '{}' } }), 'E_MODEL_FOLDER', /written by saveModelFolder/);
    await rejectsWith(saveModelFolder(freshDirectory(), { config, tensors: stateDict(), extraFiles: { 'model-00001-of-00002.safetensors': '' } }), 'E_MODEL_FOLDER');
  });
});
