/**
 * What the demo's base model could do before fine-tuning, to see how much of it each method forgets: an lm-eval
 * multiple-choice task (which sentence ends this story? the true last sentence or the last sentences of three other
 * stories) and held-out pre-training text for perplexity. Both from seeds the pre-training never used.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { recordRandom, syntheticContinuations, syntheticPretrainingTexts } from '../data/index.js';
import type { GeneralText } from '../evaluate/index.js';

/** Seeds apart from the pre-training corpus's (which uses the demo seed itself). */
const HELD_OUT_SEED_OFFSET = 1_000_003;

export interface BaseTask {
  /** The task's YAML file (lm-eval's format), a name `tunekit eval --tasks` also takes. */
  taskFile: string;
  task: string;
  generalText: GeneralText;
}

/** Writes the story-continuation task into `dir` and returns it with the general text. */
export function writeBaseTask(dir: string, seed: number, documents = 60, textDocuments = 40): BaseTask {
  const heldOut = seed + HELD_OUT_SEED_OFFSET;
  const stories = syntheticContinuations(heldOut, documents * 4);
  const records: { context: string; choices: string[]; label: number }[] = [];
  for (let index = 0; index < documents; index++) {
    const story = stories[index];
    const others = [...new Set(stories.slice(documents + 3 * index, documents + 3 * index + 3).map((other) => other.continuation))].filter((ending) => ending !== story.continuation);
    const random = recordRandom(heldOut, index, 7);
    const choices = [...others];
    const label = random.nextInt(choices.length + 1);
    choices.splice(label, 0, story.continuation);
    records.push({ context: story.context, choices, label });
  }
  mkdirSync(dir, { recursive: true });
  const data = path.join(dir, 'story_continuation.jsonl');
  writeFileSync(data, records.map((record) => JSON.stringify(record)).join('\n') + '\n');
  const task = 'story_continuation';
  const taskFile = path.join(dir, `${task}.yaml`);
  writeFileSync(
    taskFile,
    [
      `task: ${task}`,
      'dataset_path: json',
      `dataset_kwargs: {data_files: {test: ${JSON.stringify(data)}}}`,
      'test_split: test',
      'output_type: multiple_choice',
      'doc_to_text: "{{context}}"',
      'doc_to_choice: "{{choices}}"',
      'doc_to_target: label',
      'metric_list:',
      '  - metric: acc',
      '  - metric: acc_norm',
      '',
    ].join('\n'),
  );
  const generalText = { name: 'held-out pre-training text', documents: syntheticPretrainingTexts(heldOut, textDocuments).map((record) => record.text) };
  return { taskFile, task, generalText };
}
