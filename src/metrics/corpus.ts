/**
 * Corpus-level machinery shared by the metrics: shape checks, `nrefs`, statistics sums, sacreBLEU's bootstrap, and
 * `SegmentStatisticsMetric`, the whole sentence/corpus/signature path of a metric whose corpus score is a function
 * of per-segment statistics summed over the corpus (BLEU, chrF).
 */
import { TunekitError } from '../errors.js';
import type { Metric, SignatureBootstrap } from './metric.js';
import { SeededRandom } from './random.js';
import { formatSignature, type SignatureEntry } from './signature.js';

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


/** What bootstrap resampling adds to a BLEU or chrF result. */
export interface BootstrapEstimate {
  /** The mean of the resampled scores. */
  mean: number;
  /** Half the width of the 95% interval. */
  ci: number;
  samples: number;
  seed: number;
}

/** The fields every statistics-based result has. */
export interface StatisticsScore {
  score: number;
  signature: string;
  bootstrap?: BootstrapEstimate;
}

/**
 * A metric whose corpus score is computed from per-segment sufficient statistics summed over the corpus, as
 * sacreBLEU's metrics are. A subclass says how to compute one segment's statistics, how to turn (summed)
 * statistics into a result, and which signature entries describe it; sentence and corpus scores, bootstrap and
 * signatures are done here, once.
 */
export abstract class SegmentStatisticsMetric<Result extends StatisticsScore> implements Metric<Result, Result> {
  abstract readonly name: string;

  /** The statistics of one segment; summing them over segments gives the corpus statistics. */
  abstract segmentStatistics(hypothesis: string, references: readonly string[]): number[];

  /** The result from (summed) statistics, with the plain signature for `numberOfReferences`. */
  protected abstract resultFromStatistics(statistics: readonly number[], numberOfReferences: number | 'var'): Result;

  /** The metric's own signature entries (after nrefs and the bootstrap entries), version last. */
  protected abstract signatureEntries(): readonly SignatureEntry[];

  signature(numberOfReferences: number | 'var' = 1, bootstrap?: SignatureBootstrap): string {
    return formatSignature(numberOfReferences, bootstrap, this.signatureEntries());
  }

  sentenceScore(hypothesis: string, references: readonly string[]): Result {
    return this.resultFromStatistics(this.segmentStatistics(hypothesis, references), references.length);
  }

  /** Per-segment statistics of a corpus (for significance tests and bootstrap). */
  corpusStatistics(hypotheses: readonly string[], references: readonly (readonly string[])[]): number[][] {
    checkCorpus(hypotheses, references);
    return hypotheses.map((hypothesis, index) => this.segmentStatistics(hypothesis, references[index]));
  }

  /** Statistics summed over segments, then one score; with `bootstrap` (more than one sample), its interval. */
  corpusScore(hypotheses: readonly string[], references: readonly (readonly string[])[], bootstrap?: BootstrapRequest): Result {
    const statistics = this.corpusStatistics(hypotheses, references);
    const numberOfReferences = referenceCountLabel(references);
    const result = this.resultFromStatistics(sumStatistics(statistics), numberOfReferences);
    if (bootstrap !== undefined && bootstrap.samples > 1) {
      const seed = bootstrap.seed ?? 12345;
      const score = (sum: number[]) => this.resultFromStatistics(sum, numberOfReferences).score;
      const interval = bootstrapInterval(statistics, score, bootstrap.samples, seed);
      result.bootstrap = { ...interval, samples: bootstrap.samples, seed };
      result.signature = this.signature(numberOfReferences, { samples: bootstrap.samples, seed });
    }
    return result;
  }
}
