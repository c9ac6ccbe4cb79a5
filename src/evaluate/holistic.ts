/**
 * A HELM-style multi-metric view of lm-eval tasks: for each task and system (a model, or the model with one of
 * several adapters), side by side,
 * - accuracy: the task's primary metric (its first metric under its first filter) with its standard error, from
 *   the plain lm-eval run;
 * - calibration (multiple_choice tasks): HELM's ece_10_bin and the rest of calibration.ts, from the softmax of
 *   the choices' log-likelihoods in that same run;
 * - robustness: the primary metric again with each document's own input text perturbed (perturbations.ts; the
 *   same documents in the same order, the few-shot examples and choices untouched), and HELM's worst case: per
 *   document the worst value over the original and every perturbation, aggregated as the metric aggregates;
 * - efficiency: seconds until the plain run's requests are answered (and its wall seconds, scoring included),
 *   documents/s and requests/s over the former, and memory (process RSS and live tensor bytes sampled at every
 *   batch, and the process's peak RSS so far).
 * Each task runs alone (so its time is its own); with batch size 1 its numbers equal a run of all tasks together.
 */
import { memory, getNumThreads } from '../torch/runtime.js';
import type { LanguageModel } from '../models/types.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';
import { TunekitError } from '../errors.js';
import { choiceCalibration, type ChoiceCalibration } from './calibration.js';
import { docToChoice, type Doc } from './doc-fields.js';
import { evaluateTasks, type EvaluateEvent, type EvaluationResults, type LoggedSample } from './evaluate.js';
import { aggregateGroups } from './groups.js';
import { DEFAULT_PERTURBATIONS, documentPerturber, parsePerturbations, perturbationLabel, type Perturbation } from './perturbations.js';
import { harnessFor, loadEvaluationTasks, type RunEvaluationOptions } from './run.js';
import type { EvalTask } from './task.js';
import { aggregateMetric, type Aggregation, type MetricValue } from './task-metrics.js';

export interface HolisticSystem {
  /** The column's name (e.g. "base", or the adapter's folder). */
  name: string;
  model: LanguageModel;
  /** Called before the system's runs: e.g. `() => peft.setAdapter('a1')` when systems share one PeftModel. */
  activate?: () => void;
}

export type HolisticEvent = EvaluateEvent | { type: 'holistic-run'; system: string; task: string; perturbation: string | null };

export interface HolisticOptions extends Omit<RunEvaluationOptions, 'onEvent'> {
  /** Default: typo (p 0.1), lowercase, uppercase, whitespace. An empty list skips robustness. */
  perturbations?: readonly Perturbation[];
  /** Seeds every perturbation as HELM does (`Random(str(seed) + "id<doc>")`); unset: `Random("id<doc>")`. */
  perturbationSeed?: number;
  /** Equal-mass bins of the ECE (default 10, HELM's ece_10_bin). */
  calibrationBins?: number;
  onEvent?: (event: HolisticEvent) => void;
}

export interface HolisticAccuracy {
  metric: string;
  filter: string;
  value: number;
  stderr: number | 'N/A';
}

export interface HolisticRobustness {
  metric: string;
  /** The metric with each perturbation, by its label. */
  perturbations: Record<string, number>;
  /** Per document the worst of the original and every perturbation, aggregated (null for corpus metrics). */
  worst_case: number | null;
}

export interface HolisticEfficiency {
  documents: number;
  requests: number;
  /** From the run's start until its last request is answered (prompt building included, scoring not). */
  seconds: number;
  /** The whole run, scoring and standard errors included. */
  wall_seconds: number;
  docs_per_second: number;
  requests_per_second: number;
  /** The most resident memory seen during the run (sampled before, after and at every batch). */
  peak_bytes: number;
  /** The most bytes of live tensors seen at the same samples. */
  peak_tensor_bytes: number;
  /** The process's peak resident memory so far (getrusage maxrss): it includes earlier runs. */
  max_rss_bytes: number;
  threads: number;
}

export interface HolisticCell {
  accuracy: HolisticAccuracy;
  calibration: ChoiceCalibration | null;
  robustness: HolisticRobustness | null;
  efficiency: HolisticEfficiency;
}

export interface HolisticTaskView {
  output_type: string;
  metric: string;
  filter: string;
  higher_is_better: boolean;
  systems: Record<string, HolisticCell>;
}

export interface HolisticView {
  signature: string;
  systems: string[];
  perturbations: string[];
  perturbation_seed: number | null;
  tasks: Record<string, HolisticTaskView>;
}

export interface HolisticRun {
  /** Each system's lm-eval results, in lm-eval's layout (samples only with logSamples). */
  results: Record<string, EvaluationResults>;
  holistic: HolisticView;
}

function fail(message: string): never {
  throw new TunekitError('E_HOLISTIC', message);
}

/** Memory high-water marks, sampled whenever `sample` is called. */
class PeakMeter {
  rss = 0;
  tensorBytes = 0;

  sample(): void {
    this.rss = Math.max(this.rss, process.memoryUsage.rss());
    this.tensorBytes = Math.max(this.tensorBytes, memory().liveBytes);
  }
}

/** One task's per-system evaluation results merged into lm-eval's layout, in the order evaluateTasks uses. */
function mergeResults(parts: readonly EvaluationResults[], keepSamples: boolean): EvaluationResults {
  const merged: EvaluationResults = { results: {}, group_subtasks: {}, configs: {}, versions: {}, 'n-shot': {}, higher_is_better: {}, 'n-samples': {} };
  if (keepSamples) merged.samples = {};
  for (const part of parts) {
    Object.assign(merged.results, part.results);
    Object.assign(merged['n-samples'], part['n-samples']);
    if (merged.samples !== undefined) Object.assign(merged.samples, part.samples);
  }
  const sorted = [...parts].sort((a, b) => {
    const [x, y] = [Object.keys(a.results)[0], Object.keys(b.results)[0]];
    return x < y ? -1 : x > y ? 1 : 0;
  });
  for (const part of sorted) {
    Object.assign(merged.configs, part.configs);
    Object.assign(merged.versions, part.versions);
    Object.assign(merged['n-shot'], part['n-shot']);
    Object.assign(merged.higher_is_better, part.higher_is_better);
  }
  return merged;
}

/** How good one document's value is (higher is better), or null where a corpus metric has no per-document value. */
function documentGoodness(aggregation: Aggregation, higherIsBetter: boolean, item: MetricValue): number | null {
  switch (aggregation) {
    case 'mean':
    case 'median':
    case 'nanmean':
      return higherIsBetter ? (item as number) : -(item as number);
    case 'perplexity':
      return item as number; // a log-likelihood
    case 'weighted_perplexity':
    case 'bits_per_byte': {
      const [ll, weight] = item as [number, number];
      return ll / weight;
    }
    case 'f1':
    case 'macro_f1':
    case 'matthews_corrcoef': {
      const [gold, prediction] = item as [number, number];
      return gold === prediction ? 1 : 0;
    }
    case 'brier_score': {
      const [gold, probabilities] = item as [number, number[]];
      return -probabilities.reduce((sum, p, i) => sum + (p - (i === gold ? 1 : 0)) ** 2, 0);
    }
    case 'bleu':
    case 'chrf':
    case 'chrf++':
      return null;
  }
}

/** HELM's worst case: per document the worst of its values across runs (NaN only when all are), aggregated. */
export function worstCaseMetric(aggregation: Aggregation, higherIsBetter: boolean, runs: readonly (readonly MetricValue[])[]): number | null {
  if (runs.length === 0) return null;
  const count = runs[0].length;
  if (runs.some((items) => items.length !== count)) throw new RangeError('every run must score the same documents');
  const chosen: MetricValue[] = [];
  for (let d = 0; d < count; d++) {
    let worst: MetricValue | undefined;
    let worstGoodness = Infinity;
    for (const items of runs) {
      const goodness = documentGoodness(aggregation, higherIsBetter, items[d]);
      if (goodness === null) return null;
      if (Number.isNaN(goodness)) continue;
      if (worst === undefined || goodness < worstGoodness) {
        worst = items[d];
        worstGoodness = goodness;
      }
    }
    chosen.push(worst ?? runs[0][d]);
  }
  return aggregateMetric(aggregation, chosen, 0).value;
}

interface TaskRunOutput {
  results: EvaluationResults;
  samples: LoggedSample[];
}

function primaryOf(task: EvalTask): { metric: string; filter: string; aggregation: Aggregation; higherIsBetter: boolean } {
  const metric = task.metrics[0];
  const filter = task.filters[0];
  if (metric === undefined || filter === undefined) fail(`task "${task.name}" has no metric or no filter to report`);
  return { metric: metric.name, filter: filter.name, aggregation: metric.aggregation, higherIsBetter: metric.higherIsBetter };
}

/** The primary metric's per-document values of one run, in document order. */
function documentValues(output: TaskRunOutput, metric: string, filter: string): MetricValue[] {
  return output.samples.filter((sample) => sample.filter === filter).map((sample) => sample[metric] as MetricValue);
}

function calibrationOf(task: EvalTask, samples: readonly LoggedSample[], filter: string, bins: number): ChoiceCalibration | null {
  if (task.config.outputType !== 'multiple_choice') return null;
  const documents = samples
    .filter((sample) => sample.filter === filter)
    .map((sample) => {
      const doc = sample.doc as Doc;
      const choices = docToChoice(task, doc);
      // Each request's one response is [log-likelihood, greedy]; acc_mutual_info's unconditional ones come after.
      const logLikelihoods = (sample.resps as [number, boolean][][]).slice(0, choices.length).map((responses) => responses[0][0]);
      return { logLikelihoods, gold: task.goldIndex(doc, choices) };
    });
  return documents.length === 0 ? null : choiceCalibration(documents, bins);
}

function signature(options: HolisticOptions, labels: readonly string[]): string {
  return [
    'accuracy=first metric|first filter',
    `calibration=ece ${options.calibrationBins ?? 10}-bin equal-mass top-label L1 (HELM ece_10_bin), softmax over choice log-likelihoods`,
    `robustness=worst over original+perturbations per document (HELM)`,
    `perturbations=${labels.join('+') || 'none'}`,
    `seed=${options.perturbationSeed ?? 'none'}`,
  ].join(' | ');
}

/**
 * Runs every task on every system: once as lm-eval would (accuracy, calibration, efficiency), then once per
 * perturbation (robustness). Systems run one after the other, each task alone.
 */
export async function runHolisticEvaluation(systems: readonly HolisticSystem[], tokenizer: Tokenizer | null, tasks: readonly string[], options: HolisticOptions = {}): Promise<HolisticRun> {
  if (tokenizer === null) throw new TunekitError('E_NO_TOKENIZER', 'evaluation needs the model\'s tokenizer.json (this model folder has none)');
  if (systems.length === 0) fail('no systems to evaluate');
  const names = systems.map((system) => system.name);
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) fail(`system "${repeated}" is given twice`);
  const perturbations = options.perturbations ?? parsePerturbations(DEFAULT_PERTURBATIONS);
  const labels = perturbations.map(perturbationLabel);
  const bins = options.calibrationBins ?? 10;
  const emit = options.onEvent ?? (() => {});
  const { loaded, groups } = await loadEvaluationTasks(tasks, options);
  const view: HolisticView = { signature: signature(options, labels), systems: names, perturbations: labels, perturbation_seed: options.perturbationSeed ?? null, tasks: {} };
  for (const task of loaded) {
    const primary = primaryOf(task);
    view.tasks[task.name] = { output_type: task.config.outputType, metric: primary.metric, filter: primary.filter, higher_is_better: primary.higherIsBetter, systems: {} };
  }
  const results: Record<string, EvaluationResults> = {};
  for (const system of systems) {
    system.activate?.();
    const harness = harnessFor(system.model, tokenizer, options);
    const parts: EvaluationResults[] = [];
    for (const task of loaded) {
      const primary = primaryOf(task);
      emit({ type: 'holistic-run', system: system.name, task: task.name, perturbation: null });
      const meter = new PeakMeter();
      let requests = 0;
      let answered: number | undefined;
      meter.sample();
      const start = performance.now();
      const plain = evaluateTasks(harness, [task], {
        ...options,
        logSamples: true,
        onEvent: (event) => {
          if (event.type === 'requests') requests = event.requests;
          if (event.type === 'progress') {
            meter.sample();
            if (event.done >= event.total) answered = performance.now();
          }
          emit(event);
        },
      });
      const end = performance.now();
      const seconds = ((answered ?? end) - start) / 1000;
      meter.sample();
      const samples = plain.samples?.[task.name] ?? [];
      parts.push(options.logSamples ? plain : { ...plain, samples: undefined });
      const row = plain.results[task.name];
      const documents = plain['n-samples'][task.name].effective;
      const efficiency: HolisticEfficiency = {
        documents,
        requests,
        seconds,
        wall_seconds: (end - start) / 1000,
        docs_per_second: documents / seconds,
        requests_per_second: requests / seconds,
        peak_bytes: meter.rss,
        peak_tensor_bytes: meter.tensorBytes,
        max_rss_bytes: process.resourceUsage().maxRSS * 1024,
        threads: getNumThreads(),
      };
      let robustness: HolisticRobustness | null = null;
      // A rolling task scores its text alone: it has no input to perturb.
      if (perturbations.length > 0 && task.config.outputType !== 'loglikelihood_rolling') {
        const original = documentValues({ results: plain, samples }, primary.metric, primary.filter);
        const runs: MetricValue[][] = [original];
        robustness = { metric: primary.metric, perturbations: {}, worst_case: null };
        perturbations.forEach((perturbation, i) => {
          emit({ type: 'holistic-run', system: system.name, task: task.name, perturbation: labels[i] });
          const perturbed = evaluateTasks(harness, [task], { ...options, bootstrapIterations: 0, logSamples: true, perturbInput: documentPerturber(perturbation, options.perturbationSeed), onEvent: emit });
          const values = documentValues({ results: perturbed, samples: perturbed.samples?.[task.name] ?? [] }, primary.metric, primary.filter);
          if (values.length !== original.length) fail(`task "${task.name}": the ${labels[i]} run scored ${values.length} documents, the original ${original.length}`);
          (robustness as HolisticRobustness).perturbations[labels[i]] = perturbed.results[task.name][`${primary.metric},${primary.filter}`] as number;
          runs.push(values);
        });
        robustness.worst_case = worstCaseMetric(primary.aggregation, primary.higherIsBetter, runs);
      }
      view.tasks[task.name].systems[system.name] = {
        accuracy: { metric: primary.metric, filter: primary.filter, value: row[`${primary.metric},${primary.filter}`] as number, stderr: row[`${primary.metric}_stderr,${primary.filter}`] as number | 'N/A' },
        calibration: calibrationOf(task, samples, primary.filter, bins),
        robustness,
        efficiency,
      };
    }
    results[system.name] = aggregateGroups(mergeResults(parts, options.logSamples === true), groups);
  }
  return { results, holistic: view };
}
