/**
 * Writing a report folder: `report.json`, `report.md` and `report.html` replace their old versions together or
 * not at all, and nothing else in the folder is touched. Everything is rendered in memory first (a failing render
 * writes nothing); each file is then written and flushed beside its target (`<file>.tmp-<pid>-<n>`, the names
 * io/atomic clears after a dead writer); only when all are on disk are they renamed into place, and if one rename
 * fails the ones already done are put back as they were.
 */
import { constants } from 'node:fs';
import { copyFile, link, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { cleanUpInterruptedWrites, writeAll } from '../io/atomic.js';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';
import type { ComparisonReport } from './schema.js';
import { REPORT_ERROR, validateReport } from './validate.js';

export type ReportFormat = 'json' | 'md' | 'html';
export const REPORT_FORMATS: readonly ReportFormat[] = ['json', 'md', 'html'];

export const REPORT_FILE_NAMES: Record<ReportFormat, string> = { json: 'report.json', md: 'report.md', html: 'report.html' };

export interface ReportFiles {
  folder: string;
  html: string;
  markdown: string;
  json: string;
}

/** The report as saved: two-space JSON with a final newline (NaN and infinities become null, read back as NaN). */
export function reportJson(report: ComparisonReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

function render(report: ComparisonReport, format: ReportFormat): string {
  if (format === 'json') return reportJson(report);
  if (format === 'md') return renderMarkdown(report);
  return renderHtml(report);
}

let temporaryCounter = 0;

interface StagedFile {
  target: string;
  temporary: string;
  /** A link to (or copy of) the target's previous content while the new one is renamed in. */
  previous?: string;
}

async function isFile(candidate: string): Promise<boolean | undefined> {
  try {
    return (await stat(candidate)).isFile();
  } catch {
    return undefined;
  }
}

async function stage(target: string, text: string): Promise<StagedFile> {
  cleanUpInterruptedWrites(target);
  const temporary = `${target}.tmp-${process.pid}-${++temporaryCounter}`;
  const file = await open(temporary, 'wx');
  try {
    await writeAll(file, Buffer.from(text, 'utf8'));
    await file.sync();
  } finally {
    await file.close();
  }
  return { target, temporary };
}

/** Keeps the target's current content aside, so a later failure can put it back. */
async function keepPrevious(staged: StagedFile): Promise<void> {
  const kind = await isFile(staged.target);
  if (kind === undefined) return;
  if (!kind) throw new TunekitError(REPORT_ERROR, `cannot write ${staged.target}: a folder of that name is in the way`);
  // Named like a temporary, so that io/atomic clears it if this process dies before removing it.
  const previous = `${staged.target}.tmp-${process.pid}-${++temporaryCounter}`;
  await rm(previous, { force: true });
  try {
    await link(staged.target, previous);
  } catch {
    await copyFile(staged.target, previous, constants.COPYFILE_EXCL);
  }
  staged.previous = previous;
}

/** Renames every staged file into place, or none: on failure the renamed ones get their old content back. */
async function commit(files: StagedFile[]): Promise<void> {
  const done: StagedFile[] = [];
  try {
    for (const file of files) {
      await keepPrevious(file);
      await rename(file.temporary, file.target);
      done.push(file);
    }
  } catch (error) {
    for (const file of done.reverse()) {
      if (file.previous !== undefined) await rename(file.previous, file.target).catch(() => undefined);
      else await rm(file.target, { force: true }).catch(() => undefined);
    }
    throw error;
  } finally {
    for (const file of files) {
      await rm(file.temporary, { force: true }).catch(() => undefined);
      if (file.previous !== undefined) await rm(file.previous, { force: true }).catch(() => undefined);
    }
  }
}

async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r').catch(() => undefined);
  await handle?.sync().catch(() => undefined);
  await handle?.close().catch(() => undefined);
}

/**
 * Writes the chosen formats of `report` into `folder` (created if missing) under their fixed names; returns the
 * paths written. The report is validated first, so a file on disk always reads back with `readReport`.
 */
export async function writeReportFiles(folder: string, report: ComparisonReport, formats: readonly ReportFormat[] = REPORT_FORMATS): Promise<Partial<ReportFiles> & { folder: string }> {
  const checked = validateReport(report, `report for ${folder}`);
  const chosen = REPORT_FORMATS.filter((format) => formats.includes(format));
  if (chosen.length === 0) throw new TunekitError(REPORT_ERROR, `no report format chosen (formats: ${REPORT_FORMATS.join(', ')})`);
  const texts = chosen.map((format) => ({ format, text: render(checked, format) }));
  const directory = path.resolve(folder);
  await mkdir(directory, { recursive: true });
  const staged: StagedFile[] = [];
  try {
    for (const { format, text } of texts) staged.push(await stage(path.join(directory, REPORT_FILE_NAMES[format]), text));
  } catch (error) {
    for (const file of staged) await rm(file.temporary, { force: true }).catch(() => undefined);
    throw error;
  }
  await commit(staged);
  await syncFolder(directory);
  const result: Partial<ReportFiles> & { folder: string } = { folder: directory };
  for (const format of chosen) result[format === 'md' ? 'markdown' : format] = path.join(directory, REPORT_FILE_NAMES[format]);
  return result;
}

/** Writes `report.json`, `report.md` and `report.html` into `folder`, all three or none; other files are left alone. */
export async function writeReport(folder: string, report: ComparisonReport): Promise<ReportFiles> {
  return (await writeReportFiles(folder, report)) as ReportFiles;
}
