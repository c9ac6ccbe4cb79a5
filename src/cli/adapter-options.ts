import { resolveAdapterSource } from '../io/hub.js';
import type { LanguageModel } from '../models/types.js';
import { loadAdapter, PeftModel } from '../peft/index.js';
import { flagString, type ParsedArgs } from './args.js';

export const ADAPTER_FLAG_HELP = '  --adapter DIR|ID   a PEFT adapter folder (adapter_config.json + adapter_model.safetensors) or hub repo id';

/** Wraps `model` with the adapter named by --adapter, or returns null when the flag is absent. */
export async function adapterFromFlags(args: ParsedArgs, model: LanguageModel): Promise<PeftModel | null> {
  const source = flagString(args, 'adapter');
  if (source === undefined) return null;
  const dir = await resolveAdapterSource(source);
  const peft = new PeftModel(model);
  await loadAdapter(peft, dir, 'default', { onWarning: (message) => console.error(`tunekit: warning: ${message}`) });
  return peft;
}
