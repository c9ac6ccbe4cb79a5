// The server beyond decoder-only batches: a seq2seq model (T5) and a soft-prompt adapter decode in fixed
// batches; with token-id prompts (these reference models have no tokenizer) every answer equals generate().
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generate, type LanguageModel, loadModel, type OpenAIServer, PeftModel, startServer } from '../src/index.js';
import { hasShared, sharedDir } from './helpers/paths.js';
import { postJson } from './helpers/serve.js';

const tiny = path.join(sharedDir, 'reference', 'models', 'hf-tiny');

/** The ids generate() adds after the prefix, up to and including the first end token. */
function newTokens(model: LanguageModel, ids: number[], count: number): number[] {
  const sequence = generate(model, { inputIds: [ids] }, { maxNewTokens: count }).sequences[0];
  const added = sequence.slice(model.kind === 'causal' ? ids.length : 1);
  const end = added.findIndex((id) => model.config.eosTokenIds.includes(id));
  return end < 0 ? added : added.slice(0, end + 1);
}

describe('tunekit serve with T5 and a soft prompt', { skip: hasShared ? false : 'no ../shared' }, () => {
  const servers: OpenAIServer[] = [];
  after(() => Promise.all(servers.map((server) => server.close())));

  describe('a T5 model', () => {
    let server: OpenAIServer;
    let model: LanguageModel;
    const dir = path.join(tiny, 't5_flan');
    before(async () => {
      server = await startServer({ model: dir, port: 0 });
      servers.push(server);
      model = (await loadModel(dir)).model;
    });

    it('greedy completions of token-id prompts (one and several) equal generate(); chat is refused without a template', async () => {
      const prompts = [[5, 9, 13, 2], [7, 2]];
      const { status, json } = await postJson(server.url + '/v1/completions', { model: dir, prompt: prompts, max_tokens: 8, temperature: 0, logprobs: 0, return_tokens_as_token_ids: true });
      assert.equal(status, 200, JSON.stringify(json));
      prompts.forEach((ids, index) => {
        const want = newTokens(model, ids, 8);
        assert.deepEqual(json.choices[index].logprobs.tokens, want.map((id) => `token_id:${id}`));
        assert.equal(json.choices[index].finish_reason, want.length < 8 ? 'stop' : 'length');
      });
      assert.equal(json.usage.completion_tokens, prompts.reduce((sum, ids) => sum + newTokens(model, ids, 8).length, 0));
      assert.equal(json.usage.prompt_tokens, 6);
      const tooMany = await postJson(server.url + '/v1/completions', { model: dir, prompt: [5, 2], max_tokens: 100000 });
      assert.deepEqual([tooMany.status, tooMany.json.error.param], [400, 'max_tokens']);
      const text = await postJson(server.url + '/v1/completions', { model: dir, prompt: 'hello' });
      assert.deepEqual([text.status, text.json.error.param], [400, 'prompt']);
      const chat = await postJson(server.url + '/v1/chat/completions', { model: dir, messages: [{ role: 'user', content: 'hi' }] });
      assert.deepEqual([chat.status, chat.json.error.param], [400, 'messages']);
    });
  });

  describe('a Llama with a prompt-tuning adapter', () => {
    let server: OpenAIServer;
    let peft: PeftModel;
    const dir = path.join(tiny, 'llama');
    const adapter = path.join(dir, 'adapters', 'prompt_tuning');
    before(async () => {
      server = await startServer({ model: dir, port: 0, adapters: [{ name: 'soft', dir: adapter }] });
      servers.push(server);
      peft = await PeftModel.fromPretrained((await loadModel(dir)).model, adapter);
    });

    it('the soft prompt applies per request; its answers and the base\'s, requested together, equal generate()', async () => {
      const ids = [1, 5, 9, 13];
      const [soft, bare] = await Promise.all(['soft', dir].map((model) => postJson(server.url + '/v1/completions', { model, prompt: ids, max_tokens: 6, temperature: 0, logprobs: 1, return_tokens_as_token_ids: true })));
      const tokensOf = (json: { choices: { logprobs: { tokens: string[] } }[] }) => json.choices[0].logprobs.tokens;
      const asNames = (tokens: number[]) => tokens.map((id) => `token_id:${id}`);
      assert.deepEqual(tokensOf(soft.json), asNames(newTokens(peft, ids, 6)));
      assert.deepEqual(tokensOf(bare.json), asNames(peft.withAdapter(null, () => newTokens(peft, ids, 6))));
      assert.notDeepEqual(tokensOf(soft.json), tokensOf(bare.json));
    });
  });
});
