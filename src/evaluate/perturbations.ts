/**
 * Seeded perturbations of a document's input text, for HELM-style robustness. Each one is a pure function of the
 * text and a Python `random.Random`, seeded per document as HELM's Perturbation.get_rng seeds it:
 * `Random(str(seed) + instance_id)`, or `Random(instance_id)` without a seed, with instance ids `id<doc index>`.
 * So the same seed and document give the same text, and `typo` reproduces HELM's TyposPerturbation exactly.
 * (A multiple-input document's further inputs, its choices after the first, use `id<doc>.<input>`.)
 *
 * - typo[:P]      HELM's butter-finger typos: each ASCII letter, with probability P (default 0.1, HELM's
 *                 typo_easy), becomes one of its distance-1 neighbours on a QWERTY keyboard, keeping its case
 * - lowercase     the whole text lowercased (HELM's lower)
 * - uppercase     the whole text uppercased
 * - random_case   each cased character upper- or lowercased with probability 1/2
 * - space[:N]     HELM's space perturbation: each run of spaces becomes 1..N spaces (default 3)
 * - whitespace[:N] each run of whitespace (spaces, tabs, newlines) becomes 1..N characters (default 3), each a
 *                 space, a tab or a newline
 */
import { TunekitError } from '../errors.js';
import { PythonRandom } from './python-random.js';

export const PERTURBATION_ERROR = 'E_PERTURBATION';

/** HELM's QWERTY neighbours (distance 1, the letter itself and punctuation excluded). */
const KEYBOARD_NEIGHBOURS: Record<string, string> = {
  q: 'was', w: 'qesad', e: 'wsdfr', r: 'edfgt', t: 'rfghy', y: 'tghju', u: 'yhjki', i: 'ujklo', o: 'iklp', p: 'ol',
  a: 'qwsz', s: 'weadzx', d: 'erfcxs', f: 'rtgvcd', g: 'tyhbvf', h: 'yujnbg', j: 'uikmnh', k: 'iolmj', l: 'opk',
  z: 'asx', x: 'sdcz', c: 'dfvx', v: 'fgbc', b: 'ghnv', n: 'hjmb', m: 'jkn',
};

const WHITESPACE_CHARACTERS = [' ', '\t', '\n'];

export type PerturbationName = 'typo' | 'lowercase' | 'uppercase' | 'random_case' | 'space' | 'whitespace';

export interface Perturbation {
  name: PerturbationName;
  /** typo: the chance a letter is replaced. */
  probability?: number;
  /** space / whitespace: the most characters a run becomes. */
  maxRun?: number;
}

export const PERTURBATION_NAMES: readonly PerturbationName[] = ['typo', 'lowercase', 'uppercase', 'random_case', 'space', 'whitespace'];
export const DEFAULT_PERTURBATIONS = 'typo,lowercase,uppercase,whitespace';

/** The label a perturbation goes by in results: its name, with a parameter other than the default. */
export function perturbationLabel(perturbation: Perturbation): string {
  if (perturbation.name === 'typo' && perturbation.probability !== undefined && perturbation.probability !== 0.1) return `typo:${perturbation.probability}`;
  if ((perturbation.name === 'space' || perturbation.name === 'whitespace') && perturbation.maxRun !== undefined && perturbation.maxRun !== 3) return `${perturbation.name}:${perturbation.maxRun}`;
  return perturbation.name;
}

function fail(message: string): never {
  throw new TunekitError(PERTURBATION_ERROR, message);
}

/** Parses `typo:0.05,lowercase,whitespace:2`: names with an optional parameter, no repeats. */
export function parsePerturbations(spec: string): Perturbation[] {
  const parts = spec.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (parts.length === 0) fail('no perturbations given');
  const perturbations: Perturbation[] = [];
  for (const part of parts) {
    const [name, parameter, ...rest] = part.split(':');
    if (!(PERTURBATION_NAMES as readonly string[]).includes(name)) fail(`unknown perturbation "${name}" (tunekit has ${PERTURBATION_NAMES.join(', ')})`);
    if (rest.length > 0) fail(`perturbation "${part}" has more than one parameter`);
    const perturbation: Perturbation = { name: name as PerturbationName };
    if (parameter !== undefined) {
      const value = Number(parameter);
      if (name === 'typo') {
        if (parameter === '' || !(value >= 0 && value <= 1)) fail(`typo's probability must be a number in [0, 1], got "${parameter}"`);
        perturbation.probability = value;
      } else if (name === 'space' || name === 'whitespace') {
        if (!Number.isInteger(value) || value < 1 || value > 100) fail(`${name}'s longest run must be an integer in [1, 100], got "${parameter}"`);
        perturbation.maxRun = value;
      } else fail(`perturbation ${name} takes no parameter, got "${part}"`);
    }
    if (perturbations.some((other) => perturbationLabel(other) === perturbationLabel(perturbation))) fail(`perturbation "${part}" is given twice`);
    perturbations.push(perturbation);
  }
  return perturbations;
}

function typos(text: string, probability: number, random: PythonRandom): string {
  let out = '';
  for (const letter of text) {
    const lower = letter.toLowerCase();
    const neighbours = KEYBOARD_NEIGHBOURS[lower];
    if (neighbours === undefined) {
      out += letter;
      continue;
    }
    const replaced = random.random() < probability ? random.choice([...neighbours]) : lower;
    out += lower === letter ? replaced : replaced.toUpperCase();
  }
  return out;
}

function randomCase(text: string, random: PythonRandom): string {
  let out = '';
  for (const character of text) {
    const upper = character.toUpperCase();
    const lower = character.toLowerCase();
    out += upper === lower ? character : random.random() < 0.5 ? upper : lower;
  }
  return out;
}

/** The text under one perturbation, drawing from `random`. */
export function perturbText(perturbation: Perturbation, text: string, random: PythonRandom): string {
  switch (perturbation.name) {
    case 'typo':
      return typos(text, perturbation.probability ?? 0.1, random);
    case 'lowercase':
      return text.toLowerCase();
    case 'uppercase':
      return text.toUpperCase();
    case 'random_case':
      return randomCase(text, random);
    case 'space':
      return text.replace(/ +/g, () => ' '.repeat(random.randint(1, perturbation.maxRun ?? 3)));
    case 'whitespace':
      return text.replace(/[ \t\n]+/g, () => Array.from({ length: random.randint(1, perturbation.maxRun ?? 3) }, () => random.choice(WHITESPACE_CHARACTERS)).join(''));
  }
}

/** HELM's per-instance generator: `Random(str(seed) + "id<doc>")`, or `Random("id<doc>")` without a seed. */
export function perturbationRandom(seed: number | undefined, docId: number): PythonRandom {
  return new PythonRandom(`${seed === undefined ? '' : String(seed)}id${docId}`);
}

/**
 * The document-text transform a task run applies: `(text, docId, part) => text`, seeded per document (and per
 * part, for tasks with several inputs per document).
 */
export function documentPerturber(perturbation: Perturbation, seed: number | undefined): (text: string, docId: number, part?: number) => string {
  return (text, docId, part = 0) => {
    const random = part === 0 ? perturbationRandom(seed, docId) : new PythonRandom(`${seed === undefined ? '' : String(seed)}id${docId}.${part}`);
    return perturbText(perturbation, text, random);
  };
}
