// Every bad input to the CLI gets one clear line and exit 1, naming the flag, field, file or line at fault, and
// changes nothing around it: flags, token ids and context length, configs, files.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { after, describe, it } from 'node:test';
import { snapshotTree } from './helpers/filesystem.js';
import { editConfig, modelFixtures } from './helpers/model-folders.js';
import { closeServer, listenOnLoopback } from './helpers/loopback.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-cli-inputs-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function copyModel(name: string, as: string): string {
  const dir = path.join(scratch, as);
  cpSync(path.join(modelFixtures, name), dir, { recursive: true });
  return dir;
}

const llama = copyModel('llama_tied', 'llama'); // vocab 128, context 64
const gpt2 = copyModel('gpt2_inner_scaled', 'gpt2'); // vocab 128, context 64

function run(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, TUNEKIT_THREADS: '1', HF_HUB_OFFLINE: '1' } });
}

/** Runs a command that must be refused: exit 1, one stderr line matching `message`, the scratch folder unchanged. */
function refused(args: string[], message: RegExp): void {
  const before = snapshotTree(scratch);
  const result = run(args);
  const where = `tunekit ${args.join(' ')}`;
  assert.equal(result.status, 1, `${where}: exit ${result.status}\n${result.stderr}`);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${where}: stderr is not one line:\n${result.stderr}`);
  assert.match(lines[0], message, where);
  assert.deepEqual(snapshotTree(scratch), before, `${where} changed files around it`);
}

const ids = (count: number) => Array.from({ length: count }, (_, i) => 1 + (i % 100)).join(',');

describe('CLI flags are parsed strictly', () => {
  it('an unknown or misspelled flag is an error that suggests the nearest one', () => {
    refused(['generate', '--model', llama, '--prompt-ids', '1,2', '--max-new-token', '5'], /^tunekit: unknown flag --max-new-token \(did you mean --max-new-tokens\?\)/);
    refused(['generate', '--modle', llama, '--prompt-ids', '1,2'], /unknown flag --modle \(did you mean --model\?\)/);
    refused(['info', '--model', llama, '--typo'], /unknown flag --typo/);
    refused(['merge', '--model', llama, '--adapter', llama, '--out', path.join(scratch, 'x'), '--overwirte'], /unknown flag --overwirte \(did you mean --overwrite\?\)/);
    refused(['score', 'rouge', '--tokenise', 'x'], /unknown flag --tokenise/);
    refused(['score', 'rouge', '--tokenizer', 'unicode'], /unknown flag --tokenizer \(did you mean --tokenize\?\)/);
    refused(['generate', '-m', llama], /unknown flag -m/);
  });

  it('a switch given a value and a flag without its value name the flag', () => {
    refused(['info', '--model', llama, '--json=yes'], /--json is a switch and takes no value/);
    refused(['generate', '--prompt-ids', '1,2', '--model'], /--model needs a value/);
  });

  it('--prompt-ids takes decimal ids only: no empty items, hex or exponents', () => {
    for (const bad of ['1,,2', '0x10', '1e3', '-1', '1.5', ' ', '1,2,']) {
      refused(['generate', '--model', llama, `--prompt-ids=${bad}`], /^tunekit: --prompt-ids expects comma-separated decimal token ids/);
    }
  });

  it('numeric flags are range-checked and the error names the flag', () => {
    const base = ['generate', '--model', llama, '--prompt-ids', '1,2'];
    refused([...base, '--threads', '0'], /--threads expects an integer ≥ 1/);
    refused([...base, '--repetition-penalty', '0'], /--repetition-penalty expects a number > 0/);
    refused([...base, '--repetition-penalty=-1'], /--repetition-penalty expects a number > 0/);
    refused([...base, '--top-k=-1'], /--top-k expects an integer ≥ 0/);
    refused([...base, '--num-beams', '100000'], /--num-beams expects an integer ≥ 1 and ≤ 256/);
    refused([...base, '--max-new-tokens', '0'], /--max-new-tokens expects an integer ≥ 1/);
    refused([...base, '--temperature', '0'], /--temperature expects a number > 0/);
    refused([...base, '--top-p', '1.5'], /--top-p expects a number > 0 and ≤ 1/);
    refused([...base, '--num-return-sequences', '3'], /--num-return-sequences \(3\) cannot exceed --num-beams \(1\)/);
    refused(['demo', '--steps', 'many'], /--steps expects an integer/);
  });

  it('--version prints the package version, and the help tells the truth about --seed', () => {
    const version = run(['--version']);
    assert.equal(version.status, 0);
    assert.equal(version.stdout.trim(), JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version);
    assert.match(run(['generate', '--help']).stdout, /--seed S .*alone it does not turn sampling on/);
  });
});

describe('token ids and the context length', () => {
  it('ids outside the vocabulary are refused before they reach an embedding', () => {
    refused(['generate', '--model', llama, '--prompt-ids', '1,128'], /inputIds\[0\]\[1\] is token id 128, outside the model's vocabulary \(0 to 127\)/);
    refused(['generate', '--model', gpt2, '--prompt-ids', '99999999'], /outside the model's vocabulary/);
  });

  it('a tokenizer with ids past vocab_size is refused when the model loads, naming both files', { skip: hasShared ? false : 'no ../shared' }, () => {
    const mismatched = copyModel('llama_tied', 'tokenizer-too-big'); // vocab_size 128
    const stories = path.join(sharedDir, 'reference', 'models', 'stories260K'); // a 512-token tokenizer
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) cpSync(path.join(stories, file), path.join(mismatched, file));
    refused(['generate', '--model', mismatched, '--prompt', 'Once upon'], /config\.json: "vocab_size" is 128, but the tokenizer in .* has ids up to 511/);
  });

  it('a prompt that fills the context is refused; generation stops at the context length', () => {
    refused(['generate', '--model', gpt2, '--prompt-ids', ids(64)], /the prompt has 64 tokens, which leaves no room in the model's context of 64 positions/);
    for (const model of [gpt2, llama]) {
      const result = run(['generate', '--model', model, '--prompt-ids', ids(60), '--max-new-tokens', '50', '--json']);
      assert.equal(result.status, 0, result.stderr);
      const output = JSON.parse(result.stdout.trim().split('\n')[0]) as { ids: number[] };
      assert.ok(output.ids.length <= 64, `${model}: ${output.ids.length} positions`);
    }
  });
});

describe('configs and files', () => {
  it('a model_type tunekit does not implement is refused with the supported list, even when Llama-shaped', () => {
    const gemma = copyModel('llama_tied', 'gemma');
    editConfig(gemma, { model_type: 'gemma', architectures: ['GemmaForCausalLM'] });
    refused(['info', '--model', gemma], /config\.json: "model_type" "gemma" is not supported \(supported: .*llama.*\)/);
  });

  it('a config value outside its domain names config.json and the key', () => {
    const broken = copyModel('llama_tied', 'broken-eps');
    editConfig(broken, { rms_norm_eps: 0 });
    refused(['info', '--model', broken], /config\.json: "rms_norm_eps"/);
    const huge = copyModel('llama_tied', 'huge-layers');
    editConfig(huge, { num_hidden_layers: 1e9 });
    refused(['info', '--model', huge], /config\.json: "num_hidden_layers"/);
  });

  it('JSON Lines with a UTF-8 BOM are read; invalid UTF-8 is an error naming the line', () => {
    const withBom = path.join(scratch, 'bom.jsonl');
    writeFileSync(withBom, '\ufeff{"prediction": "a cat", "reference": "a cat"}\n');
    const ok = run(['score', 'bleu', withBom]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).score, 0);
    const invalid = path.join(scratch, 'invalid.jsonl');
    writeFileSync(invalid, Buffer.concat([Buffer.from('{"prediction": "a", "reference": "a"}\n{"prediction": "'), Buffer.from([0xff, 0xfe]), Buffer.from('", "reference": "b"}\n')]));
    refused(['score', 'bleu', invalid], /invalid\.jsonl:2: .*UTF-8/);
  });
});

describe('the hub', () => {
  /** Runs the CLI without blocking this event loop (a fake hub in this process must answer it). */
  function runAsync(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, TUNEKIT_THREADS: '1', ...env } });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      child.on('close', (status) => resolve({ status, stderr }));
    });
  }

  function assertOneLine(result: { status: number | null; stderr: string }, message: RegExp): void {
    assert.equal(result.status, 1, result.stderr);
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], message);
  }

  it('an HF_ENDPOINT that is not a URL is one line naming it', async () => {
    const cache = path.join(scratch, 'hub-cache-bad-endpoint');
    const result = await runAsync(['info', '--model', 'org/model'], { HF_ENDPOINT: 'not a url', HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '0' });
    assertOneLine(result, /^tunekit: HF_ENDPOINT /);
  });

  it('a server answering with a traversal ETag is refused in one line, and nothing is written outside the cache', async () => {
    const commit = 'a'.repeat(40);
    const server = http.createServer((request, response) => {
      if (request.url?.startsWith('/api/')) {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sha: commit, siblings: [{ rfilename: 'config.json' }, { rfilename: 'model.safetensors' }] }));
        return;
      }
      const body = Buffer.from('{"model_type": "llama"}');
      response.writeHead(200, { 'x-repo-commit': commit, etag: '"../../../../../../escaped"', 'content-length': String(body.length) });
      response.end(request.method === 'HEAD' ? undefined : body);
    });
    const port = await listenOnLoopback(server);
    try {
      const work = path.join(scratch, 'hostile');
      const cache = path.join(work, 'a', 'b', 'c', 'cache');
      mkdirSync(cache, { recursive: true });
      const before = snapshotTree(scratch, (relative) => relative.startsWith(path.join('hostile', 'a', 'b', 'c', 'cache')));
      const result = await runAsync(['info', '--model', 'org/model'], { HF_ENDPOINT: `http://127.0.0.1:${port}`, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '0' });
      assertOneLine(result, /ETag/i);
      assert.deepEqual(snapshotTree(scratch, (relative) => relative.startsWith(path.join('hostile', 'a', 'b', 'c', 'cache'))), before);
    } finally {
      await closeServer(server);
    }
  });
});
