/** The data tunekit generates for its demo: seeded planning dialogues, their rule-written summaries, stories, and the word tokenizer. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  applyTemplate,
  bundledTemplate,
  buildWordTokenizer,
  syntheticContinuations,
  syntheticDialogues,
  syntheticDialogueWithPlan,
  syntheticPretrainingTexts,
  syntheticTokenizerCorpus,
  wordPieces,
  writeWordTokenizer,
} from '../src/data/index.js';
import { loadTokenizer } from '../src/tokenize/index.js';
import { pythonHas } from './helpers/python.js';

const sha256 = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex');

// Recorded once; a change means the same seed no longer gives the same data (and any cached demo model is stale).
const FIRST_20_DIALOGUES_SEED_0 = '6b8f5998c1638120679cffbc122d58fe015191071d546ad6a1821dda02a13872';
const FIRST_20_PRETRAINING_SEED_0 = 'db001225fb05b228deec71a743f8b73564557bd692e3a1c37b63565bf33f744c';
const FIRST_20_CONTINUATIONS_SEED_0 = '992602640ee8acf27dfeace3f27a5e3fb714888913317be6d14ce9ec1b66a812';
const TOKENIZER_JSON_SEED_0 = '00a45b5a134f328140c1394684ed6afc0f3042c0347abbd48fc6aaa19e3d22ad';

test('the same seed gives the same records, record i does not depend on how many are asked for, and another seed differs', () => {
  assert.equal(sha256(syntheticDialogues(0, 20)), FIRST_20_DIALOGUES_SEED_0);
  assert.equal(sha256(syntheticPretrainingTexts(0, 20)), FIRST_20_PRETRAINING_SEED_0);
  assert.equal(sha256(syntheticContinuations(0, 20)), FIRST_20_CONTINUATIONS_SEED_0);
  assert.deepEqual(syntheticDialogues(7, 60).slice(0, 10), syntheticDialogues(7, 10));
  assert.deepEqual(syntheticDialogues(-3, 5), syntheticDialogues(-3, 5));
  const other = syntheticDialogues(8, 10);
  assert.ok(syntheticDialogues(7, 10).every((record, index) => record.dialogue !== other[index].dialogue));
  assert.throws(() => syntheticDialogues(1.5, 1), /seed must be an integer/);
});

test('records have the DialogSum shape: #PersonN# lines taking turns, a summary, a topic', () => {
  for (const record of syntheticDialogues(3, 200)) {
    assert.deepEqual(Object.keys(record).sort(), ['dialogue', 'fname', 'summary', 'topic']);
    const lines = record.dialogue.split('\n');
    for (const line of lines) assert.match(line, /^#Person[123]#: \S/);
    lines.slice(1).forEach((line, index) => assert.notEqual(line.slice(0, 10), lines[index].slice(0, 10), `one speaker twice in a row:\n${record.dialogue}`));
    assert.match(record.summary, /^[A-Z].*\.$/);
  }
});

const FIRST_SENTENCE = /^(.+) will meet at (.+) at (\d{1,2}(?::30)? [ap]m) on ([A-Z][a-z]+day) to ([^.]+)\./;

test('each summary states the plan it was written from, and the dialogue contains every fact the summary states', () => {
  const seen = { three: 0, timeChange: 0, placeChange: 0, home: 0, bring: 0, declined: 0 };
  for (let index = 0; index < 600; index++) {
    const { dialogue, summary, plan } = syntheticDialogueWithPlan(11, index);
    const parsed = FIRST_SENTENCE.exec(summary);
    assert.ok(parsed, summary);
    const [, who, place, time, day, activity] = parsed;
    const attendees = plan.speakers.filter((_, speaker) => speaker !== plan.declined?.by).map((person) => person.name);
    assert.deepEqual(who.split(/, | and /), attendees, summary);
    assert.deepEqual([place, time, day, activity], [plan.place, plan.time, plan.day, plan.activity.infinitive]);
    for (const name of plan.speakers.map((person) => person.name)) assert.ok(dialogue.includes(name), `${name} is never named in\n${dialogue}`);
    assert.ok(dialogue.includes(day) && dialogue.includes(time) && dialogue.includes(activity), dialogue);
    if (plan.host === undefined) assert.ok(dialogue.toLowerCase().includes(place.toLowerCase()), dialogue);
    else assert.match(dialogue, /\b(my|your) (flat|place)\b/i);
    assert.ok(!dialogue.includes(parsed[0]), 'the summary is not a sentence of the dialogue');

    assert.equal(summary.includes('They moved it from'), plan.change?.kind === 'time');
    assert.equal(summary.includes('instead of'), plan.change?.kind === 'place');
    if (plan.change) assert.ok(dialogue.toLowerCase().includes(plan.change.from.toLowerCase()), dialogue);
    assert.equal(summary.includes(' will bring '), plan.bring !== undefined);
    if (plan.bring) assert.ok(summary.includes(`${plan.speakers[plan.bring.by].name} will bring ${plan.bring.item}.`) && dialogue.includes(plan.bring.item));
    assert.equal(summary.includes('cannot come because'), plan.declined !== undefined);
    if (plan.declined) assert.ok(dialogue.includes(plan.declined.reason.rest));

    seen.three += plan.speakers.length === 3 ? 1 : 0;
    seen.timeChange += plan.change?.kind === 'time' ? 1 : 0;
    seen.placeChange += plan.change?.kind === 'place' ? 1 : 0;
    seen.home += plan.host !== undefined ? 1 : 0;
    seen.bring += plan.bring ? 1 : 0;
    seen.declined += plan.declined ? 1 : 0;
  }
  for (const [kind, count] of Object.entries(seen)) assert.ok(count >= 30, `only ${count} of 600 dialogues with ${kind}`);
});

test('the dialogues vary: no two alike, and each dialogue act comes in several wordings', () => {
  const records = syntheticDialogues(5, 1000);
  assert.equal(new Set(records.map((record) => record.dialogue)).size, records.length);
  assert.ok(new Set(records.map((record) => record.summary)).size > 900);
  // Lines with their names, days, times and places masked: what is left is the wording.
  const mask = (line: string) =>
    line
      .replace(/^#Person\d#: /, '')
      .replace(/\b[A-Z][a-z]+day\b/g, 'DAY')
      .replace(/\d{1,2}(:30)? [ap]m/g, 'TIME')
      .replace(/\b(Anna|Dana|Emma|Grace|Iris|Kate|Maya|Olga|Rosa|Tina|Wendy|Zoe|Lena|Ben|Carl|Felix|Hugo|Jack|Leo|Nick|Paul|Sam|Victor|Omar|Marco|Yusuf)\b/g, 'NAME');
  const openings = new Set(records.map((record) => mask(record.dialogue.split('\n')[0])));
  const proposals = new Set(records.map((record) => mask(record.dialogue.split('\n')[2]).replace(/(to|we could|we|Shall we) .*? (on|together on|with me on)/, '$1 ACT $2')));
  assert.ok(openings.size >= 5, [...openings].join(' | '));
  assert.ok(proposals.size >= 6, [...proposals].join(' | '));
  assert.ok(new Set(records.flatMap((record) => record.dialogue.split('\n').map(mask))).size >= 150);
});

test('dialogues are short: 7 to 20 turns, and the longest prompt with its summary fits a 256-token context', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tunekit-synthetic-'));
  try {
    writeWordTokenizer(dir, syntheticTokenizerCorpus(0));
    const tokenizer = loadTokenizer(dir);
    let longest = 0;
    for (const record of syntheticDialogues(2, 2000)) {
      const turns = record.dialogue.split('\n').length;
      assert.ok(turns >= 7 && turns <= 20, `${turns} turns`);
      const text = `Here is a chat between several people:\n${record.dialogue}\n\nWrite a short recap of it.\n${record.summary}</s>`;
      longest = Math.max(longest, tokenizer.encode(text).length);
    }
    assert.ok(longest <= 256 && longest > 150, `longest example ${longest} tokens`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pre-training text holds stories and conversations but no summaries; the base task continues a story with its last sentence', () => {
  const texts = syntheticPretrainingTexts(4, 400).map((record) => record.text);
  const conversations = texts.filter((text) => text.startsWith('#Person1#: '));
  assert.ok(conversations.length > 120 && conversations.length < 280, `${conversations.length} conversations of 400`);
  assert.ok(texts.every((text) => !text.includes(' will meet at ')));
  const tasks = new Set(syntheticDialogues(4, 400).map((record) => record.dialogue));
  assert.ok(conversations.every((text) => !tasks.has(text)), 'pre-training conversations are not the task dialogues');
  const stories = syntheticContinuations(4, 300);
  assert.ok(new Set(stories.map((story) => story.context)).size > 290);
  for (const story of stories) {
    assert.match(story.continuation, /^(Then they|They|Together they) .+\.$/);
    assert.match(story.context, /^[A-Z].*\.$/);
    assert.ok(!story.context.includes(story.continuation));
  }
});

test('wordPieces splits words off punctuation, marks word starts and keeps speaker tags whole', () => {
  assert.deepEqual(wordPieces("Hi Ben! I'll bring 5:30 pm.\n#Person2#: Ok"), ['▁Hi', '▁Ben', '!', "▁I'll", '▁bring', '▁5', ':', '30', '▁pm', '.', '\n', '#Person2#:', '▁Ok']);
  assert.deepEqual(wordPieces('a  b'), ['▁a', '▁', '▁b']);
});

test('the word tokenizer is deterministic, small, loads in tunekit, covers the generated text and round-trips it', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tunekit-synthetic-'));
  try {
    const corpus = syntheticTokenizerCorpus(0);
    const vocabSize = writeWordTokenizer(dir, corpus);
    const written = readFileSync(path.join(dir, 'tokenizer.json'), 'utf8');
    assert.equal(createHash('sha256').update(written).digest('hex'), TOKENIZER_JSON_SEED_0);
    assert.deepEqual(buildWordTokenizer(corpus), buildWordTokenizer([...corpus]));
    assert.ok(vocabSize > 300 && vocabSize <= 1000, `${vocabSize} tokens`);

    const tokenizer = loadTokenizer(dir);
    assert.equal(tokenizer.vocabSize, vocabSize);
    assert.deepEqual([tokenizer.padTokenId, tokenizer.bosTokenId, tokenizer.eosTokenId, tokenizer.unkTokenId], [0, 1, 2, 3]);
    assert.deepEqual(tokenizer.encode('Hi Ben!</s>'), [1, ...tokenizer.encode('Hi Ben!', { addSpecialTokens: false }), 2]);
    assert.equal(tokenizer.encode('Hi Ben!', { addSpecialTokens: false }).length, 3, 'known words are single tokens');

    // Text of another seed than the one the vocabulary was built from.
    const heldOut = [
      ...syntheticDialogues(12345, 300).flatMap((record) => [record.dialogue, record.summary]),
      ...syntheticPretrainingTexts(12345, 300).map((record) => record.text),
      ...syntheticContinuations(12345, 100).map((story) => `${story.context} ${story.continuation}`),
    ];
    let tokens = 0;
    let words = 0;
    for (const text of heldOut) {
      const ids = tokenizer.encode(text);
      assert.ok(!ids.includes(3), `unknown token in ${JSON.stringify(text)}`);
      assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), text);
      tokens += ids.length;
      words += text.split(/\s+/).length;
    }
    assert.ok(tokens / words < 1.6, `${(tokens / words).toFixed(2)} tokens a word: the vocabulary should hold whole words`);
    assert.ok(tokenizer.encode('café').includes(3), 'outside printable ASCII is unknown');

    // A templated prompt tokenizes to a prefix of prompt + summary, and the summary's first word stays one token.
    const templates = bundledTemplate('summarize_dialogue');
    syntheticDialogues(12345, 200).forEach((record, index) => {
      const rendered = applyTemplate(templates, { ...record }, index, { seed: 0 }) as { prompt: string; completion: string };
      const prompt = tokenizer.encode(rendered.prompt);
      const whole = tokenizer.encode(`${rendered.prompt}${rendered.completion}</s>`);
      assert.deepEqual(whole.slice(0, prompt.length), prompt, rendered.prompt);
      assert.equal(tokenizer.decode([whole[prompt.length]]), record.summary.split(/[ ,]/)[0]);
    });
    assert.throws(() => buildWordTokenizer(corpus, { maxVocabSize: 50 }), /maxVocabSize 50/);
    assert.equal(buildWordTokenizer(corpus, { maxVocabSize: 200 }).vocabSize, 200);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const TRANSFORMERS_IDS = `
import json, sys
from transformers import AutoTokenizer
tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])
texts = json.load(open(sys.argv[2]))
print(json.dumps([tokenizer(text)["input_ids"] for text in texts]))
`;

test('transformers reads the word tokenizer and gives the same ids as tunekit', { skip: !pythonHas('transformers') && 'needs Python with transformers' }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tunekit-synthetic-'));
  try {
    writeWordTokenizer(dir, syntheticTokenizerCorpus(0, { dialogues: 300, pretraining: 300, continuations: 100 }));
    const texts = [...syntheticDialogues(77, 40).flatMap((record) => [record.dialogue, `${record.summary}</s>`]), 'Unseen words: zebra, 42!', 'café  twice'];
    writeFileSync(path.join(dir, 'texts.json'), JSON.stringify(texts));
    const python = process.env.PYTHON ?? 'python3';
    const theirs = JSON.parse(execFileSync(python, ['-c', TRANSFORMERS_IDS, dir, path.join(dir, 'texts.json')], { encoding: 'utf8' }).trim().split('\n').pop() as string) as number[][];
    const tokenizer = loadTokenizer(dir);
    assert.deepEqual(texts.map((text) => tokenizer.encode(text)), theirs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
