// The evaluation layer: lm-evaluation-harness task YAML in, lm-eval's requests, numbers and results layout out.
export { runEvaluation, sanitizeModelName, samplesFileRecord, writeEvaluationOutput, type EvaluationOutputFiles, type RunEvaluationOptions } from './run.js';
export { dumpTaskConfig, effectiveFewshot, evaluateTasks, hashString, type EvaluateEvent, type EvaluateOptions, type EvaluationResults, type LoggedSample } from './evaluate.js';
export { EvalTask, type DocumentRequests, type LoadTaskOptions, type RequestArguments } from './task.js';
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
export { DEFAULT_FEWSHOT_SEED, docPrefix, fewshotContext, FewshotSampler, multipleInputContexts, pythonEqual } from './fewshot.js';
export { compileFilters, DEFAULT_PIPELINE, FILTERS, type CompiledFilter, type Response } from './filters.js';
export { aggregateMetric, AGGREGATIONS, bootstrapStderr, CORPUS_METRICS, exactMatch, multipleChoiceMetrics, numpySum, resolveMetrics, ROUGE_METRICS, rougeScore, type Aggregation, type MetricValue, type TaskMetric } from './task-metrics.js';
export { HARNESS_MODEL_ERROR, HarnessModel, harnessMaxLength, rollingWindows, type GenerationRequest, type HarnessModelOptions, type LoglikelihoodRequest } from './harness-model.js';
export { NumpyRandomState, PythonRandom } from './python-random.js';
export { literalEval, PythonLiteralError, type PythonLiteral } from './python-literal.js';
export { pythonFindall, pythonRegex, pythonRemove, pythonSub } from './python-regex.js';
