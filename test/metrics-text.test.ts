/** Tokenizers, stemmer, warnings and formatting details that the reference files do not pin down alone. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BLEU,
  CHRF,
  corpusBleu,
  formatBleu,
  formatFixed,
  porterStem,
  RougeScorer,
  rouge,
  sentenceBleu,
  sentenceChrf,
  splitSentences,
  splitWhitespace,
  tokenize13a,
  tokenizeDefault,
  tokenizeUnicode,
  tokenizeZh,
  type MetricWarning,
} from '../src/metrics/index.js';

test('rouge-score default tokenizer: ASCII letters and digits only, Python lowercasing', () => {
  assert.deepEqual(tokenizeDefault("Hello, World! It's 2024."), ['hello', 'world', 'it', 's', '2024']);
  // 'İ' lowercases to 'i' + U+0307 and the Kelvin sign to 'k', as in Python.
  assert.deepEqual(tokenizeDefault('\u0130stanbul \u212Aelvin'), ['i', 'stanbul', 'kelvin']);
  assert.deepEqual(tokenizeDefault('café 我们'), ['caf']);
});

test('Porter stemmer: NLTK extensions and irregular forms', () => {
  const expected: Record<string, string> = {
    caresses: 'caress', ponies: 'poni', ties: 'tie', dies: 'die', flies: 'fli', skies: 'sky', dying: 'die',
    news: 'news', spied: 'spi', died: 'die', happy: 'happi', enjoy: 'enjoy', agreed: 'agre', hopping: 'hop',
    generalization: 'gener', conditional: 'condit', geology: 'geolog', hopefully: 'hope', running: 'run', is: 'is',
  };
  for (const [word, stem] of Object.entries(expected)) assert.equal(porterStem(word), stem, word);
  // rouge-score stems only tokens longer than 3 characters ('was' would become 'wa').
  assert.equal(porterStem('was'), 'wa');
  assert.deepEqual(new RougeScorer({ useStemmer: true }).tokens('was dies running cats'), ['was', 'die', 'run', 'cat']);
});

test('opt-in Unicode tokenizer keeps non-Latin scripts; the default warns when a text vanishes', () => {
  const warnings: MetricWarning[] = [];
  const ascii = new RougeScorer({ onWarning: (warning) => warnings.push(warning) });
  assert.equal(ascii.score('我喜欢吃苹果', '我喜欢吃香蕉').rouge1.fmeasure, 0);
  assert.equal(warnings.length, 2, 'rougeLsum-no-newlines and empty-tokenization, once each');
  assert.deepEqual(warnings.map((warning) => warning.code).sort(), ['empty-tokenization', 'rougeLsum-no-newlines']);
  ascii.score('один два', 'три');
  assert.equal(warnings.length, 2, 'the callback hears of each kind once');
  assert.equal(ascii.warnings().find((warning) => warning.code === 'empty-tokenization')!.count, 4);

  assert.deepEqual(tokenizeUnicode('GPT-4模型 Café ОДИН'), ['gpt', '4', '模', '型', 'café', 'один']);
  assert.deepEqual(tokenizeUnicode('Ｆｕｌｌ width'), ['full', 'width']);
  const unicode = new RougeScorer({ tokenizer: 'unicode', types: ['rouge1'] });
  const scores = unicode.score('我喜欢吃苹果', '我喜欢吃香蕉');
  assert.ok(Math.abs(scores.rouge1.fmeasure - 4 / 6) < 1e-12);
  assert.deepEqual(unicode.warnings(), []);
});

test('rougeLsum: newline sentences, the no-newline warning, optional sentence splitting', () => {
  const prediction = 'The cat sat. It was happy.';
  const reference = 'The cat was happy. It sat.';
  const plain = rouge([prediction], [reference], { types: ['rougeL', 'rougeLsum'] });
  assert.deepEqual(plain.scores.rougeL, plain.scores.rougeLsum);
  assert.equal(plain.warnings[0].code, 'rougeLsum-no-newlines');

  const split = rouge([prediction], [reference], { types: ['rougeL', 'rougeLsum'], splitSentences: true });
  const lines = rouge([prediction.replace('. ', '.\n')], [reference.replace('. ', '.\n')], { types: ['rougeLsum'] });
  assert.deepEqual(split.scores.rougeLsum, lines.scores.rougeLsum);
  assert.notDeepEqual(split.scores.rougeLsum, split.scores.rougeL);
  assert.deepEqual(split.warnings, []);
  assert.deepEqual(lines.warnings, []);

  assert.deepEqual(splitSentences('Mr. Smith arrived at 5 p.m. He left. "Why?" she asked! 3 more.'), [
    'Mr. Smith arrived at 5 p.m. He left.',
    '"Why?" she asked!',
    '3 more.',
  ]);
  assert.deepEqual(splitSentences('今天天气很好。我们去公园！'), ['今天天气很好。', '我们去公园！']);
});

test('Python whitespace and rounding semantics', () => {
  assert.deepEqual(splitWhitespace('a\u00a0b\u2003c\x1cd\ufeffe \u200bf'), ['a', 'b', 'c', 'd\ufeffe', '\u200bf']);
  assert.equal(formatFixed(6.25, 1), '6.2'); // Python rounds exact ties to even
  assert.equal(formatFixed(6.35, 1), '6.3'); // 6.35 is really 6.3499999…
  assert.equal(formatFixed(0.125, 2), '0.12');
  assert.equal(formatFixed(0.375, 2), '0.38');
  assert.equal(formatFixed(2.5, 0), '2');
  assert.equal(formatFixed(-0.125, 2), '-0.12');
});

test('BLEU tokenizers, signatures and errors', () => {
  assert.equal(tokenize13a('Hello, world! It costs $1,000.50 -- ok.'), 'Hello , world ! It costs $ 1,000.50 -- ok .');
  assert.equal(tokenize13a('a &amp; b &lt;tag&gt; <skipped>x-\ny'), 'a & b < tag > xy');
  // sacreBLEU's zh ranges include U+2001–U+2A6D (e.g. the em dash) but not CJK Extension B.
  assert.equal(tokenizeZh('我们—\u{20000}好'), '我 们 — \u{20000} 好');
  assert.equal(new BLEU({ smoothMethod: 'floor', smoothValue: 0.125 }).signature(2), 'nrefs:2|case:mixed|eff:no|tok:13a|smooth:floor[0.12]|version:2.6.0');
  assert.equal(new BLEU({ smoothMethod: 'add-k' }).signature('var'), 'nrefs:var|case:mixed|eff:no|tok:13a|smooth:add-k[1.00]|version:2.6.0');
  const varied = corpusBleu(['a b c d', 'e f'], [['a b c d', 'a b'], ['e f']]);
  assert.equal(varied.signature, 'nrefs:var|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0');
  assert.ok(Math.abs(varied.score - 100) < 1e-9); // sacreBLEU: 100.00000000000004
  const sentence = sentenceBleu('the cat sat on the mat', ['the cat is on the mat']);
  assert.equal(formatBleu(sentence), 'BLEU = 37.99 83.3/60.0/25.0/16.7 (BP = 1.000 ratio = 1.000 hyp_len = 6 ref_len = 6)');
  assert.equal(sentence.signature, 'nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.6.0');
  assert.throws(() => new BLEU({ tokenize: 'moses' as never }), /unknown BLEU tokenizer "moses"/);
  assert.throws(() => new BLEU({ smoothMethod: 'laplace' as never }), /unknown smoothing method/);
  assert.throws(() => corpusBleu([], []), /no hypotheses/);
  assert.throws(() => corpusBleu(['a'], []), /references for 0 segments/);
  assert.throws(() => sentenceBleu('a', []), /at least one reference/);
  assert.equal(sentenceChrf('the cat', ['the cat']).score, 100);
  assert.equal(new CHRF({ wordOrder: 2 }).name, 'chrF2++');
  assert.throws(() => new CHRF({ charOrder: 0, wordOrder: 0 }), /cannot both be 0/);
});
