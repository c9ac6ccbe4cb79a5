/**
 * Jinja templates rendered as lm-eval's environment renders them (Python jinja2 with StrictUndefined,
 * keep_trailing_newline, and jinja2's default trim_blocks/lstrip_blocks off), on @huggingface/jinja's parser and
 * interpreter: printed values take Python's str() (True, None, ['a', 'b'], 1.5), and printing an undefined name is
 * an error instead of an empty string. (@huggingface/jinja's own Template turns trim/lstrip on, as chat templates
 * want, and prints JavaScript's forms.)
 *
 * The interpreter's block evaluation is not part of the package's typed surface, so the one override below is
 * applied per interpreter through a narrow structural type; the tests pin what it must produce.
 */
import { Interpreter, parse, tokenize } from '@huggingface/jinja';
import { floatRepr } from '../data/template.js';
import { pythonRegex, pythonSub } from './python-regex.js';

interface RuntimeValueLike {
  type: string;
  value: unknown;
  toString(): string;
}

interface StatementLike {
  type: string;
  value?: unknown;
}

interface InterpreterInternals {
  evaluate(statement: StatementLike, environment: unknown): RuntimeValueLike;
  evaluateBlock(statements: StatementLike[], environment: unknown): RuntimeValueLike;
  applyFilter(operand: RuntimeValueLike, filter: FilterNodeLike, environment: unknown): RuntimeValueLike;
  evaluateArguments(args: StatementLike[], environment: unknown): [RuntimeValueLike[], Map<string, RuntimeValueLike>];
}

interface FilterNodeLike extends StatementLike {
  callee?: StatementLike;
  args?: StatementLike[];
}

interface CallLike extends StatementLike {
  callee: StatementLike & { object?: StatementLike; property?: StatementLike; computed?: boolean };
  args: StatementLike[];
}

type ValueConstructor = new (value: unknown) => RuntimeValueLike;

export class UndefinedInTemplate extends Error {}

/** Statements print nothing; everything else is an expression whose value is printed. */
const STATEMENTS = new Set(['If', 'For', 'Break', 'Continue', 'Set', 'Macro', 'Comment', 'CallStatement', 'FilterStatement', 'Program']);

/** Python's repr() of a str. */
function pythonStringRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === '\\') out += '\\\\';
    else if (char === quote) out += '\\' + quote;
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += '\\x' + code.toString(16).padStart(2, '0');
    else out += char;
  }
  return out + quote;
}

function pythonRepr(value: RuntimeValueLike): string {
  return value.type === 'StringValue' ? pythonStringRepr(value.value as string) : pythonStr(value);
}

/** Python's str() of a runtime value. */
function pythonStr(value: RuntimeValueLike): string {
  switch (value.type) {
    case 'StringValue':
      return value.value as string;
    case 'BooleanValue':
      return value.value ? 'True' : 'False';
    case 'NullValue':
      return 'None';
    case 'IntegerValue':
      return String(value.value);
    case 'FloatValue':
      return floatRepr(value.value as number);
    case 'ArrayValue':
      return `[${(value.value as RuntimeValueLike[]).map(pythonRepr).join(', ')}]`;
    case 'TupleValue': {
      const items = (value.value as RuntimeValueLike[]).map(pythonRepr);
      return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
    }
    case 'ObjectValue':
      return `{${[...(value.value as Map<string, RuntimeValueLike>).entries()].map(([key, item]) => `${pythonStringRepr(key)}: ${pythonRepr(item)}`).join(', ')}}`;
    default:
      return value.toString();
  }
}

function describeStatement(statement: StatementLike): string {
  if (statement.type === 'Identifier') return `"${String(statement.value)}"`;
  return 'an expression';
}

/** Python's range() for templates: range(stop), range(start, stop[, step]). */
function range(start: number, stop?: number, step = 1): number[] {
  const [from, to] = stop === undefined ? [0, start] : [start, stop];
  const result: number[] = [];
  for (let i = from; step > 0 ? i < to : i > to; i += step) result.push(i);
  return result;
}

/** Python's str.capitalize(): the first character upper-cased, the rest lower-cased. */
function pythonCapitalize(text: string): string {
  const [first = '', ...rest] = [...text];
  return first.toUpperCase() + rest.join('').toLowerCase();
}

function same(a: RuntimeValueLike, b: RuntimeValueLike): boolean {
  return a.type === b.type || (/^(Integer|Float)Value$/.test(a.type) && /^(Integer|Float)Value$/.test(b.type)) ? a.value === b.value : false;
}

/**
 * What jinja2 and lm-eval's environment have that @huggingface/jinja lacks or does differently: the
 * `regex_replace(pattern, repl, count=0)` filter lm-eval registers (Python's re.sub), `map('filter', args…)`,
 * `unique` (case-insensitive unless case_sensitive=true), Python's `capitalize` (filter and method), and
 * `list.index(value)`.
 */
function extendInterpreter(internals: InterpreterInternals): void {
  const applyFilter = internals.applyFilter.bind(internals);
  const evaluate = internals.evaluate.bind(internals);
  const construct = (like: RuntimeValueLike, value: unknown) => new (like.constructor as ValueConstructor)(value);
  internals.applyFilter = (operand, filter, environment) => {
    const name = filter.type === 'Identifier' ? filter.value : filter.type === 'CallExpression' && filter.callee?.type === 'Identifier' ? filter.callee.value : undefined;
    if (name === 'capitalize' && operand.type === 'StringValue') return construct(operand, pythonCapitalize(operand.value as string));
    if (name === 'regex_replace' && filter.type === 'CallExpression') {
      if (operand.type !== 'StringValue') throw new Error(`regex_replace works on text, got ${operand.type}`);
      const [args, kwargs] = internals.evaluateArguments(filter.args ?? [], environment);
      const pattern = args[0] ?? kwargs.get('pattern');
      const repl = args[1] ?? kwargs.get('repl');
      const count = args[2] ?? kwargs.get('count');
      if (pattern?.type !== 'StringValue' || repl?.type !== 'StringValue') throw new Error('regex_replace needs a pattern and a replacement (strings)');
      if (count !== undefined && count.type !== 'IntegerValue') throw new Error('regex_replace count must be an integer');
      const regex = pythonRegex(pattern.value as string, 'regex_replace');
      return construct(operand, pythonSub(regex, repl.value as string, operand.value as string, (count?.value as number | undefined) ?? 0, 'regex_replace'));
    }
    if (name === 'unique' && operand.type === 'ArrayValue') {
      // jinja2's unique compares strings case-insensitively unless case_sensitive=true, keeping the first of each.
      const [args, kwargs] = filter.type === 'CallExpression' ? internals.evaluateArguments(filter.args ?? [], environment) : [[], new Map<string, RuntimeValueLike>()];
      const sensitive = (args[0] ?? kwargs.get('case_sensitive'))?.value === true;
      const seen = new Set<unknown>();
      const kept = (operand.value as RuntimeValueLike[]).filter((item) => {
        const key = item.type === 'StringValue' && !sensitive ? (item.value as string).toLowerCase() : item.value;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      return construct(operand, kept);
    }
    if (name === 'map' && filter.type === 'CallExpression' && operand.type === 'ArrayValue') {
      const [first, ...rest] = filter.args ?? [];
      if (first !== undefined && first.type !== 'KeywordArgumentExpression') {
        const filterName = internals.evaluate(first, environment);
        if (filterName.type !== 'StringValue') throw new Error('map(name, …) needs a filter name');
        const callee = { type: 'Identifier', value: filterName.value };
        const node: FilterNodeLike = rest.length === 0 ? callee : { type: 'CallExpression', callee, args: rest };
        return construct(operand, (operand.value as RuntimeValueLike[]).map((item) => internals.applyFilter(item, node, environment)));
      }
    }
    return applyFilter(operand, filter, environment);
  };
  internals.evaluate = (statement, environment) => {
    if (statement?.type === 'CallExpression') {
      const { callee, args } = statement as CallLike;
      if (callee.type === 'MemberExpression' && callee.computed === false && callee.property?.type === 'Identifier' && (callee.property.value === 'index' || callee.property.value === 'capitalize')) {
        const object = internals.evaluate(callee.object as StatementLike, environment);
        if (callee.property.value === 'capitalize' && object.type === 'StringValue') return construct(object, pythonCapitalize(object.value as string));
        if (callee.property.value === 'index' && (object.type === 'ArrayValue' || object.type === 'TupleValue')) {
          const [[wanted]] = [internals.evaluateArguments(args, environment)];
          const items = object.value as RuntimeValueLike[];
          const position = wanted[0] === undefined ? -1 : items.findIndex((item) => same(item, wanted[0]));
          if (position < 0) throw new Error(`${wanted[0] === undefined ? 'index() needs a value' : `${pythonRepr(wanted[0])} is not in list`}`);
          const length = (object as RuntimeValueLike & { builtins: Map<string, RuntimeValueLike> }).builtins.get('length')!;
          return construct(length, position);
        }
      }
    }
    return evaluate(statement, environment);
  };
}

/**
 * Escapes the tokenizer knows in string literals. jinja2 reads them as Python does: octal escapes and \a too, and
 * any other backslash kept as it is.
 */
const KNOWN_ESCAPES = new Set(['n', 't', 'r', 'b', 'f', 'v', "'", '"', '\\', 'x', 'u']);

/** Doubles the backslash of unknown escapes (`'\\['` in a regex) inside the string literals of tags. */
function keepUnknownEscapes(template: string): string {
  let out = '';
  let inTag = false;
  let quote: string | null = null;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    const pair = template.slice(i, i + 2);
    if (!inTag) {
      if (pair === '{{' || pair === '{%') inTag = true;
    } else if (quote !== null) {
      if (c === '\\') {
        const next = template[i + 1] ?? '';
        const octal = /^[0-7]{1,3}/.exec(template.slice(i + 1, i + 4));
        if (octal !== null) {
          // Python's octal escape (\1 is U+0001), as a hex escape the tokenizer reads.
          out += '\\x' + (parseInt(octal[0], 8) & 0xff).toString(16).padStart(2, '0');
          i += octal[0].length;
          continue;
        }
        out += next === 'a' ? '\\x07' : KNOWN_ESCAPES.has(next) ? c + next : '\\\\' + next;
        i++;
        continue;
      }
      if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if (pair === '}}' || pair === '%}') inTag = false;
    out += c;
  }
  return out;
}

type Program = ReturnType<typeof parse>;
const programs = new Map<string, Program>();

function compile(template: string): Program {
  let program = programs.get(template);
  if (program === undefined) {
    // The tokenizer drops one trailing newline (jinja2's default); lm-eval keeps it, so give it one to drop.
    const source = keepUnknownEscapes(template);
    program = parse(tokenize(source.endsWith('\n') ? source + '\n' : source, { lstrip_blocks: false, trim_blocks: false }));
    programs.set(template, program);
  }
  return program;
}

/** Renders `template` over `context` as jinja2 does in lm-eval (throws UndefinedInTemplate for undefined output). */
export function renderJinja(template: string, context: Record<string, unknown>): string {
  const program = compile(template);
  const interpreter = new Interpreter();
  const internals = interpreter as unknown as InterpreterInternals;
  extendInterpreter(internals);
  internals.evaluateBlock = (statements, environment) => {
    let result = '';
    for (const statement of statements) {
      const value = internals.evaluate(statement, environment);
      if (STATEMENTS.has(statement.type)) {
        if (value.type !== 'NullValue' && value.type !== 'UndefinedValue') result += value.toString();
        continue;
      }
      if (value.type === 'UndefinedValue') throw new UndefinedInTemplate(`${describeStatement(statement)} is undefined (no such field in the record)`);
      result += pythonStr(value);
    }
    return { type: 'StringValue', value: result, toString: () => result } as RuntimeValueLike;
  };
  const globals: Record<string, unknown> = { True: true, False: false, None: null, true: true, false: false, none: null, range, ...context };
  for (const [key, value] of Object.entries(globals)) interpreter.global.set(key, value);
  return String(interpreter.run(program).value);
}
