/**
 * The demo from start to finish: the pipeline's comparison, then the stages that need its trained models, then the
 * report folder. Returns where the report is and each system's headline numbers.
 */
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '../io/atomic.js';
import type { ComparisonReport } from '../report/index.js';
import { runDemoPipeline, type DemoOptions, type DemoSystemResult } from './pipeline.js';

export interface DemoRunOptions extends DemoOptions {
  /** The report folder. */
  outputDir: string;
}

export interface DemoOutcome {
  reportFile: string;
  report: ComparisonReport;
  results: Record<string, DemoSystemResult>;
  /** Every check of the report passed. */
  checksPassed: boolean;
}

export async function runDemo(options: DemoRunOptions): Promise<DemoOutcome> {
  const run = await runDemoPipeline(options);
  try {
    const { report } = run;
    await mkdir(options.outputDir, { recursive: true });
    const reportFile = path.join(options.outputDir, 'report.json');
    await writeFileAtomic(reportFile, JSON.stringify(report, null, 2) + '\n');
    options.onEvent?.({ event: 'stage', stage: 'report', message: `report written to ${options.outputDir}`, dir: options.outputDir });
    return { reportFile, report, results: run.results, checksPassed: (report.checks ?? []).every((check) => check.passed) };
  } finally {
    run.base.dispose();
    for (const model of run.tuned.values()) model.dispose();
  }
}
