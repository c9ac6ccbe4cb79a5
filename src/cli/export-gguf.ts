import { existsSync } from 'node:fs';
import path from 'node:path';
import { checkDestination, exportLoraToGguf, type GgufOutType, hubDownload, readModelConfig, resolveAdapterSource, TunekitError } from '../index.js';
import { flagBoolean, flagString, noExtraPositionals, parseArgs, requireFlag } from './args.js';
import type { Verb } from './verb.js';

export const exportGgufVerb: Verb = {
  name: 'export-gguf',
  summary: 'convert a LoRA adapter to a llama.cpp / Ollama GGUF adapter',
  help: [
    'usage: tunekit export-gguf --adapter DIR|ID --model ID|DIR --out FILE.gguf [--type f32|f16|bf16] [--overwrite]',
    '',
    'Writes general.type=adapter, adapter.type=lora, adapter.lora.alpha and the LoRA tensors under the base',
    'model\'s GGUF tensor names (.lora_a/.lora_b), with q/k rows permuted as llama.cpp\'s converter permutes them.',
    'Llama-family bases only (llama, mistral, qwen2). Only the base\'s config.json is read, not its weights.',
    '  --adapter DIR|ID   the PEFT LoRA adapter folder or hub repo id',
    '  --model ID|DIR     the base model (for its architecture and head counts)',
    '  --out FILE         the GGUF file to write (atomically); its folder must exist',
    '  --overwrite        replace --out if it already exists',
    '  --type T           tensor type: f32 (default), f16 or bf16',
  ].join('\n'),
  async run(argv) {
    const args = parseArgs(argv, { adapter: 'value', model: 'value', out: 'value', overwrite: 'switch', type: 'value' });
    noExtraPositionals(args);
    const adapter = requireFlag(args, 'adapter', 'DIR|ID');
    const model = requireFlag(args, 'model', 'ID|DIR');
    const out = requireFlag(args, 'out', 'FILE.gguf');
    const type = flagString(args, 'type') ?? 'f32';
    if (!['f32', 'f16', 'bf16'].includes(type)) throw new TunekitError('E_FLAG', `--type must be f32, f16 or bf16, got "${type}"`);
    const adapterDir = await resolveAdapterSource(adapter);
    // Only config.json is needed: a hub id fetches that one file, not the weights.
    const baseDir = existsSync(model) ? model : path.dirname(await hubDownload(model, 'config.json'));
    const outPath = checkDestination(out, { kind: 'file', overwrite: flagBoolean(args, 'overwrite'), inputs: [adapterDir, baseDir] });
    const baseConfig = await readModelConfig(baseDir);
    const result = await exportLoraToGguf({
      adapterDir,
      baseConfig,
      baseConfigSource: path.join(baseDir, 'config.json'),
      outPath,
      outType: type as GgufOutType,
      onWarning: (message) => console.error(`tunekit: warning: ${message}`),
    });
    console.log(JSON.stringify(result));
    return 0;
  },
};
