/** The report as Markdown (GitHub-flavoured tables): title, notes, results, forgetting, checks, examples. */
import { MISSING, truncate } from './format.js';
import type { ComparisonReport } from './schema.js';
import { exampleSystems, forgettingTable, resultsTable, systemLabel, systemsTable, type Table } from './tables.js';

/** Example texts are cut to these many characters in Markdown (the HTML report shows them whole). */
export const MARKDOWN_INPUT_CHARACTERS = 300;
export const MARKDOWN_OUTPUT_CHARACTERS = 400;

/**
 * Text made safe inside a Markdown table cell or line: what would be Markdown (emphasis, code, links, raw HTML,
 * entities) is backslash-escaped so a model's `<script>` or `**` shows as typed, pipes cannot end the cell, and
 * line breaks become `<br>`. Characters that cannot start anything stay bare (`[0.1, 0.2]`, `p<0.05`, `arc_easy`),
 * which keeps the raw file readable: a document on one line has no link definitions, so only `](` and `][` link.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '')
    .replace(/[\\`*|~]|\](?=[([])|<(?=[A-Za-z/!?])|&(?=[A-Za-z#])|^>|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, (match) => `\\${match}`)
    .replace(/\r\n?|\n/g, '<br>');
}

/** `escapeMarkdown` for text that starts a line (a note, a check): it cannot begin a heading or a list either. */
function escapeLine(text: string): string {
  return escapeMarkdown(text).replace(/^(#|[-+](?=\s)|\d+(?=[.)]\s))/, (match) => (/^\d/.test(match) ? `${match}\\` : `\\${match}`));
}

export function markdownTable(table: Table): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const lines = [
    line(table.headers.map(escapeMarkdown)),
    line(table.numeric.map((numeric) => (numeric ? '---:' : '---'))),
    ...table.rows.map((row) => line(row.map((cell) => escapeMarkdown(cell.text)))),
  ];
  if (table.footnote !== undefined) lines.push('', escapeMarkdown(table.footnote));
  return lines.join('\n');
}

function header(report: ComparisonReport): string[] {
  const lines = [`# ${escapeLine(report.title)}`, ''];
  lines.push(escapeMarkdown(`Created ${report.createdAt} · baseline: ${systemLabel(report, report.baseline)} · ${report.testSize} test documents`), '');
  if (report.notes !== undefined && report.notes.length > 0) {
    for (const note of report.notes) lines.push(`- ${escapeLine(note)}`);
    lines.push('');
  }
  return lines;
}

function examplesSection(report: ComparisonReport): string[] {
  const examples = report.examples ?? [];
  if (examples.length === 0) return [];
  const systems = exampleSystems(report);
  const table: Table = {
    headers: ['#', 'Input', 'Reference', ...systems.map((name) => systemLabel(report, name))],
    numeric: [true, false, false, ...systems.map(() => false)],
    rows: examples.map((example, index) => [
      { text: String(index + 1) },
      { text: truncate(example.input, MARKDOWN_INPUT_CHARACTERS) },
      { text: truncate(example.reference, MARKDOWN_OUTPUT_CHARACTERS) },
      ...systems.map((name) => ({ text: name in example.outputs ? truncate(example.outputs[name], MARKDOWN_OUTPUT_CHARACTERS) : MISSING })),
    ]),
  };
  return ['## Examples', '', markdownTable(table), ''];
}

export function renderMarkdown(report: ComparisonReport): string {
  const lines = header(report);
  lines.push('## Results', '', markdownTable(resultsTable(report)), '');
  const forgetting = forgettingTable(report);
  if (forgetting !== undefined) lines.push('## Forgetting', '', markdownTable(forgetting), '');
  const checks = report.checks ?? [];
  if (checks.length > 0) {
    lines.push('## Checks', '');
    for (const check of checks) {
      const detail = check.detail === '' ? '' : ` — ${escapeMarkdown(check.detail)}`;
      lines.push(`- ${check.passed ? '✓' : '✗'} ${escapeMarkdown(check.name)}${detail}`);
    }
    lines.push('');
  }
  const systems = systemsTable(report);
  if (systems !== undefined) lines.push('## Systems', '', markdownTable(systems), '');
  lines.push(...examplesSection(report));
  return `${lines.join('\n').trimEnd()}\n`;
}
