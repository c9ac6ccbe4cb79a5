/**
 * Evaluation metrics in plain TypeScript (no engine, no Node APIs: they run in a browser too).
 * ROUGE agrees with Google's rouge-score 0.1.2; BLEU and chrF with sacreBLEU 2.6.0.
 */
export { porterStem, PorterStemmer } from './porter.js';
export {
  splitLines,
  splitSentences,
  stemTokens,
  tokenizeDefault,
  tokenizeUnicode,
  type RougeTokenizer,
  type Stemmer,
} from './tokenize.js';
export {
  DEFAULT_ROUGE_TYPES,
  fMeasure,
  parseRougeType,
  RougeScorer,
  type RougeOptions,
  type RougeScore,
  type RougeScores,
} from './rouge.js';
export { rougeWeighted, skipBigramOverlap, weightedLcs, type Overlap } from './rouge-extra.js';
export {
  rouge,
  ROUGE,
  ROUGE_SCORE_VERSION,
  type RougeCorpusOptions,
  type RougeCorpusResult,
  type RougeSentenceScore,
} from './rouge-corpus.js';
export {
  bootstrapMeans,
  bootstrapScores,
  meanScores,
  percentile,
  type AggregateScore,
  type BootstrapOptions,
} from './aggregate.js';
export { meanInterval, pairedDifference, pairedMeanDifference, statisticsInterval, type DifferenceInterval, type IntervalOptions, type ScoreInterval } from './intervals.js';
export {
  approximateRandomizationTest,
  bleuStatisticsMetric,
  chrfStatisticsMetric,
  compareSystems,
  pairedBootstrapTest,
  rougeStatisticsMetric,
  type PairedTestOptions,
  type PairedTestResult,
  type StatisticsMetric,
} from './significance.js';
export {
  BLEU_TOKENIZERS,
  bleuTokenizer,
  tokenize13a,
  tokenizeChar,
  tokenizeIntl,
  tokenizeNone,
  tokenizeZh,
  type BleuTokenizerName,
} from './bleu-tokenizers.js';
export {
  BLEU,
  corpusBleu,
  formatBleu,
  sentenceBleu,
  SMOOTH_METHODS,
  type BleuOptions,
  type BleuScore,
  type SmoothMethod,
} from './bleu.js';
export { CHRF, chrfWords, corpusChrf, formatChrf, sentenceChrf, type ChrfOptions, type ChrfScore } from './chrf.js';
export {
  SegmentStatisticsMetric,
  type BootstrapEstimate,
  type BootstrapRequest,
  type StatisticsScore,
} from './corpus.js';
export {
  corpusFunction,
  sentenceFunction,
  type CorpusFunction,
  type Metric,
  type SentenceFunction,
  type SignatureBootstrap,
} from './metric.js';
export { formatSignature, SACREBLEU_VERSION, type SignatureEntry } from './signature.js';
export { SeededRandom } from './random.js';
export { formatFixed, splitWhitespace } from './text.js';
export { type MetricWarning, type WarningHandler } from './warnings.js';
