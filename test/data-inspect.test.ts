import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { inspectSftExamples, type SftInspection } from '../src/data/inspect.js';
import { tokenizeSftDataset } from '../src/data/sft.js';
import { loadTokenizer } from '../src/tokenize/index.js';
import { repoRoot } from './helpers/paths.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'tokenize');
// GPT-2's tokenizer names <|endoftext|> as both pad and eos token; the T5 one pads with <pad> (0), ends with </s> (1).
const gpt2 = loadTokenizer(path.join(fixtures, 'gpt2-bpe'));
const t5 = loadTokenizer(path.join(fixtures, 't5-unigram'));

const records = [
  { prompt: 'Hi:', completion: ' ok' },
  { prompt: 'Translate to French: good morning', completion: ' bonjour, mes chers amis, comment allez-vous' },
  { prompt: 'A long prompt that goes on and on and on and on and on and on and on and on and on and on', completion: ' short' },
  { prompt: 'Fourth:', completion: ' never shown by default' },
];

const kinds = (inspection: SftInspection) => inspection.warnings.map((warning) => [warning.kind, warning.records]);

describe('inspectSftExamples', () => {
  it('shows exactly the trainer\'s tokens and labels, supervised where the label is not -100', () => {
    const inspection = inspectSftExamples(gpt2, records, { maxLength: 200 });
    const trained = tokenizeSftDataset(gpt2, records.slice(0, 3), { maxLength: 200 });
    assert.equal(inspection.examples.length, 3, 'three records by default');
    assert.equal(inspection.format, 'prompt-completion');
    assert.equal(inspection.completionOnlyLoss, true);
    inspection.examples.forEach((example, index) => {
      assert.deepEqual(example.tokens.map((token) => token.id), trained.examples[index].input_ids);
      assert.deepEqual(example.tokens.map((token) => token.supervised), trained.examples[index].labels.map((label) => label !== -100));
      assert.deepEqual(example.tokens.map((token) => token.token), gpt2.convertIdsToTokens(trained.examples[index].input_ids));
      assert.equal(example.supervised, trained.examples[index].labels.filter((label) => label !== -100).length);
      assert.equal(example.record, index + 1);
    });
    assert.equal(inspection.examples[0].tokens.at(-1)?.token, '<|endoftext|>');
    assert.deepEqual(kinds(inspection), [['pad-is-eos', [1, 2, 3]]]);
    assert.equal(inspection.examples[0].tokens.at(-1)?.supervised, true, 'EOS carries loss');
  });

  it('warns about a completion cut by max_length and an example left with no supervised token, naming the records', () => {
    const promptLength = (index: number) => gpt2.encode(records[index].prompt).length;
    // Long enough for record 1 whole, for part of record 2's completion, and for none of record 3's.
    const maxLength = promptLength(1) + 3;
    assert.ok(promptLength(2) >= maxLength && gpt2.encode(records[0].prompt + records[0].completion).length + 1 <= maxLength);
    const inspection = inspectSftExamples(gpt2, records, { maxLength });
    assert.deepEqual(kinds(inspection), [['truncated-completion', [2]], ['no-supervised-tokens', [3]], ['pad-is-eos', [1]]]);
    const [cut, empty] = inspection.warnings;
    const completionTokens = gpt2.encode(records[1].prompt + records[1].completion + '<|endoftext|>').length - promptLength(1);
    assert.equal(inspection.examples[1].supervised, 3);
    assert.equal(inspection.examples[1].supervisedCut, completionTokens - 3);
    assert.match(cut.message, new RegExp(`^record 2 \\(record 2\\): max_length ${maxLength} cut ${completionTokens - 3} of its ${completionTokens} supervised tokens from the end`));
    const shortCompletion = gpt2.encode(records[2].prompt + records[2].completion + '<|endoftext|>').length - promptLength(2);
    assert.equal(empty.message, `record 3 (record 3) has no supervised token (max_length ${maxLength} cut all ${shortCompletion} of its supervised tokens): the trainer drops it`);
    assert.equal(inspection.examples[2].dropped, true);
    assert.equal(inspection.examples[2].tokens.length, maxLength, 'a dropped example is shown as max_length cut it');
    assert.ok(inspection.examples[2].tokens.every((token) => !token.supervised));
  });

  it('explains a pad token equal to EOS: harmless with TRL\'s length padding, fatal with a collator that masks pad ids', () => {
    const inspection = inspectSftExamples(gpt2, records, { maxLength: 200 });
    assert.equal(inspection.padTokenId, gpt2.eosTokenId);
    const [warning] = inspection.warnings;
    assert.equal(warning.kind, 'pad-is-eos');
    assert.deepEqual(warning.records, [1, 2, 3]);
    assert.match(warning.message, new RegExp(`pad id ${gpt2.eosTokenId} is also the EOS id`));
    assert.match(warning.message, /is also the EOS id \(the tokenizer's pad token is its EOS token\)/);
    assert.match(warning.message, /TRL's SFTTrainer collator .* pads labels with -100 by length, so EOS keeps its loss/);
    assert.match(warning.message, /DataCollatorForLanguageModeling sets labels equal to pad_token_id to -100\) would drop the loss on every EOS/);
  });

  it('gives no pad warning when the pad token is not EOS, nor when EOS carries no loss', () => {
    assert.deepEqual(kinds(inspectSftExamples(t5, records, { maxLength: 200 })), []);
    const unsupervisedEos = [{ input_ids: [10, 11, gpt2.eosTokenId as number], labels: [-100, 11, -100] }];
    assert.deepEqual(kinds(inspectSftExamples(gpt2, unsupervisedEos, { maxLength: 200 })), []);
  });

  it('flags an example whose labels are all -100 even when nothing truncates it', () => {
    const inspection = inspectSftExamples(gpt2, [{ input_ids: [10, 11, 12], labels: [-100, -100, -100] }], { maxLength: null });
    assert.equal(inspection.warnings[0].kind, 'no-supervised-tokens');
    assert.match(inspection.warnings[0].message, /every label is -100\): it adds nothing to the loss$/);
  });

  it('takes --count records, names them with where(), and supervises the prompt with completionOnlyLoss false', () => {
    const inspection = inspectSftExamples(gpt2, records, { count: 4, maxLength: 200, completionOnlyLoss: false, where: (index) => `data.jsonl:${index + 10}` });
    assert.equal(inspection.examples.length, 4);
    assert.equal(inspection.examples[3].where, 'data.jsonl:13');
    assert.ok(inspection.examples.every((example) => example.tokens.every((token) => token.supervised)));
    assert.throws(() => inspectSftExamples(gpt2, records, { count: 0 }), /count must be a positive integer, got 0/);
  });

  it('seq2seq: the encoder input carries no loss, the targets do, and a cut target is a truncated completion', () => {
    const inspection = inspectSftExamples(t5, records, { seq2seq: true, maxLength: 200, maxTargetLength: 4 });
    const trained = tokenizeSftDataset(t5, records.slice(0, 3), { seq2seq: true, maxLength: 200, maxTargetLength: 4 });
    inspection.examples.forEach((example, index) => {
      assert.deepEqual(example.tokens.map((token) => token.id), trained.examples[index].input_ids);
      assert.ok(example.tokens.every((token) => !token.supervised));
      assert.deepEqual(example.targetTokens?.map((token) => token.id), trained.examples[index].labels);
      assert.ok(example.targetTokens?.every((token) => token.supervised));
    });
    const cut = records.slice(0, 3).flatMap((record, index) => (t5.encode(record.completion).length > 4 ? [index + 1] : []));
    assert.deepEqual(cut, [2, 3]);
    assert.deepEqual(kinds(inspection), cut.map((record) => ['truncated-completion', [record]]));
    assert.match(inspection.warnings[0].message, /max_target_length 4 cut \d+ of its \d+ supervised tokens/);
  });
});
