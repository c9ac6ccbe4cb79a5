import { Worker } from 'node:worker_threads';
import { TunekitError } from '../errors.js';
import { ApiError } from './api-error.js';
import type { AdapterInfo, ChoiceDelta, FromWorker, JobRequest, ToWorker, WorkerOptions } from './messages.js';

/** What a submitted request hears back, in order: started (admitted to a batch), deltas…, then done or failed. */
export interface JobListener {
  started(promptTokens: number): void;
  deltas(deltas: ChoiceDelta[]): void;
  done(completionTokens: number): void;
  failed(error: ApiError): void;
}

export interface ModelInfo {
  /** libtorch threads the worker decodes with. */
  threads: number;
  contextLength: number | null;
  modelDir: string;
  hasChatTemplate: boolean;
}

/**
 * The HTTP thread's handle on the model thread: submits requests, relays their tokens, cancels them, loads and
 * unloads adapters. Counts requests waiting for a batch (`waiting`) and decoding (`running`).
 */
export class ModelWorker {
  readonly #worker: Worker;
  readonly #listeners = new Map<number, JobListener>();
  readonly #waiting = new Set<number>();
  readonly #replies = new Map<number, (error: ApiError | null) => void>();
  readonly #adapters = new Map<string, AdapterInfo>();
  #nextId = 1;
  #exited = false;
  onStep: (rows: number, durationMs: number, liveTensors: number) => void = () => {};
  onWarning: (message: string) => void = () => {};

  private constructor(
    worker: Worker,
    readonly info: ModelInfo,
    adapters: AdapterInfo[],
    /** Warnings from loading the model and adapters (unknown adapter config keys, …). */
    readonly startupWarnings: string[],
  ) {
    this.#worker = worker;
    for (const adapter of adapters) this.#adapters.set(adapter.name, adapter);
    worker.on('message', (message: FromWorker) => this.receive(message));
    worker.on('error', (error) => this.failAll(new ApiError(500, `the model worker failed: ${error.message}`)));
    worker.on('exit', () => {
      this.#exited = true;
      this.failAll(new ApiError(503, 'the model worker has stopped'));
    });
  }

  /** Starts the worker thread and waits until the model and adapters are loaded. */
  static async start(options: WorkerOptions): Promise<ModelWorker> {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: options });
    const warnings: string[] = [];
    const ready = await new Promise<Extract<FromWorker, { type: 'ready' }>>((resolve, reject) => {
      const onMessage = (message: FromWorker): void => {
        if (message.type === 'warning') warnings.push(message.message);
        else if (message.type === 'ready') resolve(message);
        else if (message.type === 'init-failed') reject(new TunekitError('E_SERVE', message.message));
        else return;
        if (message.type !== 'warning') worker.off('message', onMessage);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new TunekitError('E_SERVE', `the model worker exited (code ${code}) before the model was loaded`)));
    }).catch(async (error: unknown) => {
      await worker.terminate();
      throw error;
    });
    worker.removeAllListeners('error');
    worker.removeAllListeners('exit');
    return new ModelWorker(worker, { threads: ready.threads, contextLength: ready.contextLength, modelDir: ready.modelDir, hasChatTemplate: ready.hasChatTemplate }, ready.adapters, warnings);
  }

  get adapters(): AdapterInfo[] {
    return [...this.#adapters.values()];
  }

  /** Requests submitted and not yet decoding. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** Requests decoding now. */
  get running(): number {
    return this.#listeners.size - this.#waiting.size;
  }

  private post(message: ToWorker): void {
    if (!this.#exited) this.#worker.postMessage(message);
  }

  submit(job: Omit<JobRequest, 'id'>, listener: JobListener): { cancel(): void } {
    if (this.#exited) throw new ApiError(503, 'the model worker has stopped');
    const id = this.#nextId++;
    this.#listeners.set(id, listener);
    this.#waiting.add(id);
    this.post({ type: 'submit', job: { ...job, id } });
    return {
      cancel: () => {
        if (!this.#listeners.delete(id)) return;
        this.#waiting.delete(id);
        this.post({ type: 'cancel', id });
      },
    };
  }

  private async request(message: ToWorker & { requestId: number }): Promise<void> {
    const error = await new Promise<ApiError | null>((resolve) => {
      this.#replies.set(message.requestId, resolve);
      this.post(message);
    });
    if (error !== null) throw error;
  }

  async loadAdapter(adapter: AdapterInfo): Promise<void> {
    await this.request({ type: 'load-adapter', requestId: this.#nextId++, adapter });
    this.#adapters.set(adapter.name, adapter);
  }

  async unloadAdapter(name: string): Promise<void> {
    await this.request({ type: 'unload-adapter', requestId: this.#nextId++, name });
    this.#adapters.delete(name);
  }

  private receive(message: FromWorker): void {
    switch (message.type) {
      case 'step':
        this.onStep(message.rows, message.durationMs, message.liveTensors);
        return;
      case 'warning':
        this.onWarning(message.message);
        return;
      case 'reply':
        this.#replies.get(message.requestId)?.(message.error === null ? null : ApiError.from(message.error));
        this.#replies.delete(message.requestId);
        return;
      case 'ready':
      case 'init-failed':
        return;
    }
    const listener = this.#listeners.get(message.id);
    if (listener === undefined) return;
    switch (message.type) {
      case 'started':
        this.#waiting.delete(message.id);
        listener.started(message.promptTokens);
        return;
      case 'deltas':
        listener.deltas(message.deltas);
        return;
      case 'done':
        this.#listeners.delete(message.id);
        listener.done(message.completionTokens);
        return;
      case 'failed':
        this.#listeners.delete(message.id);
        this.#waiting.delete(message.id);
        listener.failed(ApiError.from(message.error));
        return;
    }
  }

  private failAll(error: ApiError): void {
    for (const [id, listener] of this.#listeners) {
      this.#listeners.delete(id);
      listener.failed(error);
    }
    this.#waiting.clear();
    for (const [id, reply] of this.#replies) {
      this.#replies.delete(id);
      reply(error);
    }
  }

  /** Stops the worker (after the requests it has are finished, when the caller waited for them). */
  async close(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.post({ type: 'shutdown' });
    const timer = setTimeout(() => void this.#worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }
}
