// BIG-bench JSON tasks: a task.json converted as hails/bigbench holds it (inputs, targets, multiple_choice_targets,
// multiple_choice_scores) and run as lm-eval's bigbench multiple_choice / generate_until tasks read that data.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { evaluate } from '../src/index.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-bigbench-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function writeTask(name: string, task: Record<string, unknown> | string): string {
  const folder = path.join(scratch, name);
  mkdirSync(folder, { recursive: true });
  const file = path.join(folder, 'task.json');
  writeFileSync(file, typeof task === 'string' ? task : JSON.stringify(task));
  return file;
}

const multipleChoice = writeTask('animal_sounds', JSON.stringify({
  name: 'animal_sounds',
  description: 'Which animal makes the sound?',
  keywords: ['multiple choice'],
  metrics: ['multiple_choice_grade'],
  task_prefix: 'Answer the questions.\n',
  examples: [
    // Integer-like choices stay in the order written (Python's json keeps it; JSON.parse would not).
    { input: 'Which animal barks?', target_scores: { dog: 1, cat: 0, bird: 0 } },
    { input: 'Which animal barks?', target_scores: { dog: 1, cat: 0, bird: 0 } },
    'COW',
  ],
}).replace('"COW"', '{"input": "How many legs has a cow? ", "target_scores": {"4": 1, "5": 0, "3": 0, "six": 0}}'));

const generative = writeTask('capitals', {
  name: 'capitals',
  description: 'Name the capital.',
  keywords: ['free response'],
  metrics: ['exact_str_match'],
  example_input_prefix: 'Country: ',
  example_output_prefix: '\nCapital: ',
  examples: [
    { input: 'France', target: 'Paris' },
    { input: 'Japan', target: [' Tokyo ', 'Edo'] },
  ],
});

describe('BIG-bench task.json', () => {
  it('converts as hails/bigbench: duplicates dropped, choices appended in numpy RandomState(42) order, stripped', () => {
    const rows = evaluate.bigbenchRows(readFileSync(multipleChoice, 'utf8'), multipleChoice);
    assert.deepEqual(rows, [
      {
        idx: 0,
        inputs: 'Answer the questions.\n\nQ: Which animal barks?\n  choice: bird\n  choice: cat\n  choice: dog\nA:',
        targets: ['dog'],
        multiple_choice_targets: ['dog', 'cat', 'bird'],
        multiple_choice_scores: [1, 0, 0],
      },
      {
        idx: 1,
        inputs: 'Answer the questions.\n\nQ: How many legs has a cow? \n  choice: 4\n  choice: six\n  choice: 5\n  choice: 3\nA:',
        targets: ['4'],
        multiple_choice_targets: ['4', '5', '3', 'six'],
        multiple_choice_scores: [1, 0, 0, 0],
      },
    ]);
  });

  it('a multiple-choice task.json runs as bigbench_<name>_multiple_choice: inputs, each choice, the gold index, acc', async () => {
    const config = new evaluate.TaskIndex([], { bundled: false }).loadTask(multipleChoice);
    assert.equal(config.task, 'bigbench_animal_sounds_multiple_choice');
    assert.deepEqual(config.tags, ['bigbench_multiple_choice_a']);
    assert.equal(config.outputType, 'multiple_choice');
    const task = await evaluate.EvalTask.load(config);
    assert.deepEqual(task.metrics.map((metric) => metric.name), ['acc']);
    const [first, second] = task.buildRequests(0);
    const prompt = 'Answer the questions.\n\nQ: Which animal barks?\n  choice: bird\n  choice: cat\n  choice: dog\nA:';
    assert.deepEqual(first.arguments, [[prompt, ' dog'], [prompt, ' cat'], [prompt, ' bird']]);
    assert.equal(task.gold(first.doc), 0);
    assert.deepEqual(second.arguments.map(([, choice]) => choice), [' 4', ' 5', ' 3', ' six']);
    assert.deepEqual(task.processResults(second.doc, [[-3, false], [-1, false], [-2, false], [-4, false]]), { acc: 0 });
    assert.deepEqual(task.processResults(second.doc, [[-1, true], [-3, false], [-2, false], [-4, false]]), { acc: 1 });
    // The same examples as a generative task: the target text, generated.
    const asGeneration = new evaluate.TaskIndex([], { bundled: false }).loadTask(`${multipleChoice}#generate_until`);
    assert.equal(asGeneration.task, 'bigbench_animal_sounds_generate_until');
  });

  it('a generative task.json runs as bigbench_<name>_generate_until: inputs, targets[0], exact_match ignoring punctuation', async () => {
    const config = new evaluate.TaskIndex([], { bundled: false }).loadTask(generative);
    assert.equal(config.task, 'bigbench_capitals_generate_until');
    assert.deepEqual(config.generationKwargs, { max_gen_toks: 128, until: ['\n\n'] });
    const task = await evaluate.EvalTask.load(config);
    const documents = task.buildRequests(0);
    assert.deepEqual(documents.map((document) => document.arguments[0][0]), ['Country: France\nCapital:', 'Country: Japan\nCapital:']);
    assert.deepEqual(documents.map((document) => task.gold(document.doc)), ['Paris', 'Tokyo']);
    assert.deepEqual(task.processResults(documents[0].doc, ['Paris.']), { exact_match: 1 });
    assert.deepEqual(task.processResults(documents[1].doc, ['Edo']), { exact_match: 0 });
    // One-shot: the other example, as lm-eval's default sampler draws from the test split.
    const [oneShot] = (await evaluate.EvalTask.load(config)).buildRequests(1);
    assert.equal(oneShot.arguments[0][0], 'Country: Japan\nCapital: Tokyo\n\nCountry: France\nCapital:');
  });

  it('refuses what it cannot read, naming the file', () => {
    const bad = writeTask('bad', { examples: [{ input: 'x' }] });
    assert.throws(() => new evaluate.TaskIndex([], { bundled: false }).loadTask(bad), /bad\/task\.json: examples\[0\] needs "target" or "target_scores"/);
    const noChoices = writeTask('free', { examples: [{ input: 'x', target: 'y' }] });
    assert.throws(() => new evaluate.TaskIndex([], { bundled: false }).loadTask(`${noChoices}#multiple_choice`), /multiple_choice variant needs examples with target_scores/);
    assert.throws(() => new evaluate.TaskIndex([], { bundled: false }).loadTask(`${noChoices}#choices`), /variant is multiple_choice or generate_until/);
  });
});
