/**
 * Prompt templates with Python `str.format` rules, so a template written for `template.format(**record)` renders
 * here to the same text, and a template Python would reject is rejected here too.
 *
 * What is supported, exactly as Python 3.11 does it:
 * - `{{` and `}}` are literal braces; a single `{` or `}` is an error naming the template and the column.
 * - `{field}` reads a record key (any text up to `.`, `[`, `!`, `:` or `}`: `{a b}` and `{a-b}` are keys too).
 * - `{a[key]}` reads a nested key; `{a[0]}` an integer index (all digits makes it an integer, as in Python, which
 *   therefore never finds the string key "0" of a JSON object: that is an error here as it is there). Strings can
 *   be indexed (by code point). Brackets hide braces, colons and `!` inside them (`{a[:]}` reads key ":").
 * - `!s` conversion (a no-op here: every rendered value is already `str()`).
 * - Format specs `[[fill]align][sign][0][width][grouping][.precision][type]` for the types Python gives strings
 *   (none, `s`), integers (none, `d`, and the float types), floats (none without precision, `f`, `F`, `e`, `E`, `%`),
 *   booleans (formatted as integers when a spec is given, as Python's bool inherits int's `__format__`).
 *
 * What is refused with an error rather than rendered differently from Python: positional fields (`{}`, `{0}`),
 * attribute access (`{a.b}`: JSON values have no attributes; Python needs `{a[b]}` for dict keys), `!r`/`!a`,
 * nested fields inside a spec (`{a:{width}}`), the spec types `b c g G n o x X`, `#` and `z`, and a precision
 * without a type on a float (Python's `g`-like rule).
 *
 * Values render as Python's `str()` renders the value `json.loads` would give: strings as-is, `true`/`false` as
 * `True`/`False`, `null` as `None`, numbers without a fractional part below 1e21 as integers (all their digits, as
 * JSON.stringify writes them and json.loads reads them back as int), other numbers as Python's float `repr` (`0.1`,
 * `1e-05`, `6.02214076e+23`): exactly what Python prints for the value after a JSON.stringify round trip. One difference cannot be avoided: JSON `1.0` and `1` are the same JavaScript number, rendered
 * `1`, while Python renders the former `1.0` (and JSON integers past 2^53 have already lost digits in JSON.parse). Lists and objects are refused (Python would print their `repr`,
 * which is rarely what a prompt wants): index into them, or flatten them before templating.
 */
import { TunekitError } from '../errors.js';

export const TEMPLATE_ERROR = 'E_TEMPLATE';

/** One step into a nested value: `[key]` or `[0]`. */
export type FieldStep = { kind: 'key'; key: string } | { kind: 'index'; index: number };

/** A parsed format spec (Python's format-spec mini-language, the supported part). */
export interface FormatSpec {
  fill?: string;
  align?: '<' | '>' | '=' | '^';
  sign?: '+' | '-' | ' ';
  zero: boolean;
  width?: number;
  grouping?: ',' | '_';
  precision?: number;
  type?: 's' | 'd' | 'f' | 'F' | 'e' | 'E' | '%';
  /** The spec as written. */
  text: string;
}

export type TemplatePart =
  | { kind: 'text'; text: string }
  | {
      kind: 'field';
      /** The field as written between the braces, e.g. `a[0]:>5`. */
      source: string;
      /** The top-level record key. */
      name: string;
      path: FieldStep[];
      spec?: FormatSpec;
      /** 1-based column of the opening brace. */
      column: number;
    };

function templateError(name: string, message: string): TunekitError {
  return new TunekitError(TEMPLATE_ERROR, `template '${name}': ${message}`);
}

/** A compiled template: parse once, render many times. */
export class Template {
  /** The distinct top-level fields it reads, in order of first use. */
  readonly fields: readonly string[];

  constructor(
    readonly name: string,
    readonly source: string,
    readonly parts: readonly TemplatePart[],
  ) {
    const fields: string[] = [];
    for (const part of parts) if (part.kind === 'field' && !fields.includes(part.name)) fields.push(part.name);
    this.fields = fields;
  }

  /**
   * Renders with `record`'s fields (`extra` fields, such as few-shot `examples`, take precedence). `where` names
   * the record in errors (`train.jsonl:12`); a missing field names the template, the field and the record.
   */
  render(record: Record<string, unknown>, where = 'record', extra?: Record<string, unknown>): string {
    let out = '';
    for (const part of this.parts) {
      if (part.kind === 'text') {
        out += part.text;
        continue;
      }
      let value: unknown;
      if (extra !== undefined && Object.hasOwn(extra, part.name)) value = extra[part.name];
      else if (Object.hasOwn(record, part.name) && record[part.name] !== undefined) value = record[part.name];
      else {
        const keys = Object.keys(record).filter((key) => key !== 'where');
        throw new TunekitError(
          TEMPLATE_ERROR,
          `${where}: template '${this.name}' needs field '${part.name}', which the record lacks (it has ${keys.length === 0 ? 'no fields' : keys.map((key) => `'${key}'`).join(', ')})`,
        );
      }
      let path = part.name;
      for (const step of part.path) {
        value = stepInto(value, step, path, () => `${where}: template '${this.name}', field {${part.source}}`);
        path += step.kind === 'key' ? `[${step.key}]` : `[${step.index}]`;
      }
      try {
        out += part.spec === undefined ? pythonStr(value, path) : formatWithSpec(value, part.spec, path);
      } catch (error) {
        if (error instanceof TunekitError) throw new TunekitError(error.code, `${where}: template '${this.name}', field {${part.source}}: ${error.message}`);
        throw error;
      }
    }
    return out;
  }
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function stepInto(value: unknown, step: FieldStep, path: string, context: () => string): unknown {
  if (step.kind === 'key') {
    if (Array.isArray(value)) throw new TunekitError(TEMPLATE_ERROR, `${context()}: '${path}' is a list, which takes integer indices, not the key '${step.key}'`);
    if (value === null || typeof value !== 'object') throw new TunekitError(TEMPLATE_ERROR, `${context()}: '${path}' is ${describeType(value)}, which has no key '${step.key}'`);
    const object = value as Record<string, unknown>;
    if (!Object.hasOwn(object, step.key) || object[step.key] === undefined) {
      throw new TunekitError(TEMPLATE_ERROR, `${context()}: '${path}' has no key '${step.key}' (it has ${Object.keys(object).map((key) => `'${key}'`).join(', ') || 'no keys'})`);
    }
    return object[step.key];
  }
  if (Array.isArray(value)) {
    if (step.index >= value.length) throw new TunekitError(TEMPLATE_ERROR, `${context()}: index ${step.index} is out of range for '${path}', a list of ${value.length}`);
    return value[step.index];
  }
  if (typeof value === 'string') {
    const chars = Array.from(value);
    if (step.index >= chars.length) throw new TunekitError(TEMPLATE_ERROR, `${context()}: index ${step.index} is out of range for '${path}', a string of ${chars.length} characters`);
    return chars[step.index];
  }
  if (value !== null && typeof value === 'object') {
    throw new TunekitError(TEMPLATE_ERROR, `${context()}: '${path}' is an object; Python's str.format reads [${step.index}] as the integer ${step.index}, which a JSON object's string keys never equal`);
  }
  throw new TunekitError(TEMPLATE_ERROR, `${context()}: '${path}' is ${describeType(value)}, which cannot be indexed`);
}

/** Compiles a template, refusing what Python's str.format refuses and what tunekit does not support (see above). */
export function compileTemplate(source: string, name = 'template'): Template {
  const parts: TemplatePart[] = [];
  let text = '';
  let index = 0;
  const column = (at: number): number => Array.from(source.slice(0, at)).length + 1;
  while (index < source.length) {
    const char = source[index];
    if (char === '}') {
      if (source[index + 1] === '}') {
        text += '}';
        index += 2;
        continue;
      }
      throw templateError(name, `column ${column(index)}: single '}' (write '}}' for a literal brace)`);
    }
    if (char !== '{') {
      text += char;
      index++;
      continue;
    }
    if (source[index + 1] === '{') {
      text += '{';
      index += 2;
      continue;
    }
    // A replacement field: find its end as Python does (brackets in the field name hide braces; braces in the
    // spec nest).
    const start = index;
    let cursor = index + 1;
    let inBracket = false;
    let inName = true;
    let depth = 1;
    let nameEnd = -1;
    for (; cursor < source.length; cursor++) {
      const c = source[cursor];
      if (inName) {
        if (inBracket) {
          if (c === ']') inBracket = false;
          continue;
        }
        if (c === '[') inBracket = true;
        else if (c === ':' || c === '!') {
          inName = false;
          nameEnd = cursor;
        } else if (c === '}') {
          nameEnd = cursor;
          depth = 0;
          break;
        } else if (c === '{') {
          throw templateError(name, `column ${column(start)}: single '{' (a field cannot contain '{'; write '{{' for a literal brace)`);
        }
        continue;
      }
      if (c === '{') depth++;
      else if (c === '}') {
        depth--;
        if (depth === 0) break;
      }
    }
    if (depth !== 0) {
      throw templateError(name, `column ${column(start)}: single '{' with no closing '}' (write '{{' for a literal brace)`);
    }
    const fieldSource = source.slice(start + 1, cursor);
    const fieldName = source.slice(start + 1, nameEnd);
    let rest = source.slice(nameEnd, cursor);
    const where = `column ${column(start)}, field {${fieldSource}}`;
    let specText: string | undefined;
    if (rest.startsWith('!')) {
      const conversion = rest[1];
      if (conversion === undefined || conversion === ':') throw templateError(name, `${where}: '!' needs a conversion character`);
      if (conversion === 'r' || conversion === 'a') throw templateError(name, `${where}: the !${conversion} conversion (Python's repr/ascii) is not supported; use the value as-is or !s`);
      if (conversion !== 's') throw templateError(name, `${where}: unknown conversion !${conversion} (Python knows !s, !r, !a)`);
      rest = rest.slice(2);
      if (rest !== '' && !rest.startsWith(':')) throw templateError(name, `${where}: expected ':' or '}' after the conversion`);
    }
    if (rest.startsWith(':')) specText = rest.slice(1);
    if (specText !== undefined && (specText.includes('{') || specText.includes('}'))) {
      throw templateError(name, `${where}: nested fields inside a format spec are not supported`);
    }
    const { name: fieldKey, path } = parseFieldName(fieldName, (message) => templateError(name, `${where}: ${message}`));
    let spec: FormatSpec | undefined;
    if (specText !== undefined && specText !== '') {
      try {
        spec = parseFormatSpec(specText);
      } catch (error) {
        if (error instanceof TunekitError) throw templateError(name, `${where}: ${error.message}`);
        throw error;
      }
    }
    if (text !== '') parts.push({ kind: 'text', text });
    text = '';
    parts.push({ kind: 'field', source: fieldSource, name: fieldKey, path, spec, column: column(start) });
    index = cursor + 1;
  }
  if (text !== '') parts.push({ kind: 'text', text });
  return new Template(name, source, parts);
}

function parseFieldName(field: string, fail: (message: string) => TunekitError): { name: string; path: FieldStep[] } {
  let cursor = 0;
  while (cursor < field.length && field[cursor] !== '.' && field[cursor] !== '[') cursor++;
  const name = field.slice(0, cursor);
  if (name === '') throw fail(`positional fields ({} or {0}) are not supported: a template names its record's fields`);
  if (/^[0-9]+$/.test(name)) throw fail(`{${name}} is a positional field in Python's str.format; name a record field instead`);
  const path: FieldStep[] = [];
  while (cursor < field.length) {
    if (field[cursor] === '.') {
      let end = cursor + 1;
      while (end < field.length && field[end] !== '.' && field[end] !== '[') end++;
      const attribute = field.slice(cursor + 1, end);
      if (attribute === '') throw fail(`empty attribute after '.'`);
      throw fail(`.${attribute} is attribute access, which JSON values do not have; Python's str.format reads a key as [${attribute}]`);
    }
    // field[cursor] === '['
    const end = field.indexOf(']', cursor);
    if (end === -1) throw fail(`missing ']'`);
    const key = field.slice(cursor + 1, end);
    if (key === '') throw fail(`empty key '[]'`);
    path.push(/^[0-9]+$/.test(key) ? { kind: 'index', index: Number(key) } : { kind: 'key', key });
    cursor = end + 1;
    if (cursor < field.length && field[cursor] !== '.' && field[cursor] !== '[') throw fail(`only '.' or '[' may follow ']'`);
  }
  return { name, path };
}

const SPEC_PATTERN = /^(?:([\s\S])?([<>=^]))?([-+ ])?(z)?(#)?(0)?([0-9]+)?([,_])?(?:\.([0-9]*))?([a-zA-Z%])?$/u;

/** Parses a format spec (the text after ':'), refusing the parts tunekit does not render. */
export function parseFormatSpec(text: string): FormatSpec {
  const match = SPEC_PATTERN.exec(text);
  if (match === null) throw new TunekitError(TEMPLATE_ERROR, `invalid format spec '${text}'`);
  const [, fill, align, sign, z, alternate, zero, width, grouping, precision, type] = match;
  if (precision === '') throw new TunekitError(TEMPLATE_ERROR, `format spec '${text}' has '.' without a precision`);
  if (z !== undefined) throw new TunekitError(TEMPLATE_ERROR, `format spec '${text}': the 'z' option is not supported`);
  if (alternate !== undefined) throw new TunekitError(TEMPLATE_ERROR, `format spec '${text}': the '#' option is not supported`);
  if (type !== undefined && !'sdfFeE%'.includes(type)) {
    throw new TunekitError(TEMPLATE_ERROR, `format spec '${text}': type '${type}' is not supported (supported: s, d, f, F, e, E, %)`);
  }
  return {
    fill,
    align: align as FormatSpec['align'],
    sign: sign as FormatSpec['sign'],
    zero: zero !== undefined,
    width: width === undefined ? undefined : Number(width),
    grouping: grouping as FormatSpec['grouping'],
    precision: precision === undefined ? undefined : Number(precision),
    type: type as FormatSpec['type'],
    text,
  };
}

/** Python's `str()` of the value `json.loads` would give (see the module comment); `path` names it in errors. */
export function pythonStr(value: unknown, path = 'value'): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value === null) return 'None';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return isJsonInteger(value) ? BigInt(value).toString() : floatRepr(value);
  if (Array.isArray(value)) throw new TunekitError(TEMPLATE_ERROR, `'${path}' is a list; index into it ({${path}[0]}) or flatten it before templating`);
  if (typeof value === 'object') throw new TunekitError(TEMPLATE_ERROR, `'${path}' is an object; read a key ({${path}[key]}) or flatten it before templating`);
  throw new TunekitError(TEMPLATE_ERROR, `'${path}' is ${describeType(value)}, which a template cannot render`);
}

/**
 * Whether Python would hold this number as an int after a JSON round trip: JSON writers (JSON.stringify among them)
 * write integral numbers below 1e21 as integer digits, which json.loads reads as int, and larger ones in exponent
 * form, which it reads as float.
 */
function isJsonInteger(value: number): boolean {
  return Number.isInteger(value) && Math.abs(value) < 1e21;
}

/** Python's `repr(float)`: the shortest round-trip digits, in exponent form below 1e-4 and from 1e16. */
export function floatRepr(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const sign = value < 0 ? '-' : '';
  const [mantissa, exponentText] = Math.abs(value).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) {
    return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const integer = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fraction = digits.slice(exponent + 1);
  return `${sign}${integer}.${fraction === '' ? '0' : fraction}`;
}

/** The exact decimal value of a finite non-negative double: digits / 10^scale. */
function exactDecimal(value: number): { digits: bigint; scale: number } {
  if (value === 0) return { digits: 0n, scale: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  const high = view.getUint32(0);
  const low = view.getUint32(4);
  const biased = (high >>> 20) & 0x7ff;
  let mantissa = (BigInt(high & 0xfffff) << 32n) | BigInt(low);
  let exponent: number;
  if (biased === 0) exponent = -1074;
  else {
    mantissa |= 1n << 52n;
    exponent = biased - 1075;
  }
  if (exponent >= 0) return { digits: mantissa << BigInt(exponent), scale: 0 };
  return { digits: mantissa * 5n ** BigInt(-exponent), scale: -exponent };
}

/** digits / 10^drop rounded half to even (Python's rounding of the exact binary value). */
function roundHalfEven(digits: bigint, drop: number): bigint {
  if (drop <= 0) return digits * 10n ** BigInt(-drop);
  const divisor = 10n ** BigInt(drop);
  const quotient = digits / divisor;
  const remainder = digits % divisor;
  const twice = remainder * 2n;
  if (twice > divisor || (twice === divisor && quotient % 2n === 1n)) return quotient + 1n;
  return quotient;
}

function fixedDigits(value: number, precision: number): string {
  const { digits, scale } = exactDecimal(value);
  const rounded = roundHalfEven(digits, scale - precision).toString().padStart(precision + 1, '0');
  const integer = rounded.slice(0, rounded.length - precision);
  return precision > 0 ? `${integer}.${rounded.slice(rounded.length - precision)}` : integer;
}

function exponentDigits(value: number, precision: number, upper: boolean): string {
  let mantissa: string;
  let exponent = 0;
  if (value === 0) mantissa = '0'.repeat(precision + 1);
  else {
    const { digits, scale } = exactDecimal(value);
    const length = digits.toString().length;
    exponent = length - 1 - scale;
    let rounded = roundHalfEven(digits, length - (precision + 1));
    if (rounded.toString().length > precision + 1) {
      rounded /= 10n;
      exponent++;
    }
    mantissa = rounded.toString();
  }
  const body = precision > 0 ? `${mantissa[0]}.${mantissa.slice(1)}` : mantissa[0];
  return `${body}${upper ? 'E' : 'e'}${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
}

function group(integer: string, separator: string): string {
  let out = '';
  for (let index = 0; index < integer.length; index++) {
    if (index > 0 && (integer.length - index) % 3 === 0) out += separator;
    out += integer[index];
  }
  return out;
}

function pad(body: string, spec: FormatSpec, fill: string, align: string, signPart = ''): string {
  const length = Array.from(signPart).length + Array.from(body).length;
  const padding = Math.max(0, (spec.width ?? 0) - length);
  if (padding === 0) return signPart + body;
  if (align === '<') return signPart + body + fill.repeat(padding);
  if (align === '>') return fill.repeat(padding) + signPart + body;
  if (align === '=') return signPart + fill.repeat(padding) + body;
  const left = Math.floor(padding / 2);
  return fill.repeat(left) + signPart + body + fill.repeat(padding - left);
}

/** Python's `format(value, spec)` for the supported specs (see the module comment); `path` names it in errors. */
export function formatValue(value: unknown, spec: string, path = 'value'): string {
  if (spec === '') return pythonStr(value, path);
  return formatWithSpec(value, parseFormatSpec(spec), path);
}

function formatWithSpec(value: unknown, spec: FormatSpec, path: string): string {
  const fill = spec.fill ?? (spec.zero ? '0' : ' ');
  if (typeof value === 'string') {
    if (spec.type !== undefined && spec.type !== 's') throw new TunekitError(TEMPLATE_ERROR, `format type '${spec.type}' needs a number, but '${path}' is a string`);
    if (spec.sign !== undefined) throw new TunekitError(TEMPLATE_ERROR, `a sign is not allowed in a string's format spec ('${spec.text}')`);
    if (spec.align === '=') throw new TunekitError(TEMPLATE_ERROR, `'=' alignment is not allowed in a string's format spec ('${spec.text}')`);
    if (spec.grouping !== undefined) throw new TunekitError(TEMPLATE_ERROR, `'${spec.grouping}' grouping is not allowed in a string's format spec ('${spec.text}')`);
    const body = spec.precision === undefined ? value : Array.from(value).slice(0, spec.precision).join('');
    return pad(body, spec, fill, spec.align ?? '<');
  }
  if (value === null) throw new TunekitError(TEMPLATE_ERROR, `'${path}' is null (None), which takes no format spec ('${spec.text}')`);
  let number: number | bigint;
  if (typeof value === 'boolean') number = value ? 1 : 0;
  else if (typeof value === 'number' || typeof value === 'bigint') number = value;
  else return pythonStr(value, path); // throws for lists and objects
  const integer = typeof number === 'bigint' || isJsonInteger(number);
  if (spec.type === 's') throw new TunekitError(TEMPLATE_ERROR, `format type 's' needs a string, but '${path}' is a number`);
  const align = spec.align ?? (spec.zero && spec.fill === undefined ? '=' : '>');
  let negative: boolean;
  let body: string;
  if (integer && (spec.type === undefined || spec.type === 'd')) {
    if (spec.precision !== undefined) throw new TunekitError(TEMPLATE_ERROR, `a precision is not allowed in an integer's format spec ('${spec.text}')`);
    const big = BigInt(number);
    negative = big < 0n;
    body = (negative ? -big : big).toString();
    if (spec.grouping !== undefined) body = groupWithZeros(body, '', spec, fill, align, negative);
  } else {
    if (spec.type === 'd') throw new TunekitError(TEMPLATE_ERROR, `format type 'd' needs an integer, but '${path}' is ${floatRepr(Number(number))}`);
    let float = Number(number);
    negative = float < 0 || Object.is(float, -0);
    if (spec.type === '%') float *= 100;
    const magnitude = Math.abs(float);
    if (!Number.isFinite(magnitude)) {
      const word = Number.isNaN(magnitude) ? 'nan' : 'inf';
      body = (spec.type === 'F' || spec.type === 'E' ? word.toUpperCase() : word) + (spec.type === '%' ? '%' : '');
      if (Number.isNaN(magnitude)) negative = false;
    } else if (spec.type === undefined) {
      if (spec.precision !== undefined) throw new TunekitError(TEMPLATE_ERROR, `a precision without a type on a float ('${spec.text}') is not supported; add 'f' or 'e'`);
      body = floatRepr(magnitude);
      if (spec.grouping !== undefined && !body.includes('e')) {
        const [whole, fraction] = body.split('.');
        body = groupWithZeros(whole, `.${fraction}`, spec, fill, align, negative);
      }
    } else if (spec.type === 'e' || spec.type === 'E') {
      body = exponentDigits(magnitude, spec.precision ?? 6, spec.type === 'E');
    } else {
      body = fixedDigits(magnitude, spec.precision ?? 6);
      if (spec.grouping !== undefined) {
        const [whole, fraction] = body.split('.');
        body = groupWithZeros(whole, fraction === undefined ? '' : `.${fraction}`, spec, fill, align, negative);
      }
      if (spec.type === '%') body += '%';
    }
  }
  const signPart = negative ? '-' : spec.sign === '+' ? '+' : spec.sign === ' ' ? ' ' : '';
  return pad(body, spec, fill, align, signPart);
}

/** Groups the integer digits; with '0' padding and '=' alignment the zeros are grouped too, as Python does. */
function groupWithZeros(whole: string, tail: string, spec: FormatSpec, fill: string, align: string, negative: boolean): string {
  const separator = spec.grouping as string;
  let digits = whole;
  let grouped = group(digits, separator) + tail;
  if (fill === '0' && align === '=' && spec.width !== undefined) {
    const target = spec.width - (negative || spec.sign === '+' || spec.sign === ' ' ? 1 : 0);
    while (grouped.length < target) {
      digits = `0${digits}`;
      grouped = group(digits, separator) + tail;
    }
  }
  return grouped;
}

/** Compiles and renders in one call (compile once with compileTemplate when rendering many records). */
export function renderTemplate(source: string, record: Record<string, unknown>, options: { name?: string; where?: string } = {}): string {
  return compileTemplate(source, options.name).render(record, options.where ?? (typeof record.where === 'string' ? record.where : 'record'));
}
