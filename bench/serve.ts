/**
 * A bounded load test of `tunekit serve` on loopback: the same requests (mixed adapters, greedy, fixed length)
 * sent by 16 concurrent clients and one at a time; throughput, latency percentiles, errors, and /health's
 * latency while the server is loaded. `ratio` = tokens/s at 16 clients ÷ tokens/s one at a time. The requests
 * are split into rounds, each sent both ways in turn, so a machine whose load drifts slows both alike.
 *
 *   npm run bench:serve -- --json [--model DIR] [--requests 200] [--clients 16] [--max-tokens 32] [--rounds 4]
 *                                  [--time-limit-s 240]
 *                                  (default model: ../shared/reference/models/stories260K)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getPeftModel, loadModel, loraConfig, manualSeed, noGrad, randn, startServer } from '../src/index.js';
import { benchFlags } from './args.js';

const flags = benchFlags();
const here = path.dirname(fileURLToPath(import.meta.url));
const numberFlag = (name: string, fallback: number): number => (typeof flags.get(name) === 'string' ? Number(flags.get(name)) : fallback);
const modelDir = typeof flags.get('model') === 'string' ? (flags.get('model') as string) : path.resolve(here, '..', '..', '..', 'shared', 'reference', 'models', 'stories260K');
const requests = numberFlag('requests', 200);
const clients = numberFlag('clients', 16);
const maxTokens = numberFlag('max-tokens', 32);
const rounds = numberFlag('rounds', 4);
const deadline = Date.now() + numberFlag('time-limit-s', 240) * 1000;

/** A LoRA adapter with seeded noise in B, so each adapter answers differently. */
async function noisyAdapter(dir: string, seed: number): Promise<string> {
  const { model } = await loadModel(modelDir);
  const peft = getPeftModel(model, loraConfig({ r: 8, loraAlpha: 16, targetModules: 'all-linear', taskType: 'CAUSAL_LM' }));
  manualSeed(seed);
  noGrad(() => {
    for (const [name, parameter] of peft.namedParameters()) if (name.includes('lora_B')) parameter.copy_(randn(parameter.shape).mul(0.3));
  });
  await peft.savePretrained(dir);
  peft.dispose();
  return dir;
}

const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-bench-serve-'));
const adapters = [
  { name: 'alpha', dir: await noisyAdapter(path.join(scratch, 'alpha'), 1) },
  { name: 'beta', dir: await noisyAdapter(path.join(scratch, 'beta'), 2) },
];
const server = await startServer({ model: modelDir, adapters, port: 0, maxBatch: clients, maxQueue: requests });
const prompts = ['Once upon a time', 'The little dog', 'Lily wanted to play with her ball in the park, but', 'Tom and Sue', 'One day, a big bird', 'The sun was hot and'];
const models = [modelDir, 'alpha', 'beta'];
const bodies = Array.from({ length: requests }, (_, index) => ({ model: models[index % models.length], prompt: prompts[index % prompts.length], max_tokens: maxTokens, temperature: 0 }));

interface Outcome {
  ms: number;
  tokens: number;
  ok: boolean;
  text: string;
}

async function send(body: (typeof bodies)[number]): Promise<Outcome> {
  const started = performance.now();
  try {
    const response = await fetch(server.url + '/v1/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = (await response.json()) as { usage?: { completion_tokens: number }; choices?: { text: string }[] };
    return { ms: performance.now() - started, tokens: json.usage?.completion_tokens ?? 0, ok: response.status === 200, text: json.choices?.[0]?.text ?? '' };
  } catch {
    return { ms: performance.now() - started, tokens: 0, ok: false, text: '' };
  }
}

/** Sends `batch` with `concurrency` clients, each sending its next request when its last one is answered. */
async function run(batch: typeof bodies, concurrency: number): Promise<{ outcomes: (Outcome | null)[]; seconds: number }> {
  const outcomes: (Outcome | null)[] = batch.map(() => null);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < batch.length && Date.now() < deadline) {
        const index = next++;
        outcomes[index] = await send(batch[index]);
      }
    }),
  );
  return { outcomes, seconds: (performance.now() - started) / 1000 };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(result: { outcomes: (Outcome | null)[]; seconds: number }) {
  const done = result.outcomes.filter((outcome): outcome is Outcome => outcome !== null);
  const tokens = done.reduce((sum, outcome) => sum + outcome.tokens, 0);
  return {
    requests_answered: done.length,
    errors: done.filter((outcome) => !outcome.ok).length,
    not_sent: result.outcomes.length - done.length,
    tokens,
    seconds: Number(result.seconds.toFixed(2)),
    tokens_per_s: Number((tokens / result.seconds).toFixed(1)),
    latency_p50_ms: Number(percentile(done.map((outcome) => outcome.ms), 50).toFixed(1)),
    latency_p99_ms: Number(percentile(done.map((outcome) => outcome.ms), 99).toFixed(1)),
  };
}

// Warm-up: first-call costs (allocations, each adapter's first step) out of both measurements.
await Promise.all(models.map((model) => send({ model, prompt: prompts[0], max_tokens: maxTokens, temperature: 0 })));
let healthWorstMs = 0;
let healthChecks = 0;
let loaded = false;
let stopped = false;
const probe = (async () => {
  while (!stopped) {
    if (loaded) {
      const started = performance.now();
      await fetch(server.url + '/health');
      healthWorstMs = Math.max(healthWorstMs, performance.now() - started);
      healthChecks++;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
})();
const concurrent = { outcomes: [] as (Outcome | null)[], seconds: 0 };
const sequential = { outcomes: [] as (Outcome | null)[], seconds: 0 };
const perRound = Math.ceil(bodies.length / rounds);
for (let round = 0; round < rounds; round++) {
  const batch = bodies.slice(round * perRound, (round + 1) * perRound);
  loaded = true;
  const many = await run(batch, clients);
  loaded = false;
  const one = await run(batch, 1);
  concurrent.outcomes.push(...many.outcomes);
  concurrent.seconds += many.seconds;
  sequential.outcomes.push(...one.outcomes);
  sequential.seconds += one.seconds;
}
stopped = true;
await probe;
await server.close();
rmSync(scratch, { recursive: true, force: true });

const mismatches = concurrent.outcomes.filter((outcome, index) => outcome !== null && sequential.outcomes[index] !== null && outcome.text !== sequential.outcomes[index]?.text).length;
const atClients = summary(concurrent);
const oneAtATime = summary(sequential);
const report = {
  bench: 'serve',
  model: modelDir,
  worker_threads: server.threads,
  requests,
  clients,
  max_tokens: maxTokens,
  rounds,
  adapters: models.length - 1,
  concurrent: atClients,
  sequential: oneAtATime,
  ratio: Number((atClients.tokens_per_s / oneAtATime.tokens_per_s).toFixed(2)),
  answers_differing_from_sequential: mismatches,
  health_worst_ms_under_load: Number(healthWorstMs.toFixed(1)),
  health_checks: healthChecks,
};
if (flags.get('json') === true) console.log(JSON.stringify(report));
else console.log(JSON.stringify(report, null, 2));
