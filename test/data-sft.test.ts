import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { TunekitError } from '../src/errors.js';
import { detectSftFormat, tokenizeSftDataset, tokenizeSftJsonl, tokenizeSftRecord } from '../src/data/sft.js';
import { loadTokenizer } from '../src/tokenize/index.js';
import { pythonHas } from './helpers/python.js';
import { repoRoot } from './helpers/paths.js';
import { caseTokenizer, casesPath, peerScript, recorded, runOurs, spec } from './helpers/sft-cases.js';

const hasTrl = pythonHas('trl', 'datasets');

describe('SFT tokenization equals TRL 1.13 (recorded fixture test/fixtures/data/sft-trl.json)', () => {
  for (const testCase of spec.cases) {
    const expected = recorded.cases.find((result) => result.name === testCase.name)!;
    const tokenizer = caseTokenizer(testCase.tokenizer);
    it(testCase.name, { skip: tokenizer === undefined ? `${testCase.tokenizer} tokenizer absent` : false }, () => {
      assert.ok(expected, 'case recorded');
      if (expected.error !== undefined) {
        assert.throws(() => runOurs(testCase, tokenizer!), TunekitError, `TRL refused: ${expected.error}`);
        return;
      }
      const ours = runOurs(testCase, tokenizer!);
      assert.deepEqual(ours.examples, expected.examples);
    });
  }
});

describe('the recorded fixture is what TRL gives now', { skip: hasTrl ? false : 'python3 cannot import trl' }, () => {
  it('reruns bench/peer/trl_tokenize.py and gets the recorded outputs', () => {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'sft-trl-')), 'out.json');
    execFileSync(process.env.PYTHON ?? 'python3', [peerScript, casesPath, out], { stdio: 'ignore' });
    const live = JSON.parse(readFileSync(out, 'utf8')) as typeof recorded;
    assert.equal(live.trl, recorded.trl);
    for (const result of live.cases) {
      if (result.skipped) continue;
      assert.deepEqual(result, recorded.cases.find((other) => other.name === result.name), result.name);
    }
  });
});

const gpt2 = loadTokenizer(path.join(repoRoot, 'test', 'fixtures', 'tokenize', 'gpt2-bpe'));

describe('SFT record errors name the record', () => {
  it('a record that fits no format', () => {
    assert.throws(() => detectSftFormat({ question: 'x' }, 'train.jsonl:3'), /train\.jsonl:3: fits no SFT format.*"question"/);
    assert.throws(() => detectSftFormat([1], 'train.jsonl:4'), /train\.jsonl:4: expected a JSON object/);
    assert.throws(() => detectSftFormat({ prompt: 'x' }, 'r'), /"prompt" but no "completion"/);
  });
  it('a field of the wrong type', () => {
    assert.throws(() => tokenizeSftRecord(gpt2, { prompt: 3, completion: 'x' }, {}, 'a.jsonl:2'), /a\.jsonl:2: "prompt" must be a string, got number/);
    assert.throws(() => tokenizeSftRecord(gpt2, { input_ids: [1, 'x'] }, {}, 'a.jsonl:5'), /a\.jsonl:5: "input_ids" must be a list of integers/);
    assert.throws(() => tokenizeSftRecord(gpt2, { input_ids: [1, 2], labels: [1] }, {}, 'r'), /"labels" has 1 items but "input_ids" has 2/);
    assert.throws(() => tokenizeSftRecord(gpt2, { messages: [{ role: 'user' }] }, { chatTemplate: '{{ 1 }}' }, 'r'), /must be a non-empty list of messages|content must be/);
  });
  it('mixed formats in one dataset are refused', () => {
    assert.throws(() => tokenizeSftDataset(gpt2, [{ text: 'a' }, { prompt: 'a', completion: 'b' }]), /record 2: is a prompt-completion record but .* text/);
  });
  it('assistantOnlyLoss on non-conversational records is refused', () => {
    assert.throws(() => tokenizeSftRecord(gpt2, { text: 'a' }, { assistantOnlyLoss: true }, 'r'), /only supported for conversational/);
  });
  it('examples left with no supervised token are dropped, counted and named', () => {
    const records = [
      { line: 1, value: { prompt: 'a long prompt that fills it all', completion: ' b' } },
      { line: 2, value: { prompt: 'a', completion: ' b' } },
    ];
    const result = tokenizeSftJsonl(gpt2, records, 'train.jsonl', { maxLength: 4 });
    assert.deepEqual(result.stats.dropped, ['train.jsonl:1']);
    assert.equal(result.stats.truncated, 1);
    assert.equal(result.examples.length, 1);
    assert.equal(result.completionOnlyLoss, true);
  });
  it('conversations with from/value are read as messages (maybe_convert_to_chatml)', () => {
    const template = "{% for m in messages %}{{ m['role'] + ':' + m['content'] + '\n' }}{% endfor %}";
    const a = tokenizeSftRecord(gpt2, { conversations: [{ from: 'user', value: 'hi' }] }, { chatTemplate: template });
    const b = tokenizeSftRecord(gpt2, { messages: [{ role: 'user', content: 'hi' }] }, { chatTemplate: template });
    assert.deepEqual(a.example, b.example);
  });
});

describe('seq2seq (T5): input ids from the prompt, labels from the completion, both with </s>', () => {
  const t5 = loadTokenizer(path.join(repoRoot, 'test', 'fixtures', 'tokenize', 't5-unigram'));
  it('tokenizes as tokenizer(prompt) and tokenizer(text_target=completion)', () => {
    const { example } = tokenizeSftRecord(t5, { prompt: 'summarize: the cat sat', completion: 'a cat' }, { seq2seq: true });
    assert.deepEqual(example!.input_ids, t5.encode('summarize: the cat sat'));
    assert.deepEqual(example!.labels, t5.encode('a cat'));
    assert.equal(example!.labels.at(-1), t5.eosTokenId);
    assert.deepEqual(example!.attention_mask, example!.input_ids.map(() => 1));
  });
  it('truncates keeping </s>', () => {
    const { example, truncated } = tokenizeSftRecord(t5, { prompt: 'the cat sat on the mat', completion: 'a cat sat' }, { seq2seq: true, maxLength: 3, maxTargetLength: 2 });
    assert.equal(truncated, true);
    assert.equal(example!.input_ids.length, 3);
    assert.equal(example!.input_ids.at(-1), t5.eosTokenId);
    assert.equal(example!.labels.length, 2);
    assert.throws(() => tokenizeSftRecord(t5, { text: 'x' }, { seq2seq: true }, 'r'), /seq2seq needs text "prompt" and "completion"/);
  });
});
