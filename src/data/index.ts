// The data layer: raw datasets in, instruction datasets out, tokenized and collated as TRL does.
export { JSONL_ERROR, parseJsonl, readJsonl, recordError, streamJsonl, type JsonlRecord } from './records.js';
export {
  DATASET_FORMATS,
  DATASET_SOURCE_ERROR,
  datasetFormatOf,
  openDataset,
  type Dataset,
  type DatasetFormat,
  type DatasetRecord,
  type OpenDatasetOptions,
} from './sources.js';
export { CSV_ERROR, streamCsv, type CsvOptions, type CsvRow } from './csv.js';
export { PARQUET_ERROR, parquetFileMetadata, streamParquet } from './parquet.js';
export {
  compileTemplate,
  floatRepr,
  formatValue,
  parseFormatSpec,
  pythonStr,
  renderTemplate,
  Template,
  TEMPLATE_ERROR,
  type FieldStep,
  type FormatSpec,
  type TemplatePart,
} from './template.js';
export {
  applyTemplate,
  applyTemplates,
  chooseTemplate,
  loadTemplateFile,
  parseTemplateData,
  parseTemplateFile,
  TEMPLATE_FILE_ERROR,
  type ApplyTemplateOptions,
  type ChatMessage as TemplateChatMessage,
  type MessagesRecord,
  type PromptCompletionRecord,
  type TemplateChoice,
  type TemplatedRecord,
  type TemplateEntryData,
  type TemplateFileData,
  type TemplateFormat,
  type TemplateSet,
} from './template-file.js';
export { bundledTemplate, bundledTemplates, type BundledTemplateInfo } from './templates/index.js';
export { readInstructionRecords, templatesFrom, type InstructionRecordsOptions } from './instructions.js';
export {
  leakageReport,
  normalizeWhitespace,
  parseSplitSizes,
  SPLIT_ERROR,
  splitCounts,
  splitRecords,
  type DatasetSplits,
  type LeakageOptions,
  type LeakageReport,
  type LeakedInput,
  type SplitOptions,
  type SplitSizes,
} from './split.js';
export {
  formatMixture,
  MIXTURE_ERROR,
  mixTasks,
  mixtureRates,
  streamMixture,
  type MixedRecord,
  type MixtureOptions,
  type MixtureRateOptions,
  type MixtureResult,
  type MixtureTask,
} from './mixture.js';
export { recordRandom, shuffleInPlace, sampleIndices } from './random.js';
export {
  detectSftFormat,
  SFT_ERROR,
  tokenizeSftDataset,
  tokenizeSftJsonl,
  tokenizeSftRecord,
  type SftDatasetOptions,
  type SftDatasetResult,
  type SftExample,
  type SftFormat,
  type SftOptions,
  type SftRecordResult,
  type TruncationMode,
} from './sft.js';
export {
  collateLanguageModeling,
  collateSeq2Seq,
  positionIdsFromSeqLengths,
  sftPadTokenId,
  type CollatedBatch,
  type CollateExample,
  type CollateOptions,
} from './collate.js';
export {
  inspectSftExamples,
  type InspectedExample,
  type InspectedToken,
  type InspectOptions,
  type InspectWarning,
  type InspectWarningKind,
  type SftInspection,
} from './inspect.js';
export { packExamples, type PackedExample, type PackInput, type PackingStrategy } from './packing.js';
