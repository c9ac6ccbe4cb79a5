// `tunekit demo` end to end at a small size: the base is pre-trained from its recipe into an empty cache, every stage
// runs, the --json done event carries each system's numbers, and a second run from the cache repeats them exactly.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { findChromium, screenshot } from './helpers/chromium.js';
import { repoRoot } from './helpers/paths.js';
import { countColour } from './helpers/png.js';

const chromium = findChromium();

const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-demo-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const SMALL = ['--train-size', '48', '--test-size', '6', '--steps', '6', '--shots', '1', '--json'];

function demo(output: string): { events: Record<string, unknown>[]; stderr: string; status: number | null } {
  const result = spawnSync(process.execPath, [cli, 'demo', ...SMALL, '--output', output], { encoding: 'utf8', env: { ...process.env, TUNEKIT_CACHE: path.join(scratch, 'cache'), TUNEKIT_THREADS: '1' } });
  const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  return { events, stderr: result.stderr, status: result.status };
}

describe('tunekit demo', () => {
  let first: ReturnType<typeof demo>;

  it('pre-trains and caches the base, runs every stage and ends with the done event', () => {
    first = demo(path.join(scratch, 'report-1'));
    assert.equal(first.status, 0, first.stderr.slice(-2000));
    const stages = first.events.filter((event) => event.event === 'stage').map((event) => event.stage);
    for (const stage of ['base', 'data', 'baseline', 'train', 'forgetting', 'report']) assert.ok(stages.includes(stage), `stage ${stage} in ${stages.join(', ')}`);
    const base = first.events.find((event) => event.stage === 'base') as { cached: boolean; dir: string };
    assert.equal(base.cached, false);
    assert.ok(existsSync(path.join(base.dir, 'tunekit_recipe.json')) && existsSync(path.join(base.dir, 'tokenizer.json')));
    const done = first.events.at(-1) as { event: string; report: string; results: Record<string, Record<string, number>> };
    assert.equal(done.event, 'done');
    assert.deepEqual(Object.keys(done.results), ['zero_shot', 'few_shot', 'full', 'lora', 'prompt_tuning']);
    for (const [system, result] of Object.entries(done.results)) {
      assert.deepEqual(Object.keys(result).sort(), ['bleu', 'rouge1', 'rouge2', 'rougeL', 'rougeLsum', 'train_seconds', 'trainable_parameters'], system);
      for (const value of Object.values(result)) assert.ok(Number.isFinite(value), `${system}: ${JSON.stringify(result)}`);
    }
    assert.equal(done.results.zero_shot.trainable_parameters, 0);
    const total = (first.events.find((event) => event.stage === 'train' && event.system === 'lora') as { total_parameters: number }).total_parameters;
    assert.ok(done.results.lora.trainable_parameters / total <= 0.02, 'LoRA trains at most 2% of the parameters');
    assert.match(done.report, /report\.html$/);
    assert.match(readFileSync(done.report, 'utf8'), /<svg/);
    const report = JSON.parse(readFileSync(path.join(path.dirname(done.report), 'report.json'), 'utf8')) as {
      schema: string;
      systems: unknown[];
      checks: { name: string; passed: boolean }[];
      forgetting: { system: string; task: string; metric: string; delta: { value: number; low: number; high: number } }[];
    };
    assert.equal(report.schema, 'tunekit.report/1');
    assert.equal(report.systems.length, 5);
    // Forgetting of the base task and held-out text for each tuned system, each delta with its interval.
    for (const system of ['full', 'lora', 'prompt_tuning']) {
      const rows = report.forgetting.filter((row) => row.system === system);
      assert.deepEqual(rows.map((row) => `${row.task}/${row.metric}`), ['story_continuation/acc', 'held-out pre-training text/word_perplexity', 'held-out pre-training text/bits_per_byte']);
      for (const { delta } of rows) assert.ok(delta.low <= delta.value && delta.value <= delta.high, JSON.stringify(delta));
    }
    assert.deepEqual(report.checks.map((check) => [check.name, check.passed]), [['merged LoRA equals unmerged', true]]);
    assert.match(first.stderr, /"label":"train full"/, 'progress as JSON lines on stderr');
  });

  it('the report opens in headless Chromium with its plots drawn', { skip: chromium === undefined ? 'no chromium binary found' : false }, () => {
    const done = first.events.at(-1) as { report: string };
    const image = screenshot(chromium as string, done.report, 1280, 2600, scratch);
    // Each system's colour (the report's palette, in system order) fills bars and lines.
    for (const [index, colour] of ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f'].entries()) {
      assert.ok(countColour(image, colour) >= 300, `system ${index}'s colour ${colour} covers only ${countColour(image, colour)} pixels`);
    }
  });

  it('a second run loads the cached base and repeats every number', () => {
    const second = demo(path.join(scratch, 'report-2'));
    assert.equal(second.status, 0, second.stderr.slice(-2000));
    assert.equal((second.events.find((event) => event.stage === 'base') as { cached: boolean }).cached, true);
    const scores = (run: ReturnType<typeof demo>) => {
      const { results } = run.events.at(-1) as { results: Record<string, Record<string, number>> };
      return Object.fromEntries(Object.entries(results).map(([system, { train_seconds: _, ...rest }]) => [system, rest]));
    };
    assert.deepEqual(scores(second), scores(first));
  });

  it('refuses unknown methods and data parallel it cannot run', () => {
    const bad = spawnSync(process.execPath, [cli, 'demo', '--methods', 'full,lorra'], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /unknown method "lorra"/);
  });
});
