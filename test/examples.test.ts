// Every recipe under examples/ passes `tunekit train --config … --dry-run --json`: its keys resolve, its data is
// found and templated, its adapter builds and a memory estimate comes out. The recipes name real hub ids; a fake
// hub on 127.0.0.1 serves tiny stand-in models under those ids (the hf-tiny T5 with a character tokenizer for
// FLAN-T5, stories260K with a ChatML template for SmolLM2) and the datasets from ../shared/data. Files a recipe
// expects the user to fetch (README.md says how) are given by flag from ../shared/data instead.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { readSafetensors } from '../src/index.js';
import { modelWithCharTokenizer } from './helpers/char-tokenizer.js';
import { FakeHub, type RepoFile } from './helpers/fake-hub.js';
import { repoRoot, sharedDir } from './helpers/paths.js';

const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const examples = path.join(repoRoot, 'examples');
const data = path.join(sharedDir, 'data');
const models = path.join(sharedDir, 'reference', 'models');
const ready = existsSync(path.join(data, 'dialogsum', 'train.jsonl')) && existsSync(path.join(models, 'stories260K'));
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-examples-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

// SmolLM2-Instruct's template shape (ChatML, a default system turn), written here for the stand-in tokenizer.
const CHATML =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}" +
  "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const folderFiles = (dir: string): Record<string, RepoFile> => Object.fromEntries(readdirSync(dir).map((name) => [name, { path: path.join(dir, name) }]));

/** The files a recipe's README has the user fetch, and where this test finds them. */
const localFiles = (): Record<string, string> => ({
  'data/dialogsum/validation.csv': path.join(data, 'dialogsum', 'validation.jsonl'),
  'data/dialogsum/test.csv': path.join(scratch, 'dialogsum-test.jsonl'),
  'data/gsm8k/train.parquet': path.join(data, 'gsm8k', 'train.jsonl'),
  'data/self_instruct/seed_tasks.jsonl': path.join(data, 'self_instruct', 'seed_tasks.jsonl'),
});
const HUB_DATASETS = ['knkarthick/dialogsum', 'tatsu-lab/alpaca'];

const countLines = (file: string) => readFileSync(file, 'utf8').trimEnd().split('\n').length;
const TRAIN_ROWS = 1500;

function recipeConfigs(): string[] {
  return readdirSync(examples, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => readdirSync(path.join(examples, entry.name)).filter((name) => /\.ya?ml$/.test(name)).map((name) => path.join('examples', entry.name, name)))
    .filter((file) => 'model' in (parseYaml(readFileSync(path.join(repoRoot, file), 'utf8')) as object))
    .sort();
}

/** Where a dataset named in a recipe is read from in this test: the fake hub, or ../shared through a flag. */
function sourceFor(dataset: string, file: string): string | null {
  if (HUB_DATASETS.includes(dataset)) return null;
  const local = localFiles()[dataset];
  assert.ok(local !== undefined, `${file}: dataset ${dataset} is neither served by the fake hub nor a file the test knows`);
  return local;
}

interface DryRun {
  config: Record<string, unknown>;
  max_steps: number;
  datasets: Record<'train' | 'eval' | 'test', { examples: number; tokens: number; supervised_tokens: number; longest: number } | null>;
  trainable_parameters: number;
  total_parameters: number;
  memory_estimate: Record<'weights' | 'gradients' | 'optimizer' | 'activations' | 'total', number>;
  mixture: Record<string, { count: number; proportion: number; rate: number }> | null;
}

describe('examples/: every recipe passes tunekit train --dry-run', { skip: ready ? false : 'no ../shared/data or reference models' }, () => {
  const hub = new FakeHub();
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, HF_ENDPOINT: hub.endpoint, HF_HOME: path.join(scratch, 'hf'), HF_HUB_CACHE: path.join(scratch, 'hub'), HF_HUB_OFFLINE: '0', HF_TOKEN: '', TUNEKIT_THREADS: '1' });

  before(async () => {
    const t5 = modelWithCharTokenizer(path.join(models, 'hf-tiny', 't5_flan'), path.join(scratch, 'flan-t5'));
    const llama = path.join(scratch, 'smollm2');
    mkdirSync(llama);
    for (const name of readdirSync(path.join(models, 'stories260K'))) if (/\.(json|safetensors)$/.test(name) && name !== 'goldens.json') copyFileSync(path.join(models, 'stories260K', name), path.join(llama, name));
    writeFileSync(path.join(llama, 'chat_template.jinja'), CHATML);
    // The recipe reads a test file with DialogSum's fields (`summary`); ../shared keeps three references: use the first.
    const test = readFileSync(path.join(data, 'dialogsum', 'test.jsonl'), 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, string>);
    writeFileSync(localFiles()['data/dialogsum/test.csv'], test.map(({ fname, dialogue, summary1, topic1 }) => JSON.stringify({ fname, dialogue, summary: summary1, topic: topic1 })).join('\n') + '\n');
    hub.add('model', 'google/flan-t5-base', folderFiles(t5));
    hub.add('model', 'HuggingFaceTB/SmolLM2-135M-Instruct', folderFiles(llama));
    // The first rows of the big training sets keep the dry runs short (tokenizing all 12,460 dialogues takes ~35 s here).
    const dialogsum = readFileSync(path.join(data, 'dialogsum', 'train.jsonl'), 'utf8').split('\n').slice(0, TRAIN_ROWS);
    hub.add('dataset', 'knkarthick/dialogsum', { 'train.jsonl': Buffer.from(dialogsum.join('\n') + '\n'), 'validation.jsonl': { path: path.join(data, 'dialogsum', 'validation.jsonl') } });
    const alpaca = (JSON.parse(readFileSync(path.join(data, 'alpaca_subset', 'alpaca_5000.json'), 'utf8')) as unknown[]).slice(0, TRAIN_ROWS);
    hub.add('dataset', 'tatsu-lab/alpaca', { 'data/train-alpaca.json': Buffer.from(JSON.stringify(alpaca)) });
    await hub.start();
  });
  after(() => hub.stop());

  /** The CLI's arguments for a dry run of `file`, with the flags that point its local files at ../shared. */
  function dryRunArguments(file: string): { committed: Record<string, unknown>; flags: string[] } {
    const committed = parseYaml(readFileSync(path.join(repoRoot, file), 'utf8')) as Record<string, unknown>;
    const flags: string[] = [];
    for (const key of ['dataset', 'eval_dataset', 'test_dataset']) {
      const value = committed[key];
      if (typeof value !== 'string') continue;
      const local = sourceFor(value, file);
      if (local !== null) flags.push(`--${key.replace(/_/g, '-')}`, local);
    }
    const mixture = committed.mixture as { tasks: { dataset: string }[] } | undefined;
    if (mixture !== undefined) {
      const tasks = mixture.tasks.map((task) => ({ ...task, dataset: sourceFor(task.dataset, file) ?? task.dataset }));
      flags.push('--mixture', JSON.stringify({ ...mixture, tasks }));
    }
    return { committed, flags };
  }

  const tunekitTrain = (args: string[]) => promisify(execFile)(process.execPath, [cli, 'train', ...args, '--dry-run', '--json'], { cwd: repoRoot, env: env(), maxBuffer: 1 << 24 });

  async function dryRun(file: string): Promise<{ report: DryRun; committed: Record<string, unknown>; flags: string[] }> {
    const { committed, flags } = dryRunArguments(file);
    const { stdout } = await tunekitTrain(['--config', file, ...flags]);
    const lines = stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(lines.at(-1)?.event, 'dry_run', stdout);
    return { report: lines.at(-1) as unknown as DryRun, committed, flags };
  }

  function checkCommon(file: string, { report, committed, flags }: Awaited<ReturnType<typeof dryRun>>): void {
    const overridden = new Set(flags.filter((flag) => flag.startsWith('--')).map((flag) => flag.slice(2).replace(/-/g, '_')));
    for (const [key, value] of Object.entries(committed)) {
      if (!overridden.has(key) && key !== 'mixture') assert.deepEqual(report.config[key], value, `${file}: ${key} resolved to ${JSON.stringify(report.config[key])}`);
    }
    const maxLength = committed.max_length as number;
    for (const [name, stats] of Object.entries(report.datasets)) {
      if (stats === null) continue;
      assert.ok(stats.examples > 0 && stats.tokens > stats.examples, `${file}: ${name} ${JSON.stringify(stats)}`);
      assert.ok(stats.supervised_tokens > 0, `${file}: ${name} has no supervised token`);
      assert.ok(stats.longest <= maxLength, `${file}: ${name} longest ${stats.longest} > max_length ${maxLength}`);
    }
    if (committed.method === 'full') assert.equal(report.trainable_parameters, report.total_parameters);
    else assert.ok(report.trainable_parameters > 0 && report.trainable_parameters < report.total_parameters, `${file}: ${report.trainable_parameters} of ${report.total_parameters} trainable`);
    const memory = report.memory_estimate;
    assert.ok(memory.weights > 0 && memory.activations > 0 && memory.total >= memory.weights + memory.gradients + memory.optimizer, `${file}: memory ${JSON.stringify(memory)}`);
    const batches = Math.ceil((report.datasets.train?.examples ?? 0) / (committed.per_device_train_batch_size as number));
    assert.equal(report.max_steps, Math.ceil(batches / ((committed.gradient_accumulation_steps as number | undefined) ?? 1)) * (committed.num_train_epochs as number));
    const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    console.log(`${file}: ${report.datasets.train?.examples} train examples, ${report.max_steps} steps, ${report.trainable_parameters} of ${report.total_parameters} parameters trainable (stand-in model); estimated peak memory ${mib(memory.total)} (weights ${mib(memory.weights)}, gradients ${mib(memory.gradients)}, optimizer ${mib(memory.optimizer)}, activations ${mib(memory.activations)})`);
  }

  it('finds the recipes, each naming real hub ids for what the hub serves', () => {
    const configs = recipeConfigs();
    assert.deepEqual(configs, [
      'examples/flan-multitask/mixture.yaml',
      'examples/flan-t5-dialogsum/full.yaml',
      'examples/flan-t5-dialogsum/lora.yaml',
      'examples/smollm2-instruct/lora.yaml',
      'examples/smollm2-instruct/qlora.yaml',
    ]);
    for (const dir of ['flan-multitask', 'flan-t5-dialogsum', 'smollm2-instruct']) assert.ok(existsSync(path.join(examples, dir, 'README.md')), `${dir} has no README.md`);
  });

  for (const file of ['examples/flan-t5-dialogsum/full.yaml', 'examples/flan-t5-dialogsum/lora.yaml']) {
    it(`${file}: DialogSum train from the hub, validation and test, the lab's prompt`, async () => {
      const run = await dryRun(file);
      checkCommon(file, run);
      const { datasets } = run.report;
      assert.equal(datasets.train?.examples, TRAIN_ROWS);
      assert.equal(datasets.eval?.examples, 500);
      assert.equal(datasets.test?.examples, 500);
      assert.equal(run.report.config.predict_with_generate, true);
    });
  }

  const weights: Record<string, number> = {};
  for (const file of ['examples/smollm2-instruct/lora.yaml', 'examples/smollm2-instruct/qlora.yaml']) {
    it(`${file}: Alpaca records as chat messages in the model's template, split rest/500/500`, async () => {
      const run = await dryRun(file);
      checkCommon(file, run);
      const { datasets } = run.report;
      assert.deepEqual([datasets.train?.examples, datasets.eval?.examples, datasets.test?.examples], [TRAIN_ROWS - 1000, 500, 500]);
      // Conversational records without {% generation %} markers: the whole rendered conversation carries loss.
      assert.equal(datasets.train?.supervised_tokens, datasets.train?.tokens);
      weights[file] = run.report.memory_estimate.weights;
      if (file.endsWith('qlora.yaml')) assert.ok(weights[file] < weights['examples/smollm2-instruct/lora.yaml'], `QLoRA's NF4 base (${weights[file]} bytes) is not smaller than LoRA's float base`);
    });
  }

  it("assistant_only_loss, which the README says SmolLM2's template cannot serve, is refused naming the template", async () => {
    const file = 'examples/smollm2-instruct/lora.yaml';
    await assert.rejects(tunekitTrain(['--config', file, ...dryRunArguments(file).flags, '--assistant-only-loss', 'true']), (error: { code?: number; stderr?: string }) => {
      assert.equal(error.code, 1);
      assert.match(error.stderr ?? '', /assistantOnlyLoss needs a chat template with \{% generation %\}/);
      return true;
    });
  });

  it("flan-t5-dialogsum's README command for the original model's score trains nothing and writes test ROUGE", async () => {
    const file = 'examples/flan-t5-dialogsum/lora.yaml';
    const outputDir = path.join(scratch, 'original');
    const readme = readFileSync(path.join(examples, 'flan-t5-dialogsum', 'README.md'), 'utf8');
    const command = /^npx tunekit train (--config examples\/flan-t5-dialogsum\/lora\.yaml .*--output-dir runs\/flan-t5-dialogsum-original)$/m.exec(readme);
    assert.ok(command !== null, 'the README lost the command');
    const args = command[1].split(/\s+/).map((arg) => (arg === 'runs/flan-t5-dialogsum-original' ? outputDir : arg));
    // Only the sizes change here: 4 generated test summaries and the first 8 test dialogues, for time.
    const test = path.join(scratch, 'dialogsum-test-8.jsonl');
    writeFileSync(test, readFileSync(localFiles()['data/dialogsum/test.csv'], 'utf8').split('\n').slice(0, 8).join('\n') + '\n');
    const flags = dryRunArguments(file).flags.map((flag) => (flag === localFiles()['data/dialogsum/test.csv'] ? test : flag));
    await promisify(execFile)(process.execPath, [cli, 'train', ...args, ...flags, '--generation-samples', '4', '--json'], { cwd: repoRoot, env: env(), maxBuffer: 1 << 24 });
    const results = JSON.parse(readFileSync(path.join(outputDir, 'test_results.json'), 'utf8')) as Record<string, number>;
    assert.equal(results.test_samples, 8);
    for (const key of ['test_rouge1', 'test_rouge2', 'test_rougeL']) assert.ok(results[key] >= 0 && results[key] <= 1, `${key}: ${results[key]}`);
    // The saved adapter is the identity: every lora_B is still zero after the step at learning rate 0.
    const { tensors } = await readSafetensors(path.join(outputDir, 'adapter_model.safetensors'));
    const loraB = [...tensors].filter(([name]) => name.includes('lora_B'));
    assert.ok(loraB.length > 0);
    for (const [name, tensor] of loraB) assert.ok(tensor.data.every((byte) => byte === 0), `${name} is not zero`);
  });

  it('examples/flan-multitask/mixture.yaml: three tasks mixed proportionally with a cap', async () => {
    const file = 'examples/flan-multitask/mixture.yaml';
    const run = await dryRun(file);
    checkCommon(file, run);
    const mixture = run.report.mixture;
    assert.ok(mixture !== null);
    // Examples-proportional with a cap of 3,000: rate_i = min(n_i, cap) / sum_j min(n_j, cap), that many draws in all.
    const sizes: Record<string, number> = { dialogsum: TRAIN_ROWS, gsm8k: countLines(path.join(data, 'gsm8k', 'train.jsonl')), is_classification: 175 };
    const capped = Object.fromEntries(Object.entries(sizes).map(([task, size]) => [task, Math.min(size, 3000)]));
    const total = Object.values(capped).reduce((sum, size) => sum + size, 0);
    assert.deepEqual(Object.keys(mixture), Object.keys(sizes));
    assert.equal(run.report.datasets.train?.examples, total);
    for (const [task, realized] of Object.entries(mixture)) {
      const rate = capped[task] / total;
      assert.ok(Math.abs(realized.rate - rate) < 1e-12, `${task}: rate ${realized.rate}, expected ${rate}`);
      // Drawn task by task at those rates: each count within 4 binomial standard deviations of its expectation.
      assert.ok(Math.abs(realized.count - total * rate) <= 4 * Math.sqrt(total * rate * (1 - rate)), `${task}: ${realized.count} drawn, ~${(total * rate).toFixed(0)} expected`);
    }
  });
});
