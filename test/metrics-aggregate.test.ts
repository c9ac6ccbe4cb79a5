/** Aggregation (mean, bootstrap intervals) and paired significance tests. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  approximateRandomizationTest,
  BLEU,
  bleuStatisticsMetric,
  bootstrapScores,
  CHRF,
  chrfStatisticsMetric,
  compareSystems,
  corpusBleu,
  corpusChrf,
  meanScores,
  pairedBootstrapTest,
  percentile,
  rouge,
  RougeScorer,
  rougeStatisticsMetric,
  SeededRandom,
} from '../src/metrics/index.js';

test('percentile interpolates like numpy (linear)', () => {
  const sorted = [1, 2, 3, 4];
  // numpy.percentile([1,2,3,4], [2.5, 50, 97.5]) = [1.075, 2.5, 3.925]
  assert.ok(Math.abs(percentile(sorted, 2.5) - 1.075) < 1e-12);
  assert.equal(percentile(sorted, 50), 2.5);
  assert.ok(Math.abs(percentile(sorted, 97.5) - 3.925) < 1e-12);
  assert.equal(percentile([7], 97.5), 7);
});

test('mean and bootstrap aggregation of ROUGE scores', () => {
  const predictions = ['the cat sat', 'a dog ran far', 'hello world', 'nothing here', 'the end'];
  const references = ['the cat sat down', 'the dog ran', 'hello there world', 'something else', 'the end'];
  const result = rouge(predictions, references, { types: ['rouge1', 'rougeL'], bootstrap: { samples: 500, seed: 7 } });
  assert.equal(result.perPair.length, 5);
  const manual = result.perPair.reduce((sum, scores) => sum + scores.rouge1.fmeasure, 0) / 5;
  assert.ok(Math.abs(result.scores.rouge1.fmeasure - manual) < 1e-15);
  const intervals = result.intervals!;
  for (const type of ['rouge1', 'rougeL']) {
    for (const measure of ['precision', 'recall', 'fmeasure'] as const) {
      assert.ok(intervals[type].low[measure] <= intervals[type].mid[measure]);
      assert.ok(intervals[type].mid[measure] <= intervals[type].high[measure]);
    }
  }
  // The same seed repeats exactly; another seed resamples differently.
  assert.deepEqual(bootstrapScores(result.perPair, { samples: 500, seed: 7 }), intervals);
  assert.notDeepEqual(bootstrapScores(result.perPair, { samples: 500, seed: 8 }), intervals);
  // Constant scores have a degenerate interval.
  const constant = bootstrapScores([{ r: { precision: 0.5, recall: 0.5, fmeasure: 0.5 } }, { r: { precision: 0.5, recall: 0.5, fmeasure: 0.5 } }]);
  assert.deepEqual(constant.r.low, { precision: 0.5, recall: 0.5, fmeasure: 0.5 });
  assert.deepEqual(constant.r.high, constant.r.low);
  assert.deepEqual(meanScores(result.perPair), result.scores);
  assert.throws(() => rouge([], []), /at least one prediction/);
  assert.throws(() => meanScores([]), /zero pairs/);
});

test('the seeded generator is repeatable and roughly uniform', () => {
  const first = new SeededRandom(42);
  const second = new SeededRandom(42);
  const counts = new Array<number>(10).fill(0);
  for (let index = 0; index < 10000; index++) {
    const value = first.nextInt(10);
    assert.equal(value, second.nextInt(10));
    counts[value]++;
  }
  for (const count of counts) assert.ok(count > 850 && count < 1150, `bucket count ${count}`);
});

// Thirty segments; system B copies the reference, system A drops most words.
const references = Array.from({ length: 30 }, (_, index) => `segment ${index} says the quick brown fox jumps over the lazy dog ${index % 7}`);
const goodSystem = references.slice();
const weakSystem = references.map((reference) => reference.split(' ').filter((_, index) => index % 3 === 0).join(' '));
const referenceLists = references.map((reference) => [reference]);

test('paired tests: a clearly better system is significant, a system against itself is not', () => {
  const metrics = [
    bleuStatisticsMetric(new BLEU()),
    chrfStatisticsMetric(new CHRF()),
    rougeStatisticsMetric(new RougeScorer({ types: ['rougeL'] }), 'rougeL'),
  ];
  for (const metric of metrics) {
    for (const testName of ['paired-bootstrap', 'approximate-randomization'] as const) {
      const better = compareSystems(metric, weakSystem, goodSystem, referenceLists, { test: testName, samples: 300, seed: 3 });
      assert.ok(better.difference > 0, `${testName}: B should score higher`);
      assert.ok(better.pValue < 0.01, `${testName}: p = ${better.pValue}`);
      const same = compareSystems(metric, weakSystem, weakSystem, referenceLists, { test: testName, samples: 300, seed: 3 });
      assert.equal(same.difference, 0);
      assert.equal(same.pValue, 1, `${testName}: a system against itself`);
      // Repeatable for a seed.
      assert.deepEqual(compareSystems(metric, weakSystem, goodSystem, referenceLists, { test: testName, samples: 300, seed: 3 }), better);
    }
  }
});

test('paired tests on raw statistics and corpus BLEU/chrF bootstrap', () => {
  const bleu = new BLEU();
  const statisticsA = bleu.corpusStatistics(weakSystem, referenceLists);
  const statisticsB = bleu.corpusStatistics(goodSystem, referenceLists);
  const score = (sum: readonly number[]) => bleu.scoreFromStatistics([...sum]).score;
  const bootstrap = pairedBootstrapTest(statisticsA, statisticsB, score, { samples: 200 });
  const randomization = approximateRandomizationTest(statisticsA, statisticsB, score, { samples: 200 });
  assert.ok(Math.abs(bootstrap.scoreB - 100) < 1e-9);
  assert.equal(bootstrap.scoreA, corpusBleu(weakSystem, referenceLists).score);
  assert.equal(randomization.samples, 200);
  assert.throws(() => pairedBootstrapTest(statisticsA, statisticsB.slice(1), score), /same segments/);

  const mixedSystem = references.map((reference, index) => (index % 2 === 0 ? reference : weakSystem[index]));
  const withInterval = corpusBleu(mixedSystem, referenceLists, { bootstrap: { samples: 200, seed: 5 } });
  assert.equal(withInterval.signature, 'nrefs:1|bs:200|seed:5|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0');
  assert.ok(withInterval.bootstrap!.ci > 0);
  assert.equal(withInterval.score, corpusBleu(mixedSystem, referenceLists).score);
  const chrf = corpusChrf(weakSystem, referenceLists, { bootstrap: { samples: 100 } });
  assert.equal(chrf.signature, 'nrefs:1|bs:100|seed:12345|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0');
});
