// The trainer issue's acceptance, from the CLI: full fine-tuning, LoRA, QLoRA and prompt tuning of stories260K
// (decoder-only, 512-token context) and of the hf-tiny T5 (seq2seq, with a character tokenizer made here) on a
// DialogSum-derived instruction task (the bundled summarize_dialogue templates over the shortest dialogues),
// validation during training with falling loss, and a test score (loss and generation ROUGE) in test_results.json.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { modelWithCharTokenizer } from './helpers/char-tokenizer.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const dialogsum = path.join(sharedDir, 'data', 'dialogsum');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-acceptance-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The first `count` records of a DialogSum split whose dialogue and summary are short. */
function shortDialogues(split: string, count: number, maxDialogue: number): string {
  const chosen: string[] = [];
  for (const line of readFileSync(path.join(dialogsum, `${split}.jsonl`), 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    // The test split has three reference summaries (summary1…3); the first is the reference here.
    const record = JSON.parse(line) as { dialogue: string; summary?: string; summary1?: string };
    const summary = record.summary ?? record.summary1 ?? '';
    if (record.dialogue.length > maxDialogue || summary.length > 120) continue;
    chosen.push(JSON.stringify({ dialogue: record.dialogue, summary }));
    if (chosen.length === count) break;
  }
  const file = path.join(scratch, `${split}-${maxDialogue}.jsonl`);
  writeFileSync(file, chosen.join('\n') + '\n');
  return file;
}

interface Outcome {
  evalLosses: number[];
  test: Record<string, number>;
}

function trainCli(model: string, method: string, data: { train: string; validation: string; test: string }, extra: string[]): Outcome {
  const out = path.join(scratch, `${path.basename(model)}-${method}`);
  const result = spawnSync(
    process.execPath,
    [
      cli, 'train', '--model', model, '--method', method, '--dataset', data.train, '--eval-dataset', data.validation, '--test-dataset', data.test,
      '--template', 'summarize_dialogue', '--max-length', '512', '--per-device-train-batch-size', '8', '--per-device-eval-batch-size', '8',
      '--eval-strategy', 'steps', '--logging-steps', '4', '--save-strategy', 'no', '--predict-with-generate', '--generation-max-length', '16',
      '--generation-samples', '4', '--seed', '1', '--output-dir', out, '--json', ...extra,
    ],
    { encoding: 'utf8', env: { ...process.env, TUNEKIT_THREADS: '1' } },
  );
  assert.equal(result.status, 0, result.stderr);
  const events = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, number | string>);
  assert.ok(existsSync(path.join(out, method === 'full' ? 'model.safetensors' : 'adapter_model.safetensors')));
  return {
    evalLosses: events.filter((event) => event.event === 'eval').map((event) => event.eval_loss as number),
    test: JSON.parse(readFileSync(path.join(out, 'test_results.json'), 'utf8')) as Record<string, number>,
  };
}

function assertLearned(outcome: Outcome, what: string): void {
  const [first, ...rest] = outcome.evalLosses;
  assert.ok(rest.length >= 1, `${what}: at least two evaluations`);
  assert.ok(rest[rest.length - 1] < first, `${what}: validation loss fell (${outcome.evalLosses.map((loss) => loss.toFixed(3)).join(' → ')})`);
  for (const key of ['test_loss', 'test_perplexity', 'test_mean_token_accuracy', 'test_rouge1', 'test_rouge2', 'test_rougeL', 'test_rougeLsum']) {
    assert.ok(Number.isFinite(outcome.test[key]), `${what}: ${key} in test_results.json`);
  }
  assert.ok(outcome.test.test_rouge1 >= 0 && outcome.test.test_rouge1 <= 1);
}

// Steps and learning rates per method: a tiny model learns this in a couple of dozen steps.
const METHODS: [string, string[]][] = [
  ['full', ['--learning-rate', '0.002', '--max-steps', '16', '--eval-steps', '8']],
  ['lora', ['--learning-rate', '0.02', '--max-steps', '16', '--eval-steps', '8', '--r', '8', '--lora-alpha', '16']],
  ['qlora', ['--learning-rate', '0.02', '--max-steps', '16', '--eval-steps', '8', '--r', '8', '--lora-alpha', '16']],
  ['prompt_tuning', ['--learning-rate', '0.1', '--max-steps', '16', '--eval-steps', '8', '--num-virtual-tokens', '8']],
];

describe('fine-tuning on a DialogSum-derived task from the CLI', { skip: hasShared ? false : 'no ../shared' }, () => {
  const summaries: Record<string, Record<string, number>> = {};
  after(() => console.log(JSON.stringify({ acceptance: summaries })));

  describe('stories260K (decoder-only)', () => {
    const model = path.join(sharedDir, 'reference', 'models', 'stories260K');
    const data = { train: shortDialogues('train', 48, 300), validation: shortDialogues('validation', 8, 300), test: shortDialogues('test', 8, 300) };
    for (const [method, extra] of METHODS) {
      it(method, () => {
        const outcome = trainCli(model, method, data, extra);
        assertLearned(outcome, `stories260K ${method}`);
        summaries[`stories260K/${method}`] = { first_eval_loss: outcome.evalLosses[0], last_eval_loss: outcome.evalLosses.at(-1) as number, test_loss: outcome.test.test_loss, test_rouge1: outcome.test.test_rouge1 };
      });
    }
  });

  describe('hf-tiny T5 (seq2seq)', () => {
    const model = modelWithCharTokenizer(path.join(sharedDir, 'reference', 'models', 'hf-tiny', 't5_flan'), path.join(scratch, 't5_flan'));
    const data = { train: shortDialogues('train', 32, 280), validation: shortDialogues('validation', 8, 280), test: shortDialogues('test', 8, 280) };
    for (const [method, extra] of METHODS) {
      it(method, () => {
        const outcome = trainCli(model, method, data, extra);
        assertLearned(outcome, `T5 ${method}`);
        summaries[`t5/${method}`] = { first_eval_loss: outcome.evalLosses[0], last_eval_loss: outcome.evalLosses.at(-1) as number, test_loss: outcome.test.test_loss, test_rouge1: outcome.test.test_rouge1 };
      });
    }
  });
});
