/** ROUGE over a whole set of prediction/reference pairs: per-pair scores, their mean, optional bootstrap. */
import { TunekitError } from '../errors.js';
import { bootstrapScores, meanScores, type AggregateScore, type BootstrapOptions } from './aggregate.js';
import { RougeScorer, type RougeOptions, type RougeScores } from './rouge.js';
import type { MetricWarning } from './warnings.js';

export interface RougeCorpusOptions extends RougeOptions {
  /** Also compute low/mid/high intervals (rouge-score's BootstrapAggregator). */
  bootstrap?: BootstrapOptions;
}

export interface RougeCorpusResult {
  /** Mean over pairs. */
  scores: RougeScores;
  perPair: RougeScores[];
  intervals?: Record<string, AggregateScore>;
  warnings: MetricWarning[];
}

/** Scores every pair (several references: the best per type, as `score_multi`) and aggregates. */
export function rouge(
  predictions: readonly string[],
  references: readonly (string | readonly string[])[],
  options: RougeCorpusOptions = {},
): RougeCorpusResult {
  if (predictions.length === 0) throw new TunekitError('E_EMPTY_INPUT', 'ROUGE needs at least one prediction');
  if (predictions.length !== references.length) {
    throw new TunekitError('E_CORPUS_SHAPE', `got ${predictions.length} predictions but ${references.length} references`);
  }
  const scorer = new RougeScorer(options);
  const perPair = predictions.map((prediction, index) => {
    const reference = references[index];
    return typeof reference === 'string' ? scorer.score(prediction, reference) : scorer.scoreMulti(prediction, reference);
  });
  const result: RougeCorpusResult = { scores: meanScores(perPair), perPair, warnings: scorer.warnings() };
  if (options.bootstrap !== undefined) result.intervals = bootstrapScores(perPair, options.bootstrap);
  return result;
}
