/**
 * Template files: YAML (or JSON, which YAML reads) holding one prompt/completion pair or a pool of them per task,
 * optionally few-shot, turning records into TRL's `{prompt, completion}` or `{messages}` format.
 *
 * ```yaml
 * name: gsm8k_cot                  # optional; the file name otherwise
 * description: one line            # optional
 * format: prompt_completion        # or messages (chat); the caller may override
 * system: You are a careful tutor. # optional, messages only; a template too
 * few_shot: {k: 3, separator: "\n\n", example: "Q: {question}\nA: {answer}"}   # defaults for the pool below
 * templates:
 *   - {name: plain, prompt: "Q: {question}\nA:", completion: " {answer}"}
 *   - {name: shots, prompt: "{examples}\n\nQ: {question}\nA:", completion: " {answer}"}
 * ```
 * or, for a single template, `prompt:` and `completion:` at the top. A prompt using `{examples}` gets `k` records
 * drawn (without replacement, never the record itself when the pool is the records) from the example pool the
 * caller gives, each rendered with the template's `example` template and joined with `separator` (default a blank
 * line). Which template a record gets, and which examples, depends only on (seed, record index): the same seed
 * gives the same choice for record 7 on every run and machine, streamed or not.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { TunekitError } from '../errors.js';
import { oneLine } from '../io/text.js';
import { recordRandom, sampleIndices, suggestNearest } from './random.js';
import { compileTemplate, type Template } from './template.js';

export const TEMPLATE_FILE_ERROR = 'E_TEMPLATE_FILE';

export type TemplateFormat = 'prompt_completion' | 'messages';

/** One template of a pool, as written in a file. */
export interface TemplateEntryData {
  name?: string;
  prompt: string;
  completion: string;
  system?: string;
  /** How one few-shot example renders (a template over the pool record's fields). */
  example?: string;
  /** How many examples `{examples}` holds. */
  k?: number;
  separator?: string;
}

/** A template file's content. */
export interface TemplateFileData {
  name?: string;
  description?: string;
  format?: TemplateFormat;
  system?: string;
  prompt?: string;
  completion?: string;
  example?: string;
  templates?: TemplateEntryData[];
  few_shot?: { k?: number; separator?: string; example?: string };
}

/** One compiled template of a set. */
export interface TemplateChoice {
  name: string;
  prompt: Template;
  completion: Template;
  system?: Template;
  example?: Template;
  k: number;
  separator: string;
  /** Whether the prompt (or system) reads `{examples}`. */
  fewShot: boolean;
}

/** A compiled template file: what applyTemplate uses. */
export interface TemplateSet {
  name: string;
  description?: string;
  format: TemplateFormat;
  /** Where it came from (a file path, or `bundled:<name>`). */
  source: string;
  templates: TemplateChoice[];
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** TRL's prompt-completion record, plus the input's `where`. */
export interface PromptCompletionRecord {
  prompt: string;
  completion: string;
  where?: string;
}

/** TRL's conversational record, plus the input's `where`. */
export interface MessagesRecord {
  messages: ChatMessage[];
  where?: string;
}

export type TemplatedRecord = PromptCompletionRecord | MessagesRecord;

export interface ApplyTemplateOptions {
  /** Chooses the template (and few-shot examples) per record index. */
  seed: number;
  /** Overrides the file's format. */
  format?: TemplateFormat;
  /** Records few-shot examples are drawn from. */
  examplePool?: readonly Record<string, unknown>[];
  /** Index in examplePool never drawn for this record (the record itself); applyTemplates sets it when the pool is the records. */
  excludeFromPool?: number;
  /** Uses this template of the pool for every record instead of a seeded choice. */
  templateName?: string;
}

const FILE_KEYS = ['name', 'description', 'format', 'system', 'prompt', 'completion', 'example', 'templates', 'few_shot'];
const ENTRY_KEYS = ['name', 'prompt', 'completion', 'system', 'example', 'k', 'separator'];
const FEW_SHOT_KEYS = ['k', 'separator', 'example'];
const FORMATS: TemplateFormat[] = ['prompt_completion', 'messages'];

function fileError(source: string, message: string): TunekitError {
  return new TunekitError(TEMPLATE_FILE_ERROR, `${source}: ${oneLine(message)}`);
}

function checkKeys(value: Record<string, unknown>, known: readonly string[], source: string, at: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw fileError(source, `${at}unknown key '${key}'${suggestNearest(key, known)}; known keys: ${known.join(', ')}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function optionalString(value: Record<string, unknown>, key: string, source: string, at: string): string | undefined {
  const field = value[key];
  if (field === undefined || field === null) return undefined;
  if (typeof field !== 'string') throw fileError(source, `${at}'${key}' must be a string, got ${Array.isArray(field) ? 'a list' : typeof field}`);
  return field;
}

function requiredString(value: Record<string, unknown>, key: string, source: string, at: string): string {
  const field = optionalString(value, key, source, at);
  if (field === undefined) throw fileError(source, `${at}'${key}' is required (a template string)`);
  return field;
}

function optionalCount(value: Record<string, unknown>, key: string, source: string, at: string): number | undefined {
  const field = value[key];
  if (field === undefined || field === null) return undefined;
  if (typeof field !== 'number' || !Number.isInteger(field) || field < 0) throw fileError(source, `${at}'${key}' must be a non-negative integer, got ${JSON.stringify(field)}`);
  return field;
}

function compileIn(text: string, name: string, source: string): Template {
  try {
    return compileTemplate(text, name);
  } catch (error) {
    if (error instanceof TunekitError) throw new TunekitError(error.code, `${source}: ${error.message}`);
    throw error;
  }
}

/** Validates and compiles a template file's parsed content; `source` names it in errors. */
export function parseTemplateData(data: unknown, source: string, defaultName?: string): TemplateSet {
  if (!isObject(data)) throw fileError(source, `a template file holds a mapping (prompt/completion or templates), got ${Array.isArray(data) ? 'a list' : JSON.stringify(data)}`);
  checkKeys(data, FILE_KEYS, source, '');
  const name = optionalString(data, 'name', source, '') ?? defaultName ?? path.basename(source).replace(/\.(ya?ml|json)$/i, '');
  const description = optionalString(data, 'description', source, '');
  const formatValue = data.format ?? 'prompt_completion';
  if (!FORMATS.includes(formatValue as TemplateFormat)) throw fileError(source, `'format' must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(formatValue)}${typeof formatValue === 'string' ? suggestNearest(formatValue, FORMATS) : ''}`);
  const system = optionalString(data, 'system', source, '');
  let fewShot: Record<string, unknown> = {};
  if (data.few_shot !== undefined && data.few_shot !== null) {
    if (!isObject(data.few_shot)) throw fileError(source, `'few_shot' must be a mapping of ${FEW_SHOT_KEYS.join(', ')}`);
    checkKeys(data.few_shot, FEW_SHOT_KEYS, source, 'few_shot: ');
    fewShot = data.few_shot;
  }
  const defaultK = optionalCount(fewShot, 'k', source, 'few_shot: ') ?? 3;
  const defaultSeparator = optionalString(fewShot, 'separator', source, 'few_shot: ') ?? '\n\n';
  const defaultExample = optionalString(fewShot, 'example', source, 'few_shot: ') ?? optionalString(data, 'example', source, '');

  let entries: { value: Record<string, unknown>; at: string }[];
  if (data.templates !== undefined) {
    if (data.prompt !== undefined || data.completion !== undefined) throw fileError(source, `give either 'templates' or a top-level 'prompt'/'completion', not both`);
    if (!Array.isArray(data.templates) || data.templates.length === 0) throw fileError(source, `'templates' must be a non-empty list of {prompt, completion, name?}`);
    entries = data.templates.map((value, index) => {
      const at = `templates[${index}]: `;
      if (!isObject(value)) throw fileError(source, `${at}must be a mapping with prompt and completion`);
      checkKeys(value, ENTRY_KEYS, source, at);
      return { value, at };
    });
  } else {
    if (data.prompt === undefined && data.completion === undefined) throw fileError(source, `needs 'prompt' and 'completion' templates, or a 'templates' list`);
    entries = [{ value: { prompt: data.prompt, completion: data.completion }, at: '' }];
  }

  const templates: TemplateChoice[] = [];
  for (const [index, { value, at }] of entries.entries()) {
    const entryName = optionalString(value, 'name', source, at) ?? (entries.length === 1 ? name : `${name}#${index}`);
    if (templates.some((template) => template.name === entryName)) throw fileError(source, `${at}duplicate template name '${entryName}'`);
    const prompt = compileIn(requiredString(value, 'prompt', source, at), `${entryName}.prompt`, source);
    const completion = compileIn(requiredString(value, 'completion', source, at), `${entryName}.completion`, source);
    const systemText = optionalString(value, 'system', source, at) ?? system;
    const systemTemplate = systemText === undefined ? undefined : compileIn(systemText, `${entryName}.system`, source);
    const exampleText = optionalString(value, 'example', source, at) ?? defaultExample;
    const example = exampleText === undefined ? undefined : compileIn(exampleText, `${entryName}.example`, source);
    const usesExamples = prompt.fields.includes('examples') || (systemTemplate?.fields.includes('examples') ?? false);
    if (usesExamples && example === undefined) throw fileError(source, `${at}template '${entryName}' uses {examples} but has no 'example' template (set it here or in few_shot)`);
    if (completion.fields.includes('examples')) throw fileError(source, `${at}template '${entryName}': {examples} belongs in the prompt, not the completion`);
    templates.push({
      name: entryName,
      prompt,
      completion,
      system: systemTemplate,
      example,
      k: optionalCount(value, 'k', source, at) ?? defaultK,
      separator: optionalString(value, 'separator', source, at) ?? defaultSeparator,
      fewShot: usesExamples,
    });
  }
  return { name, description, format: formatValue as TemplateFormat, source, templates };
}

/** Parses a template file's text (YAML, which includes JSON); `source` names it in errors. */
export function parseTemplateFile(text: string, source: string): TemplateSet {
  const document = parseDocument(text, { prettyErrors: false });
  const problem = document.errors[0];
  if (problem !== undefined) {
    const line = problem.linePos?.[0]?.line;
    throw fileError(line === undefined ? source : `${source}:${line}`, `not valid YAML/JSON (${problem.message})`);
  }
  return parseTemplateData(document.toJS(), source);
}

/** Reads and compiles a template file (.yaml, .yml or .json). */
export async function loadTemplateFile(filePath: string): Promise<TemplateSet> {
  let text: string;
  try {
    text = await readFile(filePath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new TunekitError('E_NOT_FOUND', `${filePath}: no such template file`);
    throw new TunekitError('E_READ', `${filePath}: cannot be read (${oneLine((error as Error).message)})`);
  }
  return parseTemplateFile(text, filePath);
}

/** The template record `index` gets for `seed` (or the one named `templateName`). */
export function chooseTemplate(set: TemplateSet, index: number, seed: number, templateName?: string): TemplateChoice {
  if (templateName !== undefined) {
    const named = set.templates.find((template) => template.name === templateName);
    if (named === undefined) {
      const names = set.templates.map((template) => template.name);
      throw new TunekitError(TEMPLATE_FILE_ERROR, `${set.source}: no template named '${templateName}'${suggestNearest(templateName, names)}; it has ${names.join(', ')}`);
    }
    return named;
  }
  return set.templates[recordRandom(seed, index, 1).nextInt(set.templates.length)];
}

function whereOf(record: Record<string, unknown>, index: number): string {
  return typeof record.where === 'string' ? record.where : `record ${index + 1}`;
}

/** Renders one record (the `index`-th of its dataset) with a template chosen from `set` by the seed. */
export function applyTemplate(set: TemplateSet, record: Record<string, unknown>, index: number, options: ApplyTemplateOptions): TemplatedRecord {
  const random = recordRandom(options.seed, index, 1);
  const choiceIndex = random.nextInt(set.templates.length);
  const template = options.templateName === undefined ? set.templates[choiceIndex] : chooseTemplate(set, index, options.seed, options.templateName);
  const where = whereOf(record, index);
  let extra: Record<string, unknown> | undefined;
  if (template.fewShot) {
    const pool = options.examplePool;
    if (pool === undefined || pool.length === 0) throw new TunekitError(TEMPLATE_FILE_ERROR, `${where}: template '${template.name}' (${set.source}) uses {examples}, but no example pool was given`);
    let picks: number[];
    try {
      picks = sampleIndices(pool.length, template.k, random, options.excludeFromPool);
    } catch {
      throw new TunekitError(TEMPLATE_FILE_ERROR, `${where}: template '${template.name}' (${set.source}) needs ${template.k} examples, but the pool holds only ${pool.length}`);
    }
    const example = template.example as Template;
    extra = { examples: picks.map((pick) => example.render(pool[pick], whereOf(pool[pick], pick))).join(template.separator) };
  }
  const prompt = template.prompt.render(record, where, extra);
  const completion = template.completion.render(record, where);
  const format = options.format ?? set.format;
  const out: TemplatedRecord =
    format === 'messages'
      ? {
          messages: [
            ...(template.system === undefined ? [] : [{ role: 'system' as const, content: template.system.render(record, where, extra) }]),
            { role: 'user', content: prompt },
            { role: 'assistant', content: completion },
          ],
        }
      : { prompt, completion };
  if (typeof record.where === 'string') out.where = record.where;
  return out;
}

/** Renders every record; when the example pool is `records` itself, a record never sees itself as an example. */
export function applyTemplates(set: TemplateSet, records: readonly Record<string, unknown>[], options: ApplyTemplateOptions): TemplatedRecord[] {
  return records.map((record, index) =>
    applyTemplate(set, record, index, { ...options, excludeFromPool: options.examplePool === records ? index : options.excludeFromPool }),
  );
}
