/**
 * JSON files of model folders: parsing with errors that give the line and column, and writing byte for byte as
 * transformers writes config.json (Python `json.dumps(value, indent=2, sort_keys=True) + "\n"`: sorted keys,
 * non-ASCII escaped as \uXXXX, floats in Python's repr such as `1e-05`).
 */
import { TunekitError } from '../errors.js';
import { oneLine, readTextFile, readTextFileSync } from './text.js';

function lineAndColumn(text: string, position: number): string {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - (before.lastIndexOf('\n') + 1) + 1;
  return `line ${line}, column ${column}`;
}

/** V8's messages carry "at position N" for most errors; the rest are located by what they name. */
function errorPosition(text: string, message: string): number | undefined {
  const at = /at position (\d+)/.exec(message);
  if (at) return Number(at[1]);
  if (/Unexpected end of JSON input/.test(message)) return text.length;
  const token = /^Unexpected token '(.)', (?:\.\.\.)?"(.*)"(?:\.\.\.)? is not valid JSON$/s.exec(message);
  if (token) {
    const shown = token[2];
    const start = text.indexOf(shown);
    const local = shown.indexOf(token[1]);
    if (start !== -1 && local !== -1) return start + local;
  }
  return undefined;
}

/** JSON.parse, with errors naming `source` and the line and column at fault. A UTF-8 BOM is ignored. */
export function parseJson(text: string, source: string, code = 'E_JSON'): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (error) {
    const message = (error as Error).message;
    const position = errorPosition(body, message);
    const where = position === undefined ? '' : ` at ${lineAndColumn(body, position)}`;
    throw new TunekitError(code, `${source}: invalid JSON${where} (${oneLine(message)})`);
  }
}

/** Reads and parses a JSON file: invalid UTF-8 and invalid JSON both fail naming the file and line. */
export async function readJsonFile(filePath: string, code = 'E_JSON'): Promise<unknown> {
  return parseJson(await readTextFile(filePath, code), filePath, code);
}

export function readJsonFileSync(filePath: string, code = 'E_JSON'): unknown {
  return parseJson(readTextFileSync(filePath, code), filePath, code);
}

/** Python's repr of a float: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
function pythonFloat(value: number): string {
  // integral values were Python ints (a float like 2.0 reads back as 2 in JavaScript and cannot be told apart)
  if (Number.isInteger(value) && Math.abs(value) < 1e21) return String(value);
  const [mantissa, exponentText] = value.toExponential().split('e');
  const exponent = Number(exponentText);
  if (exponent >= -4 && exponent < 16) return String(value);
  const sign = exponent < 0 ? '-' : '+';
  return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
}

function pythonString(value: string): string {
  let output = '"';
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    const character = value[index];
    if (character === '"') output += '\\"';
    else if (character === '\\') output += '\\\\';
    else if (character === '\n') output += '\\n';
    else if (character === '\r') output += '\\r';
    else if (character === '\t') output += '\\t';
    else if (character === '\b') output += '\\b';
    else if (character === '\f') output += '\\f';
    else if (code < 0x20 || code > 0x7e) output += `\\u${code.toString(16).padStart(4, '0')}`;
    else output += character;
  }
  return `${output}"`;
}

function pythonValue(value: unknown, indent: string, keyPath: string): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return pythonString(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TunekitError('E_JSON', `${keyPath}: ${value} cannot be written as JSON`);
    return pythonFloat(value);
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((item, index) => inner + pythonValue(item, inner, `${keyPath}[${index}]`));
    return `[\n${items.join(',\n')}\n${indent}]`;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined);
    if (entries.length === 0) return '{}';
    entries.sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
    const items = entries.map(([key, item]) => `${inner}${pythonString(key)}: ${pythonValue(item, inner, `${keyPath}.${key}`)}`);
    return `{\n${items.join(',\n')}\n${indent}}`;
  }
  throw new TunekitError('E_JSON', `${keyPath}: a ${typeof value} cannot be written as JSON`);
}

/** The text transformers' `save_pretrained` writes for a config (and generation config) object. */
export function formatConfigJson(value: unknown, name = 'config'): string {
  return `${pythonValue(value, '', name)}\n`;
}
