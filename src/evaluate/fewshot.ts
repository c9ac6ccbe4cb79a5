/**
 * Few-shot prompts as lm-eval 0.4.13 builds them. One sampler per task, seeded once (`random.Random(1234)` by
 * default) and drawn from document after document, so the examples of document i depend on every draw before it.
 * When the few-shot split is the test split, it samples k + 1 and drops the document itself (every equal record).
 * The prompt is the description, then each example as text + target_delimiter + answer + fewshot_delimiter, then
 * the document's text.
 */
import { TunekitError } from '../errors.js';
import { docToChoice, docToTarget, docToText, resolveField, type Doc, type DocContext } from './doc-fields.js';
import { PythonRandom } from './python-random.js';
import { TASK_CONFIG_ERROR } from './task-config.js';

export const DEFAULT_FEWSHOT_SEED = 1234;

/** Python's == on JSON-like values (dict order does not matter, 1 == 1.0). */
export function pythonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const numeric = (value: unknown) => typeof value === 'boolean' || typeof value === 'number';
  if (typeof a === 'boolean' || typeof b === 'boolean') return numeric(a) && numeric(b) && Number(a) === Number(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, index) => pythonEqual(item, b[index]));
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keysA = Object.keys(a);
    const keysB = Object.keys(b);
    return keysA.length === keysB.length && keysA.every((key) => key in b && pythonEqual((a as Doc)[key], (b as Doc)[key]));
  }
  return false;
}

export class FewshotSampler {
  #random: PythonRandom;

  constructor(
    readonly docs: readonly Doc[],
    readonly kind: 'default' | 'first_n',
    readonly seed: number = DEFAULT_FEWSHOT_SEED,
  ) {
    this.#random = new PythonRandom(seed);
  }

  /** A sampler over the same documents, seeded afresh (the draws start again). */
  restarted(): FewshotSampler {
    return new FewshotSampler(this.docs, this.kind, this.seed);
  }

  /** ContextSampler.sample / FirstNSampler.sample. */
  sample(n: number, evalDoc: Doc | undefined, task: string): Doc[] {
    if (n === 0) return [];
    if (this.docs.length === 0) throw new TunekitError(TASK_CONFIG_ERROR, `task "${task}": no documents to draw ${n} few-shot examples from`);
    if (this.kind === 'first_n') {
      const pool = evalDoc === undefined ? this.docs : this.docs.filter((doc) => !pythonEqual(doc, evalDoc));
      if (n > pool.length) throw new TunekitError(TASK_CONFIG_ERROR, `task "${task}": ${n} few-shot examples requested, ${pool.length} available`);
      return pool.slice(0, n);
    }
    const draw = (pool: readonly Doc[], k: number): Doc[] => {
      if (k > pool.length) throw new TunekitError(TASK_CONFIG_ERROR, `task "${task}": ${n} few-shot examples requested but the few-shot split has ${this.docs.length} documents`);
      return this.#random.sample(pool, k);
    };
    const isEmpty = evalDoc === undefined || Object.keys(evalDoc).length === 0;
    let result = isEmpty ? draw(this.docs, n) : draw(this.docs, n + 1).filter((doc) => !pythonEqual(doc, evalDoc)).slice(0, n);
    if (result.length < n) result = draw(this.docs.filter((doc) => !pythonEqual(doc, evalDoc)), n);
    return result;
  }
}

interface Turn {
  content: string;
  delimiter: string;
}

function answerText(task: string, answer: unknown, choices: string[] | null): string {
  const text = choices !== null && choices.length > 0 && typeof answer === 'number' ? choices[answer] : Array.isArray(answer) ? answer[0] : answer;
  if (typeof text !== 'string') throw new TunekitError(TASK_CONFIG_ERROR, `task "${task}": a few-shot answer must be text, got ${JSON.stringify(answer)} (an index needs doc_to_choice)`);
  return text;
}

/** utils.maybe_delimit: prefix and suffix joined, with the delimiter only where neither has whitespace at the seam. */
function maybeDelimit(prefix: string | undefined, suffix: string, delimiter: string): string {
  if (!prefix) return suffix;
  if (!suffix) return prefix;
  return /\s$/u.test(prefix) || /^\s/u.test(suffix) ? prefix + suffix : prefix + delimiter + suffix;
}

/** utils.requires_delimiter. */
function requiresDelimiter(prefix: string, suffix: string): boolean {
  if (prefix === '') return false;
  return !(/\s$/u.test(prefix) || /^\s/u.test(suffix));
}

/** build_qa_turn: the question, then the answer (after gen_prefix) or, without one, gen_prefix alone. */
function qaTurn(task: string, question: unknown, choices: string[] | null, answer: unknown, genPrefix: string | undefined, targetDelimiter: string, fewshotDelimiter: string): Turn[] {
  if (typeof question !== 'string') throw new TunekitError(TASK_CONFIG_ERROR, `task "${task}": doc_to_text must give text here, got ${JSON.stringify(question)}`);
  const hasAnswer = answer !== undefined && answer !== null && answer !== '';
  const prefix = genPrefix === '' ? undefined : genPrefix;
  const userDelimiter = hasAnswer && prefix === undefined ? targetDelimiter : prefix !== undefined && requiresDelimiter(question, prefix) ? targetDelimiter : '';
  const turns: Turn[] = [{ content: question, delimiter: userDelimiter }];
  if (hasAnswer) turns.push({ content: maybeDelimit(prefix, answerText(task, answer, choices), ' '), delimiter: fewshotDelimiter });
  else if (prefix !== undefined) turns.push({ content: prefix, delimiter: '' });
  return turns;
}

/** The system turn and the few-shot examples of a document's prompt (everything before its own question). */
function fewshotTurns(context: DocContext, sampler: FewshotSampler, doc: Doc, numFewshot: number, multipleInput: boolean): Turn[] {
  const { config } = context;
  const fewshot = config.fewshotConfig;
  const turns: Turn[] = [];
  const description = resolveField(context, doc, config.description);
  if (description !== '') turns.push({ content: description, delimiter: '' });
  if (numFewshot > 0) {
    const sameSplit = fewshot.split === config.testSplit;
    for (const example of sampler.sample(numFewshot, sameSplit ? doc : undefined, config.task)) {
      let question: unknown = docToText(context, example, fewshot.docToText);
      let choices = fewshot.docToChoice !== undefined ? docToChoice(context, example, fewshot.docToChoice) : null;
      const answer = docToTarget(context, example, fewshot.docToTarget);
      if (multipleInput) {
        question = (choices ?? [])[question as number];
        choices = null;
      }
      const prefix = fewshot.genPrefix === undefined ? undefined : resolveField(context, example, fewshot.genPrefix);
      turns.push(...qaTurn(config.task, question, choices, answer, prefix, fewshot.targetDelimiter, fewshot.fewshotDelimiter));
    }
  }
  return turns;
}

/** doc_to_prefix: the document's gen_prefix (a field or a template), or undefined. */
export function docPrefix(context: DocContext, doc: Doc): string | undefined {
  const genPrefix = context.config.genPrefix;
  if (genPrefix === undefined) return undefined;
  return context.features.has(genPrefix) ? String(doc[genPrefix]) : resolveField(context, doc, genPrefix);
}

/**
 * Rewrites the document's own input text: never the description, the few-shot examples or the continuations
 * scored. A multiple-input document's inputs are its choices (the shared continuation is scored): each is
 * rewritten, `part` numbering them.
 */
export type InputPerturber = (text: string, part: number) => string;

const render = (turns: Turn[]) => turns.map((turn) => turn.content + turn.delimiter).join('');

/** ConfigurableTask.fewshot_context for plain text (no chat template, no system instruction). */
export function fewshotContext(context: DocContext, sampler: FewshotSampler, doc: Doc, numFewshot: number, perturbInput?: InputPerturber): string {
  const turns = fewshotTurns(context, sampler, doc, numFewshot, false);
  const text = docToText(context, doc);
  const question = perturbInput !== undefined && typeof text === 'string' ? perturbInput(text, 0) : text;
  turns.push(...qaTurn(context.config.task, question, null, undefined, docPrefix(context, doc), context.config.targetDelimiter, ''));
  return render(turns);
}

/**
 * multiple_input_context (Winogrande-style tasks, where doc_to_text gives the gold index): one prompt per choice,
 * the shared examples (each showing its chosen input) then that choice as the question.
 */
export function multipleInputContexts(context: DocContext, sampler: FewshotSampler, doc: Doc, numFewshot: number, perturbInput?: InputPerturber): string[] {
  const shared = fewshotTurns(context, sampler, doc, numFewshot, true);
  const prefix = docPrefix(context, doc);
  return docToChoice(context, doc).map((choice, i) => render([...shared, ...qaTurn(context.config.task, perturbInput === undefined ? choice : perturbInput(choice, i), null, undefined, prefix, '', '')]));
}
