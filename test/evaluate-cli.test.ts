// `tunekit eval`: lm-eval's flags, its results layout with --json, its output folder with --output-path and
// --log-samples (written atomically), task listing, and one-line errors for bad flags and task files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { evaluate, getPeftModel, loadModel, loraConfig, manualSeed, noGrad, setNumThreads } from '../src/index.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';


// One libtorch thread: on this 2-core machine, shared with other work, two threads of a tiny model oversubscribe.
setNumThreads(1);
const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const stories = path.join(sharedDir, 'reference', 'models', 'stories260K');
const tasksDir = path.join(repoRoot, 'test', 'fixtures', 'evaluate', 'tasks');
const golden = JSON.parse(readFileSync(path.join(repoRoot, 'test', 'fixtures', 'evaluate', 'goldens', 'stories-0shot.json'), 'utf8'));
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-cli-eval-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function run(args: string[]) {
  return spawnSync(process.execPath, [cli, 'eval', ...args], { cwd: scratch, encoding: 'utf8', env: { ...process.env, TUNEKIT_THREADS: '1' } });
}

describe('tunekit eval', { skip: hasShared ? false : 'no ../shared' }, () => {
  it("--json prints lm-eval's results layout with lm-eval's numbers", () => {
    const result = run(['--model', stories, '--tasks', 'stories_mc,stories_ll', '--include-path', tasksDir, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const output = JSON.parse(result.stdout);
    assert.deepEqual(Object.keys(output), ['results', 'group_subtasks', 'configs', 'versions', 'n-shot', 'higher_is_better', 'n-samples']);
    assert.deepEqual(Object.keys(output.results), ['stories_mc', 'stories_ll']);
    for (const key of ['acc,none', 'acc_stderr,none', 'acc_norm,none', 'acc_norm_stderr,none']) assert.equal(output.results.stories_mc[key], golden.results.stories_mc[key], key);
    assert.equal(output.results.stories_mc.alias, 'stories_mc');
    assert.equal(output.results.stories_ll['acc,none'], golden.results.stories_ll['acc,none']);
    assert.ok(Math.abs(output.results.stories_ll['perplexity,none'] / golden.results.stories_ll['perplexity,none'] - 1) < 1e-4);
    assert.deepEqual(output['n-shot'], { stories_ll: 0, stories_mc: 0 });
    // Progress goes to stderr as JSON lines, never into the results on stdout.
    assert.ok(result.stderr.split('\n').some((line) => line.startsWith('{"event":"progress"')));
  });

  it('--output-path writes results_<date>.json and, with --log-samples, samples_<task>_<date>.jsonl under the model name', () => {
    const out = path.join(scratch, 'out');
    const result = run(['--model', stories, '--tasks', path.join(tasksDir, 'stories_gen.yaml'), '--output-path', out, '--log-samples', '--limit', '3', '--num-fewshot', '1']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /\|stories_gen\|2\|first-word\|1\|exact_match\|↑\|/);
    const folder = path.join(out, stories.replace(/["<>:/|\\?*[\]]+/g, '__'));
    const files = readdirSync(folder).sort();
    assert.equal(files.length, 2, files.join(', '));
    assert.match(files[0], /^results_\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d+\.json$/);
    assert.match(files[1], /^samples_stories_gen_\d{4}-.*\.jsonl$/);
    const results = JSON.parse(readFileSync(path.join(folder, files[0]), 'utf8'));
    assert.equal(results['n-samples'].stories_gen.effective, 3);
    assert.equal(results.model_name, stories);
    assert.equal(results.config.model_args, `pretrained=${stories}`);
    assert.ok(Number(results.total_evaluation_time_seconds) > 0);
    assert.match(results.task_hashes.stories_gen, /^[0-9a-f]{64}$/);
    const samples = readFileSync(path.join(folder, files[1]), 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line));
    assert.equal(samples.length, 6, 'three documents under each of the two filters');
    assert.deepEqual(Object.keys(samples[0].arguments), ['gen_args_0']);
    assert.deepEqual(Object.keys(samples[0].arguments.gen_args_0), ['arg_0', 'arg_1']);
    assert.equal(typeof samples[0].resps[0][0], 'string');
    assert.equal(samples[0].target, 'girl');
  });

  it('--adapter evaluates the model with the PEFT adapter, as the library does with the PeftModel', async () => {
    manualSeed(3);
    const { model, tokenizer } = await loadModel(stories);
    const peft = getPeftModel(model, loraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'], taskType: 'CAUSAL_LM' }));
    // B starts at zero (the adapter would change nothing): give it values so that it does.
    noGrad(() => peft.namedParameters().filter(([name]) => name.includes('lora_B')).forEach(([, weight]) => weight.uniform_(-0.5, 0.5)));
    const adapter = path.join(scratch, 'adapter');
    await peft.savePretrained(adapter);
    const library = await evaluate.runEvaluation(peft, tokenizer, ['stories_ll'], { includePaths: [tasksDir] });
    const result = run(['--model', stories, '--adapter', adapter, '--tasks', 'stories_ll', '--include-path', tasksDir, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const output = JSON.parse(result.stdout);
    const [ours, theirs] = [output.results.stories_ll['perplexity,none'] as number, library.results.stories_ll['perplexity,none'] as number];
    // Thread counts differ (the CLI runs with one), so float32 sums differ in the last bits.
    assert.ok(Math.abs(ours / theirs - 1) < 1e-4, `CLI ${ours} vs library ${theirs}`);
    assert.notEqual(output.results.stories_ll['perplexity,none'], golden.results.stories_ll['perplexity,none']);
  });

  it('--list-tasks lists the tasks, tags and groups of --include-path', () => {
    const result = run(['--list-tasks', '--include-path', tasksDir]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^tag +stories +\(stories_gen, stories_mc\)$/m);
    assert.match(result.stdout, /^task +stories_rolling +\S+stories_rolling\.yaml$/m);
  });

  it('refuses bad flags and task files in one line, exit status 1', () => {
    const cases: [string[], RegExp][] = [
      [['--model', stories, '--task', 'x'], /unknown flag --task \(did you mean --tasks\?\)/],
      [['--model', stories, '--tasks', 'stories_mx', '--include-path', tasksDir], /unknown task "stories_mx" \(did you mean stories_mc\?\)/],
      [['--model', stories, '--tasks', 'stories_mc', '--include-path', tasksDir, '--num-fewshot', '-1'], /--num-fewshot expects an integer ≥ 0/],
      [['--model', stories, '--tasks', 'stories_mc', '--log-samples'], /--log-samples needs --output-path/],
      [['--model', stories, '--tasks', 'stories_mc', '--include-path', tasksDir, '--output-path', path.join(stories, 'results')], /cannot write to .*results/],
      [['--model', stories, '--tasks', 'stories_mc', '--include-path', tasksDir, '--limit', '2.5'], /--limit expects a whole number of documents or a share below 1/],
    ];
    const pythonTask = path.join(scratch, 'python.yaml');
    writeFileSync(pythonTask, 'task: needs_python\ndataset_path: json\ntest_split: test\ndoc_to_text: !function utils.doc_to_text\ndoc_to_target: label\n');
    cases.push([['--model', stories, '--tasks', pythonTask], /task "needs_python".*"!function utils\.doc_to_text"/]);
    for (const [args, pattern] of cases) {
      const result = run(args);
      assert.equal(result.status, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, pattern);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    }
  });
});
