import { nearestTokens, TunekitError } from '../index.js';
import { flagBoolean, flagNumber, noExtraPositionals, parseArgs, requireFlag } from './args.js';
import { ADAPTER_FLAG_HELP, ADAPTER_FLAGS, adapterFromFlags, loadModelFromFlags, MODEL_FLAGS, MODEL_FLAGS_HELP } from './model-options.js';
import type { Verb } from './verb.js';

export const inspectVerb: Verb = {
  name: 'inspect',
  summary: 'inspect an adapter (soft-prompt: nearest vocabulary tokens of each virtual token)',
  help: [
    'usage: tunekit inspect soft-prompt --adapter DIR --model ID|DIR [--top-k K] [--json]',
    '',
    'For each virtual token of a prompt-tuning adapter, lists the K vocabulary tokens whose input embeddings',
    'are nearest by cosine similarity.',
    ...MODEL_FLAGS_HELP,
    ADAPTER_FLAG_HELP,
    '  --top-k K          neighbours per virtual token (default 5)',
    '  --json             one JSON object per virtual token',
  ].join('\n'),
  async run(argv) {
    const args = parseArgs(argv, { ...MODEL_FLAGS, ...ADAPTER_FLAGS, 'top-k': 'value', json: 'switch' });
    noExtraPositionals(args, 1);
    const what = args.positional[0];
    if (what !== 'soft-prompt') throw new TunekitError('E_FLAG', `inspect what? expected "soft-prompt", got ${what === undefined ? 'nothing' : `"${what}"`}`);
    requireFlag(args, 'adapter', 'DIR');
    const loaded = await loadModelFromFlags(args, { json: flagBoolean(args, 'json') });
    const { model, tokenizer } = loaded;
    const peft = await adapterFromFlags(args, loaded);
    if (peft === null) return 1;
    const config = peft.adapterConfig('default');
    if (config.peftType !== 'PROMPT_TUNING') throw new TunekitError('E_ADAPTER', `the adapter is ${config.peftType}, not a soft prompt (PROMPT_TUNING)`);
    const prompt = peft.promptEncoder.get('default')?.embedding.weight;
    if (prompt === undefined) return 1;
    const vocabulary = model.namedParameters().find(([name]) => /(embed_tokens|shared|wte)\.weight$/.test(name))?.[1];
    if (vocabulary === undefined) throw new TunekitError('E_MODEL', 'the model has no token embedding to compare with');
    const neighbours = nearestTokens(prompt, vocabulary, flagNumber(args, 'top-k', { integer: true, min: 1 }) ?? 5);
    neighbours.forEach((row, index) => {
      const entries = row.map(({ id, similarity }) => ({ id, token: tokenizer?.idToToken(id) ?? null, similarity: Number(similarity.toFixed(4)) }));
      if (flagBoolean(args, 'json')) console.log(JSON.stringify({ virtualToken: index, used: index < config.numVirtualTokens, nearest: entries }));
      else console.log(`${String(index).padStart(3)}${index < config.numVirtualTokens ? ' ' : '*'} ${entries.map((e) => `${e.token ?? e.id} (${e.similarity.toFixed(3)})`).join('  ')}`);
    });
    if (!flagBoolean(args, 'json') && neighbours.length > config.numVirtualTokens) console.log('* saved but not prepended (rows of the second transformer submodule)');
    peft.dispose();
    return 0;
  },
};
