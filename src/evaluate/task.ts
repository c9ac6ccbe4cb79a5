/**
 * One task ready to run: its config, the documents it evaluates and draws few-shot examples from, and lm-eval's
 * request building (construct_requests) and scoring (process_results) for its output type.
 */
import { pythonStr } from '../data/template.js';
import { TunekitError } from '../errors.js';
import { docToChoice, docToTarget, docToText, type Doc, type DocContext } from './doc-fields.js';
import { DEFAULT_FEWSHOT_SEED, fewshotContext, FewshotSampler, multipleInputContexts } from './fewshot.js';
import { compileFilters, type CompiledFilter } from './filters.js';
import { answerMetric, CORPUS_METRICS, exactMatch, isAnswerMetric, multipleChoiceMetrics, resolveMetrics, ROUGE_METRICS, rougeScore, type MetricValue, type TaskMetric } from './task-metrics.js';
import { TASK_CONFIG_ERROR, type TaskConfig } from './task-config.js';
import { loadTaskSplit, type LoadSplitOptions, type TaskSplit } from './task-data.js';

/** One request of a document: what the model is asked (lm-eval's Instance.arguments). */
export type RequestArguments = [string, string] | [string] | [string, Record<string, unknown>];

/** A document's input text rewritten, given its index in the evaluation split (and the input's number). */
export type DocumentInputPerturber = (text: string, docId: number, part: number) => string;

export interface DocumentRequests {
  docId: number;
  doc: Doc;
  arguments: RequestArguments[];
}

export interface LoadTaskOptions extends LoadSplitOptions {
  /** The few-shot sampler's seed (lm-eval's fewshot_random_seed, default 1234). */
  fewshotSeed?: number;
}

function fail(task: string, message: string): never {
  throw new TunekitError(TASK_CONFIG_ERROR, `task "${task}": ${message}`);
}

export class EvalTask implements DocContext {
  readonly metrics: TaskMetric[];
  readonly filters: CompiledFilter[];
  readonly features: ReadonlySet<string>;

  private constructor(
    readonly config: TaskConfig,
    readonly evalDocs: Doc[],
    features: string[],
    readonly sampler: FewshotSampler,
  ) {
    this.features = new Set(features);
    this.metrics = resolveMetrics(config.task, config.outputType, config.metricList);
    this.filters = compileFilters(config.task, config.filterList);
  }

  /** Loads the evaluation split (test, else validation) and the few-shot pool lm-eval would use. */
  static async load(config: TaskConfig, options: LoadTaskOptions = {}): Promise<EvalTask> {
    const cache = new Map<string, Promise<TaskSplit>>();
    const split = (name: string) => {
      let loaded = cache.get(name);
      if (loaded === undefined) {
        loaded = loadTaskSplit(config, name, options);
        cache.set(name, loaded);
      }
      return loaded;
    };
    const evalSplit = (config.testSplit ?? config.validationSplit) as string;
    const evaluated = await split(evalSplit);
    const fewshot = config.fewshotConfig;
    let pool: Doc[] = [];
    let poolError: unknown;
    try {
      if (fewshot.split !== undefined) pool = (await split(fewshot.split)).docs;
      else if (fewshot.samples !== undefined) pool = fewshot.samples;
      else pool = (await split(config.trainingSplit ?? config.validationSplit ?? evalSplit)).docs;
    } catch (error) {
      // Local data files may hold only the evaluated split: that is enough for a zero-shot run.
      if (!(error instanceof TunekitError)) throw error;
      poolError = error;
    }
    const task = new EvalTask(config, evaluated.docs, evaluated.features, new FewshotSampler(pool, fewshot.sampler, options.fewshotSeed ?? DEFAULT_FEWSHOT_SEED));
    task.#poolError = poolError;
    task.#checkFirstDocument();
    return task;
  }

  get name(): string {
    return this.config.task;
  }

  /** lm-eval's __init__ probe: doc_to_text giving an index with choices makes a multiple-input task (Winogrande). */
  #checkFirstDocument(): void {
    if (this.config.outputType === 'loglikelihood_rolling') return;
    const text = docToText(this, this.evalDocs[0]);
    if (typeof text !== 'number') return;
    if (this.config.docToChoice === undefined) fail(this.name, 'doc_to_text gives a number, which only a task with doc_to_choice can use (as the index of its input)');
    if (this.config.outputType !== 'multiple_choice') fail(this.name, 'doc_to_text gives an index (a multiple-input task), which needs output_type multiple_choice');
    this.multipleInput = true;
  }

  #poolError: unknown;

  /** Each choice is an input and the target the one continuation (doc_to_text gives the gold index). */
  multipleInput = false;

  get #mutualInfo(): boolean {
    return this.metrics.some((metric) => metric.name === 'acc_mutual_info');
  }

  /** Whether doc_to_target gives a list for the first document: every document then has several right answers. */
  get multipleTargets(): boolean {
    return Array.isArray(docToTarget(this, this.evalDocs[0]));
  }

  /** The documents a run evaluates: all, or the first `limit` (a fraction below 1 is a share, rounded up). */
  documentCount(limit?: number): number {
    if (limit === undefined) return this.evalDocs.length;
    const count = limit < 1 ? Math.ceil(this.evalDocs.length * limit) : Math.floor(limit);
    return Math.min(count, this.evalDocs.length);
  }

  /**
   * build_all_requests: the few-shot context of each document in order (a sampler seeded afresh for each build,
   * advancing from document to document), then its requests. `perturbInput` rewrites each document's own input
   * text (see InputPerturber).
   */
  buildRequests(numFewshot: number, limit?: number, perturbInput?: DocumentInputPerturber): DocumentRequests[] {
    if (numFewshot > 0 && this.#poolError !== undefined) throw this.#poolError;
    const documents: DocumentRequests[] = [];
    const count = this.documentCount(limit);
    const sampler = this.sampler.restarted();
    for (let docId = 0; docId < count; docId++) {
      const doc = this.evalDocs[docId];
      const perturb = perturbInput === undefined ? undefined : (text: string, part: number) => perturbInput(text, docId, part);
      if (this.multipleInput) {
        const continuation = docToTarget(this, doc);
        if (typeof continuation !== 'string') fail(this.name, `a multiple-input task's doc_to_target must give the continuation text, got ${JSON.stringify(continuation)}`);
        const contexts = multipleInputContexts(this, sampler, doc, numFewshot, perturb);
        documents.push({ docId, doc, arguments: contexts.map((context) => [context, `${this.config.targetDelimiter}${continuation}`]) });
        continue;
      }
      // A rolling task scores its target alone; its prompt is built (and the sampler drawn) only when it has one.
      const rollingWithoutText = this.config.outputType === 'loglikelihood_rolling' && this.config.docToText === undefined;
      const context = rollingWithoutText ? '' : fewshotContext(this, sampler, doc, numFewshot, perturb);
      documents.push({ docId, doc, arguments: this.#requests(doc, context) });
    }
    return documents;
  }

  #requests(doc: Doc, context: string): RequestArguments[] {
    const { outputType, targetDelimiter } = this.config;
    if (outputType === 'loglikelihood') {
      const target = docToTarget(this, doc);
      if (typeof target !== 'string') fail(this.name, `a loglikelihood task's doc_to_target must give text, got ${JSON.stringify(target)}`);
      return [[context, target]];
    }
    if (outputType === 'loglikelihood_rolling') {
      const target = docToTarget(this, doc);
      if (typeof target !== 'string') fail(this.name, `a loglikelihood_rolling task's doc_to_target must give text, got ${JSON.stringify(target)}`);
      return [[target]];
    }
    if (outputType === 'multiple_choice') {
      const choices = docToChoice(this, doc);
      const requests: RequestArguments[] = choices.map((choice) => [context, `${targetDelimiter}${choice}`]);
      // acc_mutual_info also needs each choice's log-likelihood without the question.
      if (this.#mutualInfo) requests.push(...choices.map((choice): RequestArguments => ['', `${targetDelimiter}${choice}`]));
      return requests;
    }
    return [[context, structuredClone(this.config.generationKwargs as Record<string, unknown>)]];
  }

  /** The gold answer as process_results reads it: an index (or indices) for choices, text for generation. */
  gold(doc: Doc): unknown {
    return docToTarget(this, doc);
  }

  /** process_results for one document and one filter's responses (one per request). */
  processResults(doc: Doc, responses: unknown[]): Record<string, MetricValue> {
    const { outputType } = this.config;
    if (outputType === 'loglikelihood') {
      const [ll, greedy] = responses[0] as [number, boolean];
      const values: Record<string, MetricValue> = {};
      for (const metric of this.metrics) {
        if (metric.name === 'perplexity') values.perplexity = ll;
        else if (metric.name === 'acc') values.acc = Number(greedy);
      }
      return values;
    }
    if (outputType === 'loglikelihood_rolling') {
      const ll = responses[0] as number;
      const target = docToTarget(this, doc) as string;
      const words = target.split(/\s+/).length;
      const bytes = Buffer.byteLength(target, 'utf8');
      const values: Record<string, MetricValue> = {};
      for (const metric of this.metrics) values[metric.name] = [ll, metric.name === 'word_perplexity' ? words : bytes];
      return values;
    }
    if (outputType === 'multiple_choice') {
      const choices = docToChoice(this, doc);
      const scored = responses as [number, boolean][];
      const conditional = this.#mutualInfo ? scored.slice(0, choices.length) : scored;
      const unconditional = this.#mutualInfo ? scored.slice(choices.length).map(([ll]) => ll) : [];
      const values = multipleChoiceMetrics(this.metrics, conditional, choices, this.goldIndex(doc, choices), unconditional);
      for (const metric of this.metrics.filter(isAnswerMetric)) {
        const predictions = docToChoice(this, doc, metric.options.predictions as string);
        const references = docToChoice(this, doc, metric.options.references as string);
        if (predictions.length !== choices.length) fail(this.name, `metric ${metric.name}: predictions gives ${predictions.length} answers for ${choices.length} choices`);
        if (references.length === 0) fail(this.name, `metric ${metric.name}: references gives no answers`);
        values[metric.name] = answerMetric(metric.name as 'em' | 'f1', conditional.map(([ll]) => ll), predictions, references);
      }
      return values;
    }
    return this.#generationMetrics(doc, responses[0]);
  }

  /** The gold choice's index (or indices) as process_results compares it; -100 for a gold not among the choices. */
  goldIndex(doc: Doc, choices: string[] = docToChoice(this, doc)): number | number[] {
    const gold = this.multipleInput ? docToText(this, doc) : this.gold(doc);
    const index = (value: unknown): number => {
      if (typeof value === 'number') return value < choices.length ? value : -100;
      if (typeof value === 'string') return choices.includes(value) ? choices.indexOf(value) : -100;
      fail(this.name, `doc_to_target must give a choice index or a choice's text, got ${JSON.stringify(value)}`);
    };
    return Array.isArray(gold) ? gold.map(index) : index(gold);
  }

  #generationMetrics(doc: Doc, result: unknown): Record<string, MetricValue> {
    if (typeof result !== 'string') fail(this.name, `a generate_until filter must leave text, got ${JSON.stringify(result)}`);
    let gold = this.gold(doc);
    if (this.config.docToChoice !== undefined) gold = docToChoice(this, doc)[gold as number];
    const multiple = this.multipleTargets;
    const golds = multiple ? (Array.isArray(gold) ? gold : [gold]) : [gold];
    const asText = (value: unknown) => (typeof value === 'string' ? value : pythonStr(value));
    const values: Record<string, MetricValue> = {};
    for (const metric of this.metrics) {
      if (CORPUS_METRICS.has(metric.name)) {
        if (multiple) fail(this.name, `metric ${metric.name} scores one reference per document; doc_to_target gives several`);
        values[metric.name] = [asText(golds[0]), result];
        continue;
      }
      if (ROUGE_METRICS.has(metric.name)) {
        values[metric.name] = rougeScore(metric.name, result, golds.map(asText));
        continue;
      }
      const scores = golds.map((reference) => exactMatch(result, asText(reference), metric.options, `task "${this.name}" exact_match`));
      values[metric.name] = multiple ? (scores.some((score) => score > 0) ? 1 : 0) : scores[0];
    }
    return values;
  }
}
