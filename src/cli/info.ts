import { describeModel } from '../index.js';
import { flagBoolean, noExtraPositionals, parseArgs } from './args.js';
import { loadModelFromFlags, MODEL_FLAGS, MODEL_FLAGS_HELP } from './model-options.js';
import type { Verb } from './verb.js';

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export const infoVerb: Verb = {
  name: 'info',
  summary: 'print a model\'s architecture, parameter count, dtype and memory',
  help: ['usage: tunekit info --model ID|DIR [--json]', '', ...MODEL_FLAGS_HELP, '  --json           print one JSON object'].join('\n'),
  async run(argv) {
    const args = parseArgs(argv, { ...MODEL_FLAGS, json: 'switch' });
    noExtraPositionals(args);
    const json = flagBoolean(args, 'json');
    const { source, model, tokenizer } = await loadModelFromFlags(args, { json });
    try {
      const description = describeModel(model);
      const info = {
        folder: source.dir,
        ...description,
        contextLength: description.contextLength ?? null,
        tokenizer: tokenizer !== null,
        chatTemplate: tokenizer !== null && tokenizer.chatTemplates.length > 0,
      };
      if (json) console.log(JSON.stringify(info));
      else {
        console.log(`${info.architecture} (${info.modelType}, ${info.kind}) from ${source.dir}`);
        console.log(`parameters ${info.parameters.toLocaleString('en-US')}  dtype ${info.dtype}  memory ${formatBytes(info.parameterBytes)}`);
        console.log(`layers ${info.layers}  hidden ${info.hiddenSize}  vocab ${info.vocabSize}  context ${info.contextLength ?? 'n/a'}`);
        console.log(`tokenizer ${info.tokenizer ? 'yes' : 'no'}${info.chatTemplate ? ' (chat template)' : ''}`);
      }
      return 0;
    } finally {
      model.dispose();
    }
  },
};
