import { modelSource } from '../models/load.js';
import { dtypeByteSize } from '../torch/dtype.js';
import { flagBoolean, parseArgs } from './args.js';
import { loadModelFromFlags, MODEL_FLAGS_HELP } from './model-options.js';
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
    const args = parseArgs(argv, new Set(['json']));
    const json = flagBoolean(args, 'json');
    const { dir, model, tokenizer } = await loadModelFromFlags(args, { json });
    try {
      const parameters = model.parameters();
      const dtypes = [...new Set(parameters.map((p) => p.dtype))];
      const bytes = parameters.reduce((sum, p) => sum + p.numel * dtypeByteSize[p.dtype], 0);
      const config = modelSource(model)?.config ?? {};
      const info = {
        folder: dir,
        modelType: model.config.modelType,
        architecture: model.constructor.name,
        kind: model.kind,
        parameters: model.parameterCount().total,
        dtype: dtypes.join(','),
        parameterBytes: bytes,
        vocabSize: model.config.vocabSize,
        layers: config.num_hidden_layers ?? config.n_layer ?? config.num_layers,
        hiddenSize: config.hidden_size ?? config.n_embd ?? config.d_model,
        contextLength: config.max_position_embeddings ?? config.n_positions ?? null,
        tokenizer: tokenizer !== null,
        chatTemplate: tokenizer !== null && tokenizer.chatTemplates.length > 0,
      };
      if (json) console.log(JSON.stringify(info));
      else {
        console.log(`${info.architecture} (${info.modelType}, ${info.kind}) from ${dir}`);
        console.log(`parameters ${info.parameters.toLocaleString('en-US')}  dtype ${info.dtype}  memory ${formatBytes(bytes)}`);
        console.log(`layers ${info.layers}  hidden ${info.hiddenSize}  vocab ${info.vocabSize}  context ${info.contextLength ?? 'n/a'}`);
        console.log(`tokenizer ${info.tokenizer ? 'yes' : 'no'}${info.chatTemplate ? ' (chat template)' : ''}`);
      }
      return 0;
    } finally {
      model.dispose();
    }
  },
};
