// The bundled tasks (tasks/): every file parses and resolves; on small files with each dataset's field names they
// give the requests, targets and choices lm-eval 0.4.13 gives with its own task configs (fixtures/evaluate/bundled,
// made by its make.py; rerun live when lm-eval is importable); gsm8k, dialogsum and samsum run end to end on
// ../shared/data with a tiny model.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { evaluate, loadModel, metrics, setNumThreads } from '../src/index.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';
import { pythonHas } from './helpers/python.js';

setNumThreads(1);
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-bundled-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const fixtures = path.join(repoRoot, 'test', 'fixtures', 'evaluate', 'bundled');
const data = path.join(sharedDir, 'data');
const stories = path.join(sharedDir, 'reference', 'models', 'stories260K');

interface GoldenDocument {
  requests: unknown[][];
  target: unknown;
  choices?: string[];
  /** process_results of fixed log-likelihoods (multiple choice): choice i gets −((3i + doc) mod 5) − i/10. */
  results?: Record<string, unknown>;
}

interface BundledGolden {
  lm_eval_config: string;
  splits: string[];
  docs: Record<string, unknown>[];
  zero_shot: GoldenDocument[];
  one_shot: GoldenDocument[];
}

/** The bundled task `name` on `docs` written as a local json file for each of `splits`. */
async function loadOnRecords(name: string, docs: Record<string, unknown>[], splits: string[]): Promise<evaluate.EvalTask> {
  const file = path.join(scratch, `${name}.jsonl`);
  writeFileSync(file, docs.map((doc) => JSON.stringify(doc) + '\n').join(''));
  const config = new evaluate.TaskIndex().loadTask(name);
  return evaluate.EvalTask.load(evaluate.withDataFiles(config, Object.fromEntries(splits.map((split) => [split, [file]]))));
}

async function assertMatchesLmEval(goldens: Record<string, BundledGolden>): Promise<void> {
  for (const [name, golden] of Object.entries(goldens)) {
    for (const [shots, expected] of [[0, golden.zero_shot], [1, golden.one_shot]] as const) {
      const task = await loadOnRecords(name, golden.docs, golden.splits);
      const built = task.buildRequests(shots);
      assert.equal(built.length, expected.length, `${name}: documents`);
      built.forEach((document, i) => {
        const where = `${name}, ${shots}-shot, document ${i} (lm-eval config ${golden.lm_eval_config})`;
        assert.deepEqual(document.arguments, expected[i].requests, `${where}: requests`);
        assert.deepEqual(task.gold(document.doc), expected[i].target, `${where}: target`);
        if (expected[i].choices !== undefined) assert.deepEqual(evaluate.docToChoice(task, document.doc), expected[i].choices, `${where}: choices`);
        const results = expected[i].results;
        if (results === undefined) return;
        const responses = document.arguments.map((_, choice) => [-((3 * choice + i) % 5) - choice / 10, choice === 0]);
        const values = task.processResults(document.doc, responses);
        assert.deepEqual(Object.keys(values), Object.keys(results), `${where}: metrics`);
        for (const [metric, value] of Object.entries(results)) {
          // macro_f1's (gold, prediction) pair carries the choice count as a third item.
          const ours = values[metric];
          assert.deepEqual(Array.isArray(value) && Array.isArray(ours) ? ours.slice(0, value.length) : ours, value, `${where}: ${metric}`);
        }
      });
    }
  }
}

describe('bundled tasks', () => {
  const index = new evaluate.TaskIndex();

  it('every bundled YAML parses and resolves; mmlu is 57 subjects under four weighted category groups', () => {
    const names = index.list().map((entry) => entry.name);
    const groups: evaluate.ResolvedGroup[] = [];
    const configs = index.resolve(names, groups);
    for (const config of configs) assert.ok(config.source?.startsWith(evaluate.BUNDLED_TASKS_DIR), `${config.task} comes from ${config.source}`);
    for (const benchmark of ['boolq', 'cb', 'copa', 'multirc', 'record', 'sglue_rte', 'wic', 'wsc', 'cola', 'mnli', 'mnli_mismatch', 'mrpc', 'qnli', 'qqp', 'rte', 'sst2', 'wnli', 'hellaswag', 'arc_easy', 'arc_challenge', 'gsm8k', 'dialogsum', 'samsum']) {
      assert.ok(configs.some((config) => config.task === benchmark), benchmark);
    }
    const mmlu = groups.find((group) => group.config.group === 'mmlu')!;
    assert.equal(mmlu.leaves.length, 57);
    assert.deepEqual(mmlu.children, ['mmlu_stem', 'mmlu_other', 'mmlu_social_sciences', 'mmlu_humanities']);
    assert.deepEqual(mmlu.config.aggregateMetricList, [{ metric: 'acc', filterList: undefined, weightBySize: true }]);
    assert.equal(mmlu.config.version, '2');
    assert.equal(groups.find((group) => group.config.group === 'mmlu_stem')!.leaves.length, 19);
    assert.deepEqual(index.resolve(['super-glue-lm-eval-v1']).map((config) => config.task), ['boolq', 'cb', 'copa', 'multirc', 'record', 'sglue_rte', 'wic', 'wsc']);
    assert.equal(index.resolve(['glue']).length, 9);
    const gsm8k = index.loadTask('gsm8k');
    assert.deepEqual(gsm8k.filterList.map((filter) => filter.name), ['strict-match', 'flexible-extract']);
    assert.equal(gsm8k.numFewshot, 5);
    assert.deepEqual(index.loadTask('dialogsum').metricList.map((metric) => metric.metric), ['rouge1', 'rouge2', 'rougeL', 'rougeLsum']);
  });

  it('an include path wins over a bundled name; --list-tasks lists bundled tasks, groups and tags', () => {
    const folder = path.join(scratch, 'mine');
    execFileSync('mkdir', ['-p', folder]);
    writeFileSync(path.join(folder, 'boolq.yaml'), 'task: boolq\ndataset_path: json\ntest_split: test\ndoc_to_text: q\ndoc_to_target: a\n');
    assert.equal(new evaluate.TaskIndex([folder]).loadTask('boolq').source, path.join(folder, 'boolq.yaml'));
    const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
    const listed = spawnSync(process.execPath, [cli, 'eval', '--list-tasks', '--include-path', folder], { encoding: 'utf8' });
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /^task +boolq +\S+mine\/boolq\.yaml$/m);
    assert.match(listed.stdout, /^group +mmlu +\(mmlu_stem, mmlu_other, mmlu_social_sciences, mmlu_humanities\)$/m);
    assert.match(listed.stdout, /^tag +glue +\(cola, mnli, mnli_mismatch, mrpc, qnli, qqp, rte, sst2, wnli\)$/m);
    assert.match(listed.stdout, /^task +hellaswag +\S+tasks\/hellaswag\/hellaswag\.yaml$/m);
  });

  it('gives the requests, targets and choices of lm-eval\'s own configs (recorded), zero- and one-shot', async () => {
    await assertMatchesLmEval(JSON.parse(readFileSync(path.join(fixtures, 'goldens.json'), 'utf8')));
  });

  it('renders the Jinja the bundled files use as lm-eval\'s jinja2 environment does (regex_replace, map, capitalize, index, escapes)', () => {
    // Each expected text is what lm_eval.utils.apply_template printed for the template and record.
    const cases: [string, Record<string, unknown>, string][] = [
      ["{{ t | regex_replace('\\[.*?\\]', '') }}", { t: 'a [x] b [y]c' }, 'a  b c'],
      ["{{ t | regex_replace(' ([.,])', '\\\\1') }}", { t: 'a , b . c' }, 'a, b. c'],
      ["{{ t | regex_replace(' ([.,])', '\\1') }}", { t: 'a , b . c' }, 'a\u0001 b\u0001 c'],
      ["{{ t | regex_replace('(?P<w>o)', '<\\g<w>>', 1) }}", { t: 'foo' }, 'f<o>o'],
      ["{{ e | map('trim') | map('replace', 'a', 'x') | list }}", { e: [' a ', 'ba'] }, "['x', 'bx']"],
      ['{{ t | capitalize }} {{ t.capitalize() }}', { t: 'hELLO wORLD' }, 'Hello world Hello world'],
      ['{{ l.index(k) }}', { l: ['A', 'B', 'C'], k: 'C' }, '2'],
      ["{{ 'x\\d' }}", {}, 'x\\d'],
    ];
    for (const [template, doc, expected] of cases) assert.equal(evaluate.renderTemplate(template, doc, 'jinja'), expected, template);
    assert.throws(() => evaluate.renderTemplate('{{ l.index(k) }}', { l: ['A'], k: 'Z' }, 'jinja'), /'Z' is not in list/);
  });

  it('--data-files takes SPLIT=FILE entries', () => {
    const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
    const run = spawnSync(process.execPath, [cli, 'eval', '--model', stories, '--tasks', 'gsm8k', '--data-files', 'test.jsonl'], { encoding: 'utf8' });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /--data-files expects SPLIT=FILE entries separated by commas \(e\.g\. test=test\.jsonl\), got "test\.jsonl"/);
    const mixed = evaluate.withDataFiles(index.loadTask('boolq'), { validation: ['v.jsonl'] });
    assert.equal(mixed.datasetPath, 'json');
    assert.equal(mixed.datasetName, undefined);
    assert.throws(() => evaluate.withDataFiles(index.loadTask('boolq'), { validation: ['v.jsonl'], train: ['t.csv'] }), /data files must all be/);
  });

  it('scores CB\'s f1 as lm-eval\'s cb_multi_fi (the mean of the three classes\' F1) and rouge as rouge-score', () => {
    const [acc, f1] = evaluate.resolveMetrics('cb', 'multiple_choice', index.loadTask('cb').metricList);
    const items = [[0, 0], [1, 2], [2, 2], [0, 1]].map(([gold, pred]) => evaluate.multipleChoiceMetrics([acc, f1], [0, 1, 2].map((i) => [i === pred ? 0 : -5, false] as [number, boolean]), ['True', 'False', 'Neither'], gold).f1);
    // Per class F1: class 0 2·1/(2+0+1) = 2/3, class 1 0, class 2 2·1/(2+1+0) = 2/3.
    assert.ok(Math.abs(evaluate.aggregateMetric('macro_f1', items, 0).value - 4 / 9) < 1e-12);
    const scorer = new metrics.RougeScorer({ useStemmer: true });
    assert.equal(evaluate.rougeScore('rougeL', 'the cats are running', ['cats ran']), scorer.score('the cats are running', 'cats ran').rougeL.fmeasure);
  });
});

describe('bundled tasks against a live lm-eval', { skip: pythonHas('lm_eval', 'datasets') ? false : 'lm_eval (with datasets) is not importable' }, () => {
  it('lm-eval renders the same requests now', async () => {
    const out = path.join(scratch, 'live.json');
    execFileSync(process.env.PYTHON ?? 'python3', [path.join(fixtures, 'make.py'), out], { env: { ...process.env, HF_DATASETS_OFFLINE: '1', HF_HUB_OFFLINE: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    await assertMatchesLmEval(JSON.parse(readFileSync(out, 'utf8')));
  });
});


describe('bundled generation tasks on ../shared/data', { skip: hasShared ? false : 'no ../shared' }, () => {
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

  it('gsm8k: five train examples before each test question; strict-match and flexible-extract exact match', async () => {
    const { model, tokenizer } = await loadModel(stories);
    try {
      const results = await evaluate.runEvaluation(model, tokenizer, ['gsm8k'], {
        dataFiles: { test: [path.join(data, 'gsm8k', 'test.jsonl')], train: [path.join(data, 'gsm8k', 'train.jsonl')] },
        limit: 2,
        logSamples: true,
        bootstrapIterations: 0,
      });
      const row = results.results.gsm8k;
      assert.equal(row.sample_len, 2);
      assert.equal(results['n-shot'].gsm8k, 5);
      const samples = results.samples!.gsm8k.filter((sample) => sample.filter === 'strict-match');
      const first = readFileSync(path.join(data, 'gsm8k', 'test.jsonl'), 'utf8').split('\n')[0];
      const prompt = String((samples[0].arguments[0] as unknown[])[0]);
      assert.equal(prompt.split('Question:').length - 1, 6);
      assert.ok(prompt.endsWith(`Question: ${JSON.parse(first).question}\nAnswer:`));
      for (const filter of ['strict-match', 'flexible-extract']) {
        const values = results.samples!.gsm8k.filter((sample) => sample.filter === filter).map((sample) => sample.exact_match as number);
        assert.equal(row[`exact_match,${filter}`], mean(values));
      }
    } finally {
      model.dispose();
    }
  });

  /** What ROUGE-1/2/L/Lsum each sample gets against its references (best of several) and their means. */
  function assertRouge(results: evaluate.EvaluationResults, name: string, references: string[][]) {
    const samples = results.samples![name];
    const scorer = new metrics.RougeScorer({ useStemmer: true });
    samples.forEach((sample, i) => {
      const scores = scorer.scoreMulti(String(sample.filtered_resps), references[i]);
      for (const metric of ['rouge1', 'rouge2', 'rougeL', 'rougeLsum']) assert.equal(sample[metric], scores[metric].fmeasure, `${name} ${metric} of document ${i}`);
    });
    for (const metric of ['rouge1', 'rouge2', 'rougeL', 'rougeLsum']) {
      const value = results.results[name][`${metric},none`] as number;
      assert.ok(Math.abs(value - mean(samples.map((sample) => sample[metric] as number))) < 1e-12, metric);
    }
  }

  const firstRecords = (file: string, count: number) => readFileSync(file, 'utf8').split('\n').slice(0, count).map((line) => JSON.parse(line) as Record<string, string>);

  it('dialogsum (CLI, --data-files): the summarization prompt; ROUGE against the test split\'s three summaries, best of them', () => {
    const test = path.join(data, 'dialogsum', 'test.jsonl');
    const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
    const run = spawnSync(process.execPath, [cli, 'eval', '--model', stories, '--threads', '1', '--tasks', 'dialogsum', '--data-files', `test=${test}`, '--limit', '1', '--json', '--log-samples', '--bootstrap-iters', '0'], {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '1' },
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(run.status, 0, run.stderr);
    const output = JSON.parse(run.stdout) as evaluate.EvaluationResults;
    const [record] = firstRecords(test, 1);
    const [sample] = output.samples!.dialogsum;
    assert.equal((sample.arguments[0] as unknown[])[0], `Summarize the following conversation.\n\n${record.dialogue}\n\nSummary:`);
    const references = [record.summary1, record.summary2, record.summary3];
    assert.deepEqual(sample.target, references);
    assertRouge(output, 'dialogsum', [references]);
  });

  it('samsum (library, dataFiles): the summarization prompt; ROUGE against the summary', async () => {
    const test = path.join(data, 'samsum', 'test.jsonl');
    const { model, tokenizer } = await loadModel(stories);
    try {
      const results = await evaluate.runEvaluation(model, tokenizer, ['samsum'], { dataFiles: { test: [test] }, limit: 1, logSamples: true, bootstrapIterations: 0 });
      const [record] = firstRecords(test, 1);
      const [sample] = results.samples!.samsum;
      assert.equal((sample.arguments[0] as unknown[])[0], `Summarize the following conversation.\n\n${record.dialogue}\n\nSummary:`);
      assert.equal(sample.target, record.summary);
      assertRouge(results, 'samsum', [[record.summary]]);
    } finally {
      model.dispose();
    }
  });
});
