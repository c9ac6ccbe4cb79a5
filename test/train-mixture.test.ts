// A run's training data as a FLAN-style mixture (mixture: tasks with their datasets and templates): the realized
// proportions follow the mixing rates, every drawn record is rendered with its task's template, and bad mixture
// settings are one error naming the key.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { dryRunTraining, parseRunConfig } from '../src/index.js';
import { hasShared, sharedDir } from './helpers/paths.js';

const stories = path.join(sharedDir, 'reference', 'models', 'stories260K');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-mixture-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const dialogues = path.join(scratch, 'dialogues.jsonl');
writeFileSync(dialogues, Array.from({ length: 30 }, (_, i) => JSON.stringify({ dialogue: `#Person1#: Hi ${i}.\n#Person2#: Hello.`, summary: `They greet ${i}.` })).join('\n') + '\n');
const math = path.join(scratch, 'math.jsonl');
writeFileSync(math, Array.from({ length: 10 }, (_, i) => JSON.stringify({ question: `What is ${i} + 1?`, answer: `${i} + 1 = ${i + 1}\n#### ${i + 1}` })).join('\n') + '\n');

const base = { model: stories, output_dir: path.join(scratch, 'out'), max_length: 256 };
const tasks = [
  { name: 'summarize', dataset: dialogues, template: 'summarize_dialogue' },
  { name: 'math', dataset: math, template: 'math_word_problem' },
];

describe('mixture: as the training data', { skip: hasShared ? false : 'no ../shared' }, () => {
  it('examples-proportional with a cap: the realized counts follow the capped rates', async () => {
    const report = await dryRunTraining(parseRunConfig({ ...base, mixture: { tasks, cap: 20, count: 300 } }, 'test'));
    assert.ok(report.mixture !== null);
    // Rates: min(30, 20) : min(10, 20) = 2 : 1.
    assert.ok(Math.abs(report.mixture.summarize.rate - 2 / 3) < 1e-12);
    assert.equal(report.mixture.summarize.count + report.mixture.math.count, 300);
    assert.ok(Math.abs(report.mixture.summarize.proportion - 2 / 3) < 0.08, JSON.stringify(report.mixture));
    assert.equal(report.datasets.train.examples, 300);
  });

  it('temperature sampling flattens the rates; a split of the mixture gives validation and test', async () => {
    const report = await dryRunTraining(parseRunConfig({ ...base, split: '0.8,0.1,0.1', mixture: { tasks, method: 'temperature', temperature: 1000 } }, 'test'));
    assert.ok(report.mixture !== null);
    assert.ok(Math.abs(report.mixture.math.rate - 0.5) < 0.01, JSON.stringify(report.mixture));
    assert.equal(report.datasets.train.examples + (report.datasets.eval?.examples ?? 0) + (report.datasets.test?.examples ?? 0), 40);
  });

  it('bad mixture settings name the key', () => {
    assert.throws(() => parseRunConfig({ ...base, mixture: { tasks, capp: 3 } }, 'run.yaml'), /run\.yaml: mixture: unknown key 'capp' \(did you mean 'cap'\?\)/);
    assert.throws(() => parseRunConfig({ ...base, mixture: { tasks: [{ name: 'a', datset: dialogues }] } }, 'run.yaml'), /mixture\.tasks\[0\]: unknown key 'datset' \(did you mean 'dataset'\?\)/);
    assert.throws(() => parseRunConfig({ ...base, mixture: { tasks: [] } }, 'run.yaml'), /'tasks' must be a non-empty list/);
    assert.throws(() => parseRunConfig({ ...base, dataset: dialogues, mixture: { tasks } }, 'run.yaml'), /give 'dataset' or 'mixture', not both/);
    assert.throws(() => parseRunConfig({ ...base }, 'run.yaml'), /'dataset' \(a file, folder or hub id\) or 'mixture' is required/);
  });
});
