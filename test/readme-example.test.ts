// The README as a newcomer reads it: its library example type-checks against the package's declarations and runs
// (on stories260K instead of the hub id), and its CLI table agrees with the verbs' --help: every verb is listed,
// every flag the README names is one the verb accepts, and every flag a verb parses is in its --help.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import ts from 'typescript';
import { runConfigKeys } from '../src/index.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-readme-example-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `README has a "## ${title}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

const example = (() => {
  const match = /```ts\n([\s\S]*?)```/.exec(section('What tunekit is'));
  assert.ok(match !== null, 'the library example');
  return match[1];
})();

describe("the README's library example", () => {
  it('is about ten lines of code', () => {
    const code = example.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('import '));
    assert.ok(code.length <= 12, `${code.length} lines`);
  });

  it('type-checks against the package as an npm user imports it', () => {
    const file = path.join(scratch, 'example.mts');
    writeFileSync(file, example);
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [path.join(repoRoot, 'node_modules', '@types')],
      baseUrl: repoRoot,
      paths: { tunekit: [path.join(repoRoot, 'dist', 'src', 'index.d.ts')] },
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    assert.deepEqual(diagnostics, []);
  });

  it('runs: trains the adapter, prints a completion and saves a PEFT folder', { skip: hasShared ? false : 'needs ../shared' }, () => {
    const adapter = path.join(scratch, 'my-adapter');
    const runnable = example
      .replace("from 'tunekit'", `from ${JSON.stringify(path.join(repoRoot, 'dist', 'src', 'index.js'))}`)
      .replace("'HuggingFaceTB/SmolLM2-135M'", JSON.stringify(path.join(sharedDir, 'reference', 'models', 'stories260K')))
      .replace("'my-adapter'", JSON.stringify(adapter));
    const file = path.join(scratch, 'example.mjs');
    writeFileSync(file, runnable);
    const result = spawnSync(process.execPath, [file], { encoding: 'utf8', env: { ...process.env, TUNEKIT_THREADS: '1' } });
    assert.equal(result.status, 0, result.stderr);
    assert.ok(result.stdout.trim().length > 0);
    assert.ok(existsSync(path.join(adapter, 'adapter_config.json')) && existsSync(path.join(adapter, 'adapter_model.safetensors')));
  });
});

/** The flags a verb's source parses: its FLAGS/SPEC objects and the shared flag sets it spreads in. */
function sourceFlags(verb: string): string[] {
  const text = readFileSync(path.join(repoRoot, 'src', 'cli', `${verb}.ts`), 'utf8');
  const flags = new Set<string>();
  for (const match of text.matchAll(/(?:'([a-z][a-z0-9-]*)'|\b([a-z][a-zA-Z0-9]*)): '(?:value|switch)'/g)) flags.add(match[1] ?? match[2]);
  if (text.includes('...MODEL_FLAGS')) for (const flag of ['model', 'revision', 'dtype', 'threads']) flags.add(flag);
  if (text.includes('...ADAPTER_FLAGS')) flags.add('adapter');
  return [...flags];
}

function help(verb: string): string {
  const result = spawnSync(process.execPath, [cli, verb, '--help'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

describe("the README's CLI table and the verbs' --help", () => {
  const verbs = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((line) => line.startsWith('  '))
    .map((line) => line.trim().split(/\s+/)[0]);
  const table = section('CLI');

  it('lists every verb, and each verb file is a verb', () => {
    const files = readdirSync(path.join(repoRoot, 'src', 'cli')).filter((name) => name.endsWith('.ts')).map((name) => name.replace(/\.ts$/, ''));
    for (const verb of verbs) {
      assert.ok(table.includes(`\n| \`${verb}\` |`), `README's CLI table has a row for ${verb}`);
      assert.ok(files.includes(verb), `src/cli/${verb}.ts`);
    }
  });

  it('every flag a verb parses is in its --help, and every flag its README row names is one it takes', () => {
    for (const verb of verbs) {
      const text = help(verb);
      // train takes every run-config key as a flag; its help names the keys rather than listing each as --flag.
      const parsed = verb === 'train' ? ['config', 'json', 'threads', 'dry-run'] : sourceFlags(verb);
      for (const flag of parsed) assert.ok(text.includes(`--${flag}`), `tunekit ${verb} --help mentions --${flag}`);
      const row = table.split('\n').find((line) => line.startsWith(`| \`${verb}\` |`)) as string;
      for (const [, flag] of row.matchAll(/--([a-z][a-z0-9-]*)/g)) {
        if (verb === 'train' && runConfigKeys().includes(flag.replaceAll('-', '_'))) continue;
        assert.ok(text.includes(`--${flag}`), `README's ${verb} row names --${flag}, which tunekit ${verb} --help does not`);
      }
    }
  });
});
