// Seeded, bounded fuzzing of the CLI on the files users bring: mutated config.json values, safetensors headers,
// adapter configs, tokenizer.json and JSON Lines records. Every run must succeed, or exit 1 with one line on
// stderr; never a signal, never exit 70 (an unexpected exception), never past a time or memory bound.
// FUZZ_SEED=<n> replays a run; the seed and the case are in every failure message.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { integer, mutateBytes, mutateJson, pick, random, type Random } from './helpers/fuzz.js';
import { joinSafetensors, modelFixtures, splitSafetensors } from './helpers/model-folders.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
/** Wall time one CLI run may take (a tiny model loads and generates in well under a second). */
const CASE_MS = 30_000;
/** Peak resident memory one CLI run may reach: libtorch and a tiny model need ~200 MiB; an absurd allocation far more. */
const MAX_RSS_KIB = 1536 * 1024;
const GNU_TIME = '/usr/bin/time';

const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-fuzz-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs the CLI once and checks the contract; returns whether it succeeded. */
function runCase(label: string, args: string[]): boolean {
  const rssFile = path.join(scratch, 'rss');
  const measured = existsSync(GNU_TIME);
  const command = measured ? GNU_TIME : process.execPath;
  const commandArgs = measured ? ['-q', '-f', '%M', '-o', rssFile, process.execPath, cli, ...args] : [cli, ...args];
  const started = performance.now();
  const result = spawnSync(command, commandArgs, { encoding: 'utf8', timeout: CASE_MS, env: { ...process.env, TUNEKIT_THREADS: '1', HF_HUB_OFFLINE: '1' } });
  const elapsed = performance.now() - started;
  const where = `seed ${SEED}, ${label}: tunekit ${args.join(' ')}`;
  assert.equal(result.signal, null, `${where}: killed by ${result.signal} after ${elapsed.toFixed(0)} ms`);
  assert.ok(elapsed < CASE_MS, `${where}: took ${elapsed.toFixed(0)} ms`);
  if (measured) {
    const peakKib = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
    assert.ok(peakKib < MAX_RSS_KIB, `${where}: peak RSS ${(peakKib / 1024).toFixed(0)} MiB`);
  }
  if (result.status === 0) return true;
  assert.equal(result.status, 1, `${where}: exit ${result.status}\n${result.stderr}`);
  const lines = result.stderr.trimEnd().split('\n').filter((line) => !line.startsWith('tunekit: warning:'));
  assert.equal(lines.length, 1, `${where}: stderr is not one line:\n${result.stderr}`);
  assert.match(lines[0], /^tunekit: \S/, where);
  return false;
}

function copyInto(source: string, name: string): string {
  const dir = path.join(scratch, name);
  rmSync(dir, { recursive: true, force: true });
  cpSync(source, dir, { recursive: true });
  return dir;
}

function mutatedJsonText(rand: Random, original: unknown): string {
  const value = structuredClone(original);
  for (let count = 1 + integer(rand, 2); count > 0; count--) mutateJson(rand, value);
  const text = JSON.stringify(value);
  return rand() < 0.1 ? text.slice(0, integer(rand, text.length)) : text;
}

describe('fuzzing the CLI: success, or exit 1 with one line', { timeout: 240_000 }, () => {
  it('config.json values (info)', { timeout: 60_000 }, () => {
    const rand = random(SEED);
    const dir = copyInto(path.join(modelFixtures, 'llama_tied'), 'config-case');
    const original = JSON.parse(readFileSync(path.join(modelFixtures, 'llama_tied', 'config.json'), 'utf8'));
    const outcomes = { ok: 0, refused: 0 };
    for (let index = 0; index < 10; index++) {
      const text = mutatedJsonText(rand, original);
      writeFileSync(path.join(dir, 'config.json'), text);
      outcomes[runCase(`config case ${index} (${text.slice(0, 200)})`, ['info', '--model', dir, '--json']) ? 'ok' : 'refused']++;
    }
    assert.ok(outcomes.refused > 0, JSON.stringify(outcomes));
  });

  it('safetensors headers (generate)', { timeout: 60_000 }, () => {
    const rand = random(SEED + 1);
    const dir = copyInto(path.join(modelFixtures, 'llama_tied'), 'weights-case');
    const original = readFileSync(path.join(modelFixtures, 'llama_tied', 'model.safetensors'));
    const { header, data } = splitSafetensors(original);
    const headerEnd = original.length - data.length;
    for (let index = 0; index < 8; index++) {
      const kind = integer(rand, 3);
      const bytes = kind === 0 ? mutateBytes(rand, original, 8, headerEnd) : kind === 1 ? joinSafetensors(mutateJson(rand, structuredClone(header)), data) : mutateBytes(rand, original, 0, 8);
      writeFileSync(path.join(dir, 'model.safetensors'), bytes);
      runCase(`weights case ${index} (kind ${kind})`, ['generate', '--model', dir, '--prompt-ids', '1,2,3', '--max-new-tokens', '2', '--json']);
    }
  });

  it('adapter configs (generate --adapter)', { timeout: 60_000, skip: hasShared ? false : 'no ../shared' }, () => {
    const rand = random(SEED + 2);
    const base = path.join(sharedDir, 'reference', 'models', 'hf-tiny', 'llama');
    const source = path.join(base, 'adapters', pick(rand, ['lora_default', 'prompt_tuning', 'lora_rslora']));
    const dir = copyInto(source, 'adapter-case');
    const original = JSON.parse(readFileSync(path.join(source, 'adapter_config.json'), 'utf8'));
    for (let index = 0; index < 8; index++) {
      writeFileSync(path.join(dir, 'adapter_config.json'), mutatedJsonText(rand, original));
      runCase(`adapter case ${index}`, ['generate', '--model', base, '--adapter', dir, '--prompt-ids', '1,2,3', '--max-new-tokens', '2', '--json']);
    }
  });

  it('tokenizer.json (generate --prompt)', { timeout: 60_000, skip: hasShared ? false : 'no ../shared' }, () => {
    const rand = random(SEED + 3);
    const source = path.join(sharedDir, 'reference', 'models', 'stories260K');
    const dir = copyInto(source, 'tokenizer-case');
    const originalText = readFileSync(path.join(source, 'tokenizer.json'), 'utf8');
    const original = JSON.parse(originalText);
    for (let index = 0; index < 6; index++) {
      const text = rand() < 0.5 ? mutatedJsonText(rand, original) : Buffer.from(mutateBytes(rand, Buffer.from(originalText), 0, originalText.length)).toString('latin1');
      writeFileSync(path.join(dir, 'tokenizer.json'), text);
      runCase(`tokenizer case ${index}`, ['generate', '--model', dir, '--prompt', 'Once upon', '--max-new-tokens', '2', '--json']);
    }
  });

  it('JSON Lines records (score)', { timeout: 60_000 }, () => {
    const rand = random(SEED + 4);
    const file = path.join(scratch, 'records.jsonl');
    const records = [
      { prediction: 'the cat sat on the mat', reference: 'a cat sat on the mat' },
      { prediction: 'hello there', references: ['hello there', 'hi there'] },
    ];
    for (let index = 0; index < 8; index++) {
      const lines = records.map((record) => (rand() < 0.5 ? mutatedJsonText(rand, record) : JSON.stringify(record)));
      let bytes: Uint8Array = Buffer.from(lines.join('\n') + '\n');
      if (rand() < 0.3) bytes = mutateBytes(rand, bytes, 0, bytes.length);
      writeFileSync(file, bytes);
      runCase(`records case ${index}`, ['score', pick(rand, ['rouge', 'bleu', 'chrf']), file]);
    }
  });
});
