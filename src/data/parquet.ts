/**
 * Parquet datasets, read with hyparquet one row group at a time (the footer first, then each group's column
 * chunks), so memory holds one row group, never the whole file. Hugging Face writes its datasets (and the
 * auto-converted `refs/convert/parquet` branch) with row groups of a few hundred to a few thousand rows.
 *
 * Types, as hyparquet decodes them: strings as strings, int32/float/double as numbers, booleans, null for a missing
 * value, list columns as arrays, struct columns as objects, timestamps as Date, binary without a string annotation
 * as Uint8Array. int64 values (hyparquet gives bigint) become numbers when they are safe integers
 * (|n| ≤ 2^53 − 1); a larger one is an error naming the file, row and column, never a rounded number nor a value
 * whose type changes from row to row.
 *
 * Errors are one-line TunekitErrors with code E_DATA_PARQUET naming the file (and the row group or row): a file
 * that is not Parquet or is truncated (its footer is missing), a column asked for that it lacks, a data page that
 * does not decode.
 */
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { TunekitError } from '../errors.js';
import { oneLine } from '../io/text.js';
import { fileReadError } from './sources/utf8.js';

export const PARQUET_ERROR = 'E_DATA_PARQUET';

export interface ParquetRow {
  /** Row index in the file, from 0. */
  row: number;
  record: Record<string, unknown>;
}

function parquetError(message: string): TunekitError {
  return new TunekitError(PARQUET_ERROR, oneLine(message));
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** bigint → number where exact, through arrays and objects; `where` names the row, `field` the column path. */
function plain(value: unknown, where: string, field: string): unknown {
  if (typeof value === 'bigint') {
    if (value > MAX_SAFE || value < -MAX_SAFE) {
      throw parquetError(`${where}: column "${field}": the int64 value ${value} is beyond ±(2^53 − 1), so it has no exact JavaScript number`);
    }
    return Number(value);
  }
  if (value === null || typeof value !== 'object' || value instanceof Date || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map((item, index) => plain(item, where, `${field}[${index}]`));
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<unknown>, (item, index) => plain(item, where, `${field}[${index}]`));
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) result[key] = plain(item, where, field === '' ? key : `${field}.${key}`);
  return result;
}

/** The footer of a Parquet file: its schema, row groups and row count. */
export async function parquetFileMetadata(filePath: string): Promise<{ file: AsyncBuffer; metadata: FileMetaData }> {
  let file: AsyncBuffer;
  try {
    file = await asyncBufferFromFile(filePath);
  } catch (error) {
    throw fileReadError(error, filePath);
  }
  try {
    return { file, metadata: await parquetMetadataAsync(file) };
  } catch (error) {
    throw parquetError(`${filePath}: not a readable Parquet file, or truncated (${(error as Error).message})`);
  }
}

/** Streams the rows of a Parquet file; `columns` reads only those. */
export async function* streamParquet(filePath: string, options: { columns?: string[] } = {}): AsyncGenerator<ParquetRow> {
  const { file, metadata } = await parquetFileMetadata(filePath);
  if (options.columns !== undefined) {
    const names = new Set(parquetSchema(metadata).children.map((child) => child.element.name));
    const missing = options.columns.filter((column) => !names.has(column));
    if (missing.length > 0) {
      throw parquetError(`${filePath}: no column ${missing.map((name) => `"${name}"`).join(', ')} (columns: ${[...names].join(', ')})`);
    }
  }
  let rowStart = 0;
  for (const [group, rowGroup] of metadata.row_groups.entries()) {
    const rowEnd = rowStart + Number(rowGroup.num_rows);
    let rows: Array<Record<string, unknown>>;
    try {
      rows = await parquetReadObjects({ file, metadata, rowStart, rowEnd, columns: options.columns, rowFormat: 'object' });
    } catch (error) {
      throw parquetError(`${filePath}: row group ${group} (rows ${rowStart}–${rowEnd - 1}) does not decode (${(error as Error).message})`);
    }
    for (const [offset, row] of rows.entries()) {
      const index = rowStart + offset;
      yield { row: index, record: plain(row, `${filePath} row ${index}`, '') as Record<string, unknown> };
    }
    rowStart = rowEnd;
  }
}
