/**
 * Is system B really better than system A on the same references? Two paired tests over per-segment sufficient
 * statistics, as sacreBLEU's `--paired-bs` and `--paired-ar` do them (Koehn 2004; Riezler & Maxwell 2005):
 * - paired bootstrap: resample segments; p = (#{|Δ*| − mean|Δ*| ≥ |Δ|} + 1) / (samples + 1);
 * - approximate randomization: swap the two systems' outputs per segment with probability ½;
 *   p = (#{|Δ*| ≥ |Δ|} + 1) / (trials + 1).
 * sacreBLEU counts with '>' instead, which gives a system compared with itself p = 1/(samples + 1); with '≥' it
 * gets p = 1, as a test of "no difference" should. Resampling uses our seeded generator, not numpy's.
 * Any metric fits that is a function of summed statistics: BLEU and chrF (their statistics) or a mean of
 * per-pair scores such as ROUGE F (statistics [score], scored as sum / count).
 */
import { TunekitError } from '../errors.js';
import type { BLEU } from './bleu.js';
import type { CHRF } from './chrf.js';
import { SeededRandom } from './random.js';
import type { RougeScorer } from './rouge.js';

/** A corpus metric seen through its per-segment statistics. */
export interface StatisticsMetric {
  statistics(hypotheses: readonly string[], references: readonly (readonly string[])[]): number[][];
  /** The corpus score from statistics summed over `count` segments. */
  score(sum: readonly number[], count: number): number;
}

export interface PairedTestOptions {
  /** Bootstrap resamples (default 1000) or randomization trials (default 10000). */
  samples?: number;
  /** Default 12345. */
  seed?: number;
}

export interface PairedTestResult {
  test: 'paired-bootstrap' | 'approximate-randomization';
  scoreA: number;
  scoreB: number;
  /** scoreB − scoreA. */
  difference: number;
  /** Probability of a difference at least this large by chance. */
  pValue: number;
  samples: number;
  seed: number;
}

function checkPaired(statisticsA: readonly (readonly number[])[], statisticsB: readonly (readonly number[])[]): void {
  if (statisticsA.length === 0) throw new TunekitError('E_EMPTY_INPUT', 'significance tests need at least one segment');
  if (statisticsA.length !== statisticsB.length) {
    throw new TunekitError(
      'E_CORPUS_SHAPE',
      `the two systems must score the same segments: got ${statisticsA.length} and ${statisticsB.length}`,
    );
  }
}

function sumRows(rows: readonly (readonly number[])[]): number[] {
  const sum = new Array<number>(rows[0].length).fill(0);
  for (const row of rows) for (let index = 0; index < row.length; index++) sum[index] += row[index];
  return sum;
}

function addInto(sum: number[], row: readonly number[]): void {
  for (let index = 0; index < row.length; index++) sum[index] += row[index];
}

/** What both paired tests start from: the two systems' scores, their distance, and a seeded generator. */
function pairedStart(
  statisticsA: readonly (readonly number[])[],
  statisticsB: readonly (readonly number[])[],
  score: (sum: readonly number[], count: number) => number,
  seed: number,
) {
  checkPaired(statisticsA, statisticsB);
  const count = statisticsA.length;
  const scoreA = score(sumRows(statisticsA), count);
  const scoreB = score(sumRows(statisticsB), count);
  return {
    count,
    scoreA,
    scoreB,
    observed: Math.abs(scoreB - scoreA),
    random: new SeededRandom(seed),
    sumA: new Array<number>(statisticsA[0].length),
    sumB: new Array<number>(statisticsB[0].length),
  };
}

/** Paired bootstrap resampling test on per-segment statistics. */
export function pairedBootstrapTest(
  statisticsA: readonly (readonly number[])[],
  statisticsB: readonly (readonly number[])[],
  score: (sum: readonly number[], count: number) => number,
  options: PairedTestOptions = {},
): PairedTestResult {
  const samples = options.samples ?? 1000;
  const seed = options.seed ?? 12345;
  const { count, scoreA, scoreB, observed, random, sumA, sumB } = pairedStart(statisticsA, statisticsB, score, seed);
  const differences = new Float64Array(samples);
  for (let sample = 0; sample < samples; sample++) {
    sumA.fill(0);
    sumB.fill(0);
    for (let draw = 0; draw < count; draw++) {
      const index = random.nextInt(count);
      addInto(sumA, statisticsA[index]);
      addInto(sumB, statisticsB[index]);
    }
    differences[sample] = Math.abs(score(sumB, count) - score(sumA, count));
  }
  let mean = 0;
  for (const difference of differences) mean += difference;
  mean /= samples;
  let exceed = 0;
  for (const difference of differences) if (difference - mean >= observed) exceed++;
  return {
    test: 'paired-bootstrap',
    scoreA,
    scoreB,
    difference: scoreB - scoreA,
    pValue: (exceed + 1) / (samples + 1),
    samples,
    seed,
  };
}

/** Paired approximate randomization test on per-segment statistics. */
export function approximateRandomizationTest(
  statisticsA: readonly (readonly number[])[],
  statisticsB: readonly (readonly number[])[],
  score: (sum: readonly number[], count: number) => number,
  options: PairedTestOptions = {},
): PairedTestResult {
  const samples = options.samples ?? 10000;
  const seed = options.seed ?? 12345;
  const { count, scoreA, scoreB, observed, random, sumA, sumB } = pairedStart(statisticsA, statisticsB, score, seed);
  let exceed = 0;
  for (let trial = 0; trial < samples; trial++) {
    sumA.fill(0);
    sumB.fill(0);
    for (let index = 0; index < count; index++) {
      const swap = random.nextBoolean();
      addInto(sumA, swap ? statisticsB[index] : statisticsA[index]);
      addInto(sumB, swap ? statisticsA[index] : statisticsB[index]);
    }
    if (Math.abs(score(sumB, count) - score(sumA, count)) >= observed) exceed++;
  }
  return {
    test: 'approximate-randomization',
    scoreA,
    scoreB,
    difference: scoreB - scoreA,
    pValue: (exceed + 1) / (samples + 1),
    samples,
    seed,
  };
}

/** Corpus BLEU through its statistics. */
export function bleuStatisticsMetric(bleu: BLEU): StatisticsMetric {
  return {
    statistics: (hypotheses, references) => bleu.corpusStatistics(hypotheses, references),
    score: (sum) => bleu.scoreFromStatistics([...sum]).score,
  };
}

/** Corpus chrF through its statistics. */
export function chrfStatisticsMetric(chrf: CHRF): StatisticsMetric {
  return {
    statistics: (hypotheses, references) => chrf.corpusStatistics(hypotheses, references),
    score: (sum) => chrf.fScore(sum),
  };
}

/** The mean of one ROUGE type's measure (best reference per pair, as `scoreMulti`). */
export function rougeStatisticsMetric(
  scorer: RougeScorer,
  type: string,
  measure: 'precision' | 'recall' | 'fmeasure' = 'fmeasure',
): StatisticsMetric {
  if (!scorer.types.includes(type)) {
    throw new TunekitError('E_ROUGE_TYPE', `the scorer does not compute ${type} (it has ${scorer.types.join(', ')})`);
  }
  return {
    statistics: (hypotheses, references) => {
      if (hypotheses.length !== references.length) {
        throw new TunekitError('E_CORPUS_SHAPE', `got ${hypotheses.length} predictions but ${references.length} references`);
      }
      return hypotheses.map((hypothesis, index) => [scorer.scoreMulti(hypothesis, references[index])[type][measure]]);
    },
    score: (sum, count) => sum[0] / count,
  };
}

/** Runs one paired test of system B against system A on the same references. */
export function compareSystems(
  metric: StatisticsMetric,
  hypothesesA: readonly string[],
  hypothesesB: readonly string[],
  references: readonly (readonly string[])[],
  options: PairedTestOptions & { test?: 'paired-bootstrap' | 'approximate-randomization' } = {},
): PairedTestResult {
  const statisticsA = metric.statistics(hypothesesA, references);
  const statisticsB = metric.statistics(hypothesesB, references);
  const test = options.test ?? 'paired-bootstrap';
  return test === 'paired-bootstrap'
    ? pairedBootstrapTest(statisticsA, statisticsB, metric.score, options)
    : approximateRandomizationTest(statisticsA, statisticsB, metric.score, options);
}
