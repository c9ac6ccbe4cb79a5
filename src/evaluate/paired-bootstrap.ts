/**
 * Bootstrap intervals over documents for a corpus statistic of one system, and for the difference between two
 * systems scored on the same documents (paired: every resample draws one set of document indices and computes both
 * systems' statistic on it). A statistic is any function of the drawn indices, so a mean of per-document scores and
 * a corpus perplexity (summed log-likelihoods over summed word counts) resample alike, and so does an aggregation
 * that is no sum over documents (a median). The resamples, percentiles and p-value are metrics/intervals.ts's (the
 * same numbers for a statistic that is a sum), which takes per-document statistic rows instead of a function.
 */
import { TunekitError } from '../errors.js';
import { percentile } from '../metrics/aggregate.js';
import type { IntervalOptions } from '../metrics/intervals.js';
import { SeededRandom } from '../metrics/random.js';
import type { Interval, PairedDifference } from '../report/schema.js';

/** A corpus statistic of the documents at `indices` (an index may repeat). */
export type DocumentStatistic = (indices: ArrayLike<number>) => number;

/** Resamples (default 1000), interval width (default 0.95), seed (default 12345). */
export type DocumentBootstrapOptions = IntervalOptions;

const BOOTSTRAP_ERROR = 'E_BOOTSTRAP';

function settings(documents: number, options: DocumentBootstrapOptions): { samples: number; confidence: number; seed: number } {
  const samples = options.samples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  const seed = options.seed ?? 12345;
  if (!Number.isInteger(documents) || documents < 1) throw new TunekitError('E_EMPTY_INPUT', `a bootstrap over documents needs at least one document, got ${documents}`);
  if (!Number.isInteger(samples) || samples < 1) throw new TunekitError(BOOTSTRAP_ERROR, `bootstrap samples must be a positive integer, got ${samples}`);
  if (!(confidence > 0 && confidence < 1)) throw new TunekitError(BOOTSTRAP_ERROR, `confidence must lie in (0, 1), got ${confidence}`);
  if (!Number.isInteger(seed) || seed < 0) throw new TunekitError(BOOTSTRAP_ERROR, `the bootstrap seed must be a non-negative integer, got ${seed}`);
  return { samples, confidence, seed };
}

/** Every document once, in order: the statistic's value on the whole set. */
export function allDocuments(documents: number): Int32Array {
  return Int32Array.from({ length: documents }, (_, index) => index);
}

/** Calls `visit` with each resample's indices (one buffer, refilled). */
function resample(documents: number, samples: number, seed: number, visit: (indices: Int32Array, sample: number) => void): void {
  const random = new SeededRandom(seed);
  const indices = new Int32Array(documents);
  for (let sample = 0; sample < samples; sample++) {
    for (let draw = 0; draw < documents; draw++) indices[draw] = random.nextInt(documents);
    visit(indices, sample);
  }
}

function bounds(replicates: Float64Array, confidence: number): { low: number; high: number } {
  const sorted = replicates.sort();
  const tail = (1 - confidence) / 2;
  return { low: percentile(sorted, 100 * tail), high: percentile(sorted, 100 * (1 - tail)) };
}

/** The statistic on all documents with its percentile bootstrap interval. */
export function bootstrapInterval(documents: number, statistic: DocumentStatistic, options: DocumentBootstrapOptions = {}): Interval {
  const { samples, confidence, seed } = settings(documents, options);
  const replicates = new Float64Array(samples);
  resample(documents, samples, seed, (indices, sample) => (replicates[sample] = statistic(indices)));
  return { value: statistic(allDocuments(documents)), ...bounds(replicates, confidence) };
}

/**
 * after − before on all documents, its paired percentile interval, and the paired bootstrap test's p-value for
 * "no difference" (resampled |Δ| centred on its mean, counted with ≥, so identical systems get p = 1).
 */
export function pairedBootstrapDifference(documents: number, before: DocumentStatistic, after: DocumentStatistic, options: DocumentBootstrapOptions = {}): PairedDifference {
  const { samples, confidence, seed } = settings(documents, options);
  const all = allDocuments(documents);
  const difference = after(all) - before(all);
  const replicates = new Float64Array(samples);
  resample(documents, samples, seed, (indices, sample) => (replicates[sample] = after(indices) - before(indices)));
  let meanAbsolute = 0;
  for (const value of replicates) meanAbsolute += Math.abs(value);
  meanAbsolute /= samples;
  let extreme = 0;
  for (const value of replicates) if (Math.abs(value) - meanAbsolute >= Math.abs(difference)) extreme++;
  return { difference, ...bounds(replicates, confidence), pValue: (extreme + 1) / (samples + 1) };
}

/** The mean of per-document values, as a statistic. */
export function meanStatistic(values: ArrayLike<number>): DocumentStatistic {
  return (indices) => {
    let sum = 0;
    for (let i = 0; i < indices.length; i++) sum += values[indices[i]];
    return sum / indices.length;
  };
}

/** f(Σ numerator / Σ denominator) over the drawn documents: word perplexity, bits per byte. */
export function ratioStatistic(numerators: ArrayLike<number>, denominators: ArrayLike<number>, transform: (ratio: number) => number = (ratio) => ratio): DocumentStatistic {
  return (indices) => {
    let top = 0;
    let bottom = 0;
    for (let i = 0; i < indices.length; i++) {
      top += numerators[indices[i]];
      bottom += denominators[indices[i]];
    }
    return transform(top / bottom);
  };
}
