/**
 * Python `re` patterns as JavaScript RegExps (Unicode mode), for the patterns task files carry (filters,
 * exact_match's regexes_to_ignore). Python's str patterns are Unicode-aware, so `\w` becomes letters, numbers and
 * `_`, `\d` decimal digits, `\b` a boundary between those; named groups `(?P<name>…)` / `(?P=name)`, `\A`, `\Z`,
 * `$` before a final newline, leading inline flags `(?i)`, `(?s)`, `(?m)`, and Python's lenient escapes and literal
 * braces translate too.
 */
import { TunekitError } from '../errors.js';

const WORD = '\\p{L}\\p{N}_';
const BOUNDARY = `(?:(?<=[${WORD}])(?![${WORD}])|(?<![${WORD}])(?=[${WORD}]))`;
const NOT_BOUNDARY = `(?:(?<=[${WORD}])(?=[${WORD}])|(?<![${WORD}])(?![${WORD}]))`;

const cache = new Map<string, RegExp>();

function hexEscape(char: string): string {
  return `\\u{${char.codePointAt(0)!.toString(16)}}`;
}

/** Rewrites the pattern body for JavaScript's `u` mode. */
function translate(pattern: string, where: string, multiline: boolean): string {
  let out = '';
  let inClass = false;
  const unsupported = (what: string): never => {
    throw new TunekitError('E_TASK_CONFIG', `${where}: ${what} in the regex ${JSON.stringify(pattern)} is not supported`);
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[++i];
      if (next === undefined) unsupported('a trailing backslash');
      if (next === 'w') out += inClass ? WORD : `[${WORD}]`;
      else if (next === 'W') out += inClass ? unsupported('\\W inside a character class') : `[^${WORD}]`;
      else if (next === 'd') out += '\\p{Nd}';
      else if (next === 'D') out += '\\P{Nd}';
      else if (next === 'b') out += inClass ? '\\x08' : BOUNDARY;
      else if (next === 'B') out += inClass ? unsupported('\\B inside a character class') : NOT_BOUNDARY;
      else if (next === 'A') out += '^';
      else if (next === 'Z') out += '$(?![\\s\\S])';
      else if (/[sSntrfv0-9]/.test(next)) out += '\\' + next;
      else if (next === 'x') out += '\\x';
      else if (next === 'u' || next === 'U') {
        const length = next === 'u' ? 4 : 8;
        out += `\\u{${pattern.slice(i + 1, i + 1 + length)}}`;
        i += length;
      } else if (/[A-Za-z]/.test(next)) unsupported(`the escape \\${next}`);
      else out += hexEscape(next);
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      else if (c === '[') {
        out += '\\[';
        continue;
      }
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (pattern[i + 1] === '^') out += pattern[++i];
      if (pattern[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (c === '(' && pattern.startsWith('(?P<', i)) {
      out += '(?<';
      i += 3;
      continue;
    }
    if (c === '(' && pattern.startsWith('(?P=', i)) {
      const close = pattern.indexOf(')', i);
      out += `\\k<${pattern.slice(i + 4, close)}>`;
      i = close;
      continue;
    }
    if (c === '{') {
      const quantifier = /^\{\d*(,\d*)?\}/.exec(pattern.slice(i));
      if (quantifier !== null && quantifier[0] !== '{}' && quantifier[0] !== '{,}') {
        out += quantifier[0].startsWith('{,') ? `{0${quantifier[0].slice(1)}` : quantifier[0];
        i += quantifier[0].length - 1;
      } else out += '\\{';
      continue;
    }
    if (c === '$' && !multiline) {
      // Python's $ also matches before a newline that ends the text.
      out += '(?=\\n?(?![\\s\\S]))';
      continue;
    }
    if (c === '}' || c === ']') {
      out += '\\' + c;
      continue;
    }
    out += c;
  }
  return out;
}

export function pythonRegex(pattern: string, where: string, global = true): RegExp {
  const key = `${global ? 'g' : ''}:${pattern}`;
  const cached = cache.get(key);
  if (cached !== undefined) {
    cached.lastIndex = 0;
    return cached;
  }
  let body = pattern;
  let flags = global ? 'gu' : 'u';
  const inline = /^\(\?([aiLmsux]+)\)/.exec(body);
  if (inline !== null) {
    if (/[xLa]/.test(inline[1])) throw new TunekitError('E_TASK_CONFIG', `${where}: the regex flag (?${inline[1]}) is not supported in ${JSON.stringify(pattern)}`);
    for (const flag of inline[1]) if (flag !== 'u' && !flags.includes(flag)) flags += flag;
    body = body.slice(inline[0].length);
  }
  try {
    const regex = new RegExp(translate(body, where, flags.includes('m')), flags);
    cache.set(key, regex);
    return regex;
  } catch (error) {
    if (error instanceof TunekitError) throw error;
    throw new TunekitError('E_TASK_CONFIG', `${where}: cannot use the regex ${JSON.stringify(pattern)}: ${(error as Error).message}`);
  }
}

/** re.findall: whole matches without groups, the group with one, a tuple (array) with several. */
export function pythonFindall(regex: RegExp, text: string): (string | string[])[] {
  const results: (string | string[])[] = [];
  regex.lastIndex = 0;
  for (const match of text.matchAll(regex)) {
    if (match.length === 1) results.push(match[0]);
    else if (match.length === 2) results.push(match[1] ?? '');
    else results.push(match.slice(1).map((group) => group ?? ''));
  }
  return results;
}

/** re.sub(pattern, '', text). */
export function pythonRemove(regex: RegExp, text: string): string {
  regex.lastIndex = 0;
  return text.replace(regex, '');
}

const TEMPLATE_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', f: '\f', v: '\v', a: '\x07', b: '\b', '\\': '\\' };

/** re.sub(regex, repl, text, count): `repl` as Python's replacement template (\1, \g<1>, \g<name>, \n, \\). */
export function pythonSub(regex: RegExp, repl: string, text: string, count = 0, where = 're.sub'): string {
  const parts: (string | number | { name: string })[] = [];
  let literal = '';
  for (let i = 0; i < repl.length; i++) {
    const c = repl[i];
    if (c !== '\\' || i + 1 >= repl.length) {
      literal += c;
      continue;
    }
    const next = repl[++i];
    const digits = /^\d{1,2}/.exec(repl.slice(i));
    if (digits !== null && next !== '0') {
      parts.push(literal, Number(digits[0]));
      literal = '';
      i += digits[0].length - 1;
    } else if (next === 'g') {
      const group = /^g<([^>]+)>/.exec(repl.slice(i));
      if (group === null) throw new TunekitError('E_TASK_CONFIG', `${where}: bad group reference in the replacement ${JSON.stringify(repl)}`);
      parts.push(literal, /^\d+$/.test(group[1]) ? Number(group[1]) : { name: group[1] });
      literal = '';
      i += group[0].length - 1;
    } else if (next in TEMPLATE_ESCAPES) literal += TEMPLATE_ESCAPES[next];
    else if (/[A-Za-z]/.test(next)) throw new TunekitError('E_TASK_CONFIG', `${where}: bad escape \\${next} in the replacement ${JSON.stringify(repl)}`);
    else literal += '\\' + next;
  }
  parts.push(literal);
  let done = 0;
  regex.lastIndex = 0;
  return text.replace(regex, (...args: unknown[]) => {
    const hasNames = typeof args[args.length - 1] === 'object';
    const groups = (hasNames ? args[args.length - 1] : {}) as Record<string, string | undefined>;
    const match = args.slice(0, hasNames ? -3 : -2) as (string | undefined)[];
    if (count > 0 && done >= count) return match[0] as string;
    done++;
    return parts
      .map((part) => {
        if (typeof part === 'string') return part;
        if (typeof part === 'number') {
          if (part >= match.length) throw new TunekitError('E_TASK_CONFIG', `${where}: the replacement refers to group ${part}, which the pattern does not have`);
          return match[part] ?? '';
        }
        if (!(part.name in groups)) throw new TunekitError('E_TASK_CONFIG', `${where}: the replacement refers to group "${part.name}", which the pattern does not have`);
        return groups[part.name] ?? '';
      })
      .join('');
  });
}
