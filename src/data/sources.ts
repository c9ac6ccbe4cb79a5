/**
 * One entry point for the data layer's raw datasets: `openDataset(source)` reads records (plain objects) from a
 * JSON Lines, JSON array, CSV, TSV or Parquet file, a local folder laid out as a dataset repo, or a Hugging Face hub
 * dataset repo id (`knkarthick/dialogsum`), always streaming, so a file never has to be whole in memory.
 *
 * Each record comes with `where`, the place to name in an error about its content: `file:line` for JSON Lines,
 * JSON arrays (the line where the element starts) and CSV/TSV (where the row starts), `file row N` for Parquet (N
 * from 0). The format is the file's extension, or the `format` option. Types per format are documented in
 * csv.ts (strings only), parquet.ts (int64 as number when exact, else an error) and sources/json-array.ts.
 *
 * A .json file is read as Hugging Face's json loader reads it, with one convenience: a top-level array of records;
 * with `field`, the array in that field; a top-level object followed by more objects is JSON Lines (HF reads those
 * first too), as is a lone object without array fields (one record). A lone object with exactly one array-valued
 * field, `{"version": …, "data": [...]}`, gives that array's records without `field` (HF would make it one row
 * with a list column); with several such fields, `field` must say which.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import type { HubOptions } from '../io/hub.js';
import { streamCsv } from './csv.js';
import { parquetFileMetadata, streamParquet } from './parquet.js';
import { recordError, streamJsonl } from './records.js';
import { resolveHubDataset, listFolder, splitFiles } from './sources/hub.js';
import { JSON_SOURCE_ERROR, jsonLayout, streamJsonArray } from './sources/json-array.js';
import { TEXT_CHUNK_BYTES } from './sources/utf8.js';

export const DATASET_FORMATS = ['jsonl', 'json', 'csv', 'tsv', 'parquet'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];
export const DATASET_SOURCE_ERROR = 'E_DATA_SOURCE';

export interface DatasetRecord {
  record: Record<string, unknown>;
  /** `file:line` or `file row N`, for errors about this record. */
  where: string;
}

export interface OpenDatasetOptions extends Omit<HubOptions, 'repoType'> {
  /** The files' format; default from each file's extension. */
  format?: DatasetFormat;
  /** For a hub repo or a local dataset folder; default "train". */
  split?: string;
  /** A hub dataset's configuration (subset): only its files are read. */
  config?: string;
  /** Read at most this many records. */
  limit?: number;
  /** Keep only these fields of each record (each must be present); Parquet then reads only those columns. */
  fields?: string[];
  /** For JSON files: the object field holding the records array (HF's `field`). */
  field?: string;
  /** CSV/TSV: accept rows with fewer fields than the header, the missing ones null. */
  relaxColumnCount?: boolean;
  /** Bytes read at a time from text files; default 64 KiB (TEXT_CHUNK_BYTES). */
  chunkBytes?: number;
}

export interface Dataset {
  /** The source as given. */
  source: string;
  /** The local files read, in order (hub files are in the hub cache). */
  files: string[];
  /** Record count, where cheap to know before reading (Parquet footers); with `limit`, at most it. */
  count?: number;
  records(): AsyncGenerator<DatasetRecord>;
}

/** The format a file name implies, or undefined. */
export function datasetFormatOf(filePath: string): DatasetFormat | undefined {
  const extension = path.extname(filePath).slice(1).toLowerCase();
  return (DATASET_FORMATS as readonly string[]).includes(extension) ? (extension as DatasetFormat) : undefined;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? 'a string' : typeof value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

async function* fileRecords(filePath: string, format: DatasetFormat, options: OpenDatasetOptions): AsyncGenerator<DatasetRecord> {
  const chunkBytes = options.chunkBytes ?? TEXT_CHUNK_BYTES;
  switch (format) {
    case 'jsonl':
      for await (const { line, value } of streamJsonl(filePath, { chunkBytes })) {
        if (!isObject(value)) throw recordError(filePath, line, `expected a JSON object (a record), found ${describeValue(value)}`);
        yield { record: value, where: `${filePath}:${line}` };
      }
      return;
    case 'json': {
      let field = options.field;
      if (field === undefined) {
        const layout = await jsonLayout(filePath, { chunkBytes });
        if (layout.kind === 'lines' || (layout.kind === 'object' && layout.arrays.length === 0)) {
          yield* fileRecords(filePath, 'jsonl', options);
          return;
        }
        if (layout.kind === 'object' && layout.arrays.length > 1) {
          throw new TunekitError(
            JSON_SOURCE_ERROR,
            `${filePath}:1: the file holds an object with several fields holding arrays (${layout.arrays.map((name) => `"${name}"`).join(', ')}); pass \`field\` to name the one holding the records`,
          );
        }
        if (layout.kind === 'object') field = layout.arrays[0];
      }
      for await (const { index, line, value } of streamJsonArray(filePath, { field, chunkBytes })) {
        if (!isObject(value)) {
          throw new TunekitError(JSON_SOURCE_ERROR, `${filePath}:${line}: element ${index}: expected a JSON object (a record), found ${describeValue(value)}`);
        }
        yield { record: value, where: `${filePath}:${line}` };
      }
      return;
    }
    case 'csv':
    case 'tsv':
      for await (const { line, record } of streamCsv(filePath, {
        delimiter: format === 'tsv' ? '\t' : ',',
        relaxColumnCount: options.relaxColumnCount,
        chunkBytes,
      })) yield { record, where: `${filePath}:${line}` };
      return;
    case 'parquet':
      for await (const { row, record } of streamParquet(filePath, { columns: options.fields })) yield { record, where: `${filePath} row ${row}` };
  }
}

function project(item: DatasetRecord, fields: string[]): DatasetRecord {
  const record: Record<string, unknown> = {};
  for (const field of fields) {
    if (!Object.hasOwn(item.record, field)) {
      throw new TunekitError(DATASET_SOURCE_ERROR, `${item.where}: the record has no field "${field}" (fields: ${Object.keys(item.record).join(', ')})`);
    }
    record[field] = item.record[field];
  }
  return { record, where: item.where };
}

function checkOptions(options: OpenDatasetOptions): void {
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 0)) {
    throw new TunekitError(DATASET_SOURCE_ERROR, `limit must be a whole number ≥ 0, got ${options.limit}`);
  }
  if (options.format !== undefined && !(DATASET_FORMATS as readonly string[]).includes(options.format)) {
    throw new TunekitError(DATASET_SOURCE_ERROR, `format must be one of ${DATASET_FORMATS.join(', ')}, got ${JSON.stringify(options.format)}`);
  }
  if (options.fields !== undefined && (!Array.isArray(options.fields) || options.fields.length === 0 || !options.fields.every((field) => typeof field === 'string'))) {
    throw new TunekitError(DATASET_SOURCE_ERROR, 'fields must be a non-empty list of field names');
  }
}

/** A hub repo id: `name` or `org/name`, nothing that reads as a path. */
function looksLikeRepoId(source: string): boolean {
  return /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/.test(source) && datasetFormatOf(source) === undefined;
}

/** The files of `source` and the format each is read as. */
async function resolveFiles(source: string, options: OpenDatasetOptions): Promise<string[]> {
  const info = await stat(source).catch(() => undefined);
  if (info?.isFile()) return [source];
  if (info?.isDirectory()) {
    const split = options.split ?? 'train';
    const { files, splits } = splitFiles(await listFolder(source), split, options.config);
    if (files.length === 0) {
      throw new TunekitError(
        DATASET_SOURCE_ERROR,
        `${source}: no data files for split "${split}" (${splits.length > 0 ? `the folder's files give ${splits.join(', ')}` : 'no .jsonl, .json, .csv, .tsv or .parquet files'})`,
      );
    }
    return files.map((file) => path.join(source, ...file.split('/')));
  }
  if (!looksLikeRepoId(source)) throw new TunekitError('E_NOT_FOUND', `${source}: no such file or folder (and not a hub dataset id such as "knkarthick/dialogsum")`);
  return (await resolveHubDataset(source, options)).paths;
}

/**
 * Opens a dataset: a file (.jsonl, .json, .csv, .tsv, .parquet), a local folder holding split files, or a hub
 * dataset repo id (split `options.split`, default "train", through the hub cache with the usual token and offline
 * rules). Files are resolved (and hub files downloaded) now; records are read when `records()` is iterated, each
 * time afresh.
 */
export async function openDataset(source: string, options: OpenDatasetOptions = {}): Promise<Dataset> {
  checkOptions(options);
  const files = await resolveFiles(source, options);
  const formats = files.map((file) => {
    const format = options.format ?? datasetFormatOf(file);
    if (format === undefined) {
      throw new TunekitError(DATASET_SOURCE_ERROR, `${file}: unknown data format (expected a name ending in .${DATASET_FORMATS.join(', .')}, or the format option)`);
    }
    return format;
  });
  let count: number | undefined;
  if (formats.every((format) => format === 'parquet')) {
    count = 0;
    for (const file of files) count += Number((await parquetFileMetadata(file)).metadata.num_rows);
    if (options.limit !== undefined) count = Math.min(count, options.limit);
  }
  const limit = options.limit ?? Infinity;
  return {
    source,
    files,
    count,
    async *records() {
      let read = 0;
      if (read >= limit) return;
      for (const [index, file] of files.entries()) {
        for await (const item of fileRecords(file, formats[index], options)) {
          yield options.fields === undefined ? item : project(item, options.fields);
          if (++read >= limit) return;
        }
      }
    },
  };
}
