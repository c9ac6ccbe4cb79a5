/**
 * The Porter stemmer (Porter 1980) in the NLTK_EXTENSIONS mode of NLTK 3.8's `PorterStemmer`, which is the
 * stemmer Google's rouge-score applies. NLTK's extensions to the published algorithm, all reproduced here:
 * - an irregular-forms table ('skies' → 'sky', 'dying' → 'die', 'news' → 'news', …), looked up first;
 * - words of one or two letters are returned unchanged;
 * - step 1a: a four-letter word ending in 'ies' becomes '…ie' ('dies' → 'die');
 * - step 1b: 'ied' becomes 'ie' in a four-letter word, otherwise 'i' ('spied' → 'spi');
 * - step 1c: 'y' → 'i' only after a consonant that is not the first letter ('happy' → 'happi', 'enjoy' stays);
 * - step 2: 'alli' → 'al' is tried first and the result goes through step 2 again; 'bli' → 'ble' replaces
 *   'abli' → 'able'; extra rules 'fulli' → 'ful' and 'logi' → 'log' (measured on the stem plus 'l');
 * - *o (cvc) also holds for a two-letter vowel-consonant stem.
 * Within one rule list, the first suffix that matches decides: when its condition fails, no later rule is tried.
 */

const IRREGULAR_FORMS: ReadonlyMap<string, string> = new Map([
  ['sky', 'sky'],
  ['skies', 'sky'],
  ['dying', 'die'],
  ['lying', 'lie'],
  ['tying', 'tie'],
  ['news', 'news'],
  ['innings', 'inning'],
  ['inning', 'inning'],
  ['outings', 'outing'],
  ['outing', 'outing'],
  ['cannings', 'canning'],
  ['canning', 'canning'],
  ['howe', 'howe'],
  ['proceed', 'proceed'],
  ['exceed', 'exceed'],
  ['succeed', 'succeed'],
]);

function isVowelLetter(code: number): boolean {
  // a e i o u
  return code === 97 || code === 101 || code === 105 || code === 111 || code === 117;
}

/** Porter's consonant: not a vowel letter, and 'y' only when it follows a vowel (or starts the word). */
function isConsonant(word: string, index: number): boolean {
  const code = word.charCodeAt(index);
  if (isVowelLetter(code)) return false;
  if (code === 121 /* y */) return index === 0 ? true : !isConsonant(word, index - 1);
  return true;
}

/** m in [C](VC)^m[V]: the number of vowel-to-consonant transitions in the first `length` letters. */
function measure(word: string, length = word.length): number {
  let count = 0;
  let previousIsVowel = false;
  for (let index = 0; index < length; index++) {
    const consonant = isConsonant(word, index);
    if (consonant && previousIsVowel) count++;
    previousIsVowel = !consonant;
  }
  return count;
}

function containsVowel(word: string, length = word.length): boolean {
  for (let index = 0; index < length; index++) if (!isConsonant(word, index)) return true;
  return false;
}

function endsDoubleConsonant(word: string): boolean {
  const length = word.length;
  return length >= 2 && word.charCodeAt(length - 1) === word.charCodeAt(length - 2) && isConsonant(word, length - 1);
}

/** *o: the stem ends consonant-vowel-consonant and the last letter is not w, x or y (or is a two-letter VC). */
function endsCvc(word: string): boolean {
  const length = word.length;
  if (length >= 3) {
    const last = word[length - 1];
    return (
      isConsonant(word, length - 3) &&
      !isConsonant(word, length - 2) &&
      isConsonant(word, length - 1) &&
      last !== 'w' &&
      last !== 'x' &&
      last !== 'y'
    );
  }
  return length === 2 && !isConsonant(word, 0) && isConsonant(word, 1);
}

type Condition = (stem: string) => boolean;
type Rule = readonly [suffix: string, replacement: string, condition: Condition | null];

const positiveMeasure: Condition = (stem) => measure(stem) > 0;
const measureAboveOne: Condition = (stem) => measure(stem) > 1;

/** The first rule whose suffix matches is applied if its condition holds; either way, no later rule is tried. */
function applyRules(word: string, rules: readonly Rule[]): string {
  for (const [suffix, replacement, condition] of rules) {
    if (word.endsWith(suffix)) {
      const stem = word.slice(0, word.length - suffix.length);
      return condition === null || condition(stem) ? stem + replacement : word;
    }
  }
  return word;
}

function step1a(word: string): string {
  if (word.length === 4 && word.endsWith('ies')) return word.slice(0, -3) + 'ie';
  if (word.endsWith('sses')) return word.slice(0, -2);
  if (word.endsWith('ies')) return word.slice(0, -2);
  if (word.endsWith('ss')) return word;
  if (word.endsWith('s')) return word.slice(0, -1);
  return word;
}

function step1b(word: string): string {
  if (word.endsWith('ied')) return word.slice(0, -3) + (word.length === 4 ? 'ie' : 'i');
  if (word.endsWith('eed')) {
    const stem = word.slice(0, -3);
    return measure(stem) > 0 ? stem + 'ee' : word;
  }
  let stem: string;
  if (word.endsWith('ed') && containsVowel(word, word.length - 2)) stem = word.slice(0, -2);
  else if (word.endsWith('ing') && containsVowel(word, word.length - 3)) stem = word.slice(0, -3);
  else return word;

  if (stem.endsWith('at') || stem.endsWith('bl') || stem.endsWith('iz')) return stem + 'e';
  if (endsDoubleConsonant(stem)) {
    const last = stem[stem.length - 1];
    return last === 'l' || last === 's' || last === 'z' ? stem : stem.slice(0, -1);
  }
  return measure(stem) === 1 && endsCvc(stem) ? stem + 'e' : stem;
}

function step1c(word: string): string {
  const length = word.length;
  if (length > 2 && word.charCodeAt(length - 1) === 121 /* y */ && isConsonant(word, length - 2)) {
    return word.slice(0, -1) + 'i';
  }
  return word;
}

const STEP2_RULES: readonly Rule[] = [
  ['ational', 'ate', positiveMeasure],
  ['tional', 'tion', positiveMeasure],
  ['enci', 'ence', positiveMeasure],
  ['anci', 'ance', positiveMeasure],
  ['izer', 'ize', positiveMeasure],
  ['bli', 'ble', positiveMeasure],
  ['alli', 'al', positiveMeasure],
  ['entli', 'ent', positiveMeasure],
  ['eli', 'e', positiveMeasure],
  ['ousli', 'ous', positiveMeasure],
  ['ization', 'ize', positiveMeasure],
  ['ation', 'ate', positiveMeasure],
  ['ator', 'ate', positiveMeasure],
  ['alism', 'al', positiveMeasure],
  ['iveness', 'ive', positiveMeasure],
  ['fulness', 'ful', positiveMeasure],
  ['ousness', 'ous', positiveMeasure],
  ['aliti', 'al', positiveMeasure],
  ['iviti', 'ive', positiveMeasure],
  ['biliti', 'ble', positiveMeasure],
  ['fulli', 'ful', positiveMeasure],
  // The 'l' of 'logi' stays with the stem for the measure, so short stems like 'geo' and 'theo' qualify.
  ['logi', 'log', (stem) => measure(stem + 'l') > 0],
];

function step2(word: string): string {
  if (word.endsWith('alli') && measure(word, word.length - 4) > 0) return step2(word.slice(0, -4) + 'al');
  return applyRules(word, STEP2_RULES);
}

const STEP3_RULES: readonly Rule[] = [
  ['icate', 'ic', positiveMeasure],
  ['ative', '', positiveMeasure],
  ['alize', 'al', positiveMeasure],
  ['iciti', 'ic', positiveMeasure],
  ['ical', 'ic', positiveMeasure],
  ['ful', '', positiveMeasure],
  ['ness', '', positiveMeasure],
];

const STEP4_RULES: readonly Rule[] = [
  ['al', '', measureAboveOne],
  ['ance', '', measureAboveOne],
  ['ence', '', measureAboveOne],
  ['er', '', measureAboveOne],
  ['ic', '', measureAboveOne],
  ['able', '', measureAboveOne],
  ['ible', '', measureAboveOne],
  ['ant', '', measureAboveOne],
  ['ement', '', measureAboveOne],
  ['ment', '', measureAboveOne],
  ['ent', '', measureAboveOne],
  ['ion', '', (stem) => measure(stem) > 1 && (stem.endsWith('s') || stem.endsWith('t'))],
  ['ou', '', measureAboveOne],
  ['ism', '', measureAboveOne],
  ['ate', '', measureAboveOne],
  ['iti', '', measureAboveOne],
  ['ous', '', measureAboveOne],
  ['ive', '', measureAboveOne],
  ['ize', '', measureAboveOne],
];

function step5a(word: string): string {
  if (!word.endsWith('e')) return word;
  const stem = word.slice(0, -1);
  const m = measure(stem);
  if (m > 1 || (m === 1 && !endsCvc(stem))) return stem;
  return word;
}

function step5b(word: string): string {
  if (word.endsWith('ll') && measure(word, word.length - 1) > 1) return word.slice(0, -1);
  return word;
}

/** Stems one word (lowercased first, as NLTK does by default). */
export function porterStem(word: string): string {
  const lower = word.toLowerCase();
  const irregular = IRREGULAR_FORMS.get(word);
  if (irregular !== undefined) return irregular;
  if (word.length <= 2) return lower;
  let stem = step1a(lower);
  stem = step1b(stem);
  stem = step1c(stem);
  stem = step2(stem);
  stem = applyRules(stem, STEP3_RULES);
  stem = applyRules(stem, STEP4_RULES);
  stem = step5a(stem);
  return step5b(stem);
}

/** A Porter stemmer that remembers its answers (scoring stems the same few thousand words again and again). */
export class PorterStemmer {
  private readonly cache = new Map<string, string>();
  constructor(private readonly maxCacheSize = 100_000) {}

  stem(word: string): string {
    let stem = this.cache.get(word);
    if (stem === undefined) {
      stem = porterStem(word);
      if (this.cache.size >= this.maxCacheSize) this.cache.clear();
      this.cache.set(word, stem);
    }
    return stem;
  }
}
