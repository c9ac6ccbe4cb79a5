// Writes a planning conversation from its slots, one dialogue act at a time, each act in one of several wordings.
import type { SeededRandom } from '../random.js';
import { chance, pick } from './choose.js';
import type { DialoguePlan } from './plan.js';

export interface Turn {
  speaker: number;
  text: string;
}

type Wording<T> = (slots: T) => string;

function say<T>(random: SeededRandom, wordings: readonly Wording<T>[], slots: T): string {
  return pick(random, wordings)(slots);
}

// Each greeting with the replies that answer it.
const GREETINGS: [Wording<{ to: string }>, Wording<{ to: string }>[]][] = [
  [({ to }) => `Hi ${to}!`, [({ to }) => `Hi ${to}.`, ({ to }) => `Oh, hello ${to}.`]],
  [({ to }) => `Hey ${to}, how are you?`, [({ to }) => `Hey ${to}, I'm good, thanks.`, ({ to }) => `Fine, thanks, ${to}. And you?`]],
  [({ to }) => `Hello ${to}, do you have a minute?`, [({ to }) => `Sure, ${to}. What's up?`, ({ to }) => `Of course, ${to}.`]],
  [({ to }) => `Good morning, ${to}!`, [({ to }) => `Morning, ${to}! What is it?`, ({ to }) => `Good morning, ${to}.`]],
  [({ to }) => `${to}, there you are.`, [({ to }) => `Here I am, ${to}.`, ({ to }) => `Oh, hi ${to}.`]],
];
const PROPOSALS: Wording<{ act: string; day: string }>[] = [
  ({ act, day }) => `Do you want to ${act} on ${day}?`,
  ({ act, day }) => `Shall we ${act} on ${day}?`,
  ({ act, day }) => `Are you free on ${day}? We could ${act}.`,
  ({ act, day }) => `I was thinking we could ${act} on ${day}.`,
  ({ act, day }) => `How about we ${act} together on ${day}?`,
  ({ act, day }) => `Would you like to ${act} with me on ${day}?`,
];
const ACCEPTS: Wording<{ day: string }>[] = [
  () => 'Sure, that sounds good.',
  () => "Yes, I'd love to.",
  ({ day }) => `Good idea. I'm free on ${day}.`,
  () => 'That works for me.',
  () => "Why not? I haven't done that in a while.",
  ({ day }) => `${day} is fine with me.`,
];
const INVITES: Wording<{ to: string }>[] = [
  ({ to }) => `What about you, ${to}? Do you want to come?`,
  ({ to }) => `${to}, are you in?`,
  ({ to }) => `Will you join us, ${to}?`,
];
const JOINS: Wording<object>[] = [() => 'Count me in.', () => "Sure, I'd love to come.", () => 'Yes, I will be there.'];
const DECLINES: Wording<{ verb: string; rest: string }>[] = [
  ({ verb, rest }) => `Sorry, I can't. I ${verb} ${rest}.`,
  ({ verb, rest }) => `I wish I could, but I ${verb} ${rest}.`,
  ({ verb, rest }) => `Not this time, I ${verb} ${rest}.`,
];
const DECLINE_REPLIES: Wording<object>[] = [() => 'Oh, too bad. Next time then.', () => 'No worries.', () => "That's a pity."];
const WHERE: Wording<object>[] = [() => 'Where should we meet?', () => 'Where do you want to go?', () => 'Any idea where?', () => 'Where shall we do it?'];
const PLACE_SUGGESTIONS: Wording<{ place: string }>[] = [
  ({ place }) => `What about ${place}?`,
  ({ place }) => `Let's meet at ${place}.`,
  ({ place }) => `${capitalize(place)} is a good spot.`,
  ({ place }) => `I'd say ${place}.`,
];
const HOST_OFFERS: Wording<object>[] = [() => 'We could do it at my flat.', () => 'Come over to my flat.', () => 'My flat is free, we can go there.'];
const HOST_REQUESTS: Wording<{ host: string }>[] = [
  ({ host }) => `What about your flat, ${host}?`,
  ({ host }) => `Can we do it at your place, ${host}?`,
];
const HOST_AGREES: Wording<object>[] = [() => 'Sure, my flat works.', () => 'Of course, come over.', () => 'Fine, my place it is.'];
const OKAYS: Wording<object>[] = [() => 'Okay.', () => 'Great.', () => 'Perfect.', () => 'Sounds good.', () => 'Fine by me.'];
const WHEN: Wording<object>[] = [() => 'What time?', () => 'When suits you?', () => 'What time works for you?', () => 'At what time?'];
const TIME_SUGGESTIONS: Wording<{ time: string }>[] = [
  ({ time }) => `How about ${time}?`,
  ({ time }) => `Is ${time} okay?`,
  ({ time }) => `Let's say ${time}.`,
  ({ time }) => `${time} would be perfect.`,
];
const TIME_CHANGES: Wording<{ from: string; to: string; verb: string; rest: string }>[] = [
  ({ from, to, verb, rest }) => `${from} is hard for me, I ${verb} ${rest}. Can we make it ${to}?`,
  ({ to, verb, rest }) => `Actually, I ${verb} ${rest}. Could we do ${to} instead?`,
  ({ from, to, verb, rest }) => `Hmm, not ${from}. I ${verb} ${rest}. What about ${to}?`,
];
const TIME_CHANGE_REPLIES: Wording<{ to: string }>[] = [
  ({ to }) => `No problem, ${to} then.`,
  ({ to }) => `Sure, ${to} is fine.`,
  ({ to }) => `Okay, let's do ${to}.`,
];
const PLACE_CHANGES: Wording<{ from: string; to: string; reason: string }>[] = [
  ({ from, to, reason }) => `Actually, ${from} ${reason}. Let's go to ${to} instead.`,
  ({ from, to, reason }) => `I heard ${from} ${reason}. How about ${to}?`,
  ({ from, to, reason }) => `Wait, ${from} ${reason}. Maybe ${to}?`,
];
const PLACE_CHANGE_REPLIES: Wording<{ to: string }>[] = [
  ({ to }) => `Good idea, ${to} it is.`,
  ({ to }) => `Fine, ${to} then.`,
  () => "Oh, I didn't know. Okay.",
];
const OFFERS: Wording<{ item: string }>[] = [({ item }) => `I'll bring ${item}.`, ({ item }) => `I can bring ${item}.`, ({ item }) => `Don't worry, I will bring ${item}.`];
const ASKS_WHAT_TO_BRING: Wording<object>[] = [() => 'Should I bring anything?', () => 'Do I need to bring something?'];
const TELLS_WHAT_TO_BRING: Wording<{ item: string }>[] = [({ item }) => `Yes, please bring ${item}.`, ({ item }) => `Maybe ${item}.`];
const REQUESTS_TO_BRING: Wording<{ item: string; to: string }>[] = [
  ({ item, to }) => `Can you bring ${item}, ${to}?`,
  ({ item, to }) => `${to}, could you bring ${item}?`,
];
const REQUEST_AGREES: Wording<object>[] = [() => 'Sure, I will.', () => 'Yes, no problem.', () => 'Of course.'];
const CLOSINGS: Wording<{ day: string }>[] = [
  ({ day }) => `Great, see you on ${day}!`,
  () => 'See you then.',
  () => 'Perfect. Bye!',
  ({ day }) => `Okay, ${day} it is. Bye!`,
];

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The turns of the conversation that `plan` describes, in order. */
export function writeTurns(plan: DialoguePlan, random: SeededRandom): Turn[] {
  const turns: Turn[] = [];
  const add = (speaker: number, text: string) => turns.push({ speaker, text });
  const name = (index: number) => plan.speakers[index].name;
  const attendees = plan.speakers.map((_, index) => index).filter((index) => index !== plan.declined?.by);
  const other = (index: number) => (index === 0 ? 1 : 0);
  // Someone among `candidates`, preferring not the person who just spoke.
  const anyoneBut = (candidates: number[]) => {
    const fresh = candidates.filter((index) => index !== turns[turns.length - 1]?.speaker);
    return pick(random, fresh.length > 0 ? fresh : candidates);
  };
  const act = plan.activity.infinitive;
  const day = plan.day;

  const [greeting, replies] = pick(random, GREETINGS);
  add(0, greeting({ to: name(1) }));
  add(1, say(random, replies, { to: name(0) }));
  add(0, say(random, PROPOSALS, { act, day }));
  add(1, say(random, ACCEPTS, { day }));
  if (plan.speakers.length === 3) {
    add(0, say(random, INVITES, { to: name(2) }));
    if (plan.declined) {
      add(2, say(random, DECLINES, { verb: plan.declined.reason.first, rest: plan.declined.reason.rest }));
      add(0, say(random, DECLINE_REPLIES, {}));
    } else {
      add(2, say(random, JOINS, {}));
    }
  }

  // Where: the first place named, then possibly a change of place.
  const asker = anyoneBut(attendees);
  add(asker, say(random, WHERE, {}));
  if (plan.host !== undefined) {
    if (plan.host !== asker && chance(random, 0.5)) {
      add(plan.host, say(random, HOST_OFFERS, {}));
      add(asker, say(random, OKAYS, {}));
    } else {
      const requester = plan.host === asker ? pick(random, attendees.filter((index) => index !== plan.host)) : asker;
      add(requester, say(random, HOST_REQUESTS, { host: name(plan.host) }));
      add(plan.host, say(random, HOST_AGREES, {}));
    }
  } else {
    const firstPlace = plan.change?.kind === 'place' ? plan.change.from : plan.place;
    const suggester = pick(random, attendees.filter((index) => index !== asker));
    add(suggester, say(random, PLACE_SUGGESTIONS, { place: firstPlace }));
    if (plan.change?.kind === 'place') {
      add(plan.change.by, say(random, PLACE_CHANGES, { from: plan.change.from, to: plan.place, reason: plan.change.reason }));
      add(plan.change.by === 0 ? 1 : 0, say(random, PLACE_CHANGE_REPLIES, { to: plan.place }));
    } else {
      add(asker, say(random, OKAYS, {}));
    }
  }

  // When: the first time named, then possibly a change of time by someone it does not suit.
  const lastSpeaker = turns[turns.length - 1].speaker;
  const timeSuggester = plan.change?.kind === 'time' ? other(plan.change.by) : attendees.includes(lastSpeaker) ? lastSpeaker : pick(random, attendees);
  add(anyoneBut(attendees.filter((index) => index !== timeSuggester)), say(random, WHEN, {}));
  if (plan.change?.kind === 'time') {
    add(timeSuggester, say(random, TIME_SUGGESTIONS, { time: plan.change.from }));
    const { from, by, reason } = plan.change;
    add(by, say(random, TIME_CHANGES, { from, to: plan.time, verb: reason.first, rest: reason.rest }));
    add(timeSuggester, say(random, TIME_CHANGE_REPLIES, { to: plan.time }));
  } else {
    add(timeSuggester, say(random, TIME_SUGGESTIONS, { time: plan.time }));
    add(other(timeSuggester), say(random, OKAYS, {}));
  }

  if (plan.bring) {
    const { by, item } = plan.bring;
    const style = turns[turns.length - 1].speaker === by ? 2 : random.nextInt(3);
    if (style === 0) add(by, say(random, OFFERS, { item }));
    else if (style === 1) {
      add(by, say(random, ASKS_WHAT_TO_BRING, {}));
      add(other(by), say(random, TELLS_WHAT_TO_BRING, { item }));
    } else {
      add(other(by), say(random, REQUESTS_TO_BRING, { item, to: name(by) }));
      add(by, say(random, REQUEST_AGREES, {}));
    }
  }
  add(turns[turns.length - 1].speaker === 0 ? 1 : 0, say(random, CLOSINGS, { day }));
  return mergeRuns(turns);
}

/** One turn for what a speaker says in a row: "Okay." then "What time?" becomes "Okay. What time?". */
function mergeRuns(turns: readonly Turn[]): Turn[] {
  const merged: Turn[] = [];
  for (const turn of turns) {
    const previous = merged[merged.length - 1];
    if (previous?.speaker === turn.speaker) previous.text = `${previous.text} ${turn.text}`;
    else merged.push({ ...turn });
  }
  return merged;
}

/** DialogSum's layout: one "#PersonN#: text" line per turn. */
export function formatTurns(turns: readonly Turn[]): string {
  return turns.map((turn) => `#Person${turn.speaker + 1}#: ${turn.text}`).join('\n');
}
