/**
 * sacreBLEU 2.6.0's tokenizers. Each returns the tokenized line as a string with single spaces between tokens
 * (what sacreBLEU's tokenizers return); BLEU then splits it on whitespace.
 */
import { TunekitError } from '../errors.js';
import { splitWhitespace, strip } from './text.js';

export type BleuTokenizerName = '13a' | 'none' | 'intl' | 'char' | 'zh';
export const BLEU_TOKENIZERS: readonly BleuTokenizerName[] = ['13a', 'none', 'intl', 'char', 'zh'];

// mteval-v13a's language-dependent rules, applied one after the other with leftmost, non-overlapping matches.
const PAD_SYMBOLS = /([{-~[-` -&(-+:-@/])/g; // {|}~ [\]^_` space!"#$%& ()*+ :;<=>?@ /
const PERIOD_COMMA_AFTER_NON_DIGIT = /([^0-9])([.,])/g;
const PERIOD_COMMA_BEFORE_NON_DIGIT = /([.,])([^0-9])/g;
const DASH_AFTER_DIGIT = /([0-9])(-)/g;

/** The shared regular-expression stage of `13a` and `zh` (sacreBLEU's TokenizerRegexp). */
function tokenizeRegexp(line: string): string {
  line = line.replace(PAD_SYMBOLS, ' $1 ');
  if (line.includes('.') || line.includes(',')) {
    line = line.replace(PERIOD_COMMA_AFTER_NON_DIGIT, '$1 $2 ');
    line = line.replace(PERIOD_COMMA_BEFORE_NON_DIGIT, ' $1 $2');
  }
  if (line.includes('-')) line = line.replace(DASH_AFTER_DIGIT, '$1 $2 ');
  return splitWhitespace(line).join(' ');
}

/** mteval-v13a (WMT's standard): drop `<skipped>`, join `-\n` breaks, unescape four entities, then regexps. */
export function tokenize13a(line: string): string {
  line = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (line.includes('&')) {
    line = line.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  return tokenizeRegexp(` ${line} `);
}

const INTL_PUNCTUATION_AFTER_NON_NUMBER = /(\P{N})(\p{P})/gu;
const INTL_PUNCTUATION_BEFORE_NON_NUMBER = /(\p{P})(\P{N})/gu;
const INTL_SYMBOL = /(\p{S})/gu;

/** mteval-v14's international tokenizer: split off Unicode punctuation (not between digits) and symbols. */
export function tokenizeIntl(line: string): string {
  line = line.replace(INTL_PUNCTUATION_AFTER_NON_NUMBER, '$1 $2 ');
  line = line.replace(INTL_PUNCTUATION_BEFORE_NON_NUMBER, ' $1 $2');
  line = line.replace(INTL_SYMBOL, ' $1 ');
  return splitWhitespace(line).join(' ');
}

/** Every character (code point) is a token. */
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

/** Chinese: each Chinese character becomes a token, the rest goes through the 13a regexps (no entity step). */
export function tokenizeZh(line: string): string {
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
  return tokenizeRegexp(spaced);
}

export function tokenizeNone(line: string): string {
  return line;
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
