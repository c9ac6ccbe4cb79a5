import { generate, type GenerationOptions, generationOptionsFromConfig, TunekitError } from '../index.js';
import { flagBoolean, flagNumber, flagString, noExtraPositionals, parseArgs, type ParsedArgs } from './args.js';
import { ADAPTER_FLAG_HELP, ADAPTER_FLAGS, adapterFromFlags, loadModelFromFlags, MODEL_FLAGS, MODEL_FLAGS_HELP } from './model-options.js';
import type { Verb } from './verb.js';

const FLAGS = {
  ...MODEL_FLAGS,
  ...ADAPTER_FLAGS,
  prompt: 'value',
  'prompt-ids': 'value',
  chat: 'switch',
  'max-new-tokens': 'value',
  'num-beams': 'value',
  'num-return-sequences': 'value',
  'length-penalty': 'value',
  'repetition-penalty': 'value',
  sample: 'switch',
  temperature: 'value',
  'top-p': 'value',
  'top-k': 'value',
  seed: 'value',
  json: 'switch',
} as const;

/** Comma-separated decimal token ids: no empty items, signs, hex or exponents. */
function parseIds(text: string): number[] {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.some((part) => !/^\d+$/.test(part)) || parts.some((part) => !Number.isSafeInteger(Number(part)))) {
    throw new TunekitError('E_FLAG', `--prompt-ids expects comma-separated decimal token ids like 1,2,3; got "${text}"`);
  }
  return parts.map(Number);
}

/** generation_config.json defaults, overridden by flags. */
function generationOptions(args: ParsedArgs, defaults: GenerationOptions): GenerationOptions {
  const sampleFlag = args.flags.has('temperature') || args.flags.has('top-p') || args.flags.has('top-k') || flagBoolean(args, 'sample');
  const options: GenerationOptions = {
    ...defaults,
    maxNewTokens: flagNumber(args, 'max-new-tokens', { integer: true, min: 1, max: 1_000_000 }) ?? defaults.maxNewTokens ?? 20,
    numBeams: flagNumber(args, 'num-beams', { integer: true, min: 1, max: 256 }) ?? defaults.numBeams,
    numReturnSequences: flagNumber(args, 'num-return-sequences', { integer: true, min: 1, max: 256 }) ?? defaults.numReturnSequences,
    lengthPenalty: flagNumber(args, 'length-penalty') ?? defaults.lengthPenalty,
    repetitionPenalty: flagNumber(args, 'repetition-penalty', { min: 0, exclusiveMin: true }) ?? defaults.repetitionPenalty,
    doSample: sampleFlag || defaults.doSample === true,
    temperature: flagNumber(args, 'temperature', { min: 0, exclusiveMin: true }) ?? defaults.temperature,
    topP: flagNumber(args, 'top-p', { min: 0, exclusiveMin: true, max: 1 }) ?? defaults.topP,
    topK: flagNumber(args, 'top-k', { integer: true, min: 0 }) ?? defaults.topK,
    seed: flagNumber(args, 'seed', { integer: true, min: 0 }),
  };
  if (!options.doSample && (options.numReturnSequences ?? 1) > (options.numBeams ?? 1)) {
    throw new TunekitError('E_FLAG', `--num-return-sequences (${options.numReturnSequences}) cannot exceed --num-beams (${options.numBeams ?? 1}) without sampling`);
  }
  return options;
}

export const generateVerb: Verb = {
  name: 'generate',
  summary: 'generate text from a prompt with a model folder or hub id',
  help: [
    'usage: tunekit generate --model ID|DIR (--prompt TEXT | --prompt-ids 1,2,3) [options]',
    '',
    'Greedy decoding by default; beam search with --num-beams; sampling with --sample or --temperature/--top-p/--top-k.',
    ...MODEL_FLAGS_HELP,
    ADAPTER_FLAG_HELP,
    '  --prompt TEXT            the prompt (needs tokenizer.json in the model folder)',
    '  --prompt-ids 1,2,3       the prompt as token ids (works without a tokenizer); used exactly as given',
    '  --chat                   wrap --prompt as a user message with the model\'s chat template',
    '  --max-new-tokens N       tokens to generate (default: generation_config.json, else 20)',
    '  --num-beams K            beam search with K beams',
    '  --num-return-sequences N sequences to return (beam search or sampling)',
    '  --length-penalty L       beam score = log-prob / length^L (default 1)',
    '  --repetition-penalty R   penalize tokens already present (transformers semantics; R > 0)',
    '  --sample                 sample instead of greedy decoding',
    '  --temperature T --top-p P --top-k K   sampling settings (any of them turns sampling on)',
    '  --seed S                 seed for sampling (alone it does not turn sampling on)',
    '  --json                   print {"ids": [...], "text": "..."}; ids as transformers\' generate returns them',
  ].join('\n'),
  async run(argv) {
    const args = parseArgs(argv, FLAGS);
    noExtraPositionals(args);
    const json = flagBoolean(args, 'json');
    const promptText = flagString(args, 'prompt');
    const promptIds = flagString(args, 'prompt-ids');
    if ((promptText === undefined) === (promptIds === undefined)) throw new TunekitError('E_FLAG', 'give exactly one of --prompt TEXT or --prompt-ids 1,2,3');
    const ids0 = promptIds === undefined ? undefined : parseIds(promptIds);
    const loaded = await loadModelFromFlags(args, { json });
    const { tokenizer } = loaded;
    try {
      const peft = await adapterFromFlags(args, loaded);
      const model = peft ?? loaded.model;
      let ids: number[];
      if (ids0 !== undefined) ids = ids0;
      else {
        if (tokenizer === null) throw new TunekitError('E_NO_TOKENIZER', 'this model folder has no tokenizer.json: pass --prompt-ids instead of --prompt');
        if (flagBoolean(args, 'chat')) ids = tokenizer.applyChatTemplate([{ role: 'user', content: promptText as string }], { addGenerationPrompt: true, tokenize: true }) as number[];
        else ids = tokenizer.encode(promptText as string);
      }
      const options = generationOptions(args, generationOptionsFromConfig(loaded.generationConfig));
      if (options.eosTokenIds === undefined && tokenizer !== null && tokenizer.stopTokenIds.length > 0) options.eosTokenIds = tokenizer.stopTokenIds;
      const prefix = model.kind === 'causal' ? ids.length : 1;
      const streaming = !json && tokenizer !== null && (options.numBeams ?? 1) === 1 && (options.numReturnSequences ?? 1) === 1;
      if (streaming && tokenizer !== null) {
        const stream = tokenizer.decodeStream({ skipSpecialTokens: true, promptIds: model.kind === 'causal' ? ids : undefined });
        if (model.kind === 'causal') process.stdout.write(tokenizer.decode(ids, { skipSpecialTokens: true }));
        options.onTokens = (tokens) => process.stdout.write(stream.step(tokens[0]));
        generate(model, { inputIds: [ids] }, options);
        process.stdout.write(stream.flush() + '\n');
        return 0;
      }
      const result = generate(model, { inputIds: [ids] }, options);
      result.sequences.forEach((sequence, i) => {
        const record: Record<string, unknown> = { ids: sequence };
        if (tokenizer !== null) record.text = tokenizer.decode(model.kind === 'causal' ? sequence : sequence.slice(prefix), { skipSpecialTokens: true });
        if (result.sequenceScores !== undefined) record.score = result.sequenceScores[i];
        if (json) console.log(JSON.stringify(record));
        else console.log(record.text ?? sequence.join(','));
      });
      return 0;
    } finally {
      loaded.model.dispose();
    }
  },
};
