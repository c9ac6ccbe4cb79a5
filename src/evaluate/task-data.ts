/**
 * A task's splits, loaded as `datasets.load_dataset(dataset_path, dataset_name, **dataset_kwargs)` gives them:
 * `json`/`csv`/`parquet` with `data_files` (one file or a list: split "train"; a mapping: split → files), or a hub
 * dataset id / local dataset folder with `dataset_name` as its configuration. Relative data files are found from the
 * working directory, as datasets finds them, else beside the task file. Every record gets every column (missing
 * ones null), in the order columns first appear, as Arrow's schema gives them. CSV columns get the types pandas
 * (datasets' csv builder) infers: integers, floats or booleans when every present value is one, pandas' NA
 * spellings as null.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { openDataset, type DatasetFormat } from '../data/sources.js';
import { TunekitError } from '../errors.js';
import type { HubOptions } from '../io/hub.js';
import type { Doc } from './doc-fields.js';
import { TASK_CONFIG_ERROR, type TaskConfig } from './task-config.js';

const FILE_BUILDERS: Record<string, DatasetFormat> = { json: 'json', csv: 'csv', parquet: 'parquet' };
const DATASET_KWARGS = ['data_files', 'trust_remote_code', 'field'];

export interface TaskSplit {
  docs: Doc[];
  features: string[];
}

export interface LoadSplitOptions {
  hub?: Omit<HubOptions, 'repoType'>;
}

function fail(config: TaskConfig, message: string): never {
  throw new TunekitError(TASK_CONFIG_ERROR, `task "${config.task}"${config.source === null ? '' : ` (${config.source})`}: ${message}`);
}

function dataFilesBySplit(config: TaskConfig): Map<string, string[]> {
  const files = config.datasetKwargs.data_files;
  const asList = (value: unknown, at: string): string[] => {
    const list = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(list) || list.length === 0 || !list.every((item) => typeof item === 'string')) fail(config, `${at} must be a file name or a list of them`);
    return list;
  };
  if (files === undefined || files === null) fail(config, `dataset_path "${config.datasetPath}" needs dataset_kwargs.data_files`);
  if (typeof files === 'string' || Array.isArray(files)) return new Map([['train', asList(files, 'dataset_kwargs.data_files')]]);
  if (typeof files !== 'object') fail(config, 'dataset_kwargs.data_files must be a file, a list of files or a mapping of split → files');
  return new Map(Object.entries(files as Record<string, unknown>).map(([split, value]) => [split, asList(value, `dataset_kwargs.data_files.${split}`)]));
}

function locate(config: TaskConfig, file: string): string {
  if (path.isAbsolute(file) || existsSync(file)) return file;
  if (config.source !== null) {
    const beside = path.join(path.dirname(config.source), file);
    if (existsSync(beside)) return beside;
  }
  fail(config, `data file "${file}" not found (from the working directory ${process.cwd()}${config.source === null ? '' : ` or beside ${config.source}`})`);
}

/** pandas.read_csv's default na_values. */
const PANDAS_NA = new Set(['', '#N/A', '#N/A N/A', '#NA', '-1.#IND', '-1.#QNAN', '-NaN', '-nan', '1.#IND', '1.#QNAN', '<NA>', 'N/A', 'NA', 'NULL', 'NaN', 'None', 'n/a', 'nan', 'null']);
const INTEGER = /^[-+]?\d+$/;
const FLOAT = /^[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|inf|Inf|INF|infinity|Infinity)$/;
const BOOLEANS: Record<string, boolean> = { True: true, TRUE: true, true: true, False: false, FALSE: false, false: false };

/** Column-wise type inference of pandas' CSV reader, on records whose values are all strings. */
function withPandasTypes(records: Doc[]): Doc[] {
  const columns = new Set(records.flatMap((record) => Object.keys(record)));
  const converters = new Map<string, (text: string) => unknown>();
  for (const column of columns) {
    const present = records.map((record) => record[column]).filter((value): value is string => typeof value === 'string' && !PANDAS_NA.has(value));
    if (present.length > 0 && present.every((value) => INTEGER.test(value) && Number.isSafeInteger(Number(value)))) converters.set(column, Number);
    else if (present.length > 0 && present.every((value) => FLOAT.test(value))) converters.set(column, (text) => (/inf/i.test(text) ? (text.startsWith('-') ? -Infinity : Infinity) : Number(text)));
    else if (present.length > 0 && present.every((value) => value in BOOLEANS)) converters.set(column, (text) => BOOLEANS[text]);
    else converters.set(column, (text) => text);
  }
  return records.map((record) =>
    Object.fromEntries(Object.entries(record).map(([key, value]) => [key, typeof value !== 'string' || PANDAS_NA.has(value) ? null : converters.get(key)!(value)])),
  );
}

/** Fills every column in every record, columns in order of first appearance. */
function withAllColumns(records: Doc[]): TaskSplit {
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const record of records) {
    for (const key of Object.keys(record)) {
      if (!seen.has(key)) {
        seen.add(key);
        columns.push(key);
      }
    }
  }
  const docs = records.map((record) => Object.fromEntries(columns.map((column) => [column, record[column] ?? null])));
  return { docs, features: columns };
}

/** One split of a task's dataset. */
export async function loadTaskSplit(config: TaskConfig, split: string, options: LoadSplitOptions = {}): Promise<TaskSplit> {
  for (const key of Object.keys(config.datasetKwargs)) {
    if (!DATASET_KWARGS.includes(key)) fail(config, `dataset_kwargs.${key} is not supported (tunekit reads ${DATASET_KWARGS.join(', ')})`);
  }
  if (config.inlineSplits !== undefined) {
    const docs = config.inlineSplits[split];
    if (docs === undefined) fail(config, `split "${split}" is not among its splits (${Object.keys(config.inlineSplits).join(', ')})`);
    if (docs.length === 0) fail(config, `split "${split}" has no records`);
    return withAllColumns(docs);
  }
  const field = typeof config.datasetKwargs.field === 'string' ? config.datasetKwargs.field : undefined;
  const records: Doc[] = [];
  const format = FILE_BUILDERS[config.datasetPath];
  if (format !== undefined) {
    const bySplit = dataFilesBySplit(config);
    const files = bySplit.get(split);
    if (files === undefined) fail(config, `split "${split}" is not in dataset_kwargs.data_files (it has ${[...bySplit.keys()].join(', ')})`);
    for (const file of files) {
      const dataset = await openDataset(locate(config, file), { format, field });
      for await (const { record } of dataset.records()) records.push(record);
    }
    if (format === 'csv') records.splice(0, records.length, ...withPandasTypes(records));
  } else {
    const dataset = await openDataset(config.datasetPath, { ...options.hub, split, config: config.datasetName, field });
    for await (const { record } of dataset.records()) records.push(record);
  }
  if (records.length === 0) fail(config, `split "${split}" has no records`);
  return withAllColumns(records);
}

const FORMAT_BY_EXTENSION: [RegExp, string][] = [[/\.jsonl?$/i, 'json'], [/\.csv$/i, 'csv'], [/\.parquet$/i, 'parquet']];

/**
 * The task pointed at local files instead of its dataset: `dataset_path` becomes the files' builder (json for
 * .json/.jsonl, csv, parquet), `dataset_kwargs` {data_files: split → files}, and `dataset_name` goes. Everything
 * else (prompts, splits, metrics) stays, so the files need the dataset's field names and split names.
 */
export function withDataFiles(config: TaskConfig, dataFiles: Readonly<Record<string, readonly string[]>>): TaskConfig {
  const files = Object.values(dataFiles).flat();
  if (files.length === 0) fail(config, 'no data files given');
  const formats = new Set(files.map((file) => FORMAT_BY_EXTENSION.find(([pattern]) => pattern.test(file))?.[1] ?? file));
  const [format] = formats;
  if (formats.size !== 1 || !(format in FILE_BUILDERS)) fail(config, `data files must all be .json/.jsonl, .csv or .parquet files, got ${files.join(', ')}`);
  const datasetKwargs = { data_files: Object.fromEntries(Object.entries(dataFiles).map(([split, list]) => [split, [...list]])) };
  const { dataset_name: _name, ...raw } = config.raw;
  return { ...config, datasetPath: format, datasetName: undefined, datasetKwargs, raw: { ...raw, dataset_path: format, dataset_kwargs: datasetKwargs } };
}
