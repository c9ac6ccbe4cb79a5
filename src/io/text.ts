/**
 * Text files decoded strictly: `readFile(…, 'utf8')` silently turns bad bytes into U+FFFD, so a corrupt config or
 * dataset would load with replacement characters in it. These helpers refuse invalid UTF-8 naming the file, the
 * line and the byte, and keep error messages on one line.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { TunekitError } from '../errors.js';

export const UTF8_ERROR = 'E_UTF8';

const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence, or -1 when all are valid. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const isContinuation = (index: number, low = 0x80, high = 0xbf) => index < bytes.length && bytes[index] >= low && bytes[index] <= high;
  let index = 0;
  while (index < bytes.length) {
    const lead = bytes[index];
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead < 0x80) length = 1;
    else if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead === 0xe0) [length, low] = [3, 0xa0];
    else if (lead === 0xed) [length, high] = [3, 0x9f];
    else if (lead >= 0xe1 && lead <= 0xef) length = 3;
    else if (lead === 0xf0) [length, low] = [4, 0x90];
    else if (lead >= 0xf1 && lead <= 0xf3) length = 4;
    else if (lead === 0xf4) [length, high] = [4, 0x8f];
    else return index;
    if (length > 1 && !isContinuation(index + 1, low, high)) return index;
    for (let next = 2; next < length; next++) if (!isContinuation(index + next)) return index;
    index += length;
  }
  return -1;
}

/** 1-based line of byte `offset` (lines end at \n). */
export function lineOfByte(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let index = 0; index < offset && index < bytes.length; index++) if (bytes[index] === 0x0a) line++;
  return line;
}

/** Where the first invalid byte is, as "line N (byte M: 0xXX)" counted from `firstLine`; undefined when valid. */
export function describeInvalidUtf8(bytes: Uint8Array, firstLine = 1): { line: number; detail: string } | undefined {
  const offset = firstInvalidUtf8(bytes);
  if (offset === -1) return undefined;
  const line = lineOfByte(bytes, offset) + firstLine - 1;
  return { line, detail: `byte ${offset}: 0x${bytes[offset].toString(16).padStart(2, '0')}` };
}

/**
 * Decodes UTF-8 strictly (a leading BOM is dropped); invalid bytes fail naming `source` and the line.
 * `code` is the TunekitError code (the caller's, such as E_CONFIG, so a config error stays a config error).
 */
export function decodeUtf8(bytes: Uint8Array, source: string, code = UTF8_ERROR): string {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    const where = describeInvalidUtf8(bytes);
    const at = where === undefined ? '' : ` at line ${where.line} (${where.detail})`;
    throw new TunekitError(code, `${source}: invalid UTF-8${at}`);
  }
}

function notFound(error: unknown, filePath: string): never {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new TunekitError('E_NOT_FOUND', `${filePath}: no such file`);
  throw new TunekitError('E_READ', `${filePath}: cannot be read (${oneLine((error as Error).message)})`);
}

/** Reads a UTF-8 text file strictly (see decodeUtf8). */
export async function readTextFile(filePath: string, code = UTF8_ERROR): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(filePath);
  } catch (error) {
    notFound(error, filePath);
  }
  return decodeUtf8(bytes, filePath, code);
}

export function readTextFileSync(filePath: string, code = UTF8_ERROR): string {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(filePath);
  } catch (error) {
    notFound(error, filePath);
  }
  return decodeUtf8(bytes, filePath, code);
}

/** Escapes line breaks and other control characters so a message quoting file content stays on one line. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
