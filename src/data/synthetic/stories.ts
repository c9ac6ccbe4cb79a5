// Short past-tense stories over the dialogues' world: the pre-training text of the tiny base model and, cut before
// their last sentence, the base task whose loss shows forgetting.
import { checkSeed, recordRandom, type SeededRandom } from '../random.js';
import { chance, joinNames, pick } from './choose.js';
import { placeReasonPast } from './lexicon.js';
import { drawPlan, type DialoguePlan } from './plan.js';
import { SYNTHETIC_STREAMS } from './streams.js';

export interface SyntheticStory {
  /** The sentences before the last one. */
  context: string;
  /** The last sentence: what they did, which the context makes predictable. */
  continuation: string;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function storySentences(plan: DialoguePlan, random: SeededRandom): { context: string[]; ending: string } {
  const name = (index: number) => plan.speakers[index].name;
  const attendees = plan.speakers.map((_, index) => index).filter((index) => index !== plan.declined?.by);
  const group = joinNames(attendees.map(name));
  const sentences: string[] = [];
  sentences.push(
    pick(random, [
      `On ${plan.day}, ${group} wanted to ${plan.activity.infinitive}.`,
      `${name(0)} asked ${joinNames(plan.speakers.slice(1).map((person) => person.name))} to ${plan.activity.infinitive} on ${plan.day}.`,
      `${name(0)} likes to ${plan.activity.infinitive}, so ${plan.speakers[0].pronoun} made a plan with ${joinNames(plan.speakers.slice(1).map((person) => person.name))} for ${plan.day}.`,
    ]),
  );
  if (plan.declined) {
    const { by, reason } = plan.declined;
    sentences.push(`${name(by)} could not come because ${plan.speakers[by].pronoun} ${reason.past} ${reason.rest}.`);
  }
  if (plan.change?.kind === 'time') {
    const { from, by, reason } = plan.change;
    sentences.push(`${name(by)} ${reason.past} ${reason.rest}, so they did not meet at ${from}.`);
  } else if (plan.change?.kind === 'place') {
    sentences.push(`${capitalize(plan.change.from)} ${placeReasonPast(plan.change.reason)}, so they went to ${plan.place} instead.`);
  }
  sentences.push(pick(random, [`They met at ${plan.place} at ${plan.time}.`, `At ${plan.time}, everyone was at ${plan.place}.`, `${name(attendees[1])} arrived at ${plan.place} at ${plan.time}.`]));
  if (plan.bring) sentences.push(pick(random, [`${name(plan.bring.by)} brought ${plan.bring.item}.`, `${name(plan.bring.by)} did not forget ${plan.bring.item}.`]));
  const ending = pick(random, [`Then they ${plan.activity.past} together.`, `They ${plan.activity.past} for two hours.`, `Together they ${plan.activity.past} at ${plan.place}.`]);
  if (chance(random, 0.3)) sentences.push(pick(random, ['It was a sunny day.', 'It was raining a little.', 'Everyone was in a good mood.']));
  return { context: sentences, ending };
}

/** Story `index` of a seed, split before its last sentence. */
export function syntheticStory(seed: number, index: number, stream: number = SYNTHETIC_STREAMS.stories): SyntheticStory {
  checkSeed(seed);
  const random = recordRandom(seed, index, stream);
  const { context, ending } = storySentences(drawPlan(random), random);
  return { context: context.join(' '), continuation: ending };
}

/** `count` stories for the base task: predict the last sentence (`continuation`) from the others (`context`). */
export function syntheticContinuations(seed: number, count: number): SyntheticStory[] {
  return Array.from({ length: count }, (_, index) => syntheticStory(seed, index, SYNTHETIC_STREAMS.continuations));
}
