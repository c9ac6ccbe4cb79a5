// Every text the demo feeds a model, for building its tokenizer: task dialogues and summaries, the pre-training text,
// the base task, and the bundled dialogue-summary prompt templates.
import { applyTemplate } from '../template-file.js';
import { bundledTemplate } from '../templates/index.js';
import { syntheticDialogues, type SyntheticDialogue } from './dialogues.js';
import { syntheticPretrainingTexts } from './pretraining.js';
import { syntheticContinuations } from './stories.js';

export interface SyntheticCorpusSizes {
  dialogues?: number;
  pretraining?: number;
  continuations?: number;
}

/**
 * Records rendered with each summarize_dialogue template in turn, prompt and completion joined: a summary follows the
 * prompt's last newline with no space, so its first word is a piece of its own ("Anna", not "▁Anna").
 */
export function summarizeTemplateTexts(records: readonly SyntheticDialogue[]): string[] {
  const set = bundledTemplate('summarize_dialogue');
  return records.map((record, index) => {
    const template = set.templates[index % set.templates.length];
    const rendered = applyTemplate(set, { dialogue: record.dialogue, summary: record.summary }, index, { seed: 0, templateName: template.name }) as unknown as Record<string, unknown>;
    return `${String(rendered.prompt)}${String(rendered.completion)}`;
  });
}

/** The texts of `seed`'s synthetic data (default 2000 dialogues, 2000 pre-training texts, 500 stories) plus 400 of the dialogues in the summarize templates. */
export function syntheticTokenizerCorpus(seed: number, sizes: SyntheticCorpusSizes = {}): string[] {
  const dialogues = syntheticDialogues(seed, sizes.dialogues ?? 2000);
  return [
    ...dialogues.flatMap((record) => [record.dialogue, record.summary]),
    ...syntheticPretrainingTexts(seed, sizes.pretraining ?? 2000).map((record) => record.text),
    ...syntheticContinuations(seed, sizes.continuations ?? 500).flatMap((story) => [story.context, story.continuation]),
    ...summarizeTemplateTexts(dialogues.slice(0, 400)),
  ];
}
