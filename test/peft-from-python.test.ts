import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadModelFromFolder } from '../src/models/load.js';
import { loadAdapter, PeftModel } from '../src/peft/index.js';
import { tidy } from '../src/torch/index.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';
import { pythonHas } from './helpers/python.js';

const python = process.env.PYTHON ?? 'python3';
const hasPeft = pythonHas('peft', 'transformers');
const root = path.join(sharedDir, 'reference', 'models', 'hf-tiny');
const workDir = mkdtempSync(path.join(tmpdir(), 'tunekit-from-peft-'));
after(() => rmSync(workDir, { recursive: true, force: true }));

const causalInputs = { input_ids: [[1, 37, 12, 101, 5, 77, 200, 3], [1, 88, 14, 250, 9, 0, 0, 0]], attention_mask: [[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0, 0]] };
const t5Inputs = { ...causalInputs, decoder_input_ids: [[0, 61, 7, 42, 19], [0, 23, 150, 1, 0]] };

/** Adapters made by Hugging Face PEFT itself, beyond the shipped references. */
const cases: { model: string; type: string; kwargs: Record<string, unknown> }[] = [
  { model: 't5_flan', type: 'LORA', kwargs: { r: 4, lora_alpha: 16, target_modules: 'all-linear', use_rslora: true } },
  { model: 't5_flan', type: 'LORA', kwargs: { r: 2, lora_alpha: 4, target_modules: ['k', 'o', 'wi_0'], layers_to_transform: [1], layers_pattern: 'block' } },
  { model: 't5_flan', type: 'IA3', kwargs: {} },
  { model: 'llama', type: 'IA3', kwargs: { target_modules: ['k_proj', 'v_proj', 'up_proj', 'down_proj'], feedforward_modules: ['down_proj', 'up_proj'] } },
  { model: 'llama', type: 'LORA', kwargs: { r: 8, lora_alpha: 16, target_modules: '.*\\.(q_proj|down_proj)', rank_pattern: { down_proj: 2 }, alpha_pattern: { 'layers.0.self_attn.q_proj': 32 } } },
  { model: 'llama', type: 'LORA', kwargs: { r: 4, lora_alpha: 8, target_modules: ['q_proj'], modules_to_save: ['lm_head'] } },
  { model: 'gpt2', type: 'LORA', kwargs: { r: 4, lora_alpha: 8, target_modules: ['c_attn', 'c_fc'], fan_in_fan_out: true, bias: 'lora_only' } },
  { model: 'gpt2', type: 'IA3', kwargs: {} },
  { model: 'gpt2', type: 'PROMPT_TUNING', kwargs: { num_virtual_tokens: 7 } },
];

describe('adapters created by Hugging Face PEFT load in tunekit with the same logits', { skip: !hasShared ? 'no ../shared' : !hasPeft ? 'python peft/transformers not installed' : false }, () => {
  cases.forEach((testCase, index) => {
    it(`${testCase.model} ${testCase.type} ${JSON.stringify(testCase.kwargs)}`, async () => {
      const baseDir = path.join(root, testCase.model);
      const adapterDir = path.join(workDir, String(index));
      const inputs = testCase.model === 't5_flan' ? t5Inputs : causalInputs;
      const made = spawnSync(python, [path.join(repoRoot, 'bench', 'peer', 'make_peft_adapter.py'), baseDir, adapterDir, JSON.stringify({ type: testCase.type, kwargs: testCase.kwargs, seed: index, inputs })], { encoding: 'utf8' });
      assert.equal(made.status, 0, made.stderr);
      const theirs = JSON.parse(made.stdout.trim().split('\n').pop() as string) as { shape: number[]; logits: number[] };
      const peft = new PeftModel(await loadModelFromFolder(baseDir));
      const warnings: string[] = [];
      await loadAdapter(peft, adapterDir, 'default', { onWarning: (w) => warnings.push(w) });
      const logits = tidy(() => peft.logits({ inputIds: inputs.input_ids, attentionMask: inputs.attention_mask, decoderInputIds: 'decoder_input_ids' in inputs ? (inputs.decoder_input_ids as number[][]) : undefined }));
      assert.deepEqual(logits.shape, theirs.shape);
      const ours = logits.toFloat32Array();
      const worst = Math.max(...theirs.logits.map((v, i) => Math.abs(v - ours[i])));
      assert.ok(worst <= 1e-4, `max abs diff ${worst}; warnings: ${warnings.join(' | ')}`);
      logits.dispose();
    });
  });
});
