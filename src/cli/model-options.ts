import { existsSync } from 'node:fs';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { type HubProgress, resolveModelSource } from '../io/hub.js';
import { loadModelFromFolder } from '../models/load.js';
import type { LanguageModel } from '../models/types.js';
import { loadTokenizer, type Tokenizer } from '../tokenize/index.js';
import type { DType } from '../torch/dtype.js';
import { setNumThreads } from '../torch/runtime.js';
import { Progress } from '../train/progress.js';
import { flagNumber, flagString, type ParsedArgs } from './args.js';

export const MODEL_FLAGS_HELP = [
  '  --model ID|DIR   a local model folder or a Hugging Face hub repo id (downloaded into the shared cache)',
  '  --revision REV   hub branch, tag or commit (default main)',
  '  --dtype D        float32 or bfloat16 (default: the checkpoint\'s)',
  '  --threads T      libtorch threads (default: TUNEKIT_THREADS or the cores available)',
];

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

export interface LoadedModel {
  dir: string;
  model: LanguageModel;
  tokenizer: Tokenizer | null;
}

export async function loadModelFromFlags(args: ParsedArgs, options: { json: boolean }): Promise<LoadedModel> {
  const id = flagString(args, 'model');
  if (id === undefined) throw new TunekitError('E_FLAG', '--model is required (a model folder or a hub repo id)');
  if (args.flags.has('threads')) setNumThreads(flagNumber(args, 'threads', 1));
  const dtype = flagString(args, 'dtype');
  if (dtype !== undefined && dtype !== 'float32' && dtype !== 'bfloat16') throw new TunekitError('E_FLAG', `--dtype must be float32 or bfloat16, got "${dtype}"`);
  const dir = await resolveModelSource(id, { revision: flagString(args, 'revision'), onProgress: downloadReporter(options.json) });
  const model = await loadModelFromFolder(dir, { dtype: dtype as DType | undefined });
  const tokenizer = existsSync(path.join(dir, 'tokenizer.json')) ? loadTokenizer(dir) : null;
  return { dir, model, tokenizer };
}
