/**
 * Every case in ../shared/reference/metrics must agree with rouge-score 0.1.2 and sacreBLEU 2.6.0:
 * scores within 1e-9, counts, lengths, tokens and signatures identical.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  BLEU,
  CHRF,
  RougeScorer,
  formatBleu,
  formatChrf,
  tokenize13a,
  type BleuOptions,
  type BleuScore,
  type BleuTokenizerName,
  type ChrfOptions,
  type RougeScores,
  type SmoothMethod,
} from '../src/metrics/index.js';
import { assertRouge, close, loadCases, readJsonLines, referenceDir, skipWithoutReferences as skip } from './helpers/metric-references.js';

interface ExpectedBleu {
  score: number;
  counts: number[];
  totals: number[];
  precisions: number[];
  bp: number;
  sys_len: number;
  ref_len: number;
  signature: string;
  str: string;
}

function assertBleu(actual: BleuScore, expected: ExpectedBleu, where: string): void {
  close(actual.score, expected.score, `${where} score`);
  assert.deepEqual(actual.counts, expected.counts, `${where} counts`);
  assert.deepEqual(actual.totals, expected.totals, `${where} totals`);
  assert.equal(actual.precisions.length, expected.precisions.length, `${where} precisions`);
  actual.precisions.forEach((precision, index) => close(precision, expected.precisions[index], `${where} precision ${index}`));
  close(actual.bp, expected.bp, `${where} bp`);
  assert.equal(actual.sys_len, expected.sys_len, `${where} sys_len`);
  assert.equal(actual.ref_len, expected.ref_len, `${where} ref_len`);
  assert.equal(actual.signature, expected.signature, `${where} signature`);
  assert.equal(formatBleu(actual), expected.str, `${where} str`);
}

test('ROUGE agrees with rouge-score 0.1.2 on every case (P/R/F, tokens, stemmer, score_multi)', { skip }, () => {
  const cases = loadCases();
  const expectedLines = readJsonLines<{
    id: string;
    nostem: RougeScores;
    stem: RougeScores;
    tokens: { prediction: string[]; reference: string[]; prediction_stem: string[]; reference_stem: string[] };
    multi_nostem?: RougeScores;
    multi_stem?: RougeScores;
  }>('expected_rouge.jsonl');
  const plain = new RougeScorer();
  const stemmed = new RougeScorer({ useStemmer: true });
  let multiCases = 0;
  for (const expected of expectedLines) {
    const item = cases.get(expected.id);
    assert.ok(item, `case ${expected.id} missing from cases.jsonl`);
    assert.deepEqual(plain.tokens(item.prediction), expected.tokens.prediction, `${item.id} prediction tokens`);
    assert.deepEqual(plain.tokens(item.reference), expected.tokens.reference, `${item.id} reference tokens`);
    assert.deepEqual(stemmed.tokens(item.prediction), expected.tokens.prediction_stem, `${item.id} stemmed prediction`);
    assert.deepEqual(stemmed.tokens(item.reference), expected.tokens.reference_stem, `${item.id} stemmed reference`);
    assertRouge(plain.score(item.prediction, item.reference), expected.nostem, `${item.id} nostem`);
    assertRouge(stemmed.score(item.prediction, item.reference), expected.stem, `${item.id} stem`);
    if (expected.multi_nostem !== undefined && expected.multi_stem !== undefined) {
      multiCases++;
      assertRouge(plain.scoreMulti(item.prediction, item.references), expected.multi_nostem, `${item.id} multi`);
      assertRouge(stemmed.scoreMulti(item.prediction, item.references), expected.multi_stem, `${item.id} multi stem`);
    }
  }
  assert.ok(expectedLines.length > 0 && multiCases > 0);
});

const SENTENCE_VARIANTS: Record<string, BleuOptions> = {
  sacrebleu_sentence_bleu: {},
  sacrebleu_sentence_bleu_smooth_none: { smoothMethod: 'none' },
  sacrebleu_sentence_bleu_smooth_floor: { smoothMethod: 'floor' },
  sacrebleu_sentence_bleu_smooth_addk: { smoothMethod: 'add-k' },
  sacrebleu_sentence_bleu_lowercase: { lowercase: true },
};

test('BLEU and chrF agree with sacreBLEU 2.6.0 on every case (13a tokens, sentence variants, chrF, chrF++)', { skip }, () => {
  const cases = loadCases();
  const lines = readJsonLines<Record<string, unknown> & { id: string; nrefs: number }>('expected_bleu.jsonl');
  const sentenceMetrics = Object.entries(SENTENCE_VARIANTS).map(
    ([key, options]) => [key, new BLEU({ effectiveOrder: true, ...options })] as const,
  );
  const corpusOneSegment = new BLEU();
  const chrf = new CHRF();
  const chrfPlusPlus = new CHRF({ wordOrder: 2 });
  for (const expected of lines) {
    const item = cases.get(expected.id);
    assert.ok(item, `case ${expected.id} missing from cases.jsonl`);
    const references = item.references;
    assert.equal(references.length, expected.nrefs, `${item.id} nrefs`);
    const tokens = expected.tok13a as { prediction: string; references: string[] };
    assert.equal(tokenize13a(item.prediction), tokens.prediction, `${item.id} 13a prediction`);
    references.forEach((reference, index) =>
      assert.equal(tokenize13a(reference), tokens.references[index], `${item.id} 13a reference ${index}`),
    );
    for (const [key, metric] of sentenceMetrics) {
      assertBleu(metric.sentenceScore(item.prediction, references), expected[key] as ExpectedBleu, `${item.id} ${key}`);
    }
    assertBleu(
      corpusOneSegment.corpusScore([item.prediction], [references]),
      expected.sacrebleu_corpus_bleu_one_segment as ExpectedBleu,
      `${item.id} corpus_bleu_one_segment`,
    );
    for (const [key, metric] of [
      ['sacrebleu_sentence_chrf', chrf],
      ['sacrebleu_sentence_chrfpp', chrfPlusPlus],
    ] as const) {
      const want = expected[key] as { score: number; signature: string; str: string };
      const got = metric.sentenceScore(item.prediction, references);
      close(got.score, want.score, `${item.id} ${key}`);
      assert.equal(got.signature, want.signature, `${item.id} ${key} signature`);
      assert.equal(formatChrf(got, metric.name), want.str, `${item.id} ${key} str`);
    }
  }
});

interface CorpusEntry {
  kwargs: Record<string, string | number | boolean>;
  result: ExpectedBleu | { score: number; signature: string; str: string };
}

function bleuOptions(kwargs: Record<string, string | number | boolean>): BleuOptions {
  const options: BleuOptions = {};
  for (const [key, value] of Object.entries(kwargs)) {
    if (key === 'tokenize') options.tokenize = value as BleuTokenizerName;
    else if (key === 'smooth_method') options.smoothMethod = value as SmoothMethod;
    else if (key === 'smooth_value') options.smoothValue = value as number;
    else if (key === 'lowercase') options.lowercase = value as boolean;
    else if (key === 'effective_order') options.effectiveOrder = value as boolean;
    else if (key === 'max_ngram_order') options.maxNgramOrder = value as number;
    else throw new Error(`unexpected BLEU kwarg ${key}`);
  }
  return options;
}

function chrfOptions(kwargs: Record<string, string | number | boolean>): ChrfOptions {
  const options: ChrfOptions = {};
  for (const [key, value] of Object.entries(kwargs)) {
    if (key === 'char_order') options.charOrder = value as number;
    else if (key === 'word_order') options.wordOrder = value as number;
    else if (key === 'beta') options.beta = value as number;
    else if (key === 'lowercase') options.lowercase = value as boolean;
    else if (key === 'whitespace') options.whitespace = value as boolean;
    else if (key === 'eps_smoothing') options.epsSmoothing = value as boolean;
    else throw new Error(`unexpected chrF kwarg ${key}`);
  }
  return options;
}

test('corpus BLEU and chrF agree with sacreBLEU 2.6.0 on every configuration of every chunk', { skip }, () => {
  const cases = loadCases();
  const corpus = JSON.parse(readFileSync(path.join(referenceDir, 'expected_bleu_corpus.json'), 'utf8')) as {
    chunks: { ids: string[]; results: Record<string, CorpusEntry> }[];
  };
  let checked = 0;
  for (const [chunkIndex, chunk] of corpus.chunks.entries()) {
    const items = chunk.ids.map((id) => {
      const item = cases.get(id);
      assert.ok(item, `case ${id} missing from cases.jsonl`);
      return item;
    });
    const hypotheses = items.map((item) => item.prediction);
    for (const [name, entry] of Object.entries(chunk.results)) {
      if (!name.startsWith('bleu_') && !name.startsWith('chrf')) continue; // NLTK / HF evaluate: comparison only
      const references = name.endsWith('_firstref')
        ? items.map((item) => [item.references[0]])
        : items.map((item) => item.references);
      const where = `chunk ${chunkIndex} ${name}`;
      if (name.startsWith('bleu_')) {
        const result = new BLEU(bleuOptions(entry.kwargs)).corpusScore(hypotheses, references);
        assertBleu(result, entry.result as ExpectedBleu, where);
      } else {
        const metric = new CHRF(chrfOptions(entry.kwargs));
        const result = metric.corpusScore(hypotheses, references);
        close(result.score, entry.result.score, where);
        assert.equal(result.signature, entry.result.signature, `${where} signature`);
        assert.equal(formatChrf(result, metric.name), entry.result.str, `${where} str`);
      }
      checked++;
    }
  }
  assert.ok(checked > 0);
});
