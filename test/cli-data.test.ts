// `tunekit data`: bundled templates, building seeded splits of instruction records, tokenizing them as the library does.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { bundledTemplates, loadTokenizer, readJsonl, tokenizeSftJsonl } from '../src/index.js';
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
});
