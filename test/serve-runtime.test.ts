// Run-time behaviour of the server: API keys, adapters loaded and unloaded over HTTP from --adapter-dir only,
// a bounded queue that answers 429, and a client that disconnects cancelling its generation.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generate, loadModel, type OpenAIServer, PeftModel, startServer, type Tokenizer } from '../src/index.js';
import { resolveRuntimeAdapter } from '../src/serve/adapter-path.js';
import { bearerMatches } from '../src/serve/auth.js';
import { hasShared } from './helpers/paths.js';
import { postJson, saveNoisyLora, stories } from './helpers/serve.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-serve-runtime-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const KEY = 'test-key-0123456789';
const auth = { authorization: `Bearer ${KEY}` };

/** A metric's value in /metrics text. */
function metric(text: string, name: string): number {
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (match === null) throw new Error(`no ${name} in\n${text}`);
  return Number(match[1]);
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('tunekit serve at run time', { skip: hasShared ? false : 'no ../shared' }, () => {
  let server: OpenAIServer;
  let tokenizer: Tokenizer;
  const adapterDir = path.join(scratch, 'adapters');
  const outside = path.join(scratch, 'outside');
  const url = (route: string) => server.url + route;
  const metrics = async () => (await fetch(url('/metrics'))).text();

  before(async () => {
    mkdirSync(adapterDir);
    await saveNoisyLora(stories, path.join(adapterDir, 'gamma'), 3);
    await saveNoisyLora(stories, outside, 4);
    symlinkSync(outside, path.join(adapterDir, 'escape'));
    mkdirSync(path.join(adapterDir, 'half-escape'));
    cpSync(path.join(outside, 'adapter_config.json'), path.join(adapterDir, 'half-escape', 'adapter_config.json'));
    symlinkSync(path.join(outside, 'adapter_model.safetensors'), path.join(adapterDir, 'half-escape', 'adapter_model.safetensors'));
    mkdirSync(path.join(adapterDir, 'pickled'));
    cpSync(path.join(outside, 'adapter_config.json'), path.join(adapterDir, 'pickled', 'adapter_config.json'));
    writeFileSync(path.join(adapterDir, 'pickled', 'adapter_model.bin'), 'not really a pickle');
    server = await startServer({ model: stories, port: 0, apiKey: KEY, adapterDir, maxBatch: 1, maxQueue: 1 });
    tokenizer = (await loadModel(stories)).tokenizer as Tokenizer;
  });
  after(() => server?.close());

  it('with an API key, /v1 requests without the bearer token or with a wrong one get 401; /health and /metrics stay open', async () => {
    const body = { model: stories, prompt: 'Once', max_tokens: 2 };
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong' }, { authorization: KEY }, { authorization: `Bearer ${KEY}x` }]) {
      const { status, json } = await postJson(url('/v1/completions'), body, headers);
      assert.equal(status, 401);
      assert.equal(json.error.code, 'invalid_api_key');
    }
    assert.equal((await fetch(url('/v1/models'))).status, 401);
    for (const sneaky of ['/%761/models', '/v1//models', '/V1/models', '/v1/models/', '/nothing']) assert.equal((await fetch(url(sneaky))).status, 401, sneaky);
    assert.equal((await postJson(url('/v1/completions'), body, auth)).status, 200);
    assert.equal((await fetch(url('/health'))).status, 200);
    assert.equal((await fetch(url('/metrics'))).status, 200);
    assert.equal(bearerMatches(`Bearer ${KEY}`, KEY), true);
    assert.equal(bearerMatches('Bearer ', ''), false);
  });

  it("vLLM's load and unload endpoints add and remove an adapter from --adapter-dir while the server runs", async () => {
    const loaded = await postJson(url('/v1/load_lora_adapter'), { lora_name: 'gamma', lora_path: 'gamma' }, auth);
    assert.equal(loaded.status, 200, loaded.text);
    const models = (await (await fetch(url('/v1/models'), { headers: auth })).json()) as { data: { id: string; parent: string | null; root: string }[] };
    assert.deepEqual(models.data.map((model) => [model.id, model.parent]), [[stories, null], ['gamma', stories]]);
    const ids = tokenizer.encode('Once upon a time');
    const peft = await PeftModel.fromPretrained((await loadModel(stories)).model, path.join(adapterDir, 'gamma'));
    const want = generate(peft, { inputIds: [ids] }, { maxNewTokens: 10 }).sequences[0];
    peft.dispose();
    const { json } = await postJson(url('/v1/completions'), { model: 'gamma', prompt: ids, max_tokens: 10, temperature: 0, logprobs: 0 }, auth);
    const prompt = tokenizer.decode(ids, { skipSpecialTokens: true });
    assert.equal(json.choices[0].text, tokenizer.decode(want, { skipSpecialTokens: true }).slice(prompt.length));
    const again = await postJson(url('/v1/load_lora_adapter'), { lora_name: 'gamma', lora_path: 'gamma' }, auth);
    assert.deepEqual([again.status, again.json.error.param], [400, 'lora_name']);

    const unloaded = await postJson(url('/v1/unload_lora_adapter'), { lora_name: 'gamma' }, auth);
    assert.equal(unloaded.status, 200, unloaded.text);
    const gone = await postJson(url('/v1/completions'), { model: 'gamma', prompt: 'Once' }, auth);
    assert.deepEqual([gone.status, gone.json.error.code], [404, 'model_not_found']);
    const twice = await postJson(url('/v1/unload_lora_adapter'), { lora_name: 'gamma' }, auth);
    assert.equal(twice.status, 404);
  });

  it('run-time loads refuse paths outside --adapter-dir (.., absolute, symlinks), pickle weights and missing folders', async () => {
    const cases: [string, number, string][] = [
      ['../outside', 400, 'path_outside_adapter_dir'],
      [outside, 400, 'path_outside_adapter_dir'],
      ['gamma/../../outside', 400, 'path_outside_adapter_dir'],
      ['escape', 400, 'path_outside_adapter_dir'],
      ['half-escape', 400, 'path_outside_adapter_dir'],
      ['pickled', 400, 'pickle_refused'],
      ['nothing-here', 404, 'adapter_not_found'],
      ['.', 400, 'path_outside_adapter_dir'],
    ];
    for (const [loraPath, status, code] of cases) {
      const { status: got, json } = await postJson(url('/v1/load_lora_adapter'), { lora_name: 'evil', lora_path: loraPath }, auth);
      assert.deepEqual([got, json.error.code, json.error.param], [status, code, 'lora_path'], loraPath);
    }
    const models = (await (await fetch(url('/v1/models'), { headers: auth })).json()) as { data: unknown[] };
    assert.equal(models.data.length, 1);
    await assert.rejects(resolveRuntimeAdapter(undefined, 'gamma'), (error: { status: number }) => error.status === 403);
    assert.equal(await resolveRuntimeAdapter(adapterDir, 'gamma'), path.join(adapterDir, 'gamma'));
  });

  it('a full queue answers 429; a client that disconnects cancels its generation and frees its place in the batch', async () => {
    const stepsBefore = metric(await metrics(), 'tunekit_batch_size_count');
    const controller = new AbortController();
    const long = await fetch(url('/v1/completions'), { method: 'POST', signal: controller.signal, headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ model: stories, prompt: 'Once upon a time', max_tokens: 500, stream: true }) });
    const reader = (long.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /^data: /);
    // max_batch 1: the next request waits for a place, and with max_queue 1 the one after it is refused.
    const waiting = postJson(url('/v1/completions'), { model: stories, prompt: 'The cat', max_tokens: 5, temperature: 0 }, auth);
    await waitFor(async () => metric(await metrics(), 'tunekit_queue_depth') === 1, 5000, 'the second request to queue');
    const refused = await postJson(url('/v1/completions'), { model: stories, prompt: 'x', max_tokens: 5 }, auth);
    assert.equal(refused.status, 429);
    assert.deepEqual([refused.json.error.type, refused.json.error.code], ['rate_limit_error', 'queue_full']);
    controller.abort();
    const served = await waiting;
    assert.equal(served.status, 200);
    assert.equal(served.json.usage.completion_tokens, 5);
    const after = await metrics();
    const steps = metric(after, 'tunekit_batch_size_count') - stepsBefore;
    assert.ok(steps < 300, `the cancelled generation stopped early (${steps} steps in all, 500 asked)`);
    assert.equal(metric(after, 'tunekit_running_requests'), 0);
    assert.equal(metric(after, 'tunekit_queue_depth'), 0);
  });

  it('an adapter in use cannot be unloaded (409); a non-streamed request whose client leaves is cancelled too', async () => {
    assert.equal((await postJson(url('/v1/load_lora_adapter'), { lora_name: 'busy', lora_path: 'gamma' }, auth)).status, 200);
    const stepsBefore = metric(await metrics(), 'tunekit_batch_size_count');
    const controller = new AbortController();
    const pending = fetch(url('/v1/completions'), { method: 'POST', signal: controller.signal, headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'busy', prompt: 'Once upon a time', max_tokens: 500, temperature: 0 }) });
    await waitFor(async () => metric(await metrics(), 'tunekit_running_requests') === 1, 5000, 'the request to start decoding');
    const refused = await postJson(url('/v1/unload_lora_adapter'), { lora_name: 'busy' }, auth);
    assert.deepEqual([refused.status, refused.json.error.code], [409, 'adapter_in_use']);
    controller.abort();
    await assert.rejects(pending);
    await waitFor(async () => metric(await metrics(), 'tunekit_running_requests') === 0, 5000, 'the cancelled request to leave');
    const steps = metric(await metrics(), 'tunekit_batch_size_count') - stepsBefore;
    assert.ok(steps < 300, `the cancelled generation stopped early (${steps} steps, 500 asked)`);
    assert.equal((await postJson(url('/v1/unload_lora_adapter'), { lora_name: 'busy' }, auth)).status, 200);
  });

  it('/metrics is Prometheus text with requests, tokens, latency histograms, queue depth and batch size', async () => {
    const response = await fetch(url('/metrics'));
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    for (const name of ['tunekit_requests_total', 'tunekit_prompt_tokens_total', 'tunekit_generation_tokens_total', 'tunekit_request_duration_seconds', 'tunekit_time_to_first_token_seconds', 'tunekit_queue_depth', 'tunekit_batch_size']) {
      assert.match(text, new RegExp(`^# TYPE ${name} (counter|gauge|histogram)$`, 'm'));
    }
    assert.match(text, /^tunekit_requests_total\{route="\/v1\/completions",status="429"\} 1$/m);
    assert.match(text, /^tunekit_request_duration_seconds_bucket\{le="\+Inf"\} \d+$/m);
    assert.ok(metric(text, 'tunekit_generation_tokens_total') >= 17);

  });
});
