import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { TunekitError } from '../src/errors.js';
import { withAtomicDirectory } from '../src/io/atomic.js';
import { readSafetensors, type TensorRecord } from '../src/io/safetensors.js';
import { planShards, readSafetensorsFolder, shardFileName, writeShardedSafetensors } from '../src/io/sharded.js';

const root = mkdtempSync(path.join(tmpdir(), 'tunekit-sharded-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDirectory = () => path.join(root, `model-${counter++}`);

function f32(values: number[], shape = [values.length]): TensorRecord {
  return { dtype: 'F32', shape, data: new Uint8Array(new Float32Array(values).buffer) };
}

/** 6 tensors of 16, 16, 40, 8, 4 and 0 bytes in state-dict order. */
function stateDict(): Map<string, TensorRecord> {
  return new Map<string, TensorRecord>([
    ['model.embed_tokens.weight', f32([1, 2, 3, 4], [2, 2])],
    ['model.layers.0.self_attn.q_proj.weight', f32([5, 6, 7, 8], [2, 2])],
    ['model.layers.0.mlp.up_proj.weight', f32([...Array(10).keys()], [5, 2])],
    ['model.layers.0.input_layernorm.weight', f32([0.5, 0.25])],
    ['model.norm.weight', { dtype: 'BF16', shape: [2], data: new Uint8Array([0x80, 0x3f, 0x00, 0x40]) }],
    ['lm_head.empty', f32([], [0, 2])],
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

function expectIndexError(promise: Promise<unknown>, pattern: RegExp, code = 'E_SAFETENSORS_INDEX'): Promise<void> {
  return assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof TunekitError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('planShards (transformers splitting rule)', () => {
  it('starts a new shard when the next tensor would overflow, isolates oversized tensors', () => {
    const sizes = (limit: number) =>
      planShards(stateDict(), limit).map((shard) => [...shard.values()].reduce((sum, { data }) => sum + data.byteLength, 0));
    assert.deepEqual(sizes(1000), [84]);
    assert.deepEqual(sizes(32), [32, 40, 12]);
    assert.deepEqual(sizes(20), [16, 16, 40, 12]);
    assert.equal(planShards(new Map(), 10).length, 1);
  });

  it('names shards with five digits', () => assert.equal(shardFileName('model', 2, 13), 'model-00002-of-00013.safetensors'));
});

describe('sharded write and read', () => {
  it('round-trips through shards and an index like transformers writes', async () => {
    const directory = freshDirectory();
    const tensors = stateDict();
    const written = await writeShardedSafetensors(directory, tensors, { maxShardBytes: 32 });
    const shards = ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors'];
    assert.deepEqual(written, [...shards, 'model.safetensors.index.json']);
    assert.deepEqual(readdirSync(directory).sort(), [...shards, 'model.safetensors.index.json'].sort());

    const indexText = readFileSync(path.join(directory, 'model.safetensors.index.json'), 'utf8');
    const index = JSON.parse(indexText);
    assert.deepEqual(index.metadata, { total_size: 84 });
    assert.equal(index.weight_map['model.embed_tokens.weight'], shards[0]);
    assert.equal(index.weight_map['model.layers.0.mlp.up_proj.weight'], shards[1]);
    assert.equal(index.weight_map['lm_head.empty'], shards[2]);
    assert.deepEqual(Object.keys(index.weight_map), Object.keys(index.weight_map).sort());
    assert.equal(indexText, JSON.stringify(index, null, 2) + '\n', 'json.dumps(indent=2, sort_keys=True) layout');

    const shard = await readSafetensors(path.join(directory, shards[0]));
    assert.deepEqual(shard.metadata, { format: 'pt' });

    const folder = await readSafetensorsFolder(directory);
    assertSameTensors(folder.tensors, tensors);
    assert.deepEqual(folder.files, shards);
    assert.deepEqual(folder.metadata, { format: 'pt' });
    assert.equal(folder.index?.metadata.total_size, 84);
  });

  it('writes one model.safetensors when everything fits, and replaces an earlier sharded save', async () => {
    const directory = freshDirectory();
    await writeShardedSafetensors(directory, stateDict(), { maxShardBytes: 32 });
    writeFileSync(path.join(directory, 'config.json'), '{}');
    const written = await writeShardedSafetensors(directory, stateDict());
    assert.deepEqual(written, ['model.safetensors']);
    assert.deepEqual(readdirSync(directory).sort(), ['config.json', 'model.safetensors']);
    const folder = await readSafetensorsFolder(directory);
    assertSameTensors(folder.tensors, stateDict());
    assert.deepEqual(folder.files, ['model.safetensors']);
    assert.equal(folder.index, undefined);
  });

  it('removes a stale single file and stale shards when the new save has other shards', async () => {
    const directory = freshDirectory();
    await writeShardedSafetensors(directory, stateDict());
    await writeShardedSafetensors(directory, stateDict(), { maxShardBytes: 20 });
    await writeShardedSafetensors(directory, stateDict(), { maxShardBytes: 32 });
    assert.deepEqual(readdirSync(directory).sort(), [
      'model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors',
      'model.safetensors.index.json',
    ]);
  });

  it('supports another prefix, custom metadata and plain-object input', async () => {
    const directory = freshDirectory();
    const tensors = Object.fromEntries(stateDict());
    await writeShardedSafetensors(directory, tensors, { prefix: 'adapter_model', maxShardBytes: 40, metadata: { format: 'pt', step: '7' } });
    assert.ok(readdirSync(directory).includes('adapter_model.safetensors.index.json'));
    const folder = await readSafetensorsFolder(directory, { prefix: 'adapter_model' });
    assertSameTensors(folder.tensors, stateDict());
    assert.deepEqual(folder.metadata, { format: 'pt', step: '7' });
  });

  it('composes with withAtomicDirectory for an all-or-nothing folder', async () => {
    const directory = freshDirectory();
    await withAtomicDirectory(directory, (temporary) => writeShardedSafetensors(temporary, stateDict(), { maxShardBytes: 32 }));
    assertSameTensors((await readSafetensorsFolder(directory)).tensors, stateDict());
  });
});

describe('broken sharded folders give errors naming the shard or tensor', () => {
  async function shardedCopy(): Promise<string> {
    const directory = freshDirectory();
    await writeShardedSafetensors(directory, stateDict(), { maxShardBytes: 32 });
    return directory;
  }
  const indexPath = (directory: string) => path.join(directory, 'model.safetensors.index.json');
  const editIndex = (directory: string, edit: (index: { weight_map: Record<string, unknown> }) => void) => {
    const index = JSON.parse(readFileSync(indexPath(directory), 'utf8'));
    edit(index);
    writeFileSync(indexPath(directory), JSON.stringify(index));
  };

  it('no weights at all', async () => {
    const directory = freshDirectory();
    mkdirSync(directory);
    await expectIndexError(readSafetensorsFolder(directory), /neither model\.safetensors nor model\.safetensors\.index\.json/, 'E_NOT_FOUND');
  });

  it('a missing shard', async () => {
    const directory = await shardedCopy();
    rmSync(path.join(directory, 'model-00002-of-00003.safetensors'));
    await expectIndexError(readSafetensorsFolder(directory), /shard model-00002-of-00003\.safetensors \(holding "model\.layers\.0\.mlp\.up_proj\.weight" and 0 more\) is missing/);
  });

  it('a tensor listed in the index but not in its shard', async () => {
    const directory = await shardedCopy();
    editIndex(directory, (index) => (index.weight_map['model.ghost.weight'] = 'model-00001-of-00003.safetensors'));
    await expectIndexError(readSafetensorsFolder(directory), /tensor "model\.ghost\.weight" is listed in shard model-00001-of-00003\.safetensors but not found in it/);
  });

  it('a tensor in two shards', async () => {
    const directory = await shardedCopy();
    const second = path.join(directory, 'model-00002-of-00003.safetensors');
    writeFileSync(second, readFileSync(path.join(directory, 'model-00001-of-00003.safetensors')));
    editIndex(directory, (index) => {
      delete index.weight_map['model.layers.0.mlp.up_proj.weight'];
      index.weight_map['model.embed_tokens.weight'] = 'model-00002-of-00003.safetensors';
    });
    await expectIndexError(readSafetensorsFolder(directory), /tensor "model\.embed_tokens\.weight" is in both model-00001-of-00003\.safetensors and model-00002-of-00003\.safetensors/);
  });

  it('an index that is not JSON, lacks weight_map, or points outside the folder', async () => {
    const directory = await shardedCopy();
    writeFileSync(indexPath(directory), '{"weight_map": ');
    await expectIndexError(readSafetensorsFolder(directory), /model\.safetensors\.index\.json: not valid JSON/);
    writeFileSync(indexPath(directory), '{"metadata": {}}');
    await expectIndexError(readSafetensorsFolder(directory), /"weight_map" must be an object/);
    editIndex(directory, (index) => (index.weight_map = { w: '../model.safetensors' }));
    await expectIndexError(readSafetensorsFolder(directory), /weight_map\["w"\] must be a file name in the same folder, got "\.\.\/model\.safetensors"/);
    editIndex(directory, (index) => (index.weight_map = { w: 3 }));
    await expectIndexError(readSafetensorsFolder(directory), /weight_map\["w"\] must be a file name/);
  });

  it('a corrupt shard names the shard file', async () => {
    const directory = await shardedCopy();
    const shard = path.join(directory, 'model-00003-of-00003.safetensors');
    writeFileSync(shard, readFileSync(shard).subarray(0, 20));
    await expectIndexError(readSafetensorsFolder(directory), /model-00003-of-00003\.safetensors: header length \d+ bytes runs past the end/, 'E_SAFETENSORS');
  });
});
