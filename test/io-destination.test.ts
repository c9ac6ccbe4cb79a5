import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanUpInterruptedWrites, withAtomicDirectory, withAtomicFile, writeAll, writeFileAtomicSync } from '../src/io/atomic.js';
import { checkDestination, type DestinationOptions } from '../src/io/destination.js';
import { TunekitError } from '../src/errors.js';
import { deadPid, snapshotTree, startSleeper } from './helpers/filesystem.js';

const root = mkdtempSync(path.join(tmpdir(), 'tunekit-destination-'));
const sleeper = startSleeper();
after(() => {
  sleeper.kill();
  rmSync(root, { recursive: true, force: true });
});

let counter = 0;
function freshDirectory(): string {
  const directory = path.join(root, `case-${counter++}`);
  mkdirSync(directory);
  return directory;
}

/** Asserts that checkDestination refuses, with one E_DESTINATION line naming `target` and matching `reason`. */
function assertRefused(target: string, options: DestinationOptions, reason: RegExp): void {
  assert.throws(
    () => checkDestination(target, options),
    (error: unknown) => {
      assert.ok(error instanceof TunekitError);
      assert.equal(error.code, 'E_DESTINATION');
      assert.ok(!error.message.includes('\n'), error.message);
      assert.ok(error.message.startsWith(`cannot write to "${target}": `), error.message);
      assert.match(error.message, reason);
      return true;
    },
  );
}

describe('checkDestination', () => {
  it('accepts a new path, an empty folder or an empty file, and returns the absolute path', () => {
    const directory = freshDirectory();
    assert.equal(checkDestination(path.join(directory, 'new') + path.sep, { kind: 'directory' }), path.join(directory, 'new'));
    mkdirSync(path.join(directory, 'empty'));
    assert.equal(checkDestination(path.join(directory, 'empty'), { kind: 'directory' }), path.join(directory, 'empty'));
    writeFileSync(path.join(directory, 'empty.gguf'), '');
    assert.equal(checkDestination(path.join(directory, 'empty.gguf'), { kind: 'file' }), path.join(directory, 'empty.gguf'));
    assert.deepEqual(readdirSync(directory).sort(), ['empty', 'empty.gguf']);
  });

  it('refuses a non-empty folder or file unless overwrite is given', () => {
    const directory = freshDirectory();
    const folder = path.join(directory, 'merged');
    mkdirSync(folder);
    writeFileSync(path.join(folder, 'notes.txt'), 'mine');
    assertRefused(folder, { kind: 'directory' }, /already exists and is not empty; pass --overwrite to replace it$/);
    assert.equal(checkDestination(folder, { kind: 'directory', overwrite: true }), folder);
    const file = path.join(directory, 'adapter.gguf');
    writeFileSync(file, 'GGUF');
    assertRefused(file, { kind: 'file' }, /the file already exists; pass --overwrite to replace it$/);
    assert.equal(checkDestination(file, { kind: 'file', overwrite: true }), file);
    assert.equal(readFileSync(path.join(folder, 'notes.txt'), 'utf8'), 'mine');
  });

  it('refuses a folder where a file is expected and the reverse, even with overwrite', () => {
    const directory = freshDirectory();
    mkdirSync(path.join(directory, 'folder'));
    writeFileSync(path.join(directory, 'file'), 'x');
    assertRefused(path.join(directory, 'folder'), { kind: 'file', overwrite: true }, /it is a folder and a file is expected/);
    assertRefused(path.join(directory, 'file'), { kind: 'directory', overwrite: true }, /it is a file and a folder is expected/);
    if (existsSync('/dev/null')) assertRefused('/dev/null', { kind: 'file', overwrite: true }, /not a regular file/);
  });

  it('never replaces an input, a folder holding one or a path inside one; links and spellings do not fool it', () => {
    const directory = freshDirectory();
    const models = path.join(directory, 'models');
    const base = path.join(models, 'base');
    mkdirSync(base, { recursive: true });
    writeFileSync(path.join(base, 'config.json'), '{}');
    symlinkSync(base, path.join(directory, 'link-to-base'));
    const options: DestinationOptions = { kind: 'directory', overwrite: true, inputs: [base] };
    assertRefused(base, options, new RegExp(`it is the input "${base}"; choose another destination$`));
    assertRefused(`${base}${path.sep}.${path.sep}`, options, /it is the input/);
    assertRefused(path.join(directory, 'link-to-base'), options, /it is the input/);
    assertRefused(models, options, /it contains the input/);
    assertRefused(path.join(base, 'merged'), options, /it is inside the input/);
    assertRefused(path.join(directory, 'link-to-base', 'merged'), options, /it is inside the input/);
    // The input spelled through the link protects the real folder too.
    assertRefused(base, { ...options, inputs: [path.join(directory, 'link-to-base')] }, /it is the input/);
    // A new file inside an input folder takes nothing away; an existing file there may be part of the input.
    assert.equal(checkDestination(path.join(base, 'adapter.gguf'), { kind: 'file', inputs: [base] }), path.join(base, 'adapter.gguf'));
    writeFileSync(path.join(base, 'part-of-input.bin'), 'weights');
    assertRefused(path.join(base, 'part-of-input.bin'), { kind: 'file', overwrite: true, inputs: [base] }, /it is inside the input/);
    // An input that is not on disk (a hub repo id) is not a path to protect.
    assert.equal(checkDestination(path.join(directory, 'out'), { kind: 'directory', inputs: ['org/model'] }), path.join(directory, 'out'));
  });

  it('refuses the working folder and any folder above it', () => {
    assertRefused('.', { kind: 'directory', overwrite: true }, /it is the current folder/);
    assertRefused('.', { kind: 'file', overwrite: true }, /it is the current folder/);
    assertRefused('..', { kind: 'directory', overwrite: true }, /it contains the current folder/);
    assertRefused(path.parse(process.cwd()).root, { kind: 'directory', overwrite: true }, /it contains the current folder/);
  });

  it('refuses a missing parent folder, a parent that is a file, and a broken link', () => {
    const directory = freshDirectory();
    assertRefused(path.join(directory, 'missing', 'merged'), { kind: 'directory' }, /the folder ".*missing" does not exist; create it first$/);
    writeFileSync(path.join(directory, 'file'), 'x');
    assertRefused(path.join(directory, 'file', 'merged'), { kind: 'directory' }, /".*file" is not a folder$/);
    symlinkSync(path.join(directory, 'nowhere'), path.join(directory, 'dangling'));
    assertRefused(path.join(directory, 'dangling'), { kind: 'file', overwrite: true }, /broken symbolic link/);
  });

  it('refuses a folder it may not write in', { skip: process.getuid?.() === 0 ? 'running as root, which permission bits do not stop (the CLI suite runs this case as user nobody)' : false }, () => {
    const directory = freshDirectory();
    const readOnly = path.join(directory, 'read-only');
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o555);
    try {
      assertRefused(path.join(readOnly, 'merged'), { kind: 'directory' }, /is not writable \(permission denied\)/);
    } finally {
      chmodSync(readOnly, 0o755);
    }
  });

  it('refuses a mount point', { skip: existsSync('/proc/self') ? false : 'no /proc' }, () => {
    assertRefused('/proc', { kind: 'directory', overwrite: true }, /mount point|not writable/);
  });
});

describe('interrupted writes are cleaned up', () => {
  it('an atomic file write removes its target\'s temporaries from dead processes only', async () => {
    const directory = freshDirectory();
    const target = path.join(directory, 'adapter.gguf');
    const dead = deadPid();
    for (const name of [`adapter.gguf.tmp-${dead}`, `adapter.gguf.tmp-${dead}-2`, `adapter.gguf.tmp-${sleeper.pid}`, `adapter.gguf.tmp-${process.pid}-7`, `other.gguf.tmp-${dead}`, `adapter.gguf.tmpfile`]) {
      writeFileSync(path.join(directory, name), 'partial');
    }
    mkdirSync(path.join(directory, `adapter.gguf.tmp-${dead}-3`));
    writeFileSync(path.join(directory, `adapter.gguf.tmp-${dead}-3`, 'inner'), 'partial');
    await withAtomicFile(target, (file) => writeAll(file, new TextEncoder().encode('new')));
    assert.equal(readFileSync(target, 'utf8'), 'new');
    assert.deepEqual(readdirSync(directory).sort(), ['adapter.gguf', `adapter.gguf.tmp-${process.pid}-7`, `adapter.gguf.tmp-${sleeper.pid}`, 'adapter.gguf.tmpfile', `other.gguf.tmp-${dead}`].sort());
  });

  it('the synchronous write cleans up too', () => {
    const directory = freshDirectory();
    const dead = deadPid();
    writeFileSync(path.join(directory, `state.json.tmp-${dead}`), 'partial');
    writeFileAtomicSync(path.join(directory, 'state.json'), '{}');
    assert.deepEqual(readdirSync(directory), ['state.json']);
  });

  it('a folder write removes a dead writer\'s temporary folder and its superseded .old folder, keeps a live one\'s', async () => {
    const directory = freshDirectory();
    const target = path.join(directory, 'merged');
    const dead = deadPid();
    mkdirSync(target);
    writeFileSync(path.join(target, 'config.json'), 'current');
    for (const name of [`merged.tmp-${dead}`, `merged.old-${dead}`, `merged.tmp-${sleeper.pid}`, `merged.old-${sleeper.pid}`]) {
      mkdirSync(path.join(directory, name));
      writeFileSync(path.join(directory, name, 'config.json'), name);
    }
    await withAtomicDirectory(`${target}${path.sep}`, async (temporary) => writeFileSync(path.join(temporary, 'config.json'), 'new'));
    assert.equal(readFileSync(path.join(target, 'config.json'), 'utf8'), 'new');
    assert.deepEqual(readdirSync(directory).sort(), ['merged', `merged.old-${sleeper.pid}`, `merged.tmp-${sleeper.pid}`].sort());
  });

  it('a dead writer\'s .old folder is put back when the target is missing: it is the user\'s folder', () => {
    const directory = freshDirectory();
    const target = path.join(directory, 'merged');
    const dead = deadPid();
    const previous = path.join(directory, `merged.old-${dead}`);
    mkdirSync(previous);
    writeFileSync(path.join(previous, 'notes.txt'), 'mine');
    mkdirSync(path.join(directory, `merged.tmp-${dead}`));
    const before = snapshotTree(previous);
    cleanUpInterruptedWrites(target);
    assert.deepEqual(readdirSync(directory), ['merged']);
    assert.deepEqual(snapshotTree(target), before);
  });

  it('checkDestination restores it first, so the restored folder is refused without overwrite', () => {
    const directory = freshDirectory();
    const target = path.join(directory, 'merged');
    const previous = path.join(directory, `merged.old-${deadPid()}`);
    mkdirSync(previous);
    writeFileSync(path.join(previous, 'notes.txt'), 'mine');
    assertRefused(target, { kind: 'directory' }, /not empty; pass --overwrite/);
    assert.equal(readFileSync(path.join(target, 'notes.txt'), 'utf8'), 'mine');
    assert.deepEqual(readdirSync(directory), ['merged']);
  });

  it('of several dead .old folders the most recently moved one is put back, the older ones were superseded', async () => {
    const directory = freshDirectory();
    const target = path.join(directory, 'merged');
    const [older, newer] = [deadPid(), deadPid()];
    mkdirSync(path.join(directory, 'staging'));
    writeFileSync(path.join(directory, 'staging', 'version'), 'older');
    renameSync(path.join(directory, 'staging'), path.join(directory, `merged.old-${older}`));
    await new Promise((resolve) => setTimeout(resolve, 30));
    mkdirSync(path.join(directory, 'staging'));
    writeFileSync(path.join(directory, 'staging', 'version'), 'newer');
    renameSync(path.join(directory, 'staging'), path.join(directory, `merged.old-${newer}`));
    cleanUpInterruptedWrites(target);
    assert.deepEqual(readdirSync(directory), ['merged']);
    assert.equal(readFileSync(path.join(target, 'version'), 'utf8'), 'newer');
  });

  it('a live writer\'s .old folder is left alone even when the target is missing', () => {
    const directory = freshDirectory();
    mkdirSync(path.join(directory, `merged.old-${sleeper.pid}`));
    cleanUpInterruptedWrites(path.join(directory, 'merged'));
    assert.deepEqual(readdirSync(directory), [`merged.old-${sleeper.pid}`]);
  });
});
