// Seeded planning dialogues in DialogSum's record shape, with rule-written reference summaries.
import { checkSeed, recordRandom } from '../random.js';
import { formatTurns, writeTurns } from './dialogue-text.js';
import { drawPlan, type DialoguePlan, type PlanOptions } from './plan.js';
import { SYNTHETIC_STREAMS } from './streams.js';
import { writeSummary } from './summary.js';

export interface SyntheticDialogue {
  /** "synthetic_<index>", like DialogSum's fname. */
  fname: string;
  dialogue: string;
  summary: string;
  topic: string;
}

export interface SyntheticDialogueWithPlan extends SyntheticDialogue {
  plan: DialoguePlan;
}


/** Record `index` of the seed's dialogues with the plan it was written from; depends only on (seed, index, stream). */
export function syntheticDialogueWithPlan(seed: number, index: number, options: PlanOptions = {}, stream: number = SYNTHETIC_STREAMS.taskDialogues): SyntheticDialogueWithPlan {
  checkSeed(seed);
  const random = recordRandom(seed, index, stream);
  const plan = drawPlan(random, options);
  const dialogue = formatTurns(writeTurns(plan, random));
  return { fname: `synthetic_${index}`, dialogue, summary: writeSummary(plan), topic: plan.activity.infinitive, plan };
}

/** `count` DialogSum-style records ({fname, dialogue, summary, topic}) for `seed`, record i the same however many are asked for. */
export function syntheticDialogues(seed: number, count: number, options: PlanOptions = {}): SyntheticDialogue[] {
  const records: SyntheticDialogue[] = [];
  for (let index = 0; index < count; index++) {
    const { plan: _plan, ...record } = syntheticDialogueWithPlan(seed, index, options);
    records.push(record);
  }
  return records;
}
