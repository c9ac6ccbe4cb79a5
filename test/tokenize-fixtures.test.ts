import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { TunekitError } from '../src/errors.js';
import { loadTokenizer, type EncodeBatchOptions } from '../src/tokenize/index.js';
import { repoRoot } from './helpers/paths.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'tokenize');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-tokenize-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let counter = 0;

interface RecordedCase {
  text: string;
  ids: number[];
  ids_without_special_tokens: number[];
  decoded: string;
  decoded_skipping_special_tokens: string;
}
interface RecordedBatch {
  options: { padding: 'longest' | 'max_length' | false; padding_side?: 'left' | 'right'; max_length?: number; truncation?: boolean; truncation_side?: 'left' | 'right'; add_special_tokens?: boolean };
  input_ids: number[][];
  attention_mask: number[][];
}
type Recorded = Record<'gpt2-bpe' | 't5-unigram', { cases: RecordedCase[]; batches: RecordedBatch[] }>;
const recorded = JSON.parse(readFileSync(path.join(fixtures, 'expected.json'), 'utf8')) as Recorded;
const batchTexts = ['Hello world', 'a much longer sentence about the lazy dog', 'héllo 😀'];

/** A copy of a fixture folder with files replaced or added. */
function folderWith(fixture: string, files: Record<string, unknown>): string {
  const folder = path.join(scratch, `folder-${counter++}`);
  cpSync(path.join(fixtures, fixture), folder, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const target = path.join(folder, name);
    if (content === null) rmSync(target);
    else writeFileSync(target, typeof content === 'string' ? content : JSON.stringify(content));
  }
  return folder;
}

function batchOptions(options: RecordedBatch['options']): EncodeBatchOptions {
  return {
    padding: options.padding,
    paddingSide: options.padding_side,
    maxLength: options.max_length,
    truncation: options.truncation,
    truncationSide: options.truncation_side,
    addSpecialTokens: options.add_special_tokens,
  };
}

for (const name of ['gpt2-bpe', 't5-unigram'] as const) {
  describe(`${name} fixture against transformers 5.17`, () => {
    const tokenizer = loadTokenizer(path.join(fixtures, name));

    it('encodes with and without special tokens, and decodes with and without skipping them', () => {
      for (const expected of recorded[name].cases) {
        const label = JSON.stringify(expected.text);
        assert.deepEqual(tokenizer.encode(expected.text), expected.ids, label);
        assert.deepEqual(tokenizer.encode(expected.text, { addSpecialTokens: false }), expected.ids_without_special_tokens, label);
        assert.equal(tokenizer.decode(expected.ids), expected.decoded, label);
        assert.equal(tokenizer.decode(expected.ids, { skipSpecialTokens: true }), expected.decoded_skipping_special_tokens, label);
      }
    });

    it('pads and truncates batches on either side as transformers does', () => {
      for (const expected of recorded[name].batches) {
        const encoded = tokenizer.encodeBatch(batchTexts, batchOptions(expected.options));
        assert.deepEqual(encoded.inputIds, expected.input_ids, JSON.stringify(expected.options));
        assert.deepEqual(encoded.attentionMask, expected.attention_mask, JSON.stringify(expected.options));
      }
    });
  });
}

describe('special tokens and ids from the folder', () => {
  it('GPT-2: one token plays bos, eos, unk and pad; byte-level BPE keeps spaces before punctuation', () => {
    const tokenizer = loadTokenizer(path.join(fixtures, 'gpt2-bpe'));
    const endOfText = tokenizer.tokenToId('<|endoftext|>');
    assert.equal(endOfText, 0);
    assert.equal(tokenizer.bosTokenId, endOfText);
    assert.equal(tokenizer.eosTokenId, endOfText);
    assert.equal(tokenizer.padTokenId, endOfText);
    assert.equal(tokenizer.modelType, 'BPE');
    const ids = tokenizer.encode('a . b');
    assert.equal(tokenizer.decode(ids), 'a . b', 'clean_up_tokenization_spaces is ignored for BPE, as in transformers 5');
    assert.equal(tokenizer.decode(ids, { cleanUpTokenizationSpaces: true }), 'a . b');
  });

  it('T5: eos appended, pad from special_tokens_map.json, decoder start from config.json, extra ids special', () => {
    const tokenizer = loadTokenizer(path.join(fixtures, 't5-unigram'));
    assert.equal(tokenizer.eosTokenId, 1);
    assert.equal(tokenizer.padTokenId, 0);
    assert.equal(tokenizer.unkTokenId, 2);
    assert.equal(tokenizer.bosTokenId, undefined);
    assert.equal(tokenizer.decoderStartTokenId, 0);
    assert.equal(tokenizer.modelType, 'Unigram');
    const extraId = tokenizer.tokenToId('<extra_id_0>')!;
    assert.ok(tokenizer.specialTokenIds.includes(extraId));
    assert.deepEqual(tokenizer.specialTokenIds.slice(0, 3), [0, 1, 2]);
    assert.equal(tokenizer.vocabSize, extraId + 1);
    assert.deepEqual(tokenizer.encode('', { addSpecialTokens: true }), [1]);
    assert.equal(tokenizer.decode([]), '');
  });

  it('accepts special tokens written as {content} objects and takes eos lists from generation_config.json', () => {
    const folder = folderWith('t5-unigram', {
      'special_tokens_map.json': null,
      'tokenizer_config.json': {
        eos_token: { __type: 'AddedToken', content: '</s>', special: true },
        pad_token: '<pad>',
        padding_side: 'left',
        truncation_side: 'left',
        model_max_length: 1e30,
      },
      'config.json': { eos_token_id: 7, bos_token_id: 5 },
      'generation_config.json': { eos_token_id: [1, 9], bos_token_id: 3 },
    });
    const tokenizer = loadTokenizer(folder);
    assert.equal(tokenizer.eosTokenId, 1, 'the tokenizer files win');
    assert.deepEqual(tokenizer.stopTokenIds, [1, 9]);
    assert.equal(tokenizer.bosTokenId, 3, 'generation_config.json fills in what the tokenizer lacks');
    assert.equal(tokenizer.modelMaxLength, undefined, '1e30 means no limit');
    assert.equal(tokenizer.paddingSide, 'left');
    const batch = tokenizer.encodeBatch(['Hello world', 'a'], { maxLength: 4, truncation: true });
    const shortLength = tokenizer.encode('a').length;
    assert.ok(shortLength < 4);
    assert.deepEqual(batch.attentionMask, [[1, 1, 1, 1], [...new Array(4 - shortLength).fill(0), ...new Array(shortLength).fill(1)]]);
    assert.deepEqual(batch.inputIds[0], tokenizer.encode('Hello world').slice(-4));
    assert.equal(batch.inputIds[0].at(-1), 1, 'left truncation keeps the end, and eos');
    assert.throws(() => tokenizer.encodeBatch(['a'], { padding: 'max_length' }), /maxLength/);

    const listOnly = loadTokenizer(folderWith('gpt2-bpe', { 'tokenizer_config.json': {}, 'generation_config.json': { eos_token_id: [4, 5], pad_token_id: 0 } }));
    assert.deepEqual(listOnly.eosTokenId, [4, 5]);
    assert.equal(listOnly.padTokenId, 0);
  });

  it('adds BOS/EOS from add_bos_token/add_eos_token only when tokenizer.json has no post-processor', () => {
    const json = JSON.parse(readFileSync(path.join(fixtures, 't5-unigram', 'tokenizer.json'), 'utf8'));
    const config = { bos_token: '<unk>', eos_token: '</s>', add_bos_token: true, add_eos_token: false };
    const kept = loadTokenizer(folderWith('t5-unigram', { 'tokenizer_config.json': config }));
    assert.deepEqual(kept.encode('Hello world').slice(-1), [1], 'the file post-processor wins over add_* flags');
    const filled = loadTokenizer(folderWith('t5-unigram', { 'tokenizer_config.json': config, 'tokenizer.json': { ...json, post_processor: null } }));
    const ids = filled.encode('Hello world');
    assert.equal(ids[0], 2);
    assert.notEqual(ids.at(-1), 1);
    assert.deepEqual(filled.encode('Hello world', { addSpecialTokens: false }), ids.slice(1));
  });

  it('registers config special tokens missing from tokenizer.json, as transformers does', () => {
    const folder = folderWith('gpt2-bpe', { 'tokenizer_config.json': { eos_token: '<|endoftext|>', pad_token: '<|pad|>' } });
    const tokenizer = loadTokenizer(folder);
    const original = loadTokenizer(path.join(fixtures, 'gpt2-bpe'));
    assert.equal(tokenizer.padTokenId, original.vocabSize);
    assert.equal(tokenizer.vocabSize, original.vocabSize + 1);
    assert.deepEqual(tokenizer.encode('hi<|pad|>'), [...original.encode('hi'), original.vocabSize]);
    assert.equal(tokenizer.decode(tokenizer.encode('hi<|pad|>'), { skipSpecialTokens: true }), 'hi');
  });
});

describe('errors name the file and field', () => {
  it('a folder without tokenizer.json asks for one and explains the conversion', () => {
    const folder = folderWith('t5-unigram', { 'tokenizer.json': null, 'spiece.model': 'x' });
    assert.throws(
      () => loadTokenizer(folder),
      (error: unknown) =>
        error instanceof TunekitError &&
        error.code === 'tokenizer-json-missing' &&
        /tokenizer\.json is needed \(found spiece\.model/.test(error.message) &&
        /save_pretrained/.test(error.message),
    );
  });

  it('bad fields in tokenizer_config.json, config.json and tokenizer.json', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ 'tokenizer_config.json': { eos_token: 5 } }, /tokenizer_config\.json: eos_token must be a string or an object/],
      [{ 'tokenizer_config.json': { padding_side: 'middle' } }, /tokenizer_config\.json: padding_side must be "left" or "right"/],
      [{ 'tokenizer_config.json': { chat_template: [{ name: 'x' }] } }, /tokenizer_config\.json: chat_template\[0\] must be/],
      [{ 'tokenizer_config.json': { pad_token: '<pad>', add_bos_token: 'yes' } }, /add_bos_token must be true or false/],
      [{ 'generation_config.json': { eos_token_id: 'two' } }, /generation_config\.json: eos_token_id must be/],
      [{ 'tokenizer_config.json': '{not json' }, /tokenizer_config\.json is not valid JSON/],
      [{ 'tokenizer.json': { version: '1.0' } }, /tokenizer\.json: "model" must be an object/],
    ];
    for (const [files, pattern] of cases) {
      assert.throws(() => loadTokenizer(folderWith('t5-unigram', files)), (error: unknown) => error instanceof TunekitError && pattern.test(error.message), String(pattern));
    }
  });

  it('truncation shorter than the special tokens, and non-string input', () => {
    const tokenizer = loadTokenizer(path.join(fixtures, 't5-unigram'));
    assert.throws(() => tokenizer.encode('Hello', { truncation: true, maxLength: 0 }), /maxLength must be a positive integer/);
    assert.deepEqual(tokenizer.encode('Hello world', { truncation: true, maxLength: 1 }), [1]);
    assert.throws(() => tokenizer.encode(5 as unknown as string), /encode expects a string/);
  });
});
