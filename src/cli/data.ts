import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  bundledTemplates,
  checkDestination,
  type InspectedToken,
  inspectSftExamples,
  leakageReport,
  loadTokenizer,
  readInstructionRecords,
  readJsonl,
  readModelConfig,
  resolveModelSource,
  splitRecords,
  type TemplateFormat,
  type TemplateSet,
  tokenizeSftJsonl,
  TunekitError,
  withAtomicDirectory,
  withAtomicFile,
  writeAll,
  writeFileAtomic,
} from '../index.js';
import { flagBoolean, flagNumber, flagString, noExtraPositionals, parseArgs, type ParsedArgs, requireFlag } from './args.js';
import type { Verb } from './verb.js';

const HELP = `usage: tunekit data templates [--json]
       tunekit data build --input FILE|DIR|HUB_ID --template FILE|NAME --out DIR [options]
       tunekit data tokenize --model ID|DIR --input FILE.jsonl --out FILE.jsonl [options]
       tunekit data inspect --model ID|DIR --input FILE [options]

templates   lists the bundled prompt templates (usable by name with --template)
build       renders raw records (JSON Lines, JSON, CSV, TSV, Parquet, a hub dataset) with a prompt template into
            DIR/{train,validation,test}.jsonl as TRL's {"prompt","completion"} (or {"messages"}) records; without
            --split every record goes to train.jsonl in input order
  --input SRC           a file, a dataset folder or a hub dataset id (with --hub-split, default train)
  --hub-split NAME      the hub or folder split to read (default train)
  --template T          a template file (YAML/JSON) or a bundled template name (see: tunekit data templates)
  --format F            prompt_completion or messages (default: the template's)
  --split R             sizes: ratios (0.8,0.1,0.1) or counts (rest,100,100); 2 sizes: train,test; 3: train,validation,test
  --seed S              seed for the template choice and the split (default 42)
  --limit N             read at most N records
  --out DIR             the folder to write (atomically)
  --overwrite           replace --out if it already holds something
  --json                one JSON line with the counts instead of text
tokenize    tokenizes instruction records exactly as TRL's SFTTrainer does: input_ids and labels per record
  --model ID|DIR        the model whose tokenizer (and chat template) to use
  --input FILE          JSON Lines in TRL's formats (prompt/completion, messages, text, or input_ids)
  --out FILE            the JSON Lines to write (atomically)
  --max-length N        truncate to N tokens (TRL's default 1024)
  --train-on-prompt     supervise the prompt too (TRL: completion_only_loss false)
  --assistant-only-loss supervise assistant turns only (needs {% generation %} markers in the chat template)
  --overwrite           replace --out if it exists
  --json                one JSON line with the counts instead of text
inspect     shows the first records tokenized exactly as tokenize and train do, the tokens that carry loss marked
            ([brackets], green on a terminal), and warns about records with no supervised token, completions cut
            by --max-length, and a pad token equal to EOS (which a collator that masks pad ids would turn into
            unlearned EOS; TRL's collator pads by length and keeps it)
  --model ID|DIR        the model whose tokenizer (and chat template) to use
  --input SRC           TRL records (JSON Lines, JSON, CSV, TSV, Parquet), or raw records with --template
  --template T          a template file or bundled template name to render raw records with first
  --seed S              seed for the template choice (default 42, as train's seed)
  --count K             how many records from the start to show (default 3)
  --max-length N        truncate to N tokens (TRL's default 1024)
  --train-on-prompt     supervise the prompt too (TRL: completion_only_loss false)
  --assistant-only-loss supervise assistant turns only
  --json                JSON lines: one per example (tokens with a supervised flag), one per warning, then a summary`;

const BUILD_FLAGS = {
  input: 'value', 'hub-split': 'value', template: 'value', format: 'value', split: 'value', seed: 'value', limit: 'value', out: 'value', overwrite: 'switch', json: 'switch',
} as const;
const INSPECT_FLAGS = {
  model: 'value', input: 'value', template: 'value', seed: 'value', count: 'value', 'max-length': 'value', 'train-on-prompt': 'switch', 'assistant-only-loss': 'switch', json: 'switch',
} as const;
const TOKENIZE_FLAGS = { model: 'value', input: 'value', out: 'value', 'max-length': 'value', 'train-on-prompt': 'switch', 'assistant-only-loss': 'switch', overwrite: 'switch', json: 'switch' } as const;

function report(json: boolean, summary: Record<string, unknown>, lines: string[]): void {
  if (json) console.log(JSON.stringify({ event: 'done', ...summary }));
  else for (const line of lines) console.log(line);
}

async function build(args: ParsedArgs): Promise<number> {
  const input = requireFlag(args, 'input', 'FILE|DIR|HUB_ID');
  const out = requireFlag(args, 'out', 'DIR');
  const json = flagBoolean(args, 'json');
  const format = flagString(args, 'format');
  if (format !== undefined && format !== 'prompt_completion' && format !== 'messages') throw new TunekitError('E_FLAG', `--format must be prompt_completion or messages, got "${format}"`);
  const seed = flagNumber(args, 'seed', { integer: true, min: 0 }) ?? 42;
  const target = checkDestination(out, { kind: 'directory', overwrite: flagBoolean(args, 'overwrite'), inputs: [input] });
  const { records, templates } = await readInstructionRecords(input, {
    template: requireFlag(args, 'template', 'FILE|NAME'),
    seed,
    split: flagString(args, 'hub-split'),
    limit: flagNumber(args, 'limit', { integer: true, min: 1 }),
    format: format as TemplateFormat | undefined,
  });
  const { names, splits } = splitRecords(records, { sizes: flagString(args, 'split'), seed });
  const leaks = names.length > 1 ? leakageReport(splits) : undefined;
  await withAtomicDirectory(target, async (folder) => {
    for (const name of names) await writeFileAtomic(path.join(folder, `${name}.jsonl`), splits[name].map((record) => JSON.stringify(record) + '\n').join(''));
  });
  const counts = Object.fromEntries(names.map((name) => [name, splits[name].length]));
  const set = templates as TemplateSet;
  const lines = [`${records.length} records from ${input} rendered with ${set.name} (${set.templates.length} template${set.templates.length === 1 ? '' : 's'}, seed ${seed})`];
  lines.push(...names.map((name) => `  ${path.join(out, `${name}.jsonl`)}: ${counts[name]}`));
  if (leaks !== undefined && leaks.leakedInputs > 0) lines.push(`warning: ${leaks.leakedInputs} identical prompts appear in more than one split (${Object.entries(leaks.pairs).map(([pair, n]) => `${pair}: ${n}`).join(', ')})`);
  report(json, { out: target, records: records.length, splits: counts, leakedInputs: leaks?.leakedInputs ?? 0 }, lines);
  return 0;
}

async function tokenize(args: ParsedArgs): Promise<number> {
  const input = requireFlag(args, 'input', 'FILE.jsonl');
  const out = requireFlag(args, 'out', 'FILE.jsonl');
  const json = flagBoolean(args, 'json');
  const modelId = requireFlag(args, 'model', 'ID|DIR');
  const target = checkDestination(out, { kind: 'file', overwrite: flagBoolean(args, 'overwrite'), inputs: [input] });
  const dir = await resolveModelSource(modelId);
  if (!existsSync(path.join(dir, 'tokenizer.json'))) throw new TunekitError('E_NO_TOKENIZER', `${dir}: no tokenizer.json to tokenize with`);
  const tokenizer = loadTokenizer(dir);
  const seq2seq = (await readModelConfig(dir)).is_encoder_decoder === true;
  const records = await readJsonl(input);
  const result = tokenizeSftJsonl(tokenizer, records, input, {
    maxLength: flagNumber(args, 'max-length', { integer: true, min: 1 }),
    completionOnlyLoss: flagBoolean(args, 'train-on-prompt') ? false : undefined,
    assistantOnlyLoss: flagBoolean(args, 'assistant-only-loss'),
    seq2seq,
  });
  await withAtomicFile(target, async (file) => {
    for (const example of result.examples) await writeAll(file, Buffer.from(JSON.stringify(example) + '\n'));
  });
  const { stats } = result;
  const lines = [`${stats.examples} of ${stats.records} records tokenized (${result.format}${result.completionOnlyLoss ? ', loss on the completion only' : ''}) into ${out}`];
  if (stats.truncated > 0) lines.push(`  ${stats.truncated} truncated to --max-length`);
  if (stats.dropped.length > 0) lines.push(`warning: ${stats.dropped.length} dropped with no supervised token left (first: ${stats.dropped[0]})`);
  report(json, { out: target, format: result.format, records: stats.records, examples: stats.examples, truncated: stats.truncated, dropped: stats.dropped.length }, lines);
  return 0;
}

/** Tokens as vocabulary pieces, the supervised runs in brackets (and green on a terminal). */
function markTokens(tokens: readonly InspectedToken[], color: boolean): string {
  const parts: string[] = [];
  let run: string[] = [];
  const flush = () => {
    if (run.length > 0) parts.push(color ? `\x1b[32m[${run.join(' ')}]\x1b[0m` : `[${run.join(' ')}]`);
    run = [];
  };
  for (const token of tokens) {
    if (token.supervised) run.push(token.token);
    else {
      flush();
      parts.push(token.token);
    }
  }
  flush();
  return parts.join(' ');
}

async function inspect(args: ParsedArgs): Promise<number> {
  const input = requireFlag(args, 'input', 'FILE');
  const modelId = requireFlag(args, 'model', 'ID|DIR');
  const json = flagBoolean(args, 'json');
  const count = flagNumber(args, 'count', { integer: true, min: 1 }) ?? 3;
  const template = flagString(args, 'template');
  const dir = await resolveModelSource(modelId);
  if (!existsSync(path.join(dir, 'tokenizer.json'))) throw new TunekitError('E_NO_TOKENIZER', `${dir}: no tokenizer.json to tokenize with`);
  const tokenizer = loadTokenizer(dir);
  const seq2seq = (await readModelConfig(dir)).is_encoder_decoder === true;
  // A template may draw few-shot examples from the whole dataset, so only plain records can stop after --count.
  const { records, where } = await readInstructionRecords(input, {
    template,
    seed: flagNumber(args, 'seed', { integer: true, min: 0 }) ?? 42,
    limit: template === undefined ? count : undefined,
  });
  const inspection = inspectSftExamples(tokenizer, records, {
    count,
    where: (index) => where[index],
    maxLength: flagNumber(args, 'max-length', { integer: true, min: 1 }),
    completionOnlyLoss: flagBoolean(args, 'train-on-prompt') ? false : undefined,
    assistantOnlyLoss: flagBoolean(args, 'assistant-only-loss'),
    seq2seq,
  });
  const summary = { format: inspection.format, completionOnlyLoss: inspection.completionOnlyLoss, padTokenId: inspection.padTokenId, examples: inspection.examples.length, warnings: inspection.warnings.length };
  if (json) {
    for (const example of inspection.examples) console.log(JSON.stringify({ event: 'example', ...example }));
    for (const warning of inspection.warnings) console.log(JSON.stringify({ event: 'warning', ...warning }));
    console.log(JSON.stringify({ event: 'done', ...summary }));
    return 0;
  }
  const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
  console.log(`${inspection.format} records${inspection.completionOnlyLoss ? ', loss on the completion only' : ''}; pad id ${inspection.padTokenId ?? 'none'}; supervised tokens in [brackets]${color ? ', green' : ''}`);
  for (const example of inspection.examples) {
    const notes = [example.truncated ? 'truncated' : '', example.dropped ? 'dropped by the trainer' : ''].filter((note) => note !== '');
    const length = example.tokens.length + (example.targetTokens?.length ?? 0);
    console.log(`\nrecord ${example.record} (${example.where}): ${length} tokens, ${example.supervised} supervised${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`);
    if (example.targetTokens === undefined) console.log(`  ${markTokens(example.tokens, color)}`);
    else {
      console.log(`  input:  ${markTokens(example.tokens, color)}`);
      console.log(`  target: ${markTokens(example.targetTokens, color)}`);
    }
  }
  if (inspection.warnings.length > 0) console.log('');
  for (const warning of inspection.warnings) console.log(`warning: ${warning.message}`);
  return 0;
}

export const dataVerb: Verb = {
  name: 'data',
  summary: 'instruction datasets: bundled templates, build splits from raw records, tokenize as TRL does, inspect what carries loss',
  help: HELP,
  async run(argv) {
    const [what, ...rest] = argv;
    if (what === 'templates') {
      const args = parseArgs(rest, { json: 'switch' });
      noExtraPositionals(args);
      for (const info of bundledTemplates()) {
        if (flagBoolean(args, 'json')) console.log(JSON.stringify(info));
        else console.log(`${info.name.padEnd(34)} ${info.description} (${info.templates} templates; ${info.inputs.join(', ')} → ${info.targets.join(', ')})`);
      }
      return 0;
    }
    if (what === 'build') {
      const args = parseArgs(rest, BUILD_FLAGS);
      noExtraPositionals(args);
      return build(args);
    }
    if (what === 'tokenize') {
      const args = parseArgs(rest, TOKENIZE_FLAGS);
      noExtraPositionals(args);
      return tokenize(args);
    }
    if (what === 'inspect') {
      const args = parseArgs(rest, INSPECT_FLAGS);
      noExtraPositionals(args);
      return inspect(args);
    }
    throw new TunekitError('E_FLAG', `data what? expected templates, build, tokenize or inspect, got ${what === undefined ? 'nothing' : `"${what}"`}`);
  },
};
