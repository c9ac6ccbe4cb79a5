import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadSafetensorsFile, loadSafetensorsFolder, saveSafetensorsFile, saveSafetensorsFolder } from '../src/io/tensors.js';
import { dispose, randn, tensor, Tensor } from '../src/torch/index.js';
import { hasShared, sharedDir } from './helpers/paths.js';

const workDir = mkdtempSync(path.join(tmpdir(), 'tunekit-io-tensors-'));
after(() => rmSync(workDir, { recursive: true, force: true }));

interface GoldenFile {
  sha256: string;
  metadata?: Record<string, string>;
  tensors: Record<string, { dtype: string; shape: number[] }>;
}

describe('hf-tiny checkpoints load into libtorch with the right names, shapes and values', { skip: hasShared ? false : 'no ../shared' }, () => {
  const modelsDir = path.join(sharedDir, 'reference', 'models', 'hf-tiny');
  const models = hasShared ? readdirSync(modelsDir).filter((name) => existsSync(path.join(modelsDir, name, 'golden.json'))) : [];
  for (const model of models) {
    it(model, async () => {
      const golden = JSON.parse(readFileSync(path.join(modelsDir, model, 'golden.json'), 'utf8')) as { files: Record<string, GoldenFile> };
      const expected = golden.files['model.safetensors'];
      const file = path.join(modelsDir, model, 'model.safetensors');
      const { tensors, metadata } = await loadSafetensorsFile(file);
      assert.deepEqual([...tensors.keys()].sort(), Object.keys(expected.tensors).sort());
      for (const [name, { dtype, shape }] of Object.entries(expected.tensors)) {
        const loaded = tensors.get(name) as Tensor;
        assert.equal(loaded.dtype, dtype, name);
        assert.deepEqual(loaded.shape, shape, name);
      }
      // Values: written back from libtorch memory, the file must hash exactly as the one transformers saved.
      const copy = path.join(workDir, `${model}.safetensors`);
      await saveSafetensorsFile(copy, tensors, metadata);
      assert.equal(createHash('sha256').update(readFileSync(copy)).digest('hex'), expected.sha256);
      dispose(tensors);
    });
  }
});

describe('tensor folders', () => {
  it('sharded save and load round-trip tensors bit-exactly', async () => {
    const tensors = new Map<string, Tensor>([
      ['a.weight', randn([64, 64])],
      ['b.weight', randn([32, 64], { dtype: 'bfloat16' })],
      ['ids', tensor([1, 2, 3], { dtype: 'int64' })],
    ]);
    const dir = path.join(workDir, 'sharded');
    const files = await saveSafetensorsFolder(dir, tensors, { maxShardBytes: 10_000 });
    assert.ok(files.length > 1);
    const loaded = await loadSafetensorsFolder(dir);
    for (const [name, value] of tensors) assert.deepEqual((loaded.get(name) as Tensor).bytes(), value.bytes(), name);
    dispose([tensors, loaded]);
  });
});
