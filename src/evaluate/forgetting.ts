/**
 * Catastrophic forgetting: held-out tasks (and perplexity on general text) scored on the base model and on each
 * fine-tuned system, document by document, and each change after − before reported with a paired bootstrap
 * interval over the documents. Every system sees the same documents in the same order with the same few-shot
 * examples (each system's tasks load afresh, so the few-shot sampler starts from its seed each time), which the
 * pairing checks through the prompts' hashes.
 *
 * A task is scored by its first metric (under its first filter), aggregated as the task aggregates it: a mean of
 * per-document values for accuracy, or the corpus statistic recomputed on each resample for the others. General
 * text is scored as lm-eval's wikitext is: each document's summed rolling log-likelihood, word perplexity
 * exp(−Σ ll / Σ words) with words as Python's re.split(r"\s+") counts them, and bits per byte −Σ ll / Σ bytes / ln 2.
 */
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { readTextFile } from '../io/text.js';
import type { LanguageModel } from '../models/types.js';
import { methodName, PeftModel } from '../peft/index.js';
import { REPORT_SCHEMA, type ComparisonReport, type ForgettingRow, type PairedDifference, type SystemSummary } from '../report/schema.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';
import { evaluateTasks, type EvaluateEvent } from './evaluate.js';
import { HarnessModel } from './harness-model.js';
import { allDocuments, bootstrapInterval, meanStatistic, pairedBootstrapDifference, ratioStatistic, type DocumentBootstrapOptions, type DocumentStatistic } from './paired-bootstrap.js';
import type { RunEvaluationOptions } from './run.js';
import { TaskIndex } from './task-index.js';
import { aggregateMetric, type Aggregation, type MetricValue } from './task-metrics.js';
import { EvalTask } from './task.js';

export const FORGETTING_ERROR = 'E_FORGETTING';

export interface ForgettingSystem {
  name: string;
  /** The tuned model, or `load` to have it loaded when its turn comes (and disposed after). */
  model?: LanguageModel;
  load?: () => Promise<{ model: LanguageModel; tokenizer?: Tokenizer | null }>;
  /** Default: the base model's tokenizer. */
  tokenizer?: Tokenizer | null;
  /** full, lora, prompt_tuning, …; default: read from a PeftModel's adapter, else full. */
  method?: string;
  label?: string;
  /** Default: a PeftModel's adapter parameters; a full model's all parameters when `method` is full. */
  trainableParameters?: number;
  trainSeconds?: number;
  loss?: SystemSummary['loss'];
  details?: SystemSummary['details'];
}

/** General text to measure perplexity on: documents, named in the rows' task column. */
export interface GeneralText {
  name: string;
  documents: string[];
}

export interface ForgettingOptions extends DocumentBootstrapOptions, Pick<RunEvaluationOptions, 'includePaths' | 'numFewshot' | 'limit' | 'fewshotSeed' | 'batchSize' | 'maxLength' | 'hub'> {
  /** Documents of the general text (default all). */
  textLimit?: number;
  onEvent?: (event: ForgettingEvent) => void;
}

export type ForgettingEvent =
  | { type: 'system'; system: string; index: number; systems: number }
  | { type: 'evaluate'; system: string; event: EvaluateEvent }
  | { type: 'text-progress'; system: string; done: number; total: number }
  | { type: 'system-done'; system: string; seconds: number };

export interface ForgettingInput {
  base: { model: LanguageModel; tokenizer: Tokenizer | null; name?: string };
  tuned: ForgettingSystem[];
  tasks: readonly string[];
  /** General text: named documents, or documents alone (named general_text). */
  generalText?: GeneralText | readonly string[];
  options?: ForgettingOptions;
}

/** One task's primary metric, per document, for one system. */
export interface TaskScores {
  task: string;
  metric: string;
  aggregation: Aggregation;
  higherIsBetter: boolean;
  values: MetricValue[];
  /** Per document: what the pairing compares (document and prompt hashes). */
  keys: string[];
}

export interface TextScores {
  name: string;
  logLikelihoods: number[];
  words: number[];
  bytes: number[];
}

export interface SystemScores {
  tasks: TaskScores[];
  text: TextScores | null;
}

/** The documents of a general-text file: .jsonl records' `text`, a .json list (of strings or {text}), or plain text in blank-line-separated paragraphs (one document per line when it has no blank line). */
export async function readGeneralText(file: string): Promise<GeneralText> {
  const text = await readTextFile(file);
  const name = path.basename(file).replace(/\.(jsonl|json|txt)$/i, '');
  const fromRecord = (record: unknown, where: string): string => {
    if (typeof record === 'string') return record;
    const value = typeof record === 'object' && record !== null ? (record as Record<string, unknown>).text : undefined;
    if (typeof value !== 'string') throw new TunekitError(FORGETTING_ERROR, `${where}: expected a record with a string "text" field`);
    return value;
  };
  let documents: string[];
  if (/\.jsonl$/i.test(file)) {
    documents = [];
    text.split('\n').forEach((line, index) => {
      if (line.trim() === '') return;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        throw new TunekitError(FORGETTING_ERROR, `${file}:${index + 1}: not valid JSON`);
      }
      documents.push(fromRecord(record, `${file}:${index + 1}`));
    });
  } else if (/\.json$/i.test(file)) {
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch {
      throw new TunekitError(FORGETTING_ERROR, `${file}: not valid JSON`);
    }
    if (!Array.isArray(list)) throw new TunekitError(FORGETTING_ERROR, `${file}: expected a JSON list of documents`);
    documents = list.map((record, index) => fromRecord(record, `${file}[${index}]`));
  } else {
    const normalized = text.replace(/\r\n?/g, '\n');
    const paragraphs = /\n[ \t]*\n/.test(normalized.trim()) ? normalized.split(/\n[ \t]*\n/) : normalized.split('\n');
    documents = paragraphs.map((paragraph) => paragraph.trim()).filter((paragraph) => paragraph !== '');
  }
  documents = documents.filter((document) => document.trim() !== '');
  if (documents.length === 0) throw new TunekitError(FORGETTING_ERROR, `${file}: no documents of general text`);
  return { name, documents };
}

/** Python's len(re.split(r"\s+", text)). */
function wordCount(text: string): number {
  return text.split(/\s+/u).length;
}

/** Each task's primary metric per document, and the general text's log-likelihoods, for one model. */
export async function scoreSystem(model: LanguageModel, tokenizer: Tokenizer | null, tasks: readonly string[], generalText: GeneralText | undefined, options: ForgettingOptions & { system?: string } = {}): Promise<SystemScores> {
  if (tokenizer === null) throw new TunekitError('E_NO_TOKENIZER', 'measuring forgetting needs the model\'s tokenizer.json (this model folder has none)');
  const system = options.system ?? 'model';
  const emit = options.onEvent ?? (() => {});
  const harness = new HarnessModel(model, tokenizer, { batchSize: options.batchSize, maxLength: options.maxLength });
  const scores: SystemScores = { tasks: [], text: null };
  if (tasks.length > 0) {
    const configs = new TaskIndex(options.includePaths ?? []).resolve(tasks);
    const loaded: EvalTask[] = [];
    for (const config of configs) loaded.push(await EvalTask.load(config, { hub: options.hub, fewshotSeed: options.fewshotSeed }));
    const results = evaluateTasks(harness, loaded, { numFewshot: options.numFewshot, limit: options.limit, bootstrapIterations: 0, logSamples: true, onEvent: (event) => emit({ type: 'evaluate', system, event }) });
    for (const task of loaded) {
      const metric = task.metrics[0];
      const filter = task.filters[0].name;
      const samples = (results.samples?.[task.name] ?? []).filter((sample) => sample.filter === filter);
      if (samples.length === 0) throw new TunekitError(FORGETTING_ERROR, `task "${task.name}" has no documents to score`);
      scores.tasks.push({
        task: task.name,
        metric: metric.name,
        aggregation: metric.aggregation,
        higherIsBetter: metric.higherIsBetter,
        values: samples.map((sample) => sample[metric.name] as MetricValue),
        keys: samples.map((sample) => `${sample.doc_hash}:${sample.prompt_hash}`),
      });
    }
  }
  if (generalText !== undefined) {
    const documents = options.textLimit === undefined ? generalText.documents : generalText.documents.slice(0, options.textLimit);
    if (documents.length === 0) throw new TunekitError(FORGETTING_ERROR, `general text "${generalText.name}" has no documents`);
    harness.progress = (done, total) => emit({ type: 'text-progress', system, done, total });
    const logLikelihoods = harness.loglikelihoodRolling(documents);
    harness.progress = undefined;
    scores.text = { name: generalText.name, logLikelihoods, words: documents.map(wordCount), bytes: documents.map((document) => Buffer.byteLength(document, 'utf8')) };
  }
  return scores;
}

/** A measured quantity: its rows' key, the statistic of each system's documents, its direction. */
interface Measure {
  task: string;
  metric: string;
  higherIsBetter: boolean;
  documents: number;
  statistic: (scores: SystemScores) => DocumentStatistic;
}

function taskStatistic(entry: TaskScores): DocumentStatistic {
  if (entry.aggregation === 'mean') return meanStatistic(entry.values as number[]);
  return (indices) => aggregateMetric(entry.aggregation, Array.from(indices, (index) => entry.values[index]), 0).value;
}

function textStatistic(text: TextScores, metric: 'word_perplexity' | 'bits_per_byte'): DocumentStatistic {
  return metric === 'word_perplexity' ? ratioStatistic(text.logLikelihoods, text.words, (ratio) => Math.exp(-ratio)) : ratioStatistic(text.logLikelihoods, text.bytes, (ratio) => -ratio / Math.LN2);
}

function measures(base: SystemScores): Measure[] {
  const list: Measure[] = base.tasks.map((entry, index) => ({ task: entry.task, metric: entry.metric, higherIsBetter: entry.higherIsBetter, documents: entry.values.length, statistic: (scores) => taskStatistic(scores.tasks[index]) }));
  const text = base.text;
  if (text !== null) {
    for (const metric of ['word_perplexity', 'bits_per_byte'] as const) {
      list.push({ task: text.name, metric, higherIsBetter: false, documents: text.logLikelihoods.length, statistic: (scores) => textStatistic(scores.text as TextScores, metric) });
    }
  }
  return list;
}

/** Refuses to pair systems whose documents or prompts differ. */
function checkPaired(system: string, before: SystemScores, after: SystemScores): void {
  if (before.tasks.length !== after.tasks.length) throw new TunekitError(FORGETTING_ERROR, `${system}: scored ${after.tasks.length} tasks, the base ${before.tasks.length}`);
  before.tasks.forEach((entry, index) => {
    const other = after.tasks[index];
    const same = other.task === entry.task && other.metric === entry.metric && other.keys.length === entry.keys.length && other.keys.every((key, i) => key === entry.keys[i]);
    if (!same) throw new TunekitError(FORGETTING_ERROR, `${system}: task "${entry.task}" was not scored on the same documents and prompts as the base model`);
  });
  if ((before.text === null) !== (after.text === null) || (before.text !== null && before.text.logLikelihoods.length !== after.text?.logLikelihoods.length)) {
    throw new TunekitError(FORGETTING_ERROR, `${system}: the general text was not scored on the same documents as the base model`);
  }
}

interface Compared {
  row: ForgettingRow;
  paired: PairedDifference;
}

function compare(system: string, measure: Measure, before: SystemScores, after: SystemScores, options: DocumentBootstrapOptions): Compared {
  const statisticBefore = measure.statistic(before);
  const statisticAfter = measure.statistic(after);
  const all = allDocuments(measure.documents);
  const paired = pairedBootstrapDifference(measure.documents, statisticBefore, statisticAfter, options);
  const row = { system, task: measure.task, metric: measure.metric, before: statisticBefore(all), after: statisticAfter(all), delta: { value: paired.difference, low: paired.low, high: paired.high }, higherIsBetter: measure.higherIsBetter, documents: measure.documents };
  return { row, paired };
}

/** One row per measure: before, after and the paired bootstrap interval of after − before. */
export function forgettingRows(system: string, before: SystemScores, after: SystemScores, options: DocumentBootstrapOptions = {}): ForgettingRow[] {
  checkPaired(system, before, after);
  return measures(before).map((measure) => compare(system, measure, before, after, options).row);
}

/** The method and parameter counts of a tuned system, where they can be known. */
function describeSystem(system: ForgettingSystem, model: LanguageModel): Pick<SystemSummary, 'method' | 'trainableParameters' | 'totalParameters'> {
  if (model instanceof PeftModel && model.activeAdapter !== null) {
    const name = model.activeAdapter;
    const adapter = model.adapterParameterCount(name);
    return { method: system.method ?? methodName(model.adapterConfig(name).peftType), trainableParameters: system.trainableParameters ?? adapter, totalParameters: model.trainableSummary().total };
  }
  const total = model.parameterCount().total;
  const method = system.method ?? 'full';
  return { method, trainableParameters: system.trainableParameters ?? (method === 'full' ? total : undefined), totalParameters: total };
}

function metricKey(measure: Measure): string {
  return `${measure.task}/${measure.metric}`;
}

/**
 * Scores the base model and every tuned system, and returns the comparison report: one SystemSummary per system
 * (each measure's value with its bootstrap interval; the tuned systems' paired differences against the base) and
 * the forgetting rows.
 */
export async function forgettingReport(input: ForgettingInput): Promise<ComparisonReport> {
  const options = input.options ?? {};
  const baseName = input.base.name ?? 'base';
  const names = new Set([baseName]);
  for (const system of input.tuned) {
    if (names.has(system.name)) throw new TunekitError(FORGETTING_ERROR, `two systems are named "${system.name}": give each tuned system its own name`);
    names.add(system.name);
    if ((system.model === undefined) === (system.load === undefined)) throw new TunekitError(FORGETTING_ERROR, `system "${system.name}": give its model or a load function, not both or neither`);
  }
  if (input.tasks.length === 0 && input.generalText === undefined) throw new TunekitError(FORGETTING_ERROR, 'nothing to measure: give tasks, general text, or both');
  const generalText: GeneralText | undefined = input.generalText === undefined ? undefined : 'documents' in input.generalText ? input.generalText : { name: 'general_text', documents: [...input.generalText] };
  const emit = options.onEvent ?? (() => {});
  const total = input.tuned.length + 1;
  const score = async (name: string, index: number, model: LanguageModel, tokenizer: Tokenizer | null): Promise<SystemScores> => {
    emit({ type: 'system', system: name, index, systems: total });
    const start = performance.now();
    const scores = await scoreSystem(model, tokenizer, input.tasks, generalText, { ...options, system: name });
    emit({ type: 'system-done', system: name, seconds: (performance.now() - start) / 1000 });
    return scores;
  };
  const before = await score(baseName, 0, input.base.model, input.base.tokenizer);
  const list = measures(before);
  const summary = (scores: SystemScores) => Object.fromEntries(list.map((measure) => [metricKey(measure), bootstrapInterval(measure.documents, measure.statistic(scores), options)]));
  const systems: SystemSummary[] = [{ name: baseName, label: baseName, method: 'base', metrics: summary(before), totalParameters: input.base.model.parameterCount().total }];
  const rows: ForgettingRow[] = [];
  for (const [index, system] of input.tuned.entries()) {
    const loaded = system.load === undefined ? null : await system.load();
    const model = loaded?.model ?? (system.model as LanguageModel);
    let after: SystemScores;
    let described: ReturnType<typeof describeSystem>;
    try {
      after = await score(system.name, index + 1, model, system.tokenizer ?? loaded?.tokenizer ?? input.base.tokenizer);
      described = describeSystem(system, model);
    } finally {
      loaded?.model.dispose();
    }
    checkPaired(system.name, before, after);
    const significance: SystemSummary['significance'] = {};
    for (const measure of list) {
      const { row, paired } = compare(system.name, measure, before, after, options);
      rows.push(row);
      significance[metricKey(measure)] = paired;
    }
    systems.push({
      name: system.name,
      label: system.label ?? system.name,
      ...described,
      metrics: summary(after),
      significance,
      ...(system.trainSeconds === undefined ? {} : { trainSeconds: system.trainSeconds }),
      ...(system.loss === undefined ? {} : { loss: system.loss }),
      ...(system.details === undefined ? {} : { details: system.details }),
    });
  }
  const notes = [`tasks: ${before.tasks.map((entry) => `${entry.task} (${entry.metric}, ${entry.values.length} documents)`).join(', ') || 'none'}`];
  if (before.text !== null) notes.push(`general text: ${before.text.name} (${before.text.logLikelihoods.length} documents, rolling log-likelihood)`);
  if (options.numFewshot !== undefined) notes.push(`${options.numFewshot}-shot`);
  return {
    schema: REPORT_SCHEMA,
    title: `Forgetting: ${input.tuned.map((system) => system.name).join(', ')} against ${baseName}`,
    createdAt: new Date().toISOString(),
    baseline: baseName,
    metrics: list.map(metricKey),
    confidence: options.confidence ?? 0.95,
    bootstrapSamples: options.samples ?? 1000,
    seed: options.seed ?? 12345,
    testSize: before.tasks.reduce((sum, entry) => sum + entry.values.length, 0) + (before.text?.logLikelihoods.length ?? 0),
    systems,
    forgetting: rows,
    notes,
  };
}

/** The forgetting rows of every tuned system against the base (forgettingReport's `forgetting`). */
export async function measureForgetting(input: ForgettingInput): Promise<ForgettingRow[]> {
  return (await forgettingReport(input)).forgetting ?? [];
}
