// Catastrophic forgetting: the paired bootstrap over documents on hand-made values, pairing checks, general-text
// files, and end to end on a tiny Llama: a LoRA and a full fine-tune of the same model on the same data, trained by
// the run config's forgetting_tasks path, then measured again by the library and by `tunekit forgetting`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { evaluate, loadModel, metrics, parseRunConfig, PeftModel, report, setNumThreads, TunekitError } from '../src/index.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

// One libtorch thread: on this 2-core machine, shared with other work, two threads of a tiny model oversubscribe.
setNumThreads(1);
const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const stories = path.join(sharedDir, 'reference', 'models', 'stories260K');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-forgetting-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const jsonl = (records: object[]) => records.map((record) => JSON.stringify(record) + '\n').join('');

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => error instanceof TunekitError && pattern.test(error.message), `expected a TunekitError matching ${pattern}`);
}

describe('paired bootstrap over documents', () => {
  const values = [0.25, 1, 0, 0.5, 0.75, 1, 0, 0.25, 0.5, 1];

  it('identical systems: delta 0, a zero-width interval, p = 1', () => {
    const statistic = evaluate.meanStatistic(values);
    const paired = evaluate.pairedBootstrapDifference(values.length, statistic, statistic, { samples: 500, seed: 3 });
    assert.deepEqual(paired, { difference: 0, low: 0, high: 0, pValue: 1 });
  });

  it('a constant shift of every document: that shift, with an interval of that one value', () => {
    const shifted = values.map((value) => value - 0.125);
    const paired = evaluate.pairedBootstrapDifference(values.length, evaluate.meanStatistic(values), evaluate.meanStatistic(shifted), { samples: 500 });
    for (const bound of [paired.difference, paired.low, paired.high]) assert.ok(Math.abs(bound + 0.125) < 1e-12, String(bound));
    assert.equal(paired.pValue, 1 / 501);
  });

  it('a mixed change: the interval holds the observed delta, is repeatable for a seed, and narrows with confidence', () => {
    const after = values.map((value, index) => (index % 3 === 0 ? 1 - value : value));
    const run = (options: evaluate.DocumentBootstrapOptions) => evaluate.pairedBootstrapDifference(values.length, evaluate.meanStatistic(values), evaluate.meanStatistic(after), { samples: 2000, ...options });
    const wide = run({ seed: 7 });
    assert.ok(wide.low < wide.difference && wide.difference < wide.high, JSON.stringify(wide));
    assert.deepEqual(run({ seed: 7 }), wide);
    assert.notDeepEqual(run({ seed: 8 }), wide);
    const narrow = run({ seed: 7, confidence: 0.5 });
    assert.ok(narrow.low >= wide.low && narrow.high <= wide.high && narrow.high - narrow.low < wide.high - wide.low);
  });

  it("gives metrics/intervals.ts's numbers for a mean (same resamples, percentiles and p-value)", () => {
    const after = values.map((value, index) => (index % 4 === 1 ? value / 2 : value));
    const options = { samples: 300, seed: 5 };
    assert.deepEqual(evaluate.pairedBootstrapDifference(values.length, evaluate.meanStatistic(values), evaluate.meanStatistic(after), options), metrics.pairedMeanDifference(values, after, options));
    assert.deepEqual(evaluate.bootstrapInterval(values.length, evaluate.meanStatistic(values), options), metrics.meanInterval(values, options));
  });

  it('a corpus ratio (word perplexity) resamples documents and recomputes from the sums', () => {
    const logLikelihoods = [-10, -20, -5, -8];
    const words = [4, 6, 2, 3];
    const perplexity = evaluate.ratioStatistic(logLikelihoods, words, (ratio) => Math.exp(-ratio));
    const interval = evaluate.bootstrapInterval(4, perplexity, { samples: 300 });
    assert.ok(Math.abs(interval.value - Math.exp(43 / 15)) < 1e-12);
    assert.ok(interval.low <= interval.value && interval.value <= interval.high);
    // Doubling every log-likelihood squares each resample's perplexity: the interval's ends square too.
    const doubled = evaluate.ratioStatistic(logLikelihoods.map((ll) => 2 * ll), words, (ratio) => Math.exp(-ratio));
    const paired = evaluate.pairedBootstrapDifference(4, perplexity, doubled, { samples: 300 });
    assert.ok(Math.abs(paired.difference - (Math.exp(86 / 15) - Math.exp(43 / 15))) < 1e-9);
    assert.ok(paired.low > 0);
  });

  it('refuses no documents, bad sample counts and confidences', () => {
    const statistic = evaluate.meanStatistic([1]);
    rejects(() => evaluate.pairedBootstrapDifference(0, statistic, statistic), /at least one document/);
    rejects(() => evaluate.bootstrapInterval(1, statistic, { samples: 0 }), /samples must be a positive integer/);
    rejects(() => evaluate.bootstrapInterval(1, statistic, { confidence: 1 }), /confidence must lie in \(0, 1\)/);
  });
});

describe('forgetting rows from per-document scores', () => {
  const scores = (values: number[], logLikelihoods: number[]): evaluate.SystemScores => ({
    tasks: [{ task: 'mc', metric: 'acc', aggregation: 'mean', higherIsBetter: true, values, keys: values.map((_, i) => `doc${i}`) }],
    text: { name: 'wiki', logLikelihoods, words: logLikelihoods.map(() => 5), bytes: logLikelihoods.map(() => 25) },
  });

  it('one row per task metric and two per general text, with before, after and the delta', () => {
    const before = scores([1, 0, 1, 1], [-10, -12, -9, -11]);
    const after = scores([0, 0, 1, 0], [-12, -12, -10, -13]);
    const rows = evaluate.forgettingRows('lora', before, after, { samples: 200 });
    assert.deepEqual(rows.map((row) => [row.task, row.metric, row.higherIsBetter, row.documents]), [['mc', 'acc', true, 4], ['wiki', 'word_perplexity', false, 4], ['wiki', 'bits_per_byte', false, 4]]);
    assert.equal(rows[0].before, 0.75);
    assert.equal(rows[0].after, 0.25);
    assert.equal(rows[0].delta.value, -0.5);
    assert.ok(Math.abs(rows[1].before - Math.exp(42 / 20)) < 1e-12 && Math.abs(rows[1].after - Math.exp(47 / 20)) < 1e-12);
    assert.ok(Math.abs(rows[2].delta.value - 5 / 100 / Math.LN2) < 1e-12);
    for (const row of rows) assert.ok(row.delta.low <= row.delta.value && row.delta.value <= row.delta.high);
  });

  it('refuses systems scored on other documents', () => {
    const before = scores([1, 0], [-1, -2]);
    const moved = { ...scores([1, 0], [-1, -2]), tasks: [{ ...before.tasks[0], keys: ['doc1', 'doc0'] }] };
    rejects(() => evaluate.forgettingRows('x', before, moved), /task "mc" was not scored on the same documents and prompts/);
    rejects(() => evaluate.forgettingRows('x', before, scores([1, 0], [-1])), /general text was not scored on the same documents/);
  });
});

describe('general text files', () => {
  it('reads .jsonl "text" records, a .json list, paragraphs, and lines when there are no paragraphs', async () => {
    const write = (name: string, text: string) => {
      const file = path.join(scratch, name);
      writeFileSync(file, text);
      return file;
    };
    assert.deepEqual(await evaluate.readGeneralText(write('a.jsonl', jsonl([{ text: 'one two' }, { text: 'three' }]))), { name: 'a', documents: ['one two', 'three'] });
    assert.deepEqual((await evaluate.readGeneralText(write('b.json', JSON.stringify(['x', { text: 'y' }])))).documents, ['x', 'y']);
    assert.deepEqual((await evaluate.readGeneralText(write('c.txt', 'first line\nsame paragraph\n\n  \nsecond\n'))).documents, ['first line\nsame paragraph', 'second']);
    assert.deepEqual((await evaluate.readGeneralText(write('d.txt', 'one\ntwo\r\nthree\n'))).documents, ['one', 'two', 'three']);
    await assert.rejects(evaluate.readGeneralText(write('e.jsonl', '{"body": "no text"}\n')), /e\.jsonl:1: expected a record with a string "text" field/);
    await assert.rejects(evaluate.readGeneralText(write('f.txt', '\n\n')), /no documents of general text/);
  });
});

describe('run config forgetting keys', () => {
  const base = { model: 'm', dataset: 'd.jsonl', output_dir: 'out' };

  it('accepts a list or a comma-separated string of tasks, and refuses keys that measure nothing', () => {
    assert.deepEqual(parseRunConfig({ ...base, forgetting_tasks: 'a, b' }, 'run.yaml').run.forgetting_tasks, ['a', 'b']);
    const config = parseRunConfig({ ...base, forgetting_tasks: ['a'], forgetting_include_path: 'tasks', forgetting_limit: 5, forgetting_text: 'wiki.txt' }, 'run.yaml');
    assert.deepEqual([config.run.forgetting_include_path, config.run.forgetting_limit, config.run.forgetting_text], [['tasks'], 5, 'wiki.txt']);
    rejects(() => parseRunConfig({ ...base, forgetting_tasks: [] }, 'run.yaml'), /run\.yaml: 'forgetting_tasks' must be a list of names/);
    rejects(() => parseRunConfig({ ...base, forgetting_limit: 5 }, 'run.yaml'), /'forgetting_limit' does nothing without forgetting_tasks or forgetting_text/);
    rejects(() => parseRunConfig({ ...base, forgetting_tasks: ['a'], forgetting_limit: 0 }, 'run.yaml'), /'forgetting_limit' must be a positive integer/);
    rejects(() => parseRunConfig({ ...base, forgeting_tasks: ['a'] }, 'run.yaml'), /unknown key 'forgeting_tasks' \(did you mean 'forgetting_tasks'\?\)/);
  });
});

describe('forgetting end to end on a tiny Llama', { skip: hasShared ? false : 'no ../shared' }, () => {
  // A held-out multiple-choice task the tuned models never see, and general text.
  const tasks = path.join(scratch, 'tasks');
  const stories12 = [
    ['Ben and Mia went to the beach. They built a sand', ['castle', 'dog', 'cake']],
    ['It was time for bed. Lily said good', ['night', 'morning', 'food']],
    ['The cat was hungry. It wanted some', ['milk', 'shoes', 'trees']],
    ['Max found a shiny', ['rock', 'run', 'the']],
    ['Anna liked to draw pictures with her', ['crayons', 'feet', 'soup']],
    ['The dog ran fast in the', ['park', 'cup', 'pencil']],
    ['One day, a girl named Lily went to the', ['store', 'moon', 'sad']],
    ['Tim saw a big truck. The truck was', ['red', 'sleep', 'jump']],
    ['The sun was hot. Tim wanted to drink some', ['water', 'sand', 'rocks']],
    ['Sue had a little', ['cat', 'went', 'blue']],
  ] as const;
  writeFileSync(path.join(scratch, 'mc.jsonl'), jsonl(stories12.map(([story, choices]) => ({ story, choices, label: 0 }))));
  const taskYaml = ['task: held_out_mc', 'dataset_path: json', 'dataset_kwargs:', '  data_files:', `    test: ${path.join(scratch, 'mc.jsonl')}`, 'output_type: multiple_choice', 'test_split: test', 'doc_to_text: "{{story}}"', 'doc_to_choice: "{{choices}}"', 'doc_to_target: label', 'metric_list:', '  - metric: acc', '  - metric: acc_norm'].join('\n');
  const textFile = path.join(scratch, 'general.txt');
  writeFileSync(textFile, ['Once upon a time, there was a little girl named Lily. She loved to play outside.', 'Tom had a big red ball. He threw it high in the sky.', 'The bird sang a song in the tree. It was a happy day.', 'Mom made a cake. The kids ate it all and said thank you.', 'A small dog saw a cat. The dog wanted to be friends.', 'It was raining. Sam and his sister played inside with their toys.'].join('\n\n') + '\n');
  // Training data far from both: the same odd sentence again and again.
  writeFileSync(path.join(scratch, 'train.jsonl'), jsonl(Array.from({ length: 8 }, (_, i) => ({ prompt: `Zork ${i} says`, completion: ' blip blop zap zap zap.' }))));
  const common = { model: stories, dataset: path.join(scratch, 'train.jsonl'), max_steps: 4, per_device_train_batch_size: 4, logging_steps: 1, save_strategy: 'no', seed: 11, forgetting_tasks: ['held_out_mc'], forgetting_include_path: [tasks], forgetting_text: textFile };
  const options = { samples: 400 };

  it('the trainer path: a LoRA and a full fine-tune each write forgetting.json with every delta and its interval; the library and the CLI agree', async () => {
    mkdirSync(tasks, { recursive: true });
    writeFileSync(path.join(tasks, 'held_out_mc.yaml'), taskYaml);
    const lora = await evaluate.trainWithForgetting(parseRunConfig({ ...common, method: 'lora', r: 4, lora_alpha: 16, target_modules: ['q_proj', 'v_proj', 'o_proj'], learning_rate: 0.05, output_dir: path.join(scratch, 'lora') }, 'lora.yaml'), { forgetting: options });
    const full = await evaluate.trainWithForgetting(parseRunConfig({ ...common, method: 'full', learning_rate: 0.01, output_dir: path.join(scratch, 'full') }, 'full.yaml'), { forgetting: options });
    for (const [result, method] of [[lora, 'lora'], [full, 'full']] as const) {
      assert.ok(result.forgetting !== null && result.forgettingFile === path.join(scratch, method, 'forgetting.json'));
      const written = JSON.parse(readFileSync(result.forgettingFile, 'utf8')) as report.ComparisonReport;
      assert.deepEqual(written, JSON.parse(JSON.stringify(result.forgetting)));
      assert.equal(written.schema, report.REPORT_SCHEMA);
      assert.deepEqual(written.systems.map((system) => [system.name, system.method]), [['base', 'base'], [method, method]]);
      const tuned = written.systems[1];
      assert.equal(tuned.trainableParameters, result.run.trainable);
      assert.equal(tuned.loss?.train.length, 4);
      assert.ok((tuned.trainSeconds ?? 0) > 0);
      assert.deepEqual(Object.keys(tuned.significance ?? {}), ['held_out_mc/acc', 'general/word_perplexity', 'general/bits_per_byte']);
      assert.deepEqual(written.forgetting?.map((row) => [row.system, row.task, row.metric, row.documents]), [[method, 'held_out_mc', 'acc', 10], [method, 'general', 'word_perplexity', 6], [method, 'general', 'bits_per_byte', 6]]);
      for (const row of written.forgetting ?? []) {
        assert.ok(Number.isFinite(row.delta.low) && row.delta.low <= row.delta.value && row.delta.value <= row.delta.high, JSON.stringify(row));
        assert.ok(Math.abs(row.after - row.before - row.delta.value) < 1e-9);
      }
      // Training on nonsense raises the perplexity of ordinary stories.
      const perplexity = written.forgetting?.find((row) => row.metric === 'word_perplexity');
      assert.ok(perplexity !== undefined && perplexity.delta.value > 0, JSON.stringify(perplexity));
    }
    assert.ok((full.forgetting?.systems[1].trainableParameters ?? 0) > (lora.forgetting?.systems[1].trainableParameters ?? 0));

    // Both systems at once through the library: the same rows as each run measured.
    const base = await loadModel(stories);
    const rows = await evaluate.measureForgetting({
      base: { model: base.model, tokenizer: base.tokenizer },
      tuned: [
        { name: 'full', load: () => loadModel(path.join(scratch, 'full')) },
        { name: 'lora', load: async () => ({ model: await PeftModel.fromPretrained((await loadModel(stories)).model, path.join(scratch, 'lora')) }) },
      ],
      tasks: ['held_out_mc'],
      generalText: await evaluate.readGeneralText(textFile),
      options: { ...options, includePaths: [tasks] },
    });
    assert.deepEqual(rows, [...(full.forgetting?.forgetting ?? []), ...(lora.forgetting?.forgetting ?? [])]);
    // "before" is lm-eval's number: the task's acc, and a loglikelihood_rolling task's word perplexity and bits per
    // byte over the same documents.
    const documents = (await evaluate.readGeneralText(textFile)).documents;
    writeFileSync(path.join(scratch, 'general.jsonl'), jsonl(documents.map((text) => ({ text }))));
    writeFileSync(path.join(tasks, 'general_rolling.yaml'), ['task: general_rolling', 'dataset_path: json', 'dataset_kwargs:', '  data_files:', `    test: ${path.join(scratch, 'general.jsonl')}`, 'output_type: loglikelihood_rolling', 'test_split: test', 'doc_to_text: ""', 'doc_to_target: "{{text}}"', 'metric_list:', '  - metric: word_perplexity', '  - metric: bits_per_byte'].join('\n'));
    const harness = await evaluate.runEvaluation(base.model, base.tokenizer, ['held_out_mc', 'general_rolling'], { includePaths: [tasks], bootstrapIterations: 0 });
    base.model.dispose();
    const before = (metric: string) => rows.find((row) => row.metric === metric)?.before as number;
    assert.equal(before('acc'), harness.results.held_out_mc['acc,none']);
    for (const metric of ['word_perplexity', 'bits_per_byte']) assert.ok(Math.abs(before(metric) / (harness.results.general_rolling[`${metric},none`] as number) - 1) < 1e-12, metric);

    // The CLI: the same rows as JSON, and the report with one system per model.
    const out = path.join(scratch, 'report');
    const result = spawnSync(process.execPath, [cli, 'forgetting', '--base', stories, '--tuned', `full=${path.join(scratch, 'full')}`, '--adapter', path.join(scratch, 'lora'), '--tasks', 'held_out_mc', '--include-path', tasks, '--text', textFile, '--bootstrap-samples', '400', '--output', out, '--json'], { cwd: scratch, encoding: 'utf8', env: { ...process.env, TUNEKIT_THREADS: '1' } });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), rows);
    const saved = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as report.ComparisonReport;
    assert.deepEqual(saved.forgetting, rows);
    assert.deepEqual(saved.systems.map((system) => [system.name, system.method, system.trainableParameters]), [['base', 'base', undefined], ['full', 'full', full.run.trainable], ['lora', 'lora', lora.run.trainable]]);

    const table = spawnSync(process.execPath, [cli, 'forgetting', '--base', stories, '--adapter', `lora=${path.join(scratch, 'lora')}`, '--tasks', 'held_out_mc', '--include-path', tasks, '--limit', '4'], { cwd: scratch, encoding: 'utf8', env: { ...process.env, TUNEKIT_THREADS: '1' } });
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^\|System\|Task\|Metric\| \|Before\|After\|Delta\|95% interval\|Documents\|\n/);
    assert.match(table.stdout, /\|lora\|held_out_mc\|acc\|↑\|\d\.\d{4}\|\d\.\d{4}\|[+-]?\d\.\d{4}\|\[-?\d\.\d{4}, -?\d\.\d{4}\]\|4\|/);
  });

  it('tunekit train with forgetting_tasks measures at the end; a misspelled task fails before training', () => {
    const config = path.join(scratch, 'run.yaml');
    writeFileSync(config, [`model: ${stories}`, 'method: lora', `dataset: ${path.join(scratch, 'train.jsonl')}`, 'r: 2', 'max_steps: 2', 'per_device_train_batch_size: 4', 'logging_steps: 1', 'save_strategy: "no"', 'learning_rate: 0.05', 'output_dir: cli-run', 'forgetting_tasks: [held_out_mc]', `forgetting_include_path: ${tasks}`, 'forgetting_limit: 3'].join('\n') + '\n');
    const env = { ...process.env, TUNEKIT_THREADS: '1' };
    const result = spawnSync(process.execPath, [cli, 'train', '--config', config, '--json'], { cwd: scratch, encoding: 'utf8', env });
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const forgetting = lines.find((line) => line.event === 'forgetting') as { file: string; rows: report.ForgettingRow[] };
    assert.equal(forgetting.file, path.join(scratch, 'cli-run', 'forgetting.json'));
    assert.deepEqual(forgetting.rows.map((row) => [row.system, row.task, row.documents]), [['lora', 'held_out_mc', 3]]);
    assert.deepEqual((JSON.parse(readFileSync(forgetting.file, 'utf8')) as report.ComparisonReport).forgetting, forgetting.rows);

    const misspelled = spawnSync(process.execPath, [cli, 'train', '--config', config, '--forgetting-tasks', '[held_out_m]', '--output-dir', 'never'], { cwd: scratch, encoding: 'utf8', env });
    assert.equal(misspelled.status, 1);
    assert.match(misspelled.stderr, /unknown task "held_out_m" \(did you mean held_out_mc\?\)/);
    assert.equal(existsSync(path.join(scratch, 'never')), false);
  });

  it('tunekit forgetting refuses a missing system and unknown flags', () => {
    const run = (args: string[]) => spawnSync(process.execPath, [cli, 'forgetting', ...args], { cwd: scratch, encoding: 'utf8' });
    assert.match(run(['--base', stories, '--tasks', 'x']).stderr, /give at least one tuned system/);
    assert.match(run(['--base', stories, '--adapter', 'a', '--task', 'x']).stderr, /unknown flag --task \(did you mean --tasks\?\)/);
    assert.match(run(['--base', stories, '--adapter', 'a']).stderr, /--tasks LIST .* or --text FILE .* is required/);
    const help = run(['--help']);
    assert.equal(help.status, 0);
    for (const flag of ['--base', '--tuned', '--adapter', '--tasks', '--include-path', '--text', '--limit', '--num-fewshot', '--bootstrap-samples', '--seed', '--output', '--json']) assert.ok(help.stdout.includes(flag), flag);
  });
});
