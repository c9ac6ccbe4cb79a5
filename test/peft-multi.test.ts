import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { generate } from '../src/generate/index.js';
import { loadModelFromFolder } from '../src/models/load.js';
import { loadAdapter, nearestTokens, PeftModel } from '../src/peft/index.js';
import { tensor, tidy } from '../src/torch/index.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

const root = path.join(sharedDir, 'reference', 'models', 'hf-tiny');

describe('several named adapters on one base, swapped per task', { skip: hasShared ? false : 'no ../shared' }, () => {
  it('T5: LoRA and soft prompt side by side; set active, per-call adapter, disable, delete', async () => {
    const golden = JSON.parse(readFileSync(path.join(root, 't5_flan', 'golden.json'), 'utf8'));
    const single = golden.logits.single.inputs;
    const batch = { inputIds: single.input_ids, attentionMask: single.attention_mask, decoderInputIds: single.decoder_input_ids };
    const peft = new PeftModel(await loadModelFromFolder(path.join(root, 't5_flan')));
    await loadAdapter(peft, path.join(root, 't5_flan', 'adapters', 'lora_default'), 'summarize');
    await loadAdapter(peft, path.join(root, 't5_flan', 'adapters', 'prompt_tuning'), 'translate');
    assert.deepEqual(peft.adapterNames, ['summarize', 'translate']);
    assert.equal(peft.activeAdapter, 'translate');
    const check = (want: number[][][]) => {
      const difference = tidy(() => peft.logits(batch).sub(tensor(want)).abs().amax().item());
      assert.ok(difference <= 1e-4, `max abs diff ${difference}`);
    };
    check(golden.adapters.prompt_tuning.logits.single.logits);
    peft.setAdapter('summarize');
    check(golden.adapters.lora_default.logits.single.logits);
    const generateInputs = { inputIds: golden.generate.inputs.single.input_ids, attentionMask: golden.generate.inputs.single.attention_mask };
    const viaTranslate = peft.withAdapter('translate', () => generate(peft, generateInputs, { maxNewTokens: 12 }));
    assert.deepEqual(viaTranslate.sequences, golden.adapters.prompt_tuning.generate_greedy_single);
    assert.equal(peft.activeAdapter, 'summarize');
    assert.deepEqual(generate(peft, generateInputs, { maxNewTokens: 12 }).sequences, golden.adapters.lora_default.generate_greedy_single);
    peft.withAdapter(null, () => check(golden.logits.single.logits));
    peft.deleteAdapter('summarize');
    assert.deepEqual(peft.adapterNames, ['translate']);
    assert.equal(peft.activeAdapter, null);
    check(golden.logits.single.logits);
    assert.ok(peft.namedParameters().every(([name]) => !name.includes('lora_')));
  });

  it('errors: unknown adapter, duplicate name, wrong shapes name the tensor', async () => {
    const peft = new PeftModel(await loadModelFromFolder(path.join(root, 'gpt2')));
    assert.throws(() => peft.setAdapter('missing'), /no adapter named "missing"/);
    await loadAdapter(peft, path.join(root, 'gpt2', 'adapters', 'lora_default'));
    await assert.rejects(loadAdapter(peft, path.join(root, 'gpt2', 'adapters', 'lora_default')), /adapter "default" already exists/);
    const llama = new PeftModel(await loadModelFromFolder(path.join(root, 'llama')));
    await assert.rejects(loadAdapter(llama, path.join(root, 't5_flan', 'adapters', 'lora_default')), /lora_default[/\\]adapter_config\.json: "task_type" is "SEQ_2_SEQ_LM" .*base model \(llama\) is decoder-only/);
    await assert.rejects(loadAdapter(llama, path.join(root, 'gpt2', 'adapters', 'lora_default')), /match no layer/);
    const narrower = new PeftModel(await loadModelFromFolder(path.join(repoRoot, 'test', 'fixtures', 'models', 'llama_head_dim')));
    await assert.rejects(
      loadAdapter(narrower, path.join(root, 'llama', 'adapters', 'lora_default')),
      /tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight" has shape \[4,64\], the base model needs \[4,32\]/,
    );
    assert.deepEqual(narrower.adapterNames, []);
  });

  it('nearestTokens ranks vocabulary rows by cosine similarity', () => {
    const vocabulary = tensor([[1, 0], [0, 1], [1, 1], [-1, 0]]);
    const prompt = tensor([[2, 0.1], [0, -3]]);
    const nearest = nearestTokens(prompt, vocabulary, 2);
    assert.deepEqual(nearest.map((row) => row.map((entry) => entry.id)), [[0, 2], [3, 0]]);
    assert.ok(Math.abs(nearest[0][0].similarity - 2 / Math.hypot(2, 0.1)) < 1e-6);
  });
});

describe('a failed addAdapter leaves the model as it was', { skip: hasShared ? false : 'no ../shared' }, () => {
  it('modules_to_save that match nothing: the LoRA layers attached before the error are removed', async () => {
    const peft = new PeftModel(await loadModelFromFolder(path.join(root, 'llama')));
    const before = peft.namedParameters().map(([name]) => name);
    const { loraConfig } = await import('./helpers/peft-configs.js');
    assert.throws(() => peft.addAdapter('broken', loraConfig({ modulesToSave: ['no_such_module'] })), /modules_to_save \["no_such_module"\] match no module/);
    assert.deepEqual(peft.namedParameters().map(([name]) => name), before);
    assert.deepEqual(peft.adapterNames, []);
    peft.addAdapter('broken', loraConfig());
    assert.deepEqual(peft.adapterNames, ['broken']);
  });
});
