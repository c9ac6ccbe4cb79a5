/**
 * Confidence intervals for any metric that is a function of per-document statistics summed over the test set
 * (a mean of per-document ROUGE, corpus BLEU or chrF, accuracy): the percentile bootstrap over documents, and the
 * paired bootstrap of the difference between two systems scored on the same documents (Koehn 2004). The p-value is
 * the paired bootstrap test's (`pairedBootstrapTest`), computed from the same resamples.
 */
import { TunekitError } from '../errors.js';
import { percentile } from './aggregate.js';
import { SeededRandom } from './random.js';

export interface IntervalOptions {
  /** Bootstrap resamples (default 1000). */
  samples?: number;
  /** Interval width (default 0.95). */
  confidence?: number;
  /** Default 12345. */
  seed?: number;
}

export interface ScoreInterval {
  value: number;
  low: number;
  high: number;
}

export interface DifferenceInterval {
  /** score(B) − score(A). */
  difference: number;
  low: number;
  high: number;
  pValue: number;
}

type Score = (sum: readonly number[], count: number) => number;

function settings(options: IntervalOptions): { samples: number; lowQ: number; highQ: number; seed: number } {
  const samples = options.samples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  if (!Number.isInteger(samples) || samples < 1) throw new TunekitError('E_BOOTSTRAP', `bootstrap samples must be a positive integer, got ${samples}`);
  if (!(confidence > 0 && confidence < 1)) throw new TunekitError('E_BOOTSTRAP', `confidence must lie in (0, 1), got ${confidence}`);
  const tail = (1 - confidence) / 2;
  return { samples, lowQ: 100 * tail, highQ: 100 * (1 - tail), seed: options.seed ?? 12345 };
}

function summed(rows: readonly (readonly number[])[], indices?: Int32Array): number[] {
  const sum = new Array<number>(rows[0].length).fill(0);
  const count = indices?.length ?? rows.length;
  for (let draw = 0; draw < count; draw++) {
    const row = rows[indices === undefined ? draw : indices[draw]];
    for (let column = 0; column < row.length; column++) sum[column] += row[column];
  }
  return sum;
}

function requireRows(rows: readonly (readonly number[])[]): void {
  if (rows.length === 0) throw new TunekitError('E_EMPTY_INPUT', 'a confidence interval needs at least one document');
}

/** The score over all documents with its percentile bootstrap interval. */
export function statisticsInterval(statistics: readonly (readonly number[])[], score: Score, options: IntervalOptions = {}): ScoreInterval {
  requireRows(statistics);
  const { samples, lowQ, highQ, seed } = settings(options);
  const count = statistics.length;
  const random = new SeededRandom(seed);
  const indices = new Int32Array(count);
  const scores = new Float64Array(samples);
  for (let sample = 0; sample < samples; sample++) {
    for (let draw = 0; draw < count; draw++) indices[draw] = random.nextInt(count);
    scores[sample] = score(summed(statistics, indices), count);
  }
  scores.sort();
  return { value: score(summed(statistics), count), low: percentile(scores, lowQ), high: percentile(scores, highQ) };
}

/** A mean of per-document values with its bootstrap interval. */
export function meanInterval(values: readonly number[], options: IntervalOptions = {}): ScoreInterval {
  return statisticsInterval(
    values.map((value) => [value]),
    (sum, count) => sum[0] / count,
    options,
  );
}

/** score(B) − score(A) on the same documents, with the paired bootstrap interval and p-value. */
export function pairedDifference(
  statisticsA: readonly (readonly number[])[],
  statisticsB: readonly (readonly number[])[],
  score: Score,
  options: IntervalOptions = {},
): DifferenceInterval {
  requireRows(statisticsA);
  if (statisticsA.length !== statisticsB.length) {
    throw new TunekitError('E_CORPUS_SHAPE', `the two systems must score the same documents: got ${statisticsA.length} and ${statisticsB.length}`);
  }
  const { samples, lowQ, highQ, seed } = settings(options);
  const count = statisticsA.length;
  const difference = score(summed(statisticsB), count) - score(summed(statisticsA), count);
  const random = new SeededRandom(seed);
  const indices = new Int32Array(count);
  const differences = new Float64Array(samples);
  for (let sample = 0; sample < samples; sample++) {
    for (let draw = 0; draw < count; draw++) indices[draw] = random.nextInt(count);
    differences[sample] = score(summed(statisticsB, indices), count) - score(summed(statisticsA, indices), count);
  }
  // The test's null distribution: resampled |Δ| centred on its mean, as pairedBootstrapTest counts it.
  let meanAbsolute = 0;
  for (const value of differences) meanAbsolute += Math.abs(value);
  meanAbsolute /= samples;
  let exceed = 0;
  for (const value of differences) if (Math.abs(value) - meanAbsolute >= Math.abs(difference)) exceed++;
  differences.sort();
  return { difference, low: percentile(differences, lowQ), high: percentile(differences, highQ), pValue: (exceed + 1) / (samples + 1) };
}

/** Paired difference of two means of per-document values. */
export function pairedMeanDifference(valuesA: readonly number[], valuesB: readonly number[], options: IntervalOptions = {}): DifferenceInterval {
  return pairedDifference(
    valuesA.map((value) => [value]),
    valuesB.map((value) => [value]),
    (sum, count) => sum[0] / count,
    options,
  );
}
