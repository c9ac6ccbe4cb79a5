/** Something a metric wants its caller to know about the input (the library never prints). */
export interface MetricWarning {
  /** Stable identifier, e.g. 'empty-tokenization'. */
  code: string;
  message: string;
  /** How many times it happened (in aggregated results). */
  count?: number;
}

export type WarningHandler = (warning: MetricWarning) => void;

/** Collects warnings once per code, counting repeats, and tells the handler about the first of each. */
export class WarningLog {
  private readonly byCode = new Map<string, MetricWarning>();
  constructor(private readonly handler?: WarningHandler) {}

  add(code: string, message: string): void {
    const seen = this.byCode.get(code);
    if (seen !== undefined) {
      seen.count = (seen.count ?? 1) + 1;
      return;
    }
    const warning: MetricWarning = { code, message, count: 1 };
    this.byCode.set(code, warning);
    this.handler?.({ code, message });
  }

  list(): MetricWarning[] {
    return [...this.byCode.values()].map((warning) => ({ ...warning }));
  }
}
