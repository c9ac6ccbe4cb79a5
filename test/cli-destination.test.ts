/**
 * `tunekit merge` and `tunekit export-gguf` never lose what the user had: each bad --out is one error line with
 * exit code 1 and nothing around it changes; --overwrite replaces an unrelated destination, never an input.
 * Models are copied into a scratch folder first, so a regression deletes only copies.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { deadPid, snapshotTree, startSleeper } from './helpers/filesystem.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const llama = path.join(sharedDir, 'reference', 'models', 'hf-tiny', 'llama');
const mergedFiles = ['config.json', 'generation_config.json', 'model.safetensors'];

describe('tunekit merge and export-gguf keep what is at --out', { skip: hasShared ? false : 'no ../shared' }, () => {
  const root = mkdtempSync(path.join(tmpdir(), 'tunekit-cli-destination-'));
  // Readable by all, so the read-only case can run as user nobody when the tests run as root.
  chmodSync(root, 0o755);
  const sleeper = startSleeper();
  after(() => {
    sleeper.kill();
    rmSync(root, { recursive: true, force: true });
  });

  let counter = 0;
  /** A scratch folder holding copies of the base model (`base/`) and of its LoRA adapter (`adapter/`). */
  function freshCase(): string {
    const directory = path.join(root, `case-${counter++}`);
    mkdirSync(path.join(directory, 'base'), { recursive: true });
    for (const name of mergedFiles) copyFileSync(path.join(llama, name), path.join(directory, 'base', name));
    cpSync(path.join(llama, 'adapters', 'lora_default'), path.join(directory, 'adapter'), { recursive: true });
    return directory;
  }

  function run(directory: string, args: string[], user: { uid?: number; gid?: number } = {}) {
    return spawnSync(process.execPath, [cli, ...args], { ...user, cwd: directory, encoding: 'utf8', env: { ...process.env, TUNEKIT_THREADS: '1' } });
  }
  const merge = (directory: string, ...args: string[]) => run(directory, ['merge', '--model', 'base', '--adapter', 'adapter', ...args]);
  const exportGguf = (directory: string, ...args: string[]) => run(directory, ['export-gguf', '--model', 'base', '--adapter', 'adapter', ...args]);

  /** Exit code 1 and exactly one stderr line naming `out` and saying why (`reason`). */
  function assertRefused(result: ReturnType<typeof run>, out: string, reason: RegExp): void {
    assert.equal(result.status, 1, `${result.stdout}\n${result.stderr}`);
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.ok(lines[0].startsWith(`tunekit: cannot write to "${out}": `), lines[0]);
    assert.match(lines[0], reason);
  }

  /** Runs `action` and asserts that nothing under `directory` changed, outside the paths `changed` accepts. */
  function assertUnchanged(directory: string, action: () => void, changed: (relativePath: string) => boolean = () => false): void {
    const before = snapshotTree(directory, changed);
    action();
    assert.deepEqual(snapshotTree(directory, changed), before);
  }

  /** True for `name` itself, what it holds, and its temporaries. */
  const isDestination = (name: string) => (relativePath: string) => relativePath === name || relativePath.startsWith(`${name}${path.sep}`) || relativePath.startsWith(`${name}.`);

  it('refuses an unrelated non-empty folder; --overwrite replaces it and nothing else', () => {
    const directory = freshCase();
    mkdirSync(path.join(directory, 'other', 'nested'), { recursive: true });
    writeFileSync(path.join(directory, 'other', 'nested', 'notes.txt'), 'mine');
    assertUnchanged(directory, () => assertRefused(merge(directory, '--out', 'other'), 'other', /not empty; pass --overwrite to replace it$/));
    assertUnchanged(directory, () => {
      const result = merge(directory, '--out', 'other', '--overwrite');
      assert.equal(result.status, 0, result.stderr);
    }, isDestination('other'));
    assert.deepEqual(readdirSync(path.join(directory, 'other')).sort(), mergedFiles);
    assert.deepEqual(readdirSync(directory).sort(), ['adapter', 'base', 'other']);
  });

  it('refuses a regular file, with or without --overwrite', () => {
    const directory = freshCase();
    writeFileSync(path.join(directory, 'notes.txt'), 'mine');
    for (const extra of [[], ['--overwrite']]) {
      assertUnchanged(directory, () => assertRefused(merge(directory, '--out', 'notes.txt', ...extra), 'notes.txt', /it is a file and a folder is expected$/));
    }
  });

  it('refuses the base model folder, however it is spelled, even with --overwrite', () => {
    const directory = freshCase();
    symlinkSync('base', path.join(directory, 'link-to-base'));
    for (const out of ['base', './base/', path.join(directory, 'base'), 'link-to-base']) {
      assertUnchanged(directory, () => assertRefused(merge(directory, '--out', out, '--overwrite'), out, /it is the input "base"; choose another destination$/));
    }
  });

  it('refuses the adapter folder and a folder inside it, even with --overwrite', () => {
    const directory = freshCase();
    assertUnchanged(directory, () => assertRefused(merge(directory, '--out', 'adapter', '--overwrite'), 'adapter', /it is the input "adapter"/));
    assertUnchanged(directory, () => assertRefused(merge(directory, '--out', 'adapter/merged', '--overwrite'), 'adapter/merged', /it is inside the input "adapter"/));
  });

  it('refuses a folder that contains the base model, even with --overwrite', () => {
    const directory = freshCase();
    mkdirSync(path.join(directory, 'models'));
    cpSync(path.join(directory, 'base'), path.join(directory, 'models', 'base'), { recursive: true });
    assertUnchanged(directory, () => {
      const result = run(directory, ['merge', '--model', 'models/base', '--adapter', 'adapter', '--out', 'models', '--overwrite']);
      assertRefused(result, 'models', /it contains the input "models\/base"/);
    });
  });

  it('refuses --out . (the working folder), even with --overwrite', () => {
    const directory = freshCase();
    assertUnchanged(directory, () => assertRefused(merge(directory, '--out', '.', '--overwrite'), '.', /it is the current folder/));
    assertUnchanged(directory, () => assertRefused(exportGguf(directory, '--out', '.', '--overwrite'), '.', /it is the current folder/));
  });

  it('refuses a missing parent folder', () => {
    const directory = freshCase();
    assertUnchanged(directory, () => assertRefused(merge(directory, '--out', 'missing/merged'), 'missing/merged', /the folder ".*missing" does not exist; create it first$/));
  });

  it('refuses a folder it may not write in (as user nobody when running as root)', { skip: process.platform === 'win32' ? 'no permission bits' : false }, () => {
    const directory = freshCase();
    chmodSync(directory, 0o755);
    const readOnly = path.join(directory, 'read-only');
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o555);
    // Root ignores permission bits, so as root the CLI runs as nobody, who may read the copies but not write there.
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    try {
      assertUnchanged(directory, () => assertRefused(run(directory, ['merge', '--model', 'base', '--adapter', 'adapter', '--out', 'read-only/merged'], asUser), 'read-only/merged', /is not writable \(permission denied\)$/));
    } finally {
      chmodSync(readOnly, 0o755);
    }
  });

  it('export-gguf refuses an existing file; --overwrite replaces it and nothing else', () => {
    const directory = freshCase();
    writeFileSync(path.join(directory, 'adapter.gguf'), 'mine');
    assertUnchanged(directory, () => assertRefused(exportGguf(directory, '--out', 'adapter.gguf'), 'adapter.gguf', /the file already exists; pass --overwrite to replace it$/));
    assertUnchanged(directory, () => {
      const result = exportGguf(directory, '--out', 'adapter.gguf', '--overwrite');
      assert.equal(result.status, 0, result.stderr);
    }, isDestination('adapter.gguf'));
    assert.equal(readFileSync(path.join(directory, 'adapter.gguf')).subarray(0, 4).toString('latin1'), 'GGUF');
    assert.deepEqual(readdirSync(directory).sort(), ['adapter', 'adapter.gguf', 'base']);
  });

  it('export-gguf refuses a folder, and an existing file inside an input, even with --overwrite', () => {
    const directory = freshCase();
    mkdirSync(path.join(directory, 'out.gguf'));
    assertUnchanged(directory, () => assertRefused(exportGguf(directory, '--out', 'out.gguf', '--overwrite'), 'out.gguf', /it is a folder and a file is expected$/));
    assertUnchanged(directory, () => assertRefused(exportGguf(directory, '--out', 'adapter/adapter_model.safetensors', '--overwrite'), 'adapter/adapter_model.safetensors', /it is inside the input "adapter"/));
    // A new file beside the adapter's own takes nothing away.
    const beside = exportGguf(directory, '--out', 'adapter/adapter.gguf');
    assert.equal(beside.status, 0, beside.stderr);
    assert.ok(existsSync(path.join(directory, 'adapter', 'adapter.gguf')));
  });

  it('a dead writer\'s temporaries are cleaned up, a live writer\'s are kept', () => {
    const directory = freshCase();
    const dead = deadPid();
    for (const name of [`merged.tmp-${dead}`, `merged.tmp-${sleeper.pid}`]) {
      mkdirSync(path.join(directory, name));
      writeFileSync(path.join(directory, name, 'model.safetensors'), 'partial');
    }
    writeFileSync(path.join(directory, `adapter.gguf.tmp-${dead}`), 'partial');
    writeFileSync(path.join(directory, `adapter.gguf.tmp-${sleeper.pid}-1`), 'partial');
    const keep = (relativePath: string) => relativePath.startsWith('merged') || relativePath.startsWith('adapter.gguf');
    assertUnchanged(directory, () => {
      const result = merge(directory, '--out', 'merged');
      assert.equal(result.status, 0, result.stderr);
    }, keep);
    assertUnchanged(directory, () => {
      const result = exportGguf(directory, '--out', 'adapter.gguf');
      assert.equal(result.status, 0, result.stderr);
    }, keep);
    assert.deepEqual(readdirSync(directory).sort(), ['adapter', 'adapter.gguf', `adapter.gguf.tmp-${sleeper.pid}-1`, 'base', 'merged', `merged.tmp-${sleeper.pid}`].sort());
    assert.equal(readFileSync(path.join(directory, `merged.tmp-${sleeper.pid}`, 'model.safetensors'), 'utf8'), 'partial');
    assert.deepEqual(readdirSync(path.join(directory, 'merged')).sort(), mergedFiles);
  });

  it('a dead writer\'s .old folder with the target missing is restored, and then refused without --overwrite', () => {
    const directory = freshCase();
    const previous = `merged.old-${deadPid()}`;
    mkdirSync(path.join(directory, previous, 'nested'), { recursive: true });
    writeFileSync(path.join(directory, previous, 'nested', 'notes.txt'), 'mine');
    const held = snapshotTree(path.join(directory, previous));
    const around = snapshotTree(directory, isDestination('merged'));
    assertRefused(merge(directory, '--out', 'merged'), 'merged', /not empty; pass --overwrite to replace it$/);
    assert.deepEqual(readdirSync(directory).sort(), ['adapter', 'base', 'merged']);
    assert.deepEqual(snapshotTree(path.join(directory, 'merged')), held);
    assert.deepEqual(snapshotTree(directory, isDestination('merged')), around);
    assert.ok(statSync(path.join(directory, 'merged')).isDirectory() && existsSync(path.join(directory, 'merged', 'nested', 'notes.txt')));
  });
});
