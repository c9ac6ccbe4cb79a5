import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

function run(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, TUNEKIT_THREADS: '1' } });
}

describe('tunekit CLI', () => {
  it('lists verbs and gives --help for each', () => {
    const usage = run(['--help']);
    assert.equal(usage.status, 0);
    const verbs = usage.stdout.split('\n').filter((line) => line.startsWith('  ')).map((line) => line.trim().split(/\s+/)[0]);
    assert.ok(verbs.includes('demo'));
    for (const verb of verbs) {
      const help = run([verb, '--help']);
      assert.equal(help.status, 0, verb);
      assert.match(help.stdout, new RegExp(`usage: tunekit ${verb}`));
    }
  });

  it('the package bin is executable, so `npx tunekit` can run it', () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
    assert.equal(path.join(repoRoot, pkg.bin.tunekit), cli);
    accessSync(cli, constants.X_OK);
    assert.match(readFileSync(cli, 'utf8'), /^#!\/usr\/bin\/env node/);
  });

  it('rejects an unknown verb', () => {
    const result = run(['frobnicate']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /unknown verb "frobnicate"/);
  });

  it('a bad flag value is a clear error', () => {
    const result = run(['demo', '--steps', 'many']);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /--steps expects an integer .*, got "many"/);
    const unknown = run(['demo', '--stepz', '3']);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /--stepz/);
  });
});

describe('tunekit generate and info', { skip: hasShared ? false : 'no ../shared' }, () => {
  const stories = path.join(sharedDir, 'reference', 'models', 'stories260K');
  const t5 = path.join(sharedDir, 'reference', 'models', 'hf-tiny', 't5_flan');

  it('--prompt through tokenizer.json gives the llama2.c greedy ids and text (--json)', () => {
    const goldens = JSON.parse(readFileSync(path.join(stories, 'goldens.json'), 'utf8'));
    const first = goldens.cases[0];
    const result = run(['generate', '--model', stories, '--prompt', first.prompt, '--max-new-tokens', String(first.greedy.max_new_tokens), '--json']);
    assert.equal(result.status, 0, result.stderr);
    const record = JSON.parse(result.stdout.trim());
    assert.deepEqual(record.ids, [...first.prompt_ids, ...first.greedy.continuation_ids]);
    assert.equal(record.text, first.greedy.full_text);
  });

  it('streams text without --json', () => {
    const result = run(['generate', '--model', stories, '--prompt', 'Once upon a time', '--max-new-tokens', '12']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^Once upon a time, there was a little girl named Lily/);
  });

  it('--prompt-ids with beam search on a folder without a tokenizer (T5)', () => {
    const golden = JSON.parse(readFileSync(path.join(t5, 'golden.json'), 'utf8'));
    const ids = golden.generate.inputs.single.input_ids[0].join(',');
    const result = run(['generate', '--model', t5, '--prompt-ids', ids, '--max-new-tokens', '12', '--num-beams', '3', '--json']);
    assert.equal(result.status, 0, result.stderr);
    const record = JSON.parse(result.stdout.trim());
    assert.deepEqual(record.ids, golden.generate.beam3.single.sequences[0]);
    assert.equal(record.text, undefined);
  });

  it('--prompt without a tokenizer and bad --prompt-ids are clear errors', () => {
    const noTokenizer = run(['generate', '--model', t5, '--prompt', 'hello']);
    assert.equal(noTokenizer.status, 1);
    assert.match(noTokenizer.stderr, /no tokenizer\.json: pass --prompt-ids/);
    const badIds = run(['generate', '--model', t5, '--prompt-ids', '1,x']);
    assert.match(badIds.stderr, /--prompt-ids expects comma-separated decimal token ids/);
  });

  it('info reports architecture, parameters, dtype and memory', () => {
    const result = run(['info', '--model', stories, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const info = JSON.parse(result.stdout.trim());
    assert.equal(info.architecture, 'LlamaForCausalLM');
    assert.equal(info.parameters, 260032);
    assert.equal(info.dtype, 'float32');
    assert.equal(info.parameterBytes, 260032 * 4);
  });
});

describe('tunekit merge, generate --adapter and inspect', { skip: hasShared ? false : 'no ../shared' }, () => {
  const tiny = path.join(sharedDir, 'reference', 'models', 'hf-tiny');

  it('merge writes a plain model whose generation equals the adapter\'s', () => {
    const golden = JSON.parse(readFileSync(path.join(tiny, 'llama', 'golden.json'), 'utf8'));
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'tunekit-merge-')), 'merged');
    const merged = run(['merge', '--model', path.join(tiny, 'llama'), '--adapter', path.join(tiny, 'llama', 'adapters', 'lora_all_linear'), '--out', out]);
    assert.equal(merged.status, 0, merged.stderr);
    assert.ok(existsSync(path.join(out, 'model.safetensors')) && existsSync(path.join(out, 'config.json')));
    const ids = golden.generate.inputs.single.input_ids[0].join(',');
    const result = run(['generate', '--model', out, '--prompt-ids', ids, '--max-new-tokens', '12', '--json']);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout.trim()).ids, golden.adapters.lora_all_linear.generate_greedy_single[0]);
    rmSync(path.dirname(out), { recursive: true, force: true });
  });

  it('generate --adapter uses a soft prompt', () => {
    const golden = JSON.parse(readFileSync(path.join(tiny, 't5_flan', 'golden.json'), 'utf8'));
    const ids = golden.generate.inputs.single.input_ids[0].join(',');
    const result = run(['generate', '--model', path.join(tiny, 't5_flan'), '--adapter', path.join(tiny, 't5_flan', 'adapters', 'prompt_tuning'), '--prompt-ids', ids, '--max-new-tokens', '12', '--json']);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout.trim()).ids, golden.adapters.prompt_tuning.generate_greedy_single[0]);
  });

  it('inspect soft-prompt lists k neighbours per virtual token; a LoRA adapter is refused', () => {
    const result = run(['inspect', 'soft-prompt', '--model', path.join(tiny, 'llama'), '--adapter', path.join(tiny, 'llama', 'adapters', 'prompt_tuning'), '--top-k', '3', '--json']);
    assert.equal(result.status, 0, result.stderr);
    const rows = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    assert.equal(rows.length, 5);
    assert.ok(rows.every((row) => row.nearest.length === 3 && row.nearest[0].similarity >= row.nearest[2].similarity));
    const refused = run(['inspect', 'soft-prompt', '--model', path.join(tiny, 'llama'), '--adapter', path.join(tiny, 'llama', 'adapters', 'lora_default')]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /not a soft prompt/);
  });
});

describe('tunekit export-gguf', { skip: hasShared ? false : 'no ../shared' }, () => {
  it('writes a llama.cpp LoRA adapter that reads back with the adapter metadata', async () => {
    const { readGguf } = await import('../src/io/gguf-writer.js');
    const llama = path.join(sharedDir, 'reference', 'models', 'hf-tiny', 'llama');
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'tunekit-gguf-')), 'adapter.gguf');
    const result = run(['export-gguf', '--adapter', path.join(llama, 'adapters', 'lora_default'), '--model', llama, '--out', out]);
    assert.equal(result.status, 0, result.stderr);
    const gguf = await readGguf(out);
    const metadata = new Map([...gguf.metadata].map(([key, entry]) => [key, (entry as { value?: unknown }).value]));
    assert.equal(metadata.get('general.type'), 'adapter');
    assert.equal(metadata.get('adapter.type'), 'lora');
    assert.equal(metadata.get('adapter.lora.alpha'), 8);
    assert.equal(gguf.tensors.length, 16);
    rmSync(path.dirname(out), { recursive: true, force: true });
  });
});
