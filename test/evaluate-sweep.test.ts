// `tunekit sweep`: one base config, one varied key, one run per value, each trained then decoding the same test
// prompts, ending in one comparison report; bad keys are refused by the run config's own validation, up front.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { evaluate, type report, setNumThreads, TunekitError } from '../src/index.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

// One libtorch thread: on this 2-core machine, shared with other work, two threads of a tiny model oversubscribe.
setNumThreads(1);
const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const stories = path.join(sharedDir, 'reference', 'models', 'stories260K');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-sweep-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const jsonl = (records: object[]) => records.map((record) => JSON.stringify(record) + '\n').join('');

describe('sweep settings', () => {
  it('KEY=V1,V2 reads each value as YAML, with commas inside lists kept', () => {
    assert.deepEqual(evaluate.parseVariation('r=1,4,16'), { key: 'r', values: [1, 4, 16] });
    assert.deepEqual(evaluate.parseVariation('target_modules=[q_proj, v_proj],[q_proj]'), { key: 'target_modules', values: [['q_proj', 'v_proj'], ['q_proj']] });
    assert.deepEqual(evaluate.parseVariation('model=a/b,"c,d"'), { key: 'model', values: ['a/b', 'c,d'] });
    for (const [text, pattern] of [['r', /expects KEY=V1,V2/], ['r=', /expects KEY=V1,V2/], ['r=1,,2', /an empty value/], ['r=2,2', /the value 2 is given twice/]] as const) {
      assert.throws(() => evaluate.parseVariation(text), (error: unknown) => error instanceof TunekitError && pattern.test(error.message), text);
    }
  });

  it('a dotted key path sets a nested value and leaves the base config alone', () => {
    const base = { mixture: { tasks: [], count: 10 }, r: 4 };
    assert.deepEqual(evaluate.withKeyPath(base, 'mixture.count', 20), { mixture: { tasks: [], count: 20 }, r: 4 });
    assert.equal(base.mixture.count, 10);
    assert.throws(() => evaluate.withKeyPath(base, 'r.x', 1), /cannot set r\.x: r is not a mapping/);
  });
});

describe('sweep end to end on a tiny Llama', { skip: hasShared ? false : 'no ../shared' }, () => {
  const train = Array.from({ length: 12 }, (_, i) => ({ prompt: `Tom ${i} had a`, completion: ' red ball.' }));
  const test = ['Lily had a', 'Ben had a', 'Mia had a', 'Sam had a'].map((prompt) => ({ prompt, completion: ' red ball.' }));
  writeFileSync(path.join(scratch, 'train.jsonl'), jsonl(train));
  writeFileSync(path.join(scratch, 'test.jsonl'), jsonl(test));
  const base = { model: stories, method: 'lora', dataset: path.join(scratch, 'train.jsonl'), test_dataset: path.join(scratch, 'test.jsonl'), target_modules: ['q_proj', 'v_proj'], lora_alpha: 8, learning_rate: 0.02, max_steps: 3, per_device_train_batch_size: 4, logging_steps: 1, save_strategy: 'no', seed: 3 };
  writeFileSync(path.join(scratch, 'base.json'), JSON.stringify(base));
  const options = { generation: { maxNewTokens: 4 }, bootstrap: { samples: 200 } };

  it('two LoRA ranks: one run each, one report with the first rank as baseline, the library and the CLI agree', async () => {
    const events: evaluate.SweepEvent[] = [];
    const result = await evaluate.runSweep(base, 'base.json', evaluate.parseVariation('r=2,4'), { ...options, outputDir: path.join(scratch, 'ranks'), onEvent: (event) => events.push(event) });
    assert.deepEqual(readdirSync(path.join(scratch, 'ranks', 'runs')), ['01-2', '02-4']);
    assert.deepEqual(result.reportFiles, ['report.html', 'report.md', 'report.json'].map((name) => path.join(scratch, 'ranks', name)));
    const saved = JSON.parse(readFileSync(path.join(scratch, 'ranks', 'report.json'), 'utf8')) as report.ComparisonReport;
    assert.deepEqual(saved, JSON.parse(JSON.stringify(result.report)));
    assert.equal(saved.baseline, 'r=2');
    assert.equal(saved.testSize, 4);
    assert.deepEqual(saved.systems.map((system) => system.name), ['r=2', 'r=4']);
    const [low, high] = saved.systems;
    // LoRA on q and v: r × (in + out) per matrix, so twice the rank is twice the parameters.
    assert.equal(high.trainableParameters, 2 * (low.trainableParameters as number));
    assert.ok(low.artifactBytes !== undefined && high.artifactBytes !== undefined && high.artifactBytes > low.artifactBytes);
    for (const system of saved.systems) {
      assert.equal(system.method, 'lora');
      assert.deepEqual(system.loss?.train.map(([step]) => step), [1, 2, 3]);
      assert.ok((system.trainSeconds ?? 0) > 0);
      assert.deepEqual(Object.keys(system.metrics), evaluate.DEFAULT_COMPARISON_METRICS);
    }
    assert.equal(low.significance, undefined);
    assert.deepEqual(Object.keys(high.significance ?? {}), evaluate.DEFAULT_COMPARISON_METRICS);
    assert.deepEqual(saved.examples?.map((example) => example.input), test.map((record) => record.prompt));
    assert.deepEqual(result.runs.map((run) => run.outputs), saved.systems.map((system) => saved.examples?.map((example) => example.outputs[system.name])));
    // The trained adapters' losses are the ones trainer_state.json logged.
    const state = JSON.parse(readFileSync(path.join(scratch, 'ranks', 'runs', '02-4', 'trainer_state.json'), 'utf8'));
    assert.deepEqual(high.loss?.train.map(([, loss]) => loss), state.log_history.filter((entry: Record<string, number>) => 'loss' in entry).map((entry: Record<string, number>) => entry.loss));
    assert.deepEqual(events.filter((event) => event.type === 'run').map((event) => (event as { name: string }).name), ['r=2', 'r=4']);

    const cliRun = spawnSync(process.execPath, [cli, 'sweep', '--config', 'base.json', '--vary', 'r=2,4', '--output', 'cli-ranks', '--test', 'test.jsonl', '--max-new-tokens', '4', '--bootstrap-samples', '200', '--json'], { cwd: scratch, encoding: 'utf8', env: { ...process.env, TUNEKIT_THREADS: '1' } });
    assert.equal(cliRun.status, 0, cliRun.stderr);
    const printed = JSON.parse(cliRun.stdout) as report.ComparisonReport;
    const comparable = (summary: report.SystemSummary) => ({ ...summary, trainSeconds: undefined, details: { ...summary.details, output_dir: undefined } });
    assert.deepEqual(printed.systems.map(comparable), saved.systems.map(comparable));
    assert.deepEqual(printed.examples, saved.examples);
    assert.ok(printed.notes?.includes('test set: test.jsonl (4 prompts)'), String(printed.notes));
  });

  it('training-set size: max_train_samples limits each run\'s examples; forgetting_tasks adds each run\'s forgetting rows', async () => {
    const forgetting = { forgetting_tasks: ['stories_mc'], forgetting_include_path: [path.join(repoRoot, 'test', 'fixtures', 'evaluate', 'tasks')], forgetting_limit: 3 };
    const result = await evaluate.runSweep({ ...base, ...forgetting, r: 2, max_steps: 1 }, 'base.json', evaluate.parseVariation('max_train_samples=4,8'), { ...options, outputDir: path.join(scratch, 'sizes') });
    assert.deepEqual(result.runs.map((run) => run.result.trainExamples), [4, 8]);
    assert.deepEqual(result.report.systems.map((system) => system.details?.train_examples), [4, 8]);
    assert.deepEqual(result.report.forgetting?.map((row) => [row.system, row.task, row.metric, row.documents]), [['max_train_samples=4', 'stories_mc', 'acc', 3], ['max_train_samples=8', 'stories_mc', 'acc', 3]]);
    assert.ok(existsSync(path.join(scratch, 'sizes', 'runs', '02-8', 'forgetting.json')));
  });

  it('refuses, before training anything, an unknown key, a bad value and a key that changes the test set', async () => {
    const refuses = async (variation: string, pattern: RegExp, config: Record<string, unknown> = base) => {
      const folder = path.join(scratch, `refused-${variation.replace(/\W+/g, '_')}`);
      await assert.rejects(evaluate.runSweep(config, 'base.json', evaluate.parseVariation(variation), { ...options, outputDir: folder }), (error: unknown) => error instanceof TunekitError && pattern.test(error.message), variation);
      assert.equal(existsSync(path.join(folder, 'runs')), false, variation);
    };
    await refuses('lora_rank=1,2', /base\.json \(lora_rank=1\): unknown key 'lora_rank'/);
    await refuses('method=lora,lorra', /base\.json \(method=lorra\): 'method' must be one of full, lora/);
    await refuses('output_dir=a,b', /sets each run's output_dir itself/);
    const { test_dataset: _test, ...withoutTest } = base;
    await refuses('seed=1,2', /varying seed changes the config's test set \(seed=2\); give a fixed one with --test FILE/, { ...withoutTest, split: [0.75, 0.25] });
    await refuses('r=2,4', /the config has no test set/, withoutTest);
    const cliRun = spawnSync(process.execPath, [cli, 'sweep', '--config', 'base.json', '--vary', 'lora_rank=1,2'], { cwd: scratch, encoding: 'utf8' });
    assert.equal(cliRun.status, 1);
    assert.match(cliRun.stderr, /^tunekit: base\.json \(lora_rank=1\): unknown key 'lora_rank'/);
    const help = spawnSync(process.execPath, [cli, 'sweep', '--help'], { encoding: 'utf8' });
    for (const flag of ['--config', '--vary', '--output', '--test', '--test-split', '--json']) assert.ok(help.stdout.includes(flag), flag);
  });
});
