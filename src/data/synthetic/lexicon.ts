// The small world the synthetic data talks about: people, activities with the places they happen in, days, times,
// reasons for changing a plan and things to bring. Every generated sentence draws its content words from here.

export interface Person {
  name: string;
  /** Subject pronoun used in stories ("she", "he"). */
  pronoun: 'she' | 'he';
}

export const PEOPLE: readonly Person[] = [
  ...['Anna', 'Dana', 'Emma', 'Grace', 'Iris', 'Kate', 'Maya', 'Olga', 'Rosa', 'Tina', 'Wendy', 'Zoe', 'Lena'].map((name): Person => ({ name, pronoun: 'she' })),
  ...['Ben', 'Carl', 'Felix', 'Hugo', 'Jack', 'Leo', 'Nick', 'Paul', 'Sam', 'Victor', 'Omar', 'Marco', 'Yusuf'].map((name): Person => ({ name, pronoun: 'he' })),
];

/** A place as a noun phrase without its preposition: "the library", or a person's home filled in later. */
export type Place = { kind: 'public'; name: string } | { kind: 'home' };

export interface Activity {
  /** Infinitive phrase: "study for the exam" (read as "to study for the exam"). */
  infinitive: string;
  /** Past-tense phrase for stories: "studied for the exam". */
  past: string;
  places: readonly Place[];
  /** Things one of the people may offer to bring. */
  items: readonly string[];
  /** First and last starting hour when the activity has its own (meals); else FIRST_HOUR..LAST_HOUR. */
  hours?: readonly [number, number];
}

const at = (...names: string[]): Place[] => names.map((name): Place => ({ kind: 'public', name }));
const HOME: Place = { kind: 'home' };

export const ACTIVITIES: readonly Activity[] = [
  { infinitive: 'study for the exam', past: 'studied for the exam', places: [...at('library', 'cafe', 'study room'), HOME], items: ['the notes', 'the textbook', 'some snacks'] },
  { infinitive: 'play tennis', past: 'played tennis', places: at('park', 'sports centre'), items: ['the rackets', 'some balls', 'water'] },
  { infinitive: 'have lunch', past: 'had lunch', places: at('cafe', 'noodle bar', 'Italian restaurant'), items: [], hours: [11, 14] },
  { infinitive: 'have dinner', past: 'had dinner', places: [...at('noodle bar', 'Italian restaurant'), HOME], items: ['a cake', 'some bread', 'the dessert'], hours: [18, 20] },
  { infinitive: 'watch a film', past: 'watched a film', places: [...at('cinema'), HOME], items: ['some popcorn', 'the tickets'] },
  { infinitive: 'go for a run', past: 'went for a run', places: at('park', 'river path'), items: ['water'] },
  { infinitive: 'work on the project', past: 'worked on the project', places: [...at('library', 'office', 'study room'), HOME], items: ['the laptop', 'the notes', 'the charger'] },
  { infinitive: 'play chess', past: 'played chess', places: [...at('cafe', 'club'), HOME], items: ['the chess board', 'some snacks'] },
  { infinitive: 'go shopping', past: 'went shopping', places: at('market', 'mall'), items: ['some bags', 'the list'] },
  { infinitive: 'go swimming', past: 'went swimming', places: at('pool', 'lake'), items: ['the towels'] },
  { infinitive: 'see the new exhibition', past: 'saw the new exhibition', places: at('museum', 'gallery'), items: ['the tickets'] },
  { infinitive: 'practise the songs', past: 'practised the songs', places: [...at('music room', 'club'), HOME], items: ['the guitar', 'the songbook'] },
  { infinitive: 'bake a cake', past: 'baked a cake', places: [HOME], items: ['the flour', 'some eggs', 'the recipe'] },
  { infinitive: 'plan the trip', past: 'planned the trip', places: [...at('cafe', 'library'), HOME], items: ['the map', 'the laptop'] },
];

export const DAYS: readonly string[] = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

/** A reason a person gives in the first person ("I have a dentist appointment") and is reported with in the third. */
export interface PersonalReason {
  first: string;
  third: string;
  past: string;
  rest: string;
}

export const PERSONAL_REASONS: readonly PersonalReason[] = [
  { first: 'have', third: 'has', past: 'had', rest: 'a dentist appointment' },
  { first: 'have', third: 'has', past: 'had', rest: 'to work late' },
  { first: 'have', third: 'has', past: 'had', rest: 'a class until then' },
  { first: 'have', third: 'has', past: 'had', rest: 'football practice' },
  { first: 'have', third: 'has', past: 'had', rest: 'a train to catch' },
  { first: 'have', third: 'has', past: 'had', rest: 'to pick up a cousin' },
  { first: 'am', third: 'is', past: 'was', rest: 'helping a friend move' },
  { first: 'am', third: 'is', past: 'was', rest: 'visiting a grandmother' },
  { first: 'am', third: 'is', past: 'was', rest: 'waiting for a delivery' },
  { first: 'need', third: 'needs', past: 'needed', rest: 'to finish an essay' },
];

/** Why a place does not work, said about the place itself in the present and the past: "the pool is closed for repairs". */
export const PLACE_REASONS: readonly string[] = ['is closed for repairs', 'is too crowded at the weekend', 'is too far away', 'is being cleaned that day', 'is fully booked'];

/** The past tense of a place reason: "is closed" -> "was closed". */
export function placeReasonPast(reason: string): string {
  return reason.replace(/^is /, 'was ');
}

/** Hours of the day a plan can start at (24-hour clock), and whether half past is allowed. */
export const FIRST_HOUR = 8;
export const LAST_HOUR = 20;

/** "9 am", "12 pm", "5:30 pm". */
export function formatTime(hour: number, minute: 0 | 30): string {
  const suffix = hour < 12 ? 'am' : 'pm';
  const twelve = hour % 12 === 0 ? 12 : hour % 12;
  return `${twelve}${minute === 30 ? ':30' : ''} ${suffix}`;
}
