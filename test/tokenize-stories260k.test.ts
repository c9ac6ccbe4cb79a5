import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadTokenizer } from '../src/tokenize/index.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

const folder = path.join(sharedDir, 'reference', 'models', 'stories260K');
const skip = hasShared ? false : 'shared reference data not found';

interface GoldenCase {
  id: string;
  prompt: string;
  prompt_ids: number[];
  greedy: { continuation_ids: number[]; continuation_text: string; full_text: string };
  beam_search: { beams: Array<{ continuation_ids: number[]; continuation_text: string }> };
}
interface Goldens {
  cases: GoldenCase[];
  batched_greedy: {
    padding_side: 'left' | 'right';
    pad_token_id: number;
    input_ids: number[][];
    attention_mask: number[][];
    rows: Array<{ case_id: string; prompt: string; continuation_ids: number[]; continuation_text: string }>;
  };
}
interface RecordedCase {
  text: string;
  ids: number[];
  decoded: string;
  decoded_skipping_special_tokens: string;
}

const loadGoldens = () => JSON.parse(readFileSync(path.join(folder, 'goldens.json'), 'utf8')) as Goldens;
const recorded = () =>
  (JSON.parse(readFileSync(path.join(repoRoot, 'test', 'fixtures', 'tokenize', 'expected.json'), 'utf8')) as {
    stories260K: { cases: RecordedCase[]; byte_fallback: Array<{ ids: number[]; decoded: string }> };
  }).stories260K;

describe('stories260K tokenizer against goldens.json', { skip }, () => {
  it('reads the special tokens and settings of a Llama-2 folder', () => {
    const tokenizer = loadTokenizer(folder);
    assert.equal(tokenizer.bosTokenId, 1);
    assert.equal(tokenizer.eosTokenId, 2);
    assert.equal(tokenizer.unkTokenId, 0);
    assert.equal(tokenizer.padTokenId, undefined);
    assert.equal(tokenizer.vocabSize, 512);
    assert.equal(tokenizer.modelMaxLength, 512);
    assert.deepEqual(tokenizer.specialTokenIds, [0, 1, 2]);
    assert.equal(tokenizer.tokenToId('<0x00>'), 3);
    assert.equal(tokenizer.idToToken(258), '<0xFF>');
    assert.deepEqual(tokenizer.convertIdsToTokens([1, 403, 9999]), ['<s>', tokenizer.idToToken(403), undefined]);
  });

  it('encodes every prompt to its prompt_ids, BOS included', () => {
    const tokenizer = loadTokenizer(folder);
    for (const golden of loadGoldens().cases) {
      assert.deepEqual(tokenizer.encode(golden.prompt), golden.prompt_ids, golden.id);
      assert.deepEqual(tokenizer.encode(golden.prompt, { addSpecialTokens: false }), golden.prompt_ids.slice(1), golden.id);
    }
  });

  it('decodes prompt + greedy ids to full_text, and full_text minus the prompt is continuation_text', () => {
    const tokenizer = loadTokenizer(folder);
    for (const golden of loadGoldens().cases) {
      const ids = [...golden.prompt_ids, ...golden.greedy.continuation_ids];
      const fullText = tokenizer.decode(ids, { skipSpecialTokens: true });
      assert.equal(fullText, golden.greedy.full_text, golden.id);
      const promptText = tokenizer.decode(golden.prompt_ids, { skipSpecialTokens: true });
      assert.ok(fullText.startsWith(promptText), golden.id);
      assert.equal(fullText.slice(promptText.length), golden.greedy.continuation_text, golden.id);
      for (const beam of golden.beam_search.beams) {
        const beamText = tokenizer.decode([...golden.prompt_ids, ...beam.continuation_ids], { skipSpecialTokens: true });
        assert.equal(beamText.slice(promptText.length), beam.continuation_text, golden.id);
      }
    }
  });

  it('streams each continuation after its prompt in pieces that join to continuation_text', () => {
    const tokenizer = loadTokenizer(folder);
    for (const golden of loadGoldens().cases) {
      const pieces = [...tokenizer.incrementalDecode(golden.greedy.continuation_ids, { promptIds: golden.prompt_ids, skipSpecialTokens: true })];
      assert.ok(pieces.length > 1, golden.id);
      assert.equal(pieces.join(''), golden.greedy.continuation_text, golden.id);
    }
  });

  it('left-pads the batched_greedy prompts with id 0 exactly as recorded', () => {
    const tokenizer = loadTokenizer(folder);
    const batch = loadGoldens().batched_greedy;
    const encoded = tokenizer.encodeBatch(
      batch.rows.map((row) => row.prompt),
      { padding: 'longest', paddingSide: batch.padding_side, padTokenId: batch.pad_token_id },
    );
    assert.deepEqual(encoded.inputIds, batch.input_ids);
    assert.deepEqual(encoded.attentionMask, batch.attention_mask);
  });

  it('has no pad token of its own, and says so when asked to pad', () => {
    const tokenizer = loadTokenizer(folder);
    assert.throws(() => tokenizer.encodeBatch(['Lily', 'Tom and Lily']), /no pad token.*padTokenId/);
  });

  it('keeps the extra-whitespace behaviour of tokenizer.json (README table) and its decodes', () => {
    const tokenizer = loadTokenizer(folder);
    assert.deepEqual(tokenizer.encode(' ', { addSpecialTokens: false }), [410, 410]);
    assert.deepEqual(tokenizer.encode(' Hello', { addSpecialTokens: false }), [410, 346, 306, 414]);
    const twoSpaces = tokenizer.encode('  two  spaces', { addSpecialTokens: false });
    assert.deepEqual(twoSpaces.slice(0, 3), [410, 410, 259]);
    for (const expected of recorded().cases) {
      const ids = tokenizer.encode(expected.text);
      assert.deepEqual(ids, expected.ids, JSON.stringify(expected.text));
      assert.equal(tokenizer.decode(ids), expected.decoded, JSON.stringify(expected.text));
      assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), expected.decoded_skipping_special_tokens, JSON.stringify(expected.text));
    }
  });

  it('decodes incomplete byte-fallback runs with one U+FFFD per byte, as the Rust decoder does', () => {
    const tokenizer = loadTokenizer(folder);
    for (const expected of recorded().byte_fallback) {
      assert.equal(tokenizer.decode(expected.ids), expected.decoded, JSON.stringify(expected.ids));
    }
  });
});
