/** Reports long work: a bar with rate and ETA on a TTY, JSON lines with `json` or when the stream is not a TTY. */
export interface ProgressOptions {
  total: number;
  label: string;
  unit?: string;
  json?: boolean;
  stream?: NodeJS.WriteStream;
  /** Minimum milliseconds between TTY redraws. */
  intervalMs?: number;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export class Progress {
  readonly #options: Required<Omit<ProgressOptions, 'stream'>> & { stream: NodeJS.WriteStream };
  readonly #startMs = performance.now();
  #lastDrawMs = 0;
  #done = 0;
  readonly #jsonLines: boolean;

  constructor(options: ProgressOptions) {
    const stream = options.stream ?? process.stdout;
    this.#options = { unit: 'it', json: false, intervalMs: 100, ...options, stream };
    this.#jsonLines = this.#options.json || !stream.isTTY;
  }

  get isJson(): boolean {
    return this.#jsonLines;
  }

  /** Advances to `done` units and reports `fields` (e.g. the loss) with it. JSON lines are written every call. */
  update(done: number, fields: Record<string, number | string> = {}): void {
    this.#done = done;
    const elapsedS = (performance.now() - this.#startMs) / 1000;
    const rate = done / Math.max(elapsedS, 1e-9);
    const etaS = (this.#options.total - done) / rate;
    if (this.#jsonLines) {
      const record = { event: 'progress', label: this.#options.label, done, total: this.#options.total, rate: Number(rate.toFixed(3)), etaS: Number(etaS.toFixed(1)), ...fields };
      this.#options.stream.write(JSON.stringify(record) + '\n');
      return;
    }
    const now = performance.now();
    if (done < this.#options.total && now - this.#lastDrawMs < this.#options.intervalMs) return;
    this.#lastDrawMs = now;
    const width = 24;
    const filled = Math.round((width * done) / Math.max(1, this.#options.total));
    const extra = Object.entries(fields)
      .map(([key, value]) => `${key} ${typeof value === 'number' ? value.toFixed(4) : value}`)
      .join('  ');
    const line = `${this.#options.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.#options.total} ${rate.toFixed(1)} ${this.#options.unit}/s ETA ${formatDuration(etaS)}  ${extra}`;
    this.#options.stream.write(`\r${line}\x1b[K`);
  }

  /** Ends the bar (a newline on a TTY). */
  finish(): void {
    if (!this.#jsonLines) {
      this.#lastDrawMs = 0;
      this.update(this.#done);
      this.#options.stream.write('\n');
    }
  }
}
