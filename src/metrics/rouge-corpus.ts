/**
 * ROUGE as a metric object (the shape BLEU and chrF have): sentence scores, corpus scores (the mean over pairs,
 * with rouge-score's bootstrap intervals when asked) and a signature saying how the numbers were computed; and
 * `rouge()`, the function form over a whole set of prediction/reference pairs.
 */
import { TunekitError } from '../errors.js';
import { bootstrapScores, meanScores, type AggregateScore, type BootstrapOptions } from './aggregate.js';
import { checkCorpus, referenceCountLabel } from './corpus.js';
import type { Metric, SignatureBootstrap } from './metric.js';
import { RougeScorer, type RougeOptions, type RougeScores } from './rouge.js';
import { formatSignature, type SignatureEntry } from './signature.js';
import type { MetricWarning } from './warnings.js';

/** The rouge-score release whose numbers ROUGE reproduces; it appears in every ROUGE signature. */
export const ROUGE_SCORE_VERSION = '0.1.2';

export interface RougeCorpusOptions extends RougeOptions {
  /** Also compute low/mid/high intervals (rouge-score's BootstrapAggregator). */
  bootstrap?: BootstrapOptions;
}

/** One prediction against its references: per type, the best-F reference (rouge-score's `score_multi`). */
export interface RougeSentenceScore {
  scores: RougeScores;
  signature: string;
}

export interface RougeCorpusResult {
  /** Mean over pairs. */
  scores: RougeScores;
  perPair: RougeScores[];
  intervals?: Record<string, AggregateScore>;
  /** Warnings seen by the metric so far, once per code with a count. */
  warnings: MetricWarning[];
  /** How the scores were computed, e.g. `nrefs:1|tok:default|stem:no|types:rouge1,rougeL|version:rouge-score-0.1.2`. */
  signature: string;
}

/**
 * ROUGE with one fixed configuration. Its signature names every option that changes a number:
 * `nrefs:N|[bs:B|seed:S|conf:C|]tok:T|stem:yes/no|types:…|[alpha:A or beta:B|][split:yes/no|][weight:W|]version:rouge-score-0.1.2`
 * — alpha/beta only when F is not F1, split only with rougeLsum, weight only with rougeW, bootstrap entries only
 * when the corpus was resampled.
 */
export class ROUGE implements Metric<RougeSentenceScore, RougeCorpusResult, BootstrapOptions> {
  readonly name = 'ROUGE';
  readonly scorer: RougeScorer;
  private readonly entries: SignatureEntry[];

  constructor(options: RougeOptions = {}) {
    this.scorer = new RougeScorer(options); // validates the options
    const types = this.scorer.types;
    const tokenizer = options.tokenizer ?? 'default';
    const entries: SignatureEntry[] = [
      ['tok', typeof tokenizer === 'function' ? 'custom' : tokenizer],
      ['stem', options.useStemmer ? 'yes' : 'no'],
      ['types', types.join(',')],
    ];
    if (this.scorer.alpha !== 0.5) {
      entries.push(options.beta !== undefined ? ['beta', options.beta] : ['alpha', this.scorer.alpha]);
    }
    if (types.includes('rougeLsum')) entries.push(['split', options.splitSentences ? 'yes' : 'no']);
    if (types.includes('rougeW')) entries.push(['weight', this.scorer.weight]);
    entries.push(['version', `rouge-score-${ROUGE_SCORE_VERSION}`]);
    this.entries = entries;
  }

  signature(numberOfReferences: number | 'var' = 1, bootstrap?: SignatureBootstrap): string {
    return formatSignature(numberOfReferences, bootstrap, this.entries);
  }

  /** Warnings seen so far, once per code with a count. */
  warnings(): MetricWarning[] {
    return this.scorer.warnings();
  }

  sentenceScore(hypothesis: string, references: readonly string[]): RougeSentenceScore {
    return { scores: this.scorer.scoreMulti(hypothesis, references), signature: this.signature(references.length) };
  }

  /** The mean of the per-pair scores; with `bootstrap`, rouge-score's low/mid/high intervals as well. */
  corpusScore(
    hypotheses: readonly string[],
    references: readonly (readonly string[])[],
    bootstrap?: BootstrapOptions,
  ): RougeCorpusResult {
    checkCorpus(hypotheses, references);
    const perPair = hypotheses.map((hypothesis, index) => this.scorer.scoreMulti(hypothesis, references[index]));
    const numberOfReferences = referenceCountLabel(references);
    const result: RougeCorpusResult = {
      scores: meanScores(perPair),
      perPair,
      warnings: this.warnings(),
      signature: this.signature(numberOfReferences),
    };
    if (bootstrap !== undefined) {
      const resolved = { samples: bootstrap.samples ?? 1000, seed: bootstrap.seed ?? 12345, confidence: bootstrap.confidence ?? 0.95 };
      result.intervals = bootstrapScores(perPair, resolved);
      result.signature = this.signature(numberOfReferences, resolved);
    }
    return result;
  }
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
  const referenceLists = references.map((reference) => (typeof reference === 'string' ? [reference] : reference));
  return new ROUGE(options).corpusScore(predictions, referenceLists, options.bootstrap);
}
