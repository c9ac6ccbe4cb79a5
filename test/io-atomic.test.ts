import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { withAtomicDirectory, withAtomicFile, writeAll, writeFileAtomic, writeFileAtomicSync } from '../src/io/atomic.js';

const root = mkdtempSync(path.join(tmpdir(), 'tunekit-atomic-'));
after(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function freshDirectory(): string {
  const directory = path.join(root, `case-${counter++}`);
  mkdirSync(directory);
  return directory;
}

describe('writeFileAtomic', () => {
  it('creates a file, then replaces it, leaving no temporary behind', async () => {
    const directory = freshDirectory();
    const target = path.join(directory, 'config.json');
    await writeFileAtomic(target, '{"a":1}');
    assert.equal(readFileSync(target, 'utf8'), '{"a":1}');
    await writeFileAtomic(target, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...readFileSync(target)], [1, 2, 3]);
    assert.deepEqual(readdirSync(directory), ['config.json']);
  });

  it('has a synchronous twin', () => {
    const directory = freshDirectory();
    const target = path.join(directory, 'a.txt');
    writeFileAtomicSync(target, 'old');
    writeFileAtomicSync(target, 'new');
    assert.equal(readFileSync(target, 'utf8'), 'new');
    assert.deepEqual(readdirSync(directory), ['a.txt']);
  });

  it('fails cleanly when the folder does not exist', async () => {
    const target = path.join(root, 'no-such-folder', 'x.bin');
    await assert.rejects(writeFileAtomic(target, 'data'), /ENOENT/);
    assert.equal(existsSync(path.join(root, 'no-such-folder')), false);
  });
});

describe('withAtomicFile', () => {
  it('writes through the handle into <path>.tmp-<pid> and renames at the end', async () => {
    const directory = freshDirectory();
    const target = path.join(directory, 'model.safetensors');
    await withAtomicFile(target, async (file) => {
      await writeAll(file, new TextEncoder().encode('part one, '));
      assert.deepEqual(readdirSync(directory), [`model.safetensors.tmp-${process.pid}`]);
      await writeAll(file, new TextEncoder().encode('part two'));
    });
    assert.equal(readFileSync(target, 'utf8'), 'part one, part two');
    assert.deepEqual(readdirSync(directory), ['model.safetensors']);
  });

  it('leaves the old file intact and removes the temporary when the writer throws', async () => {
    const directory = freshDirectory();
    const target = path.join(directory, 'adapter_model.safetensors');
    writeFileSync(target, 'the old checkpoint');
    await assert.rejects(
      withAtomicFile(target, async (file) => {
        await writeAll(file, new Uint8Array(1000).fill(7));
        throw new Error('disk on fire');
      }),
      /disk on fire/,
    );
    assert.equal(readFileSync(target, 'utf8'), 'the old checkpoint');
    assert.deepEqual(readdirSync(directory), ['adapter_model.safetensors']);
  });

  it('returns what the writer returns, and keeps parallel writes of one path apart', async () => {
    const directory = freshDirectory();
    const target = path.join(directory, 'same.txt');
    const results = await Promise.all(
      ['a', 'b', 'c'].map((text) =>
        withAtomicFile(target, async (file) => {
          await writeAll(file, new TextEncoder().encode(text.repeat(10_000)));
          return text;
        }),
      ),
    );
    assert.deepEqual(results, ['a', 'b', 'c']);
    const content = readFileSync(target, 'utf8');
    assert.ok(['a', 'b', 'c'].some((text) => content === text.repeat(10_000)), 'one whole write wins');
    assert.deepEqual(readdirSync(directory), ['same.txt']);
  });
});

describe('withAtomicDirectory', () => {
  it('builds a new folder and replaces an old one', async () => {
    const parent = freshDirectory();
    const target = path.join(parent, 'checkpoint-10');
    await withAtomicDirectory(target, async (temporary) => {
      assert.equal(temporary, `${target}.tmp-${process.pid}`);
      writeFileSync(path.join(temporary, 'a.txt'), 'first');
    });
    await withAtomicDirectory(target, async (temporary) => {
      writeFileSync(path.join(temporary, 'b.txt'), 'second');
    });
    assert.deepEqual(readdirSync(target), ['b.txt']);
    assert.deepEqual(readdirSync(parent), ['checkpoint-10']);
  });

  it('keeps the old folder when the writer throws', async () => {
    const parent = freshDirectory();
    const target = path.join(parent, 'adapter');
    mkdirSync(target);
    writeFileSync(path.join(target, 'adapter_config.json'), '{}');
    await assert.rejects(
      withAtomicDirectory(target, async (temporary) => {
        writeFileSync(path.join(temporary, 'half.bin'), 'x');
        throw new Error('interrupted');
      }),
      /interrupted/,
    );
    assert.deepEqual(readdirSync(target), ['adapter_config.json']);
    assert.deepEqual(readdirSync(parent), ['adapter']);
  });
});
