/**
 * doc_to_text, doc_to_target and doc_to_choice as lm-eval's ConfigurableTask applies them: a field name of the
 * dataset gives the field, anything else is a Jinja template rendered over the record (jinja.ts: StrictUndefined,
 * keep_trailing_newline, Python's str() of printed values). A rendered text of digits is an
 * index when the task has choices; a rendered target that looks like a list is evaluated as a Python literal;
 * a rendered choice list always is.
 */
import { TunekitError } from '../errors.js';
import { renderJinja } from './jinja.js';
import { literalEval, PythonLiteralError } from './python-literal.js';
import { TASK_CONFIG_ERROR, type DocSpec, type TaskConfig } from './task-config.js';

export type Doc = Record<string, unknown>;

function fail(task: string, message: string): never {
  throw new TunekitError(TASK_CONFIG_ERROR, `task "${task}": ${message}`);
}

/** Renders a Jinja template over a record as lm-eval's apply_template does. */
export function renderTemplate(template: string, doc: Doc, task: string): string {
  try {
    return renderJinja(template, doc);
  } catch (error) {
    fail(task, `cannot render the template ${JSON.stringify(template.slice(0, 120))}: ${(error as Error).message}`);
  }
}

/** Python's str.isdigit() for what templates render. */
function isDigits(text: string): boolean {
  return /^\p{Nd}+$/u.test(text);
}

/** The dataset's column names: a spec equal to one of them is a field, not a template. */
export interface DocContext {
  config: TaskConfig;
  features: ReadonlySet<string>;
}

export function docToText(context: DocContext, doc: Doc, spec: DocSpec | undefined = context.config.docToText): string | number {
  if (typeof spec === 'number') return spec;
  if (typeof spec !== 'string') fail(context.config.task, `doc_to_text must be a template, a field name or an integer, got ${JSON.stringify(spec)}`);
  if (context.features.has(spec)) return doc[spec] as string;
  const text = renderTemplate(spec, doc, context.config.task);
  if (isDigits(text) && context.config.docToChoice !== undefined) return Number(text);
  return text;
}

export function docToTarget(context: DocContext, doc: Doc, spec: DocSpec | undefined = context.config.docToTarget): unknown {
  if (typeof spec === 'number' || Array.isArray(spec)) return spec;
  if (typeof spec !== 'string') fail(context.config.task, `doc_to_target must be a template, a field name, an integer or a list, got ${JSON.stringify(spec)}`);
  if (context.features.has(spec)) return doc[spec];
  const text = renderTemplate(spec, doc, context.config.task);
  if (isDigits(text) && context.config.docToChoice !== undefined) return Number(text);
  if (text.length >= 2 && text.startsWith('[') && text.endsWith(']')) {
    try {
      return literalEval(text);
    } catch (error) {
      if (!(error instanceof PythonLiteralError)) throw error;
    }
  }
  return text;
}

export function docToChoice(context: DocContext, doc: Doc, spec: DocSpec | undefined = context.config.docToChoice): string[] {
  let choices: unknown;
  if (typeof spec === 'string') {
    if (context.features.has(spec)) choices = doc[spec];
    else {
      const text = renderTemplate(spec, doc, context.config.task);
      try {
        choices = literalEval(text);
      } catch (error) {
        if (!(error instanceof PythonLiteralError)) throw error;
        fail(context.config.task, `doc_to_choice rendered ${JSON.stringify(text.slice(0, 120))}, which is not a Python list literal (${error.message})`);
      }
    }
  } else if (Array.isArray(spec)) choices = spec;
  else if (spec !== null && typeof spec === 'object') choices = Object.values(spec);
  else fail(context.config.task, 'doc_to_choice is not set');
  if (!Array.isArray(choices) || !choices.every((choice) => typeof choice === 'string')) {
    fail(context.config.task, `doc_to_choice must give a list of strings, got ${JSON.stringify(choices)?.slice(0, 120)}`);
  }
  return choices;
}

/** lm-eval's resolve_field (description, gen_prefix): a field's value, else the template rendered; "" when unset. */
export function resolveField(context: DocContext, doc: Doc, field: string): string {
  if (field === '') return '';
  if (field in doc) return String(doc[field]);
  return renderTemplate(field, doc, context.config.task);
}
