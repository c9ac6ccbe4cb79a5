export { generate, type GenerationResult } from './generate.js';
export { type GenerationOptions, generationOptionsFromConfig, resolveGenerationOptions } from './options.js';
export { openSession, type DecodingSession, type SessionInputs } from './session.js';
export { BeamHypotheses } from './beam-hypotheses.js';
export { padRows, type PaddedBatch } from './padding.js';
