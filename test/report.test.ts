/** The report layer: validation errors name the field, exact Markdown, self-contained HTML with SVG plots, atomic writes. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { report, TunekitError } from '../src/index.js';
import { repoRoot } from './helpers/paths.js';
import { sampleReport } from './helpers/reports.js';

type ComparisonReport = report.ComparisonReport;

const directory = mkdtempSync(path.join(os.tmpdir(), 'tunekit-report-'));
after(() => rmSync(directory, { recursive: true, force: true }));
const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

/** A parsed copy, as a saved report reads back. */
const roundTrip = (value: unknown): Record<string, any> => JSON.parse(JSON.stringify(value));

function validationError(value: unknown): string {
  try {
    report.validateReport(value, 'report.json');
  } catch (error) {
    assert.ok(error instanceof TunekitError, String(error));
    assert.equal(error.code, 'E_REPORT');
    return error.message;
  }
  assert.fail('the report was accepted');
}

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}

/** Each `<svg …>…</svg>` of a page, with its data-chart kind. */
function svgs(html: string): { kind: string; body: string }[] {
  return [...html.matchAll(/<svg\b[^>]*data-chart="([^"]+)"[^>]*>([\s\S]*?)<\/svg>/g)].map((match) => ({ kind: match[1], body: match[0] }));
}

describe('validateReport', () => {
  it('accepts a saved report and returns it unchanged', () => {
    const sample = sampleReport();
    assert.deepEqual(report.validateReport(roundTrip(sample), 'report.json'), sample);
  });

  it('names the field at fault, with its path', () => {
    const wrong = roundTrip(sampleReport());
    wrong.systems[2].metrics.rougeL.low = '0.3';
    assert.match(validationError(wrong), /^report\.json: systems\[2\]\.metrics\.rougeL\.low must be a number \(got a string \("0\.3"\)\)$/);

    const missing = roundTrip(sampleReport());
    delete missing.systems[1].significance.bleu.pValue;
    assert.equal(validationError(missing), 'report.json: systems[1].significance.bleu.pValue is missing');

    const loss = roundTrip(sampleReport());
    loss.systems[1].loss.eval[1] = [4];
    assert.match(validationError(loss), /^report\.json: systems\[1\]\.loss\.eval\[1\] must be a \[step, loss\] pair/);

    const forgetting = roundTrip(sampleReport());
    forgetting.forgetting[3].higherIsBetter = 'no';
    assert.match(validationError(forgetting), /^report\.json: forgetting\[3\]\.higherIsBetter must be true or false/);

    const detail = roundTrip(sampleReport());
    detail.systems[1].details.rank = [8];
    assert.match(validationError(detail), /^report\.json: systems\[1\]\.details\.rank must be a string, number or boolean/);

    const output = roundTrip(sampleReport());
    output.examples[0].outputs['two words'] = 7;
    assert.match(validationError(output), /^report\.json: examples\[0\]\.outputs\["two words"\] must be a string \(got 7\)/);
  });

  it('refuses unknown keys, suggesting the near one', () => {
    const typo = roundTrip(sampleReport());
    typo.systems[0].trainSecond = 3;
    assert.match(validationError(typo), /^report\.json: systems\[0\]\.trainSecond is not a field of this object \(did you mean "trainSeconds"\?\)/);
    const top = roundTrip(sampleReport());
    top.extra = true;
    assert.match(validationError(top), /^report\.json: extra is not a field/);
    const interval = roundTrip(sampleReport());
    interval.forgetting[0].delta.mid = 0;
    assert.match(validationError(interval), /^report\.json: forgetting\[0\]\.delta\.mid is not a field/);
  });

  it('checks the schema, ranges and that names agree', () => {
    const cases: [(value: Record<string, any>) => void, RegExp][] = [
      [(value) => (value.schema = 'tunekit.report/2'), /^report\.json: schema must be "tunekit\.report\/1"/],
      [(value) => (value.baseline = 'few_shot'), /^report\.json: baseline must name one of the systems \(zero_shot, lora, full\)/],
      [(value) => (value.confidence = 95), /^report\.json: confidence must be between 0 and 1/],
      [(value) => (value.createdAt = 'yesterday'), /^report\.json: createdAt must be an ISO 8601 date/],
      [(value) => (value.testSize = 2.5), /^report\.json: testSize must be an integer/],
      [(value) => delete value.systems[1].metrics.bleu, /^report\.json: systems\[1\]\.metrics\.bleu is missing \(the report lists it in metrics\)/],
      [(value) => (value.systems[0].metrics.chrf = { value: 1, low: 1, high: 1 }), /^report\.json: systems\[0\]\.metrics\.chrf is not in the report's metrics/],
      [(value) => (value.systems[2].name = 'lora'), /^report\.json: systems\[2\]\.name repeats "lora" \(also systems\[1\]\)/],
      [(value) => (value.forgetting[1].system = 'qlora'), /^report\.json: forgetting\[1\]\.system must name one of the systems/],
      [(value) => (value.forgetting[1].system = 'lora'), /^report\.json: forgetting\[1\] repeats system "lora", task "arc_easy"/],
      [(value) => (value.examples[0].outputs.qlora = 'x'), /^report\.json: examples\[0\]\.outputs\.qlora must name one of the systems/],
      [(value) => (value.systems[1].trainableParameters = 1e9), /^report\.json: systems\[1\]\.trainableParameters must not exceed totalParameters/],
      [(value) => (value.systems[1].significance.rougeL.pValue = 1.5), /^report\.json: systems\[1\]\.significance\.rougeL\.pValue must be between 0 and 1/],
      [(value) => (value.systems = 'all'), /^report\.json: systems must be an array \(got a string/],
    ];
    for (const [change, expected] of cases) {
      const value = roundTrip(sampleReport());
      change(value);
      assert.match(validationError(value), expected);
    }
    assert.equal(validationError([]), 'report.json: the report must be an object (got an array)');
  });

  it('reads null statistics (NaN written as JSON) back as NaN', () => {
    const value = roundTrip(sampleReport());
    value.systems[0].metrics.rougeL.low = null;
    value.systems[1].loss.train[2][1] = null;
    const read = report.validateReport(value, 'report.json');
    assert.ok(Number.isNaN(read.systems[0].metrics.rougeL.low));
    assert.ok(Number.isNaN(read.systems[1].loss!.train[2][1]));
    const counts = roundTrip(sampleReport());
    counts.systems[1].trainableParameters = null;
    assert.match(validationError(counts), /^report\.json: systems\[1\]\.trainableParameters must be a number \(got null\)/);
  });

  it('readReport names the file and the line of bad JSON', async () => {
    const file = path.join(directory, 'broken.json');
    writeFileSync(file, '{\n  "schema": "tunekit.report/1",\n  "title": oops\n}\n');
    await assert.rejects(report.readReport(file), (error: TunekitError) => error.code === 'E_REPORT' && error.message.includes(`${file}: invalid JSON at line 3`));
    const good = path.join(directory, 'good.json');
    writeFileSync(good, JSON.stringify(sampleReport()));
    assert.deepEqual(await report.readReport(good), sampleReport());
  });
});

/** Two systems, one metric, one forgetting row, one check and one awkward example. */
function smallReport(): ComparisonReport {
  return {
    schema: 'tunekit.report/1',
    title: 'Tiny | test',
    createdAt: '2026-01-02T03:04:05Z',
    baseline: 'base',
    metrics: ['rouge1', 'bleu'],
    confidence: 0.9,
    bootstrapSamples: 200,
    seed: 1,
    testSize: 4,
    notes: ['model: tiny'],
    systems: [
      { name: 'base', label: 'Base', method: 'prompting', metrics: { rouge1: { value: 0.4, low: 0.35, high: 0.45 }, bleu: { value: 12.345, low: 10, high: 14.5 } } },
      {
        name: 'tuned',
        label: 'Tuned',
        method: 'lora',
        metrics: { rouge1: { value: 0.5, low: 0.45, high: 0.55 }, bleu: { value: 20, low: 18.25, high: 21.75 } },
        significance: { rouge1: { difference: 0.1, low: 0.02, high: 0.18, pValue: 0.012 }, bleu: { difference: 7.655, low: -1, high: 16, pValue: 0.31 } },
        trainableParameters: 1500,
        totalParameters: 150_000,
        trainSeconds: 12.34,
        artifactBytes: 6144,
      },
    ],
    forgetting: [{ system: 'tuned', task: 'hellaswag', metric: 'acc_norm', before: 0.25, after: 0.2, delta: { value: -0.05, low: -0.09, high: -0.01 }, higherIsBetter: true, documents: 40 }],
    checks: [{ name: 'adapter reloads', passed: true, detail: 'same outputs' }],
    examples: [{ input: 'a | b\nc', reference: '<b>ref</b>', outputs: { base: '**x**', tuned: 'x'.repeat(500) } }],
  };
}

describe('renderMarkdown', () => {
  it('writes the exact tables for a small report', () => {
    const expected = [
      '# Tiny \\| test',
      '',
      'Created 2026-01-02T03:04:05Z · baseline: Base · 4 test documents',
      '',
      '- model: tiny',
      '',
      '## Results',
      '',
      '| System | Method | ROUGE-1 | Δ ROUGE-1 | BLEU | Δ BLEU | Trainable parameters | Train time | Artifact |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      '| Base | prompting | 0.400 [0.350, 0.450] | baseline | 12.35 [10.00, 14.50] | baseline | — | — | — |',
      '| Tuned | lora | 0.500 [0.450, 0.550] | +0.100 [+0.020, +0.180] p=0.012 \\* | 20.00 [18.25, 21.75] | +7.66 [-1.00, +16.00] p=0.310 | 1,500 (1.00%) | 12.3 s | 6.00 KiB |',
      '',
      'Metrics: mean over 4 test documents with a 90% bootstrap interval (200 resamples, seed 1). Δ: paired difference against Base with its interval and p-value; \\* p < 0.05.',
      '',
      '## Forgetting',
      '',
      '| Task | Metric | Documents | Before | Tuned |',
      '| --- | --- | ---: | ---: | ---: |',
      '| hellaswag | acc_norm (higher is better) | 40 | 0.250 | -0.050 [-0.090, -0.010] ▼ |',
      '',
      "Δ = after − before fine-tuning, with a 90% paired bootstrap interval over the task's documents; ▼ worse and ▲ better beyond the interval.",
      '',
      '## Checks',
      '',
      '- ✓ adapter reloads — same outputs',
      '',
      '## Examples',
      '',
      '| # | Input | Reference | Base | Tuned |',
      '| ---: | --- | --- | --- | --- |',
      `| 1 | a \\| b<br>c | \\<b>ref\\</b> | \\*\\*x\\*\\* | ${'x'.repeat(399)}… |`,
      '',
    ].join('\n');
    assert.equal(report.renderMarkdown(smallReport()), expected);
  });

  it('leaves out sections a report does not have', () => {
    const bare = smallReport();
    delete bare.forgetting;
    delete bare.checks;
    delete bare.examples;
    delete bare.notes;
    const markdown = report.renderMarkdown(bare);
    for (const heading of ['## Forgetting', '## Checks', '## Examples', '## Systems', '- model']) assert.ok(!markdown.includes(heading), heading);
    assert.ok(markdown.includes('## Results'));
  });

  it('escapes what would be Markdown or HTML in model text', () => {
    assert.equal(report.escapeMarkdown('<script>alert(1)</script>'), '\\<script>alert(1)\\</script>');
    assert.equal(report.escapeMarkdown('a|b\r\nc\nd'), 'a\\|b<br>c<br>d');
    assert.equal(report.escapeMarkdown('[click](javascript:x) `code` _em_ snake_case &amp;'), '[click\\](javascript:x) \\`code\\` \\_em\\_ snake_case \\&amp;');
    const lines = smallReport();
    lines.notes = ['# not a heading', '1. not a list', '- nor this'];
    assert.ok(report.renderMarkdown(lines).includes('- \\# not a heading\n- 1\\. not a list\n- \\- nor this\n'));
  });
});

describe('renderHtml', () => {
  const html = report.renderHtml(sampleReport());

  it('is one self-contained page: no network references, scripts or external styles', () => {
    assert.ok(html.startsWith('<!doctype html>'));
    assert.doesNotMatch(html, /https?:\/\//);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<link\b/i);
    assert.doesNotMatch(html, /url\(/i);
    assert.doesNotMatch(html, /@import/i);
    assert.doesNotMatch(html, /NaN|undefined|Infinity/);
  });

  it('escapes model outputs', () => {
    assert.ok(html.includes('Hello &lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(html.includes('They *greet* &amp; chat.'));
    const hostile = sampleReport();
    hostile.title = '</title><img src=x onerror=alert(1)>';
    hostile.systems[1].label = '"><svg onload=alert(1)>';
    hostile.forgetting![0].task = "<a href='x'>";
    const page = report.renderHtml(hostile);
    assert.doesNotMatch(page, /<img|<svg onload|<a href/);
    assert.ok(page.includes('&quot;&gt;&lt;svg onload=alert(1)&gt;'));
  });

  it('draws one SVG per plot with a series per curve, a bar per system and a whisker per forgetting row', () => {
    const charts = svgs(html);
    assert.deepEqual(
      charts.map((chart) => chart.kind),
      ['line', 'bars', 'bars', 'whiskers', 'whiskers'],
    );
    assert.equal(count(html, /<svg\b/g), 5);
    const [loss, rouge, bleu, arc, wikitext] = charts;
    assert.deepEqual(
      [...loss.body.matchAll(/class="series" data-series="([^"]+)"/g)].map((match) => match[1]),
      ['lora train', 'lora eval', 'full train', 'full eval'],
    );
    assert.equal(count(loss.body, /<path d="M[^"]+"/g), 4);
    assert.equal(count(loss.body, /class="legend-item"/g), 4, 'two systems, training and validation');
    for (const bars of [rouge, bleu]) {
      assert.equal(count(bars.body, /<rect class="bar"/g), 3);
      assert.equal(count(bars.body, /class="error-bar"/g), 3);
    }
    for (const whiskers of [arc, wikitext]) {
      assert.equal(count(whiskers.body, /class="whisker"/g), 2);
      assert.equal(count(whiskers.body, /<line class="zero"/g), 1);
    }
    // The bars are drawn in their systems' colours, the same in every chart.
    for (const colour of ['#4e79a7', '#f28e2b', '#e15759']) assert.ok(rouge.body.includes(`fill="${colour}"`), colour);
    assert.ok(arc.body.includes('stroke="#f28e2b"') && arc.body.includes('stroke="#e15759"'));
  });

  it('puts the headline table first, then plots, then details', () => {
    const order = ['id="results"', 'id="plots"', 'id="forgetting"', 'id="checks"', 'id="systems"', 'id="examples"'].map((id) => html.indexOf(id));
    assert.ok(order.every((position) => position > 0));
    assert.deepEqual([...order].sort((a, b) => a - b), order);
    assert.ok(html.includes('<td class="numeric significant">+0.102 [+0.080, +0.123] p=0.001 *</td>'));
  });

  it('survives one system, one point, zero-width intervals and NaN without NaN in the page', () => {
    const lone: ComparisonReport = {
      ...smallReport(),
      baseline: 'only',
      metrics: ['rougeL'],
      systems: [
        {
          name: 'only',
          label: 'Only',
          method: 'lora',
          metrics: { rougeL: { value: 0.3, low: 0.3, high: 0.3 } },
          loss: { train: [[5, 1.5]], eval: [[5, NaN]] },
        },
      ],
      forgetting: [{ system: 'only', task: 'arc', metric: 'acc', before: NaN, after: NaN, delta: { value: NaN, low: NaN, high: NaN }, higherIsBetter: true, documents: 0 }],
      examples: [],
      checks: [],
    };
    const page = report.renderHtml(lone);
    assert.doesNotMatch(page, /NaN|Infinity|undefined/);
    assert.deepEqual(svgs(page).map((chart) => chart.kind), ['line', 'bars', 'whiskers']);
    assert.match(svgs(page)[0].body, /<circle cx="[\d.]+" cy="[\d.]+" r="3"/, 'a lone point is drawn as a dot');
    assert.ok(!page.includes('id="examples"') && !page.includes('id="checks"'));
    assert.doesNotMatch(report.renderMarkdown(lone), /NaN/);

    const flat = { ...lone, forgetting: undefined, systems: [{ ...lone.systems[0], loss: undefined, metrics: { rougeL: { value: 0, low: 0, high: 0 } } }] };
    const flatPage = report.renderHtml(flat);
    assert.deepEqual(svgs(flatPage).map((chart) => chart.kind), ['bars']);
    assert.ok(!flatPage.includes('id="forgetting"'));
    assert.doesNotMatch(flatPage, /NaN/);
  });
});

describe('writeReport', () => {
  it('writes the three files into a folder and leaves its other files alone', async () => {
    const folder = path.join(directory, 'existing');
    mkdirSync(folder);
    writeFileSync(path.join(folder, 'notes.txt'), 'mine');
    writeFileSync(path.join(folder, 'report.md'), 'old');
    const written = await report.writeReport(folder, sampleReport());
    assert.deepEqual(written, {
      folder,
      json: path.join(folder, 'report.json'),
      markdown: path.join(folder, 'report.md'),
      html: path.join(folder, 'report.html'),
    });
    assert.deepEqual(readdirSync(folder).sort(), ['notes.txt', 'report.html', 'report.json', 'report.md']);
    assert.equal(readFileSync(path.join(folder, 'notes.txt'), 'utf8'), 'mine');
    assert.equal(readFileSync(path.join(folder, 'report.md'), 'utf8'), report.renderMarkdown(sampleReport()));
    assert.deepEqual(await report.readReport(written.json), sampleReport());
  });

  it('writes nothing when the report is invalid, and all or nothing when a file cannot be replaced', async () => {
    const folder = path.join(directory, 'atomic');
    mkdirSync(folder);
    writeFileSync(path.join(folder, 'report.json'), 'old json');
    writeFileSync(path.join(folder, 'report.md'), 'old md');
    const before = readdirSync(folder).sort();

    const invalid = { ...sampleReport(), baseline: 'nobody' };
    await assert.rejects(report.writeReport(folder, invalid), /baseline must name one of the systems/);
    assert.deepEqual(readdirSync(folder).sort(), before);

    // report.html cannot be replaced (a folder holds its name), found after report.json and report.md were
    // renamed into place: they must be rolled back to their old content.
    mkdirSync(path.join(folder, 'report.html', 'inside'), { recursive: true });
    await assert.rejects(report.writeReport(folder, sampleReport()), /report\.html/);
    assert.deepEqual(readdirSync(folder).sort(), [...before, 'report.html'].sort());
    assert.equal(readFileSync(path.join(folder, 'report.json'), 'utf8'), 'old json');
    assert.equal(readFileSync(path.join(folder, 'report.md'), 'utf8'), 'old md');
  });

  it('writes only the formats asked for', async () => {
    const folder = path.join(directory, 'formats');
    const written = await report.writeReportFiles(folder, sampleReport(), ['html']);
    assert.deepEqual(readdirSync(folder), ['report.html']);
    assert.equal(written.json, undefined);
  });
});

describe('tunekit report', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [cli, 'report', ...args], { encoding: 'utf8' });

  it('re-renders a saved report into another folder', () => {
    const input = path.join(directory, 'saved.json');
    writeFileSync(input, JSON.stringify(sampleReport()));
    const output = path.join(directory, 'rendered');
    const result = run(['--input', input, '--output', output, '--format', 'md,html', '--json']);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { folder: output, markdown: path.join(output, 'report.md'), html: path.join(output, 'report.html') });
    assert.equal(readFileSync(path.join(output, 'report.html'), 'utf8'), report.renderHtml(sampleReport()));
  });

  it('fails naming the field, the flag or the format', () => {
    const input = path.join(directory, 'wrong.json');
    const wrong = roundTrip(sampleReport());
    wrong.systems[2].metrics.rougeL.low = 'low';
    writeFileSync(input, JSON.stringify(wrong));
    const field = run(['--input', input]);
    assert.equal(field.status, 1);
    assert.equal(field.stderr.trim(), `tunekit: ${input}: systems[2].metrics.rougeL.low must be a number (got a string ("low"))`);
    assert.match(run(['--input', input, '--formats', 'md']).stderr, /unknown flag --formats \(did you mean --format\?\)/);
    assert.match(run(['--input', input, '--format', 'pdf']).stderr, /--format: unknown format "pdf"/);
    assert.match(run([]).stderr, /--input FILE \(the report JSON\) is required/);
    const help = run(['--help']);
    assert.equal(help.status, 0);
    for (const flag of ['--input', '--output', '--format', '--json']) assert.ok(help.stdout.includes(flag), flag);
  });
});
