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
}

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

type Program = ReturnType<typeof parse>;
const programs = new Map<string, Program>();

function compile(template: string): Program {
  let program = programs.get(template);
  if (program === undefined) {
    // The tokenizer drops one trailing newline (jinja2's default); lm-eval keeps it, so give it one to drop.
    program = parse(tokenize(template.endsWith('\n') ? template + '\n' : template, { lstrip_blocks: false, trim_blocks: false }));
    programs.set(template, program);
  }
  return program;
}

/** Renders `template` over `context` as jinja2 does in lm-eval (throws UndefinedInTemplate for undefined output). */
export function renderJinja(template: string, context: Record<string, unknown>): string {
  const program = compile(template);
  const interpreter = new Interpreter();
  const internals = interpreter as unknown as InterpreterInternals;
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
