/**
 * BIG-bench JSON tasks (a `task.json` with `examples`) as lm-eval's bigbench tasks see them. lm-eval reads the
 * `hails/bigbench` conversion (HF datasets' bigbench builder over BIG-bench's JSON task API, zero-shot); this does
 * that conversion in place and gives the lm-eval task config for it:
 *
 * - duplicate examples are dropped (first kept, as json_task.remove_duplicates);
 * - each example is formatted as json_task.default_format_fn does: with `target_scores` and
 *   `append_choices_to_input` (default true) the input gets `choice_prefix` + the sorted choices in a
 *   numpy `RandomState(42)` permutation (one generator for the whole task, drawn example after example) joined
 *   by `choice_prefix`; a missing `target` is the first choice with the highest score; the input becomes
 *   `example_input_prefix` + input + `example_output_prefix` (defaults "\nQ: ", "\nA: ", "\n  choice: ");
 * - the row is `inputs` (task_prefix + the input, stripped), `targets` (each stripped),
 *   `multiple_choice_targets` (the choices in target_scores' order, stripped) and `multiple_choice_scores` (the
 *   scores as int32), split "default";
 * - a task with target_scores becomes lm-eval's `bigbench_<name>_multiple_choice` (template a: doc_to_text
 *   inputs, the gold the index of targets[0] among the choices, acc; examples without choices dropped), else
 *   `bigbench_<name>_generate_until` (targets[0], exact_match ignoring punctuation, max_gen_toks 128).
 *   `FILE.json#generate_until` or `FILE.json#multiple_choice` picks the variant.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import type { Doc } from './doc-fields.js';
import { NumpyRandomState } from './python-random.js';
import { parseTaskConfig, TASK_CONFIG_ERROR, type TaskConfig } from './task-config.js';

export const BIGBENCH_VARIANTS = ['multiple_choice', 'generate_until'] as const;
export type BigbenchVariant = (typeof BIGBENCH_VARIANTS)[number];

/** The seed of the generator that orders appended choices. */
const CHOICE_SEED = 42;

interface BigbenchExample {
  input: string;
  target?: string | string[];
  /** In the file's order (JSON.parse would put integer-like keys first, Python's json keeps them as written). */
  target_scores?: [string, number][];
}

/** JSON with every object's keys in the order written: objects as Maps. */
function parseOrderedJson(text: string): unknown {
  let i = 0;
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const value = (): unknown => {
    space();
    const c = text[i];
    if (c === '{') {
      const map = new Map<string, unknown>();
      i++;
      space();
      if (text[i] === '}') return i++, map;
      for (;;) {
        space();
        const key = string();
        space();
        if (text[i++] !== ':') throw new SyntaxError(`expected ':' at ${i - 1}`);
        map.set(key, value());
        space();
        const next = text[i++];
        if (next === '}') return map;
        if (next !== ',') throw new SyntaxError(`expected ',' or '}' at ${i - 1}`);
      }
    }
    if (c === '[') {
      const list: unknown[] = [];
      i++;
      space();
      if (text[i] === ']') return i++, list;
      for (;;) {
        list.push(value());
        space();
        const next = text[i++];
        if (next === ']') return list;
        if (next !== ',') throw new SyntaxError(`expected ',' or ']' at ${i - 1}`);
      }
    }
    if (c === '"') return string();
    const literal = /^(-?\d+(\.\d+)?([eE][-+]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
    if (literal === null) throw new SyntaxError(`unexpected ${JSON.stringify(c ?? 'end of text')} at ${i}`);
    i += literal[0].length;
    return JSON.parse(literal[0]);
  };
  const string = (): string => {
    if (text[i] !== '"') throw new SyntaxError(`expected a string at ${i}`);
    let end = i + 1;
    while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
    const raw = text.slice(i, end + 1);
    i = end + 1;
    return JSON.parse(raw) as string;
  };
  const result = value();
  space();
  if (i !== text.length) throw new SyntaxError(`unexpected text at ${i}`);
  return result;
}

/** Plain objects from parsed Maps, except target_scores, kept as ordered entries. */
function fromOrdered(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) return value.map((item) => fromOrdered(item));
  if (value instanceof Map) {
    if (key === 'target_scores') return [...value.entries()];
    return Object.fromEntries([...value.entries()].map(([name, item]) => [name, fromOrdered(item, name)]));
  }
  return value;
}

function fail(file: string, message: string): never {
  throw new TunekitError(TASK_CONFIG_ERROR, `${file}: ${message}`);
}

function text(task: Record<string, unknown>, key: string, fallback: string, file: string): string {
  const value = task[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string') fail(file, `${key} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function checkExample(value: unknown, index: number, file: string): BigbenchExample {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(file, `examples[${index}] must be an object with "input"`);
  const example = value as Record<string, unknown>;
  if (typeof example.input !== 'string') fail(file, `examples[${index}].input must be a string`);
  const target = example.target;
  if (target !== undefined && typeof target !== 'string' && !(Array.isArray(target) && target.every((item) => typeof item === 'string'))) {
    fail(file, `examples[${index}].target must be a string or a list of strings`);
  }
  const scores = example.target_scores;
  if (scores !== undefined && !(Array.isArray(scores) && scores.every((entry) => Array.isArray(entry) && typeof entry[1] === 'number'))) {
    fail(file, `examples[${index}].target_scores must map each choice to a number`);
  }
  if (target === undefined && scores === undefined) fail(file, `examples[${index}] needs "target" or "target_scores"`);
  if (scores !== undefined && scores.length === 0) fail(file, `examples[${index}].target_scores is empty`);
  return example as unknown as BigbenchExample;
}

/** Python's sorted() of strings: by code point. */
function byCodePoint(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** The rows hails/bigbench holds for a task.json's text (its "default" split). */
export function bigbenchRows(source: string, file: string): Doc[] {
  let parsed: unknown;
  try {
    parsed = fromOrdered(parseOrderedJson(source));
  } catch (error) {
    fail(file, `not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) fail(file, 'a BIG-bench task.json is an object with "examples"');
  const task = parsed as Record<string, unknown>;
  if ('subtasks' in task) fail(file, 'BIG-bench tasks with subtasks are not supported; give one subtask\'s task.json');
  if (!Array.isArray(task.examples) || task.examples.length === 0) fail(file, 'needs "examples": a list of {input, target | target_scores}');
  const taskPrefix = text(task, 'task_prefix', '', file);
  const inputPrefix = text(task, 'example_input_prefix', '\nQ: ', file);
  const outputPrefix = text(task, 'example_output_prefix', '\nA: ', file);
  const choicePrefix = text(task, 'choice_prefix', '\n  choice: ', file);
  const append = task.append_choices_to_input ?? true;
  if (typeof append !== 'boolean') fail(file, 'append_choices_to_input must be true or false');
  const seen = new Set<string>();
  const examples = task.examples.map((example, index) => checkExample(example, index, file)).filter((example) => {
    const key = JSON.stringify(example);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const random = new NumpyRandomState(CHOICE_SEED);
  return examples.map((example, idx) => {
    let input = example.input;
    let target = example.target;
    let choices: string[] = [];
    let scores: number[] = [];
    if (example.target_scores !== undefined) {
      const entries = example.target_scores;
      if (append) input += choicePrefix + random.permutation(entries.map(([choice]) => choice).sort(byCodePoint)).join(choicePrefix);
      if (target === undefined) {
        const best = Math.max(...entries.map(([, score]) => score));
        target = entries.find(([, score]) => score === best)![0];
      }
      choices = entries.map(([choice]) => choice.trim());
      scores = entries.map(([, score]) => Math.trunc(score) | 0);
    }
    const targets = (Array.isArray(target) ? target : [target as string]).map((item) => item.trim());
    return { idx, inputs: (taskPrefix + inputPrefix + input + outputPrefix).trim(), targets, multiple_choice_targets: choices, multiple_choice_scores: scores };
  });
}

/** `FILE.json` or `FILE.json#variant`: the file and the variant asked for (undefined: by the examples). */
export function parseBigbenchName(name: string): { file: string; variant?: BigbenchVariant } | null {
  const match = /^(.*\.json)(?:#([a-z_]+))?$/.exec(name);
  if (match === null) return null;
  const variant = match[2];
  if (variant !== undefined && !(BIGBENCH_VARIANTS as readonly string[]).includes(variant)) {
    throw new TunekitError(TASK_CONFIG_ERROR, `${name}: a BIG-bench task variant is ${BIGBENCH_VARIANTS.join(' or ')}, got "${variant}"`);
  }
  return { file: match[1], variant: variant as BigbenchVariant | undefined };
}

/** The lm-eval task config of a BIG-bench task.json, with its converted rows as the "default" split. */
export function loadBigbenchTask(file: string, variant?: BigbenchVariant): TaskConfig {
  const resolved = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(resolved, 'utf8');
  } catch (error) {
    fail(resolved, `cannot read a BIG-bench task: ${(error as Error).message}`);
  }
  const rows = bigbenchRows(text, resolved);
  const multipleChoice = rows.some((row) => (row.multiple_choice_targets as string[]).length > 0);
  const kind = variant ?? (multipleChoice ? 'multiple_choice' : 'generate_until');
  if (kind === 'multiple_choice' && !multipleChoice) fail(resolved, 'the multiple_choice variant needs examples with target_scores');
  const base = path.basename(resolved) === 'task.json' ? path.basename(path.dirname(resolved)) : path.basename(resolved, '.json');
  const name = base.replace(/[^A-Za-z0-9_]+/g, '_');
  const common = { dataset_path: 'hails/bigbench', dataset_name: `${name}_zero_shot`, test_split: 'default', doc_to_text: 'inputs', metadata: { version: 1.0 } };
  const raw: Record<string, unknown> =
    kind === 'multiple_choice'
      ? {
          tag: 'bigbench_multiple_choice_a',
          task: `bigbench_${name}_multiple_choice`,
          ...common,
          output_type: 'multiple_choice',
          doc_to_target: '{{multiple_choice_targets.index(targets[0])}}',
          doc_to_choice: '{{multiple_choice_targets}}',
          metric_list: [{ metric: 'acc' }],
        }
      : {
          tag: 'bigbench_generate_until',
          task: `bigbench_${name}_generate_until`,
          ...common,
          output_type: 'generate_until',
          doc_to_target: '{{targets[0]}}',
          generation_kwargs: { max_gen_toks: 128 },
          metric_list: [{ metric: 'exact_match', aggregation: 'mean', higher_is_better: true, ignore_punctuation: true }],
        };
  const docs = kind === 'multiple_choice' ? rows.filter((row) => (row.multiple_choice_targets as string[]).length > 0) : rows;
  return { ...parseTaskConfig(raw, resolved), inlineSplits: { default: docs } };
}
