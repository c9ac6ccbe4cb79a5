import { existsSync } from 'node:fs';
import { TunekitError } from '../errors.js';
import { openDataset } from './sources.js';
import { applyTemplate, loadTemplateFile, type TemplateFormat, type TemplateSet } from './template-file.js';
import { bundledTemplate } from './templates/index.js';

/** A template file (YAML/JSON) or, when no such file is named, a bundled template set by name. */
export async function templatesFrom(nameOrFile: string): Promise<TemplateSet> {
  return existsSync(nameOrFile) || /\.(ya?ml|json)$/i.test(nameOrFile) ? loadTemplateFile(nameOrFile) : bundledTemplate(nameOrFile);
}

export interface InstructionRecordsOptions {
  /** A template file or bundled name; absent: the records already are TRL records and pass as they are. */
  template?: string | null;
  /** Chooses each record's template and few-shot examples. */
  seed: number;
  /** The hub or folder split to read (default train). */
  split?: string;
  /** A hub dataset's configuration (subset). */
  config?: string;
  limit?: number;
  /** Overrides the template's format. */
  format?: TemplateFormat;
}

/**
 * A dataset's records as TRL records (`{prompt, completion}` or `{messages}`), rendered with the template if any;
 * `where` names each record's place in the source (`file:line`, `file row N`) for messages about it.
 */
export async function readInstructionRecords(
  source: string,
  options: InstructionRecordsOptions,
): Promise<{ records: Record<string, unknown>[]; templates: TemplateSet | null; where: string[] }> {
  const dataset = await openDataset(source, { split: options.split, config: options.config, limit: options.limit });
  const raw: Record<string, unknown>[] = [];
  for await (const { record, where } of dataset.records()) raw.push({ ...record, where });
  if (raw.length === 0) throw new TunekitError('E_DATA_EMPTY', `${source}: the dataset has no records`);
  const withoutWhere = ({ where: _where, ...record }: Record<string, unknown>) => record;
  const where = raw.map((record) => record.where as string);
  if (options.template === null || options.template === undefined) return { records: raw.map(withoutWhere), templates: null, where };
  const templates = await templatesFrom(options.template);
  const records = raw.map((record, index) => withoutWhere(applyTemplate(templates, record, index, { seed: options.seed, format: options.format, examplePool: raw, excludeFromPool: index }) as unknown as Record<string, unknown>));
  return { records, templates, where };
}
