/**
 * Calibration of multiple-choice answers as HELM measures it (helm.benchmark.metrics.basic_metrics, through the
 * `calibration` package of Kumar et al.): each document's confidence is the largest of the softmax of its
 * choices' log-likelihoods, and it is correct when that choice is gold.
 *
 * - ece_10_bin: top-label L1 calibration error over 10 equal-mass bins (`get_ece_em`): the sorted confidences cut
 *   into chunks of ceil(n / 10), each bin's upper edge halfway between one chunk's last and the next one's first
 *   (the last edge 1.0, repeated edges merged), a confidence going into the first bin whose edge is ≥ it; then
 *   Σ (bin size / n) · |mean confidence − accuracy|. HELM's binning asserts n ≥ 10; with fewer documents this uses
 *   n bins.
 * - ece_1_bin: one equal-width bin (`get_ece` with num_bins 1): |mean confidence − accuracy|.
 * - selective_cov_acc_area, selective_acc@10 (`get_selective_stats`): the accuracies of the k most confident
 *   answers for every k, averaged; and that accuracy at k = floor(0.1 n) + 1 (ties in confidence kept in document
 *   order, where numpy's argsort leaves them unspecified).
 * - brier_score: the mean over documents of Σ (p_i − [i is gold])², as lm-eval's brier_score (the first gold).
 */
import { numpySum } from './task-metrics.js';

export interface CalibrationBin {
  /** Confidences above `lower` (0 for the first bin) up to and including `upper`. */
  lower: number;
  upper: number;
  count: number;
  /** Mean confidence and accuracy of the bin (null when it is empty). */
  confidence: number | null;
  accuracy: number | null;
}

export interface CalibrationErrorResult {
  ece: number;
  bins: CalibrationBin[];
}

export type Binning = 'equal-mass' | 'equal-width';

/** The choice probabilities: the softmax of the log-likelihoods (normalized over the choices). */
export function choiceProbabilities(logLikelihoods: readonly number[]): number[] {
  const max = Math.max(...logLikelihoods);
  const exps = logLikelihoods.map((value) => Math.exp(value - max));
  const total = numpySum(exps);
  return exps.map((value) => value / total);
}

/** The upper bin edges of `get_equal_bins`: ~equal numbers of confidences per bin. */
export function equalMassEdges(confidences: readonly number[], numBins: number): number[] {
  const sorted = [...confidences].sort((a, b) => a - b);
  const bins = Math.min(numBins, sorted.length);
  const size = Math.ceil(sorted.length / bins);
  const chunks: number[][] = [];
  for (let i = 0; i < sorted.length; i += size) chunks.push(sorted.slice(i, i + size));
  const edges = chunks.slice(0, -1).map((chunk, i) => (chunk[chunk.length - 1] + chunks[i + 1][0]) / 2);
  edges.push(1);
  return [...new Set(edges)].sort((a, b) => a - b);
}

/** `get_equal_prob_bins`: edges 1/k, 2/k, …, 1. */
export function equalWidthEdges(numBins: number): number[] {
  return Array.from({ length: numBins }, (_, i) => (i + 1) / numBins);
}

/** numpy.searchsorted(edges, value) (side left): the first edge ≥ value. */
function binIndex(edges: readonly number[], value: number): number {
  let low = 0;
  let high = edges.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (edges[middle] < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Top-label expected calibration error (L1, no debiasing) of confidences in [0, 1] against 0/1 correctness. */
export function expectedCalibrationError(confidences: readonly number[], correct: readonly boolean[], numBins = 10, binning: Binning = 'equal-mass'): CalibrationErrorResult {
  if (confidences.length !== correct.length) throw new RangeError(`${confidences.length} confidences but ${correct.length} correctness values`);
  if (confidences.length === 0) throw new RangeError('calibration needs at least one document');
  if (!Number.isInteger(numBins) || numBins < 1) throw new RangeError(`the number of bins must be a positive integer, got ${numBins}`);
  for (const value of confidences) if (!(value >= 0 && value <= 1)) throw new RangeError(`a confidence must be in [0, 1], got ${value}`);
  const edges = binning === 'equal-mass' ? equalMassEdges(confidences, numBins) : equalWidthEdges(numBins);
  const members: number[][] = edges.map(() => []);
  confidences.forEach((value, i) => members[Math.min(binIndex(edges, value), edges.length - 1)].push(i));
  const n = confidences.length;
  let ece = 0;
  const bins = members.map((indices, b): CalibrationBin => {
    const lower = b === 0 ? 0 : edges[b - 1];
    if (indices.length === 0) return { lower, upper: edges[b], count: 0, confidence: null, accuracy: null };
    const confidence = numpySum(indices.map((i) => confidences[i])) / indices.length;
    const accuracy = numpySum(indices.map((i) => (correct[i] ? 1 : 0))) / indices.length;
    ece += (indices.length / n) * Math.abs(confidence - accuracy);
    return { lower, upper: edges[b], count: indices.length, confidence, accuracy };
  });
  return { ece, bins };
}

/** HELM's selective accuracy: area under the coverage-accuracy curve, and the accuracy of the top 10%. */
export function selectiveAccuracy(confidences: readonly number[], correct: readonly boolean[]): { coverageAccuracyArea: number; accuracyAt10: number } {
  const order = confidences.map((value, i) => [value, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  let hits = 0;
  const accuracies = order.map(([, i], rank) => {
    if (correct[i]) hits++;
    return hits / (rank + 1);
  });
  return { coverageAccuracyArea: numpySum(accuracies) / accuracies.length, accuracyAt10: accuracies[Math.floor(0.1 * accuracies.length)] };
}

export interface ChoiceCalibration {
  documents: number;
  /** ece_10_bin (equal-mass), HELM's headline calibration number. */
  ece: number;
  num_bins: number;
  binning: Binning;
  bins: CalibrationBin[];
  ece_1_bin: number;
  brier_score: number;
  selective_cov_acc_area: number;
  'selective_acc@10': number;
  mean_confidence: number;
}

/**
 * Calibration of multiple-choice documents from each document's choice log-likelihoods and gold index (or
 * indices; -100 for a gold that is not among the choices, which is never correct).
 */
export function choiceCalibration(documents: readonly { logLikelihoods: readonly number[]; gold: number | readonly number[] }[], numBins = 10): ChoiceCalibration {
  const confidences: number[] = [];
  const correct: boolean[] = [];
  const brier: number[] = [];
  for (const { logLikelihoods, gold } of documents) {
    const probabilities = choiceProbabilities(logLikelihoods);
    // The prediction as lm-eval's acc takes it: the first largest log-likelihood.
    let best = 0;
    for (let i = 1; i < logLikelihoods.length; i++) if (logLikelihoods[i] > logLikelihoods[best]) best = i;
    const golds = typeof gold === 'number' ? [gold] : gold;
    confidences.push(probabilities[best]);
    correct.push(golds.includes(best));
    brier.push(numpySum(probabilities.map((p, i) => (p - (i === golds[0] ? 1 : 0)) ** 2)));
  }
  const { ece, bins } = expectedCalibrationError(confidences, correct, numBins, 'equal-mass');
  const selective = selectiveAccuracy(confidences, correct);
  return {
    documents: documents.length,
    ece,
    num_bins: bins.length,
    binning: 'equal-mass',
    bins,
    ece_1_bin: expectedCalibrationError(confidences, correct, 1, 'equal-width').ece,
    brier_score: numpySum(brier) / brier.length,
    selective_cov_acc_area: selective.coverageAccuracyArea,
    'selective_acc@10': selective.accuracyAt10,
    mean_confidence: numpySum(confidences) / confidences.length,
  };
}
