import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers/paths.js';

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

  it('rejects an unknown verb', () => {
    const result = run(['frobnicate']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /unknown verb "frobnicate"/);
  });

  it('demo trains and its loss falls (JSON lines)', () => {
    const out = execFileSync(process.execPath, [cli, 'demo', '--steps', '60', '--json'], { encoding: 'utf8', env: { ...process.env, TUNEKIT_THREADS: '1' } });
    const lines = out.trim().split('\n').map((line) => JSON.parse(line));
    const done = lines.find((line) => line.event === 'done');
    assert.ok(done.lastLoss < done.firstLoss * 0.7, JSON.stringify(done));
  });

  it('a bad flag value is a clear error', () => {
    const result = run(['demo', '--steps', 'many']);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /--steps expects a number, got "many"/);
  });
});
