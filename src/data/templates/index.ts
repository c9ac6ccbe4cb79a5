/**
 * The bundled template library: several phrasings per task (in the spirit of FLAN and promptsource, in our own
 * words), each set written as template-file data and validated by the same code as a user's file. Use one by name
 * (`bundledTemplate('summarize_dialogue')`) or list them (`bundledTemplates()`).
 */
import { TunekitError } from '../../errors.js';
import { suggestNearest } from '../random.js';
import { parseTemplateData, type TemplateFileData, type TemplateSet } from '../template-file.js';

const LIBRARY: Record<string, TemplateFileData & { description: string }> = {
  summarize_dialogue: {
    description: 'Dialogue summarization: {dialogue} -> {summary} (DialogSum, SAMSum)',
    templates: [
      { name: 'summarize', prompt: 'Summarize the following conversation.\n\n{dialogue}\n\nSummary:\n', completion: '{summary}' },
      { name: 'brief', prompt: '{dialogue}\n\nIn a few sentences, what was this conversation about?\n', completion: '{summary}' },
      { name: 'recap', prompt: 'Here is a chat between several people:\n{dialogue}\n\nWrite a short recap of it.\n', completion: '{summary}' },
      { name: 'tldr', prompt: 'Conversation:\n{dialogue}\n\nTL;DR:\n', completion: '{summary}' },
      { name: 'notes', prompt: 'Read the dialogue and note down its main points in one paragraph.\n\nDialogue:\n{dialogue}\n\nMain points:\n', completion: '{summary}' },
    ],
  },
  review_sentiment: {
    description: 'Product-review sentiment: {review_body} -> {sentiment}',
    templates: [
      { name: 'classify', prompt: 'Is the sentiment of this product review positive or negative?\n\nReview: {review_body}\n\nSentiment:', completion: ' {sentiment}' },
      { name: 'customer_feel', prompt: '{review_body}\n\nHow does the customer feel about the product?', completion: ' {sentiment}' },
      { name: 'label', prompt: 'Label the review below with its sentiment.\n\n"{review_body}"\n\nLabel:', completion: ' {sentiment}' },
      { name: 'would_recommend', prompt: 'A shopper wrote: {review_body}\nWhat is the overall tone of their review?', completion: ' {sentiment}' },
    ],
  },
  review_rating: {
    description: 'Product-review star rating: {review_body} -> {stars}',
    templates: [
      { name: 'stars', prompt: 'Review: {review_body}\n\nHow many stars (1 to 5) did the reviewer give?', completion: ' {stars}' },
      { name: 'predict', prompt: 'Predict the star rating, from 1 to 5, of this product review.\n\n{review_body}\n\nRating:', completion: ' {stars}' },
      { name: 'score', prompt: '{review_body}\n\nOn a scale of 1 to 5, how would this customer score the product?', completion: ' {stars}' },
    ],
  },
  extractive_qa: {
    description: 'Extractive question answering: {context}, {question} -> {answer} (a span of the context)',
    templates: [
      { name: 'read_answer', prompt: 'Read the passage and answer the question with words from it.\n\nPassage: {context}\n\nQuestion: {question}\nAnswer:', completion: ' {answer}' },
      { name: 'question_first', prompt: 'Question: {question}\n\nFind the answer in this text:\n{context}\n\nAnswer:', completion: ' {answer}' },
      { name: 'context_question', prompt: '{context}\n\nBased on the text above, {question}', completion: ' {answer}' },
      { name: 'extract', prompt: 'Text: {context}\n\nCopy the part of the text that answers: {question}\n', completion: '{answer}' },
    ],
  },
  nli: {
    description: 'Natural-language inference: {premise}, {hypothesis} -> {label} (entailment, neutral, contradiction)',
    templates: [
      { name: 'follows', prompt: 'Premise: {premise}\nHypothesis: {hypothesis}\n\nDoes the premise entail the hypothesis, contradict it, or neither? Answer entailment, contradiction or neutral.', completion: ' {label}' },
      { name: 'true_false', prompt: '{premise}\n\nGiven the statement above, is the following true, false, or undetermined? "{hypothesis}"\nAnswer with entailment, contradiction or neutral.', completion: ' {label}' },
      { name: 'relation', prompt: 'Sentence A: {premise}\nSentence B: {hypothesis}\n\nWhat is the logical relation of B to A (entailment, neutral, contradiction)?', completion: ' {label}' },
      { name: 'can_we_conclude', prompt: 'Suppose that {premise} Can we conclude that "{hypothesis}"? Reply entailment, neutral or contradiction.', completion: ' {label}' },
    ],
  },
  math_word_problem: {
    description: 'Math word problems: {question} -> {answer} (GSM8K-style worked solution ending in "#### n")',
    templates: [
      { name: 'solve', prompt: 'Solve the following math problem step by step.\n\n{question}\n\nSolution:\n', completion: '{answer}' },
      { name: 'qa', prompt: 'Question: {question}\nAnswer:\n', completion: '{answer}' },
      { name: 'show_work', prompt: '{question}\n\nShow your work, then give the final number.\n', completion: '{answer}' },
      { name: 'tutor', prompt: 'A student asks for help with this problem:\n{question}\n\nExplain how to solve it.\n', completion: '{answer}' },
    ],
  },
  math_word_problem_few_shot: {
    description: 'Math word problems with k solved examples first: {question} -> {answer}; needs an example pool',
    few_shot: { k: 3, separator: '\n\n', example: 'Question: {question}\nAnswer:\n{answer}' },
    templates: [
      { name: 'shots_qa', prompt: '{examples}\n\nQuestion: {question}\nAnswer:\n', completion: '{answer}' },
      { name: 'shots_solve', prompt: 'Here are some solved problems.\n\n{examples}\n\nNow solve this one step by step.\nQuestion: {question}\nAnswer:\n', completion: '{answer}' },
    ],
  },
  instruction_following: {
    description: 'Instruction following without input (alpaca): {instruction} -> {output}',
    templates: [
      { name: 'alpaca_style', prompt: 'Below is a task. Write a response that completes it.\n\n### Task:\n{instruction}\n\n### Response:\n', completion: '{output}' },
      { name: 'plain', prompt: '{instruction}\n', completion: '{output}' },
      { name: 'request', prompt: 'Request: {instruction}\n\nReply:\n', completion: '{output}' },
    ],
  },
  instruction_following_with_input: {
    description: 'Instruction following with input (alpaca): {instruction}, {input} -> {output}',
    templates: [
      { name: 'alpaca_style', prompt: 'Below is a task together with the input it works on. Write a response that completes it.\n\n### Task:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n', completion: '{output}' },
      { name: 'plain', prompt: '{instruction}\n\n{input}\n', completion: '{output}' },
      { name: 'request', prompt: 'Request: {instruction}\nDetails: {input}\n\nReply:\n', completion: '{output}' },
    ],
  },
};

/** One line about a bundled template set. */
export interface BundledTemplateInfo {
  name: string;
  description: string;
  /** Record fields its prompts read (besides `examples`). */
  inputs: string[];
  /** Record fields its completions read. */
  targets: string[];
  /** How many phrasings it has. */
  templates: number;
  /** Whether it needs an example pool. */
  fewShot: boolean;
}

const compiled = new Map<string, TemplateSet>();

/** The bundled template set `name` (see bundledTemplates()); an unknown name suggests the nearest. */
export function bundledTemplate(name: string): TemplateSet {
  const cached = compiled.get(name);
  if (cached !== undefined) return cached;
  const data = LIBRARY[name];
  if (data === undefined || !Object.hasOwn(LIBRARY, name)) {
    const names = Object.keys(LIBRARY);
    throw new TunekitError('E_TEMPLATE_NAME', `no bundled template set '${name}'${suggestNearest(name, names)}; bundled: ${names.join(', ')}`);
  }
  const set = parseTemplateData(data, `bundled:${name}`, name);
  compiled.set(name, set);
  return set;
}

/** Every bundled template set with a one-line description, in library order. */
export function bundledTemplates(): BundledTemplateInfo[] {
  return Object.entries(LIBRARY).map(([name, data]) => {
    const set = bundledTemplate(name);
    const inputs = new Set<string>();
    const targets = new Set<string>();
    for (const template of set.templates) {
      for (const field of template.prompt.fields) if (field !== 'examples') inputs.add(field);
      for (const field of template.completion.fields) targets.add(field);
    }
    return { name, description: data.description, inputs: [...inputs], targets: [...targets], templates: set.templates.length, fewShot: set.templates.some((template) => template.fewShot) };
  });
}
