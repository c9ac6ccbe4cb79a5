import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadModelFromFolder } from '../src/models/load.js';
import type { AdapterConfig } from '../src/peft/config.js';
import { parseAdapterConfig } from '../src/peft/config.js';
import { loadAdapter, PeftModel, saveAdapter } from '../src/peft/index.js';
import { AdamW } from '../src/optim/index.js';
import { manualSeed, tidy } from '../src/torch/index.js';
import { common, loraConfig, trainBriefly } from './helpers/peft-configs.js';
import { pythonHas } from './helpers/python.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

const root = path.join(sharedDir, 'reference', 'models', 'hf-tiny');
const workDir = mkdtempSync(path.join(tmpdir(), 'tunekit-peft-options-'));
after(() => rmSync(workDir, { recursive: true, force: true }));
const batch = { inputIds: [[1, 37, 12, 101, 5, 77, 200, 3]], labels: [[1, 37, 12, 101, 5, 77, 200, 3]] };
const python = process.env.PYTHON ?? 'python3';
const hasPeft = pythonHas('peft', 'transformers');



describe('PEFT options', { skip: hasShared ? false : 'no ../shared' }, () => {
  it('modules_to_save: trained per adapter, saved, reloaded, and the original restored when switching away', async () => {
    manualSeed(1);
    const base = await loadModelFromFolder(path.join(root, 'llama'));
    const headBefore = base.stateDict().get('lm_head.weight')?.bytes() as Uint8Array;
    const peft = new PeftModel(base);
    peft.addAdapter('default', loraConfig({ modulesToSave: ['lm_head'] }));
    assert.ok(peft.namedParameters().some(([name, p]) => name.endsWith('lm_head.weight') && p.requiresGrad));
    trainBriefly(peft, batch);
    const trained = tidy(() => peft.logits(batch).toFloat32Array());
    assert.notDeepEqual(base.stateDict().get('lm_head.weight')?.bytes(), headBefore);
    peft.setAdapter(null);
    assert.deepEqual(base.stateDict().get('lm_head.weight')?.bytes(), headBefore);
    peft.setAdapter('default');
    const dir = path.join(workDir, 'mts');
    await saveAdapter(peft, dir);
    const reloaded = new PeftModel(await loadModelFromFolder(path.join(root, 'llama')));
    await loadAdapter(reloaded, dir);
    assert.deepEqual(tidy(() => reloaded.logits(batch).toFloat32Array()), trained);
    if (hasPeft) {
      const out = spawnSync(python, [path.join(repoRoot, 'bench', 'peer', 'peft_logits.py'), path.join(root, 'llama'), dir, JSON.stringify({ input_ids: batch.inputIds })], { encoding: 'utf8' });
      assert.equal(out.status, 0, out.stderr);
      const theirs = JSON.parse(out.stdout.trim().split('\n').pop() as string).logits as number[];
      assert.ok(Math.max(...theirs.map((v, i) => Math.abs(v - trained[i]))) <= 1e-4);
    }
  });

  it('bias "all" trains and saves every bias (GPT-2); PEFT reads it back', async () => {
    manualSeed(2);
    const peft = new PeftModel(await loadModelFromFolder(path.join(root, 'gpt2')));
    peft.addAdapter('default', loraConfig({ targetModules: ['c_attn'], bias: 'all', fanInFanOut: true }));
    const trainable = peft.namedParameters().filter(([, p]) => p.requiresGrad).map(([name]) => name);
    assert.ok(trainable.includes('base_model.model.transformer.h.0.mlp.c_fc.bias') && trainable.includes('base_model.model.transformer.ln_f.bias'));
    trainBriefly(peft, batch);
    const dir = path.join(workDir, 'bias-all');
    await saveAdapter(peft, dir);
    const ours = tidy(() => peft.logits(batch).toFloat32Array());
    const reloaded = new PeftModel(await loadModelFromFolder(path.join(root, 'gpt2')));
    await loadAdapter(reloaded, dir);
    assert.deepEqual(tidy(() => reloaded.logits(batch).toFloat32Array()), ours);
    if (hasPeft) {
      const out = spawnSync(python, [path.join(repoRoot, 'bench', 'peer', 'peft_logits.py'), path.join(root, 'gpt2'), dir, JSON.stringify({ input_ids: batch.inputIds })], { encoding: 'utf8' });
      assert.equal(out.status, 0, out.stderr);
      const theirs = JSON.parse(out.stdout.trim().split('\n').pop() as string).logits as number[];
      assert.ok(Math.max(...theirs.map((v, i) => Math.abs(v - ours[i]))) <= 1e-4);
    }
  });

  it('prompt tuning initialized from text takes the embeddings of its tokens, repeated to length', async () => {
    const base = await loadModelFromFolder(path.join(root, 'llama'));
    const peft = new PeftModel(base);
    peft.addAdapter('default', { ...common, peftType: 'PROMPT_TUNING', numVirtualTokens: 5, tokenDim: 64, numTransformerSubmodules: 1, numAttentionHeads: 8, numLayers: 4, promptTuningInit: 'TEXT', promptTuningInitText: 'classify', tokenizerNameOrPath: null }, { promptInitTextIds: [7, 9] });
    const prompt = peft.promptEncoder.get('default')?.embedding.weight;
    const embeddings = base.stateDict().get('model.embed_tokens.weight');
    const rows = [7, 9, 7, 9, 7].map((id) => tidy(() => embeddings?.select(0, id).toFlatArray()));
    rows.forEach((row, i) => assert.deepEqual(tidy(() => prompt?.select(0, i).toFlatArray()), row));
    assert.throws(() => peft.addAdapter('other', { ...common, peftType: 'PROMPT_TUNING', numVirtualTokens: 5, tokenDim: 64, numTransformerSubmodules: 1, numAttentionHeads: 8, numLayers: 4, promptTuningInit: 'TEXT', promptTuningInitText: 'x', tokenizerNameOrPath: null }), /needs prompt_tuning_init_text and a tokenizer/);
  });

  it('Pfeiffer adapters sit only after the feed-forward sublayer; Houlsby after attention too', async () => {
    const peft = new PeftModel(await loadModelFromFolder(path.join(root, 't5_flan')));
    const bottleneck = (placement: 'pfeiffer' | 'houlsby') => ({ ...common, taskType: 'SEQ_2_SEQ_LM', peftType: 'BOTTLENECK_ADAPTER', bottleneckSize: 4, nonLinearity: 'relu', placement, scaling: 1 }) as AdapterConfig;
    peft.addAdapter('p', bottleneck('pfeiffer'));
    peft.addAdapter('h', bottleneck('houlsby'));
    const adapted = (name: string) => [...peft.adapterParameters(name).keys()].filter((key) => key.endsWith('adapter_down.' + name + '.weight')).map((key) => key.split('.adapter_down')[0]);
    assert.ok(adapted('p').every((key) => key.endsWith('DenseReluDense.wo')));
    assert.equal(adapted('p').length, 4);
    assert.equal(adapted('h').length, 4 + 2 + 2 + 2);
  });

  it('adapter_config.json: unknown keys set by newer PEFT warn, unset ones are silent; DoRA is refused', () => {
    const warnings: string[] = [];
    const config = parseAdapterConfig({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['q_proj'], use_bdlora: false, velora_config: null, shiny_new_option: 3 }, 'x/adapter_config.json', (w) => warnings.push(w));
    assert.equal(config.peftType, 'LORA');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /x\/adapter_config\.json: ignoring keys .*shiny_new_option/);
    assert.throws(() => parseAdapterConfig({ peft_type: 'LORA', use_dora: true }, 'y.json'), /y\.json: "use_dora": true \(DoRA\) is not supported/);
    assert.throws(() => parseAdapterConfig({ peft_type: 'LORA', r: 'four' }, 'z.json'), /z\.json: "r" must be a number, found "four"/);
  });

  it('a config from the newest PEFT (many extra keys) loads with its weights', async () => {
    const source = path.join(root, 'llama', 'adapters', 'lora_default');
    const dir = path.join(workDir, 'newer-peft');
    mkdirSync(dir, { recursive: true });
    const json = JSON.parse(readFileSync(path.join(source, 'adapter_config.json'), 'utf8'));
    Object.assign(json, { peft_version: '0.21.0', use_dora: false, lora_bias: false, exclude_modules: null, kasa_config: null, trainable_token_indices: null });
    writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify(json));
    copyFileSync(path.join(source, 'adapter_model.safetensors'), path.join(dir, 'adapter_model.safetensors'));
    const warnings: string[] = [];
    const peft = new PeftModel(await loadModelFromFolder(path.join(root, 'llama')));
    await loadAdapter(peft, dir, 'default', { onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings, []);
  });
});

describe('IA³ merge', { skip: hasShared ? false : 'no ../shared' }, () => {
  for (const model of ['llama', 'gpt2', 't5_flan']) {
    it(`${model}: a trained IA³ adapter merged gives the unmerged outputs; unmerge restores the weights`, async () => {
      manualSeed(9);
      const base = await loadModelFromFolder(path.join(root, model));
      const before = new Map([...base.stateDict()].map(([key, value]) => [key, value.toFloat32Array()]));
      const peft = new PeftModel(base);
      peft.addAdapter('default', { ...common, taskType: model === 't5_flan' ? 'SEQ_2_SEQ_LM' : 'CAUSAL_LM', peftType: 'IA3', targetModules: null, feedforwardModules: null, fanInFanOut: false, initIa3Weights: true, modulesToSave: null });
      const input = model === 't5_flan' ? { inputIds: batch.inputIds, labels: [[61, 7, 42, 19, 1]] } : batch;
      const optimizer = new AdamW(peft.parameters().filter((p) => p.requiresGrad), { lr: 5e-2 });
      for (let step = 0; step < 3; step++) {
        tidy(() => peft.loss(input).backward());
        optimizer.step();
        optimizer.zeroGrad();
      }
      const unmerged = tidy(() => peft.logits(input).toFloat32Array());
      peft.mergeAdapter();
      const merged = tidy(() => peft.logits(input).toFloat32Array());
      const scale = Math.max(...Array.from(unmerged, Math.abs));
      assert.ok(Math.max(...Array.from(unmerged, (v, i) => Math.abs(v - merged[i]))) <= 1e-5 * scale);
      peft.unmergeAdapter();
      for (const [key, value] of base.stateDict()) {
        const original = before.get(key);
        if (original === undefined) continue;
        const now = value.toFloat32Array();
        for (let i = 0; i < now.length; i++) assert.ok(Math.abs(now[i] - original[i]) <= 1e-5 * Math.max(1, Math.abs(original[i])), key);
      }
    });
  }
});

describe('init_lora_weights: false (stories260K)', { skip: hasShared ? false : 'no ../shared' }, () => {
  it('leaves A and B at nn.Linear\'s default init, as PEFT skips its own: B is not zero and the adapter changes the output', async () => {
    manualSeed(9);
    const base = await loadModelFromFolder(path.join(sharedDir, 'reference', 'models', 'stories260K'));
    const ids = [[1, 403, 407, 261]];
    const before = tidy(() => base.logits({ inputIds: ids }).toFloat32Array());
    const peft = new PeftModel(base);
    peft.addAdapter('default', loraConfig({ targetModules: ['q_proj'], initLoraWeights: false }));
    const b = peft.namedParameters().find(([name]) => name.includes('lora_B'))?.[1];
    assert.ok(b !== undefined);
    const values = Array.from(b.toFloat32Array());
    assert.ok(values.some((value) => value !== 0));
    assert.ok(values.every((value) => Math.abs(value) <= 1 / Math.sqrt(4)));
    const after = tidy(() => peft.logits({ inputIds: ids }).toFloat32Array());
    assert.ok(after.some((value, i) => Math.abs(value - before[i]) > 1e-4));
    peft.dispose();
  });
});
