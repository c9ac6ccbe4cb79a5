/**
 * ROUGE, BLEU and chrF through their one shared shape (`Metric`): the same numbers as their existing functions and
 * as rouge-score / sacreBLEU on ../shared/reference/metrics, and signatures that say how a number was computed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import {
  BLEU,
  CHRF,
  corpusBleu,
  corpusChrf,
  formatBleu,
  formatChrf,
  rouge,
  ROUGE,
  RougeScorer,
  sentenceBleu,
  sentenceChrf,
  type BleuScore,
  type ChrfScore,
  type Metric,
  type RougeOptions,
  type RougeScores,
} from '../src/metrics/index.js';
import { assertRouge, close, loadCases, readJsonLines, referenceDir, skipWithoutReferences as skip, type Case } from './helpers/metric-references.js';
import { repoRoot } from './helpers/paths.js';

/** Sentence and corpus results of any metric, seen only through the shared interface. */
function throughInterface<Sentence, Corpus>(
  metric: Metric<Sentence, Corpus>,
  hypotheses: readonly string[],
  references: readonly (readonly string[])[],
): { sentences: Sentence[]; corpus: Corpus } {
  return {
    sentences: hypotheses.map((hypothesis, index) => metric.sentenceScore(hypothesis, references[index])),
    corpus: metric.corpusScore(hypotheses, references),
  };
}

test('ROUGE through the shared interface: the numbers of RougeScorer, rouge() and rouge-score 0.1.2', { skip }, () => {
  const cases = readJsonLines<Case>('cases.jsonl');
  const expected = new Map(
    readJsonLines<{ id: string; stem: RougeScores; multi_stem?: RougeScores }>('expected_rouge.jsonl').map((line) => [line.id, line]),
  );
  const options: RougeOptions = { useStemmer: true };
  const scorer = new RougeScorer(options);
  const metric: Metric<{ scores: RougeScores; signature: string }, { scores: RougeScores; signature: string }> = new ROUGE(options);
  const hypotheses = cases.map((item) => item.prediction);
  const references = cases.map((item) => item.references);
  const { sentences, corpus } = throughInterface(metric, hypotheses, references);
  cases.forEach((item, index) => {
    assert.deepEqual(sentences[index].scores, scorer.scoreMulti(item.prediction, item.references), item.id);
    const want = expected.get(item.id);
    if (want === undefined) return;
    assertRouge(sentences[index].scores, item.references.length > 1 ? want.multi_stem! : want.stem, `${item.id} vs rouge-score`);
    assert.equal(sentences[index].signature, `nrefs:${item.references.length}|tok:default|stem:yes|types:rouge1,rouge2,rougeL,rougeLsum|split:no|version:rouge-score-0.1.2`);
  });
  const functional = rouge(hypotheses, references, options);
  assert.deepEqual(corpus.scores, functional.scores);
  assert.equal(corpus.signature, functional.signature);
  assert.equal(corpus.signature, 'nrefs:var|tok:default|stem:yes|types:rouge1,rouge2,rougeL,rougeLsum|split:no|version:rouge-score-0.1.2');

  // Bootstrap: the same intervals as rouge() with the same request, and the signature says how they were drawn.
  const firstTwenty = { hypotheses: hypotheses.slice(0, 20), references: cases.slice(0, 20).map((item) => [item.reference]) };
  const resampled = new ROUGE(options).corpusScore(firstTwenty.hypotheses, firstTwenty.references, { samples: 200, seed: 3 });
  const viaFunction = rouge(firstTwenty.hypotheses, firstTwenty.references.map((list) => list[0]), { ...options, bootstrap: { samples: 200, seed: 3 } });
  assert.deepEqual(resampled.intervals, viaFunction.intervals);
  assert.equal(resampled.signature, 'nrefs:1|bs:200|seed:3|conf:0.95|tok:default|stem:yes|types:rouge1,rouge2,rougeL,rougeLsum|split:no|version:rouge-score-0.1.2');
});

test('BLEU and chrF through the shared interface: the numbers of their functions and of sacreBLEU 2.6.0', { skip }, () => {
  const cases = loadCases();
  const sentenceLines = readJsonLines<{ id: string } & Record<string, { score: number; signature: string; str: string }>>('expected_bleu.jsonl');
  const sentenceBleuMetric: Metric<BleuScore, BleuScore> = new BLEU({ effectiveOrder: true });
  const chrfMetric: Metric<ChrfScore, ChrfScore> = new CHRF();
  for (const line of sentenceLines) {
    const item = cases.get(line.id)!;
    const bleu = sentenceBleuMetric.sentenceScore(item.prediction, item.references);
    assert.deepEqual(bleu, sentenceBleu(item.prediction, item.references), item.id);
    close(bleu.score, line.sacrebleu_sentence_bleu.score, `${item.id} BLEU`);
    assert.equal(bleu.signature, line.sacrebleu_sentence_bleu.signature);
    assert.equal(formatBleu(bleu), line.sacrebleu_sentence_bleu.str);
    const chrf = chrfMetric.sentenceScore(item.prediction, item.references);
    assert.deepEqual(chrf, sentenceChrf(item.prediction, item.references), item.id);
    close(chrf.score, line.sacrebleu_sentence_chrf.score, `${item.id} chrF`);
    assert.equal(chrf.signature, line.sacrebleu_sentence_chrf.signature);
  }

  const corpus = JSON.parse(readFileSync(path.join(referenceDir, 'expected_bleu_corpus.json'), 'utf8')) as {
    chunks: { ids: string[]; results: Record<string, { result: { score: number; signature: string; str: string } }> }[];
  };
  let checked = 0;
  for (const chunk of corpus.chunks) {
    const items = chunk.ids.map((id) => cases.get(id)!);
    const hypotheses = items.map((item) => item.prediction);
    const references = items.map((item) => item.references);
    const pairs = [
      ['bleu_default_allrefs', new BLEU(), corpusBleu(hypotheses, references), formatBleu],
      ['chrf_default_allrefs', new CHRF(), corpusChrf(hypotheses, references), (result: ChrfScore) => formatChrf(result)],
      ['chrfpp_allrefs', new CHRF({ wordOrder: 2 }), corpusChrf(hypotheses, references, { wordOrder: 2 }), (result: ChrfScore) => formatChrf(result, 'chrF2++')],
    ] as const;
    for (const [key, metric, functional, format] of pairs) {
      const got = (metric as Metric<unknown, BleuScore & ChrfScore>).corpusScore(hypotheses, references);
      assert.deepEqual(got, functional, key);
      const want = chunk.results[key]?.result;
      if (want === undefined) continue;
      close(got.score, want.score, key);
      assert.equal(got.signature, want.signature, key);
      assert.equal((format as (result: BleuScore & ChrfScore) => string)(got), want.str, key);
      checked++;
    }
  }
  assert.ok(checked > 0, 'the corpus file names bleu_default_allrefs / chrf_default_allrefs / chrfpp_allrefs');

  // Bootstrap through the interface equals the function form, signature included.
  const hypotheses = [...cases.values()].slice(0, 30).map((item) => item.prediction);
  const references = [...cases.values()].slice(0, 30).map((item) => [item.reference]);
  const bleu: Metric<BleuScore, BleuScore> = new BLEU();
  assert.deepEqual(bleu.corpusScore(hypotheses, references, { samples: 100, seed: 9 }), corpusBleu(hypotheses, references, { bootstrap: { samples: 100, seed: 9 } }));
  const chrf: Metric<ChrfScore, ChrfScore> = new CHRF();
  assert.deepEqual(chrf.corpusScore(hypotheses, references, { samples: 100 }), corpusChrf(hypotheses, references, { bootstrap: { samples: 100 } }));
});

test('ROUGE signature: every option that changes a number is named, and changing it changes the signature', () => {
  const base = new ROUGE();
  assert.equal(base.name, 'ROUGE');
  assert.equal(base.signature(), 'nrefs:1|tok:default|stem:no|types:rouge1,rouge2,rougeL,rougeLsum|split:no|version:rouge-score-0.1.2');
  assert.equal(base.signature('var'), 'nrefs:var|tok:default|stem:no|types:rouge1,rouge2,rougeL,rougeLsum|split:no|version:rouge-score-0.1.2');
  const variants: [RougeOptions, string][] = [
    [{ useStemmer: true }, 'stem:yes'],
    [{ tokenizer: 'unicode' }, 'tok:unicode'],
    [{ tokenizer: (text: string) => text.split(' ') }, 'tok:custom'],
    [{ types: ['rouge1', 'rougeL'] }, 'types:rouge1,rougeL'],
    [{ alpha: 0.2 }, 'alpha:0.2'],
    [{ beta: 2 }, 'beta:2'],
    [{ splitSentences: true }, 'split:yes'],
    [{ types: ['rougeW'] }, 'weight:1.2'],
    [{ types: ['rougeW'], weight: 1.5 }, 'weight:1.5'],
    [{ types: ['rougeSU4'] }, 'types:rougeSU4'],
  ];
  const seen = new Set([base.signature()]);
  for (const [options, entry] of variants) {
    const signature = new ROUGE(options).signature();
    assert.ok(signature.split('|').includes(entry), `${JSON.stringify(options)}: ${signature} lacks ${entry}`);
    assert.ok(!seen.has(signature), `${signature} does not tell ${JSON.stringify(options)} from another configuration`);
    seen.add(signature);
  }
  // F1 written either way is the default, and says nothing extra; options that change nothing are left out.
  assert.equal(new ROUGE({ alpha: 0.5 }).signature(), base.signature());
  assert.equal(new ROUGE({ beta: 1 }).signature(), base.signature());
  assert.ok(!new ROUGE({ types: ['rouge1'], splitSentences: true, weight: 2 }).signature().includes('split'));
  assert.ok(!new ROUGE({ types: ['rouge1'], weight: 2 }).signature().includes('weight'));

  // Bootstrap samples, seed and confidence each change the signature of a resampled corpus score.
  const predictions = ['the cat sat', 'a dog ran', 'hello world'];
  const references = [['the cat sat down'], ['the dog ran'], ['hello there', 'world']];
  const resampled = (bootstrap: { samples?: number; seed?: number; confidence?: number }) => base.corpusScore(predictions, references, bootstrap).signature;
  assert.equal(base.corpusScore(predictions, references).signature, base.signature('var'));
  assert.match(resampled({}), /^nrefs:var\|bs:1000\|seed:12345\|conf:0\.95\|tok:default\|/);
  assert.equal(new Set([resampled({}), resampled({ samples: 50 }), resampled({ seed: 1 }), resampled({ confidence: 0.9 })]).size, 4);

  // Bad options are refused as RougeScorer refuses them.
  assert.throws(() => new ROUGE({ alpha: 0.3, beta: 2 }), /alpha or beta, not both/);
  assert.throws(() => new ROUGE({ types: ['rougeX'] }), /unknown ROUGE type "rougeX"/);
  assert.throws(() => base.corpusScore(['a'], []), /references for 0 segments/);
});

const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'tunekit-shape-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function score(args: string[], input?: string | Buffer): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, 'score', ...args], { encoding: 'utf8', input });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('score rouge prints the signature with its aggregate, its intervals and each line', () => {
  const input = path.join(scratch, 'pairs.jsonl');
  // A BOM and CRLF line ends are accepted (the data layer's JSONL reader).
  writeFileSync(
    input,
    '\ufeff{"prediction":"the cat sat","reference":"the cat sat down"}\r\n' +
      '{"prediction":"a dog ran","references":["the dog ran","a dog"]}\r\n',
  );
  const aggregate = score(['rouge', input, '--stemmer', '--types', 'rouge1,rougeW', '--beta', '2']);
  assert.equal(aggregate.status, 0, aggregate.stderr);
  const parsed = JSON.parse(aggregate.stdout);
  const options: RougeOptions = { useStemmer: true, types: ['rouge1', 'rougeW'], beta: 2 };
  assert.equal(parsed.signature, new ROUGE(options).signature('var'));
  assert.equal(parsed.signature, 'nrefs:var|tok:default|stem:yes|types:rouge1,rougeW|beta:2|weight:1.2|version:rouge-score-0.1.2');
  const library = rouge(['the cat sat', 'a dog ran'], [['the cat sat down'], ['the dog ran', 'a dog']], options);
  assert.deepEqual({ rouge1: parsed.rouge1, rougeW: parsed.rougeW }, library.scores);

  const intervals = JSON.parse(score(['rouge', input, '--bootstrap', '30', '--seed', '4', '--confidence', '0.9']).stdout);
  assert.deepEqual(Object.keys(intervals.rouge1), ['low', 'mid', 'high']);
  assert.match(intervals.signature, /^nrefs:var\|bs:30\|seed:4\|conf:0\.9\|tok:default\|stem:no\|/);

  const perLine = score(['rouge', input, '--per-line']).stdout.trim().split('\n').map((line) => JSON.parse(line));
  assert.deepEqual(perLine.map((line) => line.signature.split('|')[0]), ['nrefs:1', 'nrefs:2']);
});

test('score: invalid UTF-8 is refused with file:line, not scored with replacement characters', () => {
  const input = path.join(scratch, 'latin1.jsonl');
  writeFileSync(input, Buffer.concat([Buffer.from('{"prediction":"a","reference":"b"}\n{"prediction":"caf'), Buffer.from([0xe9]), Buffer.from('","reference":"b"}\n')]));
  for (const metric of ['rouge', 'bleu', 'chrf']) {
    const result = score([metric, input]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /latin1\.jsonl:2: invalid UTF-8/);
    assert.equal(result.stdout, '');
  }
});

test('score --per-line into a reader that closes after the first line: exit status 0, nothing on stderr', async () => {
  const input = path.join(scratch, 'many.jsonl');
  // About 1 MB of output: far more than a pipe holds, so the CLI is still writing when the reader goes away.
  const lines = Array.from({ length: 5000 }, (_, index) => JSON.stringify({ prediction: `the cat sat on mat ${index}`, reference: `the cat is on the mat ${index}` }));
  writeFileSync(input, lines.join('\n') + '\n');
  const child = spawn(process.execPath, [cli, 'score', 'bleu', input, '--per-line'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const firstLine = await new Promise<string>((resolve) => {
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end !== -1) {
        child.stdout.destroy(); // as `| head -1` does
        resolve(text.slice(0, end));
      }
    });
  });
  assert.equal(JSON.parse(firstLine).signature, 'nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.6.0');
  const { code, signal } = await closed;
  assert.equal(stderr, '', 'no stack trace, no message');
  assert.deepEqual({ code, signal }, { code: 0, signal: null });
});
