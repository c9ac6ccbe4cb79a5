/**
 * JSON files holding a dataset as one array: `[{…}, {…}]`, or an object with the array in one field,
 * `{"version": 1, "data": [{…}, …]}` (Hugging Face's `json` loader reads the latter with `field="data"`). The file is
 * streamed: a small scanner finds where each array element starts and ends (tracking strings and nesting only)
 * and each element alone goes through JSON.parse, so memory holds one element, not the file.
 *
 * Without `field` (see sources.ts, which picks the layout with `jsonLayout`, a first cheap pass): a top-level array;
 * a lone top-level object whose one array-valued field holds the records; or JSON Lines in a .json file. Errors are one-line TunekitErrors `file:line: element N: …` (N counted from 0,
 * as in the array) with code E_DATA_JSON.
 */
import { TunekitError } from '../../errors.js';
import { oneLine } from '../../io/text.js';
import { utf8Chunks } from './utf8.js';

export const JSON_SOURCE_ERROR = 'E_DATA_JSON';

export interface JsonArrayElement {
  /** Index in the array, from 0. */
  index: number;
  /** 1-based line where the element starts. */
  line: number;
  value: unknown;
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/**
 * The text of a file consumed from the front, with the line of the current position. `more()` appends the next
 * chunk and returns false at the end of the file.
 */
class TextCursor {
  text = '';
  position = 0;
  line = 1;
  done = false;
  private readonly chunks: AsyncGenerator<string>;

  constructor(readonly filePath: string, chunkBytes: number | undefined) {
    this.chunks = utf8Chunks(filePath, { chunkBytes });
  }

  async more(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.chunks.next();
    if (next.done) {
      this.done = true;
      return false;
    }
    if (this.position > 0) {
      this.text = this.text.slice(this.position);
      this.position = 0;
    }
    this.text += next.value;
    return true;
  }

  /** Skips whitespace; the next character, or undefined at the end of the file. */
  async peek(): Promise<string | undefined> {
    for (;;) {
      while (this.position < this.text.length && WHITESPACE.has(this.text[this.position])) {
        if (this.text[this.position] === '\n') this.line++;
        this.position++;
      }
      if (this.position < this.text.length) return this.text[this.position];
      if (!(await this.more())) return undefined;
    }
  }

  error(message: string, line = this.line): TunekitError {
    return new TunekitError(JSON_SOURCE_ERROR, `${this.filePath}:${line}: ${oneLine(message)}`);
  }

  async expect(characters: string, what: string): Promise<string> {
    const next = await this.peek();
    if (next === undefined || !characters.includes(next)) {
      throw this.error(`expected ${what}, found ${next === undefined ? 'the end of the file' : JSON.stringify(next)}`);
    }
    this.position++;
    return next;
  }

  /**
   * The source text of the JSON value starting at the current position (after whitespace), consumed; only its
   * extent is found here (strings, nesting), its validity is JSON.parse's to judge.
   */
  async value(): Promise<{ text: string; line: number }> {
    const first = await this.peek();
    const line = this.line;
    if (first === undefined) throw this.error('expected a JSON value, found the end of the file');
    let start = this.position;
    let index = start;
    let depth = 0;
    let inString = false;
    let escaped = false;
    let newlines = 0;
    const primitive = first !== '{' && first !== '[' && first !== '"';
    for (;;) {
      let end = -1;
      for (; index < this.text.length; index++) {
        const character = this.text[index];
        if (character === '\n') newlines++;
        if (inString) {
          if (escaped) escaped = false;
          else if (character === '\\') escaped = true;
          else if (character === '"') {
            inString = false;
            if (depth === 0) {
              end = index + 1;
              break;
            }
          }
        } else if (primitive) {
          if (character === ',' || character === ']' || character === '}' || WHITESPACE.has(character)) {
            if (character === '\n') newlines--;
            end = index;
            break;
          }
        } else if (character === '"') inString = true;
        else if (character === '{' || character === '[') depth++;
        else if (character === '}' || character === ']') {
          depth--;
          if (depth === 0) {
            end = index + 1;
            break;
          }
        }
      }
      if (end !== -1 || (primitive && this.done)) {
        if (end === -1) end = this.text.length;
        const text = this.text.slice(start, end);
        this.position = end;
        this.line += newlines;
        return { text, line };
      }
      // keep `start` in the text: more() drops only what lies before `position`
      const offset = index - start;
      this.position = start;
      if (!(await this.more())) {
        if (primitive) continue;
        throw this.error(`a ${first === '"' ? 'string' : first === '{' ? 'object' : 'array'} starting here is not closed before the end of the file (truncated?)`, line);
      }
      start = this.position;
      index = start + offset;
    }
  }

  async key(): Promise<string> {
    const { text, line } = await this.value();
    let key: unknown;
    try {
      key = JSON.parse(text);
    } catch {
      key = undefined;
    }
    if (typeof key !== 'string') throw this.error(`expected a field name in quotes, found ${text.slice(0, 40)}`, line);
    return key;
  }
}

/** Moves `cursor` into the array the records are in: the top-level one, or the one in field `field`. */
async function enterArray(cursor: TextCursor, field: string | undefined): Promise<void> {
  const first = await cursor.expect('[{', 'a JSON array of records ("[") or an object holding one ("{")');
  if (first === '[') {
    if (field !== undefined) throw cursor.error(`the file holds an array, not an object with a field "${field}"`);
    return;
  }
  if (field === undefined) throw cursor.error('the file holds an object; name the field that holds the records');
  if ((await cursor.peek()) === '}') throw cursor.error(`the object has no field "${field}"`);
  for (;;) {
    const key = await cursor.key();
    await cursor.expect(':', '":" after a field name');
    if (key === field) {
      if ((await cursor.peek()) !== '[') throw cursor.error(`field "${field}" does not hold an array of records`);
      cursor.position++;
      return;
    }
    await cursor.value();
    if ((await cursor.expect(',}', '"," or "}"')) === '}') throw cursor.error(`the object has no field "${field}"`);
  }
}

/** How a .json file holds its records, as `jsonLayout` finds it. */
export type JsonLayout =
  | { kind: 'array' }
  /** One top-level object; `arrays` are its fields whose values are arrays. */
  | { kind: 'object'; arrays: string[] }
  /** A top-level object followed by more: JSON Lines in a .json file (as many hub datasets are). */
  | { kind: 'lines' };

/** A pass over the file that parses nothing but top-level field names, to tell the layouts apart. */
export async function jsonLayout(filePath: string, options: { chunkBytes?: number } = {}): Promise<JsonLayout> {
  const cursor = new TextCursor(filePath, options.chunkBytes);
  if ((await cursor.expect('[{', 'a JSON array of records ("[") or an object holding one ("{")')) === '[') return { kind: 'array' };
  const arrays: string[] = [];
  if ((await cursor.peek()) !== '}') {
    for (;;) {
      const key = await cursor.key();
      await cursor.expect(':', '":" after a field name');
      if ((await cursor.peek()) === '[') arrays.push(key);
      await cursor.value();
      if ((await cursor.expect(',}', '"," or "}"')) === '}') break;
    }
  } else cursor.position++;
  return (await cursor.peek()) === undefined ? { kind: 'object', arrays } : { kind: 'lines' };
}

/**
 * Streams the elements of the records array of a JSON file: the top-level array, or with `field`, the array in
 * that field of the top-level object.
 */
export async function* streamJsonArray(filePath: string, options: { field?: string; chunkBytes?: number } = {}): AsyncGenerator<JsonArrayElement> {
  const field = options.field;
  const cursor = new TextCursor(filePath, options.chunkBytes);
  await enterArray(cursor, field);
  let index = 0;
  if ((await cursor.peek()) === ']') cursor.position++;
  else {
    for (;;) {
      const { text, line } = await cursor.value();
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        throw cursor.error(`element ${index}: not valid JSON (${(error as Error).message})`, line);
      }
      yield { index, line, value };
      index++;
      if ((await cursor.expect(',]', `"," or "]" after element ${index - 1}`)) === ']') break;
    }
  }
  if (field !== undefined) {
    // the rest of the object: other fields, then "}"
    for (;;) {
      if ((await cursor.expect(',}', '"," or "}"')) === '}') break;
      await cursor.key();
      await cursor.expect(':', '":" after a field name');
      await cursor.value();
    }
  }
  const rest = await cursor.peek();
  if (rest !== undefined) throw cursor.error(`unexpected ${JSON.stringify(rest)} after the end of the JSON value`);
}
