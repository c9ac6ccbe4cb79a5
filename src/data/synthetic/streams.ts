/** Random streams of one seed, so the task records, the pre-training text and the base task never coincide. */
export const SYNTHETIC_STREAMS = { taskDialogues: 101, pretrainingDialogues: 102, stories: 103, pretrainingMix: 104, continuations: 105 } as const;
