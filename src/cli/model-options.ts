import { type DType, type HubProgress, loadModel, type LoadedModel, PeftModel, setNumThreads, TunekitError } from '../index.js';
import { Progress } from './progress.js';
import { type FlagSpec, flagNumber, flagString, type ParsedArgs, requireFlag } from './args.js';

export const MODEL_FLAGS: FlagSpec = { model: 'value', revision: 'value', dtype: 'value', threads: 'value' };
export const ADAPTER_FLAGS: FlagSpec = { adapter: 'value' };

export const MODEL_FLAGS_HELP = [
  '  --model ID|DIR   a local model folder or a Hugging Face hub repo id (downloaded into the shared cache)',
  '  --revision REV   hub branch, tag or commit (default main)',
  '  --dtype D        float32 or bfloat16 (default: the checkpoint\'s)',
  '  --threads T      libtorch threads (default: TUNEKIT_THREADS or the cores available)',
];

export const ADAPTER_FLAG_HELP = '  --adapter DIR|ID   a PEFT adapter folder (adapter_config.json + adapter_model.safetensors) or hub repo id';

/** Draws one progress bar per downloaded file. */
function downloadReporter(json: boolean): (progress: HubProgress) => void {
  const bars = new Map<string, Progress>();
  return ({ file, downloadedBytes, totalBytes }) => {
    let bar = bars.get(file);
    if (bar === undefined) {
      bar = new Progress({ total: totalBytes ?? downloadedBytes, label: `download ${file}`, unit: 'B', json, stream: process.stderr });
      bars.set(file, bar);
    }
    bar.update(downloadedBytes);
    if (totalBytes !== undefined && downloadedBytes >= totalBytes) bar.finish();
  };
}

/** Applies --threads (before any tensor work). */
export function threadsFromFlags(args: ParsedArgs): void {
  const threads = flagNumber(args, 'threads', { integer: true, min: 1, max: 1024 });
  if (threads !== undefined) setNumThreads(threads);
}

/** The model (with tokenizer and generation config) that --model, --revision, --dtype and --threads name. */
export async function loadModelFromFlags(args: ParsedArgs, options: { json: boolean }): Promise<LoadedModel> {
  const id = requireFlag(args, 'model', 'ID|DIR (a model folder or a hub repo id)');
  threadsFromFlags(args);
  const dtype = flagString(args, 'dtype');
  if (dtype !== undefined && dtype !== 'float32' && dtype !== 'bfloat16') throw new TunekitError('E_FLAG', `--dtype must be float32 or bfloat16, got "${dtype}"`);
  return loadModel(id, { dtype: dtype as DType | undefined, hub: { revision: flagString(args, 'revision'), onProgress: downloadReporter(options.json) } });
}

/** The model wrapped with the adapter --adapter names (frozen), or null when the flag is absent. */
export async function adapterFromFlags(args: ParsedArgs, loaded: LoadedModel): Promise<PeftModel | null> {
  const adapter = flagString(args, 'adapter');
  if (adapter === undefined) return null;
  return PeftModel.fromPretrained(loaded.model, adapter, { onWarning: (message) => console.error(`tunekit: warning: ${message}`) });
}
