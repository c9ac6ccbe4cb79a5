// The README's library example, run on stories260K (a real pretrained Llama): load, a LoRA adapter from the typed
// builder, one training step, generation with and without the adapter, save, and Python PEFT reading the result.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { generate, getPeftModel, loadModel, loraConfig, manualSeed, memory, optim, PeftModel, serializeAdapterConfig, tidy } from '../src/index.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';
import { pythonHas } from './helpers/python.js';

const stories = path.join(sharedDir, 'reference', 'models', 'stories260K');
const python = process.env.PYTHON ?? 'python3';
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-readme-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe("the README's example on stories260K", { skip: hasShared ? false : 'no ../shared' }, () => {
  it('loads, adapts with loraConfig, trains a step, generates with and without the adapter, saves a PEFT adapter', async () => {
    manualSeed(0);
    const { model, tokenizer, generationConfig, source } = await loadModel(stories);
    assert.ok(tokenizer !== null);
    assert.equal(source.dir, stories);
    assert.equal(typeof generationConfig, 'object');
    const promptIds = tokenizer.encode('Once upon a time');
    const plain = generate(model, { inputIds: [promptIds] }, { maxNewTokens: 12 });
    const peft = getPeftModel(model, loraConfig({ r: 4, loraAlpha: 8, targetModules: 'all-linear', taskType: 'CAUSAL_LM' }));
    assert.equal(peft.adapterConfig('default').baseModelNameOrPath, stories);
    const summary = peft.trainableSummary();
    assert.ok(summary.trainable > 0 && summary.trainable < summary.total);

    const completionIds = tokenizer.encode(' there was a cat', { addSpecialTokens: false });
    const inputIds = [[...promptIds, ...completionIds]];
    const labels = [[...promptIds.map(() => -100), ...completionIds]];
    const optimizer = new optim.AdamW(peft.parameters().filter((p) => p.requiresGrad), { lr: 5e-2 });
    const before = tidy(() => peft.loss({ inputIds, labels }).item());
    tidy(() => peft.loss({ inputIds, labels }).backward());
    optimizer.step();
    optimizer.zeroGrad();
    const afterStep = tidy(() => peft.loss({ inputIds, labels }).item());
    assert.ok(afterStep < before, `loss ${before} → ${afterStep}`);

    const tuned = generate(peft, { inputIds: [promptIds] }, { maxNewTokens: 12 });
    const bare = peft.withAdapter(null, () => generate(peft, { inputIds: [promptIds] }, { maxNewTokens: 12 }));
    // The bare base through the wrapper equals the model before it had an adapter: one generation path.
    assert.deepEqual(bare.sequences, plain.sequences);
    assert.notDeepEqual(tuned.sequences, plain.sequences);
    assert.equal(tuned.sequences[0].length, promptIds.length + 12);

    const adapterDir = path.join(scratch, 'my-adapter');
    await peft.savePretrained(adapterDir);
    const written = JSON.parse(readFileSync(path.join(adapterDir, 'adapter_config.json'), 'utf8'));
    assert.deepEqual(written, serializeAdapterConfig({ ...peft.adapterConfig('default'), inferenceMode: true }));

    const ours = tidy(() => peft.logits({ inputIds }).toFloat32Array());
    const live = memory().liveTensors;
    const { model: base2 } = await loadModel(stories);
    const reloaded = await PeftModel.fromPretrained(base2, adapterDir);
    assert.deepEqual(tidy(() => reloaded.logits({ inputIds }).toFloat32Array()), ours);
    reloaded.dispose();
    assert.equal(memory().liveTensors, live);

    if (pythonHas('peft', 'transformers', 'torch')) {
      const out = spawnSync(python, [path.join(repoRoot, 'bench', 'peer', 'peft_logits.py'), stories, adapterDir, JSON.stringify({ input_ids: inputIds })], { encoding: 'utf8' });
      assert.equal(out.status, 0, out.stderr);
      const theirs = JSON.parse(out.stdout.trim().split('\n').pop() as string) as { logits: number[] };
      assert.equal(theirs.logits.length, ours.length);
      const worst = theirs.logits.reduce((max, value, i) => Math.max(max, Math.abs(value - ours[i])), 0);
      assert.ok(worst <= 1e-4, `max |Δ| vs Python PEFT ${worst}`);
    }
    peft.dispose();
  });
});
