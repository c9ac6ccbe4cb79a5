import { checkDestination, saveModel } from '../index.js';
import { flagBoolean, noExtraPositionals, parseArgs, requireFlag } from './args.js';
import { ADAPTER_FLAG_HELP, ADAPTER_FLAGS, adapterFromFlags, loadModelFromFlags, MODEL_FLAGS, MODEL_FLAGS_HELP } from './model-options.js';
import type { Verb } from './verb.js';

export const mergeVerb: Verb = {
  name: 'merge',
  summary: 'merge a LoRA or IA³ adapter into its base model and save a plain model folder',
  help: [
    'usage: tunekit merge --model ID|DIR --adapter DIR --out DIR [--overwrite]',
    '',
    'Adds scaling·B·A to every adapted weight (LoRA; IA³ rescales them), in float32, drops the adapter and saves the model in the',
    'transformers layout (config.json, safetensors, tokenizer files). The result needs no PEFT to load.',
    ...MODEL_FLAGS_HELP,
    ADAPTER_FLAG_HELP,
    '  --out DIR          the merged model folder (written atomically); its parent folder must exist',
    '  --overwrite        replace --out if it already holds something (never the model or adapter being read)',
  ].join('\n'),
  async run(argv) {
    const args = parseArgs(argv, { ...MODEL_FLAGS, ...ADAPTER_FLAGS, out: 'value', overwrite: 'switch' });
    noExtraPositionals(args);
    const out = requireFlag(args, 'out', 'DIR');
    const adapter = requireFlag(args, 'adapter', 'DIR');
    const model = requireFlag(args, 'model', 'ID|DIR');
    const destination = { kind: 'directory', overwrite: flagBoolean(args, 'overwrite') } as const;
    // Refused before the (possibly long) load; checked again with the model folder actually read (a hub id resolves into the cache).
    checkDestination(out, { ...destination, inputs: [adapter, model] });
    const loaded = await loadModelFromFlags(args, { json: false });
    const peft = await adapterFromFlags(args, loaded);
    if (peft === null) return 1;
    const target = checkDestination(out, { ...destination, inputs: [loaded.source.dir, adapter] });
    const merged = peft.mergeAndUnload();
    const files = await saveModel(merged, target);
    console.log(`merged model written to ${out}: ${files.join(', ')}`);
    merged.dispose();
    return 0;
  },
};
