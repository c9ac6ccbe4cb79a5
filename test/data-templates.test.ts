/** Templates (Python str.format rules), template files (pools, few-shot, chat), and the bundled library. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { TunekitError } from '../src/errors.js';
import { compileTemplate, formatValue, pythonStr, renderTemplate } from '../src/data/template.js';
import {
  applyTemplate,
  applyTemplates,
  chooseTemplate,
  loadTemplateFile,
  parseTemplateData,
  parseTemplateFile,
  type MessagesRecord,
  type PromptCompletionRecord,
} from '../src/data/template-file.js';
import { bundledTemplate, bundledTemplates } from '../src/data/templates/index.js';

/** [template, values, Python 3.11's `template.format(**values)`, or null where Python raises]. */
const CASES: [string, Record<string, unknown>, string | null][] = [
  ["Hello {name}!", {"name": "Ada"}, "Hello Ada!"],
  ["{{literal}} {x} }}{{", {"x": 1}, "{literal} 1 }{"],
  ["{a[b]} {a[c][0]} {a[c][1]}", {"a": {"b": "B", "c": [10, 20]}}, "B 10 20"],
  ["{s[0]}{s[2]}", {"s": "héllo"}, "hl"],
  ["{a[:]} {a[}]} {a[ 0]}", {"a": {":": "colon", "}": "brace", " 0": "space"}}, "colon brace space"],
  ["{a b}/{a-b}/{ c}", {"a b": 1, "a-b": 2, " c": 3}, "1/2/3"],
  ["{t} {f} {n}", {"t": true, "f": false, "n": null}, "True False None"],
  ["{x} {y} {z} {w} {v}", {"x": 0.1, "y": 2.5, "z": 1e-05, "w": 0.0001, "v": 123456789012345.6}, "0.1 2.5 1e-05 0.0001 123456789012345.6"],
  ["{x} {y} {z}", {"x": 1.5e-7, "y": -2.75, "z": 1.5e16}, "1.5e-07 -2.75 15000000000000000"],
  ["{x!s:>5}|", {"x": "ab"}, "   ab|"],
  ["[{x:<6}] [{x:>6}] [{x:^7}] [{x:*^8}]", {"x": "mid"}, "[mid   ] [   mid] [  mid  ] [**mid***]"],
  ["{x:.3} {x:10.2s}| {x:08}", {"x": "abcdef"}, "abc ab        | abcdef00"],
  ["{x:d} {x:+d} {x: d} {x:06} {x:,} {x:_d} {x:x<+8d}", {"x": 1234567}, "1234567 +1234567  1234567 1234567 1,234,567 1_234_567 +1234567"],
  ["{x:0=8} {x:-^+9d} {x:010,} {x:=^10,}", {"x": -12345}, "-0012345 --12345-- -0,012,345 =-12,345=="],
  ["{x:f} {x:.2f} {x:.0f} {x:08.2f} {x:,.2f}", {"x": 1234567.891}, "1234567.891000 1234567.89 1234568 1234567.89 1,234,567.89"],
  ["{x:.0f} {y:.0f} {z:.2f} {w:.1f}", {"x": 2.5, "y": 3.5, "z": 2.675, "w": 0.25}, "2 4 2.67 0.2"],
  ["{x:e} {x:.2e} {x:E} {x:.0e}", {"x": 12345.678}, "1.234568e+04 1.23e+04 1.234568E+04 1e+04"],
  ["{x:e} {y:e} {z:.3e}", {"x": 0.0, "y": 5e-324, "z": 9.9996}, "0.000000e+00 4.940656e-324 1.000e+01"],
  ["{x:%} {x:.1%} {y:+.2%}", {"x": 0.125, "y": 0.5}, "12.500000% 12.5% +50.00%"],
  ["{x:f} {x:%} {x:e}", {"x": 3}, "3.000000 300.000000% 3.000000e+00"],
  ["{x:>6} {x:d} {x:f} {x:,}", {"x": true}, "     1 1 1.000000 1"],
  ["{x:10} {x:,} {x:_}", {"x": 1234567.25}, "1234567.25 1,234,567.25 1_234_567.25"],
  ["{x:.3f}", {"x": 1e+22}, "10000000000000000000000.000"],
  ["{x:+} {x:0} {x:00}", {"x": 0}, "+0 0 0"],
  ["{x:<05}", {"x": 7}, "70000"],
  ["{x:\n<5}|", {"x": "x"}, "x\n\n\n\n|"],
  ["{x:,d} {x:09,}", {"x": -1234}, "-1,234 -0,001,234"],
  ["{x:08,}", {"x": 12345}, "0,012,345"],
  ["{x:.12f} {x:.20f}", {"x": 0.1}, "0.100000000000 0.10000000000000000555"],
  ["{x:.3e} {x:.10e}", {"x": 0.3333333333333333}, "3.333e-01 3.3333333333e-01"],
  ["{", {}, null],
  ["}", {}, null],
  ["a {b", {"b": 1}, null],
  ["{x}}", {"x": 1}, null],
  ["{missing}", {"x": 1}, null],
  ["{a[0]}", {"a": {"0": 1}}, null],
  ["{a[b]c}", {"a": {"b": 1}}, null],
  ["{a[]}", {"a": 1}, null],
  ["{a.}", {"a": 1}, null],
  ["{a[5]}", {"a": [1]}, null],
  ["{a[b]}", {"a": [1]}, null],
  ["{0}", {}, null],
  ["{}", {}, null],
  ["{x:s}", {"x": 3}, null],
  ["{x:d}", {"x": 3.5}, null],
  ["{x:d}", {"x": "a"}, null],
  ["{x:+}", {"x": "a"}, null],
  ["{x:=5}", {"x": "a"}, null],
  ["{x:,}", {"x": "a"}, null],
  ["{x:5}", {"x": null}, null],
  ["{x:.}", {"x": 5}, null],
  ["{x:.2d}", {"x": 5}, null],
  ["{x!q}", {"x": 5}, null],
  ["{x!ss}", {"x": 5}, null],
  ["{x:5q}", {"x": 5}, null],
];

function render(template: string, values: Record<string, unknown>): string {
  return compileTemplate(template, 't').render(values, 'case');
}

test('str.format: recorded Python 3.11 results render exactly; what Python refuses is refused', () => {
  for (const [template, values, expected] of CASES) {
    if (expected === null) assert.throws(() => render(template, values), TunekitError, `expected an error for ${JSON.stringify(template)}`);
    else assert.equal(render(template, values), expected, `template ${JSON.stringify(template)}`);
  }
});

const python = process.env.PYTHON ?? 'python3';
const hasPython = spawnSync(python, ['-c', 'pass'], { stdio: 'ignore' }).status === 0;

test('str.format: the same cases, and more, agree with the python3 found here', { skip: hasPython ? false : 'python3 is absent' }, () => {
  const extra: [string, Record<string, unknown>][] = [];
  const floats = [0.5, 1.5, 2.5, 0.125, 0.375, 1 / 3, 2 / 3, 1e-7, 123.456, 99.995, 0.045, 1.005, 5e-5, 1e15 + 0.5, 6.02214076e23, 1.7976931348623157e308];
  for (const value of [...floats, ...floats.map((v) => -v)]) {
    extra.push(['{x} {x:f} {x:.0f} {x:.1f} {x:.2f} {x:.3e} {x:.0e} {x:e} {x:.1%} {x:>+14.3f} {x:_.2f} {x:015,.2f}', { x: value }]);
  }
  for (const value of [0, 7, -7, 999, 1000, -1000000, 123456789]) {
    extra.push(['{x} {x:d} {x:5} {x:<5}| {x:^+7} {x:=+7} {x:07} {x:,} {x:_} {x:011,} {x:.2f} {x:e} {x:%}', { x: value }]);
  }
  const all = [...CASES.map(([template, values]) => [template, values] as [string, Record<string, unknown>]), ...extra];
  const script = [
    'import json, sys',
    'out = []',
    'for template, values in json.load(sys.stdin):',
    '    try: out.append(template.format(**values))',
    '    except Exception: out.append(None)',
    'print(json.dumps(out))',
  ].join('\n');
  const result = spawnSync(python, ['-c', script], { input: JSON.stringify(all), encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const expected = JSON.parse(result.stdout) as (string | null)[];
  all.forEach(([template, values], index) => {
    const want = expected[index];
    if (want === null) assert.throws(() => render(template, values), TunekitError, `Python raised for ${JSON.stringify(template)} ${JSON.stringify(values)}`);
    else assert.equal(render(template, values), want, `template ${JSON.stringify(template)} with ${JSON.stringify(values)}`);
  });
});

test('str.format: what Python renders but tunekit refuses is refused with a reason, never rendered differently', () => {
  const refused: [string, Record<string, unknown>, RegExp][] = [
    ['{a.b}', { a: { b: 1 } }, /attribute access.*\[b\]/],
    ['{a!r}', { a: 'x' }, /!r conversion/],
    ['{a:{w}}', { a: 'x', w: 3 }, /nested fields/],
    ['{a:g}', { a: 1.5 }, /type 'g' is not supported/],
    ['{a:#x}', { a: 1 }, /'#' option/],
    ['{a:.3}', { a: 1.23456 }, /precision without a type/],
    ['{a}', { a: [1, 2] }, /is a list/],
    ['{a}', { a: { b: 1 } }, /is an object/],
    ['{a:z}', { a: 1.5 }, /'z' option/],
  ];
  for (const [template, values, message] of refused) {
    assert.throws(() => render(template, values), (error: unknown) => error instanceof TunekitError && message.test(error.message), template);
  }
});

test('a missing field names the template, the field and the record', () => {
  const template = compileTemplate('Summarize: {dialogue}', 'summarize');
  assert.throws(
    () => template.render({ where: 'train.jsonl:12', text: 'hi' }, 'train.jsonl:12'),
    (error: unknown) =>
      error instanceof TunekitError && error.code === 'E_TEMPLATE' && error.message === "train.jsonl:12: template 'summarize' needs field 'dialogue', which the record lacks (it has 'text')",
  );
  assert.throws(() => renderTemplate('{a[b][c]}', { a: { b: { d: 1 } }, where: 'x.jsonl:3' }), /^TunekitError: x\.jsonl:3: template 'template', field \{a\[b\]\[c\]\}: 'a\[b\]' has no key 'c' \(it has 'd'\)$/);
  assert.throws(() => renderTemplate('{a[3]}', { a: [1] }), /index 3 is out of range for 'a', a list of 1/);
});

test('a lone brace names the template and the column', () => {
  assert.throws(() => compileTemplate('Answer: {x} then }', 'qa'), (error: unknown) => error instanceof TunekitError && error.message === "template 'qa': column 18: single '}' (write '}}' for a literal brace)");
  assert.throws(() => compileTemplate('héllo {', 'qa'), /^TunekitError: template 'qa': column 7: single '\{' with no closing '\}'/);
  assert.throws(() => compileTemplate('a {b{c}}', 'qa'), /column 3: single '\{'/);
});

test('compiled templates list their fields and render many records', () => {
  const template = compileTemplate('{q} {a[0]} {q:>3}', 'x');
  assert.deepEqual(template.fields, ['q', 'a']);
  assert.equal(template.render({ q: 'Q', a: ['A'] }), 'Q A   Q');
  assert.equal(template.render({ q: 'R', a: ['B'] }), 'R B   R');
  assert.equal(pythonStr(1e-7), '1e-07');
  assert.equal(pythonStr(-0), '0');
  assert.equal(formatValue(2.5, '.0f'), '2');
  assert.equal(formatValue('ab', '^6'), '  ab  ');
});

const POOL_FILE = `
name: qa
few_shot: {k: 2, separator: "\\n--\\n", example: "Q: {question} A: {answer}"}
templates:
  - {name: plain, prompt: "Q: {question}\\nA:", completion: " {answer}"}
  - {name: polite, prompt: "Please answer: {question}\\n", completion: "{answer}"}
  - {name: shots, prompt: "{examples}\\n--\\nQ: {question} A:", completion: " {answer}"}
`;

const PINNED_CHOICES = ['polite', 'shots', 'plain', 'shots', 'polite', 'plain', 'polite', 'plain', 'polite', 'shots'];

const RECORDS = Array.from({ length: 40 }, (_, index) => ({ question: `q${index}`, answer: `a${index}`, where: `qa.jsonl:${index + 1}` }));

test('template files: unknown keys name the file and key and suggest the nearest', () => {
  assert.throws(() => parseTemplateFile('promt: "{x}"\ncompletion: "{y}"\n', 'tasks/qa.yaml'), (error: unknown) => error instanceof TunekitError && error.code === 'E_TEMPLATE_FILE' && /^tasks\/qa\.yaml: unknown key 'promt' \(did you mean 'prompt'\?\)/.test(error.message));
  assert.throws(() => parseTemplateFile('templates:\n  - {prompt: a, completion: b, sytem: c}\n', 'qa.yaml'), /^TunekitError: qa\.yaml: templates\[0\]: unknown key 'sytem' \(did you mean 'system'\?\)/);
  assert.throws(() => parseTemplateFile('prompt: a\ncompletion: b\nfew_shot: {kk: 2}\n', 'qa.yaml'), /few_shot: unknown key 'kk' \(did you mean 'k'\?\)/);
  assert.throws(() => parseTemplateFile('prompt: a\ncompletion: b\nformat: message\n', 'qa.yaml'), /'format' must be one of prompt_completion, messages, got "message" \(did you mean 'messages'\?\)/);
  assert.throws(() => parseTemplateFile('prompt: "{examples} {q}"\ncompletion: b\n', 'qa.yaml'), /uses \{examples\} but has no 'example' template/);
  assert.throws(() => parseTemplateFile('prompt: "a {"\ncompletion: b\n', 'qa.yaml'), /^TunekitError: qa\.yaml: template 'qa\.prompt': column 3: single '\{'/);
  assert.throws(() => parseTemplateFile('prompt: [a\n', 'qa.yaml'), /^TunekitError: qa\.yaml(:\d+)?: not valid YAML/);
});

test('template files: the pool choice per record is stable for a seed, and differs for another', () => {
  const set = parseTemplateFile(POOL_FILE, 'qa.yaml');
  const choices = (seed: number) => RECORDS.map((_, index) => chooseTemplate(set, index, seed).name);
  assert.deepEqual(choices(7), choices(7));
  assert.notDeepEqual(choices(7), choices(8));
  assert.deepEqual(new Set(choices(7)), new Set(['plain', 'polite', 'shots']));
  // Pinned: the same on every machine and run (xoshiro128** seeded per record index).
  assert.deepEqual(choices(7).slice(0, 10), PINNED_CHOICES);
  // A record's choice does not depend on which other records are rendered.
  assert.equal(chooseTemplate(set, 33, 7).name, choices(7)[33]);
});

test('template files: few-shot draws k examples from the pool, never the record itself, joined by the separator', () => {
  const set = parseTemplateFile(POOL_FILE, 'qa.yaml');
  const out = applyTemplates(set, RECORDS, { seed: 3, examplePool: RECORDS, templateName: 'shots' }) as PromptCompletionRecord[];
  out.forEach((record, index) => {
    const shots = record.prompt.split('\n--\n');
    assert.equal(shots.length, 3);
    assert.equal(shots[2], `Q: q${index} A:`);
    const used = shots.slice(0, 2).map((shot) => /^Q: (q\d+) A: (a\d+)$/.exec(shot));
    for (const match of used) {
      assert.ok(match !== null);
      assert.notEqual(match[1], `q${index}`);
      assert.equal(match[2], match[1].replace('q', 'a'));
    }
    assert.notEqual(used[0]?.[1], used[1]?.[1]);
    assert.equal(record.completion, ` a${index}`);
    assert.equal(record.where, `qa.jsonl:${index + 1}`);
  });
  const again = applyTemplates(set, RECORDS, { seed: 3, examplePool: RECORDS, templateName: 'shots' });
  assert.deepEqual(again, out);
  assert.throws(() => applyTemplate(set, RECORDS[0], 0, { seed: 3, templateName: 'shots' }), /qa\.jsonl:1: template 'shots' \(qa\.yaml\) uses \{examples\}, but no example pool was given/);
  assert.throws(() => applyTemplate(set, RECORDS[0], 0, { seed: 3, templateName: 'shot' }), /no template named 'shot' \(did you mean 'shots'\?\)/);
});

test('template files: chat messages with a system prompt, from YAML and JSON files', async () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'tunekit-templates-'));
  try {
    const yamlPath = path.join(directory, 'chat.yaml');
    writeFileSync(yamlPath, 'format: messages\nsystem: "You answer about {topic}."\nprompt: "{question}"\ncompletion: "{answer}"\n');
    const set = await loadTemplateFile(yamlPath);
    assert.equal(set.name, 'chat');
    const record = applyTemplate(set, { topic: 'math', question: '1+1?', answer: '2', where: 'a.jsonl:1' }, 0, { seed: 0 }) as MessagesRecord;
    assert.deepEqual(record, {
      messages: [
        { role: 'system', content: 'You answer about math.' },
        { role: 'user', content: '1+1?' },
        { role: 'assistant', content: '2' },
      ],
      where: 'a.jsonl:1',
    });
    const jsonPath = path.join(directory, 'plain.json');
    writeFileSync(jsonPath, JSON.stringify({ name: 'plain', prompt: 'Q: {question}\nA:', completion: ' {answer}' }));
    const plain = await loadTemplateFile(jsonPath);
    assert.deepEqual(applyTemplate(plain, { question: 'why', answer: 'because' }, 5, { seed: 1 }), { prompt: 'Q: why\nA:', completion: ' because' });
    assert.deepEqual(applyTemplate(plain, { question: 'why', answer: 'because' }, 5, { seed: 1, format: 'messages' }), {
      messages: [
        { role: 'user', content: 'Q: why\nA:' },
        { role: 'assistant', content: ' because' },
      ],
    });
    await assert.rejects(loadTemplateFile(path.join(directory, 'none.yaml')), /none\.yaml: no such template file/);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

/** A sample record for each task of the bundled library. */
const SAMPLES: Record<string, Record<string, unknown>> = {
  summarize_dialogue: { dialogue: '#Person1#: Are you coming tonight?\n#Person2#: Yes, at eight.', summary: '#Person2# will come at eight.' },
  review_sentiment: { review_body: 'Broke after two days.', sentiment: 'negative' },
  review_rating: { review_body: 'Works as described, fast shipping.', stars: 5 },
  extractive_qa: { context: 'The Nile flows north into the Mediterranean.', question: 'Where does the Nile flow into?', answer: 'the Mediterranean' },
  nli: { premise: 'A dog runs on the beach.', hypothesis: 'An animal is outside.', label: 'entailment' },
  math_word_problem: { question: 'Tom has 3 apples and buys 2 more. How many does he have?', answer: 'He has 3 + 2 = 5 apples.\n#### 5' },
  math_word_problem_few_shot: { question: 'A pen costs 2 dollars. How much do 4 pens cost?', answer: '4 * 2 = 8\n#### 8' },
  instruction_following: { instruction: 'Name three primary colors.', input: '', output: 'Red, yellow and blue.' },
  instruction_following_with_input: { instruction: 'Translate to French.', input: 'Good morning', output: 'Bonjour' },
};

test('bundled library: every template of every task renders a sample record of its task', () => {
  const listed = bundledTemplates();
  assert.deepEqual(listed.map((info) => info.name).sort(), Object.keys(SAMPLES).sort());
  for (const info of listed) {
    assert.ok(info.description.length > 10 && !info.description.includes('\n'), info.name);
    assert.ok(info.templates >= 2, `${info.name} has several phrasings`);
    const set = bundledTemplate(info.name);
    const sample = SAMPLES[info.name];
    const pool = [sample, { ...sample, question: 'Q2?', answer: 'A2' }, { ...sample, question: 'Q3?', answer: 'A3' }, { ...sample, question: 'Q4?', answer: 'A4' }];
    for (const template of set.templates) {
      const out = applyTemplate(set, sample, 0, { seed: 0, templateName: template.name, examplePool: pool, excludeFromPool: 0 }) as PromptCompletionRecord;
      assert.ok(out.prompt.length > 0 && out.completion.length > 0, `${info.name}/${template.name}`);
      for (const field of info.targets) assert.ok(out.completion.includes(String(sample[field])), `${info.name}/${template.name} completion holds ${field}`);
      for (const field of template.prompt.fields) if (field !== 'examples') assert.ok(out.prompt.includes(String(sample[field])), `${info.name}/${template.name} prompt holds ${field}`);
      assert.ok(!/\{[a-z_]+\}/.test(out.prompt + out.completion), `${info.name}/${template.name} leaves no placeholder`);
    }
  }
  const summarize = bundledTemplate('summarize_dialogue');
  assert.deepEqual(summarize.templates[0].completion.fields, ['summary']);
  assert.throws(() => bundledTemplate('summarise_dialogue'), /no bundled template set 'summarise_dialogue' \(did you mean 'summarize_dialogue'\?\)/);
  // The bundled data goes through the same validation as a user's file.
  assert.throws(() => parseTemplateData({ prompt: 'a', completion: 'b', extra: 1 }, 'bundled:x'), /bundled:x: unknown key 'extra'/);
});
