/**
 * In-context learning baselines (prompt engineering, no training): zero-, one- and few-shot prompts for any
 * instruction dataset. A k-shot prompt is k solved training examples (prompt + completion), each followed by the
 * delimiter, then the test prompt. The shots are drawn as lm-eval draws few-shot examples: one
 * `random.Random(seed)` for the whole test set, `sample(train, k)` per test example, in test order.
 */
import { TunekitError } from '../errors.js';
import { PythonRandom } from './python-random.js';

export interface InstructionPair {
  prompt: string;
  completion: string;
}

export interface InContextOptions {
  /** Solved examples per prompt (0: the bare prompt). */
  shots: number;
  /** Default 1234, lm-eval's few-shot seed. */
  seed?: number;
  /** After each solved example (default "\n\n", lm-eval's fewshot_delimiter). */
  delimiter?: string;
  /** Drop shots (the last drawn first) while a prompt is longer than this; needs `length`. */
  maxLength?: number;
  /** The length of a prompt, in the unit of maxLength (for example tokens). */
  length?: (prompt: string) => number;
}

export interface InContextPrompt {
  prompt: string;
  /** Shots actually used (fewer than asked when maxLength cut some). */
  shots: number;
}

/** One prompt per test example. */
export function inContextPrompts(train: readonly InstructionPair[], test: readonly InstructionPair[], options: InContextOptions): InContextPrompt[] {
  const { shots } = options;
  if (!Number.isInteger(shots) || shots < 0) throw new TunekitError('E_IN_CONTEXT', `shots must be a whole number ≥ 0, got ${shots}`);
  if (shots > train.length) throw new TunekitError('E_IN_CONTEXT', `${shots}-shot prompts need at least ${shots} training examples, got ${train.length}`);
  if (options.maxLength !== undefined && options.length === undefined) throw new TunekitError('E_IN_CONTEXT', 'maxLength needs a length function');
  const delimiter = options.delimiter ?? '\n\n';
  const random = new PythonRandom(options.seed ?? 1234);
  return test.map((example) => {
    const drawn = shots === 0 ? [] : random.sample(train, shots);
    const render = (count: number) => drawn.slice(0, count).map((shot) => `${shot.prompt}${shot.completion}${delimiter}`).join('') + example.prompt;
    let used = drawn.length;
    let prompt = render(used);
    while (used > 0 && options.maxLength !== undefined && (options.length as (text: string) => number)(prompt) > options.maxLength) prompt = render(--used);
    return { prompt, shots: used };
  });
}
