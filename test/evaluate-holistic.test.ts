// The HELM-style holistic view: ECE as HELM bins it, seeded input perturbations (HELM's typos bit for bit), the
// worst case over perturbations, and `runHolisticEvaluation` / `tunekit eval --holistic` end to end on stories260K,
// whose unperturbed numbers must be the plain lm-eval run's.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { evaluate, getPeftModel, loadModel, loraConfig, manualSeed, noGrad, setNumThreads, type LoadedModel } from '../src/index.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

// One libtorch thread: on this 2-core machine, shared with other work, two threads of a tiny model oversubscribe.
setNumThreads(1);

const { expectedCalibrationError, choiceCalibration, selectiveAccuracy, perturbText, parsePerturbations, documentPerturber, worstCaseMetric, PythonRandom } = evaluate;
const close = (actual: number, expected: number, message?: string) => assert.ok(Math.abs(actual - expected) < 1e-12, `${message ?? ''} ${actual} vs ${expected}`);

describe('expected calibration error', () => {
  it('is 0 for perfectly calibrated confidences', () => {
    // Half right at confidence 0.5, all right at confidence 1.
    const confidences = [0.5, 0.5, 0.5, 0.5, 1, 1, 1];
    const correct = [true, false, true, false, true, true, true];
    assert.equal(expectedCalibrationError(confidences, correct).ece, 0);
    assert.equal(expectedCalibrationError(confidences, correct, 1, 'equal-width').ece, 0);
    assert.equal(expectedCalibrationError(confidences, correct, 10, 'equal-width').ece, 0);
  });

  it('bins equal-mass as HELM (midpoint edges, a confidence in the first bin whose edge is ≥ it)', () => {
    // Sorted chunks [0.2, 0.4] and [0.6, 0.8]: edge 0.5; bins (conf 0.3, acc 0.5) and (conf 0.7, acc 1).
    const result = expectedCalibrationError([0.8, 0.2, 0.6, 0.4], [true, false, true, true], 2);
    close(result.ece, 0.5 * 0.2 + 0.5 * 0.3);
    assert.deepEqual(result.bins.map(({ lower, upper, count }) => [lower, upper, count]), [[0, 0.5, 2], [0.5, 1, 2]]);
    close(result.bins[0].confidence as number, 0.3);
    assert.equal(result.bins[1].accuracy, 1);
    // Chunks of ceil(5 / 2) = 3: [0.3, 0.35, 0.4] and [0.9, 0.95]; edge 0.65.
    const uneven = expectedCalibrationError([0.9, 0.3, 0.95, 0.35, 0.4], [true, false, true, true, false], 2);
    assert.deepEqual(uneven.bins.map((bin) => bin.count), [3, 2]);
    close(uneven.bins[0].upper, 0.65);
    close(uneven.ece, (3 / 5) * Math.abs(0.35 - 1 / 3) + (2 / 5) * Math.abs(0.925 - 1));
  });

  it('merges repeated edges and puts a confidence equal to an edge into the lower bin', () => {
    // Chunks [0.5, 0.5] and [0.5, 0.9]: edge (0.5 + 0.5) / 2 = 0.5, so all three 0.5s fall into the first bin.
    const result = expectedCalibrationError([0.5, 0.5, 0.5, 0.9], [true, false, false, true], 2);
    assert.deepEqual(result.bins.map((bin) => bin.count), [3, 1]);
    close(result.ece, (3 / 4) * Math.abs(0.5 - 1 / 3) + (1 / 4) * 0.1);
    // Identical confidences leave one edge below 1.0.
    assert.deepEqual(evaluate.equalMassEdges([0.7, 0.7, 0.7, 0.7], 2), [0.7, 1]);
  });

  it('uses one bin per document below 10 documents, and equal-width bins on request', () => {
    assert.equal(expectedCalibrationError([0.4, 0.6, 0.9], [false, true, true]).bins.length, 3);
    // Equal width 1 bin: |mean confidence − accuracy| = |0.7 − 2/3|.
    close(expectedCalibrationError([0.4, 0.8, 0.9], [false, true, true], 1, 'equal-width').ece, Math.abs(0.7 - 2 / 3));
    const widths = expectedCalibrationError([0.05, 0.15, 0.95], [false, false, true], 10, 'equal-width');
    assert.deepEqual(widths.bins.map((bin) => bin.count), [1, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    close(widths.ece, (0.05 + 0.15 + 0.05) / 3);
    assert.throws(() => expectedCalibrationError([1.2], [true]), /confidence must be in \[0, 1\]/);
  });

  it('takes confidences from the softmax of choice log-likelihoods, with selective accuracy and Brier score', () => {
    const documents = [
      { logLikelihoods: [Math.log(0.8), Math.log(0.2)], gold: 0 },
      { logLikelihoods: [Math.log(0.3), Math.log(0.6), Math.log(0.1)], gold: 2 },
      { logLikelihoods: [-1, -1], gold: [0, 1] },
      { logLikelihoods: [-5, -2], gold: -100 },
    ];
    const result = choiceCalibration(documents, 1);
    const confidences = [0.8, 0.6, 0.5, 1 / (1 + Math.exp(-3))];
    close(result.mean_confidence, confidences.reduce((a, b) => a + b) / 4);
    close(result.ece, Math.abs(result.mean_confidence - 2 / 4), 'one bin');
    close(result.brier_score, (2 * 0.2 ** 2 + (0.09 + 0.36 + 0.81) + 0.5 + (confidences[3] ** 2 + (1 - confidences[3]) ** 2)) / 4, 'brier');
    // Most confident first: 0.953 ✗, 0.8 ✓, 0.6 ✗, 0.5 ✓.
    const selective = selectiveAccuracy(confidences, [true, false, true, false]);
    close(selective.coverageAccuracyArea, (0 + 1 / 2 + 1 / 3 + 2 / 4) / 4);
    assert.equal(selective.accuracyAt10, 0);
  });
});

describe('perturbations', () => {
  const sentence = 'After their marriage, she started a close collaboration with Karvelas.';

  it("typo reproduces HELM's TyposPerturbation (test_typos_perturbation: prob 0.1, instance id0, no seed)", () => {
    const [typo] = parsePerturbations('typo');
    assert.equal(perturbText(typo, sentence, new PythonRandom('id0')), 'After tjeir marriage, she xrwrted a cloae dollabpration with Iarvwlas.');
    assert.equal(documentPerturber(typo, undefined)(sentence, 0), 'After tjeir marriage, she xrwrted a cloae dollabpration with Iarvwlas.');
  });

  it('is deterministic for a seed and differs across seeds and documents', () => {
    for (const name of ['typo', 'random_case', 'whitespace', 'space']) {
      const [perturbation] = parsePerturbations(name);
      const text = `${sentence} ${sentence}\tAnd   then\nthey left.`;
      const once = documentPerturber(perturbation, 7)(text, 3);
      assert.equal(documentPerturber(perturbation, 7)(text, 3), once, name);
      assert.notEqual(documentPerturber(perturbation, 8)(text, 3), once, `${name} across seeds`);
      assert.notEqual(documentPerturber(perturbation, 7)(text, 4), once, `${name} across documents`);
    }
  });

  it('typos replace only ASCII letters, by a keyboard neighbour of the same case, at the given rate', () => {
    const random = new PythonRandom(12345);
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.;!?-éß\n';
    const text = Array.from({ length: 40000 }, () => alphabet[random.randbelow(alphabet.length)]).join('');
    const letters = [...text].filter((c) => /[a-z]/i.test(c)).length;
    for (const probability of [0.1, 0.3]) {
      const [typo] = parsePerturbations(`typo:${probability}`);
      const out = perturbText(typo, text, new PythonRandom(`p${probability}`));
      assert.equal(out.length, text.length);
      let changed = 0;
      for (let i = 0; i < text.length; i++) {
        if (out[i] === text[i]) continue;
        changed++;
        assert.match(text[i], /[a-z]/i, `position ${i}: ${JSON.stringify(text[i])} is not a letter`);
        assert.equal(out[i] === out[i].toUpperCase(), text[i] === text[i].toUpperCase(), 'case kept');
        assert.ok('qwertyuiopasdfghjklzxcvbnm'.includes(out[i].toLowerCase()));
      }
      // Binomial: the share changed is within 4 standard deviations of the rate.
      const sd = Math.sqrt((probability * (1 - probability)) / letters);
      assert.ok(Math.abs(changed / letters - probability) < 4 * sd, `rate ${changed / letters} vs ${probability}`);
    }
    assert.equal(perturbText(parsePerturbations('typo:0')[0], text, new PythonRandom(1)), text);
    const all = perturbText(parsePerturbations('typo:1')[0], 'Hello, World', new PythonRandom(1));
    assert.ok([...all].every((c, i) => (/[a-z]/i.test('Hello, World'[i]) ? c !== 'Hello, World'[i] : c === 'Hello, World'[i])), all);
    // Neighbours are HELM's: 'q' can only become w, a or s.
    assert.match(perturbText(parsePerturbations('typo:1')[0], 'q'.repeat(50), new PythonRandom(2)), /^[was]{50}$/);
  });

  it('casing and whitespace are exact', () => {
    const text = 'Ben and Mia went\tto the  beach.\nThey built a Sand';
    const perturb = (name: string, seed = 1) => documentPerturber(parsePerturbations(name)[0], seed)(text, 0);
    assert.equal(perturb('lowercase'), text.toLowerCase());
    assert.equal(perturb('uppercase'), text.toUpperCase());
    const mixed = perturb('random_case');
    assert.equal(mixed.toLowerCase(), text.toLowerCase());
    assert.notEqual(mixed, text);
    for (const name of ['whitespace', 'whitespace:5']) {
      const out = perturb(name);
      assert.deepEqual(out.split(/[ \t\n]+/), text.split(/[ \t\n]+/), `${name} keeps the words`);
      const longest = name === 'whitespace' ? 3 : 5;
      for (const run of out.match(/[ \t\n]+/g) ?? []) assert.ok(run.length >= 1 && run.length <= longest, JSON.stringify(run));
      assert.equal(out.match(/[ \t\n]+/g)?.length, text.match(/[ \t\n]+/g)?.length);
    }
    const spaced = perturb('space');
    assert.deepEqual(spaced.split(/ +/), text.split(/ +/));
    assert.ok((spaced.match(/ +/g) ?? []).every((run) => run.length <= 3));
    assert.equal(perturb('whitespace'), perturb('whitespace'));
    assert.equal(documentPerturber(parsePerturbations('whitespace')[0], 1)('nowhitespace', 0), 'nowhitespace');
  });

  it('parses names with parameters and refuses unknown or repeated ones', () => {
    assert.deepEqual(parsePerturbations('typo:0.05, lowercase,whitespace:2'), [{ name: 'typo', probability: 0.05 }, { name: 'lowercase' }, { name: 'whitespace', maxRun: 2 }]);
    assert.throws(() => parsePerturbations('typos'), /unknown perturbation "typos"/);
    assert.throws(() => parsePerturbations('typo:2'), /probability must be a number in \[0, 1\]/);
    assert.throws(() => parsePerturbations('lowercase:1'), /takes no parameter/);
    assert.throws(() => parsePerturbations('typo,typo:0.1'), /given twice/);
  });
});

describe('worst case across perturbations', () => {
  it('takes per document the worst of the original and each perturbation, then aggregates', () => {
    // Documents × runs: doc 0 fails under the first, doc 2 under the original.
    assert.equal(worstCaseMetric('mean', true, [[1, 1, 0], [0, 1, 1], [1, 1, 1]]), 1 / 3);
    // Lower is better: the largest value.
    assert.equal(worstCaseMetric('mean', false, [[0.1, 0.5], [0.3, 0.2]]), (0.3 + 0.5) / 2);
    // Perplexity items are log-likelihoods: the lowest, then exp(−mean).
    close(worstCaseMetric('perplexity', false, [[-1, -4], [-2, -3]]) as number, Math.exp(3));
    // f1 pairs: a wrong prediction is worse than a right one.
    assert.equal(worstCaseMetric('f1', true, [[[1, 1], [0, 0]], [[1, 0], [0, 0]]]), 0);
    assert.equal(worstCaseMetric('bleu', true, [[['a', 'a']], [['a', 'b']]]), null);
    assert.throws(() => worstCaseMetric('mean', true, [[1, 0], [1]]), /same documents/);
  });
});

const stories = path.join(sharedDir, 'reference', 'models', 'stories260K');
const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

describe('runHolisticEvaluation and tunekit eval --holistic on stories260K', { skip: hasShared ? false : 'no ../shared' }, () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-holistic-'));
  const taskFile = path.join(scratch, 'tasks', 'holistic_mc.yaml');
  let loaded: LoadedModel;
  const adapters = [path.join(scratch, 'adapter-a'), path.join(scratch, 'adapter-b')];
  after(() => rmSync(scratch, { recursive: true, force: true }));

  before(async () => {
    mkdirSync(path.dirname(taskFile), { recursive: true });
    const docs = [
      ['Ben and Mia went to the beach. They built a sand', ['castle', 'dog', 'cake'], 0],
      ['It was time for bed. Lily said good', ['night', 'morning', 'food'], 0],
      ['The cat was hungry. It wanted some', ['milk', 'shoes', 'trees'], 0],
      ['Tom saw a big red', ['ball', 'sad', 'ran'], 0],
      ['Once upon a time, there was a little', ['girl', 'blue', 'under'], 0],
      ['The sun was hot, so they went to the', ['park', 'ate', 'slowly'], 0],
    ];
    const lines = docs.map(([story, choices, label], i) => JSON.stringify({ id: i, story, choices, label }) + '\n').join('');
    writeFileSync(path.join(scratch, 'tasks', 'test.jsonl'), lines);
    writeFileSync(
      taskFile,
      ['task: holistic_mc', 'dataset_path: json', 'dataset_kwargs:', '  data_files:', '    test: test.jsonl', 'output_type: multiple_choice', 'test_split: test', 'doc_to_text: "{{story}}"', 'doc_to_choice: "{{choices}}"', 'doc_to_target: label', 'metric_list:', '  - metric: acc', '  - metric: acc_norm', ''].join('\n'),
    );
    loaded = await loadModel(stories);
    // Two LoRA adapters with non-zero B, so each changes the model.
    for (const [i, dir] of adapters.entries()) {
      manualSeed(10 + i);
      const { model } = await loadModel(stories);
      const peft = getPeftModel(model, loraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'], taskType: 'CAUSAL_LM' }));
      noGrad(() => peft.namedParameters().filter(([name]) => name.includes('lora_B')).forEach(([, weight]) => weight.uniform_(-0.5, 0.5)));
      await peft.savePretrained(dir);
      model.dispose();
    }
  });
  after(() => loaded?.model.dispose());

  it('perturbs only the document text: same documents, same few-shot examples, same choices', async () => {
    const task = await evaluate.EvalTask.load(evaluate.parseTaskConfig({ ...evaluate.readTaskFile(taskFile), fewshot_split: 'test' }, taskFile));
    const plain = task.buildRequests(2);
    const upper = task.buildRequests(2, undefined, documentPerturber(parsePerturbations('uppercase')[0], undefined));
    assert.equal(upper.length, plain.length);
    upper.forEach((document, d) => {
      assert.equal(document.docId, plain[d].docId);
      const story = String(plain[d].doc.story);
      document.arguments.forEach(([context, continuation], r) => {
        const [plainContext, plainContinuation] = plain[d].arguments[r];
        assert.equal(continuation, plainContinuation);
        // The examples before the document's text are untouched (the sampler starts again for each build).
        assert.equal(context, plainContext.slice(0, plainContext.length - story.length) + story.toUpperCase());
      });
    });
  });

  it('reports accuracy, calibration, robustness and efficiency; unperturbed accuracy is the plain lm-eval run', async () => {
    const plain = await evaluate.runEvaluation(loaded.model, loaded.tokenizer, [taskFile], { logSamples: true });
    const run = await evaluate.runHolisticEvaluation([{ name: 'base', model: loaded.model }], loaded.tokenizer, [taskFile], { perturbations: parsePerturbations('typo:0.3,lowercase,whitespace'), perturbationSeed: 5 });
    const { samples: plainSamples, ...plainResults } = plain;
    assert.deepEqual(run.results.base, plainResults);
    const view = run.holistic;
    assert.deepEqual(view.systems, ['base']);
    assert.deepEqual(view.perturbations, ['typo:0.3', 'lowercase', 'whitespace']);
    const cell = view.tasks.holistic_mc.systems.base;
    assert.equal(view.tasks.holistic_mc.metric, 'acc');
    assert.deepEqual(cell.accuracy, { metric: 'acc', filter: 'none', value: plain.results.holistic_mc['acc,none'], stderr: plain.results.holistic_mc['acc_stderr,none'] });
    // Calibration recomputed from the plain run's logged log-likelihoods.
    const documents = (plainSamples?.holistic_mc ?? []).map((sample) => ({ logLikelihoods: (sample.resps as [number, boolean][][]).map((r) => r[0][0]), gold: sample.target as number }));
    assert.deepEqual(cell.calibration, choiceCalibration(documents));
    assert.equal(cell.calibration?.bins.reduce((sum, bin) => sum + bin.count, 0), 6);
    const robustness = cell.robustness;
    assert.ok(robustness !== null);
    assert.deepEqual(Object.keys(robustness.perturbations), ['typo:0.3', 'lowercase', 'whitespace']);
    const values = [cell.accuracy.value, ...Object.values(robustness.perturbations)];
    assert.ok((robustness.worst_case as number) <= Math.min(...values), 'the worst case is no better than any run');
    for (const value of values) assert.ok(value >= 0 && value <= 1);
    const { efficiency } = cell;
    assert.equal(efficiency.documents, 6);
    assert.equal(efficiency.requests, 18);
    assert.ok(efficiency.wall_seconds >= efficiency.seconds);
    assert.ok(efficiency.seconds > 0 && efficiency.docs_per_second > 0 && efficiency.requests_per_second > efficiency.docs_per_second);
    assert.ok(efficiency.peak_bytes > 0 && efficiency.peak_tensor_bytes > 0 && efficiency.max_rss_bytes >= efficiency.peak_bytes * 0.5);
    // Reproducible: the same seed gives the same robustness numbers.
    const again = await evaluate.runHolisticEvaluation([{ name: 'base', model: loaded.model }], loaded.tokenizer, [taskFile], { perturbations: parsePerturbations('typo:0.3,lowercase,whitespace'), perturbationSeed: 5 });
    assert.deepEqual(again.holistic.tasks.holistic_mc.systems.base.robustness, robustness);
    assert.equal(JSON.stringify(JSON.parse(JSON.stringify(view))), JSON.stringify(view), 'JSON-able');
  });

  it('runs tasks one by one yet gives the lm-eval results of one run of them all, groups included', async () => {
    const tasksDir = path.join(repoRoot, 'test', 'fixtures', 'evaluate', 'tasks');
    const options = { includePaths: [tasksDir], limit: 2, numFewshot: 1 };
    const plain = await evaluate.runEvaluation(loaded.model, loaded.tokenizer, ['stories_all', 'stories_gen'], options);
    const run = await evaluate.runHolisticEvaluation([{ name: 'base', model: loaded.model }], loaded.tokenizer, ['stories_all', 'stories_gen'], { ...options, perturbations: [] });
    // Key order too (deepEqual ignores it): the results file and --json print these objects as they are.
    assert.equal(JSON.stringify(run.results.base), JSON.stringify(plain));
    assert.deepEqual(Object.keys(run.holistic.tasks), ['stories_mc', 'stories_mc_same_split', 'stories_gen']);
    assert.equal(run.holistic.tasks.stories_gen.systems.base.robustness, null, 'no perturbations, no robustness');
    assert.equal(run.holistic.tasks.stories_gen.systems.base.calibration, null, 'calibration is for multiple_choice tasks');
  });

  function runCli(args: string[]) {
    return spawnSync(process.execPath, [cli, 'eval', ...args], { cwd: scratch, encoding: 'utf8', env: { ...process.env, TUNEKIT_THREADS: '1' } });
  }

  it('--holistic --json puts the view beside the lm-eval layout, a column per system (base, then each adapter)', async () => {
    const out = path.join(scratch, 'out');
    const result = runCli(['--model', stories, '--tasks', taskFile, '--adapter', adapters.join(','), '--holistic', '--perturbations', 'lowercase,typo', '--perturbation-seed', '3', '--json', '--output-path', out]);
    assert.equal(result.status, 0, result.stderr);
    const output = JSON.parse(result.stdout);
    assert.deepEqual(Object.keys(output), ['results', 'group_subtasks', 'configs', 'versions', 'n-shot', 'higher_is_better', 'n-samples', 'holistic']);
    const view = output.holistic as evaluate.HolisticView;
    assert.deepEqual(view.systems, ['base', ...adapters]);
    assert.equal(view.perturbation_seed, 3);
    const cells = view.systems.map((system) => view.tasks.holistic_mc.systems[system]);
    for (const cell of cells) {
      assert.deepEqual(Object.keys(cell), ['accuracy', 'calibration', 'robustness', 'efficiency']);
      assert.deepEqual(Object.keys(cell.robustness?.perturbations ?? {}), ['lowercase', 'typo']);
    }
    // The lm-eval results are the first adapter's, as `--adapter A1` alone gives them; the base column is the model's.
    assert.equal(output.results.holistic_mc['acc,none'], cells[1].accuracy.value);
    const single = runCli(['--model', stories, '--tasks', taskFile, '--adapter', adapters[0], '--json']);
    assert.equal(single.status, 0, single.stderr);
    const singleOutput = JSON.parse(single.stdout);
    assert.equal(singleOutput.results.holistic_mc['acc,none'], output.results.holistic_mc['acc,none']);
    assert.equal(singleOutput.results.holistic_mc['acc_norm,none'], output.results.holistic_mc['acc_norm,none']);
    const base = await evaluate.runEvaluation(loaded.model, loaded.tokenizer, [taskFile]);
    assert.equal(cells[0].accuracy.value, base.results.holistic_mc['acc,none']);
    // The adapters change the model's log-likelihoods, so their calibration differs from the base's.
    assert.notEqual(cells[1].calibration?.mean_confidence, cells[0].calibration?.mean_confidence);
    assert.notEqual(cells[2].calibration?.mean_confidence, cells[1].calibration?.mean_confidence);
    // The results file holds the view too.
    const folder = path.join(out, stories.replace(/["<>:/|\\?*[\]]+/g, '__'));
    const [file] = readdirSync(folder);
    const written = JSON.parse(readFileSync(path.join(folder, file), 'utf8'));
    assert.deepEqual(written.holistic.systems, view.systems);
    assert.equal(written.config.model_args, `pretrained=${stories},peft=${adapters[0]}`);
  });

  it('prints the side-by-side table, and refuses bad holistic flags in one line', () => {
    const result = runCli(['--model', stories, '--tasks', taskFile, '--holistic', '--perturbations', 'uppercase', '--limit', '3']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^\|Tasks\|Version\|/m);
    assert.match(result.stdout, /^\|Task\|Measure\|base\|$/m);
    assert.match(result.stdout, /^\|holistic_mc\|acc ↑\|\d\.\d{4} ± \d\.\d{4}\|$/m);
    assert.match(result.stdout, /^\|\|ECE 3-bin ↓\|\d\.\d{4}\|$/m);
    assert.match(result.stdout, /^\|\|acc · uppercase\|\d\.\d{4}\|$/m);
    assert.match(result.stdout, /^\|\|acc · worst case ↑\|\d\.\d{4}\|$/m);
    assert.match(result.stdout, /^\|\|docs\/s\|[\d.]+\|$/m);
    const cases: [string[], RegExp][] = [
      [['--model', stories, '--tasks', taskFile, '--perturbations', 'typo'], /--perturbations needs --holistic/],
      [['--model', stories, '--tasks', taskFile, '--holistic', '--perturbations', 'typos'], /--perturbations: unknown perturbation "typos"/],
      [['--model', stories, '--tasks', taskFile, '--holistic', '--perturbation-seed', '-1'], /--perturbation-seed expects an integer ≥ 0/],
    ];
    for (const [args, pattern] of cases) {
      const failed = runCli(args);
      assert.equal(failed.status, 1, `${args.join(' ')}: ${failed.stderr}`);
      assert.match(failed.stderr, pattern);
      assert.equal(failed.stderr.trim().split('\n').length, 1, failed.stderr);
    }
  });
});
