/**
 * Where forgetting, sweep and the trainer's forgetting_tasks save a ComparisonReport: `folder/report.json`, written
 * atomically. MERGE(report): the report branch's `writeReport(folder, report)` (report.json, report.md, report.html)
 * replaces the body of `saveComparisonReport` below — this is the one call site to wire.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { ComparisonReport } from '../report/schema.js';

export const REPORT_FILE = 'report.json';

/** Writes the report into `folder` (created if absent) and returns the files written. */
export async function saveComparisonReport(folder: string, report: ComparisonReport): Promise<string[]> {
  await mkdir(folder, { recursive: true });
  const file = path.join(folder, REPORT_FILE);
  await writeFileAtomic(file, JSON.stringify(report, null, 2) + '\n');
  return [file];
}
