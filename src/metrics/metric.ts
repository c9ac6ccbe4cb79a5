/**
 * The one shape every metric object has (ROUGE, BLEU, chrF): configured once, then asked for a sentence score, a
 * corpus score (optionally with bootstrap resampling) and a signature string that says exactly how its numbers
 * were computed, in sacreBLEU's `key:value|…` form. References are given per segment: `references[i]` holds the
 * references of hypothesis i.
 */
import type { BootstrapRequest } from './corpus.js';

/** What a signature needs to know about how a corpus was resampled. */
export interface SignatureBootstrap {
  samples: number;
  seed: number;
  /** Interval width, for metrics whose intervals depend on it (ROUGE's low/mid/high). */
  confidence?: number;
}

/**
 * A metric with one fixed configuration.
 * - `sentenceScore`: one hypothesis against its references.
 * - `corpusScore`: a whole corpus; with `bootstrap`, also a resampled interval (and the signature says so).
 * - `signature(numberOfReferences)`: the configuration as sacreBLEU-style `key:value` pairs; `nrefs` is the
 *   common number of references per segment or 'var' (default 1). Results carry the signature of their own call.
 */
export interface Metric<SentenceResult, CorpusResult, Bootstrap = BootstrapRequest> {
  /** How the metric names itself in one-line output ('BLEU', 'chrF2++', 'ROUGE'). */
  readonly name: string;
  sentenceScore(hypothesis: string, references: readonly string[]): SentenceResult;
  corpusScore(hypotheses: readonly string[], references: readonly (readonly string[])[], bootstrap?: Bootstrap): CorpusResult;
  signature(numberOfReferences?: number | 'var', bootstrap?: SignatureBootstrap): string;
}

/** sacreBLEU's function form of a corpus metric (`corpus_bleu`, `corpus_chrf`): options and bootstrap in one object. */
export type CorpusFunction<Options, Result> = (
  hypotheses: readonly string[],
  references: readonly (readonly string[])[],
  options?: Options & { bootstrap?: BootstrapRequest },
) => Result;

/** sacreBLEU's function form of a sentence metric (`sentence_bleu`, `sentence_chrf`). */
export type SentenceFunction<Options, Result> = (hypothesis: string, references: readonly string[], options?: Options) => Result;

/** `corpus_*(hypotheses, references, options)` = a metric built from the options, asked for its corpus score. */
export function corpusFunction<Options, Result>(
  create: (options: Options) => Metric<unknown, Result>,
): CorpusFunction<Options, Result> {
  return (hypotheses, references, options = {} as Options & { bootstrap?: BootstrapRequest }) =>
    create(options).corpusScore(hypotheses, references, options.bootstrap);
}

/** `sentence_*(hypothesis, references, options)` = a metric built from the options, asked for one sentence. */
export function sentenceFunction<Options, Result>(
  create: (options: Options) => Metric<Result, unknown>,
): SentenceFunction<Options, Result> {
  return (hypothesis, references, options = {} as Options) => create(options).sentenceScore(hypothesis, references);
}
