import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { TunekitError } from '../src/errors.js';
import { collateLanguageModeling, collateSeq2Seq, positionIdsFromSeqLengths, sftPadTokenId } from '../src/data/collate.js';
import { packExamples } from '../src/data/packing.js';
import { loadTokenizer } from '../src/tokenize/index.js';
import { repoRoot } from './helpers/paths.js';
import { caseTokenizer, recorded, runOurs, spec } from './helpers/sft-cases.js';

describe("batches equal TRL 1.13's DataCollatorForLanguageModeling (recorded fixture)", () => {
  for (const testCase of spec.cases) {
    const expected = recorded.cases.find((result) => result.name === testCase.name)!;
    const tokenizer = caseTokenizer(testCase.tokenizer);
    if (expected.error !== undefined) continue;
    it(testCase.name, { skip: tokenizer === undefined ? `${testCase.tokenizer} tokenizer absent` : false }, () => {
      assert.deepEqual(runOurs(testCase, tokenizer!).batch, expected.batch);
    });
  }
});

describe('collate', () => {
  it('pads right: ids with the pad id, labels with -100, mask 0; pad_to_multiple_of', () => {
    const batch = collateLanguageModeling([{ input_ids: [1, 2, 3], labels: [-100, 2, 3] }, { input_ids: [4, 5] }], { padTokenId: 0, padToMultipleOf: 4 });
    assert.deepEqual(batch.inputIds, [[1, 2, 3, 0], [4, 5, 0, 0]]);
    assert.deepEqual(batch.labels, [[-100, 2, 3, -100], [4, 5, -100, -100]]);
    assert.deepEqual(batch.attentionMask, [[1, 1, 1, 0], [1, 1, 0, 0]]);
    assert.equal(batch.positionIds, undefined);
  });
  it('pad falls back to eos, and a real eos keeps its label', () => {
    const stories = caseTokenizer('stories260K');
    const gpt2 = loadTokenizer(path.join(repoRoot, 'test', 'fixtures', 'tokenize', 'gpt2-bpe'));
    assert.deepEqual(sftPadTokenId(gpt2), { padTokenId: 0, from: 'pad_token' });
    if (stories) assert.deepEqual(sftPadTokenId(stories), { padTokenId: 2, from: 'eos_token' });
    const batch = collateLanguageModeling([{ input_ids: [1, 7, 2] }, { input_ids: [1, 2] }], { padTokenId: 2 });
    assert.deepEqual(batch.labels, [[1, 7, 2], [1, 2, -100]]);
  });
  it('padding-free: one row, positions restart per packed sequence, first label of each -100', () => {
    const batch = collateLanguageModeling([{ input_ids: [1, 2, 3, 4, 5], labels: [1, 2, 3, 4, 5], seq_lengths: [3, 2] }, { input_ids: [6, 7], labels: [6, 7], seq_lengths: [2] }], {
      padTokenId: 0,
      paddingFree: true,
    });
    assert.deepEqual(batch.inputIds, [[1, 2, 3, 4, 5, 6, 7]]);
    assert.deepEqual(batch.positionIds, [[0, 1, 2, 0, 1, 0, 1]]);
    assert.deepEqual(batch.labels, [[-100, 2, 3, -100, 5, -100, 7]]);
    assert.equal(batch.attentionMask, undefined);
    assert.deepEqual(positionIdsFromSeqLengths([2, 1]), [0, 1, 0]);
  });
  it('seq2seq: labels padded with -100 to their own length', () => {
    const batch = collateSeq2Seq([{ input_ids: [5, 6, 1], labels: [7, 1] }, { input_ids: [5, 1], labels: [7, 8, 9, 1] }], { padTokenId: 0 });
    assert.deepEqual(batch.inputIds, [[5, 6, 1], [5, 1, 0]]);
    assert.deepEqual(batch.attentionMask, [[1, 1, 1], [1, 1, 0]]);
    assert.deepEqual(batch.labels, [[7, 1, -100, -100], [7, 8, 9, 1]]);
  });
  it('refuses an empty batch and mismatched labels', () => {
    assert.throws(() => collateLanguageModeling([], { padTokenId: 0 }), TunekitError);
    assert.throws(() => collateLanguageModeling([{ input_ids: [1, 2], labels: [1] }], { padTokenId: 0 }), /labels has 1 items/);
  });
});

describe('packing', () => {
  const examples = [[10, 11, 12, 13, 14], [20, 21], [30, 31, 32], [40, 41, 42, 43, 44, 45, 46, 47, 48, 49], [], [60]].map((ids) => ({ input_ids: ids, labels: ids.map((id) => id + 1) }));
  it('bfd: no example split, overflow cut, labels travel with their ids, seq_lengths add up', () => {
    const packs = packExamples(examples, 8, 'bfd');
    for (const pack of packs) {
      assert.ok(pack.input_ids.length <= 8);
      assert.equal(pack.seq_lengths!.reduce((a, b) => a + b, 0), pack.input_ids.length);
      assert.deepEqual(pack.labels, pack.input_ids.map((id) => id + 1));
    }
    assert.deepEqual(packs.map((pack) => pack.input_ids), [[40, 41, 42, 43, 44, 45, 46, 47], [10, 11, 12, 13, 14, 30, 31, 32], [20, 21, 60]]);
  });
  it('wrapped cuts across boundaries; bad options are refused', () => {
    assert.deepEqual(packExamples(examples.slice(0, 2), 4, 'wrapped').map((pack) => pack.input_ids), [[10, 11, 12, 13], [14, 20, 21]]);
    assert.throws(() => packExamples(examples, 0), /maxLength/);
    assert.throws(() => packExamples(examples, 8, 'nope' as never), /strategy/);
  });
});
