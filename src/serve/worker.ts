// The model thread: loads the model and adapters, then decodes what the HTTP thread sends (messages.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { generationOptionsFromConfig } from '../generate/options.js';
import { loadModel } from '../models/load.js';
import { loadAdapter } from '../peft/format.js';
import { PeftModel } from '../peft/peft-model.js';
import { getNumThreads, setNumThreads } from '../torch/runtime.js';
import { ApiError } from './api-error.js';
import type { FromWorker, ToWorker, WorkerOptions } from './messages.js';
import { Scheduler } from './scheduler.js';

if (parentPort === null) throw new Error('src/serve/worker.js runs only as a worker thread');
const port = parentPort;
const options = workerData as WorkerOptions;
const post = (message: FromWorker): void => port.postMessage(message);
const onWarning = (message: string): void => post({ type: 'warning', message });

async function start(): Promise<void> {
  if (options.threads !== undefined) setNumThreads(options.threads);
  const loaded = await loadModel(options.model, { dtype: options.dtype });
  const peft = new PeftModel(loaded.model);
  for (const adapter of options.adapters) await peft.loadAdapter(adapter.dir, adapter.name, { onWarning });
  peft.setAdapter(null);
  peft.eval();
  const adapters = new Map(options.adapters.map((adapter) => [adapter.name, adapter]));
  // The stop tokens `tunekit generate` uses: generation_config.json's, else the tokenizer's, else the config's.
  const fromConfig = generationOptionsFromConfig(loaded.generationConfig).eosTokenIds;
  const tokenizerStops = loaded.tokenizer !== null && loaded.tokenizer.stopTokenIds.length > 0 ? loaded.tokenizer.stopTokenIds : undefined;
  const eosTokenIds = fromConfig ?? tokenizerStops ?? loaded.model.config.eosTokenIds;
  const scheduler = new Scheduler(peft, loaded.tokenizer, eosTokenIds, options.maxBatch, {
    started: (id, promptTokens) => post({ type: 'started', id, promptTokens }),
    deltas: (id, deltas) => post({ type: 'deltas', id, deltas }),
    done: (id, completionTokens) => post({ type: 'done', id, completionTokens }),
    failed: (id, error) => post({ type: 'failed', id, error: error.body }),
    step: (rows, durationMs, liveTensors) => post({ type: 'step', rows, durationMs, liveTensors }),
  });

  async function handle(message: ToWorker): Promise<void> {
    switch (message.type) {
      case 'submit':
        scheduler.submit(message.job);
        return;
      case 'cancel':
        scheduler.cancel(message.id);
        return;
      case 'load-adapter': {
        const { name, dir } = message.adapter;
        try {
          if (adapters.has(name)) throw new ApiError(400, `an adapter named "${name}" is already loaded`, 'lora_name');
          const previous = peft.activeAdapter;
          await loadAdapter(peft, dir, name, { onWarning });
          peft.setAdapter(previous);
          adapters.set(name, message.adapter);
          post({ type: 'reply', requestId: message.requestId, error: null });
        } catch (error) {
          const apiError = error instanceof ApiError ? error : new ApiError(400, `the adapter could not be loaded: ${(error as Error).message}`, 'lora_path');
          post({ type: 'reply', requestId: message.requestId, error: apiError.body });
        }
        return;
      }
      case 'unload-adapter': {
        const { name } = message;
        let error: ApiError | null = null;
        if (!adapters.has(name)) error = new ApiError(404, `no adapter named "${name}" is loaded`, 'lora_name', 'model_not_found');
        else if (scheduler.uses(name)) error = new ApiError(409, `the adapter "${name}" is in use by requests still running; unload it when they are done`, 'lora_name', 'adapter_in_use');
        else {
          if (peft.activeAdapter === name) peft.setAdapter(null);
          peft.deleteAdapter(name);
          adapters.delete(name);
        }
        post({ type: 'reply', requestId: message.requestId, error: error === null ? null : error.body });
        return;
      }
      case 'shutdown':
        port.close();
        return;
    }
  }

  port.on('message', (message: ToWorker) => {
    void handle(message);
  });
  post({
    type: 'ready',
    threads: getNumThreads(),
    contextLength: loaded.model.contextLength,
    adapters: [...adapters.values()],
    modelDir: loaded.source.dir,
    hasChatTemplate: loaded.tokenizer !== null && loaded.tokenizer.chatTemplates.length > 0,
  });
}

start().catch((error: unknown) => post({ type: 'init-failed', message: error instanceof Error ? error.message : String(error) }));
