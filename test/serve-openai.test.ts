// The OpenAI endpoints against real clients on loopback (fetch, and the official `openai` Python package when it
// is installed): every greedy answer equals generate() on the same input, streamed or not, with or without an
// adapter, alone or batched with others.
import assert from 'node:assert/strict';

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generate, type GenerationOptions, type LanguageModel, loadModel, type OpenAIServer, PeftModel, startServer, tidy, type Tokenizer } from '../src/index.js';
import { hasShared, repoRoot } from './helpers/paths.js';
import { pythonHas } from './helpers/python.js';
import { postJson, saveNoisyLora, sseData, storiesWithChatTemplate } from './helpers/serve.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-serve-openai-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const EOS = 2;

describe('tunekit serve: OpenAI endpoints', { skip: hasShared ? false : 'no ../shared' }, () => {
  let server: OpenAIServer;
  let modelDir: string;
  let tokenizer: Tokenizer;
  let base: LanguageModel;
  let alpha: PeftModel;
  const url = (route: string) => server.url + route;

  before(async () => {
    modelDir = storiesWithChatTemplate(path.join(scratch, 'stories-chat'));
    const alphaDir = await saveNoisyLora(modelDir, path.join(scratch, 'alpha'), 1);
    const betaDir = await saveNoisyLora(modelDir, path.join(scratch, 'beta'), 2);
    server = await startServer({ model: modelDir, port: 0, adapters: [{ name: 'alpha', dir: alphaDir }, { name: 'beta', dir: betaDir }], maxBatch: 16 });
    const loaded = await loadModel(modelDir);
    tokenizer = loaded.tokenizer as Tokenizer;
    base = loaded.model;
    alpha = await PeftModel.fromPretrained((await loadModel(modelDir)).model, alphaDir);
  });
  after(async () => {
    await server?.close();
    base?.dispose();
    alpha?.dispose();
  });

  /** What generate() gives: the new ids up to and including EOS, the continuation's text, and why it ended. */
  function expected(model: LanguageModel, ids: number[], options: GenerationOptions) {
    const eosTokenIds = options.eosTokenIds ?? [EOS];
    const sequences = generate(model, { inputIds: [ids] }, { ...options, eosTokenIds }).sequences;
    return sequences.map((sequence) => {
      let tokens = sequence.slice(ids.length);
      const eos = tokens.findIndex((token) => eosTokenIds.includes(token));
      if (eos >= 0) tokens = tokens.slice(0, eos + 1);
      const shown = eos >= 0 ? tokens.slice(0, -1) : tokens;
      const whole = tokenizer.decode([...ids, ...shown], { skipSpecialTokens: true });
      const prompt = tokenizer.decode(ids, { skipSpecialTokens: true });
      assert.ok(whole.startsWith(prompt));
      return { tokens, text: whole.slice(prompt.length), finish: eos >= 0 ? 'stop' : 'length' };
    });
  }

  it('GET /v1/models lists the base and each adapter with parent and root, as vLLM does', async () => {
    const response = await fetch(url('/v1/models'));
    assert.equal(response.status, 200);
    const body = (await response.json()) as { object: string; data: Record<string, unknown>[] };
    assert.equal(body.object, 'list');
    assert.deepEqual(body.data.map((model) => [model.id, model.object, model.parent]), [[modelDir, 'model', null], ['alpha', 'model', modelDir], ['beta', 'model', modelDir]]);
    assert.equal(body.data[1].root, path.join(scratch, 'alpha'));
    assert.equal(body.data[0].max_model_len, 512);
    const one = await fetch(url('/v1/models/alpha'));
    assert.deepEqual(await one.json(), body.data[1]);
    assert.deepEqual(await (await fetch(url('/v1/models' + modelDir))).json(), body.data[0]);
    assert.equal((await fetch(url('/v1/models/gamma'))).status, 404);
  });

  it('a greedy completion equals generate(): text, usage and finish_reason, for text and token-id prompts', async () => {
    const ids = tokenizer.encode('Once upon a time');
    const [want] = expected(base, ids, { maxNewTokens: 20 });
    for (const prompt of ['Once upon a time', ids]) {
      const { status, json } = await postJson(url('/v1/completions'), { model: modelDir, prompt, max_tokens: 20, temperature: 0 });
      assert.equal(status, 200);
      assert.equal(json.object, 'text_completion');
      assert.match(json.id, /^cmpl-/);
      assert.equal(typeof json.created, 'number');
      assert.equal(json.model, modelDir);
      assert.deepEqual(json.choices, [{ index: 0, text: want.text, logprobs: null, finish_reason: 'length' }]);
      assert.deepEqual(json.usage, { prompt_tokens: ids.length, completion_tokens: 20, total_tokens: ids.length + 20 });
    }
  });

  it('a completion that reaches an end-of-sequence token ends with finish_reason "stop", the token counted and not shown', async () => {
    // stories260K never writes </s>, so a copy lists "." as a second end token in generation_config.json, as
    // chat models list their end-of-turn token; the server reads it from there, as `tunekit generate` does.
    const period = tokenizer.encode('.', { addSpecialTokens: false }).at(-1) as number;
    const dir = storiesWithChatTemplate(path.join(scratch, 'stories-period'));
    writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: [EOS, period] }));
    const ids = tokenizer.encode('Once upon a time');
    const [want] = expected(base, ids, { maxNewTokens: 40, eosTokenIds: [EOS, period] }).map((row) => ({ ...row, finish: row.tokens.at(-1) === period ? 'stop' : 'length' }));
    assert.equal(want.finish, 'stop');
    const periodServer = await startServer({ model: dir, port: 0 });
    try {
      const { json } = await postJson(periodServer.url + '/v1/completions', { model: dir, prompt: ids, max_tokens: 40, temperature: 0 });
      assert.equal(json.choices[0].finish_reason, 'stop');
      assert.equal(json.choices[0].text + '.', tokenizer.decode([...ids, ...want.tokens], { skipSpecialTokens: true }).slice(tokenizer.decode(ids, { skipSpecialTokens: true }).length));
      assert.equal(json.usage.completion_tokens, want.tokens.length);
      // Seeded choices that end at different steps draw what generate() draws: finished rows stay in the batch.
      const sampled = expected(base, ids, { maxNewTokens: 30, eosTokenIds: [EOS, period], doSample: true, seed: 3, numReturnSequences: 4 });
      assert.ok(new Set(sampled.map((row) => row.tokens.length)).size > 1, 'the choices end at different steps');
      const answer = await postJson(periodServer.url + '/v1/completions', { model: dir, prompt: ids, max_tokens: 30, seed: 3, n: 4 });
      assert.deepEqual(answer.json.choices.map((choice: { text: string }) => choice.text), sampled.map((row) => row.text));
      assert.equal(answer.json.usage.completion_tokens, sampled.reduce((sum, row) => sum + row.tokens.length, 0));
    } finally {
      await periodServer.close();
    }
  });

  it('the model field picks the adapter per request; adapters and base decode side by side and each equals generate() alone', async () => {
    const prompts = ['Once upon a time', 'The cat', 'Lily and Tom went to the park. They saw'];
    const asked = prompts.flatMap((prompt) => ['alpha', modelDir].map((model) => ({ prompt, model })));
    const answers = await Promise.all(asked.map(({ prompt, model }) => postJson(url('/v1/completions'), { model, prompt, max_tokens: 16, temperature: 0 })));
    asked.forEach(({ prompt, model }, index) => {
      const [want] = expected(model === 'alpha' ? alpha : base, tokenizer.encode(prompt), { maxNewTokens: 16 });
      assert.equal(answers[index].json.choices[0].text, want.text, `${model}: ${prompt}`);
    });
    const alphaText = answers[0].json.choices[0].text;
    assert.notEqual(alphaText, answers[1].json.choices[0].text, 'the adapter changes the answer');
  });

  it('a list of prompts of different lengths decodes as one batch, each choice equal to its prompt alone', async () => {
    const prompts = ['Once', 'The little dog ran to', 'She was happy because her mom gave her a', 'Tom'];
    const { json } = await postJson(url('/v1/completions'), { model: modelDir, prompt: prompts, max_tokens: 24, temperature: 0 });
    assert.equal(json.choices.length, prompts.length);
    let tokens = 0;
    prompts.forEach((prompt, index) => {
      const [want] = expected(base, tokenizer.encode(prompt), { maxNewTokens: 24 });
      assert.equal(json.choices[index].index, index);
      assert.equal(json.choices[index].text, want.text, prompt);
      assert.equal(json.choices[index].finish_reason, want.finish);
      tokens += want.tokens.length;
    });
    assert.equal(json.usage.completion_tokens, tokens);
    assert.equal(json.usage.prompt_tokens, prompts.reduce((sum, prompt) => sum + tokenizer.encode(prompt).length, 0));
    const metrics = await (await fetch(url('/metrics'))).text();
    const largest = Math.max(...[...metrics.matchAll(/^tunekit_batch_size_bucket\{le="(\d+)"\} (\d+)$/gm)].filter((m) => Number(m[2]) < Number(/tunekit_batch_size_count (\d+)/.exec(metrics)?.[1])).map((m) => Number(m[1])));
    assert.ok(largest >= 2, `some step decoded several rows:\n${metrics}`);
  });

  it('streaming sends the same text token by token, then the usage chunk (include_usage), then [DONE]', async () => {
    const body = { model: 'alpha', prompt: 'Once upon a time', max_tokens: 12, temperature: 0 };
    const whole = await postJson(url('/v1/completions'), body);
    const response = await fetch(url('/v1/completions'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }) });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = sseData(await response.text());
    assert.equal(events.at(-1), '[DONE]');
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event));
    const usageChunk = chunks.at(-1);
    assert.deepEqual(usageChunk.choices, []);
    assert.deepEqual(usageChunk.usage, whole.json.usage);
    const textChunks = chunks.slice(0, -1);
    assert.ok(textChunks.length >= 10, 'one chunk per token');
    for (const chunk of textChunks) {
      assert.equal(chunk.object, 'text_completion');
      assert.equal(chunk.usage, null);
      assert.equal(chunk.id, usageChunk.id);
    }
    assert.equal(textChunks.map((chunk) => chunk.choices[0].text).join(''), whole.json.choices[0].text);
    assert.equal(textChunks.at(-1).choices[0].finish_reason, 'length');
    assert.ok(textChunks.slice(0, -1).every((chunk) => chunk.choices[0].finish_reason === null));
  });

  it('n choices of several prompts stream interleaved by index, each equal to its choice in the whole answer', async () => {
    const body = { model: 'beta', prompt: ['Once upon a time', 'The cat'], n: 2, max_tokens: 8, temperature: 0 };
    const whole = await postJson(url('/v1/completions'), body);
    assert.deepEqual(whole.json.choices.map((choice: { index: number }) => choice.index), [0, 1, 2, 3]);
    assert.equal(whole.json.choices[0].text, whole.json.choices[1].text, 'greedy choices of one prompt agree');
    const response = await fetch(url('/v1/completions'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
    const chunks = sseData(await response.text()).slice(0, -1).map((event) => JSON.parse(event));
    for (const index of [0, 1, 2, 3]) {
      const mine = chunks.filter((chunk) => chunk.choices[0].index === index);
      assert.equal(mine.map((chunk) => chunk.choices[0].text).join(''), whole.json.choices[index].text);
      assert.equal(mine.at(-1).choices[0].finish_reason, 'length');
    }
    assert.deepEqual(whole.json.usage.completion_tokens, 32);
  });

  it("chat completions render the model's chat template and equal generate() on its ids, streamed and not", async () => {
    const messages = [{ role: 'user', content: 'Tell me a story about a cat.' }];
    const ids = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true, tokenize: true });
    const [want] = expected(base, ids, { maxNewTokens: 16 });
    const { status, json } = await postJson(url('/v1/chat/completions'), { model: modelDir, messages, max_tokens: 16, temperature: 0 });
    assert.equal(status, 200);
    assert.equal(json.object, 'chat.completion');
    assert.match(json.id, /^chatcmpl-/);
    assert.deepEqual(json.choices, [{ index: 0, message: { role: 'assistant', content: want.text }, logprobs: null, finish_reason: want.finish }]);
    assert.deepEqual(json.usage, { prompt_tokens: ids.length, completion_tokens: want.tokens.length, total_tokens: ids.length + want.tokens.length });

    const response = await fetch(url('/v1/chat/completions'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: modelDir, messages: [{ role: 'user', content: [{ type: 'text', text: 'Tell me a story' }, { type: 'text', text: ' about a cat.' }] }], max_completion_tokens: 16, temperature: 0, stream: true }) });
    const events = sseData(await response.text());
    assert.equal(events.at(-1), '[DONE]');
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event));
    assert.ok(chunks.every((chunk) => chunk.object === 'chat.completion.chunk' && chunk.usage === undefined));
    assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' });
    assert.equal(chunks.map((chunk) => chunk.choices[0].delta.content ?? '').join(''), want.text);
    assert.deepEqual(chunks.at(-1).choices[0], { index: 0, delta: {}, logprobs: null, finish_reason: want.finish });
  });

  it('stop strings end the text before the stop string, streamed or not, with finish_reason "stop"', async () => {
    const ids = tokenizer.encode('Once upon a time');
    const [want] = expected(base, ids, { maxNewTokens: 40 });
    const stop = ' was';
    const cut = want.text.indexOf(stop);
    assert.ok(cut > 0, want.text);
    const body = { model: modelDir, prompt: 'Once upon a time', max_tokens: 40, temperature: 0, stop: [stop, 'zzz'] };
    const { json } = await postJson(url('/v1/completions'), body);
    assert.equal(json.choices[0].text, want.text.slice(0, cut));
    assert.equal(json.choices[0].finish_reason, 'stop');
    const streamed = await fetch(url('/v1/completions'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
    const chunks = sseData(await streamed.text()).slice(0, -1).map((event) => JSON.parse(event));
    assert.equal(chunks.map((chunk) => chunk.choices[0].text).join(''), want.text.slice(0, cut));
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
  });

  it('logprobs: the chosen token and the top alternatives with log-probabilities of the model, in both shapes', async () => {
    const ids = tokenizer.encode('Once upon a time');
    const { json } = await postJson(url('/v1/completions'), { model: modelDir, prompt: ids, max_tokens: 3, temperature: 0, logprobs: 3 });
    const logprobs = json.choices[0].logprobs;
    const first = tidy(() => base.logits({ inputIds: [ids] }).select(1, ids.length - 1).logSoftmax(-1).toFlatArray());
    const best = first.indexOf(Math.max(...first));
    assert.ok(Math.abs(logprobs.token_logprobs[0] - first[best]) < 1e-5);
    assert.equal(logprobs.tokens.join(''), json.choices[0].text);
    assert.deepEqual(logprobs.text_offset, [0, logprobs.tokens[0].length, logprobs.tokens[0].length + logprobs.tokens[1].length]);
    for (const [index, top] of logprobs.top_logprobs.entries()) {
      const values = Object.values(top) as number[];
      assert.ok(values.length >= 1 && values.length <= 3);
      assert.equal(Math.max(...values), logprobs.token_logprobs[index], 'greedy picks the most likely token');
    }
    const chat = await postJson(url('/v1/chat/completions'), { model: modelDir, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2, temperature: 0, logprobs: true, top_logprobs: 2 });
    const content = chat.json.choices[0].logprobs.content;
    assert.equal(content.length, 2);
    assert.deepEqual(Object.keys(content[0]).sort(), ['bytes', 'logprob', 'token', 'top_logprobs']);
    assert.deepEqual(content[0].bytes, [...Buffer.from(content[0].token, 'utf8')]);
    assert.equal(content[0].top_logprobs.length, 2);
    assert.equal(content[0].top_logprobs[0].logprob, content[0].logprob);
  });

  it('sampling with a seed equals generate() with that seed, n choices as numReturnSequences; temperature and top_p apply', async () => {
    const ids = tokenizer.encode('Once upon a time');
    const wanted = expected(base, ids, { maxNewTokens: 12, doSample: true, temperature: 0.9, topP: 0.8, seed: 7, numReturnSequences: 3 });
    const body = { model: modelDir, prompt: 'Once upon a time', max_tokens: 12, temperature: 0.9, top_p: 0.8, seed: 7, n: 3 };
    const { json } = await postJson(url('/v1/completions'), body);
    assert.deepEqual(json.choices.map((choice: { text: string }) => choice.text), wanted.map((want) => want.text));
    assert.deepEqual(json.choices.map((choice: { index: number }) => choice.index), [0, 1, 2]);
    const again = await postJson(url('/v1/completions'), body);
    assert.deepEqual(again.json.choices, json.choices);
    const other = await postJson(url('/v1/completions'), { ...body, seed: 8 });
    assert.notDeepEqual(other.json.choices, json.choices);
  });

  it("every response object has the key structure and value types of OpenAI's reference examples (recorded fixture)", async () => {
    const fixture = JSON.parse(readFileSync(path.join(repoRoot, 'test', 'fixtures', 'serve', 'openai-shapes.json'), 'utf8'));
    /** Keys and value types, recursively (arrays by their first item; null kept apart). */
    const shape = (value: unknown): unknown => {
      if (value === null) return 'null';
      if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])];
      if (typeof value === 'object') return Object.fromEntries(Object.entries(value as object).sort(([a], [b]) => a.localeCompare(b)).map(([key, item]) => [key, shape(item)]));
      return typeof value;
    };
    const same = (ours: unknown, theirs: unknown, what: string) => assert.deepEqual(shape(ours), shape(theirs), what);
    const completion = await postJson(url('/v1/completions'), { model: modelDir, prompt: 'Once', max_tokens: 3, temperature: 0 });
    same(completion.json, fixture.completion, 'completion');
    const withLogprobs = await postJson(url('/v1/completions'), { model: modelDir, prompt: 'Once', max_tokens: 3, temperature: 0, logprobs: 1 });
    // top_logprobs maps token text to a log-probability: its keys are data, so only its values' types count.
    const tokenMaps = (logprobs: { top_logprobs: Record<string, number>[] }) => ({ ...logprobs, top_logprobs: logprobs.top_logprobs.map((map) => Object.values(map)) });
    same(tokenMaps(withLogprobs.json.choices[0].logprobs), tokenMaps(fixture.completion_logprobs), 'completion logprobs');
    const completionStream = await fetch(url('/v1/completions'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: modelDir, prompt: 'Once', max_tokens: 3, temperature: 0, stream: true }) });
    same(JSON.parse(sseData(await completionStream.text())[0]), fixture.completion_chunk, 'completion chunk');
    const chat = await postJson(url('/v1/chat/completions'), { model: modelDir, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, temperature: 0, logprobs: true, top_logprobs: 1 });
    same({ ...chat.json, choices: [{ ...chat.json.choices[0], logprobs: null }] }, fixture.chat, 'chat');
    same(chat.json.choices[0].logprobs, fixture.chat_logprobs, 'chat logprobs');
    const chatStream = await fetch(url('/v1/chat/completions'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: modelDir, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, temperature: 0, stream: true, stream_options: { include_usage: true } }) });
    const chunks = sseData(await chatStream.text()).slice(0, -1).map((event) => JSON.parse(event));
    const withoutUsage = ({ usage, ...rest }: Record<string, unknown>) => (assert.equal(usage, null), rest);
    same(withoutUsage(chunks[0]), fixture.chat_chunk, 'chat chunk');
    same(chunks.at(-1), fixture.usage_chunk, 'usage chunk');
    same((await postJson(url('/v1/completions'), { model: 'gpt-5', prompt: 'x' })).json, { error: { ...fixture.error.error, param: 'model' } }, 'error');
    const models = (await (await fetch(url('/v1/models'))).json()) as { data: Record<string, unknown>[] };
    const baseCard = Object.fromEntries(Object.entries(models.data[0]).filter(([key]) => !['root', 'parent', 'max_model_len'].includes(key)));
    same({ ...models, data: [baseCard] }, fixture.model_list, 'model list (less vLLM\'s root, parent, max_model_len)');
  });

  it('bad requests get 400 with OpenAI\'s error body naming the field', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ prompt: 'x' }, 'model', /model is required/],
      [{ model: modelDir }, 'prompt', /prompt is required/],
      [{ model: modelDir, prompt: 'x', max_tokens: '5' }, 'max_tokens', /must be of type integer/],
      [{ model: modelDir, prompt: 'x', max_tokens: 0 }, 'max_tokens', /max_tokens/],
      [{ model: modelDir, prompt: 'x', max_tokens: 1.5 }, 'max_tokens', /integer/],
      [{ model: modelDir, prompt: 'x', temperature: 3 }, 'temperature', /temperature/],
      [{ model: modelDir, prompt: 'x', n: 0 }, 'n', /n/],
      [{ model: modelDir, prompt: { text: 'x' } }, 'prompt', /a string, a list of strings/],
      [{ model: modelDir, prompt: 'x', stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop', /up to 4/],
      [{ model: modelDir, prompt: 'x', wat: 1 }, 'wat', /unrecognized request argument supplied: wat/],
      [{ model: modelDir, prompt: 'x', presence_penalty: 1 }, 'presence_penalty', /not supported/],
      [{ model: modelDir, prompt: [1, 2, 99999] }, 'prompt', /99999/],
      [{ model: modelDir, prompt: Array.from({ length: 600 }, () => 5) }, 'prompt', /maximum context length is 512/],
      [{ model: modelDir, prompt: [1, 5], max_tokens: 511 }, 'max_tokens', /maximum context length is 512 tokens\. However, you requested 513/],
      [{ model: modelDir, prompt: 'x', stream_options: { include_usage: true } }, 'stream_options', /only allowed when stream is true/],
      [{ model: modelDir, prompt: ['a', 'b', 'c'], n: 6 }, 'n', /needs 18 sequences .* at most 16/],
    ];
    for (const [body, param, message] of cases) {
      const { status, json } = await postJson(url('/v1/completions'), body);
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(json.error.param, param, JSON.stringify(json));
      assert.equal(json.error.type, 'invalid_request_error');
      assert.match(json.error.message, message);
      assert.deepEqual(Object.keys(json.error).sort(), ['code', 'message', 'param', 'type']);
    }
    const chat = await postJson(url('/v1/chat/completions'), { model: modelDir, messages: [{ role: 'user', content: 5 }] });
    assert.equal(chat.status, 400);
    assert.equal(chat.json.error.param, 'messages[0].content');
    const wrongRole = await postJson(url('/v1/chat/completions'), { model: modelDir, messages: [{ role: 'wizard', content: 'hi' }] });
    assert.equal(wrongRole.json.error.param, 'messages[0].role');
    const notJson = await fetch(url('/v1/completions'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": ' });
    assert.equal(notJson.status, 400);
    assert.equal(((await notJson.json()) as { error: { code: string } }).error.code, 'invalid_json');
  });

  it('random bodies get a completion or an OpenAI error body, never a server error', async () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const pick = <T,>(items: T[]): T => items[Math.floor(random() * items.length)];
    const values: Record<string, unknown[]> = {
      model: [modelDir, 'alpha', 'nope', 5, null, ''],
      prompt: ['Once', [1, 5], [[1, 5], [2]], [], [-1], 'x'.repeat(3000), { a: 1 }, null, [1.5], ['a', 7]],
      messages: [[{ role: 'user', content: 'Hi' }], [], [{ role: 'user' }], [{ content: 'x' }], 'Hi', [{ role: 'user', content: [{ type: 'image_url' }] }]],
      max_tokens: [1, 2, 3, 0, -1, 'x', null, 1e12, 2.5],
      temperature: [0, 0.5, 1, 2.5, -1, 'hot', null],
      top_p: [0, 0.5, 1, 1.5, null],
      n: [1, 2, 0, 200, '2'],
      stop: ['.', ['a', 'b'], [1], '', null, ['a', 'b', 'c', 'd', 'e']],
      stream: [true, false, 'yes', null],
      seed: [1, -5, 1.5, 'x', null],
      logprobs: [0, 3, 9, true, null],
      top_logprobs: [0, 2, 30, null],
      extra_field: [1],
    };
    for (let round = 0; round < 60; round++) {
      const route = pick(['/v1/completions', '/v1/chat/completions']);
      const body: Record<string, unknown> = {};
      for (const [field, options] of Object.entries(values)) if (random() < 0.45) body[field] = pick(options);
      const response = await fetch(url(route), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const text = await response.text();
      assert.ok([200, 400, 404].includes(response.status), `${route} ${JSON.stringify(body)} → ${response.status} ${text.slice(0, 300)}`);
      if (response.status !== 200) {
        const error = (JSON.parse(text) as { error: Record<string, unknown> }).error;
        assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'param', 'type'], text);
        assert.equal(typeof error.message, 'string');
      }
    }
  });

  it('an unknown model is 404 model_not_found; unknown routes are 404; oversized bodies 413, all with the error body', async () => {
    const unknown = await postJson(url('/v1/completions'), { model: 'gamma', prompt: 'x' });
    assert.equal(unknown.status, 404);
    assert.deepEqual([unknown.json.error.param, unknown.json.error.code], ['model', 'model_not_found']);
    const route = await fetch(url('/v1/embeddings'), { method: 'POST' });
    assert.equal(route.status, 404);
    assert.equal(((await route.json()) as { error: { code: string } }).error.code, 'unknown_url');
    const huge = await postJson(url('/v1/completions'), { model: modelDir, prompt: 'x'.repeat(2 * 1024 * 1024) });
    assert.equal(huge.status, 413);
    assert.equal(huge.json.error.code, 'body_too_large');
  });

  it('the official openai Python client gets the same answers', { skip: pythonHas('openai') ? false : 'the openai Python package is not installed' }, async () => {
    const script = path.join(scratch, 'client.py');
    writeFileSync(
      script,
      [
        'import json, sys',
        'from openai import OpenAI, NotFoundError, BadRequestError',
        'client = OpenAI(base_url=sys.argv[1] + "/v1", api_key="unused", max_retries=0)',
        'model = sys.argv[2]',
        'out = {}',
        'out["models"] = [m.id for m in client.models.list().data]',
        'c = client.completions.create(model="alpha", prompt="Once upon a time", max_tokens=12, temperature=0)',
        'out["completion"] = [c.choices[0].text, c.choices[0].finish_reason, c.usage.completion_tokens]',
        'out["stream"] = "".join(ch.choices[0].text for ch in client.completions.create(model="alpha", prompt="Once upon a time", max_tokens=12, temperature=0, stream=True))',
        'm = [{"role": "user", "content": "Tell me a story about a cat."}]',
        'r = client.chat.completions.create(model=model, messages=m, max_tokens=16, temperature=0)',
        'out["chat"] = [r.choices[0].message.content, r.choices[0].finish_reason]',
        'parts, usage = [], None',
        'for ch in client.chat.completions.create(model=model, messages=m, max_tokens=16, temperature=0, stream=True, stream_options={"include_usage": True}):',
        '    if ch.usage is not None: usage = ch.usage.total_tokens',
        '    if ch.choices and ch.choices[0].delta.content: parts.append(ch.choices[0].delta.content)',
        'out["chat_stream"] = ["".join(parts), usage]',
        'try:',
        '    client.completions.create(model="nope", prompt="x")',
        'except NotFoundError as e: out["not_found"] = e.body["code"] if isinstance(e.body, dict) else str(e.body)',
        'try:',
        '    client.completions.create(model=model, prompt="x", max_tokens=0)',
        'except BadRequestError as e: out["bad"] = e.body["param"] if isinstance(e.body, dict) else str(e.body)',
        'print(json.dumps(out))',
      ].join('\n'),
    );
    const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      // Run asynchronously: the server answers on this thread's event loop.
      import('node:child_process').then(({ execFile }) =>
        execFile(process.env.PYTHON ?? 'python3', [script, server.url, modelDir], { timeout: 30000 }, (error, stdout, stderr) => resolve({ status: error === null ? 0 : 1, stdout, stderr })),
      );
    });
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout);
    assert.deepEqual(out.models, [modelDir, 'alpha', 'beta']);
    const [want] = expected(alpha, tokenizer.encode('Once upon a time'), { maxNewTokens: 12 });
    assert.deepEqual(out.completion, [want.text, 'length', 12]);
    assert.equal(out.stream, want.text);
    const ids = tokenizer.applyChatTemplate([{ role: 'user', content: 'Tell me a story about a cat.' }], { addGenerationPrompt: true, tokenize: true });
    const [chat] = expected(base, ids, { maxNewTokens: 16 });
    assert.deepEqual(out.chat, [chat.text, chat.finish]);
    assert.deepEqual(out.chat_stream, [chat.text, ids.length + chat.tokens.length]);
    assert.equal(out.not_found, 'model_not_found');
    assert.equal(out.bad, 'max_tokens');
  });
});

