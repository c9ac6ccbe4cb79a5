// Continuous batching: requests join a running batch between steps and leave it when done, and every row
// decodes exactly what generate() gives the same prompt alone.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CausalLM, generate, inferenceMode, type LanguageModel, loadModel, memory, type OpenAIServer, PeftModel, startServer, tidy, type Tokenizer } from '../src/index.js';
import { JoinableSession } from '../src/serve/joinable-session.js';
import { hasShared } from './helpers/paths.js';
import { postJson, saveNoisyLora, sseData, stories } from './helpers/serve.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-serve-batching-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** generate()'s greedy continuation of `ids`, `count` tokens, no end token. */
function alone(model: LanguageModel, ids: number[], count: number): number[] {
  return generate(model, { inputIds: [ids] }, { maxNewTokens: count, eosTokenIds: [] }).sequences[0].slice(ids.length);
}

describe('continuous batching', { skip: hasShared ? false : 'no ../shared' }, () => {
  let model: CausalLM;
  let tokenizer: Tokenizer;
  before(async () => {
    const loaded = await loadModel(stories);
    model = loaded.model as CausalLM;
    tokenizer = loaded.tokenizer as Tokenizer;
  });
  after(() => model?.dispose());

  it('rows that join at different steps, with different prompt lengths, and leave early each equal generate() alone', () => {
    const prompts = ['Once upon a time', 'The dog', 'Lily and her mom went to the big park to play', 'Tom'].map((text) => tokenizer.encode(text));
    const joinAt = [0, 0, 3, 7];
    const lengths = [20, 6, 18, 9];
    const live = memory().liveTensors;
    const got: number[][] = prompts.map(() => []);
    inferenceMode(() => {
      const session = new JoinableSession(model);
      let rows: number[] = [];
      let last: number[] | null = null;
      for (let step = 0; step < 30 && (rows.length > 0 || step <= Math.max(...joinAt)); step++) {
        const joining = prompts.map((_, r) => r).filter((r) => joinAt[r] === step);
        const tokens = tidy(() => session.advance(rows.length > 0 ? last : null, joining.map((r) => prompts[r])).argmax(-1).toFlatArray());
        rows = [...rows, ...joining];
        rows.forEach((r, i) => got[r].push(tokens[i]));
        const keep = rows.map((_, i) => i).filter((i) => got[rows[i]].length < lengths[rows[i]]);
        if (keep.length < rows.length && keep.length > 0) session.select(keep);
        last = keep.map((i) => tokens[i]);
        rows = keep.map((i) => rows[i]);
        if (rows.length === 0 && step >= Math.max(...joinAt)) break;
      }
      session.dispose();
    });
    prompts.forEach((ids, r) => assert.deepEqual(got[r], alone(model, ids, lengths[r]), `row ${r}`));
    assert.equal(memory().liveTensors, live, 'the session frees its cache');
  });

  it('padding no row needs is trimmed when rows leave', () => {
    inferenceMode(() => {
      const session = new JoinableSession(model);
      const long = tokenizer.encode('Lily and her mom went to the big park to play');
      const short = tokenizer.encode('Tom');
      let tokens = tidy(() => session.advance(null, [long, short]).argmax(-1).toFlatArray());
      assert.equal(session.width, long.length);
      session.select([1]);
      assert.equal(session.width, short.length, 'the short row alone needs none of the padding');
      tokens = tidy(() => session.advance([tokens[1]], []).argmax(-1).toFlatArray());
      assert.equal(session.width, short.length + 1);
      assert.equal(tokens.length, 1);
      session.dispose();
    });
  });

  it('PeftModel.withRowAdapters: one batch with base and LoRA rows gives each row its own adapter\'s logits', async () => {
    const peft = await PeftModel.fromPretrained((await loadModel(stories)).model, await saveNoisyLora(stories, path.join(scratch, 'row-a'), 21), { adapterName: 'a' });
    await peft.loadAdapter(await saveNoisyLora(stories, path.join(scratch, 'row-b'), 22), 'b');
    const ids = tokenizer.encode('Once upon a time');
    const rows = ['a', null, 'b', 'a'];
    const mixed = tidy(() => peft.withRowAdapters(rows, () => peft.logits({ inputIds: rows.map(() => ids) })).toFloat32Array());
    const width = mixed.length / rows.length;
    rows.forEach((adapter, r) => {
      const single = tidy(() => peft.withAdapter(adapter, () => peft.logits({ inputIds: [ids] })).toFloat32Array());
      const row = mixed.subarray(r * width, (r + 1) * width);
      const worst = single.reduce((max, value, i) => Math.max(max, Math.abs(value - row[i])), 0);
      assert.ok(worst < 1e-4, `row ${r} (${adapter}) differs by ${worst} (batched float rounding only)`);
    });
    assert.equal(peft.activeAdapter, 'b', 'the active adapter is restored');
    assert.throws(() => peft.withRowAdapters(['nope'], () => 0), /no adapter named "nope"/);
    peft.dispose();
  });

  describe('in the server', () => {
    let server: OpenAIServer;
    let alpha: PeftModel;
    before(async () => {
      const alphaDir = await saveNoisyLora(stories, path.join(scratch, 'alpha'), 11);
      server = await startServer({ model: stories, port: 0, adapters: [{ name: 'alpha', dir: alphaDir }], maxBatch: 8 });
      alpha = await PeftModel.fromPretrained((await loadModel(stories)).model, alphaDir);
    });
    after(async () => {
      await server?.close();
      alpha?.dispose();
    });

    it('requests arriving while others decode join the running batch, and each answer equals generate() alone', async () => {
      const liveTensors = async () => Number(/^tunekit_worker_live_tensors (\S+)$/m.exec(await (await fetch(server.url + '/metrics')).text())?.[1]);
      await postJson(server.url + '/v1/completions', { model: 'alpha', prompt: 'Once', max_tokens: 2, temperature: 0 });
      const baseline = await liveTensors();
      assert.ok(baseline > 0);
      const first = await fetch(server.url + '/v1/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: stories, prompt: 'Once upon a time', max_tokens: 48, temperature: 0, stream: true }) });
      const reader = (first.body as ReadableStream<Uint8Array>).getReader();
      let streamed = new TextDecoder().decode((await reader.read()).value);
      // The last two sample (no seed) and join too; top_p this small keeps only the likeliest token, so through
      // the sampling path they must still equal greedy decoding.
      const later = [
        { model: stories, prompt: 'The dog', temperature: 0 },
        { model: 'alpha', prompt: 'The dog', temperature: 0 },
        { model: stories, prompt: 'Lily and her mom went to the big park to play', temperature: 1, top_p: 1e-9 },
        { model: 'alpha', prompt: 'Tom', temperature: 0.7, top_p: 1e-9 },
      ];
      const free = postJson(server.url + '/v1/completions', { model: 'alpha', prompt: 'Tom', max_tokens: 16 });
      const answers = await Promise.all(later.map((body) => postJson(server.url + '/v1/completions', { ...body, max_tokens: 16 })));
      const sampled = await free;
      assert.deepEqual([sampled.status, sampled.json.usage?.completion_tokens], [200, 16], JSON.stringify(sampled.json));
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        streamed += new TextDecoder().decode(value);
      }
      const decodeNew = (ids: number[], tokens: number[]) => tokenizer.decode([...ids, ...tokens], { skipSpecialTokens: true }).slice(tokenizer.decode(ids, { skipSpecialTokens: true }).length);
      later.forEach((body, index) => {
        const ids = tokenizer.encode(body.prompt);
        assert.equal(answers[index].json.choices[0].text, decodeNew(ids, alone(body.model === 'alpha' ? alpha : model, ids, 16)), `${body.model}: ${body.prompt}`);
      });
      const ids = tokenizer.encode('Once upon a time');
      const chunks = sseData(streamed).slice(0, -1).map((event) => JSON.parse(event));
      assert.equal(chunks.map((chunk) => chunk.choices[0].text).join(''), decodeNew(ids, alone(model, ids, 48)));
      const metrics = await (await fetch(server.url + '/metrics')).text();
      const rowsSum = Number(/^tunekit_batch_size_sum (\S+)$/m.exec(metrics)?.[1]);
      const steps = Number(/^tunekit_batch_size_count (\S+)$/m.exec(metrics)?.[1]);
      assert.ok(rowsSum > steps * 1.3, `rows were decoded together (${rowsSum} rows in ${steps} steps)`);
      // Batches, merged caches and per-row masks are all freed: the worker holds what it held before.
      const deadline = Date.now() + 2000;
      while ((await liveTensors()) !== baseline && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(await liveTensors(), baseline);
    });
  });
});
