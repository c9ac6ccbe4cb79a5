/**
 * Corpus-level ROUGE from per-pair scores: the plain mean, and a bootstrap confidence interval like rouge-score's
 * `BootstrapAggregator` (resample pairs with replacement, average each resample, report the percentiles of those
 * averages). The resampling uses our own seeded generator, so intervals repeat for a seed but are not numpy's.
 */
import { TunekitError } from '../errors.js';
import { SeededRandom } from './random.js';
import type { RougeScore, RougeScores } from './rouge.js';

export interface AggregateScore {
  low: RougeScore;
  mid: RougeScore;
  high: RougeScore;
}

export interface BootstrapOptions {
  /** Number of resamples (rouge-score's default 1000). */
  samples?: number;
  /** Width of the interval (default 0.95: low = 2.5th, mid = 50th, high = 97.5th percentile). */
  confidence?: number;
  /** Default 12345. */
  seed?: number;
}

const MEASURES = ['precision', 'recall', 'fmeasure'] as const;

function requirePairs(perPair: readonly RougeScores[]): string[] {
  if (perPair.length === 0) throw new TunekitError('E_EMPTY_INPUT', 'cannot aggregate ROUGE over zero pairs');
  return Object.keys(perPair[0]);
}

/** Mean precision, recall and F of each type over all pairs. */
export function meanScores(perPair: readonly RougeScores[]): RougeScores {
  const types = requirePairs(perPair);
  const result: RougeScores = {};
  for (const type of types) {
    const mean: RougeScore = { precision: 0, recall: 0, fmeasure: 0 };
    for (const scores of perPair) {
      mean.precision += scores[type].precision;
      mean.recall += scores[type].recall;
      mean.fmeasure += scores[type].fmeasure;
    }
    mean.precision /= perPair.length;
    mean.recall /= perPair.length;
    mean.fmeasure /= perPair.length;
    result[type] = mean;
  }
  return result;
}

/** numpy's default ('linear') percentile of sorted values, q in [0, 100]. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  const position = (q / 100) * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  const fraction = position - below;
  const low = sorted[below];
  const difference = sorted[above] - low;
  // numpy interpolates from the nearer end, which keeps the result monotone in q.
  return fraction >= 0.5 ? sorted[above] - difference * (1 - fraction) : low + difference * fraction;
}

/** Resampled means as rows of a matrix: resample × column. */
export function bootstrapMeans(columns: Float64Array[], options: BootstrapOptions = {}): Float64Array[] {
  const samples = options.samples ?? 1000;
  if (!Number.isInteger(samples) || samples < 1) {
    throw new TunekitError('E_BOOTSTRAP', `bootstrap samples must be a positive integer, got ${samples}`);
  }
  const count = columns[0]?.length ?? 0;
  if (count === 0) throw new TunekitError('E_EMPTY_INPUT', 'cannot bootstrap over zero pairs');
  const random = new SeededRandom(options.seed ?? 12345);
  const means = columns.map(() => new Float64Array(samples));
  const indices = new Int32Array(count);
  for (let sample = 0; sample < samples; sample++) {
    for (let index = 0; index < count; index++) indices[index] = random.nextInt(count);
    for (let column = 0; column < columns.length; column++) {
      const values = columns[column];
      let sum = 0;
      for (let index = 0; index < count; index++) sum += values[indices[index]];
      means[column][sample] = sum / count;
    }
  }
  return means;
}

/** rouge-score's BootstrapAggregator: per type and measure, low/mid/high percentiles of resampled means. */
export function bootstrapScores(
  perPair: readonly RougeScores[],
  options: BootstrapOptions = {},
): Record<string, AggregateScore> {
  const types = requirePairs(perPair);
  const confidence = options.confidence ?? 0.95;
  if (!(confidence > 0 && confidence < 1)) {
    throw new TunekitError('E_BOOTSTRAP', `confidence must lie in (0, 1), got ${confidence}`);
  }
  const columns: Float64Array[] = [];
  for (const type of types) {
    for (const measure of MEASURES) columns.push(Float64Array.from(perPair, (scores) => scores[type][measure]));
  }
  const means = bootstrapMeans(columns, options);
  const delta = (1 - confidence) / 2;
  const quantiles = [100 * delta, 50, 100 * (1 - delta)];
  const result: Record<string, AggregateScore> = {};
  types.forEach((type, typeIndex) => {
    const [low, mid, high] = quantiles.map(() => ({ precision: 0, recall: 0, fmeasure: 0 }) as RougeScore);
    MEASURES.forEach((measure, measureIndex) => {
      const sorted = means[typeIndex * MEASURES.length + measureIndex].sort();
      low[measure] = percentile(sorted, quantiles[0]);
      mid[measure] = percentile(sorted, quantiles[1]);
      high[measure] = percentile(sorted, quantiles[2]);
    });
    result[type] = { low, mid, high };
  });
  return result;
}
