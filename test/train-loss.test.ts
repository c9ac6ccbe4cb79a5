// The trainer's memory-saving loss: logits only at supervised positions, the head and cross-entropy in chunks, and
// bf16 autocast. The loss and every gradient equal the reference path (logits at every position, one
// cross-entropy), with LoRA, with a soft prompt (whose last virtual position predicts the first label) and with
// full fine-tuning.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  autocast,
  backwardMicroBatch,
  collateLanguageModeling,
  getPeftModel,
  type LanguageModel,
  loadModel,
  loraConfig,
  manualSeed,
  promptTuningConfig,
  supervisedPositions,
  getCpuRngState,
  tensor,
  train,
  type Tensor,
} from '../src/index.js';
import { hasShared, sharedDir } from './helpers/paths.js';

const stories = path.join(sharedDir, 'reference', 'models', 'stories260K');

describe('supervisedPositions', () => {
  it('maps each supervised label to the position that predicts it, in the logits frame', () => {
    assert.deepEqual(supervisedPositions([[-100, 5, 6], [-100, -100, 7]], 0), { positions: [0, 1, 4], targets: [5, 6, 7] });
    // Two virtual positions in front: frames of length 5; the last virtual position predicts labels[0].
    assert.deepEqual(supervisedPositions([[4, -100, 6]], 2), { positions: [1, 3], targets: [4, 6] });
  });
});

function gradients(model: LanguageModel): Map<string, number[]> {
  const result = new Map<string, number[]>();
  for (const [name, parameter] of model.namedParameters()) {
    if (!parameter.requiresGrad || parameter.grad === null) continue;
    result.set(name, Array.from((parameter.grad as Tensor).float().toFloat32Array()));
    parameter.grad = null;
  }
  return result;
}

function assertClose(actual: Map<string, number[]>, expected: Map<string, number[]>, tolerance: number): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  for (const [name, values] of expected) {
    const ours = actual.get(name) as number[];
    const scale = Math.max(1e-6, ...values.map(Math.abs));
    const worst = Math.max(...values.map((value, i) => Math.abs(value - ours[i]))) / scale;
    assert.ok(worst <= tolerance, `${name}: ${worst}`);
  }
}

describe('backwardMicroBatch (stories260K)', { skip: hasShared ? false : 'no ../shared' }, () => {
  const examples = [
    { input_ids: [1, 403, 407, 261, 378, 2], labels: [-100, -100, -100, 261, 378, 2] },
    { input_ids: [1, 500, 270, 2], labels: [1, 500, 270, 2] },
    { input_ids: [1, 300, 301, 302, 303, 304, 2], labels: [-100, -100, 301, 302, -100, 304, 2] },
  ];
  const batch = collateLanguageModeling(examples, { padTokenId: 0 });
  const items = 9;

  for (const [name, wrap] of [
    ['full', (model: LanguageModel) => model.unfreeze() && model],
    ['LoRA on q, v and the head', (model: LanguageModel) => getPeftModel(model, loraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj', 'lm_head'], taskType: 'CAUSAL_LM', initLoraWeights: false }))],
    ['prompt tuning (4 virtual tokens)', (model: LanguageModel) => getPeftModel(model, promptTuningConfig({ numVirtualTokens: 4, taskType: 'CAUSAL_LM' }))],
  ] as const) {
    it(`${name}: supervised-only and chunked equal the full-logits loss and gradients`, async () => {
      manualSeed(0);
      const model = wrap((await loadModel(stories)).model) as LanguageModel;
      model.train();
      const reference = backwardMicroBatch(model, batch, items, { supervisedOnly: false });
      const expected = gradients(model);
      const supervised = backwardMicroBatch(model, batch, items);
      const supervisedGrads = gradients(model);
      const chunked = backwardMicroBatch(model, batch, items, { chunkElements: 3 * 512 }); // 3 rows per chunk
      const chunkedGrads = gradients(model);
      assert.ok(Math.abs(supervised - reference) <= 1e-6 * Math.abs(reference), `${supervised} vs ${reference}`);
      assert.ok(Math.abs(chunked - reference) <= 1e-6 * Math.abs(reference), `${chunked} vs ${reference}`);
      assertClose(supervisedGrads, expected, 1e-5);
      assertClose(chunkedGrads, expected, 1e-5);
      model.dispose();
    });
  }

  for (const [name, folder, wrap] of [
    ['stories260K, full', stories, (model: LanguageModel) => model.unfreeze() && model],
    ['stories260K, LoRA with dropout (the generator replayed)', stories, (model: LanguageModel) => getPeftModel(model, loraConfig({ r: 4, loraAlpha: 8, loraDropout: 0.3, targetModules: ['q_proj', 'v_proj', 'down_proj'], taskType: 'CAUSAL_LM', initLoraWeights: false }))],
    ['hf-tiny GPT-2, full', path.join(sharedDir, 'reference', 'models', 'hf-tiny', 'gpt2'), (model: LanguageModel) => model.unfreeze() && model],
  ] as const) {
    it(`gradient checkpointing: ${name} gives the same loss, gradients and generator state`, async () => {
      const model = wrap((await loadModel(folder)).model) as LanguageModel;
      model.train();
      const vocab = model.config.vocabSize;
      const local = collateLanguageModeling(examples.map((example) => ({ input_ids: example.input_ids.map((id) => id % vocab), labels: example.labels.map((id) => (id === -100 ? id : id % vocab)) })), { padTokenId: 0 });
      manualSeed(5);
      const plain = backwardMicroBatch(model, local, items);
      const expected = gradients(model);
      const stateAfterPlain = Array.from(getCpuRngState());
      manualSeed(5);
      const checkpointed = backwardMicroBatch(model, local, items, { gradientCheckpointing: true });
      assert.ok(Math.abs(checkpointed - plain) <= 1e-6 * Math.abs(plain), `${checkpointed} vs ${plain}`);
      assertClose(gradients(model), expected, 1e-5);
      assert.deepEqual(Array.from(getCpuRngState()), stateAfterPlain);
      model.dispose();
    });
  }

  it('gradient checkpointing refuses soft prompts and seq2seq models', async () => {
    const prompted = getPeftModel((await loadModel(stories)).model, promptTuningConfig({ numVirtualTokens: 2, taskType: 'CAUSAL_LM' }));
    await assert.rejects(() => train(prompted, examples, { max_steps: 1, gradient_checkpointing: true }, { padTokenId: 0 }), /does not support soft prompts/);
    prompted.dispose();
  });

  it('a padding-free packed row (position ids restarting per example) gives the padded batch\'s loss and gradients', async () => {
    const model = (await loadModel(stories)).model;
    model.unfreeze();
    model.train();
    const padded = backwardMicroBatch(model, batch, items);
    const expected = gradients(model);
    const packedBatch = collateLanguageModeling(
      examples.map((example) => ({ ...example, seq_lengths: [example.input_ids.length] })),
      { padTokenId: 0, paddingFree: true },
    );
    assert.equal(packedBatch.inputIds.length, 1);
    assert.equal(packedBatch.attentionMask, undefined);
    const packed = backwardMicroBatch(model, packedBatch, items);
    assert.ok(Math.abs(packed - padded) <= 1e-5 * padded, `${packed} vs ${padded}`);
    assertClose(gradients(model), expected, 1e-4);
    model.dispose();
  });

  it('bf16 autocast computes matrix products in bfloat16 and keeps the loss near float32', async () => {
    const product = autocast('cpu', 'bfloat16', () => tensor([[1, 2], [3, 4]]).matmul(tensor([[1, 0], [0, 1]])));
    assert.equal(product.dtype, 'bfloat16');
    assert.equal(tensor([[1, 2]]).matmul(tensor([[1], [1]])).dtype, 'float32', 'autocast is off again after the region');
    const model = (await loadModel(stories)).model;
    model.unfreeze();
    model.train();
    const full = backwardMicroBatch(model, batch, items);
    gradients(model);
    const mixed = backwardMicroBatch(model, batch, items, { autocast: (work) => autocast('cpu', 'bfloat16', work) });
    assert.notEqual(mixed, full);
    assert.ok(Math.abs(mixed - full) / full < 0.02, `${mixed} vs ${full}`);
    for (const parameter of model.parameters()) assert.equal(parameter.dtype, 'float32');
    model.dispose();
  });
});
