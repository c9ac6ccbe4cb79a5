// Every text the demo feeds a model, for building its tokenizer: task dialogues and summaries, the pre-training text,
// the base task, and the bundled dialogue-summary prompt templates.
import { applyTemplate } from '../template-file.js';
import { bundledTemplate } from '../templates/index.js';
import { syntheticDialogues } from './dialogues.js';
import { syntheticPretrainingTexts } from './pretraining.js';
import { syntheticContinuations } from './stories.js';

export interface SyntheticCorpusSizes {
  dialogues?: number;
  pretraining?: number;
  continuations?: number;
}

/** The words of the summarize_dialogue templates, each rendered with empty fields. */
export function summarizeTemplateTexts(): string[] {
  const set = bundledTemplate('summarize_dialogue');
  return set.templates.flatMap((template) => {
    const rendered = applyTemplate(set, { dialogue: '', summary: '' }, 0, { seed: 0, templateName: template.name });
    return Object.values(rendered).filter((value): value is string => typeof value === 'string');
  });
}

/** The texts of `seed`'s synthetic data (default 2000 dialogues, 2000 pre-training texts, 500 stories) plus the templates. */
export function syntheticTokenizerCorpus(seed: number, sizes: SyntheticCorpusSizes = {}): string[] {
  return [
    ...syntheticDialogues(seed, sizes.dialogues ?? 2000).flatMap((record) => [record.dialogue, record.summary]),
    ...syntheticPretrainingTexts(seed, sizes.pretraining ?? 2000).map((record) => record.text),
    ...syntheticContinuations(seed, sizes.continuations ?? 500).flatMap((story) => [story.context, story.continuation]),
    ...summarizeTemplateTexts(),
  ];
}
