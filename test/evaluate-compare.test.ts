// Comparing systems on one test set: bootstrap intervals, paired differences, in-context prompts and batched
// completions (equal to decoding each prompt alone).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { evaluate, loadModel, loadTokenizer, metrics, setNumThreads, TunekitError } from '../src/index.js';
import { modelWithCharTokenizer } from './helpers/char-tokenizer.js';
import { hasShared, sharedDir } from './helpers/paths.js';

setNumThreads(1);

describe('intervals', () => {
  it('a mean interval holds the mean, and a constant has a zero-width one', () => {
    const values = [0.1, 0.4, 0.35, 0.8, 0.55, 0.2, 0.9, 0.05];
    const interval = metrics.meanInterval(values, { samples: 500, seed: 1 });
    assert.ok(Math.abs(interval.value - values.reduce((a, b) => a + b) / values.length) < 1e-12);
    assert.ok(interval.low < interval.value && interval.value < interval.high);
    assert.deepEqual(metrics.meanInterval([0.5, 0.5, 0.5], { samples: 50 }), { value: 0.5, low: 0.5, high: 0.5 });
  });

  it('a paired difference of a system with itself is 0 with p = 1; a constant shift is that shift', () => {
    const a = [0.1, 0.4, 0.35, 0.8, 0.55];
    const same = metrics.pairedMeanDifference(a, a, { samples: 200 });
    assert.deepEqual(same, { difference: 0, low: 0, high: 0, pValue: 1 });
    const shifted = metrics.pairedMeanDifference(a, a.map((value) => value + 0.25), { samples: 200 });
    for (const key of ['difference', 'low', 'high'] as const) assert.ok(Math.abs(shifted[key] - 0.25) < 1e-12, key);
  });

  it('the p-value is the paired bootstrap test\'s for the same seed and samples', () => {
    const a = [[0.2], [0.5], [0.1], [0.7], [0.3], [0.6]];
    const b = [[0.3], [0.4], [0.5], [0.9], [0.2], [0.8]];
    const score = (sum: readonly number[], count: number) => sum[0] / count;
    const ours = metrics.pairedDifference(a, b, score, { samples: 300, seed: 7 });
    const test = metrics.pairedBootstrapTest(a, b, score, { samples: 300, seed: 7 });
    assert.equal(ours.pValue, test.pValue);
    assert.ok(Math.abs(ours.difference - test.difference) < 1e-15);
    assert.ok(ours.low <= ours.difference && ours.difference <= ours.high);
  });

  it('refuses mismatched systems and empty input', () => {
    assert.throws(() => metrics.pairedMeanDifference([1, 2], [1]), TunekitError);
    assert.throws(() => metrics.meanInterval([]), TunekitError);
    assert.throws(() => metrics.meanInterval([1], { confidence: 1 }), TunekitError);
  });
});

describe('summarizeSystems', () => {
  const references = ['the cat sat on the mat', 'a dog ran in the park', 'they will meet at noon', 'bring the map please'];
  const good = ['the cat sat on a mat', 'a dog ran in the park', 'they meet at noon', 'bring the map'];
  const poor = ['cat', 'the park', 'noon', 'please'];

  it('scores each system, tests it against the baseline, and keeps what is known of it', () => {
    const summaries = evaluate.summarizeSystems(
      [
        { name: 'zero_shot', label: 'Zero-shot', method: 'prompting', outputs: poor },
        { name: 'lora', label: 'LoRA', method: 'lora', outputs: good, trainableParameters: 10, totalParameters: 1000 },
      ],
      references,
      'zero_shot',
      ['rougeL', 'bleu'],
      { samples: 200 },
    );
    const rouge = new metrics.RougeScorer({ types: ['rougeL'], useStemmer: true });
    const expected = good.reduce((sum, output, index) => sum + rouge.score(output, references[index]).rougeL.fmeasure, 0) / good.length;
    assert.ok(Math.abs(summaries[1].metrics.rougeL.value - expected) < 1e-12);
    assert.ok(Math.abs(summaries[1].metrics.bleu.value - new metrics.BLEU().corpusScore(good, references.map((reference) => [reference])).score) < 1e-9);
    assert.equal(summaries[0].significance, undefined);
    const difference = summaries[1].significance?.rougeL;
    assert.ok(difference !== undefined && Math.abs(difference.difference - (summaries[1].metrics.rougeL.value - summaries[0].metrics.rougeL.value)) < 1e-12);
    assert.equal(summaries[1].trainableParameters, 10);
    assert.equal('outputs' in summaries[1], false);
  });

  it('builds the report with examples side by side', () => {
    const report = evaluate.comparisonReport(
      [
        { name: 'a', label: 'A', method: 'prompting', outputs: poor },
        { name: 'b', label: 'B', method: 'full', outputs: good },
      ],
      { title: 't', baseline: 'a', references, inputs: references.map((_, i) => `input ${i}`), examples: 2, bootstrap: { samples: 100 } },
    );
    assert.equal(report.schema, 'tunekit.report/1');
    assert.deepEqual(report.metrics, ['rouge1', 'rouge2', 'rougeL', 'rougeLsum', 'bleu']);
    assert.equal(report.testSize, 4);
    assert.deepEqual(report.examples?.[1], { input: 'input 1', reference: references[1], outputs: { a: poor[1], b: good[1] } });
  });

  it('names a missing baseline and refuses duplicate names', () => {
    assert.throws(() => evaluate.summarizeSystems([{ name: 'lora', label: 'L', method: 'lora', outputs: good }], references, 'lorra'), /did you mean "lora"/);
    assert.throws(() => evaluate.summarizeSystems([{ name: 'x', label: 'X', method: 'm', outputs: good }, { name: 'x', label: 'X', method: 'm', outputs: good }], references, 'x'), /must differ/);
    assert.throws(() => evaluate.summarizeSystems([{ name: 'x', label: 'X', method: 'm', outputs: good.slice(1) }], references, 'x'), /3 outputs for 4 references/);
  });
});

describe('in-context prompts', () => {
  const train = [0, 1, 2, 3, 4].map((i) => ({ prompt: `Q${i}: `, completion: `A${i}` }));
  const test = [{ prompt: 'Qx: ', completion: 'Ax' }, { prompt: 'Qy: ', completion: 'Ay' }];

  it('zero-shot is the bare prompt; k-shot draws as random.Random(1234).sample does, across the test set', () => {
    assert.deepEqual(evaluate.inContextPrompts(train, test, { shots: 0 }).map((p) => p.prompt), ['Qx: ', 'Qy: ']);
    const random = new evaluate.PythonRandom(1234);
    const expected = test.map((example) => random.sample(train, 2).map((shot) => `${shot.prompt}${shot.completion}\n\n`).join('') + example.prompt);
    assert.deepEqual(evaluate.inContextPrompts(train, test, { shots: 2 }).map((p) => p.prompt), expected);
  });

  it('drops shots from the end while the prompt is too long', () => {
    const [first] = evaluate.inContextPrompts(train, test, { shots: 3, maxLength: 20, length: (text) => text.length });
    assert.equal(first.shots, 2);
    assert.ok(first.prompt.length <= 20);
    assert.throws(() => evaluate.inContextPrompts(train, test, { shots: 6 }), /at least 6 training examples/);
  });
});

describe('generateCompletions', { skip: hasShared ? false : 'needs ../shared' }, () => {
  it('batched (left-padded) completions equal decoding each prompt alone, for a causal and a seq2seq model', async () => {
    const t5 = modelWithCharTokenizer(path.join(sharedDir, 'reference/models/hf-tiny/t5_flan'), mkdtempSync(path.join(tmpdir(), 'tunekit-compare-t5-')));
    for (const folder of [path.join(sharedDir, 'reference/models/stories260K'), t5]) {
      const name = path.basename(folder);
      const { model } = await loadModel(folder);
      const tokenizer = loadTokenizer(folder);
      const prompts = ['Hello there, how', 'A much longer prompt with many more words than the others', 'Yes'];
      const batched = evaluate.generateCompletions(model, tokenizer, prompts, { maxNewTokens: 6, batchSize: 3 });
      const alone = evaluate.generateCompletions(model, tokenizer, prompts, { maxNewTokens: 6, batchSize: 1 });
      assert.deepEqual(batched.texts, alone.texts, name);
      assert.equal(batched.texts.length, 3);
      const text = alone.texts[0];
      if (text.length >= 3) {
        const stopped = evaluate.generateCompletions(model, tokenizer, prompts.slice(0, 1), { maxNewTokens: 6, stop: [text.slice(2, 3), text.slice(1, 3)] });
        assert.equal(stopped.texts[0], text.slice(0, 1).trim(), name);
      }
      model.dispose();
    }
  });
});
