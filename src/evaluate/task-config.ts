/**
 * lm-evaluation-harness task YAML, read as lm-eval 0.4.13 reads it: PyYAML's YAML 1.1, `include:` merged under the
 * file's own keys (paths relative to the including file, cycles refused), TaskConfig's defaults, and every key
 * checked. `!function` needs Python, so a task that uses one is refused, naming the task, the key and the function.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isScalar, parse as parseYaml, parseDocument, type ScalarTag } from 'yaml';
import { floatRepr } from '../data/template.js';
import { TunekitError } from '../errors.js';
import { nearestName } from '../nearest.js';

export const TASK_CONFIG_ERROR = 'E_TASK_CONFIG';

export const OUTPUT_TYPES = ['multiple_choice', 'generate_until', 'loglikelihood', 'loglikelihood_rolling'] as const;
export type OutputType = (typeof OUTPUT_TYPES)[number];

/** A `!function module.name` value: kept so the error can name it. */
export class PythonFunctionReference {
  constructor(readonly name: string) {}
}

const functionTag: ScalarTag = {
  tag: '!function',
  resolve: (value: string) => new PythonFunctionReference(value) as unknown as string,
  identify: (value: unknown) => value instanceof PythonFunctionReference,
};

/** doc_to_text/doc_to_target/doc_to_choice: a Jinja template or field name, a fixed index, or a fixed list. */
export type DocSpec = string | number | unknown[] | Record<string, unknown>;

export interface MetricConfig {
  metric: string;
  aggregation?: string;
  higherIsBetter?: boolean;
  /** The remaining keys, passed to the metric (exact_match: ignore_case, ignore_punctuation, regexes_to_ignore…). */
  options: Record<string, unknown>;
}

export interface FilterStep {
  function: string;
  options: Record<string, unknown>;
}

export interface FilterPipeline {
  name: string;
  steps: FilterStep[];
}

/** FewshotConfig: what formats the few-shot examples (each unset field falls back to the task's own). */
export interface FewshotConfig {
  sampler: 'default' | 'first_n';
  split?: string;
  samples?: Record<string, unknown>[];
  docToText?: DocSpec;
  docToTarget?: DocSpec;
  docToChoice?: DocSpec;
  fewshotDelimiter: string;
  targetDelimiter: string;
  /** The examples' answer prefix (default: the task's gen_prefix). */
  genPrefix?: string;
}

export interface TaskConfig {
  task: string;
  taskAlias?: string;
  tags: string[];
  datasetPath: string;
  datasetName?: string;
  datasetKwargs: Record<string, unknown>;
  trainingSplit?: string;
  validationSplit?: string;
  testSplit?: string;
  fewshotSplit?: string;
  docToText?: DocSpec;
  docToTarget?: DocSpec;
  docToChoice?: DocSpec;
  description: string;
  targetDelimiter: string;
  fewshotDelimiter: string;
  /** Text (a field or a template) the answer starts with, after the question ("Answer:"). */
  genPrefix?: string;
  fewshotConfig: FewshotConfig;
  numFewshot?: number;
  outputType: OutputType;
  /** generate_until only: lm-eval's generation_kwargs with its defaults filled in (until, max_gen_toks…). */
  generationKwargs?: Record<string, unknown>;
  metricList: MetricConfig[];
  filterList: FilterPipeline[];
  metadata?: Record<string, unknown>;
  /** The YAML file it came from (null for a config given in code). */
  source: string | null;
  /** The merged keys as written (include resolved), for the results' `configs`. */
  raw: Record<string, unknown>;
  /** Splits given in code instead of loaded from the dataset (a converted BIG-bench task.json). */
  inlineSplits?: Record<string, Record<string, unknown>[]>;
}

/** One entry of a group's aggregate_metric_list. */
export interface GroupMetricConfig {
  metric: string;
  /** The filters to aggregate; undefined: every filter the member tasks report the metric under. */
  filterList?: string[];
  weightBySize: boolean;
}

export interface GroupConfig {
  group: string;
  groupAlias?: string;
  tasks: string[];
  aggregateMetricList: GroupMetricConfig[];
  /** str(metadata.version) as Python gives it, or "N/A". */
  version: string;
  source: string;
}

/** Keys TaskConfig defines that tunekit reads. */
const TASK_KEYS = [
  'task', 'task_alias', 'tag', 'dataset_path', 'dataset_name', 'dataset_kwargs', 'training_split', 'validation_split',
  'test_split', 'fewshot_split', 'doc_to_text', 'doc_to_target', 'doc_to_choice', 'description', 'target_delimiter',
  'fewshot_delimiter', 'fewshot_config', 'num_fewshot', 'output_type', 'generation_kwargs', 'metric_list',
  'filter_list', 'metadata', 'should_decontaminate', 'doc_to_decontamination_query', 'unsafe_code', 'repeats', 'gen_prefix',
];
/** TaskConfig keys whose lm-eval behaviour tunekit does not have (yet): refused rather than ignored. */
const UNSUPPORTED_KEYS: Record<string, string> = {
  process_docs: 'it is Python code run over each split',
  process_results: 'it is Python code scoring each document',
  use_prompt: 'promptsource templates are not bundled',
  doc_to_image: 'multimodal tasks are not supported',
  doc_to_audio: 'multimodal tasks are not supported',
  custom_dataset: 'it is Python code building the dataset',
  class: 'Python task classes need Python',
};
const FEWSHOT_KEYS = ['sampler', 'split', 'samples', 'doc_to_text', 'doc_to_target', 'doc_to_choice', 'fewshot_delimiter', 'target_delimiter', 'gen_prefix'];
const METRIC_KEYS_OWN = ['metric', 'aggregation', 'higher_is_better', 'hf_evaluate'];

function fail(where: string, message: string): never {
  throw new TunekitError(TASK_CONFIG_ERROR, `${where}: ${message}`);
}

function findFunction(value: unknown, at: string): { at: string; name: string } | null {
  if (value instanceof PythonFunctionReference) return { at, name: value.name };
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = findFunction(item, `${at}[${index}]`);
      if (found !== null) return found;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const found = findFunction(item, `${at}.${key}`);
      if (found !== null) return found;
    }
  }
  return null;
}

/** Reads one YAML file as a mapping, without resolving `include`. */
export function readTaskYaml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    fail(file, `cannot read: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text, { version: '1.1', customTags: [functionTag], prettyErrors: false, uniqueKeys: false });
  } catch (error) {
    fail(file, `not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(file, `expected a mapping of task keys, got ${Array.isArray(value) ? 'a list' : typeof value}`);
  return value as Record<string, unknown>;
}

/** A task file with its `include:` chain merged (included first, the file's own keys win), as lm-eval's load_yaml. */
export function readTaskFile(file: string, seen: Set<string> = new Set()): Record<string, unknown> {
  const resolved = path.resolve(file);
  if (seen.has(resolved)) fail(resolved, 'include cycle (this file includes itself through its includes)');
  seen.add(resolved);
  const own = readTaskYaml(resolved);
  if (!('include' in own)) return own;
  const { include, ...rest } = own;
  const includes = Array.isArray(include) ? include : [include];
  const merged: Record<string, unknown> = {};
  for (const entry of includes) {
    if (typeof entry !== 'string') fail(resolved, `include must be a file name or a list of them, got ${JSON.stringify(entry)}`);
    const target = path.isAbsolute(entry) ? entry : path.join(path.dirname(resolved), entry);
    const included = readTaskFile(target, seen);
    delete included.task_list;
    Object.assign(merged, included);
  }
  return Object.assign(merged, rest);
}

function optionalString(raw: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = raw[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') fail(where, `${key} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function stringOr(raw: Record<string, unknown>, key: string, where: string, fallback: string): string {
  return optionalString(raw, key, where) ?? fallback;
}

function docSpec(value: unknown, key: string, where: string): DocSpec | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' || Array.isArray(value)) return value;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'object' && key === 'doc_to_choice') return value as Record<string, unknown>;
  fail(where, `${key} must be a Jinja template, a field name${key === 'doc_to_choice' ? ', a list or a mapping' : ' or an integer'}, got ${JSON.stringify(value)}`);
}

function parseMetric(entry: unknown, index: number, where: string): MetricConfig {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) fail(where, `metric_list[${index}] must be a mapping with a "metric" key`);
  const record = entry as Record<string, unknown>;
  if (typeof record.metric !== 'string') fail(where, `metric_list[${index}] needs "metric": a metric name`);
  if (record.hf_evaluate === true) fail(where, `metric_list[${index}] (${record.metric}) uses hf_evaluate, which needs Python's evaluate library`);
  if (record.aggregation !== undefined && typeof record.aggregation !== 'string') fail(where, `metric_list[${index}].aggregation must be an aggregation name`);
  if (record.higher_is_better !== undefined && typeof record.higher_is_better !== 'boolean') fail(where, `metric_list[${index}].higher_is_better must be true or false`);
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) if (!METRIC_KEYS_OWN.includes(key)) options[key] = value;
  return { metric: record.metric, aggregation: record.aggregation as string | undefined, higherIsBetter: record.higher_is_better as boolean | undefined, options };
}

function parseFilters(value: unknown, where: string): FilterPipeline[] {
  if (!Array.isArray(value)) fail(where, 'filter_list must be a list of {name, filter: [{function, …}]}');
  return value.map((entry, index) => {
    if (entry === null || typeof entry !== 'object' || typeof (entry as Record<string, unknown>).name !== 'string' || !Array.isArray((entry as Record<string, unknown>).filter)) {
      fail(where, `filter_list[${index}] must be {name: NAME, filter: [{function: …}, …]}`);
    }
    const pipeline = entry as { name: string; filter: unknown[] };
    const steps = pipeline.filter.map((step, stepIndex) => {
      if (step === null || typeof step !== 'object' || typeof (step as Record<string, unknown>).function !== 'string') {
        fail(where, `filter_list[${index}] (${pipeline.name}) step ${stepIndex} needs "function": a filter name`);
      }
      const { function: name, ...options } = step as Record<string, unknown>;
      return { function: name as string, options };
    });
    return { name: pipeline.name, steps };
  });
}

/** lm-eval's default_gen_kwargs and TaskConfig.__post_init__: `until` defaults to the few-shot delimiter. */
function generationKwargs(raw: Record<string, unknown>, fewshotDelimiter: string, where: string): Record<string, unknown> {
  const given = raw.generation_kwargs;
  if (given === undefined || given === null) return { until: [fewshotDelimiter], do_sample: false, temperature: 0, max_gen_toks: 256 };
  if (typeof given !== 'object' || Array.isArray(given)) fail(where, 'generation_kwargs must be a mapping');
  const kwargs = { ...(given as Record<string, unknown>) };
  if (typeof kwargs.temperature === 'number') kwargs.temperature = Number(kwargs.temperature);
  if (!('until' in kwargs)) kwargs.until = [fewshotDelimiter];
  const until = kwargs.until;
  if (!(typeof until === 'string' || (Array.isArray(until) && until.every((item) => typeof item === 'string')))) fail(where, 'generation_kwargs.until must be a string or a list of strings');
  return kwargs;
}

function parseFewshotConfig(raw: Record<string, unknown>, task: Omit<TaskConfig, 'fewshotConfig'>, where: string): FewshotConfig {
  const value = raw.fewshot_config ?? {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(where, 'fewshot_config must be a mapping');
  const config = value as Record<string, unknown>;
  for (const key of Object.keys(config)) {
    if (!FEWSHOT_KEYS.includes(key)) {
      const near = nearestName(key, FEWSHOT_KEYS);
      fail(where, `fewshot_config.${key} is not supported${near === undefined ? '' : ` (did you mean ${near}?)`}; tunekit reads ${FEWSHOT_KEYS.join(', ')}`);
    }
  }
  const sampler = config.sampler ?? 'default';
  if (sampler !== 'default' && sampler !== 'first_n') fail(where, `fewshot_config.sampler must be "default" or "first_n", got ${JSON.stringify(sampler)}`);
  const samples = config.samples;
  if (samples !== undefined && samples !== null && !(Array.isArray(samples) && samples.every((item) => item !== null && typeof item === 'object' && !Array.isArray(item)))) {
    fail(where, 'fewshot_config.samples must be a list of records');
  }
  return {
    sampler,
    split: optionalString(config, 'split', where) ?? task.fewshotSplit,
    samples: (samples ?? undefined) as Record<string, unknown>[] | undefined,
    docToText: docSpec(config.doc_to_text, 'doc_to_text', where) ?? task.docToText,
    docToTarget: docSpec(config.doc_to_target, 'doc_to_target', where) ?? task.docToTarget,
    docToChoice: docSpec(config.doc_to_choice, 'doc_to_choice', where) ?? task.docToChoice,
    fewshotDelimiter: optionalString(config, 'fewshot_delimiter', where) ?? task.fewshotDelimiter,
    targetDelimiter: optionalString(config, 'target_delimiter', where) ?? task.targetDelimiter,
    genPrefix: optionalString(config, 'gen_prefix', where) ?? task.genPrefix,
  };
}

function tagList(value: unknown, where: string): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
  fail(where, 'tag must be a name or a list of names');
}

/** A TaskConfig from a task's merged keys (`source`: the file, for errors and the results' config_source). */
export function parseTaskConfig(raw: Record<string, unknown>, source: string | null): TaskConfig {
  const name = typeof raw.task === 'string' ? raw.task : undefined;
  const where = name === undefined ? source ?? 'task config' : `task "${name}"${source === null ? '' : ` (${source})`}`;
  if (name === undefined) fail(where, 'needs "task": the task name (a file with "group" and a task list is a group)');
  const python = findFunction(raw, 'config');
  if (python !== null) fail(where, `${python.at.slice('config.'.length)} is "!function ${python.name}", Python code tunekit cannot run; write it as a Jinja template or a field name`);
  for (const key of Object.keys(raw)) {
    if (key in UNSUPPORTED_KEYS) fail(where, `${key} is not supported: ${UNSUPPORTED_KEYS[key]}`);
    if (!TASK_KEYS.includes(key)) {
      const near = nearestName(key, TASK_KEYS);
      fail(where, `unknown key "${key}"${near === undefined ? '' : ` (did you mean ${near}?)`}`);
    }
  }
  const outputType = raw.output_type ?? 'generate_until';
  if (!(OUTPUT_TYPES as readonly unknown[]).includes(outputType)) fail(where, `output_type must be one of ${OUTPUT_TYPES.join(', ')}, got ${JSON.stringify(outputType)}`);
  const datasetPath = optionalString(raw, 'dataset_path', where);
  if (datasetPath === undefined) fail(where, 'needs dataset_path: a hub dataset id, or json/csv/parquet with dataset_kwargs.data_files');
  const datasetKwargs = raw.dataset_kwargs ?? {};
  if (typeof datasetKwargs !== 'object' || datasetKwargs === null || Array.isArray(datasetKwargs)) fail(where, 'dataset_kwargs must be a mapping');
  const numFewshot = raw.num_fewshot;
  if (numFewshot !== undefined && numFewshot !== null && !(Number.isInteger(numFewshot) && (numFewshot as number) >= 0)) fail(where, `num_fewshot must be a non-negative integer, got ${JSON.stringify(numFewshot)}`);
  const repeats = raw.repeats ?? 1;
  if (repeats !== 1) fail(where, `repeats: ${JSON.stringify(repeats)} is not supported (only 1)`);
  if (raw.metric_list !== undefined && !Array.isArray(raw.metric_list)) fail(where, 'metric_list must be a list of {metric: NAME, …}');
  const metadata = raw.metadata;
  if (metadata !== undefined && metadata !== null && (typeof metadata !== 'object' || Array.isArray(metadata))) fail(where, 'metadata must be a mapping');
  const fewshotDelimiter = stringOr(raw, 'fewshot_delimiter', where, '\n\n');
  const config: Omit<TaskConfig, 'fewshotConfig'> = {
    task: name,
    taskAlias: optionalString(raw, 'task_alias', where),
    tags: tagList(raw.tag, where),
    datasetPath,
    datasetName: optionalString(raw, 'dataset_name', where),
    datasetKwargs: datasetKwargs as Record<string, unknown>,
    trainingSplit: optionalString(raw, 'training_split', where),
    validationSplit: optionalString(raw, 'validation_split', where),
    testSplit: optionalString(raw, 'test_split', where),
    fewshotSplit: optionalString(raw, 'fewshot_split', where),
    docToText: docSpec(raw.doc_to_text, 'doc_to_text', where),
    docToTarget: docSpec(raw.doc_to_target, 'doc_to_target', where),
    docToChoice: docSpec(raw.doc_to_choice, 'doc_to_choice', where),
    description: stringOr(raw, 'description', where, ''),
    targetDelimiter: stringOr(raw, 'target_delimiter', where, ' '),
    fewshotDelimiter,
    genPrefix: optionalString(raw, 'gen_prefix', where),
    numFewshot: (numFewshot ?? undefined) as number | undefined,
    outputType: outputType as OutputType,
    generationKwargs: outputType === 'generate_until' ? generationKwargs(raw, fewshotDelimiter, where) : undefined,
    metricList: ((raw.metric_list as unknown[] | undefined) ?? []).map((entry, index) => parseMetric(entry, index, where)),
    filterList: raw.filter_list === undefined || raw.filter_list === null ? [] : parseFilters(raw.filter_list, where),
    metadata: (metadata ?? undefined) as Record<string, unknown> | undefined,
    source,
    raw,
  };
  if (config.testSplit === undefined && config.validationSplit === undefined) fail(where, 'needs test_split or validation_split: the split to evaluate on');
  if (config.docToText === undefined && outputType !== 'loglikelihood_rolling') fail(where, 'needs doc_to_text');
  if (config.docToTarget === undefined) fail(where, 'needs doc_to_target');
  if (outputType === 'multiple_choice' && config.docToChoice === undefined) fail(where, 'output_type multiple_choice needs doc_to_choice');
  return { ...config, fewshotConfig: parseFewshotConfig(raw, config, where) };
}

const GROUP_KEYS = ['group', 'group_alias', 'task', 'aggregate_metric_list', 'metadata', 'tag'];

/** Python's str() of a YAML scalar's value, from its source text (3.0 stays "3.0"). */
function pythonScalarText(file: string, keys: string[]): string | undefined {
  const document = parseDocument(readFileSync(file, 'utf8'), { version: '1.1', customTags: [functionTag], uniqueKeys: false });
  const node = document.getIn(keys, true);
  if (!isScalar(node)) return undefined;
  if (typeof node.value === 'number') return /[.eE]/.test(node.source ?? '') || !Number.isInteger(node.value) ? floatRepr(node.value) : String(node.value);
  return node.value === null || node.value === undefined ? undefined : String(node.value);
}

/** A group file: `group: NAME` with `task: [names]` (inline task definitions are not supported). */
export function parseGroupConfig(raw: Record<string, unknown>, source: string): GroupConfig {
  const where = `group "${String(raw.group)}" (${source})`;
  if (typeof raw.group !== 'string') fail(source, 'group must be a name');
  for (const key of Object.keys(raw)) if (!GROUP_KEYS.includes(key)) fail(where, `unknown key "${key}" (a group file has ${GROUP_KEYS.join(', ')})`);
  const tasks = raw.task;
  const list = typeof tasks === 'string' ? [tasks] : tasks;
  if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) fail(where, 'task must be a list of task, tag or group names (inline task definitions are not supported)');
  const metrics = raw.aggregate_metric_list ?? [];
  const entries = Array.isArray(metrics) ? metrics : [metrics];
  const aggregateMetricList = entries.map((entry, index): GroupMetricConfig => {
    if (entry === null || typeof entry !== 'object' || typeof (entry as Record<string, unknown>).metric !== 'string') fail(where, `aggregate_metric_list[${index}] needs "metric": a metric name`);
    const { metric, filter_list: filters, aggregation = 'mean', weight_by_size: weightBySize = true, ...rest } = entry as Record<string, unknown>;
    if (Object.keys(rest).length > 0) fail(where, `aggregate_metric_list[${index}] has unknown key "${Object.keys(rest)[0]}"`);
    if (aggregation !== 'mean') fail(where, `aggregate_metric_list[${index}]: only aggregation "mean" is defined (as in lm-eval), got ${JSON.stringify(aggregation)}`);
    if (typeof weightBySize !== 'boolean') fail(where, `aggregate_metric_list[${index}].weight_by_size must be true or false`);
    const filterList = filters === undefined || filters === null ? undefined : typeof filters === 'string' ? [filters] : filters;
    if (filterList !== undefined && !(Array.isArray(filterList) && filterList.every((item) => typeof item === 'string'))) fail(where, `aggregate_metric_list[${index}].filter_list must be filter names`);
    return { metric: metric as string, filterList: filterList as string[] | undefined, weightBySize };
  });
  const hasMetadata = raw.metadata !== null && typeof raw.metadata === 'object' && Object.keys(raw.metadata).length > 0;
  const version = hasMetadata ? (pythonScalarText(source, ['metadata', 'version']) ?? 'N/A') : 'N/A';
  return { group: raw.group, groupAlias: optionalString(raw, 'group_alias', where), tasks: list, aggregateMetricList, version, source };
}
