/**
 * Per-document metrics and their aggregation as lm-eval's ConfigurableTask.process_results and evaluator compute
 * them. acc / acc_norm / acc_bytes take the argmax of the choices' log-likelihoods (acc_norm divided by each
 * choice's length in characters, acc_bytes in UTF-8 bytes; ties go to the first); exact_match compares after
 * regexes_to_ignore, ignore_case, ignore_punctuation and ignore_numbers; bleu, chrf and chrf++ are sacreBLEU's
 * corpus scores (src/metrics) over every (reference, prediction) pair. Standard errors: the sample standard
 * deviation / √n for means, a bootstrap for perplexity, median, nanmean and the corpus scores (100 resamples for
 * those), none for weighted perplexities and bits per byte.
 */
import { TunekitError } from '../errors.js';
import { corpusBleu } from '../metrics/bleu.js';
import { corpusChrf } from '../metrics/chrf.js';
import { RougeScorer } from '../metrics/rouge.js';
import { pythonRegex, pythonRemove, pythonSub } from './python-regex.js';
import { PythonRandom } from './python-random.js';
import { TASK_CONFIG_ERROR, type MetricConfig, type OutputType } from './task-config.js';

export const AGGREGATIONS = ['mean', 'median', 'nanmean', 'perplexity', 'weighted_perplexity', 'bits_per_byte', 'bleu', 'chrf', 'chrf++', 'f1', 'macro_f1', 'matthews_corrcoef', 'brier_score'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

interface MetricInfo {
  outputTypes: OutputType[];
  aggregation: Aggregation;
  higherIsBetter: boolean;
}

const METRICS: Record<string, MetricInfo> = {
  acc: { outputTypes: ['loglikelihood', 'multiple_choice'], aggregation: 'mean', higherIsBetter: true },
  acc_norm: { outputTypes: ['multiple_choice'], aggregation: 'mean', higherIsBetter: true },
  acc_bytes: { outputTypes: ['multiple_choice'], aggregation: 'mean', higherIsBetter: true },
  acc_mutual_info: { outputTypes: ['multiple_choice'], aggregation: 'mean', higherIsBetter: true },
  // (gold, prediction) pairs scored over all documents, as scikit-learn's binary f1_score and matthews_corrcoef.
  f1: { outputTypes: ['multiple_choice'], aggregation: 'f1', higherIsBetter: true },
  mcc: { outputTypes: ['multiple_choice'], aggregation: 'matthews_corrcoef', higherIsBetter: true },
  brier_score: { outputTypes: ['multiple_choice'], aggregation: 'brier_score', higherIsBetter: false },
  exact_match: { outputTypes: ['generate_until', 'multiple_choice'], aggregation: 'mean', higherIsBetter: true },
  // Only with `predictions` and `references` (answerMetric): SQuAD's exact match of the chosen answer.
  em: { outputTypes: ['multiple_choice'], aggregation: 'mean', higherIsBetter: true },
  perplexity: { outputTypes: ['loglikelihood'], aggregation: 'perplexity', higherIsBetter: false },
  word_perplexity: { outputTypes: ['loglikelihood_rolling'], aggregation: 'weighted_perplexity', higherIsBetter: false },
  byte_perplexity: { outputTypes: ['loglikelihood_rolling'], aggregation: 'weighted_perplexity', higherIsBetter: false },
  bits_per_byte: { outputTypes: ['loglikelihood_rolling'], aggregation: 'bits_per_byte', higherIsBetter: false },
  // sacreBLEU's corpus scores over (reference, prediction) pairs, as lm-eval aggregates them.
  bleu: { outputTypes: ['generate_until'], aggregation: 'bleu', higherIsBetter: true },
  chrf: { outputTypes: ['generate_until'], aggregation: 'chrf', higherIsBetter: true },
  'chrf++': { outputTypes: ['generate_until'], aggregation: 'chrf++', higherIsBetter: true },
  // rouge-score's F-measure (Porter stemmer on) per document, best over several references; the mean over documents.
  rouge1: { outputTypes: ['generate_until'], aggregation: 'mean', higherIsBetter: true },
  rouge2: { outputTypes: ['generate_until'], aggregation: 'mean', higherIsBetter: true },
  rougeL: { outputTypes: ['generate_until'], aggregation: 'mean', higherIsBetter: true },
  rougeLsum: { outputTypes: ['generate_until'], aggregation: 'mean', higherIsBetter: true },
};

/** The ROUGE metrics a generate_until task can list. */
export const ROUGE_METRICS = new Set(['rouge1', 'rouge2', 'rougeL', 'rougeLsum']);

let rougeScorer: RougeScorer | undefined;

/** One document's ROUGE F-measure (0–1): rouge-score with use_stemmer, the best reference as its score_multi. */
export function rougeScore(metric: string, prediction: string, references: readonly string[]): number {
  rougeScorer ??= new RougeScorer({ types: [...ROUGE_METRICS], useStemmer: true });
  return rougeScorer.scoreMulti(prediction, references)[metric].fmeasure;
}

/** Metrics whose per-document value is the (reference, prediction) pair their aggregation scores as a corpus. */
export const CORPUS_METRICS = new Set(['bleu', 'chrf', 'chrf++']);

/** DEFAULT_METRIC_REGISTRY: the metrics of a task without metric_list. */
const DEFAULT_METRICS: Record<OutputType, string[]> = {
  loglikelihood: ['perplexity', 'acc'],
  loglikelihood_rolling: ['word_perplexity', 'byte_perplexity', 'bits_per_byte'],
  multiple_choice: ['acc', 'acc_norm'],
  generate_until: ['exact_match'],
};

const EXACT_MATCH_OPTIONS = ['regexes_to_ignore', 'ignore_case', 'ignore_punctuation', 'ignore_numbers'];

/**
 * multiple_choice metrics that can score the chosen answer against references (tunekit's declarative form of a
 * process_results such as ReCoRD's): `predictions` (a field or template giving one answer per choice) and
 * `references` (the gold answers); the document's value is the best over the references of SQuAD's token F1 (f1)
 * or exact match (em) between the reference and the answer of the highest-likelihood choice.
 */
const ANSWER_METRICS = new Set(['f1', 'em']);
const ANSWER_OPTIONS = ['predictions', 'references'];

/** Whether a metric scores the chosen answer (it has `references`). */
export function isAnswerMetric(metric: TaskMetric): boolean {
  return ANSWER_METRICS.has(metric.name) && typeof metric.options.references === 'string';
}

const SQUAD_PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

/** SQuAD v2's normalize_answer: lower case, no punctuation, no articles, single spaces. */
function normalizeAnswer(text: string): string {
  const lowered = [...text.toLowerCase()].filter((c) => !SQUAD_PUNCTUATION.has(c)).join('');
  return pythonSub(pythonRegex('\\b(a|an|the)\\b', 'squad normalize_answer'), ' ', lowered).split(/\s+/u).filter((token) => token !== '').join(' ');
}

/** SQuAD v2's compute_exact and compute_f1 (gold first, as transformers' squad_metrics). */
export function squadScore(kind: 'em' | 'f1', gold: string, prediction: string): number {
  const a = normalizeAnswer(gold);
  const b = normalizeAnswer(prediction);
  if (kind === 'em') return Number(a === b);
  const goldTokens = a === '' ? [] : a.split(' ');
  const predTokens = b === '' ? [] : b.split(' ');
  if (goldTokens.length === 0 || predTokens.length === 0) return Number(goldTokens.length === predTokens.length);
  const counts = new Map<string, number>();
  for (const token of goldTokens) counts.set(token, (counts.get(token) ?? 0) + 1);
  let same = 0;
  for (const token of predTokens) {
    const left = counts.get(token) ?? 0;
    if (left > 0) {
      same++;
      counts.set(token, left - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / predTokens.length;
  const recall = same / goldTokens.length;
  return (2 * precision * recall) / (precision + recall);
}

/** The answer metric of one document: the best over the references for the highest-likelihood choice's answer. */
export function answerMetric(kind: 'em' | 'f1', lls: readonly number[], predictions: readonly string[], references: readonly string[]): number {
  const prediction = predictions[argmax(lls)];
  return Math.max(...references.map((reference) => squadScore(kind, reference, prediction)));
}

/** A metric of a task, checked and with its aggregation resolved. */
export interface TaskMetric {
  name: string;
  aggregation: Aggregation;
  higherIsBetter: boolean;
  options: Record<string, unknown>;
}

function fail(task: string, message: string): never {
  throw new TunekitError(TASK_CONFIG_ERROR, `task "${task}": ${message}`);
}

export function resolveMetrics(task: string, outputType: OutputType, metricList: readonly MetricConfig[]): TaskMetric[] {
  const list = metricList.length > 0 ? metricList : DEFAULT_METRICS[outputType].map((metric) => ({ metric, options: {} }) as MetricConfig);
  return list.map((entry) => {
    const info = METRICS[entry.metric];
    if (info === undefined) fail(task, `metric "${entry.metric}" is not supported (tunekit has ${Object.keys(METRICS).join(', ')})`);
    if (!info.outputTypes.includes(outputType)) fail(task, `metric "${entry.metric}" does not apply to output_type ${outputType}`);
    const aggregation = entry.aggregation ?? info.aggregation;
    if (!(AGGREGATIONS as readonly string[]).includes(aggregation)) fail(task, `aggregation "${aggregation}" of ${entry.metric} is not supported (tunekit has ${AGGREGATIONS.join(', ')})`);
    const allowed = entry.metric === 'exact_match' && outputType === 'generate_until' ? EXACT_MATCH_OPTIONS : ANSWER_METRICS.has(entry.metric) && outputType === 'multiple_choice' ? ANSWER_OPTIONS : [];
    if (entry.metric === 'em' && !('references' in entry.options)) fail(task, 'metric em scores a chosen answer: it needs predictions and references (see answerMetric)');
    if (ANSWER_OPTIONS.some((key) => key in entry.options) && !ANSWER_OPTIONS.every((key) => typeof entry.options[key] === 'string')) {
      fail(task, `metric ${entry.metric} needs both predictions and references, each a field name or a Jinja template`);
    }
    for (const key of Object.keys(entry.options)) if (!allowed.includes(key)) fail(task, `metric ${entry.metric} has no option "${key}"${allowed.length > 0 ? ` (it takes ${allowed.join(', ')})` : ''}`);
    const regexes = entry.options.regexes_to_ignore;
    if (regexes !== undefined && !(Array.isArray(regexes) && regexes.every((item) => typeof item === 'string'))) fail(task, 'exact_match regexes_to_ignore must be a list of regexes');
    for (const flag of ['ignore_case', 'ignore_punctuation', 'ignore_numbers']) {
      if (entry.options[flag] !== undefined && typeof entry.options[flag] !== 'boolean') fail(task, `exact_match ${flag} must be true or false`);
    }
    return { name: entry.metric, aggregation: aggregation as Aggregation, higherIsBetter: entry.higherIsBetter ?? info.higherIsBetter, options: entry.options };
  });
}

const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

/** lm-eval's exact_match (after evaluate's exact_match) for one prediction: 1.0 or 0.0. */
export function exactMatch(prediction: string, reference: string, options: Record<string, unknown>, where = 'exact_match'): number {
  let p = prediction;
  let r = reference;
  for (const pattern of (options.regexes_to_ignore as string[] | undefined) ?? []) {
    const regex = pythonRegex(pattern, where);
    p = pythonRemove(regex, p);
    r = pythonRemove(regex, r);
  }
  if (options.ignore_case === true) {
    p = p.toLowerCase();
    r = r.toLowerCase();
  }
  if (options.ignore_punctuation === true) {
    p = [...p].filter((c) => !PUNCTUATION.has(c)).join('');
    r = [...r].filter((c) => !PUNCTUATION.has(c)).join('');
  }
  if (options.ignore_numbers === true) {
    p = p.replace(/[0-9]/g, '');
    r = r.replace(/[0-9]/g, '');
  }
  return p === r ? 1 : 0;
}

/** numpy's argmax: the first index of the largest value (NaN wins, as numpy treats it). */
function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) {
    if (Number.isNaN(values[best])) return best;
    if (values[i] > values[best] || Number.isNaN(values[i])) best = i;
  }
  return best;
}

/**
 * A per-document value: a number; (log-likelihood, weight) for weighted aggregations; (reference, prediction) for
 * corpus metrics; (gold, prediction) for f1 / mcc; (gold, choice probabilities) for the Brier score.
 */
export type MetricValue = number | [number, number] | [number, number, number] | [string, string] | [number, number[]];

/** lm-eval's utils.softmax over a question's log-likelihoods. */
function softmax(values: readonly number[]): number[] {
  const max = Math.max(...values);
  const exps = values.map((value) => Math.exp(value - max));
  const total = numpySum(exps);
  return exps.map((value) => value / total);
}

/**
 * multiple_choice metrics from the choices' (log-likelihood, greedy) and, for acc_mutual_info, the unconditional
 * log-likelihoods of the choices alone.
 */
export function multipleChoiceMetrics(metrics: readonly TaskMetric[], results: readonly [number, boolean][], choices: readonly string[], gold: number | number[], unconditional: readonly number[] = []): Record<string, MetricValue> {
  const lls = results.map(([ll]) => ll);
  const pred = argmax(lls);
  const predNorm = argmax(lls.map((ll, i) => ll / choices[i].length));
  const predBytes = argmax(lls.map((ll, i) => ll / Buffer.byteLength(choices[i], 'utf8')));
  const golds = Array.isArray(gold) ? gold : [gold];
  const hit = (prediction: number) => (golds.includes(prediction) ? 1 : 0);
  const exact = Array.isArray(gold) ? Number(gold.some((index) => index !== -100 && results[index]?.[1] === true)) : gold !== -100 ? Number(results[gold][1]) : 0;
  const values: Record<string, MetricValue> = {};
  for (const metric of metrics) {
    if (metric.name === 'acc') values.acc = hit(pred);
    else if (metric.name === 'acc_norm') values.acc_norm = hit(predNorm);
    else if (metric.name === 'acc_bytes') values.acc_bytes = hit(predBytes);
    else if (metric.name === 'exact_match') values.exact_match = exact;
    else if (metric.name === 'acc_mutual_info') values.acc_mutual_info = hit(argmax(lls.map((ll, i) => ll - unconditional[i])));
    else if (isAnswerMetric(metric)) continue;
    else if (metric.name === 'f1' && metric.aggregation === 'macro_f1') values.f1 = [golds[0], pred, choices.length];
    else if (metric.name === 'f1' || metric.name === 'mcc') values[metric.name] = [golds[0], pred] as [number, number];
    else if (metric.name === 'brier_score') values.brier_score = [golds[0], softmax(lls)];
  }
  return values;
}

/** numpy's pairwise summation (what np.sum / np.mean add in), for exact agreement. */
export function numpySum(values: readonly number[], start = 0, count = values.length): number {
  if (count < 8) {
    let total = 0;
    for (let i = start; i < start + count; i++) total += values[i];
    return total;
  }
  if (count <= 128) {
    const r = values.slice(start, start + 8);
    let i = 8;
    for (; i < count - (count % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += values[start + i + j];
    let total = r[0] + r[1] + (r[2] + r[3]) + (r[4] + r[5] + (r[6] + r[7]));
    for (; i < count; i++) total += values[start + i];
    return total;
  }
  let half = Math.floor(count / 2);
  half -= half % 8;
  return numpySum(values, start, half) + numpySum(values, start + half, count - half);
}

/** (gold, prediction) counts of the positive class 1, as scikit-learn's binary scores count them. */
function binaryCounts(items: readonly [number, number][]): { tp: number; fp: number; fn: number } {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const [gold, pred] of items) {
    if (pred === 1 && gold === 1) tp++;
    else if (pred === 1) fp++;
    else if (gold === 1) fn++;
  }
  return { tp, fp, fn };
}

/** sklearn.metrics.f1_score (binary, pos_label 1; 0 when there is nothing to score). */
function f1Score(items: readonly [number, number][]): number {
  const { tp, fp, fn } = binaryCounts(items);
  const denominator = 2 * tp + fp + fn;
  return denominator === 0 ? 0 : (2 * tp) / denominator;
}

/**
 * The mean over the classes 0…k−1 (k: the document's choice count) of each class's one-vs-rest binary F1, as
 * lm-eval's CB aggregation (super_glue/cb/aggregate.py cb_multi_fi) computes it with scikit-learn's f1_score.
 */
function macroF1(items: readonly [number, number, number][]): number {
  const classes = Math.max(...items.map(([, , count]) => count));
  let total = 0;
  for (let label = 0; label < classes; label++) total += f1Score(items.map(([gold, pred]) => [Number(gold === label), Number(pred === label)]));
  return total / classes;
}

/** sklearn.metrics.matthews_corrcoef, from the confusion matrix as it computes it. */
function matthewsCorrcoef(items: readonly [number, number][]): number {
  const labels = [...new Set(items.flatMap(([gold, pred]) => [gold, pred]))].sort((a, b) => a - b);
  const trueSums = labels.map((label) => items.filter(([gold]) => gold === label).length);
  const predSums = labels.map((label) => items.filter(([, pred]) => pred === label).length);
  const correct = items.filter(([gold, pred]) => gold === pred).length;
  const samples = items.length;
  const dot = (a: number[], b: number[]) => a.reduce((sum, value, i) => sum + value * b[i], 0);
  const covTruePred = correct * samples - dot(trueSums, predSums);
  const covPredPred = samples * samples - dot(predSums, predSums);
  const covTrueTrue = samples * samples - dot(trueSums, trueSums);
  if (covPredPred * covTrueTrue === 0) return 0;
  return covTruePred / Math.sqrt(covTrueTrue * covPredPred);
}

/** lm-eval's brier_score aggregation: the mean over documents of Σ (p − onehot(gold))². */
function brierScore(items: readonly [number, number[]][]): number {
  const rows = items.map(([gold, probabilities]) => numpySum(probabilities.map((p, i) => (p - (i === gold ? 1 : 0)) ** 2)));
  return numpySum(rows) / rows.length;
}

function mean(items: readonly number[]): number {
  let total = 0;
  for (const item of items) total += item;
  return total / items.length;
}

function weightedMean(items: readonly [number, number][]): number {
  let a = 0;
  let b = 0;
  for (const [x] of items) a += x;
  for (const [, y] of items) b += y;
  return a / b;
}

function sampleStddev(items: readonly number[]): number {
  const mu = mean(items);
  let total = 0;
  for (const item of items) total += (item - mu) ** 2;
  return Math.sqrt(total / (items.length - 1));
}

function aggregate(aggregation: Aggregation, items: readonly MetricValue[]): number {
  switch (aggregation) {
    case 'mean':
      return mean(items as number[]);
    case 'nanmean': {
      const kept = (items as number[]).filter((item) => !Number.isNaN(item));
      return kept.length === 0 ? NaN : mean(kept);
    }
    case 'median':
      return [...(items as number[])].sort((a, b) => a - b)[Math.floor(items.length / 2)];
    case 'perplexity':
      return Math.exp(-mean(items as number[]));
    case 'weighted_perplexity':
      return Math.exp(-weightedMean(items as [number, number][]));
    case 'bits_per_byte':
      return -weightedMean(items as [number, number][]) / Math.log(2);
    case 'f1':
      return f1Score(items as [number, number][]);
    case 'macro_f1':
      return macroF1(items as [number, number, number][]);
    case 'matthews_corrcoef':
      return matthewsCorrcoef(items as [number, number][]);
    case 'brier_score':
      return brierScore(items as [number, number[]][]);
    case 'bleu':
    case 'chrf':
    case 'chrf++': {
      const pairs = items as [string, string][];
      const predictions = pairs.map(([, prediction]) => prediction);
      const references = pairs.map(([reference]) => [reference]);
      if (aggregation === 'bleu') return corpusBleu(predictions, references).score;
      return corpusChrf(predictions, references, { wordOrder: aggregation === 'chrf++' ? 2 : 0 }).score;
    }
  }
}

/** lm-eval's bootstrap_stderr: chunks of ≤1000 resamples, chunk i drawn with random.Random(i).choices. */
export function bootstrapStderr(aggregation: Aggregation, items: readonly MetricValue[], iterations: number): number {
  const chunk = Math.min(1000, iterations);
  const replicates: number[] = [];
  for (let i = 0; i < Math.floor(iterations / chunk); i++) {
    const random = new PythonRandom(i);
    for (let j = 0; j < chunk; j++) replicates.push(aggregate(aggregation, random.choices(items, items.length)));
  }
  return sampleStddev(replicates);
}

const BOOTSTRAPPED: Aggregation[] = ['median', 'perplexity', 'nanmean', 'bleu', 'chrf', 'chrf++', 'f1', 'matthews_corrcoef'];

/** The metric's value over all documents and its standard error ("N/A" where lm-eval gives none). */
export function aggregateMetric(aggregation: Aggregation, items: readonly MetricValue[], bootstrapIterations: number): { value: number; stderr: number | 'N/A' } {
  const value = aggregate(aggregation, items);
  if (bootstrapIterations <= 0 || items.length <= 1) return { value, stderr: 'N/A' };
  if (aggregation === 'mean') return { value, stderr: sampleStddev(items as number[]) / Math.sqrt(items.length) };
  // lm-eval caps the corpus metrics' resamples at 100.
  const iterations = CORPUS_METRICS.has(aggregation) ? Math.min(bootstrapIterations, 100) : bootstrapIterations;
  if (BOOTSTRAPPED.includes(aggregation)) return { value, stderr: bootstrapStderr(aggregation, items, iterations) };
  return { value, stderr: 'N/A' };
}
