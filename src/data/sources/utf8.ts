/**
 * A file read as strictly decoded UTF-8 text, chunk by chunk, for the streaming parsers (CSV, JSON arrays): invalid
 * bytes fail as `file:line: invalid UTF-8 …` (the rule records.ts applies to JSON Lines) wherever they fall in the
 * file, and a leading BOM is dropped. Only one chunk (plus at most 3 bytes of a split character) is held at a time.
 */
import { createReadStream } from 'node:fs';
import { TunekitError } from '../../errors.js';
import { firstInvalidUtf8, oneLine } from '../../io/text.js';

export const SOURCE_UTF8_ERROR = 'E_DATA_UTF8';

/** The error for a file that cannot be opened or read, as records.ts words it. */
export function fileReadError(error: unknown, filePath: string): TunekitError {
  if (error instanceof TunekitError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new TunekitError('E_NOT_FOUND', `${filePath}: no such file`);
  if (code === 'EISDIR') return new TunekitError('E_READ', `${filePath}: is a folder; expected a data file`);
  return new TunekitError('E_READ', `${filePath}: cannot be read (${oneLine((error as Error).message)})`);
}

/** How many trailing bytes of `bytes` begin a character that the next chunk completes (0–3). */
function incompleteTail(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back];
    if (byte < 0x80) return 0;
    if (byte >= 0xc0) {
      const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
      return length > back ? back : 0;
    }
  }
  return 0;
}

function countNewlines(bytes: Uint8Array): number {
  let count = 0;
  for (let index = bytes.indexOf(0x0a); index !== -1; index = bytes.indexOf(0x0a, index + 1)) count++;
  return count;
}

/** Yields the decoded text of `filePath` in chunks of about `chunkBytes`. */
export async function* utf8Chunks(filePath: string, options: { chunkBytes?: number } = {}): AsyncGenerator<string> {
  const stream = createReadStream(filePath, { highWaterMark: options.chunkBytes ?? 1 << 20 });
  // fatal is a second guard: every byte is validated before it is decoded; the default ignoreBOM drops a BOM
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending: Uint8Array = new Uint8Array(0);
  let line = 1;
  const check = (bytes: Uint8Array): void => {
    const offset = firstInvalidUtf8(bytes);
    if (offset === -1) return;
    let lineStart = offset;
    while (lineStart > 0 && bytes[lineStart - 1] !== 0x0a) lineStart--;
    const at = line + countNewlines(bytes.subarray(0, offset));
    throw new TunekitError(
      SOURCE_UTF8_ERROR,
      `${filePath}:${at}: invalid UTF-8 at byte ${offset - lineStart + 1} of the line (0x${bytes[offset].toString(16).padStart(2, '0')})`,
    );
  };
  try {
    for await (const chunk of stream) {
      const bytes: Uint8Array = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
      const keep = incompleteTail(bytes);
      const whole = bytes.subarray(0, bytes.length - keep);
      check(whole);
      pending = bytes.slice(bytes.length - keep);
      line += countNewlines(whole);
      const text = decoder.decode(whole, { stream: true });
      if (text !== '') yield text;
    }
  } catch (error) {
    throw fileReadError(error, filePath);
  } finally {
    stream.destroy();
  }
  check(pending);
  const text = decoder.decode(pending);
  if (text !== '') yield text;
}
