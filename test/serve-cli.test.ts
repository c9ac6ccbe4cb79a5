// `tunekit serve` as a process: JSON lines on stdout, /health answering while the model thread decodes, and
// SIGTERM draining the requests in flight before the process exits.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { hasShared, repoRoot } from './helpers/paths.js';
import { saveNoisyLora, sseData, stories } from './helpers/serve.js';

const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-serve-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('tunekit serve (the verb)', { skip: hasShared ? false : 'no ../shared' }, () => {
  it('refuses unknown flags and malformed --adapter values with one line and exit code 1', async () => {
    const cases = [
      [['--modle', stories], /^tunekit: unknown flag --modle \(did you mean --model\?\); see --help$/],
      [['--model', stories, '--adapter', 'no-equals-sign'], /^tunekit: --adapter expects name=DIR/],
      [['--model', stories, '--port', '70000'], /^tunekit: --port expects an integer ≥ 0 and ≤ 65535, got "70000"$/],
      [['--model', stories, '--api-key', 'short'], /^tunekit: --api-key must be at least 8 characters$/],
    ] as const;
    // In parallel: each run loads libtorch before it reads its flags.
    const results = await Promise.all(
      cases.map(([args]) => new Promise<{ code: number | null; stderr: string }>((resolve) => execFile(process.execPath, [cli, 'serve', ...args], (error, _stdout, stderr) => resolve({ code: error === null ? 0 : (error.code as number), stderr })))),
    );
    results.forEach(({ code, stderr }, index) => {
      assert.equal(code, 1, stderr);
      assert.match(stderr.trimEnd(), cases[index][1]);
    });
  });

  it('serves, answers /health while decoding, and on SIGTERM finishes the stream in flight, then exits 0', async () => {
    const adapter = await saveNoisyLora(stories, path.join(scratch, 'alpha'), 5);
    const child = spawn(process.execPath, [cli, 'serve', '--model', stories, '--served-model-name', 'tiny-stories', '--port', '0', '--adapter', `alpha=${adapter}`], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TUNEKIT_THREADS: '1' } });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const lines: Record<string, unknown>[] = [];
    const reader = createInterface({ input: child.stdout });
    const listening = new Promise<string>((resolve, reject) => {
      reader.on('line', (line) => {
        const record = JSON.parse(line) as Record<string, unknown>;
        lines.push(record);
        if (record.event === 'listening') resolve(record.url as string);
      });
      child.on('exit', () => reject(new Error(`the server exited before listening: ${stderr}`)));
    });
    try {
      const url = await listening;
      assert.deepEqual([lines[0].model, lines[0].adapters], ['tiny-stories', ['alpha']]);
      // What `tunekit generate` prints for the same settings is what the server answers.
      const settings = [[['--adapter', adapter], 'alpha']] as const;
      const printed = await Promise.all(
        settings.map(
          ([flags]) =>
            new Promise<string>((resolve, reject) =>
              execFile(process.execPath, [cli, 'generate', '--model', stories, ...flags, '--prompt', 'Once upon a time', '--max-new-tokens', '12', '--json'], (error, stdout) => (error === null ? resolve((JSON.parse(stdout) as { text: string }).text) : reject(error))),
            ),
        ),
      );
      for (const [index, [, model]] of settings.entries()) {
        const answer = (await (await fetch(url + '/v1/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, prompt: 'Once upon a time', max_tokens: 12, temperature: 0 }) })).json()) as { choices: { text: string }[] };
        assert.equal('Once upon a time' + answer.choices[0].text, printed[index], model);
      }
      const response = await fetch(url + '/v1/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny-stories', prompt: 'Once upon a time', max_tokens: 300, temperature: 0, stream: true, stream_options: { include_usage: true } }) });
      const body = (response.body as ReadableStream<Uint8Array>).getReader();
      let text = new TextDecoder().decode((await body.read()).value);
      const started = performance.now();
      const health = await fetch(url + '/health');
      const healthMs = performance.now() - started;
      assert.equal(health.status, 200);
      assert.ok(healthMs < 500, `/health took ${healthMs} ms while the model thread was decoding`);
      child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 100));
      // While draining, new work is not taken: a new connection is refused, a kept-alive one answered 503.
      const during = await fetch(url + '/v1/models').then(
        async (answer) => [answer.status, ((await answer.json()) as { error: { code: string } }).error.code],
        () => 'refused',
      );
      assert.ok(during === 'refused' || (Array.isArray(during) && during[0] === 503 && during[1] === 'server_shutting_down'), JSON.stringify(during));
      for (;;) {
        const { value, done } = await body.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      const events = sseData(text);
      assert.equal(events.at(-1), '[DONE]');
      const chunks = events.slice(0, -1).map((event) => JSON.parse(event));
      assert.equal(chunks.at(-1).usage.completion_tokens, 300, 'the request in flight was decoded to its end');
      assert.equal(chunks.at(-2).choices[0].finish_reason, 'length');
      assert.equal(await exited, 0, stderr);
      await assert.rejects(fetch(url + '/health'));
      assert.deepEqual(lines.map((line) => line.event).filter((event) => event !== 'request'), ['listening', 'stopping', 'stopped']);
      const logged = lines.filter((line) => line.event === 'request');
      const summary = logged.map((line) => [line.method, line.path, line.status]).sort((a, b) => String(a[1]).localeCompare(String(b[1])));
      assert.deepEqual(summary, [['GET', '/health', 200], ['POST', '/v1/completions', 200], ['POST', '/v1/completions', 200]]);
      const completion = logged.find((line) => line.path === '/v1/completions' && line.stream === true) as Record<string, unknown>;
      assert.deepEqual([completion.model, completion.completionTokens, completion.stream], ['tiny-stories', 300, true]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
