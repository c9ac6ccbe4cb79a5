/**
 * A training run that ends by measuring forgetting (the run config's forgetting_tasks / forgetting_text): the
 * trained model or adapter in output_dir against the config's base model, on the same documents, written to
 * output_dir/forgetting.json (a ComparisonReport with forgetting rows). The train layer cannot import evaluation,
 * so the measurement lives here, around runTraining.
 */
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModel } from '../models/load.js';
import { PeftModel } from '../peft/peft-model.js';
import type { ComparisonReport, LossCurve } from '../report/schema.js';
import type { TrainerState } from '../train/checkpoint.js';
import { runTraining, type RunConfig, type RunOptions, type RunResult } from '../train/run.js';
import { forgettingReport, readGeneralText, type ForgettingEvent, type ForgettingOptions, type GeneralText } from './forgetting.js';
import { TaskIndex } from './task-index.js';

export const FORGETTING_FILE = 'forgetting.json';

export interface TrainWithForgettingOptions extends RunOptions {
  /** Bootstrap settings and evaluation options beyond the config's (the config's limit and include paths win). */
  forgetting?: Omit<ForgettingOptions, 'onEvent'>;
  onForgettingEvent?: (event: ForgettingEvent) => void;
}

export interface TrainWithForgettingResult {
  run: RunResult;
  /** null when the config measures nothing, or the run was interrupted. */
  forgetting: ComparisonReport | null;
  /** output_dir/forgetting.json, when written. */
  forgettingFile: string | null;
}

/** trainer_state.json's log_history as [step, loss] points of the training and evaluation losses. */
export function lossCurveFromState(state: Pick<TrainerState, 'log_history'>): LossCurve {
  const curve: LossCurve = { train: [], eval: [] };
  for (const entry of state.log_history) {
    if (typeof entry.step !== 'number') continue;
    if (typeof entry.loss === 'number') curve.train.push([entry.step, entry.loss]);
    if (typeof entry.eval_loss === 'number') curve.eval.push([entry.step, entry.eval_loss]);
  }
  return curve;
}

/** Whether the config asks for a forgetting measurement. */
export function measuresForgetting(config: RunConfig): boolean {
  return config.run.forgetting_tasks !== null || config.run.forgetting_text !== null;
}

/**
 * runTraining, then (unless interrupted) forgetting of the trained model against `config.run.model`. The tasks
 * and the general text are checked before training starts, so a misspelled task fails at once, not after the run.
 */
export async function trainWithForgetting(config: RunConfig, options: TrainWithForgettingOptions = {}): Promise<TrainWithForgettingResult> {
  const { run } = config;
  const tasks = run.forgetting_tasks ?? [];
  const includePaths = run.forgetting_include_path ?? options.forgetting?.includePaths ?? [];
  if (tasks.length > 0) new TaskIndex(includePaths).resolve(tasks);
  const generalText: GeneralText | undefined = run.forgetting_text === null ? undefined : await readGeneralText(run.forgetting_text);
  const start = performance.now();
  const result = await runTraining(config, options);
  const trainSeconds = (performance.now() - start) / 1000;
  if (!measuresForgetting(config) || result.interrupted) return { run: result, forgetting: null, forgettingFile: null };
  const base = await loadModel(run.model);
  try {
    const outputDir = result.outputDir;
    const report = await forgettingReport({
      base: { model: base.model, tokenizer: base.tokenizer, name: 'base' },
      tuned: [
        {
          name: run.method,
          method: run.method,
          trainableParameters: result.trainable,
          trainSeconds,
          loss: lossCurveFromState(result.state),
          details: { output_dir: outputDir, steps: result.globalStep, train_examples: result.trainExamples },
          load: async () => {
            if (run.method === 'full') return loadModel(outputDir);
            const fresh = await loadModel(run.model);
            return { model: await PeftModel.fromPretrained(fresh.model, outputDir), tokenizer: fresh.tokenizer };
          },
        },
      ],
      tasks,
      generalText,
      options: {
        ...options.forgetting,
        includePaths,
        limit: run.forgetting_limit ?? options.forgetting?.limit,
        textLimit: run.forgetting_limit ?? options.forgetting?.textLimit,
        onEvent: options.onForgettingEvent,
      },
    });
    report.notes = [`base: ${run.model}`, `trained: ${outputDir}`, ...(report.notes ?? [])];
    const file = path.join(outputDir, FORGETTING_FILE);
    await writeFileAtomic(file, JSON.stringify(report, null, 2) + '\n');
    return { run: result, forgetting: report, forgettingFile: file };
  } finally {
    base.model.dispose();
  }
}
