/**
 * ROUGE as Google's rouge-score 0.1.2 computes it (rouge1…rouge9, rougeL, rougeLsum, `score_multi`), plus
 * ROUGE-W, ROUGE-S and ROUGE-SU (see rouge-extra.ts). Arguments go (prediction, reference), the reverse of
 * rouge-score's `score(target, prediction)`.
 */
import { TunekitError } from '../errors.js';
import { lcsLength, markLcs } from './lcs.js';
import { SegmentEncoder } from './ngrams.js';
import { PorterStemmer } from './porter.js';
import { rougeWeighted, skipBigramOverlap } from './rouge-extra.js';
import {
  splitLines,
  splitSentences,
  stemTokens,
  tokenizeDefault,
  tokenizeUnicode,
  type RougeTokenizer,
} from './tokenize.js';
import { WarningLog, type MetricWarning, type WarningHandler } from './warnings.js';

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

/** Scores keyed by ROUGE type name ('rouge1', 'rougeL', …). */
export type RougeScores = Record<string, RougeScore>;

export interface RougeOptions {
  /**
   * Which scores: 'rouge1'…'rouge9', 'rougeL', 'rougeLsum', 'rougeW', 'rougeS' / 'rougeS4' (skip-bigrams with at
   * most 4 tokens between), 'rougeSU' / 'rougeSU4'. Default: rouge1, rouge2, rougeL, rougeLsum.
   */
  types?: readonly string[];
  /** Porter-stem tokens longer than 3 characters (rouge-score's `use_stemmer`). */
  useStemmer?: boolean;
  /** F = 1 / (alpha/P + (1 − alpha)/R); 0.5 (the default) is rouge-score's F1. Give alpha or beta, not both. */
  alpha?: number;
  /** F_beta = (1 + β²)PR / (β²P + R), i.e. alpha = 1 / (1 + β²). */
  beta?: number;
  /** 'default' is rouge-score's ASCII-only tokenizer; 'unicode' keeps other scripts; or bring your own. */
  tokenizer?: 'default' | 'unicode' | RougeTokenizer;
  /** rougeLsum: split text that has no newline into sentences with a rule-based splitter. Default false. */
  splitSentences?: boolean;
  /** ROUGE-W weighting exponent (f(k) = k^weight). Default 1.2, as ROUGE-1.5.5. */
  weight?: number;
  /** Called once per kind of warning (further occurrences are only counted). */
  onWarning?: WarningHandler;
}

export const DEFAULT_ROUGE_TYPES: readonly string[] = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'];

type RougeKind =
  | { kind: 'ngram'; n: number }
  | { kind: 'lcs' }
  | { kind: 'summaryLcs' }
  | { kind: 'weightedLcs' }
  | { kind: 'skipBigram'; maxGap: number; withUnigrams: boolean };

/** Parses a ROUGE type name; throws a TunekitError naming the accepted forms. */
export function parseRougeType(name: string): RougeKind {
  if (name === 'rougeL') return { kind: 'lcs' };
  if (name === 'rougeLsum') return { kind: 'summaryLcs' };
  if (name === 'rougeW') return { kind: 'weightedLcs' };
  let match = /^rouge([1-9])$/.exec(name);
  if (match) return { kind: 'ngram', n: Number(match[1]) };
  match = /^rouge(SU|S)(\d*)$/.exec(name);
  if (match) {
    const maxGap = match[2] === '' ? Infinity : Number(match[2]);
    return { kind: 'skipBigram', maxGap, withUnigrams: match[1] === 'SU' };
  }
  throw new TunekitError(
    'E_ROUGE_TYPE',
    `unknown ROUGE type "${name}": expected rouge1…rouge9, rougeL, rougeLsum, rougeW, rougeS[N] or rougeSU[N]`,
  );
}

/** rouge-score's `fmeasure` for alpha 0.5; the weighted harmonic mean of ROUGE-1.5.5 otherwise. */
export function fMeasure(precision: number, recall: number, alpha = 0.5): number {
  if (alpha === 0.5) return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  if (alpha === 1) return precision;
  if (alpha === 0) return recall;
  const denominator = alpha * recall + (1 - alpha) * precision;
  return denominator > 0 ? (precision * recall) / denominator : 0;
}

/** A text tokenized once: the whole token list and, for rougeLsum, its sentences. */
interface PreparedText {
  tokens: string[];
  sentences: string[][];
}

const MAX_EXACT_KEY = 2 ** 53;

/** Clipped n-gram matches: Σ over reference n-grams of min(count in reference, count in prediction). */
function ngramHits(reference: Int32Array, prediction: Int32Array, n: number, vocabularySize: number): number {
  if (reference.length < n || prediction.length < n) return 0;
  if (n === 1) {
    const available = new Int32Array(vocabularySize);
    for (let index = 0; index < reference.length; index++) available[reference[index]]++;
    let hits = 0;
    for (let index = 0; index < prediction.length; index++) {
      const id = prediction[index];
      if (available[id] > 0) {
        available[id]--;
        hits++;
      }
    }
    return hits;
  }
  const base = vocabularySize;
  if (base ** n < MAX_EXACT_KEY) {
    const available = new Map<number, number>();
    for (let start = 0; start + n <= reference.length; start++) {
      const key = numericKey(reference, start, n, base);
      available.set(key, (available.get(key) ?? 0) + 1);
    }
    let hits = 0;
    for (let start = 0; start + n <= prediction.length; start++) {
      const key = numericKey(prediction, start, n, base);
      const count = available.get(key);
      if (count !== undefined && count > 0) {
        available.set(key, count - 1);
        hits++;
      }
    }
    return hits;
  }
  const available = new Map<string, number>();
  for (let start = 0; start + n <= reference.length; start++) {
    const key = reference.subarray(start, start + n).join(',');
    available.set(key, (available.get(key) ?? 0) + 1);
  }
  let hits = 0;
  for (let start = 0; start + n <= prediction.length; start++) {
    const key = prediction.subarray(start, start + n).join(',');
    const count = available.get(key);
    if (count !== undefined && count > 0) {
      available.set(key, count - 1);
      hits++;
    }
  }
  return hits;
}

function numericKey(tokens: Int32Array, start: number, n: number, base: number): number {
  let key = 0;
  for (let offset = 0; offset < n; offset++) key = key * base + tokens[start + offset];
  return key;
}

/**
 * rouge-score's summary-level LCS (ROUGE-1.5.5's rougeLsum): for each reference sentence, the union of its LCS
 * positions against every prediction sentence; a token counts as a hit while it has unused occurrences in both
 * the whole reference and the whole prediction.
 */
function summaryLcsHits(referenceSentences: Int32Array[], predictionSentences: Int32Array[], vocabularySize: number) {
  const referenceLeft = new Int32Array(vocabularySize);
  const predictionLeft = new Int32Array(vocabularySize);
  for (const sentence of referenceSentences) for (const id of sentence) referenceLeft[id]++;
  for (const sentence of predictionSentences) for (const id of sentence) predictionLeft[id]++;
  let hits = 0;
  for (const reference of referenceSentences) {
    const marks = new Uint8Array(reference.length);
    for (const prediction of predictionSentences) markLcs(reference, prediction, marks);
    for (let index = 0; index < reference.length; index++) {
      if (marks[index] === 0) continue;
      const id = reference[index];
      if (predictionLeft[id] > 0 && referenceLeft[id] > 0) {
        hits++;
        predictionLeft[id]--;
        referenceLeft[id]--;
      }
    }
  }
  return hits;
}

function totalLength(sentences: readonly ArrayLike<unknown>[]): number {
  let total = 0;
  for (const sentence of sentences) total += sentence.length;
  return total;
}

/** Scores prediction/reference pairs with one fixed configuration. */
export class RougeScorer {
  readonly types: readonly string[];
  private readonly kinds: RougeKind[];
  /** F's weight of precision: 0.5 is F1 (from `alpha`, or from `beta` as 1 / (1 + β²)). */
  readonly alpha: number;
  /** ROUGE-W's weighting exponent. */
  readonly weight: number;
  private readonly tokenize: RougeTokenizer;
  private readonly usesDefaultTokenizer: boolean;
  private readonly stemmer: PorterStemmer | null;
  private readonly splitSentences: boolean;
  private readonly needsSentences: boolean;
  private readonly warningLog: WarningLog;
  private readonly vocabulary = new SegmentEncoder();

  constructor(options: RougeOptions = {}) {
    this.types = [...(options.types ?? DEFAULT_ROUGE_TYPES)];
    if (this.types.length === 0) throw new TunekitError('E_ROUGE_TYPE', 'no ROUGE types requested');
    this.kinds = this.types.map(parseRougeType);
    if (options.alpha !== undefined && options.beta !== undefined) {
      throw new TunekitError('E_ROUGE_OPTION', 'give alpha or beta, not both');
    }
    this.alpha = options.beta !== undefined ? 1 / (1 + options.beta * options.beta) : (options.alpha ?? 0.5);
    if (!(this.alpha >= 0 && this.alpha <= 1)) {
      throw new TunekitError('E_ROUGE_OPTION', `alpha must lie in [0, 1], got ${this.alpha}`);
    }
    this.weight = options.weight ?? 1.2;
    if (!(this.weight > 0)) throw new TunekitError('E_ROUGE_OPTION', `weight must be > 0, got ${this.weight}`);
    const tokenizer = options.tokenizer ?? 'default';
    this.usesDefaultTokenizer = tokenizer === 'default';
    this.tokenize = tokenizer === 'default' ? tokenizeDefault : tokenizer === 'unicode' ? tokenizeUnicode : tokenizer;
    this.stemmer = options.useStemmer ? new PorterStemmer() : null;
    this.splitSentences = options.splitSentences ?? false;
    this.needsSentences = this.kinds.some((kind) => kind.kind === 'summaryLcs');
    this.warningLog = new WarningLog(options.onWarning);
  }

  /** Warnings seen so far, once per code with a count. */
  warnings(): MetricWarning[] {
    return this.warningLog.list();
  }

  /** Tokens as this scorer sees them (after stemming, if on). */
  tokens(text: string): string[] {
    const tokens = this.tokenize(text);
    return this.stemmer ? stemTokens(tokens, this.stemmer) : tokens;
  }

  /** Scores one prediction against one reference. */
  score(prediction: string, reference: string): RougeScores {
    return this.scorePrepared(this.prepare(prediction), this.prepare(reference), prediction, reference);
  }

  /** rouge-score's `score_multi`: per type, the score against the reference with the best F (first on ties). */
  scoreMulti(prediction: string, references: readonly string[]): RougeScores {
    if (references.length === 0) throw new TunekitError('E_ROUGE_INPUT', 'scoreMulti needs at least one reference');
    const preparedPrediction = this.prepare(prediction);
    const best: RougeScores = {};
    for (const reference of references) {
      const scores = this.scorePrepared(preparedPrediction, this.prepare(reference), prediction, reference);
      for (const type of this.types) {
        if (best[type] === undefined || scores[type].fmeasure > best[type].fmeasure) best[type] = scores[type];
      }
    }
    return best;
  }

  private prepare(text: string): PreparedText {
    if (!this.needsSentences) {
      const tokens = this.tokens(text);
      this.checkTokens(text, tokens);
      return { tokens, sentences: [] };
    }
    // Tokens never span a newline, so the text's tokens are its lines' tokens joined.
    const pieces =
      this.splitSentences && !text.includes('\n') ? splitSentences(text) : splitLines(text);
    const sentences = pieces.map((piece) => this.tokens(piece));
    const tokens = sentences.length === 1 ? sentences[0] : sentences.flat();
    this.checkTokens(text, tokens);
    return { tokens, sentences };
  }

  private checkTokens(text: string, tokens: string[]): void {
    if (tokens.length === 0 && this.usesDefaultTokenizer && /\S/.test(text)) {
      this.warningLog.add(
        'empty-tokenization',
        'a non-empty text gave no tokens under the default (ASCII-only) ROUGE tokenizer, so it scores 0; ' +
          "use tokenizer: 'unicode' (CLI: --tokenizer unicode) for text in other scripts",
      );
    }
  }

  private scorePrepared(prediction: PreparedText, reference: PreparedText, predictionText: string, referenceText: string) {
    // Token → small integer, shared by the pair, so that comparisons are integer compares.
    const vocabulary = this.vocabulary;
    vocabulary.begin();
    const referenceIds = vocabulary.encode(reference.tokens);
    const predictionIds = vocabulary.encode(prediction.tokens);
    const scores: RougeScores = {};
    for (let index = 0; index < this.kinds.length; index++) {
      const kind = this.kinds[index];
      let precision = 0;
      let recall = 0;
      switch (kind.kind) {
        case 'ngram': {
          const hits = ngramHits(referenceIds, predictionIds, kind.n, vocabulary.size);
          precision = hits / Math.max(predictionIds.length - kind.n + 1, 1);
          recall = hits / Math.max(referenceIds.length - kind.n + 1, 1);
          break;
        }
        case 'lcs': {
          if (referenceIds.length > 0 && predictionIds.length > 0) {
            const length = lcsLength(referenceIds, predictionIds);
            precision = length / predictionIds.length;
            recall = length / referenceIds.length;
          }
          break;
        }
        case 'summaryLcs': {
          const referenceSentences = reference.sentences.map((sentence) => vocabulary.encode(sentence));
          const predictionSentences = prediction.sentences.map((sentence) => vocabulary.encode(sentence));
          const referenceLength = totalLength(referenceSentences);
          const predictionLength = totalLength(predictionSentences);
          if (referenceLength > 0 && predictionLength > 0) {
            const hits = summaryLcsHits(referenceSentences, predictionSentences, vocabulary.size);
            precision = hits / predictionLength;
            recall = hits / referenceLength;
          }
          if (!this.splitSentences && !predictionText.includes('\n') && !referenceText.includes('\n')) {
            this.warningLog.add(
              'rougeLsum-no-newlines',
              'rougeLsum splits sentences on newlines only and these texts have none, so rougeLsum equals rougeL; ' +
                'put one sentence per line or turn on splitSentences (CLI: --split-sentences)',
            );
          }
          break;
        }
        case 'weightedLcs':
          ({ precision, recall } = rougeWeighted(referenceIds, predictionIds, this.weight));
          break;
        case 'skipBigram': {
          const overlap = skipBigramOverlap(referenceIds, predictionIds, vocabulary.size, kind.maxGap, kind.withUnigrams);
          precision = overlap.candidateCount > 0 ? overlap.hits / overlap.candidateCount : 0;
          recall = overlap.referenceCount > 0 ? overlap.hits / overlap.referenceCount : 0;
          break;
        }
      }
      scores[this.types[index]] = { precision, recall, fmeasure: fMeasure(precision, recall, this.alpha) };
    }
    return scores;
  }
}
