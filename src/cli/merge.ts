import { TunekitError } from '../errors.js';
import { saveModel } from '../models/save.js';
import { flagString, parseArgs } from './args.js';
import { adapterFromFlags, ADAPTER_FLAG_HELP } from './adapter-options.js';
import { loadModelFromFlags, MODEL_FLAGS_HELP } from './model-options.js';
import type { Verb } from './verb.js';

export const mergeVerb: Verb = {
  name: 'merge',
  summary: 'merge a LoRA or IA³ adapter into its base model and save a plain model folder',
  help: [
    'usage: tunekit merge --model ID|DIR --adapter DIR --out DIR',
    '',
    'Adds scaling·B·A to every adapted weight (LoRA; IA³ rescales them), in float32, drops the adapter and saves the model in the',
    'transformers layout (config.json, safetensors, tokenizer files). The result needs no PEFT to load.',
    ...MODEL_FLAGS_HELP,
    ADAPTER_FLAG_HELP,
    '  --out DIR          the merged model folder (written atomically)',
  ].join('\n'),
  async run(argv) {
    const args = parseArgs(argv);
    const out = flagString(args, 'out');
    if (out === undefined) throw new TunekitError('E_FLAG', '--out DIR is required');
    if (flagString(args, 'adapter') === undefined) throw new TunekitError('E_FLAG', '--adapter DIR is required');
    const { model } = await loadModelFromFlags(args, { json: false });
    const peft = await adapterFromFlags(args, model);
    if (peft === null) return 1;
    const merged = peft.mergeAndUnload();
    const files = await saveModel(merged, out);
    console.log(`merged model written to ${out}: ${files.join(', ')}`);
    merged.dispose();
    return 0;
  },
};
