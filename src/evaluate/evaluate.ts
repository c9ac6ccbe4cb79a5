/**
 * lm-eval's simple_evaluate for a loaded model: build every task's requests, run them by kind, filter, score each
 * document and aggregate, returning lm-eval's results layout (`results`, `configs`, `versions`, `n-shot`,
 * `higher_is_better`, `n-samples`, and with logSamples the per-document `samples`).
 */
import { createHash } from 'node:crypto';
import { floatRepr } from '../data/template.js';
import type { Response } from './filters.js';
import { HarnessModel, type GenerationRequest, type LoglikelihoodRequest } from './harness-model.js';
import { aggregateMetric, type MetricValue } from './task-metrics.js';
import type { TaskConfig } from './task-config.js';
import type { DocumentInputPerturber, DocumentRequests, EvalTask } from './task.js';

export interface EvaluateOptions {
  /** Overrides every task's num_fewshot (except tasks that fix it to 0, as lm-eval). */
  numFewshot?: number;
  /** Documents per task: a count, or a fraction below 1. */
  limit?: number;
  /** lm-eval's bootstrap_iters (default 100000); 0 gives no standard errors. */
  bootstrapIterations?: number;
  logSamples?: boolean;
  /** Rewrites each document's own input text (holistic robustness runs); the documents stay the same. */
  perturbInput?: DocumentInputPerturber;
  /** Progress of the model's work. */
  onEvent?: (event: EvaluateEvent) => void;
}

export type EvaluateEvent =
  | { type: 'requests'; task: string; documents: number; requests: number; numFewshot: number }
  | { type: 'progress'; kind: 'loglikelihood' | 'loglikelihood_rolling' | 'generate_until'; done: number; total: number }
  | { type: 'task-done'; task: string; results: Record<string, unknown> };

export interface LoggedSample {
  doc_id: number;
  doc: Record<string, unknown>;
  target: unknown;
  arguments: unknown[];
  resps: unknown[];
  filtered_resps: unknown[];
  filter: string;
  metrics: string[];
  doc_hash: string;
  prompt_hash: string;
  target_hash: string;
  [metric: string]: unknown;
}

export interface EvaluationResults {
  results: Record<string, Record<string, unknown>>;
  /** Groups with an aggregate_metric_list: their rows again. */
  groups?: Record<string, Record<string, unknown>>;
  group_subtasks: Record<string, string[]>;
  configs: Record<string, Record<string, unknown>>;
  versions: Record<string, unknown>;
  'n-shot': Record<string, number>;
  higher_is_better: Record<string, Record<string, boolean>>;
  'n-samples': Record<string, { original: number; effective: number }>;
  samples?: Record<string, LoggedSample[]>;
}

export function hashString(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Python's str() of a target (ints, floats, lists as repr). */
export function pythonText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : floatRepr(value);
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value === null) return 'None';
  if (Array.isArray(value)) return `[${value.map((item) => (typeof item === 'string' ? `'${item.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'` : pythonText(item))).join(', ')}]`;
  return JSON.stringify(value);
}

/** TaskConfig.to_dict as lm-eval dumps it into the results' configs (unset fields left out). */
export function dumpTaskConfig(config: TaskConfig, numFewshot: number): Record<string, unknown> {
  const raw = config.raw;
  const dump: Record<string, unknown> = {};
  const put = (key: string, value: unknown) => {
    if (value !== undefined && value !== null) dump[key] = value;
  };
  put('task', config.task);
  put('task_alias', config.taskAlias);
  put('dataset_path', config.datasetPath);
  put('dataset_name', config.datasetName);
  put('dataset_kwargs', raw.dataset_kwargs);
  put('training_split', config.trainingSplit);
  put('validation_split', config.validationSplit);
  put('test_split', config.testSplit);
  put('fewshot_split', config.fewshotSplit);
  put('doc_to_text', raw.doc_to_text);
  put('doc_to_target', raw.doc_to_target);
  put('unsafe_code', raw.unsafe_code ?? false);
  put('doc_to_choice', raw.doc_to_choice);
  put('description', config.description);
  put('target_delimiter', config.targetDelimiter);
  put('fewshot_delimiter', config.fewshotDelimiter);
  const fewshot = config.fewshotConfig;
  dump.fewshot_config = {
    sampler: fewshot.sampler,
    split: fewshot.split ?? null,
    process_docs: null,
    fewshot_indices: null,
    samples: fewshot.samples ?? null,
    doc_to_text: fewshot.docToText ?? null,
    doc_to_choice: fewshot.docToChoice ?? null,
    doc_to_target: fewshot.docToTarget ?? null,
    gen_prefix: fewshot.genPrefix ?? null,
    fewshot_delimiter: fewshot.fewshotDelimiter,
    target_delimiter: fewshot.targetDelimiter,
  };
  put('num_fewshot', numFewshot);
  put('metric_list', raw.metric_list);
  put('output_type', config.outputType);
  put('generation_kwargs', config.generationKwargs);
  put('repeats', 1);
  put('filter_list', raw.filter_list);
  put('should_decontaminate', raw.should_decontaminate ?? false);
  put('doc_to_decontamination_query', raw.doc_to_decontamination_query);
  put('gen_prefix', config.genPrefix);
  const metadata = { ...(config.metadata ?? {}) };
  if (config.source !== null) metadata.config_source = config.source;
  if (Object.keys(metadata).length > 0) dump.metadata = metadata;
  return dump;
}

/** The shots a task runs with: the override, unless the task fixes 0; else its own, else 0. */
export function effectiveFewshot(config: TaskConfig, override: number | undefined): number {
  if (override !== undefined) return config.numFewshot === 0 ? 0 : override;
  return config.numFewshot ?? 0;
}

interface TaskRun {
  task: EvalTask;
  numFewshot: number;
  documents: DocumentRequests[];
  /** Per document, per request: the model's responses (one each: repeats is 1). */
  responses: Response[][][];
}

export function evaluateTasks(model: HarnessModel, tasks: readonly EvalTask[], options: EvaluateOptions = {}): EvaluationResults {
  const emit = options.onEvent ?? (() => {});
  const runs: TaskRun[] = tasks.map((task) => {
    const numFewshot = effectiveFewshot(task.config, options.numFewshot);
    const documents = task.buildRequests(numFewshot, options.limit, options.perturbInput);
    emit({ type: 'requests', task: task.name, documents: documents.length, requests: documents.reduce((sum, doc) => sum + doc.arguments.length, 0), numFewshot });
    return { task, numFewshot, documents, responses: documents.map((doc) => doc.arguments.map(() => [])) };
  });
  runKind(runs, 'loglikelihood', (requests) => {
    const { onProgress } = progressFor(emit, 'loglikelihood');
    return withProgress(model, onProgress, () => model.loglikelihood(requests.map(([context, continuation]) => ({ context, continuation }) as LoglikelihoodRequest)));
  });
  runKind(runs, 'generate_until', (requests) => {
    const { onProgress } = progressFor(emit, 'generate_until');
    return withProgress(model, onProgress, () => model.generateUntil(requests.map(([context, kwargs]) => ({ context, kwargs }) as GenerationRequest)));
  });
  runKind(runs, 'loglikelihood_rolling', (requests) => {
    const { onProgress } = progressFor(emit, 'loglikelihood_rolling');
    return withProgress(model, onProgress, () => model.loglikelihoodRolling(requests.map(([text]) => text as string)));
  });

  const output: EvaluationResults = { results: {}, group_subtasks: {}, configs: {}, versions: {}, 'n-shot': {}, higher_is_better: {}, 'n-samples': {} };
  if (options.logSamples) output.samples = {};
  for (const run of runs) {
    const { results, samples } = scoreRun(run, options);
    output.results[run.task.name] = results;
    emit({ type: 'task-done', task: run.task.name, results });
    if (output.samples !== undefined) output.samples[run.task.name] = samples;
  }
  const sorted = [...runs].sort((a, b) => (a.task.name < b.task.name ? -1 : a.task.name > b.task.name ? 1 : 0));
  for (const run of sorted) {
    const { config } = run.task;
    output.configs[run.task.name] = dumpTaskConfig(config, run.numFewshot);
    output.versions[run.task.name] = config.metadata?.version ?? 'Yaml';
    output['n-shot'][run.task.name] = run.numFewshot;
    output.higher_is_better[run.task.name] = Object.fromEntries(run.task.metrics.map((metric) => [metric.name, metric.higherIsBetter]));
  }
  for (const run of runs) output['n-samples'][run.task.name] = { original: run.task.evalDocs.length, effective: run.documents.length };
  return output;
}

type RequestKind = 'loglikelihood' | 'generate_until' | 'loglikelihood_rolling';

function requestKind(task: EvalTask): RequestKind {
  return task.config.outputType === 'multiple_choice' ? 'loglikelihood' : task.config.outputType;
}

/** Runs every request of one kind, across tasks, in one call (as the evaluator groups them). */
function runKind(runs: TaskRun[], kind: RequestKind, call: (requests: RequestArgumentsList) => Response[]): void {
  const requests: RequestArgumentsList = [];
  const owners: [TaskRun, number, number][] = [];
  for (const run of runs) {
    if (requestKind(run.task) !== kind) continue;
    run.documents.forEach((document, d) =>
      document.arguments.forEach((argument, r) => {
        requests.push(argument);
        owners.push([run, d, r]);
      }),
    );
  }
  if (requests.length === 0) return;
  const responses = call(requests);
  responses.forEach((response, i) => {
    const [run, d, r] = owners[i];
    run.responses[d][r].push(response);
  });
}

type RequestArgumentsList = DocumentRequests['arguments'];

function progressFor(emit: (event: EvaluateEvent) => void, kind: RequestKind) {
  return { onProgress: (done: number, total: number) => emit({ type: 'progress', kind, done, total }) };
}

function withProgress<T>(model: HarnessModel, onProgress: (done: number, total: number) => void, fn: () => T): T {
  model.progress = onProgress;
  try {
    return fn();
  } finally {
    model.progress = undefined;
  }
}

function scoreRun(run: TaskRun, options: EvaluateOptions): { results: Record<string, unknown>; samples: LoggedSample[] } {
  const { task } = run;
  const raw = new Map<string, { metric: string; filter: string; items: MetricValue[] }>();
  const samples: LoggedSample[] = [];
  for (const filter of task.filters) {
    run.documents.forEach((document, d) => {
      const filtered = run.responses[d].map((responses) => filter.apply(responses));
      const metrics = task.processResults(document.doc, filtered);
      for (const [metric, value] of Object.entries(metrics)) {
        const key = `${metric},${filter.name}`;
        const entry = raw.get(key) ?? { metric, filter: filter.name, items: [] };
        entry.items.push(value);
        raw.set(key, entry);
      }
      if (options.logSamples) {
        const target = task.gold(document.doc);
        samples.push({
          doc_id: document.docId,
          doc: document.doc,
          target,
          arguments: document.arguments,
          resps: run.responses[d],
          filtered_resps: filtered,
          filter: filter.name,
          metrics: Object.keys(metrics),
          doc_hash: hashString(JSON.stringify(document.doc, null, 2)),
          prompt_hash: hashString(document.arguments[0][0]),
          target_hash: hashString(pythonText(target)),
          ...metrics,
        });
      }
    });
  }
  const results: Record<string, unknown> = { name: task.name, alias: task.config.taskAlias ?? task.name, sample_len: 0 };
  let sampleLength = 0;
  const iterations = options.bootstrapIterations ?? 100000;
  for (const { metric, filter, items } of raw.values()) {
    const aggregation = task.metrics.find((entry) => entry.name === metric)?.aggregation ?? 'mean';
    const { value, stderr } = aggregateMetric(aggregation, items, iterations);
    results[`${metric},${filter}`] = value;
    results[`${metric}_stderr,${filter}`] = stderr;
    sampleLength = Math.max(sampleLength, items.length);
  }
  results.sample_len = sampleLength;
  return { results, samples };
}
