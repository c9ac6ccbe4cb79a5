/**
 * lm-eval's response filters, applied in order to each document's list of responses: `regex` (findall, then
 * group_select, a tuple's first non-empty group, stripped; fallback "[invalid]"), `take_first`, `lowercase`,
 * `uppercase` and `remove_whitespace` (leading spaces). Without a filter_list a task gets one pipeline, "none",
 * of take_first.
 */
import { TunekitError } from '../errors.js';
import { pythonFindall, pythonRegex } from './python-regex.js';
import { TASK_CONFIG_ERROR, type FilterPipeline, type FilterStep } from './task-config.js';

export const FILTERS = ['regex', 'take_first', 'lowercase', 'uppercase', 'remove_whitespace'] as const;

/** What a request returns: log-likelihood and greediness, a rolling log-likelihood, or generated text. */
export type Response = [number, boolean] | number | string;

export const DEFAULT_PIPELINE: FilterPipeline = { name: 'none', steps: [{ function: 'take_first', options: {} }] };

function fail(task: string, message: string): never {
  throw new TunekitError(TASK_CONFIG_ERROR, `task "${task}": ${message}`);
}

function onStrings(task: string, step: string, values: unknown[], map: (text: string) => string): unknown[] {
  return values.map((value) => {
    if (typeof value !== 'string') fail(task, `filter ${step} works on generated text, got ${JSON.stringify(value)}`);
    return map(value);
  });
}

type StepFunction = (responses: unknown) => unknown;

function compileStep(task: string, pipeline: string, step: FilterStep): StepFunction {
  const where = `task "${task}" filter ${pipeline}`;
  const options = step.options;
  const allow = (keys: string[]) => {
    for (const key of Object.keys(options)) if (!keys.includes(key)) fail(task, `filter ${pipeline}: ${step.function} has no option "${key}" (it takes ${keys.join(', ') || 'none'})`);
  };
  switch (step.function) {
    case 'take_first':
      allow([]);
      return (responses) => (responses as unknown[])[0];
    case 'regex': {
      allow(['regex_pattern', 'group_select', 'fallback']);
      const pattern = options.regex_pattern ?? '#### (\\-?[0-9\\.\\,]+)';
      const groupSelect = options.group_select ?? 0;
      const fallback = options.fallback ?? '[invalid]';
      if (typeof pattern !== 'string' || !Number.isInteger(groupSelect) || typeof fallback !== 'string') fail(task, `filter ${pipeline}: regex needs a string regex_pattern, an integer group_select and a string fallback`);
      const regex = pythonRegex(pattern, where);
      return (responses) =>
        (responses as unknown[]).map((response) => {
          const matches = pythonFindall(regex, typeof response === 'string' ? response : '');
          if (matches.length === 0) return fallback;
          const index = (groupSelect as number) < 0 ? matches.length + (groupSelect as number) : (groupSelect as number);
          let match = matches[index];
          if (match === undefined) fail(task, `filter ${pipeline}: group_select ${groupSelect} is out of range for ${matches.length} matches`);
          if (Array.isArray(match)) match = match.find((group) => group !== '') ?? fallback;
          return match.trim();
        });
    }
    case 'lowercase':
      allow([]);
      return (responses) => onStrings(task, 'lowercase', responses as unknown[], (text) => text.toLowerCase());
    case 'uppercase':
      allow([]);
      return (responses) => onStrings(task, 'uppercase', responses as unknown[], (text) => text.toUpperCase());
    case 'remove_whitespace':
      allow([]);
      return (responses) => onStrings(task, 'remove_whitespace', responses as unknown[], (text) => text.replace(/^ +/, ''));
    default:
      fail(task, `filter ${pipeline}: unknown filter function "${step.function}" (tunekit has ${FILTERS.join(', ')})`);
  }
}

/** A compiled pipeline: a document's responses in, its filtered response out. */
export interface CompiledFilter {
  name: string;
  apply(responses: Response[]): unknown;
}

export function compileFilters(task: string, pipelines: readonly FilterPipeline[]): CompiledFilter[] {
  const list = pipelines.length === 0 ? [DEFAULT_PIPELINE] : pipelines;
  return list.map((pipeline) => {
    const steps = pipeline.steps.map((step) => compileStep(task, pipeline.name, step));
    return { name: pipeline.name, apply: (responses) => steps.reduce<unknown>((value, step) => step(value), responses) };
  });
}
