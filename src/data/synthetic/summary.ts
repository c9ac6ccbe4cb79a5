// The reference summary of a planning conversation, written by rules from the plan's slots.
import { joinNames } from './choose.js';
import type { DialoguePlan } from './plan.js';

/** E.g. "Anna and Ben will meet at the library at 5 pm on Friday to study for the exam. Ben will bring the notes." */
export function writeSummary(plan: DialoguePlan): string {
  const name = (index: number) => plan.speakers[index].name;
  const attendees = plan.speakers.map((_, index) => index).filter((index) => index !== plan.declined?.by);
  const sentences = [`${joinNames(attendees.map(name))} will meet at ${plan.place} at ${plan.time} on ${plan.day} to ${plan.activity.infinitive}.`];
  if (plan.change?.kind === 'time') {
    const { from, by, reason } = plan.change;
    sentences.push(`They moved it from ${from} because ${name(by)} ${reason.third} ${reason.rest}.`);
  } else if (plan.change?.kind === 'place') {
    sentences.push(`They chose ${plan.place} instead of ${plan.change.from}, which ${plan.change.reason}.`);
  }
  if (plan.bring) sentences.push(`${name(plan.bring.by)} will bring ${plan.bring.item}.`);
  if (plan.declined) {
    const { by, reason } = plan.declined;
    sentences.push(`${name(by)} cannot come because ${plan.speakers[by].pronoun} ${reason.third} ${reason.rest}.`);
  }
  return sentences.join(' ');
}
