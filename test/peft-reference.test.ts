import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadSafetensorsFile } from '../src/io/tensors.js';
import { generate } from '../src/generate/index.js';
import { loadModelFromFolder } from '../src/models/load.js';
import type { LanguageModel } from '../src/models/types.js';
import { loadAdapter, PeftModel, readAdapterConfig, saveAdapter } from '../src/peft/index.js';
import { serializeAdapterConfig } from '../src/peft/config.js';
import { dispose, Tensor, tidy } from '../src/torch/index.js';
import { maxAbsDiff } from './helpers/compare.js';
import { hasShared, sharedDir } from './helpers/paths.js';

const root = path.join(sharedDir, 'reference', 'models', 'hf-tiny');
const workDir = mkdtempSync(path.join(tmpdir(), 'tunekit-peft-'));
after(() => rmSync(workDir, { recursive: true, force: true }));

interface Inputs {
  input_ids: number[][];
  attention_mask: number[][];
  decoder_input_ids?: number[][];
  labels?: number[][];
}


function batchOf(inputs: Inputs) {
  return { inputIds: inputs.input_ids, attentionMask: inputs.attention_mask, decoderInputIds: inputs.decoder_input_ids, labels: inputs.labels };
}

const cases = hasShared
  ? ['llama', 'gpt2', 't5_flan'].flatMap((model) => {
      const dir = path.join(root, model, 'adapters');
      return existsSync(dir) ? readdirSync(dir).map((adapter) => ({ model, adapter })) : [];
    })
  : [];

describe('PEFT reference adapters load and reproduce Hugging Face PEFT', { skip: hasShared ? false : 'no ../shared' }, () => {
  for (const { model: modelName, adapter } of cases) {
    describe(`${modelName}/${adapter}`, async () => {
      const golden = JSON.parse(readFileSync(path.join(root, modelName, 'golden.json'), 'utf8'));
      const expected = golden.adapters[adapter];
      const adapterDir = path.join(root, modelName, 'adapters', adapter);
      const base: LanguageModel = await loadModelFromFolder(path.join(root, modelName));
      const baseBefore = new Map([...base.stateDict()].map(([key, value]) => [key, value.bytes()]));
      const peft = new PeftModel(base);
      await loadAdapter(peft, adapterDir);

      for (const [caseName, testCase] of Object.entries(golden.logits as Record<string, { inputs: Inputs }>)) {
        it(`logits with the adapter: ${caseName}`, () => {
          const want = expected.logits[caseName];
          const logits = tidy(() => peft.logits(batchOf(testCase.inputs)));
          assert.deepEqual(logits.shape, want.shape);
          const difference = maxAbsDiff(logits, want.logits);
          assert.ok(difference <= 1e-4, `max abs diff ${difference}`);
          logits.dispose();
        });
      }

      it('loss', () => {
        const loss = tidy(() => peft.loss(batchOf(golden.loss.inputs)).item());
        assert.ok(Math.abs(loss - expected.loss) <= 1e-4 * Math.abs(expected.loss), `loss ${loss} vs ${expected.loss}`);
      });

      it('greedy generation', () => {
        const inputs = golden.generate.inputs.single as Inputs;
        const result = generate(peft, { inputIds: inputs.input_ids, attentionMask: inputs.attention_mask }, { maxNewTokens: golden.generate.settings.max_new_tokens });
        assert.deepEqual(result.sequences, expected.generate_greedy_single);
      });

      it('saving again gives the same tensors (names, shapes, values) and an equivalent config', async () => {
        const out = path.join(workDir, `${modelName}-${adapter}`);
        await saveAdapter(peft, out);
        const original = await loadSafetensorsFile(path.join(adapterDir, 'adapter_model.safetensors'));
        const saved = await loadSafetensorsFile(path.join(out, 'adapter_model.safetensors'));
        assert.deepEqual([...saved.tensors.keys()].sort(), [...original.tensors.keys()].sort());
        for (const [key, value] of original.tensors) {
          const mine = saved.tensors.get(key) as Tensor;
          assert.deepEqual(mine.shape, value.shape, key);
          assert.deepEqual(mine.bytes(), value.bytes(), key);
        }
        const configAgain = serializeAdapterConfig(await readAdapterConfig(out));
        const configOriginal = serializeAdapterConfig(await readAdapterConfig(adapterDir));
        assert.deepEqual(configAgain, configOriginal);
        dispose([original.tensors, saved.tensors]);
      });

      if (expected.merged_logits !== undefined) {
        it('merged logits, then unmerge restores the base weights bit for bit', () => {
          peft.mergeAdapter();
          for (const [caseName, testCase] of Object.entries(golden.logits as Record<string, { inputs: Inputs }>)) {
            const logits = tidy(() => peft.logits(batchOf(testCase.inputs)));
            const difference = maxAbsDiff(logits, expected.merged_logits[caseName].logits);
            assert.ok(difference <= 1e-4, `${caseName}: max abs diff ${difference}`);
            logits.dispose();
          }
          peft.unmergeAdapter();
          for (const [key, value] of base.stateDict()) {
            const before = baseBefore.get(key);
            if (before === undefined) continue;
            const now = value.bytes();
            // float32 (w + d) - d may differ from w by one ulp; the bound is 2e-7 relative.
            const a = new Float32Array(before.buffer, before.byteOffset, before.byteLength / 4);
            const b = new Float32Array(now.buffer, now.byteOffset, now.byteLength / 4);
            for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-6 * Math.max(1, Math.abs(a[i])), `${key}[${i}]`);
          }
        });
      }

      it('disabling the adapter gives the base model back', () => {
        const inputs = golden.logits.single.inputs as Inputs;
        const bare = peft.withAdapter(null, () => tidy(() => peft.logits(batchOf(inputs))));
        const difference = maxAbsDiff(bare, golden.logits.single.logits);
        assert.ok(difference <= 1e-4, `max abs diff ${difference}`);
        bare.dispose();
      });
    });
  }
});
