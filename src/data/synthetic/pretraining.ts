// The pre-training text of the tiny base model: stories and conversations over the task's world, never a summary.
import { checkSeed, recordRandom } from '../random.js';
import { chance } from './choose.js';
import { syntheticDialogueWithPlan } from './dialogues.js';
import { syntheticStory } from './stories.js';
import { SYNTHETIC_STREAMS } from './streams.js';

export interface PretrainingOptions {
  /** Share of conversations among the texts, the rest being stories (default 0.5). */
  dialogueShare?: number;
}

/** Text `index` of a seed's pre-training corpus: a whole story or a whole conversation (DialogSum layout). */
export function syntheticPretrainingText(seed: number, index: number, options: PretrainingOptions = {}): string {
  checkSeed(seed);
  if (chance(recordRandom(seed, index, SYNTHETIC_STREAMS.pretrainingMix), options.dialogueShare ?? 0.5)) {
    return syntheticDialogueWithPlan(seed, index, {}, SYNTHETIC_STREAMS.pretrainingDialogues).dialogue;
  }
  const story = syntheticStory(seed, index, SYNTHETIC_STREAMS.stories);
  return `${story.context} ${story.continuation}`;
}

/** `count` pre-training records ({text}) for `seed`. */
export function syntheticPretrainingTexts(seed: number, count: number, options: PretrainingOptions = {}): { text: string }[] {
  return Array.from({ length: count }, (_, index) => ({ text: syntheticPretrainingText(seed, index, options) }));
}
