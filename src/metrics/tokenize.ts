/**
 * Tokenizers for ROUGE.
 *
 * `tokenizeDefault` is rouge-score 0.1.2's default tokenizer: lowercase the text (Python `str.lower()`), turn
 * every character outside [a-z0-9] into a space, split on whitespace. Only ASCII letters and digits survive, so
 * text in other scripts yields no tokens; `tokenizeUnicode` is the opt-in alternative that keeps them.
 */

/** Turns text into ROUGE tokens. */
export type RougeTokenizer = (text: string) => string[];

function isAsciiAlphanumeric(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 48 && code <= 57);
}

/** rouge-score's default tokenizer (without stemming; see `stemTokens`). */
export function tokenizeDefault(text: string): string[] {
  // Python lowercases the whole text before the ASCII-only regex; only 'İ' (→ 'i' + U+0307) and the Kelvin
  // sign (→ 'k') are non-ASCII characters whose lowercase holds an ASCII letter, and toLowerCase agrees.
  const lowered = text.toLowerCase();
  const tokens: string[] = [];
  let start = -1;
  for (let index = 0; index < lowered.length; index++) {
    if (isAsciiAlphanumeric(lowered.charCodeAt(index))) {
      if (start < 0) start = index;
    } else if (start >= 0) {
      tokens.push(lowered.slice(start, index));
      start = -1;
    }
  }
  if (start >= 0) tokens.push(lowered.slice(start));
  return tokens;
}

// Scripts written without spaces between words: each character becomes one token.
const UNSPACED_SCRIPT = String.raw`\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}`;
const UNICODE_TOKEN = new RegExp(`[${UNSPACED_SCRIPT}]|(?:(?![${UNSPACED_SCRIPT}])[\\p{L}\\p{N}\\p{M}])+`, 'gu');

/**
 * Opt-in Unicode-aware tokenizer: NFKC-normalise and lowercase, then take runs of letters, digits and combining
 * marks as tokens, except that each character of Han, Kana, Thai, Lao, Khmer and Myanmar text is its own token.
 * For ASCII text it gives the same tokens as `tokenizeDefault`.
 */
export function tokenizeUnicode(text: string): string[] {
  return text.normalize('NFKC').toLowerCase().match(UNICODE_TOKEN) ?? [];
}

/** Anything that can stem one word (e.g. `PorterStemmer`). */
export interface Stemmer {
  stem(word: string): string;
}

/** rouge-score's rule: stem only tokens longer than 3 characters (and, here, only ASCII ones). */
export function stemTokens(tokens: string[], stemmer: Stemmer): string[] {
  for (let index = 0; index < tokens.length; index++) {
    const token = tokens[index];
    if (token.length > 3 && isAsciiWord(token)) tokens[index] = stemmer.stem(token);
  }
  return tokens;
}

function isAsciiWord(token: string): boolean {
  for (let index = 0; index < token.length; index++) if (!isAsciiAlphanumeric(token.charCodeAt(index))) return false;
  return true;
}

/** rougeLsum's sentences as rouge-score makes them: split on "\n", drop empty lines. */
export function splitLines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}

const ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'dr', 'prof', 'sr', 'jr', 'st', 'vs', 'etc', 'e.g', 'i.e', 'inc', 'ltd', 'co', 'corp', 'no',
  'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec', 'u.s', 'u.k', 'a.m', 'p.m',
]);
const CLOSING = new Set(['"', "'", ')', ']', '}', '\u201d', '\u2019', '\u00bb']);

/**
 * A small rule-based sentence splitter for text without newlines (opt-in for rougeLsum). A sentence ends at
 * '.', '!', '?' or '…' (plus closing quotes or brackets) followed by whitespace and then an uppercase letter, a
 * digit or an opening quote, unless the word before a '.' is a common abbreviation or a single-letter initial;
 * it also ends after the CJK full stops '。', '！' and '？'.
 */
export function splitSentences(text: string): string[] {
  const sentences: string[] = [];
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === '\u3002' || char === '\uff01' || char === '\uff1f') {
      sentences.push(text.slice(start, index + 1));
      start = index + 1;
      continue;
    }
    if (char !== '.' && char !== '!' && char !== '?' && char !== '\u2026') continue;
    let end = index + 1;
    while (end < text.length && (CLOSING.has(text[end]) || text[end] === char)) end++;
    let next = end;
    while (next < text.length && /\s/.test(text[next])) next++;
    if (next === end || next >= text.length || !/[\p{Lu}\p{N}"'\u201c\u2018(\[]/u.test(text[next])) continue;
    if (char === '.' && isAbbreviation(text, start, index)) continue;
    sentences.push(text.slice(start, end));
    start = next;
    index = next - 1;
  }
  if (start < text.length) sentences.push(text.slice(start));
  return sentences.map((sentence) => sentence.trim()).filter((sentence) => sentence.length > 0);
}

function isAbbreviation(text: string, sentenceStart: number, periodIndex: number): boolean {
  let wordStart = periodIndex;
  while (wordStart > sentenceStart && !/\s/.test(text[wordStart - 1])) wordStart--;
  const word = text.slice(wordStart, periodIndex).toLowerCase().replace(/^[("'\u201c\u2018[]+/, '');
  return ABBREVIATIONS.has(word) || /^\p{L}$/u.test(word);
}
