// `tunekit compare` on stories260K: prompting systems and a LoRA run's output_dir decode the same test prompts; the
// report carries what the training folder recorded (loss curve, train_runtime, weights size) and the outputs
// equal decoding each system directly.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { evaluate, loadModel, PeftModel, setNumThreads, type Tokenizer } from '../src/index.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

setNumThreads(1);
const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const stories = path.join(sharedDir, 'reference', 'models', 'stories260K');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-compare-run-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const jsonl = (records: object[]) => records.map((record) => JSON.stringify(record) + '\n').join('');
const names = ['Lily', 'Tom', 'Sue', 'Ben', 'Max', 'Amy', 'Tim', 'Zoe'];
const records = names.map((name, index) => ({ prompt: `Once upon a time, ${name} had a`, completion: ` ${['ball', 'cat', 'dog', 'toy'][index % 4]}.` }));

function tunekit(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, TUNEKIT_THREADS: '1' } });
}

describe('tunekit compare', { skip: hasShared ? false : 'needs ../shared' }, () => {
  const train = path.join(scratch, 'train.jsonl');
  const test = path.join(scratch, 'test.jsonl');
  const run = path.join(scratch, 'lora-run');

  before(() => {
    writeFileSync(train, jsonl(records.slice(0, 6)));
    writeFileSync(test, jsonl(records.slice(6)));
    const trained = tunekit(['train', '--model', stories, '--method', 'lora', '--r', '4', '--dataset', train, '--output-dir', run, '--max-steps', '3', '--per-device-train-batch-size', '2', '--logging-steps', '1', '--learning-rate', '0.05', '--save-strategy', 'no', '--json']);
    assert.equal(trained.status, 0, trained.stderr);
  });

  it('compares prompting with a training output_dir, carrying its record, and writes the report', async () => {
    const output = path.join(scratch, 'report');
    const result = tunekit(['compare', '--model', stories, '--test', test, '--system', 'zero=zero-shot', '--system', 'two=few-shot:2', '--fewshot-pool', train, '--system', `lora=${run}`, '--bootstrap-samples', '50', '--max-new-tokens', '6', '--output', output, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { baseline: string; systems: { name: string; method: string; trainSeconds?: number; artifactBytes?: number; trainableParameters?: number; loss?: { train: [number, number][] } }[]; examples: { outputs: Record<string, string> }[] };
    assert.equal(report.baseline, 'zero');
    assert.deepEqual(report.systems.map((system) => [system.name, system.method]), [['zero', 'prompting'], ['two', 'prompting'], ['lora', 'lora']]);
    const lora = report.systems[2];
    assert.ok((lora.trainSeconds ?? 0) > 0 && (lora.artifactBytes ?? 0) > 0 && (lora.trainableParameters ?? 0) > 0, JSON.stringify(lora));
    assert.deepEqual(lora.loss?.train.map(([step]) => step), [1, 2, 3]);
    for (const file of ['report.html', 'report.md', 'report.json']) assert.ok(existsSync(path.join(output, file)), file);
    assert.equal(JSON.parse(readFileSync(path.join(output, 'report.json'), 'utf8')).systems.length, 3);

    // The outputs are each system's own greedy decoding of the test prompts.
    const prompts = records.slice(6).map((record) => record.prompt);
    const { model, tokenizer } = await loadModel(stories);
    const zero = evaluate.generateCompletions(model, tokenizer as Tokenizer, prompts, { maxNewTokens: 6, stop: ['\n\n'] }).texts;
    const peft = await PeftModel.fromPretrained(model, run);
    const tuned = evaluate.generateCompletions(peft, tokenizer as Tokenizer, prompts, { maxNewTokens: 6, stop: ['\n\n'] }).texts;
    peft.dispose();
    assert.deepEqual(report.examples.map((row) => row.outputs.zero), zero);
    assert.deepEqual(report.examples.map((row) => row.outputs.lora), tuned);
  });

  it('names bad systems clearly', () => {
    const missing = tunekit(['compare', '--model', stories, '--test', test, '--system', `x=${path.join(scratch, 'nowhere')}`]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /nowhere: not a folder/);
    const bad = tunekit(['compare', '--model', stories, '--test', test, '--system', 'x=few-shot']);
    assert.match(bad.stderr, /few-shot needs its count/);
    const none = tunekit(['compare', '--model', stories, '--test', test]);
    assert.match(none.stderr, /at least one --system/);
    const pool = tunekit(['compare', '--model', stories, '--test', test, '--system', 'k=few-shot:9', '--fewshot-pool', train]);
    assert.match(pool.stderr, /9-shot prompt needs at least 9 solved examples/);
  });
});
