// The report layer: comparison results as JSON, rendered as Markdown and self-contained HTML with inline SVG plots.
// It reads plain data only (metrics and io below it), so evaluate, the CLI and the demo all write reports through it.
export { REPORT_SCHEMA, type ComparisonReport, type ExampleRow, type ForgettingRow, type Interval, type LossCurve, type PairedDifference, type ReportCheck, type SystemSummary } from './schema.js';
export { readReport, REPORT_ERROR, validateReport } from './validate.js';
export { escapeMarkdown, renderMarkdown } from './markdown.js';
export { renderHtml } from './html.js';
export { REPORT_FILE_NAMES, REPORT_FORMATS, reportJson, writeReport, writeReportFiles, type ReportFiles, type ReportFormat } from './write.js';
