import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadModelFromFolder } from '../src/models/load.js';
import type { AdapterConfig } from '../src/peft/config.js';
import { loadAdapter, PeftModel, saveAdapter } from '../src/peft/index.js';
import { manualSeed, tidy } from '../src/torch/index.js';
import { common, loraConfig, trainBriefly } from './helpers/peft-configs.js';
import { pythonHas } from './helpers/python.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

const python = process.env.PYTHON ?? 'python3';
const hasPeft = pythonHas('peft', 'transformers', 'torch');
const root = path.join(sharedDir, 'reference', 'models', 'hf-tiny');
const workDir = mkdtempSync(path.join(tmpdir(), 'tunekit-interop-'));
after(() => rmSync(workDir, { recursive: true, force: true }));

const batch = { inputIds: [[1, 37, 12, 101, 5, 77, 200, 3]], attentionMask: [[1, 1, 1, 1, 1, 1, 1, 1]], labels: [[1, 37, 12, 101, 5, 77, 200, 3]] };

const adapters: Record<string, AdapterConfig> = {
  lora: loraConfig({ loraAlpha: 16, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'down_proj'], layersToTransform: [1, 3], rankPattern: { v_proj: 2 } }),
  'prompt tuning': { ...common, peftType: 'PROMPT_TUNING', numVirtualTokens: 6, tokenDim: 64, numTransformerSubmodules: 1, numAttentionHeads: 8, numLayers: 4, promptTuningInit: 'RANDOM', promptTuningInitText: null, tokenizerNameOrPath: null },
  ia3: { ...common, peftType: 'IA3', targetModules: null, feedforwardModules: null, fanInFanOut: false, initIa3Weights: true, modulesToSave: null },
};

describe('adapters trained by tunekit load in Python PEFT with the same logits, and back', { skip: !hasShared ? 'no ../shared' : !hasPeft ? 'python peft/transformers not installed' : false }, () => {
  for (const [name, config] of Object.entries(adapters)) {
    it(name, async () => {
      manualSeed(7);
      const baseDir = path.join(root, 'llama');
      const peft = new PeftModel(await loadModelFromFolder(baseDir));
      peft.addAdapter('default', config);
      trainBriefly(peft, batch);
      const adapterDir = path.join(workDir, name.replace(/\s/g, '-'));
      await saveAdapter(peft, adapterDir);
      const ours = tidy(() => peft.logits(batch).toFloat32Array());
      const out = spawnSync(python, [path.join(repoRoot, 'bench', 'peer', 'peft_logits.py'), baseDir, adapterDir, JSON.stringify({ input_ids: batch.inputIds, attention_mask: batch.attentionMask })], { encoding: 'utf8' });
      assert.equal(out.status, 0, out.stderr);
      const theirs = JSON.parse(out.stdout.trim().split('\n').pop() as string) as { logits: number[] };
      assert.equal(theirs.logits.length, ours.length);
      const worst = Math.max(...theirs.logits.map((v, i) => Math.abs(v - ours[i])));
      assert.ok(worst <= 1e-4, `max abs diff vs PEFT ${worst}`);
      const reloaded = new PeftModel(await loadModelFromFolder(baseDir));
      await loadAdapter(reloaded, adapterDir);
      assert.deepEqual(tidy(() => reloaded.logits(batch).toFloat32Array()), ours);
    });
  }
});
