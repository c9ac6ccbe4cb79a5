import { TunekitError } from '../errors.js';
import { generate } from '../generate/index.js';
import type { GenerationOptions } from '../generate/options.js';
import { modelSource } from '../models/load.js';
import { flagBoolean, flagNumber, flagString, parseArgs, type ParsedArgs } from './args.js';
import { adapterFromFlags, ADAPTER_FLAG_HELP } from './adapter-options.js';
import { loadModelFromFlags, MODEL_FLAGS_HELP } from './model-options.js';
import type { Verb } from './verb.js';

function parseIds(text: string): number[] {
  const ids = text.split(',').map((part) => Number(part.trim()));
  if (ids.length === 0 || ids.some((id) => !Number.isInteger(id) || id < 0)) {
    throw new TunekitError('E_FLAG', `--prompt-ids expects comma-separated token ids like 1,2,3; got "${text}"`);
  }
  return ids;
}

function numberSetting(config: Record<string, unknown> | undefined, key: string): number | undefined {
  const value = config?.[key];
  return typeof value === 'number' ? value : undefined;
}

/** generation_config.json defaults, overridden by flags. */
function generationOptions(args: ParsedArgs, defaults: Record<string, unknown> | undefined): GenerationOptions {
  const optional = (flag: string, key: string): number | undefined => (args.flags.has(flag) ? flagNumber(args, flag, 0) : numberSetting(defaults, key));
  const eos = defaults?.eos_token_id;
  const temperature = optional('temperature', 'temperature');
  const sampleFlag = args.flags.has('temperature') || args.flags.has('top-p') || args.flags.has('top-k') || flagBoolean(args, 'sample');
  return {
    maxNewTokens: optional('max-new-tokens', 'max_new_tokens') ?? 20,
    numBeams: optional('num-beams', 'num_beams'),
    numReturnSequences: optional('num-return-sequences', 'num_return_sequences'),
    lengthPenalty: optional('length-penalty', 'length_penalty'),
    repetitionPenalty: optional('repetition-penalty', 'repetition_penalty'),
    doSample: sampleFlag || defaults?.do_sample === true,
    temperature,
    topP: optional('top-p', 'top_p'),
    topK: optional('top-k', 'top_k'),
    seed: args.flags.has('seed') ? flagNumber(args, 'seed', 0) : undefined,
    eosTokenIds: typeof eos === 'number' ? [eos] : Array.isArray(eos) ? (eos as number[]) : undefined,
    padTokenId: numberSetting(defaults, 'pad_token_id'),
  };
}

export const generateVerb: Verb = {
  name: 'generate',
  summary: 'generate text from a prompt with a model folder or hub id',
  help: [
    'usage: tunekit generate --model ID|DIR (--prompt TEXT | --prompt-ids 1,2,3) [options]',
    '',
    'Greedy decoding by default; beam search with --num-beams; sampling with --temperature/--top-p/--top-k.',
    ...MODEL_FLAGS_HELP,
    ADAPTER_FLAG_HELP,
    '  --prompt TEXT            the prompt (needs tokenizer.json in the model folder)',
    '  --prompt-ids 1,2,3       the prompt as token ids (works without a tokenizer); used exactly as given',
    '  --chat                   wrap --prompt as a user message with the model\'s chat template',
    '  --max-new-tokens N       tokens to generate (default: generation_config.json, else 20)',
    '  --num-beams K            beam search with K beams',
    '  --num-return-sequences N sequences to return (beam search or sampling)',
    '  --length-penalty L       beam score = log-prob / length^L (default 1)',
    '  --repetition-penalty R   penalize tokens already present (transformers semantics)',
    '  --temperature T --top-p P --top-k K --seed S   sampling settings (any of them turns sampling on)',
    '  --json                   print {"ids": [...], "text": "..."}; ids as transformers\' generate returns them',
  ].join('\n'),
  async run(argv) {
    const args = parseArgs(argv, new Set(['json', 'chat', 'sample']));
    const json = flagBoolean(args, 'json');
    const promptText = flagString(args, 'prompt');
    const promptIds = flagString(args, 'prompt-ids');
    if ((promptText === undefined) === (promptIds === undefined)) throw new TunekitError('E_FLAG', 'give exactly one of --prompt TEXT or --prompt-ids 1,2,3');
    const { model, tokenizer } = await loadModelFromFlags(args, { json });
    const peft = await adapterFromFlags(args, model);
    const run = (inputs: { inputIds: number[][] }, options: GenerationOptions) => (peft === null ? generate(model, inputs, options) : peft.generate(inputs, options));
    try {
      let ids: number[];
      if (promptIds !== undefined) ids = parseIds(promptIds);
      else {
        if (tokenizer === null) throw new TunekitError('E_NO_TOKENIZER', 'this model folder has no tokenizer.json: pass --prompt-ids instead of --prompt');
        if (flagBoolean(args, 'chat')) ids = tokenizer.applyChatTemplate([{ role: 'user', content: promptText as string }], { addGenerationPrompt: true, tokenize: true }) as number[];
        else ids = tokenizer.encode(promptText as string);
      }
      const options = generationOptions(args, modelSource(model)?.generationConfig);
      if (options.eosTokenIds === undefined && tokenizer !== null && tokenizer.stopTokenIds.length > 0) options.eosTokenIds = tokenizer.stopTokenIds;
      const prefix = model.kind === 'causal' ? ids.length : 1;
      const streaming = !json && tokenizer !== null && (options.numBeams ?? 1) === 1 && (options.numReturnSequences ?? 1) === 1;
      if (streaming && tokenizer !== null) {
        const stream = tokenizer.decodeStream({ skipSpecialTokens: true, promptIds: model.kind === 'causal' ? ids : undefined });
        if (model.kind === 'causal') process.stdout.write(tokenizer.decode(ids, { skipSpecialTokens: true }));
        options.onTokens = (tokens) => process.stdout.write(stream.step(tokens[0]));
        run({ inputIds: [ids] }, options);
        process.stdout.write(stream.flush() + '\n');
        return 0;
      }
      const result = run({ inputIds: [ids] }, options);
      result.sequences.forEach((sequence, i) => {
        const record: Record<string, unknown> = { ids: sequence };
        if (tokenizer !== null) record.text = tokenizer.decode(model.kind === 'causal' ? sequence : sequence.slice(prefix), { skipSpecialTokens: true });
        if (result.sequenceScores !== undefined) record.score = result.sequenceScores[i];
        if (json) console.log(JSON.stringify(record));
        else console.log(record.text ?? sequence.join(','));
      });
      return 0;
    } finally {
      model.dispose();
    }
  },
};
