/**
 * chrF (Popović 2015) and chrF++ (Popović 2017) exactly as sacreBLEU 2.6.0 computes them, with its signature.
 * References are given per segment, as for BLEU.
 */
import { TunekitError } from '../errors.js';
import { SegmentStatisticsMetric, type BootstrapEstimate } from './corpus.js';
import { corpusFunction, sentenceFunction } from './metric.js';
import { NgramCounts, SegmentEncoder } from './ngrams.js';
import { SACREBLEU_VERSION, type SignatureEntry } from './signature.js';
import { formatFixed, isPythonSpace, splitWhitespace } from './text.js';

export interface ChrfOptions {
  /** Character n-gram order (default 6). */
  charOrder?: number;
  /** Word n-gram order: 0 is chrF, 2 is chrF++ (default 0). */
  wordOrder?: number;
  /** Recall is beta times as important as precision (default 2). */
  beta?: number;
  lowercase?: boolean;
  /** Keep whitespace inside character n-grams (default false: whitespace is removed first). */
  whitespace?: boolean;
  /** Average per-order F scores with eps for missing orders (chrF++.py / NLTK / Moses); default: effective order. */
  epsSmoothing?: boolean;
}

export interface ChrfScore {
  /** 0–100. */
  score: number;
  signature: string;
  bootstrap?: BootstrapEstimate;
}

// Python's string.punctuation.
const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

/** chrF++'s word splitter: whitespace split, then one punctuation mark split off the end, else the start. */
export function chrfWords(sentence: string): string[] {
  const words: string[] = [];
  for (const word of splitWhitespace(sentence)) {
    if (word.length === 1) {
      words.push(word);
    } else if (PUNCTUATION.has(word[word.length - 1])) {
      words.push(word.slice(0, -1), word[word.length - 1]);
    } else if (PUNCTUATION.has(word[0])) {
      words.push(word[0], word.slice(1));
    } else {
      words.push(word);
    }
  }
  return words;
}

/** The code points chrF builds character n-grams from. */
function characters(sentence: string, keepWhitespace: boolean): string[] {
  const units: string[] = [];
  for (const character of sentence) {
    if (keepWhitespace || character.length > 1 || !isPythonSpace(character.charCodeAt(0))) units.push(character);
  }
  return units;
}

interface EncodedText {
  characters: Int32Array;
  words: Int32Array;
}

export class CHRF extends SegmentStatisticsMetric<ChrfScore> {
  readonly charOrder: number;
  readonly wordOrder: number;
  readonly beta: number;
  readonly lowercase: boolean;
  readonly whitespace: boolean;
  readonly epsSmoothing: boolean;
  // Scratch space reused from segment to segment.
  private readonly characterEncoder = new SegmentEncoder();
  private readonly wordEncoder = new SegmentEncoder();
  private readonly characterCounts: NgramCounts;
  private readonly wordCounts: NgramCounts;
  private readonly matches: number[] = [];

  constructor(options: ChrfOptions = {}) {
    super();
    this.charOrder = options.charOrder ?? 6;
    this.wordOrder = options.wordOrder ?? 0;
    this.beta = options.beta ?? 2;
    this.lowercase = options.lowercase ?? false;
    this.whitespace = options.whitespace ?? false;
    this.epsSmoothing = options.epsSmoothing ?? false;
    for (const [name, value] of [['charOrder', this.charOrder], ['wordOrder', this.wordOrder]] as const) {
      if (!Number.isInteger(value) || value < 0) {
        throw new TunekitError('E_CHRF_OPTION', `${name} must be a non-negative integer, got ${value}`);
      }
    }
    if (this.charOrder + this.wordOrder === 0) {
      throw new TunekitError('E_CHRF_OPTION', 'charOrder and wordOrder cannot both be 0');
    }
    if (!(this.beta > 0)) throw new TunekitError('E_CHRF_OPTION', `beta must be > 0, got ${this.beta}`);
    this.characterCounts = new NgramCounts(this.charOrder);
    this.wordCounts = new NgramCounts(this.wordOrder);
  }

  /** 'chrF2' or 'chrF2++', as sacreBLEU names it. */
  override get name(): string {
    return `chrF${this.beta}${'+'.repeat(this.wordOrder)}`;
  }

  /** sacreBLEU's signature entries, as in `nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0`. */
  protected override signatureEntries(): SignatureEntry[] {
    return [
      ['case', this.lowercase ? 'lc' : 'mixed'],
      ['eff', this.epsSmoothing ? 'no' : 'yes'],
      ['nc', this.charOrder],
      ['nw', this.wordOrder],
      ['space', this.whitespace ? 'yes' : 'no'],
      ['version', SACREBLEU_VERSION],
    ];
  }

  /**
   * Statistics of one segment: for each order (characters 1…charOrder, then words 1…wordOrder) the triple
   * [hypothesis n-grams (0 when the reference has none of that order), reference n-grams, matches], taken
   * from the reference that gives the best F score (the first on ties).
   */
  override segmentStatistics(hypothesis: string, references: readonly string[]): number[] {
    if (references.length === 0) throw new TunekitError('E_CHRF_INPUT', 'every hypothesis needs at least one reference');
    this.characterEncoder.begin();
    this.wordEncoder.begin();
    const encode = (text: string): EncodedText => {
      if (this.lowercase) text = text.toLowerCase();
      return {
        characters: this.characterEncoder.encode(characters(text, this.whitespace)),
        words: this.wordOrder > 0 ? this.wordEncoder.encode(chrfWords(text)) : new Int32Array(0),
      };
    };
    const hypothesisUnits = encode(hypothesis);
    const referenceUnits = references.map(encode);

    let best: number[] = [];
    let bestScore = -1;
    for (const reference of referenceUnits) {
      const statistics: number[] = [];
      this.characterCounts.reset(this.characterEncoder.size);
      this.matchStatistics(this.characterCounts, hypothesisUnits.characters, reference.characters, this.charOrder, statistics);
      this.wordCounts.reset(this.wordEncoder.size);
      this.matchStatistics(this.wordCounts, hypothesisUnits.words, reference.words, this.wordOrder, statistics);
      const score = this.fScore(statistics);
      if (score > bestScore) {
        bestScore = score;
        best = statistics;
      }
    }
    return best;
  }

  private matchStatistics(counts: NgramCounts, hypothesis: Int32Array, reference: Int32Array, maxOrder: number, into: number[]) {
    if (maxOrder === 0) return;
    counts.addAll(reference);
    const matches = this.matches;
    counts.takeMatches(hypothesis, matches);
    for (let n = 1; n <= maxOrder; n++) {
      const referenceCount = Math.max(reference.length - n + 1, 0);
      const hypothesisCount = referenceCount > 0 ? Math.max(hypothesis.length - n + 1, 0) : 0;
      into.push(hypothesisCount, referenceCount, matches[n - 1]);
    }
  }

  /** sacreBLEU's `_compute_f_score` on (summed) statistics, 0–100. */
  fScore(statistics: readonly number[]): number {
    const eps = 1e-16;
    const factor = this.beta ** 2;
    const order = this.charOrder + this.wordOrder;
    let score = 0;
    let effectiveOrder = 0;
    let averagePrecision = 0;
    let averageRecall = 0;
    for (let index = 0; index < order; index++) {
      const hypothesisCount = statistics[3 * index];
      const referenceCount = statistics[3 * index + 1];
      const matches = statistics[3 * index + 2];
      const precision = hypothesisCount > 0 ? matches / hypothesisCount : eps;
      const recall = referenceCount > 0 ? matches / referenceCount : eps;
      const denominator = factor * precision + recall;
      score += denominator > 0 ? ((1 + factor) * precision * recall) / denominator : eps;
      if (hypothesisCount > 0 && referenceCount > 0) {
        averagePrecision += precision;
        averageRecall += recall;
        effectiveOrder++;
      }
    }
    if (this.epsSmoothing) return (100 * score) / order;
    if (effectiveOrder === 0) {
      averagePrecision = 0;
      averageRecall = 0;
    } else {
      averagePrecision /= effectiveOrder;
      averageRecall /= effectiveOrder;
    }
    if (averagePrecision + averageRecall === 0) return 0;
    score = (1 + factor) * averagePrecision * averageRecall;
    score /= factor * averagePrecision + averageRecall;
    return 100 * score;
  }

  protected override resultFromStatistics(statistics: readonly number[], numberOfReferences: number | 'var'): ChrfScore {
    return { score: this.fScore(statistics), signature: this.signature(numberOfReferences) };
  }
}

/** sacreBLEU's `sentence_chrf`: chrF2 unless the options say otherwise. */
export const sentenceChrf = sentenceFunction((options: ChrfOptions) => new CHRF(options));

/** sacreBLEU's `corpus_chrf`; `options.bootstrap` resamples. */
export const corpusChrf = corpusFunction((options: ChrfOptions) => new CHRF(options));

/** sacreBLEU's one-line form, e.g. `chrF2++ = 41.37`. */
export function formatChrf(result: ChrfScore, name = 'chrF2', width = 2): string {
  let text = `${name} = ${formatFixed(result.score, width)}`;
  if (result.bootstrap !== undefined && result.bootstrap.mean > 0) {
    text += ` (μ = ${formatFixed(result.bootstrap.mean, width)} ± ${formatFixed(result.bootstrap.ci, width)})`;
  }
  return text;
}
