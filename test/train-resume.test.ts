// Checkpoints and exact resume: a run stopped (abort, SIGINT, kill -9) and resumed from a checkpoint gives the same
// per-step losses and final weights as the run that was never stopped, with shuffling and dropout on; checkpoints
// appear whole or not at all; save_total_limit, the best checkpoint and early stopping as Trainer keeps them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { listCheckpoints, loadModel, loadSafetensorsFile, parseRunConfig, PeftModel, runTraining, type TrainEvent } from '../src/index.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';
import { pythonHas } from './helpers/python.js';
import { execFileSync } from 'node:child_process';

const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const stories = path.join(sharedDir, 'reference', 'models', 'stories260K');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-resume-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const names = ['Tom', 'Lily', 'Sam', 'Mia', 'Ben', 'Sue', 'Max', 'Amy'];
const records = Array.from({ length: 16 }, (_, i) => ({ prompt: `Once upon a time, ${names[i % 8]} saw a ${i % 2 ? 'dog' : 'cat'}.`, completion: ` ${names[(i + 3) % 8]} was happy.` }));
const dataset = path.join(scratch, 'train.jsonl');
writeFileSync(dataset, records.map((record) => JSON.stringify(record)).join('\n') + '\n');
const evalSet = path.join(scratch, 'eval.jsonl');
writeFileSync(evalSet, records.slice(0, 4).map((record) => JSON.stringify(record)).join('\n') + '\n');

// 16 examples, batch 4, 3 epochs: 12 steps, shuffled per epoch; LoRA dropout draws from the CPU generator.
const base = {
  model: stories,
  method: 'lora',
  dataset,
  r: 4,
  lora_alpha: 8,
  lora_dropout: 0.2,
  target_modules: ['q_proj', 'v_proj'],
  num_train_epochs: 3,
  per_device_train_batch_size: 4,
  learning_rate: 0.01,
  logging_steps: 1,
  save_steps: 4,
  seed: 11,
};

function stepLosses(events: readonly TrainEvent[]): [number, number][] {
  return events.filter((event) => event.event === 'step').map((event) => [event.step, (event as { loss: number }).loss]);
}

async function adapterWeights(dir: string): Promise<Record<string, number[]>> {
  const { tensors } = await loadSafetensorsFile(path.join(dir, 'adapter_model.safetensors'));
  const values: Record<string, number[]> = {};
  for (const [key, tensor] of tensors) values[key] = Array.from(tensor.float().toFloat32Array());
  return values;
}

async function runConfig(settings: Record<string, unknown>, options: { stopAfterStep?: number } = {}) {
  const events: TrainEvent[] = [];
  const controller = new AbortController();
  const result = await runTraining(parseRunConfig(settings, 'test'), {
    signal: controller.signal,
    onEvent: (event) => {
      events.push(event);
      if (event.event === 'step' && event.step === options.stopAfterStep) controller.abort();
    },
  });
  return { result, events };
}

describe('checkpoints and exact resume (stories260K, LoRA with dropout, shuffled)', { skip: hasShared ? false : 'no ../shared' }, () => {
  const whole = path.join(scratch, 'whole');
  let wholeLosses: [number, number][] = [];

  it('an uninterrupted run writes checkpoint-N folders as Trainer lays them out, and the final adapter', async () => {
    const { result, events } = await runConfig({ ...base, output_dir: whole });
    wholeLosses = stepLosses(events);
    assert.equal(result.globalStep, 12);
    assert.deepEqual(listCheckpoints(whole).map((checkpoint) => checkpoint.step), [4, 8, 12]);
    for (const file of ['adapter_config.json', 'adapter_model.safetensors', 'trainer_state.json', 'optimizer.safetensors', 'rng_state.bin']) {
      assert.ok(existsSync(path.join(whole, 'checkpoint-8', file)), file);
    }
    const state = JSON.parse(readFileSync(path.join(whole, 'checkpoint-8', 'trainer_state.json'), 'utf8')) as { global_step: number; log_history: { step: number }[] };
    assert.equal(state.global_step, 8);
    assert.deepEqual(state.log_history.map((entry) => entry.step), [1, 2, 3, 4, 5, 6, 7, 8]);
    for (const file of ['adapter_model.safetensors', 'trainer_state.json', 'train_results.json', 'all_results.json', 'config.yaml', 'metrics.jsonl']) assert.ok(existsSync(path.join(whole, file)), file);
    // A checkpoint's adapter is a PEFT folder.
    const reloaded = await PeftModel.fromPretrained((await loadModel(stories)).model, path.join(whole, 'checkpoint-4'));
    assert.equal((reloaded.adapterConfig('default') as { r?: number }).r, 4);
    reloaded.dispose();
  });

  it('stopped by its signal after step 6, then resumed from the newest checkpoint: the same losses and weights', async () => {
    const out = path.join(scratch, 'stopped');
    const first = await runConfig({ ...base, output_dir: out }, { stopAfterStep: 6 });
    assert.equal(first.result.interrupted, true);
    assert.equal(first.result.globalStep, 6);
    assert.deepEqual(listCheckpoints(out).map((checkpoint) => checkpoint.step), [4, 6]);
    assert.ok(!existsSync(path.join(out, 'adapter_model.safetensors')), 'an interrupted run writes no final adapter');
    const resumed = await runConfig({ ...base, output_dir: out, resume_from_checkpoint: true });
    assert.equal(resumed.result.resumedFrom, path.join(out, 'checkpoint-6'));
    assert.deepEqual([...stepLosses(first.events), ...stepLosses(resumed.events)], wholeLosses);
    assert.deepEqual(stepLosses(resumed.result.history), wholeLosses);
    assert.deepEqual(await adapterWeights(out), await adapterWeights(whole));
    const metrics = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as { step: number; loss: number });
    assert.deepEqual(metrics.map((line) => [line.step, line.loss]), wholeLosses);
  });

  it('resumed from an older checkpoint given by path (mid-epoch): the same losses and weights', async () => {
    const out = path.join(scratch, 'older');
    await runConfig({ ...base, output_dir: out }, { stopAfterStep: 7 });
    const resumed = await runConfig({ ...base, output_dir: out, resume_from_checkpoint: path.join(out, 'checkpoint-4') });
    assert.deepEqual(stepLosses(resumed.events), wholeLosses.slice(4));
    assert.deepEqual(await adapterWeights(out), await adapterWeights(whole));
  });

  it('refuses to resume with other data or batch settings, naming the setting', async () => {
    await assert.rejects(
      () => runConfig({ ...base, per_device_train_batch_size: 2, output_dir: path.join(scratch, 'older'), resume_from_checkpoint: true }),
      /trained with per_device_train_batch_size 4, this run has 2/,
    );
    await assert.rejects(() => runConfig({ ...base, output_dir: path.join(scratch, 'none'), resume_from_checkpoint: true }), /no complete checkpoint-N folder/);
  });

  it('save_total_limit keeps the newest checkpoints', async () => {
    const out = path.join(scratch, 'limited');
    const { events } = await runConfig({ ...base, output_dir: out, save_total_limit: 2 });
    assert.deepEqual(listCheckpoints(out).map((checkpoint) => checkpoint.step), [8, 12]);
    const saves = events.filter((event) => event.event === 'save') as { deleted: string[] }[];
    assert.deepEqual(saves.map((save) => save.deleted.map((dir) => path.basename(dir))), [[], [], ['checkpoint-4']]);
  });

  it('full fine-tuning resumes exactly too (a transformers model folder in each checkpoint)', async () => {
    const settings = { model: stories, method: 'full', dataset, max_steps: 6, per_device_train_batch_size: 4, learning_rate: 0.001, logging_steps: 1, save_steps: 3, seed: 3, warmup_steps: 2 };
    const a = await runConfig({ ...settings, output_dir: path.join(scratch, 'full-a') });
    const b = path.join(scratch, 'full-b');
    await runConfig({ ...settings, output_dir: b }, { stopAfterStep: 2 });
    const resumed = await runConfig({ ...settings, output_dir: b, resume_from_checkpoint: true });
    assert.deepEqual(stepLosses(resumed.events), stepLosses(a.events).slice(2));
    assert.ok(existsSync(path.join(b, 'checkpoint-3', 'config.json')));
    const weights = async (dir: string) => Array.from((await loadSafetensorsFile(path.join(dir, 'model.safetensors'))).tensors.get('model.layers.0.mlp.down_proj.weight')!.float().toFloat32Array());
    assert.deepEqual(await weights(b), await weights(path.join(scratch, 'full-a')));
  });

  it('transformers and PEFT read the checkpoints: TrainerState.load_from_json, from_pretrained of the model and the adapter', { skip: pythonHas('transformers', 'peft') ? false : 'transformers and peft are not importable' }, () => {
    const script = [
      'import json, sys',
      'from transformers import AutoModelForCausalLM, TrainerState',
      'from peft import PeftModel',
      'lora, full, base = sys.argv[1:4]',
      'state = TrainerState.load_from_json(lora + "/trainer_state.json")',
      'model = AutoModelForCausalLM.from_pretrained(full)',
      'peft = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), lora)',
      'print(json.dumps({"global_step": state.global_step, "logged": len(state.log_history), "full_layers": model.config.num_hidden_layers, "r": peft.peft_config["default"].r}))',
    ].join('\n');
    const output = execFileSync(process.env.PYTHON ?? 'python3', ['-c', script, path.join(whole, 'checkpoint-8'), path.join(scratch, 'full-a', 'checkpoint-3'), stories], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.deepEqual(JSON.parse(output.trim().split('\n').pop() as string), { global_step: 8, logged: 8, full_layers: 5, r: 4 });
  });

  it('early stopping after patience evaluations without improvement, and the best checkpoint loaded at the end', async () => {
    const out = path.join(scratch, 'early');
    // greater_is_better on a falling loss: every evaluation after the first is "worse".
    const { result } = await runConfig({
      ...base,
      output_dir: out,
      eval_dataset: evalSet,
      eval_strategy: 'steps',
      eval_steps: 2,
      save_steps: 2,
      load_best_model_at_end: true,
      metric_for_best_model: 'loss',
      greater_is_better: true,
      early_stopping_patience: 2,
    });
    assert.equal(result.earlyStopped, true);
    assert.equal(result.globalStep, 6);
    assert.equal(result.bestModelCheckpoint, path.join(out, 'checkpoint-2'));
    // The final adapter is the best checkpoint's.
    assert.deepEqual(await adapterWeights(out), await adapterWeights(path.join(out, 'checkpoint-2')));
    const evals = result.history.filter((event) => event.event === 'eval');
    assert.equal(evals.length, 3);
    for (const key of ['eval_loss', 'eval_perplexity', 'eval_mean_token_accuracy', 'eval_entropy']) assert.equal(typeof (evals[0] as unknown as Record<string, unknown>)[key], 'number', key);
    assert.ok(Math.abs((evals[0] as unknown as Record<string, number>).eval_perplexity - Math.exp(evals[0].eval_loss)) < 1e-9);
  });

  it('a split dataset gives validation during training and test_results.json at the end, with generation ROUGE', async () => {
    const out = path.join(scratch, 'split');
    const { result } = await runConfig({ ...base, output_dir: out, split: '0.5,0.25,0.25', num_train_epochs: 2, eval_strategy: 'epoch', save_strategy: 'no', predict_with_generate: true, generation_max_length: 8 });
    assert.equal(result.trainExamples + result.evalExamples + result.testExamples, 16);
    assert.equal(result.testExamples, 4);
    const test = JSON.parse(readFileSync(path.join(out, 'test_results.json'), 'utf8')) as Record<string, number>;
    for (const key of ['test_loss', 'test_perplexity', 'test_mean_token_accuracy', 'test_rouge1', 'test_rouge2', 'test_rougeL', 'test_rougeLsum', 'test_gen_len']) assert.equal(typeof test[key], 'number', key);
    assert.equal(test.test_samples, 4);
    assert.ok(test.test_rouge1 >= 0 && test.test_rouge1 <= 1);
    assert.equal(result.history.filter((event) => event.event === 'eval').length, 2);
    assert.equal(readdirSync(out).filter((name) => name.startsWith('checkpoint-')).length, 0);
  });
});

// --- the CLI under signals -------------------------------------------------------------------------------------

interface Spawned {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function trainCli(args: string[], onLine: (line: Record<string, unknown>, child: ReturnType<typeof spawn>) => void = () => {}): Promise<Spawned> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, 'train', ...args, '--json'], { cwd: scratch, env: { ...process.env, TUNEKIT_THREADS: '1' } });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('{')) onLine(JSON.parse(line) as Record<string, unknown>, child);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const cliConfig = path.join(scratch, 'cli.yaml');
writeFileSync(
  cliConfig,
  [
    `model: ${stories}`, 'method: lora', `dataset: ${dataset}`, 'r: 4', 'lora_alpha: 8', 'lora_dropout: 0.2', 'target_modules: [q_proj, v_proj]',
    'num_train_epochs: 3', 'per_device_train_batch_size: 4', 'learning_rate: 0.01', 'logging_steps: 1', 'save_steps: 1', 'seed: 11',
  ].join('\n') + '\n',
);

const lossesOf = (dir: string) => readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as { step: number; loss: number }).map((line) => [line.step, line.loss]);

describe('tunekit train under SIGINT and kill -9', { skip: hasShared ? false : 'no ../shared' }, () => {
  const reference = path.join(scratch, 'cli-whole');

  it('runs uninterrupted for the reference losses', async () => {
    const result = await trainCli(['--config', cliConfig, '--output-dir', reference]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(lossesOf(reference).length, 12);
  });

  it('SIGINT saves a checkpoint and exits 130; --resume-from-checkpoint continues to the same losses', async () => {
    const out = path.join(scratch, 'cli-sigint');
    let sent = false;
    const first = await trainCli(['--config', cliConfig, '--output-dir', out], (line, child) => {
      if (line.event === 'step' && line.step === 5 && !sent) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    assert.equal(first.code, 130, first.stderr);
    const result = JSON.parse(first.stdout.trimEnd().split('\n').pop() as string) as { interrupted: boolean; global_step: number };
    assert.equal(result.interrupted, true);
    const stoppedAt = result.global_step;
    assert.ok(stoppedAt >= 5 && stoppedAt < 12, `stopped at ${stoppedAt}`);
    assert.equal(listCheckpoints(out).pop()?.step, stoppedAt);
    const second = await trainCli(['--config', cliConfig, '--output-dir', out, '--resume-from-checkpoint']);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(lossesOf(out), lossesOf(reference));
  });

  it('kill -9 at any moment leaves only whole checkpoints, and resume picks the newest one', async () => {
    for (const delayMs of [0, 7, 19]) {
      const out = path.join(scratch, `cli-kill-${delayMs}`);
      let killed = false;
      const first = await trainCli(['--config', cliConfig, '--output-dir', out], (line, child) => {
        if (line.event === 'save' && line.step === 3 && !killed) {
          killed = true;
          setTimeout(() => child.kill('SIGKILL'), delayMs);
        }
      });
      assert.equal(first.signal, 'SIGKILL');
      // Every checkpoint that looks complete is complete: its adapter and optimizer state read back.
      for (const { dir } of listCheckpoints(out)) {
        for (const file of ['adapter_model.safetensors', 'optimizer.safetensors']) (await loadSafetensorsFile(path.join(dir, file))).tensors.forEach((tensor) => tensor.dispose());
        JSON.parse(readFileSync(path.join(dir, 'tunekit_state.json'), 'utf8'));
      }
      const second = await trainCli(['--config', cliConfig, '--output-dir', out, '--resume-from-checkpoint']);
      assert.equal(second.code, 0, second.stderr);
      assert.deepEqual(lossesOf(out), lossesOf(reference), `killed ${delayMs} ms after the step-3 checkpoint`);
    }
  });
});
