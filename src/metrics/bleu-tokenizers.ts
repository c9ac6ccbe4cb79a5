/**
 * sacreBLEU 2.6.0's tokenizers. Each returns the tokenized line as a string with single spaces between tokens
 * (what sacreBLEU's tokenizers return); BLEU then splits it on whitespace.
 */
import { TunekitError } from '../errors.js';
import { SPAN_HASH_PRIME, SPAN_HASH_SEED } from './ngrams.js';
import { isPythonSpace, splitWhitespace, strip } from './text.js';

export type BleuTokenizerName = '13a' | 'none' | 'intl' | 'char' | 'zh';

/**
 * Receives tokens as spans of a source string, so hot paths need not cut substrings; `hash`, when given, is
 * the span's FNV-1a hash (see `spanHash`), computed during the scan.
 */
export interface TokenSink {
  add(source: string, start: number, end: number, hash?: number): void;
}

function collect(tokenize: (line: string, sink: TokenSink) => void, line: string): string[] {
  const tokens: string[] = [];
  tokenize(line, { add: (source, start, end) => tokens.push(source.slice(start, end)) });
  return tokens;
}
export const BLEU_TOKENIZERS: readonly BleuTokenizerName[] = ['13a', 'none', 'intl', 'char', 'zh'];

// mteval-v13a's language-dependent rules, applied one after the other with leftmost, non-overlapping matches:
// (1) pad the symbols {|}~ [\]^_` !"#$%& ()*+ :;<=>?@ / with spaces, (2) split '.' and ',' from a preceding
// non-digit, (3) from a following non-digit, (4) split '-' from a preceding digit.
const PERIOD_COMMA_AFTER_NON_DIGIT = /([^0-9])([.,])/g;
const PERIOD_COMMA_BEFORE_NON_DIGIT = /([.,])([^0-9])/g;
const DASH_AFTER_DIGIT = /([0-9])(-)/g;

/** Character classes for the scan: rule (1)'s symbols, whitespace, and '.', ',' and '-' (rules 2–4). */
const ORDINARY = 0;
const SYMBOL = 1; // U+0020–U+0026, U+0028–U+002B, U+002F, U+003A–U+0040, U+005B–U+0060, U+007B–U+007E
const SPACE = 2;
const RULE_CHARACTER = 3;
const ASCII_CLASS = new Uint8Array(128);
for (let code = 0; code < 128; code++) {
  if (isPythonSpace(code)) ASCII_CLASS[code] = SPACE;
  else if (
    (code >= 0x21 && code <= 0x26) ||
    (code >= 0x28 && code <= 0x2b) ||
    code === 0x2f ||
    (code >= 0x3a && code <= 0x40) ||
    (code >= 0x5b && code <= 0x60) ||
    (code >= 0x7b && code <= 0x7e)
  ) {
    ASCII_CLASS[code] = SYMBOL;
  } else if (code === 0x2e || code === 0x2c || code === 0x2d) ASCII_CLASS[code] = RULE_CHARACTER;
}

function characterClass(code: number): number {
  return code < 128 ? ASCII_CLASS[code] : isPythonSpace(code) ? SPACE : ORDINARY;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/**
 * The shared regular-expression stage of `13a` and `zh` (sacreBLEU's TokenizerRegexp), returning tokens.
 *
 * Rule (1) only isolates symbols, so after it the line is a sequence of whitespace-separated chunks. Rules
 * (2)–(4) only insert spaces, and a match never needs a space as anything but the context character next to
 * the chunk it splits, so running them on each chunk with its neighbouring space (none at the very start or end
 * of an unpadded line) gives exactly the whole-line result. Chunks without '.', ',' or '-' need no regexps at all, and
 * neither does the common "word." / "word,": a final '.' or ',' splits off when a space follows or a non-digit
 * precedes it.
 */
function tokenizeRegexpInto(line: string, sink: TokenSink, padded: boolean): void {
  const length = line.length;
  let index = 0;
  while (index < length) {
    const kind = characterClass(line.charCodeAt(index));
    if (kind === SPACE) {
      index++;
      continue;
    }
    if (kind === SYMBOL) {
      sink.add(line, index, index + 1, Math.imul(SPAN_HASH_SEED ^ line.charCodeAt(index), SPAN_HASH_PRIME));
      index++;
      continue;
    }
    const start = index;
    let ruleCharacters = 0;
    let lastRuleIndex = -1;
    let hash = SPAN_HASH_SEED;
    let hashBeforeLast = hash;
    while (index < length) {
      const code = line.charCodeAt(index);
      const inner = characterClass(code);
      if (inner === SPACE || inner === SYMBOL) break;
      if (inner === RULE_CHARACTER) {
        ruleCharacters++;
        lastRuleIndex = index;
      }
      hashBeforeLast = hash;
      hash = Math.imul(hash ^ code, SPAN_HASH_PRIME);
      index++;
    }
    if (ruleCharacters === 0 || index - start === 1) {
      sink.add(line, start, index, hash);
      continue;
    }
    const last = line.charCodeAt(index - 1);
    if (
      ruleCharacters === 1 &&
      lastRuleIndex === index - 1 &&
      last !== 0x2d &&
      (padded || index < length || !isDigit(line.charCodeAt(index - 2)))
    ) {
      sink.add(line, start, index - 1, hashBeforeLast);
      sink.add(line, index - 1, index, Math.imul(SPAN_HASH_SEED ^ last, SPAN_HASH_PRIME));
      continue;
    }
    let text = (padded || start > 0 ? ' ' : '') + line.slice(start, index) + (padded || index < length ? ' ' : '');
    text = text.replace(PERIOD_COMMA_AFTER_NON_DIGIT, '$1 $2 ').replace(PERIOD_COMMA_BEFORE_NON_DIGIT, ' $1 $2');
    if (text.includes('-')) text = text.replace(DASH_AFTER_DIGIT, '$1 $2 ');
    for (const token of splitWhitespace(text)) sink.add(token, 0, token.length);
  }
}

function replace13aSpecials(line: string): string {
  if (line.includes('<skipped>')) line = line.replaceAll('<skipped>', '');
  if (line.includes('\n')) line = line.replaceAll('-\n', '').replaceAll('\n', ' ');
  if (line.includes('&')) {
    line = line.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  return line;
}

/** mteval-v13a (WMT's standard): drop `<skipped>`, join `-\n` breaks, unescape four entities, then the rules. */
export function tokenize13aInto(line: string, sink: TokenSink): void {
  // sacreBLEU pads the line with a space on each side before the rules.
  tokenizeRegexpInto(replace13aSpecials(line), sink, true);
}

export function tokens13a(line: string): string[] {
  return collect(tokenize13aInto, line);
}

/** mteval-v13a tokenization as sacreBLEU returns it: tokens joined by single spaces. */
export function tokenize13a(line: string): string {
  return tokens13a(line).join(' ');
}

const INTL_PUNCTUATION_AFTER_NON_NUMBER = /(\P{N})(\p{P})/gu;
const INTL_PUNCTUATION_BEFORE_NON_NUMBER = /(\p{P})(\P{N})/gu;
const INTL_SYMBOL = /(\p{S})/gu;

/** mteval-v14's international tokens: split off Unicode punctuation (not between digits) and symbols. */
export function tokensIntl(line: string): string[] {
  line = line.replace(INTL_PUNCTUATION_AFTER_NON_NUMBER, '$1 $2 ');
  line = line.replace(INTL_PUNCTUATION_BEFORE_NON_NUMBER, ' $1 $2');
  line = line.replace(INTL_SYMBOL, ' $1 ');
  return splitWhitespace(line);
}

export function tokenizeIntl(line: string): string {
  return tokensIntl(line).join(' ');
}

/** Every character (code point) but whitespace is a token. */
export function tokensChar(line: string): string[] {
  const tokens: string[] = [];
  for (const character of line) {
    if (character.length > 1 || !isPythonSpace(character.charCodeAt(0))) tokens.push(character);
  }
  return tokens;
}

/** sacreBLEU's char tokenizer joins every character, whitespace included, with spaces. */
export function tokenizeChar(line: string): string {
  return Array.from(line).join(' ');
}

/**
 * The code-point ranges sacreBLEU's zh tokenizer treats as Chinese. sacreBLEU writes some bounds as '\u20000',
 * '\u2a6d6', '\u2f800' and '\u2fa1d', which Python reads as a 4-digit escape plus one more character, and it
 * compares characters to those strings: so U+2001–U+2A6D and U+2F81–U+2FA1 count as Chinese (general
 * punctuation, arrows, math symbols …) while Extension B and the compatibility supplement do not. We keep that.
 */
const ZH_RANGES: readonly (readonly [number, number])[] = [
  [0x3400, 0x4db5],
  [0x4e00, 0x9fa5],
  [0x9fa6, 0x9fbb],
  [0xf900, 0xfa2d],
  [0xfa30, 0xfa6a],
  [0xfa70, 0xfad9],
  [0x2001, 0x2a6d],
  [0x2f81, 0x2fa1],
  [0xff00, 0xffef],
  [0x2e80, 0x2eff],
  [0x3000, 0x303f],
  [0x31c0, 0x31ef],
  [0x2f00, 0x2fdf],
  [0x2ff0, 0x2fff],
  [0x3100, 0x312f],
  [0x31a0, 0x31bf],
  [0xfe10, 0xfe1f],
  [0xfe30, 0xfe4f],
  [0x2600, 0x26ff],
  [0x2700, 0x27bf],
  [0x3200, 0x32ff],
  [0x3300, 0x33ff],
];

function isChineseCodePoint(codePoint: number): boolean {
  if (codePoint < 0x2001 || codePoint > 0xffef) return false;
  for (const [start, end] of ZH_RANGES) if (codePoint >= start && codePoint <= end) return true;
  return false;
}

/** Chinese: each Chinese character becomes a token, the rest goes through the 13a rules (no entity step). */
export function tokenizeZhInto(line: string, sink: TokenSink): void {
  line = strip(line);
  let spaced = '';
  let runStart = 0;
  for (let index = 0; index < line.length; index++) {
    const code = line.charCodeAt(index);
    // Every range lies in the BMP, so surrogate halves are never Chinese.
    if (isChineseCodePoint(code)) {
      spaced += line.slice(runStart, index) + ' ' + line[index] + ' ';
      runStart = index + 1;
    }
  }
  spaced += line.slice(runStart);
  tokenizeRegexpInto(spaced, sink, false);
}

export function tokensZh(line: string): string[] {
  return collect(tokenizeZhInto, line);
}

export function tokenizeZh(line: string): string {
  return tokensZh(line).join(' ');
}

export function tokenizeNone(line: string): string {
  return line;
}

function fromStrings(tokenize: (line: string) => string[]): (line: string, sink: TokenSink) => void {
  return (line, sink) => {
    for (const token of tokenize(line)) sink.add(token, 0, token.length);
  };
}

/** Feeds the tokens BLEU counts for a (lowercased, right-stripped) segment to a sink. */
export function bleuTokenizeInto(name: BleuTokenizerName): (line: string, sink: TokenSink) => void {
  switch (name) {
    case '13a':
      return tokenize13aInto;
    case 'none':
      return fromStrings(splitWhitespace);
    case 'intl':
      return fromStrings(tokensIntl);
    case 'char':
      return fromStrings(tokensChar);
    case 'zh':
      return tokenizeZhInto;
  }
}

export function bleuTokenizer(name: string): (line: string) => string {
  switch (name) {
    case '13a':
      return tokenize13a;
    case 'none':
      return tokenizeNone;
    case 'intl':
      return tokenizeIntl;
    case 'char':
      return tokenizeChar;
    case 'zh':
      return tokenizeZh;
    default:
      throw new TunekitError('E_BLEU_TOKENIZER', `unknown BLEU tokenizer "${name}": expected ${BLEU_TOKENIZERS.join(', ')}`);
  }
}
