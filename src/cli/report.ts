import path from 'node:path';
import { report, TunekitError } from '../index.js';
import { flagBoolean, flagString, noExtraPositionals, parseArgs, requireFlag } from './args.js';
import type { Verb } from './verb.js';

const HELP = `usage: tunekit report --input FILE [--output DIR] [--format html,md,json] [--json]

Re-renders a saved comparison report (the report.json that tunekit compare, forgetting, sweep and demo write)
as Markdown and as one self-contained HTML page with inline SVG plots (no network, opens from disk).
The input is checked field by field first; an error names the field at fault.

  --input FILE      the report JSON to render (schema ${report.REPORT_SCHEMA})
  --output DIR      folder to write into (default: the folder holding FILE); created if missing. Only
                    report.json, report.md and report.html are replaced, together or not at all; other files
                    in DIR are left alone
  --format LIST     comma-separated formats to write: html, md, json (default: all three)
  --json            print the written paths as one JSON object instead of one path per line`;

function parseFormats(text: string | undefined): report.ReportFormat[] {
  if (text === undefined) return [...report.REPORT_FORMATS];
  const names = text.split(',').map((name) => name.trim().toLowerCase()).filter((name) => name !== '');
  if (names.length === 0) throw new TunekitError('E_FLAG', `--format needs at least one of ${report.REPORT_FORMATS.join(', ')}`);
  for (const name of names) {
    const format = name === 'markdown' ? 'md' : name;
    if (!(report.REPORT_FORMATS as readonly string[]).includes(format)) {
      throw new TunekitError('E_FLAG', `--format: unknown format "${name}" (expected ${report.REPORT_FORMATS.join(', ')})`);
    }
  }
  return names.map((name) => (name === 'markdown' ? 'md' : name) as report.ReportFormat);
}

export const reportVerb: Verb = {
  name: 'report',
  summary: 'render a saved report.json as Markdown and self-contained HTML',
  help: HELP,
  async run(argv) {
    const args = parseArgs(argv, { input: 'value', output: 'value', format: 'value', json: 'switch' });
    noExtraPositionals(args);
    const input = requireFlag(args, 'input', 'FILE (the report JSON)');
    const formats = parseFormats(flagString(args, 'format'));
    const output = flagString(args, 'output') ?? path.dirname(path.resolve(input));
    const saved = await report.readReport(input);
    const written = await report.writeReportFiles(output, saved, formats);
    if (flagBoolean(args, 'json')) console.log(JSON.stringify(written));
    else for (const file of [written.json, written.markdown, written.html]) if (file !== undefined) console.log(file);
    return 0;
  },
};
