import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseJsonl } from '../src/data/records.js';
import { TunekitError } from '../src/errors.js';
import { parseSafetensors } from '../src/io/safetensors.js';
import { loadModelFromFolder } from '../src/models/load.js';
import { loadTokenizer } from '../src/tokenize/index.js';
import { memory } from '../src/torch/index.js';
import { copyFixture, joinSafetensors, modelFixtures, splitSafetensors } from './helpers/model-folders.js';
import { repoRoot } from './helpers/paths.js';
import { integer, mutateBytes, mutateJson, pick, random } from './helpers/fuzz.js';

// Seeded, bounded fuzzing of the files users bring: every mutated input must either load or fail with a one-line
// TunekitError; never another exception type, never a slow case, never a large jump in memory. The seed is printed
// in each failure so a case can be replayed (FUZZ_SEED=<n> node --test dist/test/fuzz-files.test.js).
const SEED = Number(process.env.FUZZ_SEED ?? 20240611);
/** Time one case may take; a hang is caught by each test's own timeout. */
const CASE_MS = 3000;
/** RSS growth allowed across one case (a config that allocated its absurd sizes would blow far past this). */
const RSS_JUMP_BYTES = 256 * 1024 * 1024;

let lastMessage = '';

/** Runs one case: success or a one-line TunekitError, in bounded time and memory. */
async function fuzzCase(label: string, run: () => unknown | Promise<unknown>): Promise<'ok' | 'refused'> {
  lastMessage = '';
  const rss = process.memoryUsage().rss;
  const started = performance.now();
  let outcome: 'ok' | 'refused' = 'ok';
  try {
    await run();
  } catch (error) {
    if (!(error instanceof TunekitError)) {
      assert.fail(`${label}: expected success or a TunekitError, got ${(error as Error)?.constructor?.name}: ${(error as Error)?.message ?? String(error)} ${(error as Error)?.stack?.split('\n').slice(1, 4).join(' ') ?? ''}`);
    }
    assert.ok(!/[\r\n]/.test(error.message), `${label}: message is not one line: ${JSON.stringify(error.message)}`);
    assert.ok(error.message.length > 0 && error.message.length < 2000, `${label}: message length ${error.message.length}`);
    outcome = 'refused';
    lastMessage = error.message;
  }
  const elapsed = performance.now() - started;
  assert.ok(elapsed < CASE_MS, `${label}: took ${elapsed.toFixed(0)} ms`);
  const jump = process.memoryUsage().rss - rss;
  assert.ok(jump < RSS_JUMP_BYTES, `${label}: RSS grew by ${(jump / 2 ** 20).toFixed(0)} MiB`);
  return outcome;
}

describe('fuzzing the files users bring', { timeout: 60_000 }, () => {
  it('safetensors headers: flipped bytes, lengths and entries', { timeout: 20_000 }, async () => {
    const rand = random(SEED);
    const original = readFileSync(path.join(modelFixtures, 'llama_tied', 'model.safetensors'));
    const { header, data } = splitSafetensors(original);
    const headerEnd = original.length - data.length;
    const counts = { ok: 0, refused: 0 };
    for (let index = 0; index < 300; index++) {
      const kind = integer(rand, 4);
      let bytes: Uint8Array;
      if (kind === 0) bytes = mutateBytes(rand, original, 8, headerEnd);
      else if (kind === 1) {
        bytes = new Uint8Array(original);
        new DataView(bytes.buffer).setBigUint64(0, pick(rand, [0n, 1n, 7n, BigInt(headerEnd), BigInt(original.length), 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n]), true);
      } else if (kind === 2) bytes = joinSafetensors(mutateJson(rand, structuredClone(header)), data);
      else bytes = mutateBytes(rand, original, 0, 8);
      counts[await fuzzCase(`seed ${SEED} safetensors case ${index} (kind ${kind})`, () => parseSafetensors(bytes, 'fuzz.safetensors'))]++;
    }
    assert.ok(counts.refused > 100, `only ${counts.refused} of 300 mutations were refused`);
  });

  it('config.json values: every model loads or is refused, with no tensor left behind', { timeout: 30_000 }, async () => {
    const rand = random(SEED + 1);
    const fixtures = ['llama_tied', 'qwen2', 'gpt2_inner_scaled', 't5_classic_relu'];
    const folders = new Map(fixtures.map((name) => [name, copyFixture(name)]));
    const originals = new Map(fixtures.map((name) => [name, readFileSync(path.join(modelFixtures, name, 'config.json'), 'utf8')]));
    const counts = { ok: 0, refused: 0 };
    for (let index = 0; index < 120; index++) {
      const name = fixtures[index % fixtures.length];
      const dir = folders.get(name) as string;
      const config = JSON.parse(originals.get(name) as string) as Record<string, unknown>;
      const mutations = 1 + integer(rand, 2);
      for (let count = 0; count < mutations; count++) mutateJson(rand, config);
      let text = JSON.stringify(config);
      if (rand() < 0.1) text = text.replace(/:\s*"NaN"/, ': 1e400');
      if (rand() < 0.05) text = text.slice(0, integer(rand, text.length));
      writeFileSync(path.join(dir, 'config.json'), text);
      const before = memory().liveTensors;
      const outcome = await fuzzCase(`seed ${SEED + 1} config case ${index} (${name}: ${text.slice(0, 300)})`, async () => {
        const model = await loadModelFromFolder(dir);
        model.dispose();
      });
      counts[outcome]++;
      if (outcome === 'refused') assert.equal(memory().liveTensors, before, `config case ${index}: a refused load left tensors alive (${lastMessage})`);
    }
    assert.ok(counts.refused > 10 && counts.ok > 0, `outcomes ${JSON.stringify(counts)}`);
  });

  it('tokenizer.json: mutated values and bytes', { timeout: 20_000 }, async () => {
    const rand = random(SEED + 2);
    for (let index = 0; index < 80; index++) {
      const source = path.join(repoRoot, 'test', 'fixtures', 'tokenize', index % 2 === 0 ? 't5-unigram' : 'gpt2-bpe');
      const dir = mkdtempSync(path.join(tmpdir(), 'tunekit-fuzz-tokenizer-'));
      cpSync(source, dir, { recursive: true });
      const file = path.join(dir, 'tokenizer.json');
      const original = readFileSync(path.join(source, 'tokenizer.json'));
      const parsed = JSON.parse(original.toString('utf8')) as Record<string, unknown>;
      if (index % 3 === 2) writeFileSync(file, mutateBytes(rand, original, 0, original.length));
      else if (index % 7 === 3) {
        // A huge id in the vocabulary itself (BPE/WordPiece vocab maps, Unigram scores).
        const model = structuredClone(parsed.model) as { vocab: unknown };
        if (Array.isArray(model.vocab)) model.vocab.push(['▁huge', -1e9]);
        else (model.vocab as Record<string, number>)['huge'] = pick(rand, [1e9, 2 ** 31, -5, 1.5]);
        writeFileSync(file, JSON.stringify({ ...parsed, model }));
      }
      else writeFileSync(file, JSON.stringify(mutateJson(rand, structuredClone(parsed))));
      await fuzzCase(`seed ${SEED + 2} tokenizer case ${index}`, () => loadTokenizer(dir));
    }
  });

  it('JSONL records: mutated bytes and lines', { timeout: 10_000 }, async () => {
    const rand = random(SEED + 3);
    const lines = ['{"prompt": "Say hi", "completion": "hi"}', '', '{"messages": [{"role": "user", "content": "é ✓"}]}', '  ', '{"text": "line"}'];
    const original = Buffer.from(`\ufeff${lines.join('\r\n')}\n`, 'utf8');
    for (let index = 0; index < 300; index++) {
      const bytes = mutateBytes(rand, original, 0, original.length);
      await fuzzCase(`seed ${SEED + 3} jsonl case ${index}`, () => {
        for (const record of parseJsonl(bytes, 'fuzz.jsonl')) assert.ok(Number.isInteger(record.line) && record.line >= 1);
      });
    }
  });
});
