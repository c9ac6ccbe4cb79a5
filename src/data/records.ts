/**
 * JSON Lines records, the data layer's input format: one JSON value per line, blank lines skipped, a UTF-8 BOM at
 * the start accepted, `\r\n` line ends accepted. Each record keeps its 1-based line number so that whoever checks
 * its fields can name `file:line` (see `recordError`). Invalid UTF-8 and invalid JSON fail as one-line
 * `file:line: …` TunekitErrors (code E_JSONL), never with replacement characters or a parser's multi-line text.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { TunekitError } from '../errors.js';
import { firstInvalidUtf8, oneLine } from '../io/text.js';

export const JSONL_ERROR = 'E_JSONL';

/** One parsed line. */
export interface JsonlRecord {
  /** 1-based line number in the source. */
  line: number;
  value: unknown;
}

/** A `file:line: message` TunekitError, for errors about a record's content found after parsing. */
export function recordError(source: string, line: number, message: string, code = JSONL_ERROR): TunekitError {
  return new TunekitError(code, `${source}:${line}: ${oneLine(message)}`);
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const BOM = [0xef, 0xbb, 0xbf];

function hasBom(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === BOM[0] && bytes[1] === BOM[1] && bytes[2] === BOM[2];
}

/** Parses one line's bytes (without its \n); undefined for a blank line. */
function parseLine(bytes: Uint8Array, line: number, source: string): JsonlRecord | undefined {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    const offset = firstInvalidUtf8(bytes);
    throw recordError(source, line, `invalid UTF-8${offset === -1 ? '' : ` at byte ${offset + 1} of the line (0x${bytes[offset].toString(16).padStart(2, '0')})`}`);
  }
  if (text.trim() === '') return undefined;
  try {
    return { line, value: JSON.parse(text) };
  } catch (error) {
    throw recordError(source, line, `not valid JSON (${(error as Error).message})`);
  }
}

/** Splits `bytes` at \n, dropping a trailing \r from each line; the last, unterminated line only when `final`. */
function* linesOf(bytes: Uint8Array, final: boolean): Generator<{ bytes: Uint8Array; end: number }> {
  let start = 0;
  for (let index = bytes.indexOf(0x0a); index !== -1; index = bytes.indexOf(0x0a, start)) {
    const end = index > start && bytes[index - 1] === 0x0d ? index - 1 : index;
    yield { bytes: bytes.subarray(start, end), end: index + 1 };
    start = index + 1;
  }
  if (final && start < bytes.length) {
    const end = bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
    yield { bytes: bytes.subarray(start, end), end: bytes.length };
  }
}

/** Parses JSON Lines held in memory (a file's bytes, or stdin's); `source` names it in errors. */
export function parseJsonl(input: Uint8Array | string, source: string): JsonlRecord[] {
  let bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input;
  if (hasBom(bytes)) bytes = bytes.subarray(3);
  const records: JsonlRecord[] = [];
  let line = 0;
  for (const { bytes: lineBytes } of linesOf(bytes, true)) {
    line++;
    const record = parseLine(lineBytes, line, source);
    if (record !== undefined) records.push(record);
  }
  return records;
}

function readError(error: unknown, filePath: string): TunekitError {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new TunekitError('E_NOT_FOUND', `${filePath}: no such file`);
  return new TunekitError('E_READ', `${filePath}: cannot be read (${oneLine((error as Error).message)})`);
}

/** Reads a whole .jsonl file into records. */
export async function readJsonl(filePath: string): Promise<JsonlRecord[]> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(filePath);
  } catch (error) {
    throw readError(error, filePath);
  }
  return parseJsonl(bytes, filePath);
}

/**
 * Streams a .jsonl file record by record (for datasets larger than memory): the same rules and errors as
 * readJsonl, reading `chunkBytes` at a time.
 */
export async function* streamJsonl(filePath: string, options: { chunkBytes?: number } = {}): AsyncGenerator<JsonlRecord> {
  const stream = createReadStream(filePath, { highWaterMark: options.chunkBytes ?? 1 << 20 });
  let pending: Uint8Array = new Uint8Array(0);
  let line = 0;
  let first = true;
  try {
    for await (const chunk of stream) {
      let bytes: Uint8Array = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
      if (first) {
        // The BOM check needs 3 bytes; a file this short is finished below.
        if (bytes.length < 3) {
          pending = bytes;
          continue;
        }
        if (hasBom(bytes)) bytes = bytes.subarray(3);
        first = false;
      }
      let consumed = 0;
      for (const { bytes: lineBytes, end } of linesOf(bytes, false)) {
        line++;
        consumed = end;
        const record = parseLine(lineBytes, line, filePath);
        if (record !== undefined) yield record;
      }
      pending = bytes.subarray(consumed);
    }
  } catch (error) {
    if (error instanceof TunekitError) throw error;
    throw readError(error, filePath);
  } finally {
    stream.destroy();
  }
  if (first && hasBom(pending)) pending = pending.subarray(3);
  for (const { bytes: lineBytes } of linesOf(pending, true)) {
    line++;
    const record = parseLine(lineBytes, line, filePath);
    if (record !== undefined) yield record;
  }
}
