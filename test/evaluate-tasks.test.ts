// Task files and the pieces of lm-eval's semantics that need no model: YAML loading and its errors, few-shot
// prompt construction, acc vs acc_norm, exact_match options, filters, Python literals and regexes, rolling windows.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { evaluate, TunekitError } from '../src/index.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-eval-tasks-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let folderCount = 0;
/** A folder of task files (name → YAML text) and data files. */
function taskFolder(files: Record<string, string>): string {
  const folder = path.join(scratch, `tasks-${folderCount++}`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(folder, name)), { recursive: true });
    writeFileSync(path.join(folder, name), text);
  }
  return folder;
}

const jsonl = (records: object[]) => records.map((record) => JSON.stringify(record) + '\n').join('');

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => error instanceof TunekitError && pattern.test(error.message), `expected a TunekitError matching ${pattern}`);
}

describe('task YAML', () => {
  it('merges include: under the file\'s own keys, relative to the including file', () => {
    const folder = taskFolder({
      'base/_common.yaml': 'dataset_path: json\ndataset_kwargs: {data_files: {test: d.jsonl}}\ntest_split: test\noutput_type: multiple_choice\ndoc_to_text: "{{q}}"\ndoc_to_choice: ["yes", "no"]\ndoc_to_target: label\ndescription: base\n',
      'task.yaml': 'include: base/_common.yaml\ntask: mine\ndescription: own\n',
    });
    const config = new evaluate.TaskIndex([folder]).loadTask('mine');
    assert.equal(config.description, 'own');
    assert.equal(config.outputType, 'multiple_choice');
    assert.deepEqual(config.docToChoice, ['yes', 'no']);
    assert.equal(config.targetDelimiter, ' ');
    assert.equal(config.fewshotDelimiter, '\n\n');
    assert.deepEqual(config.fewshotConfig.docToChoice, ['yes', 'no']);
  });

  it('reads YAML 1.1 as PyYAML does (yes is true, 1.0 a float)', () => {
    const raw = evaluate.readTaskYaml(path.join(taskFolder({ 'a.yaml': 'task: a\nshould_decontaminate: yes\nmetadata: {version: 1.0}\n' }), 'a.yaml'));
    assert.equal(raw.should_decontaminate, true);
  });

  it('refuses !function, naming the task, the key and the function', () => {
    const folder = taskFolder({ 't.yaml': 'task: py\ndataset_path: json\ntest_split: test\ndoc_to_text: !function utils.doc_to_text\ndoc_to_target: label\n' });
    rejects(() => new evaluate.TaskIndex([folder]).loadTask('py'), /task "py".*doc_to_text is "!function utils\.doc_to_text", Python code/);
  });

  it('refuses unknown keys with the nearest known one, and unsupported ones with the reason', () => {
    const base = 'dataset_path: json\ntest_split: test\ndoc_to_text: q\ndoc_to_target: a\n';
    rejects(() => evaluate.parseTaskConfig(evaluate.readTaskYaml(path.join(taskFolder({ 't.yaml': `task: t\n${base}target_delimeter: " "\n` }), 't.yaml')), 't.yaml'), /unknown key "target_delimeter" \(did you mean target_delimiter\?\)/);
    rejects(() => evaluate.parseTaskConfig({ task: 't', ...evaluate.readTaskYaml(path.join(taskFolder({ 't.yaml': `${base}process_results: x\n` }), 't.yaml')) }, null), /process_results is not supported/);
  });

  it('names what is missing or malformed', () => {
    const ok = { task: 't', dataset_path: 'json', test_split: 'test', doc_to_text: 'q', doc_to_target: 'a' };
    rejects(() => evaluate.parseTaskConfig({ ...ok, output_type: 'classify' }, null), /output_type must be one of multiple_choice, generate_until, loglikelihood, loglikelihood_rolling/);
    rejects(() => evaluate.parseTaskConfig({ ...ok, output_type: 'multiple_choice' }, null), /multiple_choice needs doc_to_choice/);
    rejects(() => evaluate.parseTaskConfig({ ...ok, test_split: undefined }, null), /needs test_split or validation_split/);
    rejects(() => evaluate.parseTaskConfig({ ...ok, num_fewshot: -1 }, null), /num_fewshot must be a non-negative integer/);
    rejects(() => evaluate.parseTaskConfig({ ...ok, metric_list: [{ aggregation: 'mean' }] }, null), /metric_list\[0\] needs "metric"/);
    rejects(() => evaluate.parseTaskConfig({ ...ok, fewshot_config: { sampler: 'balanced' } }, null), /sampler must be "default" or "first_n"/);
    rejects(() => evaluate.parseTaskConfig({ dataset_path: 'json' }, 'x.yaml'), /x\.yaml: needs "task"/);
  });

  it('fills generation_kwargs as lm-eval does: until defaults to the few-shot delimiter', () => {
    const base = { task: 't', dataset_path: 'json', test_split: 'test', doc_to_text: 'q', doc_to_target: 'a', fewshot_delimiter: '\n###\n' };
    assert.deepEqual(evaluate.parseTaskConfig(base, null).generationKwargs, { until: ['\n###\n'], do_sample: false, temperature: 0, max_gen_toks: 256 });
    assert.deepEqual(evaluate.parseTaskConfig({ ...base, generation_kwargs: { max_gen_toks: 5 } }, null).generationKwargs, { max_gen_toks: 5, until: ['\n###\n'] });
  });

  it('refuses an include cycle', () => {
    const folder = taskFolder({ 'a.yaml': 'include: b.yaml\ntask: a\n', 'b.yaml': 'include: a.yaml\n' });
    rejects(() => evaluate.readTaskFile(path.join(folder, 'a.yaml')), /include cycle/);
  });

  it('indexes tasks, tags and groups; resolves names in order, each once; suggests the nearest unknown name', () => {
    const task = (name: string, tag: string) => `task: ${name}\ntag: ${tag}\ndataset_path: json\ntest_split: test\ndoc_to_text: q\ndoc_to_target: a\n`;
    const folder = taskFolder({ 'a.yaml': task('alpha', 'letters'), 'sub/b.yaml': task('beta', 'letters'), 'g.yaml': 'group: all\ntask: [letters, alpha]\n', '_base.yaml': 'dataset_path: json\n' });
    const index = new evaluate.TaskIndex([folder], { bundled: false });
    assert.deepEqual(index.list().map((entry) => `${entry.kind}:${entry.name}`), ['group:all', 'task:alpha', 'task:beta', 'tag:letters']);
    const groups: evaluate.ResolvedGroup[] = [];
    assert.deepEqual(index.resolve(['all'], groups).map((config) => config.task), ['alpha', 'beta']);
    assert.deepEqual(groups.map(({ config, children, leaves }) => [config.group, children, leaves]), [['all', ['alpha', 'beta'], ['alpha', 'beta']]]);
    rejects(() => index.resolve(['alpah']), /unknown task "alpah" \(did you mean alpha\?\)/);
  });
});

describe('few-shot prompts and requests (lm-eval fewshot_context, construct_requests)', () => {
  const records = [
    { q: 'Is fire hot?', label: 0 },
    { q: 'Is ice hot?', label: 1 },
    { q: 'Is snow cold?', label: 0 },
  ];
  const folder = taskFolder({
    'data/train.jsonl': jsonl([{ q: 'Is the sea wet?', label: 0 }, { q: 'Is sand wet?', label: 1 }]),
    'data/test.jsonl': jsonl(records),
    'mc.yaml': [
      'task: mc',
      'dataset_path: json',
      'dataset_kwargs: {data_files: {train: data/train.jsonl, test: data/test.jsonl}}',
      'training_split: train',
      'test_split: test',
      'output_type: multiple_choice',
      'description: "Answer.\\n"',
      'doc_to_text: "Q: {{q}}\\nA:"',
      'doc_to_choice: ["yes", "no"]',
      'doc_to_target: label',
      'fewshot_delimiter: "\\n--\\n"',
      'fewshot_config: {sampler: first_n}',
    ].join('\n'),
    'same.yaml': 'include: mc.yaml\ntask: same\nfewshot_split: test\n',
  });
  const index = new evaluate.TaskIndex([folder]);

  it('is description, then each example as text + target_delimiter + answer + fewshot_delimiter, then the text', async () => {
    const task = await evaluate.EvalTask.load(index.loadTask('mc'));
    const [first] = task.buildRequests(2);
    const context = 'Answer.\nQ: Is the sea wet?\nA: yes\n--\nQ: Is sand wet?\nA: no\n--\nQ: Is fire hot?\nA:';
    assert.deepEqual(first.arguments, [[context, ' yes'], [context, ' no']]);
  });

  it('scores a loglikelihood_rolling task without doc_to_text on its target alone', async () => {
    const dataset = taskFolder({ 'test.jsonl': jsonl([{ text: 'Once upon a time.' }]) });
    const task = await evaluate.EvalTask.load(evaluate.parseTaskConfig({ task: 'r', dataset_path: dataset, test_split: 'test', output_type: 'loglikelihood_rolling', doc_to_target: '{{text}}' }, null));
    assert.deepEqual(task.buildRequests(3)[0].arguments, [['Once upon a time.']]);
    assert.deepEqual(task.processResults(task.evalDocs[0], [-10]), { word_perplexity: [-10, 4], byte_perplexity: [-10, 17], bits_per_byte: [-10, 17] });
  });

  it('limits documents as lm-eval: a count, or a share below 1 rounded up', async () => {
    const task = await evaluate.EvalTask.load(index.loadTask('mc'));
    assert.deepEqual([task.documentCount(), task.documentCount(2), task.documentCount(0.5), task.documentCount(10)], [3, 2, 2, 3]);
    assert.equal(task.buildRequests(0, 0.34).length, 2);
  });

  it('leaves the document itself out of its examples when the few-shot split is the test split', async () => {
    const task = await evaluate.EvalTask.load(index.loadTask('same'));
    const prompts = task.buildRequests(2).map((doc) => doc.arguments[0][0]);
    assert.ok(prompts[0].includes('Is ice hot?\nA: no') && !prompts[0].slice(0, prompts[0].lastIndexOf('Q:')).includes('Is fire hot?'));
    assert.ok(prompts[1].includes('Is fire hot?\nA: yes') && prompts[1].includes('Is snow cold?\nA: yes') && prompts[1].endsWith('Q: Is ice hot?\nA:'));
  });

  it('reads dataset_path as a local dataset folder, splits by file name, with dataset_name as its configuration', async () => {
    const dataset = taskFolder({ 'train.jsonl': jsonl([{ q: 'a', label: 0 }]), 'test.jsonl': jsonl([{ q: 'b', label: 1 }, { q: 'c' }]) });
    const config = evaluate.parseTaskConfig({ task: 'folder', dataset_path: dataset, test_split: 'test', training_split: 'train', output_type: 'multiple_choice', doc_to_text: '{{q}}', doc_to_choice: ['x', 'y'], doc_to_target: 'label' }, null);
    const task = await evaluate.EvalTask.load(config);
    // Columns missing from a record are null, as in an Arrow table.
    assert.deepEqual(task.evalDocs, [{ q: 'b', label: 1 }, { q: 'c', label: null }]);
    assert.equal(task.buildRequests(1)[0].arguments[0][0], 'a x\n\nb');
  });

  it('draws with random.Random(1234).sample, one draw after another across documents', async () => {
    const config = evaluate.parseTaskConfig({ ...index.loadTask('mc').raw, fewshot_config: {} }, index.loadTask('mc').source);
    const task = await evaluate.EvalTask.load(config);
    const random = new evaluate.PythonRandom(1234);
    const train = [{ q: 'Is the sea wet?', label: 0 }, { q: 'Is sand wet?', label: 1 }];
    for (const doc of task.buildRequests(1)) {
      const [example] = random.sample(train, 1);
      assert.ok(doc.arguments[0][0].startsWith(`Answer.\nQ: ${example.q}\nA: ${example.label === 0 ? 'yes' : 'no'}\n--\n`));
    }
  });

  it('scores acc on the raw log-likelihood and acc_norm per character of the choice', () => {
    const metrics = evaluate.resolveMetrics('t', 'multiple_choice', []);
    // Choice 0 (1 character) is likelier in total, choice 1 (6 characters) per character.
    const results: [number, boolean][] = [[-4, false], [-6, true]];
    assert.deepEqual(evaluate.multipleChoiceMetrics(metrics, results, ['a', 'bbbbbb'], 1), { acc: 0, acc_norm: 1 });
    assert.deepEqual(evaluate.multipleChoiceMetrics(metrics, results, ['a', 'bbbbbb'], 0), { acc: 1, acc_norm: 0 });
    // acc_mutual_info: log P(choice | question) − log P(choice), here choice 1 (-6 − -9 = 3 beats -4 − -5 = 1).
    const mutual = evaluate.resolveMetrics('t', 'multiple_choice', [{ metric: 'acc_mutual_info', options: {} }]);
    assert.deepEqual(evaluate.multipleChoiceMetrics(mutual, results, ['a', 'bbbbbb'], 1, [-5, -9]), { acc_mutual_info: 1 });
    // Ties go to the first choice, as numpy's argmax.
    assert.deepEqual(evaluate.multipleChoiceMetrics(metrics, [[-2, false], [-2, false]], ['x', 'y'], 1), { acc: 0, acc_norm: 0 });
  });
});

describe('metrics, filters and Python compatibility pieces', () => {
  it('exact_match applies regexes_to_ignore, then ignore_case, ignore_punctuation and ignore_numbers', () => {
    assert.equal(evaluate.exactMatch('The Cat!', 'the cat', {}), 0);
    assert.equal(evaluate.exactMatch('The Cat!', 'the cat', { ignore_case: true }), 0);
    assert.equal(evaluate.exactMatch('The Cat!', 'the cat', { ignore_case: true, ignore_punctuation: true }), 1);
    assert.equal(evaluate.exactMatch('$1,234 ', '1234', { regexes_to_ignore: [',', '\\$', '\\s+$'] }), 1);
    assert.equal(evaluate.exactMatch('room 12', 'room 7', { ignore_numbers: true }), 1);
  });

  it('standard errors: sample stdev / √n for means, none for weighted perplexities or one document', () => {
    const { value, stderr } = evaluate.aggregateMetric('mean', [1, 0, 1, 1], 100000);
    assert.equal(value, 0.75);
    assert.equal(stderr, Math.sqrt((3 * 0.0625 + 0.5625) / 3) / 2);
    assert.equal(evaluate.aggregateMetric('weighted_perplexity', [[-2, 1], [-4, 3]], 100000).stderr, 'N/A');
    assert.equal(evaluate.aggregateMetric('weighted_perplexity', [[-2, 1], [-4, 3]], 0).value, Math.exp(6 / 4));
    assert.equal(evaluate.aggregateMetric('mean', [1], 100000).stderr, 'N/A');
  });

  it("sums as numpy does (pairwise, eight accumulators), which differs from a left-to-right sum", () => {
    const values = [1e16, 1, -1e16, 1, 1, 1, 1, 1, 1];
    // numpy: ((1e16 + 1) + (-1e16 + 1)) + ((1 + 1) + (1 + 1)), then + 1; left to right gives 6.
    assert.equal(evaluate.numpySum(values), 5);
    assert.equal(values.reduce((sum, value) => sum + value, 0), 6);
    assert.equal(evaluate.numpySum([0.1, 0.2, 0.3]), 0.1 + 0.2 + 0.3);
  });

  it('regex and take_first filters: groups, group_select from the end, fallback', () => {
    const [pipeline] = evaluate.compileFilters('t', [{ name: 'answer', steps: [{ function: 'regex', options: { regex_pattern: '#### (\\-?[0-9\\.\\,]+)', group_select: -1 } }, { function: 'take_first', options: {} }] }]);
    assert.equal(pipeline.apply(['#### 3\nthen #### -4,5']), '-4,5');
    assert.equal(pipeline.apply(['no number']), '[invalid]');
    const [words] = evaluate.compileFilters('t', [{ name: 'w', steps: [{ function: 'regex', options: { regex_pattern: '(\\w+)' } }, { function: 'take_first', options: {} }] }]);
    assert.equal(words.apply(['  naïve café']), 'naïve');
    rejects(() => evaluate.compileFilters('t', [{ name: 'x', steps: [{ function: 'majority_vote', options: {} }] }]), /unknown filter function "majority_vote"/);
  });

  it('evaluates Python literals as ast.literal_eval does', () => {
    assert.deepEqual(evaluate.literalEval("['a', \"b's\", 'c\\'d', 3, -1.5, True, None, (1, 2)]"), ['a', "b's", "c'd", 3, -1.5, true, null, [1, 2]]);
    assert.deepEqual(evaluate.literalEval("{'k': ['x\\n']}"), { k: ['x\n'] });
    assert.throws(() => evaluate.literalEval('[a]'), evaluate.PythonLiteralError);
  });

  it('translates Python regexes: Unicode \\w, named groups, $ before a final newline, lenient escapes', () => {
    const findall = (pattern: string, text: string) => evaluate.pythonFindall(evaluate.pythonRegex(pattern, 'test'), text);
    assert.deepEqual(findall('\\w+', 'pöow4k the'), ['pöow4k', 'the']);
    assert.deepEqual(findall('(?P<n>\\d+)-(?P=n)', '12-12 3-4'), ['12']);
    assert.equal(evaluate.pythonRemove(evaluate.pythonRegex('\\s+$', 'test'), 'abc \n'), 'abc');
    assert.deepEqual(findall('a{', 'a{'), ['a{']);
  });

  it("cuts rolling windows as lm-eval's get_rolling_token_windows + make_disjoint_window", () => {
    const tokens = [10, 11, 12, 13, 14, 15, 16];
    // Each window predicts up to 3 tokens from the one token before them (the prefix token first); the last window
    // keeps as much context as fits.
    assert.deepEqual(evaluate.rollingWindows(tokens, 1, 3), [
      [[1], [10, 11, 12]],
      [[12], [13, 14, 15]],
      [[13, 14, 15], [16]],
    ]);
    assert.deepEqual(evaluate.rollingWindows([5, 6], 1, 3), [[[1], [5, 6]]]);
  });
});

describe("templates render as lm-eval's jinja2 environment renders them", () => {
  const render = (template: string, doc: Record<string, unknown>) => evaluate.renderTemplate(template, doc, 't');

  it("prints Python's str() of values: True, None, list and dict reprs, floats", () => {
    assert.equal(render('{{b}} {{n}} {{d}} {{f}}', { b: true, n: null, d: { a: [1, "it's"] }, f: 0.5 }), 'True None {\'a\': [1, "it\'s"]} 0.5');
  });

  it('keeps the trailing newline and does not trim blocks (jinja2 defaults, keep_trailing_newline)', () => {
    assert.equal(render('{% for c in cs %}\n  {{ loop.index }}. {{c}}\n{% endfor %}\nA:\n', { cs: ['p', 'q'] }), '\n  1. p\n\n  2. q\n\nA:\n');
  });

  it('refuses to print an undefined name, naming it and the task (StrictUndefined)', () => {
    rejects(() => render('{{ questoin }}', { question: 'q' }), /task "t": cannot render the template "\{\{ questoin \}\}": "questoin" is undefined/);
    assert.equal(render('{% if extra is defined %}x{% else %}-{% endif %}', {}), '-');
  });
});

describe("samples files as lm-eval's EvaluationTracker writes them", () => {
  it('names arguments gen_args_i.arg_j and turns every response leaf and the target into Python str()', () => {
    const sample = { doc_id: 0, doc: { q: 1 }, target: 0, arguments: [['ctx', ' a'], ['ctx', ' b']], resps: [[[-4.922413349151611, false]], [[-1e-5, true]]], filtered_resps: [[-4.922413349151611, false], [-1e-5, true]], filter: 'none', metrics: ['acc'], doc_hash: '', prompt_hash: '', target_hash: '', acc: 1 };
    const record = evaluate.samplesFileRecord(sample);
    assert.deepEqual(record.arguments, { gen_args_0: { arg_0: 'ctx', arg_1: ' a' }, gen_args_1: { arg_0: 'ctx', arg_1: ' b' } });
    assert.deepEqual(record.resps, [[['-4.922413349151611', 'False']], [['-1e-05', 'True']]]);
    assert.deepEqual(record.filtered_resps, [['-4.922413349151611', 'False'], ['-1e-05', 'True']]);
    assert.equal(record.target, '0');
  });
});
