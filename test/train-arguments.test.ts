import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { TunekitError } from '../src/errors.js';
import { loadModelFromFolder } from '../src/models/load.js';
import { manualSeed, randperm } from '../src/torch/index.js';
import { parseTrainingArguments, TRAINING_ARGUMENT_DEFAULTS } from '../src/train/arguments.js';
import { torchRandperm, trainerEpochOrder } from '../src/train/sampler.js';
import { decayParameterNames, train, trainingPlan } from '../src/train/trainer.js';
import { hasShared, sharedDir } from './helpers/paths.js';

function refused(raw: unknown, pattern: RegExp): void {
  assert.throws(
    () => parseTrainingArguments(raw, 'train.yaml'),
    (error: unknown) => error instanceof TunekitError && error.code === 'E_TRAINING_ARGUMENTS' && !error.message.includes('\n') && pattern.test(error.message),
  );
}

describe('parseTrainingArguments', () => {
  it("takes transformers' defaults for missing keys", () => {
    const args = parseTrainingArguments({}, 'train.yaml');
    assert.equal(args.learning_rate, 5e-5);
    assert.equal(args.num_train_epochs, 3);
    assert.equal(args.max_steps, -1);
    assert.equal(args.per_device_train_batch_size, 8);
    assert.equal(args.lr_scheduler_type, 'linear');
    assert.equal(args.max_grad_norm, 1);
    assert.equal(args.seed, 42);
    assert.equal(args.eval_steps, 500, 'eval_steps defaults to logging_steps');
    assert.deepEqual({ ...args, eval_steps: null }, { ...TRAINING_ARGUMENT_DEFAULTS });
  });
  it('keeps given values', () => {
    const args = parseTrainingArguments({ learning_rate: 1e-3, gradient_accumulation_steps: 4, lr_scheduler_type: 'cosine', data_seed: 3, logging_steps: 10 }, 'x');
    assert.equal(args.learning_rate, 1e-3);
    assert.equal(args.gradient_accumulation_steps, 4);
    assert.equal(args.eval_steps, 10);
    assert.equal(args.data_seed, 3);
  });
  it('refuses an unknown key, naming it, the source and the nearest known key', () => {
    refused({ learning_rat: 1e-4 }, /^train\.yaml: unknown key 'learning_rat' \(did you mean 'learning_rate'\?\)$/);
    refused({ per_device_batch_size: 4 }, /unknown key 'per_device_batch_size'/);
  });
  it('refuses wrong types and out-of-domain values, naming the key', () => {
    refused({ learning_rate: '1e-4' }, /train\.yaml: 'learning_rate' must be a non-negative number, got "1e-4"/);
    refused({ learning_rate: -1e-4 }, /'learning_rate' must be a non-negative number, got -0\.0001/);
    refused({ per_device_train_batch_size: 0 }, /'per_device_train_batch_size' must be a positive integer/);
    refused({ gradient_accumulation_steps: 1.5 }, /'gradient_accumulation_steps' must be a positive integer/);
    refused({ max_steps: 0 }, /'max_steps' must be a positive integer, or -1/);
    refused({ lr_scheduler_type: 'cosin' }, /'lr_scheduler_type' must be one of linear, cosine, constant, constant_with_warmup \(did you mean 'cosine'\?\), got "cosin"/);
    refused({ eval_strategy: true }, /'eval_strategy' must be one of no, steps, epoch, got true/);
    refused({ adam_beta2: 1 }, /'adam_beta2' must be a number in \[0, 1\)/);
    refused({ warmup_steps: 2.5 }, /'warmup_steps' must be a non-negative integer, or a ratio/);
    refused({ seed: -1 }, /'seed' must be a non-negative integer/);
    refused([1], /must be an object/);
    refused(null, /must be an object/);
  });
});

describe("the step plan (Trainer.set_initial_training_values, get_warmup_steps)", () => {
  const args = (raw: object) => parseTrainingArguments(raw, 'test');
  it('epochs × ceil(batches / accumulation)', () => {
    assert.deepEqual(trainingPlan(12, args({ per_device_train_batch_size: 2, gradient_accumulation_steps: 4, num_train_epochs: 2 })), {
      batchesPerEpoch: 6, updateStepsPerEpoch: 2, maxSteps: 4, epochs: 2, warmupSteps: 0,
    });
    assert.equal(trainingPlan(10, args({ per_device_train_batch_size: 4, num_train_epochs: 1.5 })).maxSteps, 5);
    assert.equal(trainingPlan(3, args({ per_device_train_batch_size: 8, gradient_accumulation_steps: 4 })).updateStepsPerEpoch, 1);
  });
  it('max_steps wins, and sets the epochs to cover it', () => {
    const plan = trainingPlan(12, args({ per_device_train_batch_size: 4, max_steps: 7 }));
    assert.equal(plan.maxSteps, 7);
    assert.equal(plan.epochs, 3);
  });
  it('warmup: a count, a ratio below 1 (ceil), or 4.x warmup_ratio', () => {
    assert.equal(trainingPlan(12, args({ per_device_train_batch_size: 1, num_train_epochs: 1, warmup_steps: 3 })).warmupSteps, 3);
    assert.equal(trainingPlan(12, args({ per_device_train_batch_size: 1, num_train_epochs: 1, warmup_steps: 0.1 })).warmupSteps, 2);
    assert.equal(trainingPlan(12, args({ per_device_train_batch_size: 1, num_train_epochs: 1, warmup_ratio: 0.25 })).warmupSteps, 3);
  });
});

describe("the sampler order (accelerate's SeedableRandomSampler over torch.randperm)", () => {
  it('equals torch.randperm with a generator seeded as Trainer seeds it (values recorded from torch 2.13)', () => {
    assert.deepEqual(torchRandperm(12, 42), [6, 8, 1, 7, 0, 2, 10, 11, 4, 3, 5, 9]);
    assert.deepEqual(trainerEpochOrder(12, 42, 1), [4, 6, 7, 2, 9, 8, 1, 5, 0, 10, 11, 3]);
    assert.deepEqual(torchRandperm(12, 2 ** 40 + 5), [11, 0, 9, 6, 10, 3, 4, 5, 8, 7, 1, 2]);
    assert.deepEqual(torchRandperm(300, 123).slice(-10), [244, 214, 158, 197, 148, 22, 29, 267, 296, 167]);
  });
  it("equals the addon's randperm after manualSeed (the same libtorch generator)", () => {
    for (const [n, seed] of [[1, 0], [2, 1], [17, 42], [1000, 987654321]]) {
      manualSeed(seed);
      const ours = randperm(n);
      assert.deepEqual(torchRandperm(n, seed), ours.toFlatArray());
      ours.dispose();
    }
  });
});

describe('decay groups and input checks (stories260K)', { skip: hasShared ? false : 'no ../shared reference models' }, () => {
  it('no decay on norms and biases (Trainer.get_decay_parameter_names)', async () => {
    const model = await loadModelFromFolder(path.join(sharedDir, 'reference', 'models', 'stories260K'));
    const names = decayParameterNames(model);
    assert.ok(names.has('model.embed_tokens.weight'));
    assert.ok(names.has('model.layers.0.self_attn.q_proj.weight'));
    assert.ok(!names.has('model.norm.weight'));
    assert.ok(!names.has('model.layers.0.input_layernorm.weight'));
    assert.ok(!names.has('model.layers.3.post_attention_layernorm.weight'));
    await assert.rejects(() => train(model, [], {}, { padTokenId: 0 }), /at least one training example/);
    await assert.rejects(() => train(model, [{ input_ids: [1, 2], labels: [1, 2] }], { eval_strategy: 'steps' }, { padTokenId: 0 }), /no evalExamples/);
    await assert.rejects(() => train(model, [{ input_ids: [1, 2], labels: [-100, -100] }], { max_steps: 1 }, { padTokenId: 0 }), /no example in the step has a supervised label/);
    await assert.rejects(() => train(model, [{ input_ids: [1, 2] }], { learning_rat: 1 } as object, { padTokenId: 0 }), /train\(\) arguments: unknown key 'learning_rat'/);
    model.dispose();
  });
});
