// The evaluation layer: lm-evaluation-harness task YAML in, lm-eval's requests, numbers and results layout out.
export { harnessFor, loadEvaluationTasks, runEvaluation, sanitizeModelName, samplesFileRecord, writeEvaluationOutput, type EvaluationOutputFiles, type RunEvaluationOptions } from './run.js';
export { dumpTaskConfig, effectiveFewshot, evaluateTasks, hashString, type EvaluateEvent, type EvaluateOptions, type EvaluationResults, type LoggedSample } from './evaluate.js';
export { EvalTask, type DocumentInputPerturber, type DocumentRequests, type LoadTaskOptions, type RequestArguments } from './task.js';
export { BUNDLED_TASKS_DIR, TaskIndex, type ResolvedGroup, type TaskIndexEntry, type TaskIndexOptions } from './task-index.js';
export { BIGBENCH_VARIANTS, bigbenchRows, loadBigbenchTask, parseBigbenchName, type BigbenchVariant } from './bigbench.js';
export { aggregateGroups } from './groups.js';
export {
  OUTPUT_TYPES,
  parseGroupConfig,
  parseTaskConfig,
  PythonFunctionReference,
  readTaskFile,
  readTaskYaml,
  TASK_CONFIG_ERROR,
  type DocSpec,
  type FewshotConfig,
  type FilterPipeline,
  type FilterStep,
  type GroupConfig,
  type GroupMetricConfig,
  type MetricConfig,
  type OutputType,
  type TaskConfig,
} from './task-config.js';
export { loadTaskSplit, withDataFiles, type LoadSplitOptions, type TaskSplit } from './task-data.js';
export { docToChoice, docToTarget, docToText, renderTemplate, resolveField, type Doc, type DocContext } from './doc-fields.js';
export { DEFAULT_FEWSHOT_SEED, docPrefix, fewshotContext, FewshotSampler, multipleInputContexts, pythonEqual, type InputPerturber } from './fewshot.js';
export { compileFilters, DEFAULT_PIPELINE, FILTERS, type CompiledFilter, type Response } from './filters.js';
export { aggregateMetric, AGGREGATIONS, bootstrapStderr, CORPUS_METRICS, exactMatch, multipleChoiceMetrics, numpySum, resolveMetrics, ROUGE_METRICS, rougeScore, type Aggregation, type MetricValue, type TaskMetric } from './task-metrics.js';
export { HARNESS_MODEL_ERROR, HarnessModel, harnessMaxLength, rollingWindows, type GenerationRequest, type HarnessModelOptions, type LoglikelihoodRequest } from './harness-model.js';
export { comparisonReport, COMPARISON_METRICS, DEFAULT_COMPARISON_METRICS, metricStatistics, summarizeSystems, type ComparisonMetric, type ComparisonOptions, type SystemOutputs } from './compare.js';
export { COMPARE_ERROR, compareOnTestSet, type CompareEvent, type CompareRunOptions, type CompareSystem } from './compare-run.js';
export { generateCompletions, type CompletionOptions, type Completions } from './completions.js';
export { inContextPrompts, type InContextOptions, type InContextPrompt, type InstructionPair } from './in-context.js';
export { NumpyRandomState, PythonRandom, pythonStringSeed } from './python-random.js';
export { literalEval, PythonLiteralError, type PythonLiteral } from './python-literal.js';
export { pythonFindall, pythonRegex, pythonRemove, pythonSub } from './python-regex.js';
export {
  runHolisticEvaluation,
  worstCaseMetric,
  type HolisticAccuracy,
  type HolisticCell,
  type HolisticEfficiency,
  type HolisticEvent,
  type HolisticOptions,
  type HolisticRobustness,
  type HolisticRun,
  type HolisticSystem,
  type HolisticTaskView,
  type HolisticView,
} from './holistic.js';
export { choiceCalibration, choiceProbabilities, equalMassEdges, equalWidthEdges, expectedCalibrationError, selectiveAccuracy, type Binning, type CalibrationBin, type CalibrationErrorResult, type ChoiceCalibration } from './calibration.js';
export {
  DEFAULT_PERTURBATIONS,
  documentPerturber,
  parsePerturbations,
  PERTURBATION_ERROR,
  PERTURBATION_NAMES,
  perturbationLabel,
  perturbationRandom,
  perturbText,
  type Perturbation,
  type PerturbationName,
} from './perturbations.js';
export { bootstrapInterval, meanStatistic, pairedBootstrapDifference, ratioStatistic, type DocumentBootstrapOptions, type DocumentStatistic } from './paired-bootstrap.js';
export { FORGETTING_ERROR, forgettingReport, forgettingRows, measureForgetting, readGeneralText, scoreSystem, type ForgettingEvent, type ForgettingInput, type ForgettingOptions, type ForgettingSystem, type GeneralText, type SystemScores, type TaskScores, type TextScores } from './forgetting.js';
export { REPORT_FILE, saveComparisonReport } from './report-file.js';
export { FORGETTING_FILE, lossCurveFromState, measuresForgetting, trainWithForgetting, type TrainWithForgettingOptions, type TrainWithForgettingResult } from './train-forgetting.js';
export { parseVariation, runSweep, SWEEP_ERROR, sweepTestSet, withKeyPath, type SweepEvent, type SweepOptions, type SweepResult, type SweepRun, type SweepTestSet, type SweepTestSource, type SweepVariation } from './sweep.js';
