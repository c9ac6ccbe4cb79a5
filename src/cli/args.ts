import { parseArgs as parseNodeArgs } from 'node:util';
import { nearestName, TunekitError } from '../index.js';

/** The flags a verb takes: each a switch (`--json`) or a flag with a value (`--model DIR`, `--model=DIR`). */
export type FlagSpec = Record<string, 'switch' | 'value'>;

export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string | true>;
}

/** " (did you mean --x?)" for the closest known flag, when one is close. */
function suggestion(flag: string, known: readonly string[]): string {
  const best = nearestName(flag, known, { prefixIsClose: true });
  return best === undefined ? '' : ` (did you mean --${best}?)`;
}

/**
 * Parses argv strictly against `spec` (Node's util.parseArgs): an unknown or misspelled flag, a switch given a
 * value, or a flag without its value is an error naming the flag (and the nearest known one).
 */
export function parseArgs(argv: string[], spec: FlagSpec): ParsedArgs {
  const known = Object.keys(spec);
  const args: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    if (arg === '--') {
      args.push(...argv.slice(index));
      break;
    }
    args.push(arg);
    if (!arg.startsWith('-') || arg === '-') continue;
    const name = arg.replace(/^--?/, '').split('=')[0];
    if (!arg.startsWith('--') || !Object.hasOwn(spec, name)) throw new TunekitError('E_FLAG', `unknown flag ${arg.split('=')[0]}${suggestion(name, known)}; see --help`);
    // A negative number is a flag's value, not a flag: `--learning-rate -1` reads as `--learning-rate=-1`.
    const next = argv[index + 1];
    if (spec[name] === 'value' && !arg.includes('=') && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      args[args.length - 1] = `${arg}=${next}`;
      index++;
    }
  }
  const options = Object.fromEntries(known.map((name) => [name, { type: spec[name] === 'switch' ? ('boolean' as const) : ('string' as const) }]));
  let parsed: ReturnType<typeof parseNodeArgs>;
  try {
    parsed = parseNodeArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    const message = (error as Error).message;
    const flag = /'(-[^' ]+)/.exec(message)?.[1] ?? 'a flag';
    if (/does not take an argument/.test(message)) throw new TunekitError('E_FLAG', `${flag} is a switch and takes no value`);
    if (/argument missing|ambiguous/.test(message)) throw new TunekitError('E_FLAG', `${flag} needs a value (write ${flag}=VALUE for a value that starts with "-")`);
    throw new TunekitError('E_FLAG', message.split('\n')[0]);
  }
  const flags = new Map<string, string | true>();
  for (const [name, value] of Object.entries(parsed.values)) {
    if (value === true) flags.set(name, true);
    else if (typeof value === 'string') flags.set(name, value);
  }
  return { positional: parsed.positionals, flags };
}

export function flagString(args: ParsedArgs, name: string): string | undefined {
  const value = args.flags.get(name);
  if (value === true) throw new TunekitError('E_FLAG', `--${name} needs a value`);
  return value;
}

export function requireFlag(args: ParsedArgs, name: string, what: string): string {
  const value = flagString(args, name);
  if (value === undefined || value === '') throw new TunekitError('E_FLAG', `--${name} ${what} is required`);
  return value;
}

export interface NumberRange {
  integer?: boolean;
  min?: number;
  max?: number;
  /** The lower bound itself is not allowed (min < value). */
  exclusiveMin?: boolean;
}

function describeRange(range: NumberRange): string {
  const kind = range.integer ? 'an integer' : 'a number';
  const bounds: string[] = [];
  if (range.min !== undefined) bounds.push(`${range.exclusiveMin ? '>' : '≥'} ${range.min}`);
  if (range.max !== undefined) bounds.push(`≤ ${range.max}`);
  return bounds.length === 0 ? kind : `${kind} ${bounds.join(' and ')}`;
}

/** A numeric flag (decimal notation), range-checked; undefined when absent. */
export function flagNumber(args: ParsedArgs, name: string, range: NumberRange = {}): number | undefined {
  const text = flagString(args, name);
  if (text === undefined) return undefined;
  const value = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text.trim()) ? Number(text) : NaN;
  const ok =
    Number.isFinite(value) &&
    (!range.integer || Number.isInteger(value)) &&
    (range.min === undefined || (range.exclusiveMin ? value > range.min : value >= range.min)) &&
    (range.max === undefined || value <= range.max);
  if (!ok) throw new TunekitError('E_FLAG', `--${name} expects ${describeRange(range)}, got "${text}"`);
  return value;
}

export function flagBoolean(args: ParsedArgs, name: string): boolean {
  return args.flags.get(name) === true;
}

/** No positional words beyond the first `allowed`. */
export function noExtraPositionals(args: ParsedArgs, allowed = 0): void {
  if (args.positional.length > allowed) throw new TunekitError('E_FLAG', `unexpected argument "${args.positional[allowed]}"; see --help`);
}

/**
 * Takes every occurrence of the repeatable flags `names` (`--name VALUE` or `--name=VALUE`) out of argv, in order,
 * so the rest can be parsed strictly; everything after `--` stays in the rest.
 */
export function takeRepeatedFlags(argv: readonly string[], names: readonly string[]): { rest: string[]; taken: { flag: string; value: string }[] } {
  const rest: string[] = [];
  const taken: { flag: string; value: string }[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    if (arg === '--') {
      rest.push(...argv.slice(index));
      break;
    }
    const flag = names.find((name) => arg === `--${name}` || arg.startsWith(`--${name}=`));
    if (flag === undefined) {
      rest.push(arg);
      continue;
    }
    const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++index];
    if (value === undefined || value === '' || (!arg.includes('=') && value.startsWith('--'))) throw new TunekitError('E_FLAG', `--${flag} needs a value`);
    taken.push({ flag, value });
  }
  return { rest, taken };
}
