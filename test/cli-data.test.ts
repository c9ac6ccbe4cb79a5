// `tunekit data`: bundled templates, building seeded splits of instruction records, tokenizing them as the library does.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { bundledTemplates, loadTokenizer, readJsonl, tokenizeSftDataset, tokenizeSftJsonl } from '../src/index.js';
import { snapshotTree } from './helpers/filesystem.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-cli-data-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function run(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { cwd: scratch, encoding: 'utf8', env: { ...process.env, TUNEKIT_THREADS: '1' } });
}

const raw = path.join(scratch, 'raw.jsonl');
writeFileSync(raw, Array.from({ length: 40 }, (_, i) => JSON.stringify({ id: i, dialogue: `#Person1#: Shall we meet at ${i} o'clock?\n#Person2#: Yes.`, summary: `They meet at ${i}.` })).join('\n') + '\n');

const lines = (file: string) => readFileSync(file, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

describe('tunekit data', () => {
  it('templates lists every bundled template', () => {
    const result = run(['data', 'templates', '--json']);
    assert.equal(result.status, 0, result.stderr);
    const names = result.stdout.trimEnd().split('\n').map((line) => (JSON.parse(line) as { name: string }).name);
    assert.deepEqual(names, bundledTemplates().map((info) => info.name));
  });

  it('build writes seeded train/validation/test splits of prompt/completion records, the same for the same seed', () => {
    const build = (out: string, seed: string) => run(['data', 'build', '--input', raw, '--template', 'summarize_dialogue', '--out', out, '--split', '0.5,0.25,0.25', '--seed', seed, '--json']);
    const first = build('a', '7');
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout).splits, { train: 20, validation: 10, test: 10 });
    assert.equal(build('b', '7').status, 0);
    assert.equal(build('c', '8').status, 0);
    for (const split of ['train', 'validation', 'test']) {
      const records = lines(path.join(scratch, 'a', `${split}.jsonl`));
      for (const record of records) assert.deepEqual(Object.keys(record), ['prompt', 'completion']);
      assert.deepEqual(records, lines(path.join(scratch, 'b', `${split}.jsonl`)));
    }
    assert.notDeepEqual(lines(path.join(scratch, 'a', 'train.jsonl')), lines(path.join(scratch, 'c', 'train.jsonl')));
    const all = ['train', 'validation', 'test'].flatMap((split) => lines(path.join(scratch, 'a', `${split}.jsonl`)));
    assert.deepEqual(all.map((record) => record.completion).sort(), Array.from({ length: 40 }, (_, i) => `They meet at ${i}.`).sort());
  });

  it('build without --split keeps every record, in input order, in train.jsonl', () => {
    const result = run(['data', 'build', '--input', raw, '--template', 'summarize_dialogue', '--out', 'ordered']);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(lines(path.join(scratch, 'ordered', 'train.jsonl')).map((record) => record.completion), Array.from({ length: 40 }, (_, i) => `They meet at ${i}.`));
  });

  it('bad input is one line naming the template, field or record, and nothing is written', () => {
    const template = path.join(scratch, 'task.yaml');
    writeFileSync(template, 'prompt: "Summarize: {transcript}"\ncompletion: "{summary}"\n');
    const before = snapshotTree(scratch);
    for (const [args, message] of [
      [['--template', template], /raw\.jsonl:1: template .* needs field 'transcript'/],
      [['--template', 'no_such_template'], /no_such_template/],
      [['--template', 'summarize_dialogue', '--split', '0.5,0.7'], /split/i],
    ] as const) {
      const result = run(['data', 'build', '--input', raw, '--out', 'refused', ...args]);
      assert.equal(result.status, 1, result.stderr);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, message);
    }
    assert.deepEqual(snapshotTree(scratch), before);
  });

  it('tokenize writes exactly what the library tokenization gives', { skip: hasShared ? false : 'no ../shared' }, async () => {
    const stories = path.join(sharedDir, 'reference', 'models', 'stories260K');
    const input = path.join(scratch, 'a', 'test.jsonl');
    const result = run(['data', 'tokenize', '--model', stories, '--input', input, '--out', 'tokens.jsonl', '--max-length', '200', '--json']);
    assert.equal(result.status, 0, result.stderr);
    const expected = tokenizeSftJsonl(loadTokenizer(stories), await readJsonl(input), input, { maxLength: 200 });
    assert.deepEqual(lines(path.join(scratch, 'tokens.jsonl')), expected.examples);
    assert.equal(JSON.parse(result.stdout).examples, expected.examples.length);
    for (const example of expected.examples) assert.ok((example.labels as number[]).some((label) => label !== -100) && (example.labels as number[])[0] === -100);
  });

  describe('inspect', () => {
    // A model folder holding GPT-2's tokenizer (whose pad token is its EOS token) and a config naming the architecture.
    const model = path.join(scratch, 'gpt2-tokenizer-model');
    mkdirSync(model);
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(repoRoot, 'test', 'fixtures', 'tokenize', 'gpt2-bpe', file), path.join(model, file));
    writeFileSync(path.join(model, 'config.json'), JSON.stringify({ model_type: 'gpt2' }));
    const input = path.join(scratch, 'inspect.jsonl');
    const pairs = [
      { prompt: 'Hi:', completion: ' ok' },
      { prompt: 'Translate to French: good morning', completion: ' bonjour, mes chers amis, comment allez-vous' },
      { prompt: 'A prompt that goes on and on and on and on and on and on and on and on and on and on', completion: ' short' },
      { prompt: 'Fourth:', completion: ' four' },
    ];
    writeFileSync(input, pairs.map((pair) => JSON.stringify(pair)).join('\n') + '\n');
    const tokenizer = loadTokenizer(model);
    const maxLength = tokenizer.encode(pairs[1].prompt).length + 3;
    const events = (stdout: string) => stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

    it('--json: each example\'s tokens are what tokenize writes, each with its supervised flag, then warnings naming the records', async () => {
      const result = run(['data', 'inspect', '--model', model, '--input', input, '--max-length', String(maxLength), '--json']);
      assert.equal(result.status, 0, result.stderr);
      const lines = events(result.stdout);
      const examples = lines.filter((line) => line.event === 'example') as Array<{ record: number; where: string; dropped: boolean; tokens: Array<{ id: number; token: string; supervised: boolean }> }>;
      assert.deepEqual(examples.map((example) => example.where), [1, 2, 3].map((line) => `${input}:${line}`), 'the first 3 records by default');
      const tokenized = tokenizeSftJsonl(tokenizer, await readJsonl(input), input, { maxLength });
      const kept = examples.filter((example) => !example.dropped);
      assert.equal(kept.length, tokenized.examples.length - 1, 'record 4, beyond --count, is the only other example');
      kept.forEach((example, index) => {
        assert.deepEqual(example.tokens.map((token) => token.id), tokenized.examples[index].input_ids);
        assert.deepEqual(example.tokens.map((token) => token.supervised), tokenized.examples[index].labels.map((label) => label !== -100));
      });
      const warnings = lines.filter((line) => line.event === 'warning').map((line) => [line.kind, line.records]);
      assert.deepEqual(warnings, [['truncated-completion', [2]], ['no-supervised-tokens', [3]], ['pad-is-eos', [1]]]);
      assert.deepEqual(lines.at(-1), { event: 'done', format: 'prompt-completion', completionOnlyLoss: true, padTokenId: tokenizer.eosTokenId, examples: 3, warnings: 3 });
    });

    it('text: supervised tokens in brackets, one warning line each', () => {
      const result = run(['data', 'inspect', '--model', model, '--input', input, '--count', '1']);
      assert.equal(result.status, 0, result.stderr);
      const pieces = tokenizer.convertIdsToTokens(tokenizer.encode(pairs[0].prompt + pairs[0].completion + '<|endoftext|>'));
      const promptLength = tokenizer.encode(pairs[0].prompt).length;
      assert.ok(result.stdout.includes(`\n  ${pieces.slice(0, promptLength).join(' ')} [${pieces.slice(promptLength).join(' ')}]\n`), result.stdout);
      assert.match(result.stdout, new RegExp(`record 1 \\(${input.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1\\): ${pieces.length} tokens, ${pieces.length - promptLength} supervised\n`));
      assert.match(result.stdout, /\nwarning: the pad id \d+ is also the EOS id .* TRL's SFTTrainer collator \(and tunekit's\) pads labels with -100 by length/);
    });

    it('--template renders raw records as build does, then inspects them as train would', () => {
      const result = run(['data', 'inspect', '--model', model, '--input', raw, '--template', 'summarize_dialogue', '--count', '2', '--json']);
      assert.equal(result.status, 0, result.stderr);
      const built = lines(path.join(scratch, 'ordered', 'train.jsonl')).slice(0, 2);
      const expected = tokenizeSftDataset(tokenizer, built, {});
      const examples = events(result.stdout).filter((line) => line.event === 'example') as Array<{ where: string; tokens: Array<{ id: number }> }>;
      assert.deepEqual(examples.map((example) => example.tokens.map((token) => token.id)), expected.examples.map((example) => example.input_ids));
      assert.deepEqual(examples.map((example) => example.where), [`${raw}:1`, `${raw}:2`]);
    });

    it('bad flags are one-line errors: unknown (with the nearest), missing, out of range', () => {
      for (const [args, message] of [
        [['--model', model, '--input', input, '--cuont', '2'], /unknown flag --cuont \(did you mean --count\?\)/],
        [['--input', input], /--model ID\|DIR is required/],
        [['--model', model, '--input', input, '--count', '0'], /--count expects an integer ≥ 1, got "0"/],
        [['--model', model, '--input', input, '--out', 'x.jsonl'], /unknown flag --out/],
      ] as const) {
        const result = run(['data', 'inspect', ...args]);
        assert.equal(result.status, 1, result.stderr);
        assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
        assert.match(result.stderr, message);
      }
    });
  });
});
