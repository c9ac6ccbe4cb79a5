import { readFileSync } from 'node:fs';
import { metrics, TunekitError } from '../index.js';
import { type FlagSpec, flagBoolean, flagNumber, flagString, parseArgs, type ParsedArgs } from './args.js';

const { BLEU, CHRF, rouge, RougeScorer } = metrics;
type BleuScore = metrics.BleuScore;
type BleuTokenizerName = metrics.BleuTokenizerName;
type ChrfScore = metrics.ChrfScore;
type MetricWarning = metrics.MetricWarning;
type RougeCorpusOptions = metrics.RougeCorpusOptions;
type SmoothMethod = metrics.SmoothMethod;
import type { Verb } from './verb.js';

/** One input record: a prediction and its references. */
export interface ScoreRecord {
  prediction: string;
  references: string[];
}

const SWITCHES = new Set([
  'per-line',
  'stemmer',
  'lowercase',
  'whitespace',
  'eps-smoothing',
  'split-sentences',
  'effective-order',
  'no-effective-order',
]);
const COMMON_FLAGS = ['input', 'per-line', 'bootstrap', 'seed'];
const FLAGS: Record<string, readonly string[]> = {
  rouge: [...COMMON_FLAGS, 'types', 'stemmer', 'alpha', 'beta', 'tokenizer', 'split-sentences', 'weight', 'confidence'],
  bleu: [
    ...COMMON_FLAGS,
    'tokenize',
    'smooth-method',
    'smooth-value',
    'lowercase',
    'max-ngram-order',
    'effective-order',
    'no-effective-order',
  ],
  chrf: [...COMMON_FLAGS, 'char-order', 'word-order', 'beta', 'lowercase', 'whitespace', 'eps-smoothing'],
};

/** Every flag of every metric, for the strict parse; each metric then refuses the others'. */
const SPEC: FlagSpec = Object.fromEntries([...new Set(Object.values(FLAGS).flat())].map((flag) => [flag, SWITCHES.has(flag) ? 'switch' : 'value']));

/** Parses JSON lines of `{prediction, reference}` or `{prediction, references}`; `source` names the input. */
export function parseScoreRecords(text: string, source: string): ScoreRecord[] {
  const records: ScoreRecord[] = [];
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    const where = `${source} line ${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new TunekitError('E_INPUT', `${where}: not valid JSON (${(error as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new TunekitError('E_INPUT', `${where}: expected a JSON object with "prediction" and "reference"`);
    }
    const record = value as Record<string, unknown>;
    if (typeof record.prediction !== 'string') {
      throw new TunekitError('E_INPUT', `${where}: field "prediction" must be a string, got ${describe(record.prediction)}`);
    }
    let references: string[];
    if (record.references !== undefined) {
      const list = record.references;
      if (!Array.isArray(list) || list.length === 0) {
        throw new TunekitError('E_INPUT', `${where}: field "references" must be a non-empty array of strings, got ${describe(list)}`);
      }
      list.forEach((item, position) => {
        if (typeof item !== 'string') {
          throw new TunekitError('E_INPUT', `${where}: field "references[${position}]" must be a string, got ${describe(item)}`);
        }
      });
      references = list as string[];
    } else if (record.reference !== undefined) {
      if (typeof record.reference !== 'string') {
        throw new TunekitError('E_INPUT', `${where}: field "reference" must be a string, got ${describe(record.reference)}`);
      }
      references = [record.reference];
    } else {
      throw new TunekitError('E_INPUT', `${where}: field "reference" (string) or "references" (array of strings) is missing`);
    }
    records.push({ prediction: record.prediction, references });
  });
  if (records.length === 0) {
    throw new TunekitError('E_EMPTY_INPUT', `${source} has no records (expected JSON lines with "prediction" and "reference")`);
  }
  return records;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

async function readInput(args: ParsedArgs): Promise<{ text: string; source: string }> {
  const file = flagString(args, 'input') ?? args.positional[1];
  if (args.positional.length > 2) {
    throw new TunekitError('E_FLAG', `unexpected arguments: ${args.positional.slice(2).join(' ')}`);
  }
  if (file !== undefined && file !== '-') {
    try {
      return { text: readFileSync(file, 'utf8'), source: file };
    } catch (error) {
      throw new TunekitError('E_INPUT', `cannot read ${file}: ${(error as Error).message}`);
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return { text: Buffer.concat(chunks).toString('utf8'), source: 'stdin' };
}

function optionalNumber(args: ParsedArgs, name: string): number | undefined {
  return flagNumber(args, name);
}

function optionalInteger(args: ParsedArgs, name: string, minimum: number): number | undefined {
  return flagNumber(args, name, { integer: true, min: minimum });
}

function writeJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

function reportWarnings(warnings: readonly MetricWarning[]): void {
  for (const warning of warnings) {
    const times = warning.count !== undefined && warning.count > 1 ? ` (${warning.count} times)` : '';
    process.stderr.write(`tunekit: warning: ${warning.message}${times}\n`);
  }
}

function bleuJson(result: BleuScore): Record<string, unknown> {
  const { score, counts, totals, precisions, bp, sys_len, ref_len, signature, bootstrap } = result;
  return { score, counts, totals, precisions, bp, sys_len, ref_len, signature, ...(bootstrap ? { bootstrap } : {}) };
}

function chrfJson(result: ChrfScore): Record<string, unknown> {
  return { score: result.score, signature: result.signature, ...(result.bootstrap ? { bootstrap: result.bootstrap } : {}) };
}

function runRouge(args: ParsedArgs, records: ScoreRecord[], perLine: boolean): void {
  const tokenizer = flagString(args, 'tokenizer') ?? 'default';
  if (tokenizer !== 'default' && tokenizer !== 'unicode') {
    throw new TunekitError('E_FLAG', `--tokenizer expects default or unicode, got "${tokenizer}"`);
  }
  const types = flagString(args, 'types');
  const options: RougeCorpusOptions = {
    types: types?.split(',').map((type) => type.trim()).filter((type) => type !== ''),
    useStemmer: flagBoolean(args, 'stemmer'),
    alpha: optionalNumber(args, 'alpha'),
    beta: optionalNumber(args, 'beta'),
    tokenizer,
    splitSentences: flagBoolean(args, 'split-sentences'),
    weight: optionalNumber(args, 'weight'),
  };
  const samples = optionalInteger(args, 'bootstrap', 1);
  if (perLine) {
    const scorer = new RougeScorer(options);
    for (const record of records) writeJson(scorer.scoreMulti(record.prediction, record.references));
    reportWarnings(scorer.warnings());
    return;
  }
  if (samples !== undefined) {
    options.bootstrap = { samples, seed: optionalNumber(args, 'seed'), confidence: optionalNumber(args, 'confidence') };
  }
  const result = rouge(
    records.map((record) => record.prediction),
    records.map((record) => record.references),
    options,
  );
  writeJson(result.intervals ?? result.scores);
  reportWarnings(result.warnings);
}

function runBleu(args: ParsedArgs, records: ScoreRecord[], perLine: boolean): void {
  if (args.flags.has('effective-order') && args.flags.has('no-effective-order')) {
    throw new TunekitError('E_FLAG', 'give --effective-order or --no-effective-order, not both');
  }
  // Per line: sacreBLEU's sentence_bleu (effective order on); aggregate: corpus_bleu (off).
  const effectiveOrder = args.flags.has('effective-order') ? true : args.flags.has('no-effective-order') ? false : perLine;
  const bleu = new BLEU({
    tokenize: flagString(args, 'tokenize') as BleuTokenizerName | undefined,
    smoothMethod: flagString(args, 'smooth-method') as SmoothMethod | undefined,
    smoothValue: optionalNumber(args, 'smooth-value'),
    lowercase: flagBoolean(args, 'lowercase'),
    maxNgramOrder: optionalInteger(args, 'max-ngram-order', 1),
    effectiveOrder,
  });
  if (perLine) {
    for (const record of records) writeJson(bleuJson(bleu.sentenceScore(record.prediction, record.references)));
    return;
  }
  const samples = optionalInteger(args, 'bootstrap', 1);
  const result = bleu.corpusScore(
    records.map((record) => record.prediction),
    records.map((record) => record.references),
    samples === undefined ? undefined : { samples, seed: optionalNumber(args, 'seed') },
  );
  writeJson(bleuJson(result));
}

function runChrf(args: ParsedArgs, records: ScoreRecord[], perLine: boolean): void {
  const chrf = new CHRF({
    charOrder: optionalInteger(args, 'char-order', 0),
    wordOrder: optionalInteger(args, 'word-order', 0),
    beta: optionalNumber(args, 'beta'),
    lowercase: flagBoolean(args, 'lowercase'),
    whitespace: flagBoolean(args, 'whitespace'),
    epsSmoothing: flagBoolean(args, 'eps-smoothing'),
  });
  if (perLine) {
    for (const record of records) writeJson(chrfJson(chrf.sentenceScore(record.prediction, record.references)));
    return;
  }
  const samples = optionalInteger(args, 'bootstrap', 1);
  const result = chrf.corpusScore(
    records.map((record) => record.prediction),
    records.map((record) => record.references),
    samples === undefined ? undefined : { samples, seed: optionalNumber(args, 'seed') },
  );
  writeJson(chrfJson(result));
}

const HELP = `usage: tunekit score rouge|bleu|chrf [FILE | --input FILE] [flags]

Scores predictions against references. Input: JSON lines, each {"prediction": "...", "reference": "..."} or
{"prediction": "...", "references": ["...", ...]}, from FILE or stdin ("-" or no file). Output: one JSON object
(the corpus aggregate), or with --per-line one JSON object per input line.

common:
  --input FILE            read FILE (same as the positional FILE)
  --per-line              one result per input line instead of the aggregate
  --bootstrap N           aggregate with N bootstrap resamples (ROUGE: low/mid/high; BLEU, chrF: mean and ci)
  --seed S                seed for --bootstrap (default 12345)

rouge (Google rouge-score 0.1.2; several references: best F per type; aggregate = mean over lines):
  --types T1,T2,...       rouge1..rouge9, rougeL, rougeLsum, rougeW, rougeS[N], rougeSU[N]
                          (default rouge1,rouge2,rougeL,rougeLsum; rougeLsum splits sentences on newlines)
  --stemmer               Porter-stem tokens longer than 3 characters
  --alpha A | --beta B    F = 1/(A/P + (1-A)/R), or F-beta (default: F1)
  --tokenizer NAME        default (ASCII-only, as rouge-score) or unicode (keeps non-Latin scripts)
  --split-sentences       rougeLsum: split text without newlines into sentences
  --weight W              ROUGE-W weight (default 1.2)
  --confidence C          bootstrap interval (default 0.95)

bleu (sacreBLEU 2.6.0; per line: sentence_bleu, aggregate: corpus_bleu):
  --tokenize NAME         13a (default), none, intl, char, zh
  --smooth-method M       exp (default), none, floor, add-k
  --smooth-value V        for floor (default 0.1) and add-k (default 1)
  --lowercase             case-insensitive
  --max-ngram-order N     default 4
  --effective-order       use effective order in the aggregate (per line it is on by default)
  --no-effective-order    turn it off per line

chrf (sacreBLEU 2.6.0 chrF; --word-order 2 gives chrF++):
  --char-order N          default 6
  --word-order N          default 0
  --beta B                default 2
  --lowercase             case-insensitive
  --whitespace            keep whitespace in character n-grams
  --eps-smoothing         chrF++.py-style smoothing instead of effective order

BLEU results: {score, counts, totals, precisions, bp, sys_len, ref_len, signature}; chrF: {score, signature}.`;

export const scoreVerb: Verb = {
  name: 'score',
  summary: 'ROUGE, BLEU or chrF of predictions against references (JSON lines in, JSON out)',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const args = parseArgs(argv, SPEC);
    const metric = args.positional[0];
    if (metric === undefined || FLAGS[metric] === undefined) {
      throw new TunekitError(
        'E_FLAG',
        `score needs a metric: rouge, bleu or chrf${metric === undefined ? '' : ` (got "${metric}")`}; see tunekit score --help`,
      );
    }
    const unknown = [...args.flags.keys()].filter((flag) => !FLAGS[metric].includes(flag));
    if (unknown.length > 0) {
      throw new TunekitError('E_FLAG', `score ${metric} does not take ${unknown.map((flag) => `--${flag}`).join(', ')}`);
    }
    const perLine = flagBoolean(args, 'per-line');
    const { text, source } = await readInput(args);
    const records = parseScoreRecords(text, source);
    if (metric === 'rouge') runRouge(args, records, perLine);
    else if (metric === 'bleu') runBleu(args, records, perLine);
    else runChrf(args, records, perLine);
    return 0;
  },
};
