/**
 * Where forgetting, sweep and the trainer's forgetting_tasks save a ComparisonReport: report.json, report.md and
 * report.html in `folder`, written together or not at all (report.writeReport).
 */
import { writeReport, type ComparisonReport } from '../report/index.js';

export const REPORT_FILE = 'report.json';

/** Writes the report into `folder` (created if absent) and returns the files written: HTML, Markdown, JSON. */
export async function saveComparisonReport(folder: string, report: ComparisonReport): Promise<string[]> {
  const files = await writeReport(folder, report);
  return [files.html, files.markdown, files.json];
}
