/**
 * The demo from start to finish: the pipeline's comparison, then the stages that need its trained models, then the
 * report folder. Returns where the report is and each system's headline numbers.
 */
import { writeReport, type ComparisonReport, type ReportFiles } from '../report/index.js';
import { runDemoPipeline, type DemoOptions, type DemoSystemResult } from './pipeline.js';

export interface DemoRunOptions extends DemoOptions {
  /** The report folder. */
  outputDir: string;
}

export interface DemoOutcome {
  /** report.html, the file to open. */
  reportFile: string;
  files: ReportFiles;
  report: ComparisonReport;
  results: Record<string, DemoSystemResult>;
  /** Every check of the report passed. */
  checksPassed: boolean;
}

export async function runDemo(options: DemoRunOptions): Promise<DemoOutcome> {
  const run = await runDemoPipeline(options);
  try {
    const { report } = run;
    const files = await writeReport(options.outputDir, report);
    options.onEvent?.({ event: 'stage', stage: 'report', message: `report.html, report.md and report.json written to ${files.folder}`, ...files });
    return { reportFile: files.html, files, report, results: run.results, checksPassed: (report.checks ?? []).every((check) => check.passed) };
  } finally {
    run.base.dispose();
    for (const model of run.tuned.values()) model.dispose();
  }
}
