/** Corpus-level helpers shared by BLEU and chrF: shape checks, statistics sums, sacreBLEU's bootstrap. */
import { TunekitError } from '../errors.js';
import { SeededRandom } from './random.js';

export interface BootstrapRequest {
  samples: number;
  /** Default 12345 (sacreBLEU's default seed, though the generator differs from numpy's). */
  seed?: number;
}

/** sacreBLEU's `nrefs`: the common number of references per segment, or 'var'. */
export function referenceCountLabel(references: readonly (readonly string[])[]): number | 'var' {
  const counts = new Set(references.map((segment) => segment.length));
  return counts.size === 1 ? [...counts][0] : 'var';
}

export function checkCorpus(hypotheses: readonly string[], references: readonly (readonly string[])[]): void {
  if (hypotheses.length === 0) throw new TunekitError('E_EMPTY_INPUT', 'the corpus has no hypotheses');
  if (hypotheses.length !== references.length) {
    throw new TunekitError(
      'E_CORPUS_SHAPE',
      `got ${hypotheses.length} hypotheses but references for ${references.length} segments`,
    );
  }
}

/** Element-wise sum of per-segment statistics. */
export function sumStatistics(statistics: readonly (readonly number[])[]): number[] {
  const sum = new Array<number>(statistics[0].length).fill(0);
  for (const row of statistics) for (let index = 0; index < row.length; index++) sum[index] += row[index];
  return sum;
}

/**
 * sacreBLEU's bootstrap estimate: resample segments with replacement `samples` times, score each resample;
 * report the mean score and half the width of the 95% interval (2.5th to 97.5th percentile, by rank n // 40).
 */
export function bootstrapInterval(
  statistics: readonly (readonly number[])[],
  score: (sum: number[]) => number,
  samples: number,
  seed: number,
): { mean: number; ci: number } {
  const random = new SeededRandom(seed);
  const count = statistics.length;
  const width = statistics[0].length;
  const scores = new Float64Array(samples);
  const sum = new Array<number>(width);
  for (let sample = 0; sample < samples; sample++) {
    sum.fill(0);
    for (let draw = 0; draw < count; draw++) {
      const row = statistics[random.nextInt(count)];
      for (let index = 0; index < width; index++) sum[index] += row[index];
    }
    scores[sample] = score(sum);
  }
  scores.sort();
  const lowerIndex = Math.floor(samples / 40);
  const ci = 0.5 * (scores[samples - lowerIndex - 1] - scores[lowerIndex]);
  let total = 0;
  for (const value of scores) total += value;
  return { mean: total / samples, ci };
}

