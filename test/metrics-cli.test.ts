/** `tunekit score rouge|bleu|chrf` end to end: spawns the built CLI on temporary JSONL files. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { corpusBleu, RougeScorer, sentenceBleu, sentenceChrf, CHRF } from '../src/metrics/index.js';
import { repoRoot } from './helpers/paths.js';

const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const directory = mkdtempSync(path.join(os.tmpdir(), 'tunekit-score-'));
after(() => rmSync(directory, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const full = path.join(directory, name);
  writeFileSync(full, text);
  return full;
}

function run(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, 'score', ...args], { encoding: 'utf8', input });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const records = [
  { prediction: 'the cat sat on the mat', reference: 'the cat is on the mat' },
  { prediction: 'hello there\ngeneral kenobi', references: ['hello world\ngeneral kenobi', 'hi there'] },
  { prediction: 'running dogs', reference: 'the dog runs' },
];
const jsonl = records.map((record) => JSON.stringify(record)).join('\n') + '\n';
const predictions = records.map((record) => record.prediction);
const referenceLists = records.map((record) => record.references ?? [record.reference!]);

test('score rouge --per-line: one object per line, best reference per type, stemming', () => {
  const input = file('pairs.jsonl', jsonl);
  const result = run(['rouge', input, '--per-line', '--stemmer']);
  assert.equal(result.status, 0, result.stderr);
  const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(lines.length, 3);
  const scorer = new RougeScorer({ useStemmer: true });
  lines.forEach((line, index) => {
    assert.deepEqual(Object.keys(line), ['rouge1', 'rouge2', 'rougeL', 'rougeLsum', 'signature']);
    const { signature, ...scores } = line;
    assert.deepEqual(scores, scorer.scoreMulti(predictions[index], referenceLists[index]));
    assert.equal(signature, `nrefs:${referenceLists[index].length}|tok:default|stem:yes|types:rouge1,rouge2,rougeL,rougeLsum|split:no|version:rouge-score-0.1.2`);
  });
  assert.equal(lines[2].rouge1.fmeasure > 0, true, 'stemming matches dog/dogs and run/running');
});

test('score rouge aggregate from stdin with --types, and bootstrap intervals', () => {
  const result = run(['rouge', '--types', 'rouge1,rougeL'], jsonl);
  assert.equal(result.status, 0, result.stderr);
  const aggregate = JSON.parse(result.stdout);
  assert.deepEqual(Object.keys(aggregate), ['rouge1', 'rougeL', 'signature']);
  const scorer = new RougeScorer({ types: ['rouge1', 'rougeL'] });
  const mean = predictions.reduce((sum, prediction, index) => sum + scorer.scoreMulti(prediction, referenceLists[index]).rouge1.fmeasure, 0) / 3;
  assert.ok(Math.abs(aggregate.rouge1.fmeasure - mean) < 1e-12);

  const bootstrapped = JSON.parse(run(['rouge', '--bootstrap', '50', '--seed', '1', '-'], jsonl).stdout);
  assert.deepEqual(Object.keys(bootstrapped.rouge1), ['low', 'mid', 'high']);
});

test('score bleu: per-line sentence BLEU and aggregate corpus BLEU with signatures', () => {
  const input = file('bleu.jsonl', jsonl);
  const perLine = run(['bleu', '--input', input, '--per-line']);
  assert.equal(perLine.status, 0, perLine.stderr);
  const lines = perLine.stdout.trim().split('\n').map((line) => JSON.parse(line));
  lines.forEach((line, index) => {
    assert.deepEqual(Object.keys(line), ['score', 'counts', 'totals', 'precisions', 'bp', 'sys_len', 'ref_len', 'signature']);
    assert.deepEqual(line, JSON.parse(JSON.stringify(sentenceBleu(predictions[index], referenceLists[index]))));
  });
  assert.equal(lines[0].signature, 'nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.6.0');

  const aggregate = run(['bleu', input, '--tokenize', 'intl', '--lowercase', '--smooth-method', 'floor', '--smooth-value', '0.2']);
  assert.equal(aggregate.status, 0, aggregate.stderr);
  const corpus = JSON.parse(aggregate.stdout);
  const expected = corpusBleu(predictions, referenceLists, { tokenize: 'intl', lowercase: true, smoothMethod: 'floor', smoothValue: 0.2 });
  assert.deepEqual(corpus, JSON.parse(JSON.stringify(expected)));
  assert.equal(corpus.signature, 'nrefs:var|case:lc|eff:no|tok:intl|smooth:floor[0.20]|version:2.6.0');
});

test('score chrf: chrF++ per line and aggregate', () => {
  const input = file('chrf.jsonl', jsonl);
  const perLine = run(['chrf', input, '--per-line', '--word-order', '2']);
  assert.equal(perLine.status, 0, perLine.stderr);
  const lines = perLine.stdout.trim().split('\n').map((line) => JSON.parse(line));
  lines.forEach((line, index) => {
    assert.deepEqual(line, sentenceChrf(predictions[index], referenceLists[index], { wordOrder: 2 }));
  });
  const aggregate = JSON.parse(run(['chrf', input]).stdout);
  assert.deepEqual(aggregate, new CHRF().corpusScore(predictions, referenceLists));
  assert.equal(aggregate.signature, 'nrefs:var|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0');
});

test('score: a malformed line stops with its line number and field', () => {
  const cases: [string, RegExp][] = [
    ['{"prediction":"a","reference":"b"}\n{"prediction":3,"reference":"b"}\n', /:2: field "prediction" must be a string, got a number/],
    ['{"prediction":"a"}\n', /:1: field "reference" \(string\) or "references" \(array of strings\) is missing/],
    ['{"prediction":"a","references":["x",null]}\n', /:1: field "references\[1\]" must be a string, got null/],
    ['{"prediction":"a","references":[]}\n', /:1: field "references" must be a non-empty array/],
    ['{"prediction":"a","reference":"b"}\n\nnot json\n', /:3: not valid JSON/],
  ];
  for (const [text, message] of cases) {
    const input = file('bad.jsonl', text);
    for (const metric of ['rouge', 'bleu', 'chrf']) {
      const result = run([metric, input]);
      assert.equal(result.status, 1, `${metric}: ${result.stdout}`);
      assert.match(result.stderr, message);
      assert.match(result.stderr, /bad\.jsonl/);
      assert.equal(result.stdout, '');
    }
  }
});

test('score: an empty input is an explicit error, not a score', () => {
  const empty = file('empty.jsonl', '');
  const blank = file('blank.jsonl', '\n  \n');
  for (const metric of ['rouge', 'bleu', 'chrf']) {
    for (const input of [empty, blank]) {
      const result = run([metric, input]);
      assert.equal(result.status, 1);
      assert.match(result.stderr, /has no records/);
      assert.equal(result.stdout, '');
    }
    const stdin = run([metric], '');
    assert.equal(stdin.status, 1);
    assert.match(stdin.stderr, /stdin has no records/);
  }
});

test('score: --help, unknown metric, unknown flag', () => {
  const help = run(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /usage: tunekit score rouge\|bleu\|chrf/);
  assert.match(help.stdout, /--smooth-method/);
  const unknownMetric = run(['meteor']);
  assert.equal(unknownMetric.status, 1);
  assert.match(unknownMetric.stderr, /rouge, bleu or chrf \(got "meteor"\)/);
  const unknownFlag = run(['bleu', '--stemmer'], jsonl);
  assert.equal(unknownFlag.status, 1);
  assert.match(unknownFlag.stderr, /score bleu does not take --stemmer/);
  const missing = run(['rouge', path.join(directory, 'missing.jsonl')]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /cannot read .*missing\.jsonl/);
});
