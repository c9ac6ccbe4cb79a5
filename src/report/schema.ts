/**
 * The comparison report as JSON: what `tunekit compare`, `tunekit forgetting`, `tunekit sweep` and `tunekit demo`
 * produce and what the Markdown and HTML renderers read. Plain data only (no tensors, no models), so a report can be
 * made on one machine and rendered, diffed or re-rendered anywhere.
 */

export const REPORT_SCHEMA = 'tunekit.report/1';

/** A statistic with its bootstrap confidence interval (low ≤ value ≤ high, unless the interval is degenerate). */
export interface Interval {
  value: number;
  low: number;
  high: number;
}

/** A paired test of one system against the baseline on the same test documents. */
export interface PairedDifference {
  /** system − baseline, on the metric's own scale. */
  difference: number;
  low: number;
  high: number;
  pValue: number;
}

export interface LossCurve {
  /** [step, loss] points. */
  train: [number, number][];
  eval: [number, number][];
}

export interface SystemSummary {
  /** Machine key: zero_shot, few_shot, full, lora, qlora, prompt_tuning, adapter, ia3, or a sweep's value. */
  name: string;
  /** Shown in tables and legends. */
  label: string;
  /** prompting, full, lora, qlora, prompt_tuning, adapter, ia3, … */
  method: string;
  /** metric → mean over the test set with its confidence interval, on the metric's own scale (ROUGE 0–1, BLEU 0–100). */
  metrics: Record<string, Interval>;
  /** metric → the paired difference against the baseline (absent for the baseline itself). */
  significance?: Record<string, PairedDifference>;
  trainableParameters?: number;
  totalParameters?: number;
  trainSeconds?: number;
  /** Peak bytes held by tensors while training (or evaluating, for prompting baselines). */
  peakMemoryBytes?: number;
  /** Bytes of the saved adapter (PEFT methods) or model (full fine-tuning). */
  artifactBytes?: number;
  loss?: LossCurve;
  /** Free-form facts shown beside the system (template, shots, rank, …). */
  details?: Record<string, string | number | boolean>;
}

/** One held-out task (or general-text perplexity) before and after fine-tuning, for one tuned system. */
export interface ForgettingRow {
  system: string;
  task: string;
  metric: string;
  before: number;
  after: number;
  /** after − before, with a paired bootstrap interval over the task's documents. */
  delta: Interval;
  higherIsBetter: boolean;
  documents: number;
}

/** One test example with every system's output, for the side-by-side table. */
export interface ExampleRow {
  input: string;
  reference: string;
  /** system name → output. */
  outputs: Record<string, string>;
}

/** A named yes/no check the run performed (for example "merged LoRA equals unmerged"). */
export interface ReportCheck {
  name: string;
  passed: boolean;
  detail: string;
}

export interface ComparisonReport {
  schema: typeof REPORT_SCHEMA;
  title: string;
  /** ISO 8601. */
  createdAt: string;
  /** The system the others are tested against (a name in `systems`). */
  baseline: string;
  /** Metric columns in display order (keys of each system's `metrics`). */
  metrics: string[];
  /** Interval width, e.g. 0.95. */
  confidence: number;
  bootstrapSamples: number;
  seed: number;
  /** Documents in the test set the metrics were computed on. */
  testSize: number;
  systems: SystemSummary[];
  forgetting?: ForgettingRow[];
  examples?: ExampleRow[];
  checks?: ReportCheck[];
  /** Lines shown under the title: data, model, settings. */
  notes?: string[];
}
