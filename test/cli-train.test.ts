// `tunekit train`: a config file and flags become one run whose losses are the library train()'s, written as
// Trainer lays out its output (the adapter or the model, config.yaml, metrics.jsonl), with clear errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { getPeftModel, loadModel, loraConfig, manualSeed, PeftModel, sftPadTokenId, tokenizeSftDataset, train, type TrainEvent } from '../src/index.js';
import { snapshotTree } from './helpers/filesystem.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const stories = path.join(sharedDir, 'reference', 'models', 'stories260K');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-cli-train-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const records = Array.from({ length: 12 }, (_, i) => ({ prompt: `Once upon a time, a cat named Tom${i}`, completion: ' was happy.' }));
writeFileSync(path.join(scratch, 'train.jsonl'), records.map((record) => JSON.stringify(record)).join('\n') + '\n');
writeFileSync(path.join(scratch, 'eval.jsonl'), records.slice(0, 4).map((record) => JSON.stringify({ ...record, prompt: record.prompt.replace('cat', 'dog') })).join('\n') + '\n');
const settings = { max_steps: 3, per_device_train_batch_size: 4, learning_rate: 0.01, logging_steps: 1, eval_strategy: 'steps', eval_steps: 3, seed: 5 };
writeFileSync(
  path.join(scratch, 'run.yaml'),
  [`model: ${stories}`, 'method: lora', 'dataset: train.jsonl', 'eval_dataset: eval.jsonl', 'r: 4', 'lora_alpha: 8', 'target_modules: [q_proj, v_proj]', 'output_dir: out', ...Object.entries(settings).map(([key, value]) => `${key}: ${value}`)].join('\n') + '\n',
);

function run(args: string[]) {
  return spawnSync(process.execPath, [cli, 'train', ...args], { cwd: scratch, encoding: 'utf8', env: { ...process.env, TUNEKIT_THREADS: '1' } });
}

const jsonLines = (text: string) => text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

describe('tunekit train', { skip: hasShared ? false : 'no ../shared' }, () => {
  it('a LoRA run from a config file gives the library train()\'s losses and writes the adapter, config.yaml and metrics.jsonl', async () => {
    const result = run(['--config', 'run.yaml', '--json']);
    assert.equal(result.status, 0, result.stderr);
    const events = jsonLines(result.stdout);
    const steps = events.filter((event) => event.event === 'step');
    assert.equal(steps.length, 3);
    const metrics = jsonLines(readFileSync(path.join(scratch, 'out', 'metrics.jsonl'), 'utf8'));
    assert.deepEqual(metrics, events.filter((event) => event.event === 'step' || event.event === 'eval'));
    assert.ok(metrics.some((line) => typeof line.eval_loss === 'number'));

    // The same run through the library.
    manualSeed(settings.seed);
    const { model, tokenizer } = await loadModel(stories);
    assert.ok(tokenizer !== null);
    const peft = getPeftModel(model, loraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'], taskType: 'CAUSAL_LM' }));
    const library: TrainEvent[] = [];
    const examples = tokenizeSftDataset(tokenizer, records).examples;
    await train(peft, examples, { ...settings, eval_strategy: 'no', output_dir: null } as never, { padTokenId: sftPadTokenId(tokenizer).padTokenId, onEvent: (event) => library.push(event) });
    assert.deepEqual(steps.map((step) => step.loss), library.filter((event) => event.event === 'step').map((event) => (event as { loss: number }).loss));

    const reloaded = await PeftModel.fromPretrained((await loadModel(stories)).model, path.join(scratch, 'out'));
    assert.equal(reloaded.adapterConfig('default').peftType, 'LORA');
    assert.match(readFileSync(path.join(scratch, 'out', 'config.yaml'), 'utf8'), /learning_rate: 0.01/);
    peft.dispose();
    reloaded.dispose();
  });

  it('flags override the file; full fine-tuning writes a model folder that loads and generates', async () => {
    const result = run(['--config', 'run.yaml', '--method', 'full', '--r', 'null', '--output-dir', 'full', '--json']);
    assert.equal(result.status, 1, 'PEFT keys with method full are refused');
    writeFileSync(path.join(scratch, 'full.yaml'), `model: ${stories}\nmethod: full\ndataset: train.jsonl\noutput_dir: full\nmax_steps: 2\nper_device_train_batch_size: 4\nlogging_steps: 1\n`);
    const full = run(['--config', 'full.yaml', '--learning-rate', '1e-3', '--json']);
    assert.equal(full.status, 0, full.stderr);
    assert.equal(jsonLines(full.stdout).filter((event) => event.event === 'step')[0].learning_rate, 1e-3);
    const { model } = await loadModel(path.join(scratch, 'full'));
    assert.equal(model.config.modelType, 'llama');
    model.dispose();
  });

  it('bad configs and an existing output_dir are one line naming the key or flag, and nothing is written', () => {
    const before = snapshotTree(scratch);
    for (const [args, message] of [
      [['--config', 'run.yaml', '--learning-rat', '1'], /unknown flag --learning-rat \(did you mean --learning-rate\?\)/],
      [['--config', 'run.yaml', '--learning-rate', '-1'], /'learning_rate' must be/],
      [['--config', 'run.yaml', '--method', 'lorra'], /'method' must be one of full, lora/],
      [['--config', 'run.yaml'], /cannot write to "out": .*overwrite_output_dir/],
      [['--config', 'missing.yaml'], /missing\.yaml: no such file/],
    ] as const) {
      const result = run(args as unknown as string[]);
      assert.equal(result.status, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, message);
    }
    writeFileSync(path.join(scratch, 'typo.yaml'), readFileSync(path.join(scratch, 'run.yaml'), 'utf8').replace('output_dir: out', 'output_dir: typo-out\nlearnig_rate: 1'));
    const typo = run(['--config', 'typo.yaml']);
    assert.equal(typo.status, 1);
    assert.match(typo.stderr, /typo\.yaml: unknown key 'learnig_rate' \(did you mean 'learning_rate'\?\)/);
    rmSync(path.join(scratch, 'typo.yaml'));
    assert.deepEqual(snapshotTree(scratch), before);
  });

  it('--dry-run prints the resolved config, dataset statistics, parameters and a memory estimate, and writes nothing', () => {
    const before = snapshotTree(scratch);
    const result = run(['--config', 'run.yaml', '--output-dir', 'dry-out', '--dry-run', '--json']);
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout.trim()) as {
      event: string;
      config: Record<string, unknown>;
      max_steps: number;
      datasets: { train: { examples: number; supervised_tokens: number }; eval: { examples: number } };
      trainable_parameters: number;
      memory_estimate: Record<string, number>;
    };
    assert.equal(report.event, 'dry_run');
    assert.equal(report.config.learning_rate, 0.01);
    assert.equal(report.max_steps, 3);
    assert.equal(report.datasets.train.examples, 12);
    assert.equal(report.datasets.eval.examples, 4);
    assert.ok(report.datasets.train.supervised_tokens > 0);
    // LoRA r 4 on q (64 → 64) and v (64 → 32: 4 of 8 heads are key-value heads) of stories260K's 5 layers.
    assert.equal(report.trainable_parameters, 5 * (4 * 64 + 64 * 4 + (4 * 64 + 32 * 4)));
    const memory = report.memory_estimate;
    assert.equal(memory.gradients, 4 * report.trainable_parameters);
    assert.equal(memory.optimizer, 8 * report.trainable_parameters);
    assert.equal(memory.total, memory.weights + memory.gradients + memory.optimizer + memory.activations);
    assert.deepEqual(snapshotTree(scratch), before);
  });
});
