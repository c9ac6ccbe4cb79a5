/**
 * CSV and TSV datasets, parsed by csv-parse (RFC 4180: quoted fields, `""` inside quotes, line breaks inside quoted
 * fields) and streamed: the file is decoded strictly (invalid UTF-8 fails naming the line, a BOM is dropped) and
 * fed to the parser a chunk at a time. The first row gives the field names; blank lines are skipped.
 *
 * Types: every value stays the string the file holds (an empty field is ""). Hugging Face's csv loader goes
 * through pandas, which guesses a type per column (numbers, NaN for empty); tunekit does not guess, because the
 * data layer's records are text (prompts, completions) and a guess can silently turn "007" into 7. A record
 * builder that needs numbers converts them itself.
 *
 * Errors are one-line TunekitErrors `file:line: …` (code E_DATA_CSV): an unterminated quote (naming the line where
 * its row starts), a quote in the wrong place, a row with more or fewer fields than the header (unless
 * `relaxColumnCount`, where missing fields are null and extra fields are still an error), an empty or duplicated
 * field name in the header.
 */
import { finished } from 'node:stream/promises';
import { parse, type CsvError, type Parser } from 'csv-parse';
import { TunekitError } from '../errors.js';
import { oneLine } from '../io/text.js';
import { validUtf8Chunks } from './sources/utf8.js';

export const CSV_ERROR = 'E_DATA_CSV';

export interface CsvOptions {
  /** Field separator; default "," (or "\t" for TSV). */
  delimiter?: string;
  /** Accept rows with fewer fields than the header, the missing ones as null; default false. */
  relaxColumnCount?: boolean;
  chunkBytes?: number;
}

export interface CsvRow {
  /** 1-based line where the row starts. */
  line: number;
  record: Record<string, string | null>;
}

function csvError(filePath: string, line: number, message: string): TunekitError {
  return new TunekitError(CSV_ERROR, `${filePath}:${line}: ${oneLine(message)}`);
}

function newlines(text: string): number {
  let count = 0;
  for (let index = text.indexOf('\n'); index !== -1; index = text.indexOf('\n', index + 1)) count++;
  return count;
}

function describe(error: CsvError, filePath: string, rowStart: number): TunekitError {
  const line = typeof error.lines === 'number' && error.lines > 0 ? error.lines : rowStart;
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return csvError(filePath, rowStart, 'a quoted field opened in the row starting here (or after it, past blank lines) is not closed before the end of the file');
    case 'INVALID_OPENING_QUOTE':
      return csvError(filePath, line, `a quote inside an unquoted field${error.column === undefined ? '' : ` (field ${JSON.stringify(error.column)})`}; quote the whole field and double the quotes in it`);
    case 'CSV_INVALID_CLOSING_QUOTE':
      return csvError(filePath, line, 'characters after the closing quote of a field; a quote inside a quoted field is written ""');
    default:
      return csvError(filePath, line, `${error.message.replace(/ (at|on) line \d+.*$/, '')}`);
  }
}

/** Streams the rows of a CSV (or, with delimiter "\t", TSV) file as records keyed by the header's names. */
export async function* streamCsv(filePath: string, options: CsvOptions = {}): AsyncGenerator<CsvRow> {
  const parser: Parser = parse({ delimiter: options.delimiter ?? ',', info: true, skip_empty_lines: true, relax_column_count: true });
  let header: string[] | undefined;
  /** The line the last row parsed ends on. */
  let linesBefore = 0;
  const rows: Array<{ line: number; fields: string[] }> = [];
  let failure: TunekitError | undefined;
  parser.on('data', ({ record, info }: { record: string[]; info: { lines: number } }) => {
    // info.lines is the line the row ends on; it starts as many lines earlier as its quoted fields hold line breaks
    rows.push({ line: info.lines - record.reduce((sum, field) => sum + newlines(field), 0), fields: record });
    linesBefore = info.lines;
  });
  parser.on('error', (error: CsvError) => {
    failure ??= describe(error, filePath, linesBefore + 1);
  });

  const convert = function* (): Generator<CsvRow> {
    for (const { line, fields } of rows.splice(0)) {
      if (header === undefined) {
        const seen = new Set<string>();
        for (const [position, name] of fields.entries()) {
          if (name === '') throw csvError(filePath, line, `the header's field ${position + 1} has no name`);
          if (seen.has(name)) throw csvError(filePath, line, `the header names field "${name}" twice`);
          seen.add(name);
        }
        header = fields;
        continue;
      }
      if (fields.length > header.length || (fields.length < header.length && !options.relaxColumnCount)) {
        throw csvError(filePath, line, `the row has ${fields.length} field${fields.length === 1 ? '' : 's'}, the header ${header.length}${fields.length < header.length ? ' (pass relaxColumnCount to accept short rows)' : ''}`);
      }
      const record: Record<string, string | null> = {};
      for (const [position, name] of header.entries()) record[name] = position < fields.length ? fields[position] : null;
      yield { line, record };
    }
  };

  try {
    // bytes, not text: csv-parse works on bytes, so a string would be encoded again
    for await (const bytes of validUtf8Chunks(filePath, { chunkBytes: options.chunkBytes })) {
      parser.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      // the parser emits its rows and errors on process.nextTick: let them all arrive before looking
      await new Promise((resolve) => setImmediate(resolve));
      yield* convert();
      if (failure !== undefined) throw failure;
    }
    parser.end();
    await finished(parser).catch(() => undefined);
    yield* convert();
    if (failure !== undefined) throw failure;
    if (header === undefined) throw csvError(filePath, 1, 'the file is empty; expected a header row naming the fields');
  } finally {
    parser.destroy();
  }
}
