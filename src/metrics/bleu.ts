/**
 * BLEU exactly as sacreBLEU 2.6.0 computes it (Papineni et al. 2002; smoothing per Chen & Cherry 2014), with
 * sacreBLEU's signature string. References are given per segment: `references[i]` holds the references of
 * hypothesis i, any number of them (sacreBLEU takes reference streams padded with None; same scores).
 */
import { TunekitError } from '../errors.js';
import { bleuTokenizeInto, BLEU_TOKENIZERS, type BleuTokenizerName, type TokenSink } from './bleu-tokenizers.js';
import { NgramCounts, SpanEncoder } from './ngrams.js';
import { SegmentStatisticsMetric, type BootstrapEstimate } from './corpus.js';
import { corpusFunction, sentenceFunction } from './metric.js';
import { SACREBLEU_VERSION, type SignatureEntry } from './signature.js';
import { formatFixed, rstrip } from './text.js';

export type SmoothMethod = 'none' | 'floor' | 'add-k' | 'exp';
export const SMOOTH_METHODS: readonly SmoothMethod[] = ['none', 'floor', 'add-k', 'exp'];
const SMOOTH_DEFAULTS: Record<SmoothMethod, number | null> = { none: null, floor: 0.1, 'add-k': 1, exp: null };

export interface BleuOptions {
  /** Lowercase hypotheses and references first. */
  lowercase?: boolean;
  /** Default '13a'. */
  tokenize?: BleuTokenizerName;
  /** Default 'exp' (NIST geometric smoothing). */
  smoothMethod?: SmoothMethod;
  /** For 'floor' (default 0.1) and 'add-k' (default 1). */
  smoothValue?: number;
  /** Default 4. */
  maxNgramOrder?: number;
  /** Average only over the n-gram orders the hypothesis has (sentence BLEU). Default false. */
  effectiveOrder?: boolean;
}

/** A BLEU result; field names follow sacreBLEU's BLEUScore (`sys_len`, `ref_len`) so JSON matches it. */
export interface BleuScore {
  /** 0–100. */
  score: number;
  /** Matched n-grams per order (with add-k smoothing, including the added k, as sacreBLEU reports them). */
  counts: number[];
  /** Hypothesis n-grams per order. */
  totals: number[];
  precisions: number[];
  /** Brevity penalty. */
  bp: number;
  sys_len: number;
  ref_len: number;
  signature: string;
  /** With bootstrap resampling: the mean of resampled scores and half the width of the 95% interval. */
  bootstrap?: BootstrapEstimate;
}

/** The BLEU metric with one fixed configuration. */
export class BLEU extends SegmentStatisticsMetric<BleuScore> {
  readonly name = 'BLEU';
  readonly lowercase: boolean;
  readonly tokenizerName: BleuTokenizerName;
  readonly smoothMethod: SmoothMethod;
  readonly smoothValue: number | null;
  readonly maxNgramOrder: number;
  readonly effectiveOrder: boolean;
  private readonly tokenizer: (line: string, sink: TokenSink) => void;
  // Scratch space reused from segment to segment.
  private readonly encoder = new SpanEncoder();
  private readonly available: NgramCounts;
  private readonly scratch: NgramCounts;
  private readonly matches: number[] = [];

  constructor(options: BleuOptions = {}) {
    super();
    this.lowercase = options.lowercase ?? false;
    this.tokenizerName = options.tokenize ?? '13a';
    if (!BLEU_TOKENIZERS.includes(this.tokenizerName)) {
      throw new TunekitError(
        'E_BLEU_TOKENIZER',
        `unknown BLEU tokenizer "${this.tokenizerName}": expected ${BLEU_TOKENIZERS.join(', ')}`,
      );
    }
    this.tokenizer = bleuTokenizeInto(this.tokenizerName);
    this.smoothMethod = options.smoothMethod ?? 'exp';
    if (!SMOOTH_METHODS.includes(this.smoothMethod)) {
      throw new TunekitError(
        'E_BLEU_SMOOTH',
        `unknown smoothing method "${this.smoothMethod}": expected ${SMOOTH_METHODS.join(', ')}`,
      );
    }
    this.smoothValue = options.smoothValue ?? SMOOTH_DEFAULTS[this.smoothMethod];
    this.maxNgramOrder = options.maxNgramOrder ?? 4;
    if (!Number.isInteger(this.maxNgramOrder) || this.maxNgramOrder < 1) {
      throw new TunekitError('E_BLEU_ORDER', `maxNgramOrder must be a positive integer, got ${this.maxNgramOrder}`);
    }
    this.effectiveOrder = options.effectiveOrder ?? false;
    this.available = new NgramCounts(this.maxNgramOrder);
    this.scratch = new NgramCounts(this.maxNgramOrder);
  }

  /** sacreBLEU's signature entries, as in `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`. */
  protected override signatureEntries(): SignatureEntry[] {
    let smooth: string = this.smoothMethod;
    const defaultValue = SMOOTH_DEFAULTS[this.smoothMethod];
    if (defaultValue !== null) smooth += `[${formatFixed(this.smoothValue ?? defaultValue, 2)}]`;
    return [
      ['case', this.lowercase ? 'lc' : 'mixed'],
      ['eff', this.effectiveOrder ? 'yes' : 'no'],
      ['tok', this.tokenizerName],
      ['smooth', smooth],
      ['version', SACREBLEU_VERSION],
    ];
  }

  /** Lowercasing (optional), trailing-whitespace strip, tokenization, split: the tokens BLEU counts. */
  tokens(segment: string): string[] {
    const tokens: string[] = [];
    this.feed(segment, { add: (source, start, end) => tokens.push(source.slice(start, end)) });
    return tokens;
  }

  private feed(segment: string, sink: TokenSink): void {
    if (this.lowercase) segment = segment.toLowerCase();
    this.tokenizer(rstrip(segment), sink);
  }

  /**
   * Sufficient statistics of one segment, laid out as sacreBLEU does:
   * [hypothesis length, closest reference length, matches per order…, hypothesis n-grams per order…].
   */
  override segmentStatistics(hypothesis: string, references: readonly string[]): number[] {
    if (references.length === 0) {
      throw new TunekitError('E_BLEU_INPUT', 'every hypothesis needs at least one reference');
    }
    const order = this.maxNgramOrder;
    const encoder = this.encoder;
    encoder.begin();
    const hypothesisIds = encoder.encode((sink) => this.feed(hypothesis, sink));
    const referenceIds = references.map((reference) => encoder.encode((sink) => this.feed(reference, sink)));

    // Per n-gram, the largest count in any one reference.
    const available = this.available;
    available.reset(encoder.size);
    for (let index = 0; index < referenceIds.length; index++) {
      const counts = index === 0 ? available : this.scratch;
      if (index > 0) counts.reset(encoder.size);
      counts.addAll(referenceIds[index]);
      if (index > 0) available.raiseTo(counts);
    }

    const matches = this.matches;
    available.takeMatches(hypothesisIds, matches);
    const statistics = new Array<number>(2 + 2 * order);
    const hypothesisLength = hypothesisIds.length;
    statistics[0] = hypothesisLength;
    statistics[1] = closestReferenceLength(hypothesisLength, referenceIds);
    for (let n = 1; n <= order; n++) {
      statistics[1 + n] = matches[n - 1];
      statistics[1 + order + n] = Math.max(hypothesisLength - n + 1, 0);
    }
    return statistics;
  }

  /** The score from (summed) statistics: sacreBLEU's `compute_bleu`. */
  scoreFromStatistics(statistics: readonly number[], numberOfReferences: number | 'var' = 1): BleuScore {
    const order = this.maxNgramOrder;
    const sysLen = statistics[0];
    const refLen = statistics[1];
    const counts = statistics.slice(2, 2 + order);
    const totals = statistics.slice(2 + order, 2 + 2 * order);
    const signature = this.signature(numberOfReferences);

    let bp = 1.0;
    if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0.0;
    const precisions = new Array<number>(order).fill(0);
    if (!counts.some((count) => count !== 0)) {
      return { score: 0, counts, totals, precisions, bp, sys_len: sysLen, ref_len: refLen, signature };
    }

    const smoothValue = this.smoothValue ?? 0;
    let smoothExp = 1;
    let effectiveOrder = order;
    for (let n = 1; n <= order; n++) {
      if (this.smoothMethod === 'add-k' && n > 1) {
        counts[n - 1] += smoothValue;
        totals[n - 1] += smoothValue;
      }
      if (totals[n - 1] === 0) break;
      if (this.effectiveOrder) effectiveOrder = n;
      if (counts[n - 1] === 0) {
        if (this.smoothMethod === 'exp') {
          smoothExp *= 2;
          precisions[n - 1] = 100 / (smoothExp * totals[n - 1]);
        } else if (this.smoothMethod === 'floor') {
          precisions[n - 1] = (100 * smoothValue) / totals[n - 1];
        }
      } else {
        precisions[n - 1] = (100 * counts[n - 1]) / totals[n - 1];
      }
    }
    let logSum = 0;
    for (let n = 0; n < effectiveOrder; n++) logSum += precisions[n] === 0 ? -9999999999 : Math.log(precisions[n]);
    const score = bp * Math.exp(logSum / effectiveOrder);
    return { score, counts, totals, precisions, bp, sys_len: sysLen, ref_len: refLen, signature };
  }

  protected override resultFromStatistics(statistics: readonly number[], numberOfReferences: number | 'var'): BleuScore {
    return this.scoreFromStatistics(statistics, numberOfReferences);
  }
}

function closestReferenceLength(hypothesisLength: number, references: readonly Int32Array[]): number {
  let closestDifference = -1;
  let closestLength = -1;
  for (const reference of references) {
    const difference = Math.abs(hypothesisLength - reference.length);
    if (closestDifference === -1 || difference < closestDifference) {
      closestDifference = difference;
      closestLength = reference.length;
    } else if (difference === closestDifference && reference.length < closestLength) {
      closestLength = reference.length;
    }
  }
  return closestLength;
}

/** sacreBLEU's `sentence_bleu` defaults: 13a, exp smoothing, effective order. */
export const sentenceBleu = sentenceFunction((options: BleuOptions) => new BLEU({ effectiveOrder: true, ...options }));

/** sacreBLEU's `corpus_bleu` defaults: 13a, exp smoothing, no effective order; `options.bootstrap` resamples. */
export const corpusBleu = corpusFunction((options: BleuOptions) => new BLEU(options));

/** sacreBLEU's one-line form: `BLEU = 32.10 60.0/40.0/28.6/16.7 (BP = 1.000 ratio = 1.000 hyp_len = 5 ref_len = 5)`. */
export function formatBleu(result: BleuScore, width = 2): string {
  let text = `BLEU = ${formatFixed(result.score, width)}`;
  if (result.bootstrap !== undefined && result.bootstrap.mean > 0) {
    text += ` (μ = ${formatFixed(result.bootstrap.mean, width)} ± ${formatFixed(result.bootstrap.ci, width)})`;
  }
  const ratio = result.ref_len ? result.sys_len / result.ref_len : 0;
  const precisions = result.precisions.map((precision) => formatFixed(precision, 1)).join('/');
  return (
    `${text} ${precisions} (BP = ${formatFixed(result.bp, 3)} ratio = ${formatFixed(ratio, 3)} ` +
    `hyp_len = ${result.sys_len} ref_len = ${result.ref_len})`
  );
}
