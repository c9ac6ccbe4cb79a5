import { readFileSync } from 'node:fs';
import { metrics, parseJsonl, recordError, TunekitError } from '../index.js';
import { type FlagSpec, flagBoolean, flagNumber, flagString, parseArgs, type ParsedArgs } from './args.js';
import type { Verb } from './verb.js';

const { BLEU, CHRF, ROUGE } = metrics;
type BleuScore = metrics.BleuScore;
type BleuTokenizerName = metrics.BleuTokenizerName;
type ChrfScore = metrics.ChrfScore;
type MetricWarning = metrics.MetricWarning;
type SmoothMethod = metrics.SmoothMethod;

/** One input record: a prediction and its references. */
export interface ScoreRecord {
  prediction: string;
  references: string[];
}

/** --bootstrap N, --seed S and (ROUGE) --confidence C: a request every metric's corpusScore accepts. */
interface BootstrapFlags {
  samples: number;
  seed?: number;
  confidence?: number;
}

/**
 * What sets one metric apart in this verb: the flags it takes, its metric object built from them, and how its
 * results become JSON. Reading, the per-line/aggregate split and bootstrap are shared (see `runMetric`).
 */
interface MetricCommand<Sentence, Corpus> {
  flags: readonly string[];
  build(args: ParsedArgs, perLine: boolean): metrics.Metric<Sentence, Corpus, BootstrapFlags> & { warnings?(): MetricWarning[] };
  sentenceJson(result: Sentence): Record<string, unknown>;
  corpusJson(result: Corpus): Record<string, unknown>;
}

/** A metric command with its result types hidden, so the three fit one table. */
interface MetricRunner {
  flags: readonly string[];
  run(args: ParsedArgs, records: readonly ScoreRecord[], perLine: boolean): void;
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

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** One JSONL record as a ScoreRecord, or a `source:line: …` error naming the field. */
function scoreRecord(value: unknown, source: string, line: number): ScoreRecord {
  const fail = (message: string) => recordError(source, line, message, 'E_INPUT');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw fail('expected a JSON object with "prediction" and "reference"');
  }
  const record = value as Record<string, unknown>;
  if (typeof record.prediction !== 'string') {
    throw fail(`field "prediction" must be a string, got ${describe(record.prediction)}`);
  }
  if (record.references !== undefined) {
    const list = record.references;
    if (!Array.isArray(list) || list.length === 0) {
      throw fail(`field "references" must be a non-empty array of strings, got ${describe(list)}`);
    }
    list.forEach((item, position) => {
      if (typeof item !== 'string') throw fail(`field "references[${position}]" must be a string, got ${describe(item)}`);
    });
    return { prediction: record.prediction, references: list as string[] };
  }
  if (record.reference !== undefined) {
    if (typeof record.reference !== 'string') {
      throw fail(`field "reference" must be a string, got ${describe(record.reference)}`);
    }
    return { prediction: record.prediction, references: [record.reference] };
  }
  throw fail('field "reference" (string) or "references" (array of strings) is missing');
}

/**
 * Parses JSON lines of `{prediction, reference}` or `{prediction, references}` (the data layer's JSONL rules:
 * blank lines skipped, BOM and CRLF accepted, strict UTF-8); `source` names the input in `source:line:` errors.
 */
export function parseScoreRecords(input: Uint8Array | string, source: string): ScoreRecord[] {
  const records = parseJsonl(input, source).map(({ line, value }) => scoreRecord(value, source, line));
  if (records.length === 0) {
    throw new TunekitError('E_EMPTY_INPUT', `${source} has no records (expected JSON lines with "prediction" and "reference")`);
  }
  return records;
}

async function readInput(args: ParsedArgs): Promise<{ bytes: Uint8Array; source: string }> {
  const file = flagString(args, 'input') ?? args.positional[1];
  if (args.positional.length > 2) {
    throw new TunekitError('E_FLAG', `unexpected arguments: ${args.positional.slice(2).join(' ')}`);
  }
  if (file !== undefined && file !== '-') {
    try {
      return { bytes: readFileSync(file), source: file };
    } catch (error) {
      throw new TunekitError('E_INPUT', `cannot read ${file}: ${(error as Error).message}`);
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return { bytes: Buffer.concat(chunks), source: 'stdin' };
}

function optionalInteger(args: ParsedArgs, name: string, minimum: number): number | undefined {
  return flagNumber(args, name, { integer: true, min: minimum });
}

/**
 * Writes one JSON line; false once stdout has failed (a reader closed the pipe), so a long loop can stop early.
 * A failed write marks the stream errored at once (`writable` turns false) though its 'error' event (see main.ts)
 * only comes after this synchronous loop yields.
 */
function writeJson(value: unknown): boolean {
  if (!process.stdout.writable) return false;
  process.stdout.write(JSON.stringify(value) + '\n');
  return process.stdout.writable;
}

function reportWarnings(warnings: readonly MetricWarning[]): void {
  for (const warning of warnings) {
    const times = warning.count !== undefined && warning.count > 1 ? ` (${warning.count} times)` : '';
    process.stderr.write(`tunekit: warning: ${warning.message}${times}\n`);
  }
}

/** The one code path of every metric: per line, sentence scores; otherwise one corpus score, bootstrapped on request. */
function runMetric<Sentence, Corpus>(
  command: MetricCommand<Sentence, Corpus>,
  args: ParsedArgs,
  records: readonly ScoreRecord[],
  perLine: boolean,
): void {
  const metric = command.build(args, perLine);
  const samples = optionalInteger(args, 'bootstrap', 1);
  const bootstrap: BootstrapFlags | undefined =
    samples === undefined ? undefined : { samples, seed: flagNumber(args, 'seed'), confidence: flagNumber(args, 'confidence') };
  if (perLine) {
    for (const record of records) {
      if (!writeJson(command.sentenceJson(metric.sentenceScore(record.prediction, record.references)))) break;
    }
  } else {
    const result = metric.corpusScore(
      records.map((record) => record.prediction),
      records.map((record) => record.references),
      bootstrap,
    );
    writeJson(command.corpusJson(result));
  }
  reportWarnings(metric.warnings?.() ?? []);
}

function runner<Sentence, Corpus>(command: MetricCommand<Sentence, Corpus>): MetricRunner {
  return { flags: command.flags, run: (args, records, perLine) => runMetric(command, args, records, perLine) };
}

function bleuJson(result: BleuScore): Record<string, unknown> {
  const { score, counts, totals, precisions, bp, sys_len, ref_len, signature, bootstrap } = result;
  return { score, counts, totals, precisions, bp, sys_len, ref_len, signature, ...(bootstrap ? { bootstrap } : {}) };
}

function chrfJson(result: ChrfScore): Record<string, unknown> {
  return { score: result.score, signature: result.signature, ...(result.bootstrap ? { bootstrap: result.bootstrap } : {}) };
}

const rougeCommand = runner<metrics.RougeSentenceScore, metrics.RougeCorpusResult>({
  flags: [...COMMON_FLAGS, 'types', 'stemmer', 'alpha', 'beta', 'tokenize', 'split-sentences', 'weight', 'confidence'],
  build(args) {
    const tokenizer = flagString(args, 'tokenize') ?? 'default';
    if (tokenizer !== 'default' && tokenizer !== 'unicode') {
      throw new TunekitError('E_FLAG', `--tokenize expects default or unicode, got "${tokenizer}"`);
    }
    return new ROUGE({
      types: flagString(args, 'types')?.split(',').map((type) => type.trim()).filter((type) => type !== ''),
      useStemmer: flagBoolean(args, 'stemmer'),
      alpha: flagNumber(args, 'alpha'),
      beta: flagNumber(args, 'beta'),
      tokenizer,
      splitSentences: flagBoolean(args, 'split-sentences'),
      weight: flagNumber(args, 'weight'),
    });
  },
  sentenceJson: (result) => ({ ...result.scores, signature: result.signature }),
  // Per type the mean scores, or with --bootstrap the low/mid/high intervals.
  corpusJson: (result) => ({ ...(result.intervals ?? result.scores), signature: result.signature }),
});

const bleuCommand = runner<BleuScore, BleuScore>({
  flags: [...COMMON_FLAGS, 'tokenize', 'smooth-method', 'smooth-value', 'lowercase', 'max-ngram-order', 'effective-order', 'no-effective-order'],
  build(args, perLine) {
    if (args.flags.has('effective-order') && args.flags.has('no-effective-order')) {
      throw new TunekitError('E_FLAG', 'give --effective-order or --no-effective-order, not both');
    }
    // Per line: sacreBLEU's sentence_bleu (effective order on); aggregate: corpus_bleu (off).
    const effectiveOrder = args.flags.has('effective-order') ? true : args.flags.has('no-effective-order') ? false : perLine;
    return new BLEU({
      tokenize: flagString(args, 'tokenize') as BleuTokenizerName | undefined,
      smoothMethod: flagString(args, 'smooth-method') as SmoothMethod | undefined,
      smoothValue: flagNumber(args, 'smooth-value'),
      lowercase: flagBoolean(args, 'lowercase'),
      maxNgramOrder: optionalInteger(args, 'max-ngram-order', 1),
      effectiveOrder,
    });
  },
  sentenceJson: bleuJson,
  corpusJson: bleuJson,
});

const chrfCommand = runner<ChrfScore, ChrfScore>({
  flags: [...COMMON_FLAGS, 'char-order', 'word-order', 'beta', 'lowercase', 'whitespace', 'eps-smoothing'],
  build: (args) =>
    new CHRF({
      charOrder: optionalInteger(args, 'char-order', 0),
      wordOrder: optionalInteger(args, 'word-order', 0),
      beta: flagNumber(args, 'beta'),
      lowercase: flagBoolean(args, 'lowercase'),
      whitespace: flagBoolean(args, 'whitespace'),
      epsSmoothing: flagBoolean(args, 'eps-smoothing'),
    }),
  sentenceJson: chrfJson,
  corpusJson: chrfJson,
});

const COMMANDS: Record<string, MetricRunner> = { rouge: rougeCommand, bleu: bleuCommand, chrf: chrfCommand };

/** Every flag of every metric, for the strict parse; each metric then refuses the others'. */
const SPEC: FlagSpec = Object.fromEntries(
  [...new Set(Object.values(COMMANDS).flatMap((command) => command.flags))].map((flag) => [flag, SWITCHES.has(flag) ? 'switch' : 'value']),
);

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
  --tokenize NAME         default (ASCII-only, as rouge-score) or unicode (keeps non-Latin scripts)
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

Every result carries a signature saying how it was computed (sacreBLEU's key:value|... form).
ROUGE results: {rouge1: {precision, recall, fmeasure}, ..., signature} (with --bootstrap: {low, mid, high} per type);
BLEU: {score, counts, totals, precisions, bp, sys_len, ref_len, signature}; chrF: {score, signature}.`;

export const scoreVerb: Verb = {
  name: 'score',
  summary: 'ROUGE, BLEU or chrF of predictions against references (JSON lines in, JSON out)',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const args = parseArgs(argv, SPEC);
    const name = args.positional[0];
    const command = name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (command === undefined) {
      throw new TunekitError(
        'E_FLAG',
        `score needs a metric: rouge, bleu or chrf${name === undefined ? '' : ` (got "${name}")`}; see tunekit score --help`,
      );
    }
    const unknown = [...args.flags.keys()].filter((flag) => !command.flags.includes(flag));
    if (unknown.length > 0) {
      throw new TunekitError('E_FLAG', `score ${name} does not take ${unknown.map((flag) => `--${flag}`).join(', ')}`);
    }
    const perLine = flagBoolean(args, 'per-line');
    const { bytes, source } = await readInput(args);
    command.run(args, parseScoreRecords(bytes, source), perLine);
    return 0;
  },
};
