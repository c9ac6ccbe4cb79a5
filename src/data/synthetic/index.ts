// Data tunekit generates itself (for `tunekit demo`): seeded planning dialogues with rule-written summaries, stories
// for pre-training a tiny base model, a continuation base task, and a word-level tokenizer for that vocabulary.
export { syntheticDialogues, syntheticDialogueWithPlan, type SyntheticDialogue, type SyntheticDialogueWithPlan } from './dialogues.js';
export { drawPlan, type DialoguePlan, type PlanChange, type PlanOptions } from './plan.js';
export { formatTurns, writeTurns, type Turn } from './dialogue-text.js';
export { writeSummary } from './summary.js';
export { syntheticContinuations, syntheticStory, type SyntheticStory } from './stories.js';
export { syntheticPretrainingText, syntheticPretrainingTexts, type PretrainingOptions } from './pretraining.js';
export { SYNTHETIC_STREAMS } from './streams.js';
export { ACTIVITIES, DAYS, PEOPLE, PERSONAL_REASONS, PLACE_REASONS, type Activity, type Person, type PersonalReason, type Place } from './lexicon.js';
export { syntheticTokenizerCorpus, summarizeTemplateTexts, type SyntheticCorpusSizes } from './corpus.js';
export { buildWordTokenizer, WORD_TOKENIZER_SPECIALS, wordPieces, writeWordTokenizer, type WordTokenizerFiles, type WordTokenizerOptions } from './tokenizer-builder.js';
