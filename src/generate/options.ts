import { TunekitError } from '../errors.js';

/** Decoding settings, named as transformers' GenerationConfig (camelCase). */
export interface GenerationOptions {
  maxNewTokens?: number;
  /** Stop before the sequence (prompt included; T5: decoder prefix included) exceeds this length. */
  maxLength?: number;
  minNewTokens?: number;
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  seed?: number;
  numBeams?: number;
  lengthPenalty?: number;
  /** true: stop a batch item as soon as numBeams hypotheses are done; false: stop when none can improve. */
  earlyStopping?: boolean;
  numReturnSequences?: number;
  eosTokenIds?: number[];
  padTokenId?: number;
  /** Called after each step with the new token of every row (streaming). */
  onTokens?: (tokens: number[]) => void;
  /** Stops a row when its decoded continuation ends with one of these strings (needs `decode`). */
  stopStrings?: string[];
  decode?: (ids: number[]) => string;
}

export interface ResolvedGenerationOptions extends Required<Omit<GenerationOptions, 'onTokens' | 'stopStrings' | 'decode' | 'seed' | 'maxLength'>> {
  maxLength?: number;
  seed?: number;
  onTokens?: (tokens: number[]) => void;
  stopStrings: string[];
  decode?: (ids: number[]) => string;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new TunekitError('E_GENERATION', `${name} must be a positive integer, got ${value}`);
  return value;
}

/** Fills defaults (transformers' GenerationConfig defaults) and validates. */
export function resolveGenerationOptions(options: GenerationOptions, modelDefaults: { eosTokenIds: number[]; padTokenId: number | null }): ResolvedGenerationOptions {
  const numBeams = positiveInteger(options.numBeams ?? 1, 'numBeams');
  const numReturnSequences = positiveInteger(options.numReturnSequences ?? 1, 'numReturnSequences');
  if (numReturnSequences > numBeams && !options.doSample) {
    throw new TunekitError('E_GENERATION', `numReturnSequences (${numReturnSequences}) cannot exceed numBeams (${numBeams}) without sampling`);
  }
  if (options.stopStrings !== undefined && options.stopStrings.length > 0 && options.decode === undefined) {
    throw new TunekitError('E_GENERATION', 'stopStrings need a tokenizer to decode with');
  }
  const temperature = options.temperature ?? 1;
  if (!(temperature > 0)) throw new TunekitError('E_GENERATION', `temperature must be > 0, got ${temperature}`);
  const topP = options.topP ?? 1;
  if (!(topP > 0 && topP <= 1)) throw new TunekitError('E_GENERATION', `topP must be in (0, 1], got ${topP}`);
  const eosTokenIds = options.eosTokenIds ?? modelDefaults.eosTokenIds;
  return {
    maxNewTokens: positiveInteger(options.maxNewTokens ?? 20, 'maxNewTokens'),
    maxLength: options.maxLength,
    minNewTokens: options.minNewTokens ?? 0,
    doSample: options.doSample ?? false,
    temperature,
    topK: options.topK ?? 0,
    topP,
    repetitionPenalty: options.repetitionPenalty ?? 1,
    seed: options.seed,
    numBeams,
    lengthPenalty: options.lengthPenalty ?? 1,
    earlyStopping: options.earlyStopping ?? false,
    numReturnSequences,
    eosTokenIds,
    padTokenId: options.padTokenId ?? modelDefaults.padTokenId ?? eosTokenIds[0] ?? 0,
    onTokens: options.onTokens,
    stopStrings: options.stopStrings ?? [],
    decode: options.decode,
  };
}

/** The generation_config.json keys that set decoding defaults, and their GenerationOptions names. */
const CONFIG_KEYS: [string, keyof GenerationOptions][] = [
  ['max_new_tokens', 'maxNewTokens'],
  ['num_beams', 'numBeams'],
  ['num_return_sequences', 'numReturnSequences'],
  ['length_penalty', 'lengthPenalty'],
  ['repetition_penalty', 'repetitionPenalty'],
  ['temperature', 'temperature'],
  ['top_p', 'topP'],
  ['top_k', 'topK'],
  ['pad_token_id', 'padTokenId'],
];

/** Decoding defaults from a model's generation_config.json, as transformers' GenerationConfig reads them. */
export function generationOptionsFromConfig(config: Record<string, unknown> | null | undefined): GenerationOptions {
  const options: GenerationOptions = {};
  if (config === null || config === undefined) return options;
  for (const [key, name] of CONFIG_KEYS) {
    const value = config[key];
    if (typeof value === 'number') (options as Record<string, unknown>)[name] = value;
  }
  if (config.do_sample === true) options.doSample = true;
  const eos = config.eos_token_id;
  if (typeof eos === 'number') options.eosTokenIds = [eos];
  else if (Array.isArray(eos) && eos.every((id) => typeof id === 'number')) options.eosTokenIds = eos as number[];
  return options;
}
