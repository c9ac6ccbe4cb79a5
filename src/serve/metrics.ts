// Counters, gauges and histograms in Prometheus' text exposition format (version 0.0.4).

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([key, value]) => `${key}="${value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`).join(',')}}`;
}

interface Metric {
  render(): string[];
}

export class Counter implements Metric {
  readonly #values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.#values.size === 0) lines.push(`${this.name} 0`);
    for (const [labels, value] of this.#values) lines.push(`${this.name}${labels} ${value}`);
    return lines;
  }
}

export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}

  render(): string[] {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${this.read()}`];
  }
}

export class Histogram implements Metric {
  readonly #counts: number[];
  #sum = 0;
  #count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {
    this.#counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    this.buckets.forEach((bound, index) => {
      if (value <= bound) this.#counts[index]++;
    });
    this.#sum += value;
    this.#count++;
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((bound, index) => lines.push(`${this.name}_bucket{le="${bound}"} ${this.#counts[index]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.#count}`, `${this.name}_sum ${this.#sum}`, `${this.name}_count ${this.#count}`);
    return lines;
  }
}

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const ROWS = [1, 2, 4, 8, 16, 32, 64, 128];

/** The server's metrics, by the names /metrics exposes. */
export class ServerMetrics {
  readonly requests = new Counter('tunekit_requests_total', 'HTTP requests answered, by route and status code');
  readonly promptTokens = new Counter('tunekit_prompt_tokens_total', 'prompt tokens of finished generation requests');
  readonly generationTokens = new Counter('tunekit_generation_tokens_total', 'tokens generated');
  readonly requestSeconds = new Histogram('tunekit_request_duration_seconds', 'time from a request to its last byte', SECONDS);
  readonly firstTokenSeconds = new Histogram('tunekit_time_to_first_token_seconds', 'time from a generation request to its first token', SECONDS);
  readonly stepSeconds = new Histogram('tunekit_decode_step_seconds', 'time of one decoding step of one batch', SECONDS);
  readonly batchRows = new Histogram('tunekit_batch_size', 'rows decoded together in one step', ROWS);
  /** Tensors alive in the model worker after its last step (flat over time unless something leaks). */
  workerTensors = 0;
  readonly #gauges: Gauge[];

  constructor(waiting: () => number, running: () => number) {
    this.#gauges = [
      new Gauge('tunekit_queue_depth', 'generation requests waiting for a batch', waiting),
      new Gauge('tunekit_running_requests', 'generation requests decoding now', running),
      new Gauge('tunekit_worker_live_tensors', 'tensors alive in the model worker after its last decoding step', () => this.workerTensors),
    ];
  }

  render(): string {
    const metrics: Metric[] = [this.requests, this.promptTokens, this.generationTokens, this.requestSeconds, this.firstTokenSeconds, this.stepSeconds, this.batchRows, ...this.#gauges];
    return metrics.flatMap((metric) => metric.render()).join('\n') + '\n';
  }
}
