// The slots of one planning conversation, drawn from the lexicon. The dialogue text and the reference summary are both
// written from these slots, so a summary can be checked against the plan it describes.
import type { SeededRandom } from '../random.js';
import { chance, pick, pickDistinct } from './choose.js';
import { ACTIVITIES, DAYS, FIRST_HOUR, formatTime, LAST_HOUR, PEOPLE, PERSONAL_REASONS, PLACE_REASONS, type Activity, type Person, type PersonalReason } from './lexicon.js';

export type PlanChange =
  | { kind: 'time'; from: string; by: number; reason: PersonalReason }
  | { kind: 'place'; from: string; by: number; reason: string };

export interface DialoguePlan {
  /** speakers[i] is #Person{i+1}#; 2 or 3 of them. */
  speakers: Person[];
  activity: Activity;
  /** Where they meet in the end: "the library" or "Ben's flat". */
  place: string;
  /** Speaker index of the host when they meet at someone's flat. */
  host?: number;
  day: string;
  /** When they meet in the end: "5 pm". */
  time: string;
  change?: PlanChange;
  bring?: { by: number; item: string };
  /** The third speaker who cannot come, and why. */
  declined?: { by: number; reason: PersonalReason };
}

export interface PlanOptions {
  /** Probability of a third speaker (default 0.35). */
  threeSpeakers?: number;
  /** Probability that the time or the place changes during the talk (default 0.45). */
  change?: number;
  /** Probability that someone brings something, when the activity has items (default 0.5). */
  bring?: number;
}

function drawTime(random: SeededRandom, activity: Activity, avoid?: string): string {
  const [first, last] = activity.hours ?? [FIRST_HOUR, LAST_HOUR];
  for (;;) {
    const time = formatTime(first + random.nextInt(last - first + 1), chance(random, 0.25) ? 30 : 0);
    if (time !== avoid) return time;
  }
}

export function drawPlan(random: SeededRandom, options: PlanOptions = {}): DialoguePlan {
  const speakerCount = chance(random, options.threeSpeakers ?? 0.35) ? 3 : 2;
  const speakers = pickDistinct(random, PEOPLE, speakerCount);
  const activity = pick(random, ACTIVITIES);
  const day = pick(random, DAYS);
  const plan: DialoguePlan = { speakers, activity, place: '', day, time: drawTime(random, activity) };
  if (speakerCount === 3 && chance(random, 0.4)) plan.declined = { by: 2, reason: pick(random, PERSONAL_REASONS) };
  const attendees = speakers.map((_, index) => index).filter((index) => index !== plan.declined?.by);

  const venue = pick(random, activity.places);
  if (venue.kind === 'home') {
    plan.host = pick(random, attendees);
    plan.place = `${speakers[plan.host].name}'s flat`;
  } else {
    plan.place = `the ${venue.name}`;
  }

  if (chance(random, options.change ?? 0.45)) {
    const by = pick(random, attendees.filter((index) => index !== 0));
    const publicPlaces = activity.places.flatMap((place) => (place.kind === 'public' ? [`the ${place.name}`] : []));
    if (venue.kind === 'public' && publicPlaces.length > 1 && chance(random, 0.5)) {
      const from = plan.place;
      plan.place = pick(random, publicPlaces.filter((place) => place !== from));
      plan.change = { kind: 'place', from, by, reason: pick(random, PLACE_REASONS) };
    } else {
      const from = plan.time;
      plan.time = drawTime(random, activity, from);
      plan.change = { kind: 'time', from, by, reason: pick(random, PERSONAL_REASONS) };
    }
  }

  if (activity.items.length > 0 && chance(random, options.bring ?? 0.5)) plan.bring = { by: pick(random, attendees), item: pick(random, activity.items) };
  return plan;
}
