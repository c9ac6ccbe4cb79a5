/**
 * Python's `ast.literal_eval` for the literals task templates render: lm-eval renders `doc_to_choice: "{{choices}}"`
 * to a list's repr and evaluates it back, and reads a rendered target like `[0, 2]` as a list. Strings (single,
 * double or triple quoted, with escapes), ints, floats, True/False/None, lists, tuples and dicts.
 */
export class PythonLiteralError extends Error {}

export type PythonLiteral = string | number | boolean | null | PythonLiteral[] | { [key: string]: PythonLiteral };

const SIMPLE_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0', '\n': '' };

class Parser {
  position = 0;
  constructor(readonly text: string) {}

  fail(what: string): never {
    throw new PythonLiteralError(`${what} at character ${this.position} of ${JSON.stringify(this.text.slice(0, 80))}`);
  }

  skipSpace(): void {
    while (this.position < this.text.length && /\s/.test(this.text[this.position])) this.position++;
  }

  value(): PythonLiteral {
    this.skipSpace();
    const c = this.text[this.position];
    if (c === undefined) this.fail('unexpected end');
    if (c === '[') return this.sequence(']');
    if (c === '(') return this.sequence(')');
    if (c === '{') return this.dict();
    if (c === "'" || c === '"') return this.strings();
    if (/[rRbBuU]/.test(c) && /['"]/.test(this.text[this.position + 1] ?? '')) return this.strings();
    const word = /^(True|False|None)\b/.exec(this.text.slice(this.position));
    if (word !== null) {
      this.position += word[1].length;
      return word[1] === 'True' ? true : word[1] === 'False' ? false : null;
    }
    const number = /^[-+]?(\d[\d_]*\.?[\d_]*([eE][-+]?\d+)?|\.\d[\d_]*([eE][-+]?\d+)?)/.exec(this.text.slice(this.position));
    if (number !== null) {
      this.position += number[0].length;
      return Number(number[0].replaceAll('_', ''));
    }
    this.fail(`not a Python literal: ${JSON.stringify(c)}`);
  }

  sequence(close: string): PythonLiteral[] {
    this.position++;
    const items: PythonLiteral[] = [];
    for (;;) {
      this.skipSpace();
      if (this.text[this.position] === close) {
        this.position++;
        return items;
      }
      items.push(this.value());
      this.skipSpace();
      const next = this.text[this.position];
      if (next === ',') this.position++;
      else if (next !== close) this.fail(`expected "," or "${close}"`);
    }
  }

  dict(): { [key: string]: PythonLiteral } {
    this.position++;
    const result: { [key: string]: PythonLiteral } = {};
    for (;;) {
      this.skipSpace();
      if (this.text[this.position] === '}') {
        this.position++;
        return result;
      }
      const key = this.value();
      this.skipSpace();
      if (this.text[this.position] !== ':') this.fail('expected ":"');
      this.position++;
      result[String(key)] = this.value();
      this.skipSpace();
      const next = this.text[this.position];
      if (next === ',') this.position++;
      else if (next !== '}') this.fail('expected "," or "}"');
    }
  }

  /** Adjacent string literals concatenate, as in Python. */
  strings(): string {
    let result = this.string();
    for (;;) {
      const save = this.position;
      this.skipSpace();
      const c = this.text[this.position];
      if (c === "'" || c === '"' || (/[rRuU]/.test(c ?? '') && /['"]/.test(this.text[this.position + 1] ?? ''))) result += this.string();
      else {
        this.position = save;
        return result;
      }
    }
  }

  string(): string {
    let raw = false;
    while (/[rRbBuU]/.test(this.text[this.position])) {
      if (/[bB]/.test(this.text[this.position])) this.fail('bytes literals are not supported');
      if (/[rR]/.test(this.text[this.position])) raw = true;
      this.position++;
    }
    const quote = this.text[this.position];
    const triple = this.text.startsWith(quote.repeat(3), this.position);
    const delimiter = triple ? quote.repeat(3) : quote;
    this.position += delimiter.length;
    let out = '';
    for (;;) {
      if (this.position >= this.text.length) this.fail('unterminated string');
      if (this.text.startsWith(delimiter, this.position)) {
        this.position += delimiter.length;
        return out;
      }
      const c = this.text[this.position++];
      if (c === '\n' && !triple) this.fail('line break in a string');
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.text[this.position++];
      if (raw) {
        out += '\\' + e;
        continue;
      }
      if (e in SIMPLE_ESCAPES && !(e === '0' && /[0-7]/.test(this.text[this.position] ?? ''))) out += SIMPLE_ESCAPES[e];
      else if (e === 'x' || e === 'u' || e === 'U') {
        const length = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const hex = this.text.slice(this.position, this.position + length);
        if (!new RegExp(`^[0-9a-fA-F]{${length}}$`).test(hex)) this.fail(`bad \\${e} escape`);
        out += String.fromCodePoint(parseInt(hex, 16));
        this.position += length;
      } else if (/[0-7]/.test(e)) {
        const octal = /^[0-7]{1,3}/.exec(this.text.slice(this.position - 1))![0];
        out += String.fromCodePoint(parseInt(octal, 8));
        this.position += octal.length - 1;
      } else out += '\\' + e;
    }
  }
}

/** Evaluates one Python literal; throws PythonLiteralError when the text is not one. */
export function literalEval(text: string): PythonLiteral {
  const parser = new Parser(text);
  const value = parser.value();
  parser.skipSpace();
  if (parser.position !== text.length) parser.fail('unexpected text after the literal');
  return value;
}
