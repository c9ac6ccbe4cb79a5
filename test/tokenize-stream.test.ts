import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DecodeStream, loadTokenizer, type Tokenizer } from '../src/tokenize/index.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'tokenize');
const stories = path.join(sharedDir, 'reference', 'models', 'stories260K');
const text = 'Hi 😀 日本語 👍🏽 ok';

/** Steps through ids one by one, returning every step's output ('' while a character is incomplete). */
function stepAll(tokenizer: Tokenizer, ids: number[]): string[] {
  const stream = new DecodeStream(tokenizer);
  return [...ids.map((id) => stream.step(id)), stream.flush()];
}

function checkStream(tokenizer: Tokenizer, ids: number[]): void {
  const steps = stepAll(tokenizer, ids);
  assert.equal(steps.join(''), tokenizer.decode(ids));
  for (const piece of steps) assert.ok(!piece.includes('\uFFFD'), `piece ${JSON.stringify(piece)} splits a character`);
  assert.ok(steps.slice(0, -1).some((piece) => piece === ''), 'some tokens end inside a character and emit nothing');
  assert.ok(steps.filter((piece) => piece !== '').length > 3, 'text arrives in several pieces');
  assert.equal(steps.at(-1), '', 'nothing is left to flush');
}

describe('incremental decoding keeps multi-byte characters whole', () => {
  it('byte-fallback tokens (Llama-2 layout, stories260K)', { skip: hasShared ? false : 'shared reference data not found' }, () => {
    const tokenizer = loadTokenizer(stories);
    const ids = tokenizer.encode(text);
    assert.ok(ids.some((id) => /^<0x/.test(tokenizer.idToToken(id)!)), 'the text needs byte fallback');
    checkStream(tokenizer, ids);
    assert.equal([...tokenizer.incrementalDecode(ids, { skipSpecialTokens: true })].join(''), text);
  });

  it('byte-level BPE tokens (GPT-2 layout)', () => {
    const tokenizer = loadTokenizer(path.join(fixtures, 'gpt2-bpe'));
    const ids = tokenizer.encode(text);
    checkStream(tokenizer, ids);
    assert.equal([...tokenizer.incrementalDecode(ids)].join(''), text);
  });

  it('Metaspace tokens (T5 layout) keep their spaces after a prompt, and special tokens can be skipped', () => {
    const tokenizer = loadTokenizer(path.join(fixtures, 't5-unigram'));
    const prompt = tokenizer.encode('Hello', { addSpecialTokens: false });
    const continuation = tokenizer.encode(' world ok');
    const pieces = [...tokenizer.incrementalDecode(continuation, { promptIds: prompt, skipSpecialTokens: true })];
    assert.equal(pieces.join(''), ' world ok');
    const withSpecial = [...tokenizer.incrementalDecode(continuation, { promptIds: prompt })];
    assert.equal(withSpecial.join(''), ' world ok</s>');
  });

  it('flush hands over an unfinished character as U+FFFD, as decode does', () => {
    const tokenizer = loadTokenizer(path.join(fixtures, 'gpt2-bpe'));
    const ids = tokenizer.encode('ok 😀');
    const cut = ids.slice(0, -1);
    const stream = tokenizer.decodeStream();
    const stepped = cut.map((id) => stream.step(id)).join('');
    assert.ok(!stepped.includes('\uFFFD'));
    const rest = stream.flush();
    assert.ok(rest.endsWith('\uFFFD'));
    assert.equal(stepped + rest, tokenizer.decode(cut));
  });
});
