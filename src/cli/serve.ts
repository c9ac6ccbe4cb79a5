import { type AdapterInfo, startServer, TunekitError } from '../index.js';
import { flagNumber, flagString, noExtraPositionals, parseArgs, requireFlag, takeRepeatedFlags } from './args.js';
import type { Verb } from './verb.js';

const FLAGS = {
  model: 'value',
  'served-model-name': 'value',
  dtype: 'value',
  threads: 'value',
  'adapter-dir': 'value',
  host: 'value',
  port: 'value',
  'api-key': 'value',
  'max-batch': 'value',
  'max-queue': 'value',
  'max-body-bytes': 'value',
} as const;

/** Takes every `--adapter name=DIR` out of argv (the flag repeats, which the shared parser does not allow). */
function takeAdapters(argv: string[]): { adapters: AdapterInfo[]; rest: string[] } {
  const { rest, taken } = takeRepeatedFlags(argv, ['adapter']);
  const adapters: AdapterInfo[] = [];
  for (const { value } of taken) {
    const equals = value.indexOf('=');
    const name = value.slice(0, equals);
    const dir = value.slice(equals + 1);
    if (equals <= 0 || dir === '') throw new TunekitError('E_FLAG', `--adapter expects name=DIR (the name clients send as "model"), got "${value}"`);
    if (adapters.some((adapter) => adapter.name === name)) throw new TunekitError('E_FLAG', `--adapter names "${name}" twice`);
    adapters.push({ name, dir });
  }
  return { adapters, rest };
}

const print = (record: Record<string, unknown>): void => {
  process.stdout.write(JSON.stringify(record) + '\n');
};

export const serveVerb: Verb = {
  name: 'serve',
  summary: 'an OpenAI-compatible HTTP server for a model and its adapters',
  help: [
    'usage: tunekit serve --model ID|DIR [--adapter name=DIR …] [--adapter-dir DIR] [--host 127.0.0.1] [--port 8000]',
    '                     [--api-key KEY] [--max-batch N] [--max-queue N]',
    '',
    'Serves /v1/completions, /v1/chat/completions, /v1/models, vLLM\'s /v1/load_lora_adapter and',
    '/v1/unload_lora_adapter, /health and /metrics. Prints one JSON line per event on stdout (listening, each request).',
    '  --model ID|DIR        a model folder or hub repo id; clients send it as "model" for the bare base',
    '  --served-model-name N the base model\'s name for clients instead (as vLLM\'s flag)',
    '  --adapter name=DIR    a PEFT adapter served as model "name" (repeatable; any folder or hub id)',
    '  --adapter-dir DIR     the only folder POST /v1/load_lora_adapter may load from (run-time loading is off without it)',
    '  --host H              address to bind (default 127.0.0.1: this machine only)',
    '  --port P              port (default 8000; 0 picks a free one)',
    '  --api-key KEY         requests (all but /health and /metrics) need "Authorization: Bearer KEY" (default: TUNEKIT_API_KEY)',
    '  --max-batch N         most sequences decoding at once (default 16)',
    '  --max-queue N         most requests waiting for a batch; more get 429 (default 64)',
    '  --max-body-bytes N    largest request body (default 1048576)',
    '  --dtype D             float32 or bfloat16 (default: the checkpoint\'s)',
    '  --threads T           libtorch threads of the model worker (default: TUNEKIT_THREADS, else all cores but one)',
    'SIGTERM or SIGINT: stop accepting, finish the requests in flight, exit.',
  ].join('\n'),
  async run(argv) {
    const { adapters, rest } = takeAdapters(argv);
    const args = parseArgs(rest, FLAGS);
    noExtraPositionals(args);
    const model = requireFlag(args, 'model', 'ID|DIR (a model folder or a hub repo id)');
    const dtype = flagString(args, 'dtype');
    if (dtype !== undefined && dtype !== 'float32' && dtype !== 'bfloat16') throw new TunekitError('E_FLAG', `--dtype must be float32 or bfloat16, got "${dtype}"`);
    const apiKey = flagString(args, 'api-key') ?? (process.env.TUNEKIT_API_KEY || undefined);
    if (apiKey !== undefined && apiKey.length < 8) throw new TunekitError('E_FLAG', '--api-key must be at least 8 characters');
    const servedModelName = flagString(args, 'served-model-name');
    if (servedModelName === '') throw new TunekitError('E_FLAG', '--served-model-name needs a name');
    const server = await startServer({
      model,
      servedModelName,
      adapters,
      adapterDir: flagString(args, 'adapter-dir'),
      host: flagString(args, 'host'),
      port: flagNumber(args, 'port', { integer: true, min: 0, max: 65535 }),
      apiKey,
      maxBatch: flagNumber(args, 'max-batch', { integer: true, min: 1, max: 4096 }),
      maxQueue: flagNumber(args, 'max-queue', { integer: true, min: 0, max: 1_000_000 }),
      bodyLimitBytes: flagNumber(args, 'max-body-bytes', { integer: true, min: 1024 }),
      threads: flagNumber(args, 'threads', { integer: true, min: 1, max: 1024 }),
      dtype,
    });
    server.events.on('request', (entry) => print({ event: 'request', ...entry }));
    server.events.on('warning', (message) => console.error(`tunekit: warning: ${message}`));
    for (const message of server.startupWarnings) console.error(`tunekit: warning: ${message}`);
    const loopback = ['127.0.0.1', '::1', 'localhost'].includes(flagString(args, 'host') ?? '127.0.0.1');
    if (!loopback && apiKey === undefined) console.error(`tunekit: warning: listening on ${server.host} without --api-key: anyone who can reach this address can use the model`);
    print({ event: 'listening', url: server.url, model: servedModelName ?? model, adapters: adapters.map((adapter) => adapter.name), threads: server.threads, auth: apiKey !== undefined });
    await new Promise<void>((resolve) => {
      const stop = (signal: string): void => {
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onInt);
        print({ event: 'stopping', signal });
        void server.close().then(() => {
          print({ event: 'stopped' });
          resolve();
        });
      };
      const onTerm = (): void => stop('SIGTERM');
      const onInt = (): void => stop('SIGINT');
      process.on('SIGTERM', onTerm);
      process.on('SIGINT', onInt);
    });
    return 0;
  },
};
