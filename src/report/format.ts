/**
 * How report numbers read: metric values with their intervals, signed differences, p-values, parameter counts,
 * durations and byte sizes. Shared by the Markdown and HTML renderers so both show the same text.
 */
import type { Interval, PairedDifference } from './schema.js';

/** Metrics reported on a 0–100 scale (sacreBLEU's BLEU, chrF, TER); the others are 0–1 or unbounded. */
const PERCENT_SCALE = /^(sacre)?bleu|^chrf|^ter$/i;

/** The significance level the tables mark. */
export const SIGNIFICANCE_LEVEL = 0.05;
export const SIGNIFICANT_MARK = '*';

export const MISSING = '—';

/** "ROUGE-L" for rougeL, "BLEU" for bleu, "chrF++" for chrf++ …; other names are shown as given. */
export function metricLabel(metric: string): string {
  const rouge = /^rouge(\d+|L|Lsum|W|S\d*|SU\d*)$/.exec(metric);
  if (rouge) return `ROUGE-${rouge[1]}`;
  if (/^(sacre)?bleu$/i.test(metric)) return 'BLEU';
  const chrf = /^chrf(\+*)$/i.exec(metric);
  if (chrf) return `chrF${chrf[1]}`;
  if (metric === 'exact_match') return 'exact match';
  return metric;
}

/** Decimals for a metric's values: two on the 0–100 scales, three for 0–1 scores, two for larger magnitudes. */
export function metricDecimals(metric: string, values: readonly number[] = []): number {
  if (PERCENT_SCALE.test(metric)) return 2;
  const finite = values.filter(Number.isFinite);
  return finite.length > 0 && finite.some((value) => Math.abs(value) >= 10) ? 2 : 3;
}

/** Fixed decimals, with "—" for a value that is not a finite number. */
export function formatNumber(value: number, decimals: number): string {
  if (!Number.isFinite(value)) return MISSING;
  const text = value.toFixed(decimals);
  return /^-0\.?0*$/.test(text) ? text.slice(1) : text;
}

export function formatSigned(value: number, decimals: number): string {
  const text = formatNumber(value, decimals);
  return Number.isFinite(value) && !text.startsWith('-') && Number(text) !== 0 ? `+${text}` : text;
}

/** "0.412 [0.371, 0.455]". */
export function formatInterval(interval: Interval, decimals: number): string {
  if (!Number.isFinite(interval.value)) return MISSING;
  const bounds = Number.isFinite(interval.low) && Number.isFinite(interval.high) ? ` [${formatNumber(interval.low, decimals)}, ${formatNumber(interval.high, decimals)}]` : '';
  return `${formatNumber(interval.value, decimals)}${bounds}`;
}

/** "+0.031 [+0.010, +0.052]": a difference or delta, signed so that the direction reads at a glance. */
export function formatSignedInterval(value: number, low: number, high: number, decimals: number): string {
  if (!Number.isFinite(value)) return MISSING;
  const bounds = Number.isFinite(low) && Number.isFinite(high) ? ` [${formatSigned(low, decimals)}, ${formatSigned(high, decimals)}]` : '';
  return `${formatSigned(value, decimals)}${bounds}`;
}

/** "p=0.004", "p<0.001". */
export function formatPValue(pValue: number): string {
  if (!Number.isFinite(pValue)) return `p=${MISSING}`;
  return pValue < 0.001 ? 'p<0.001' : `p=${pValue.toFixed(3)}`;
}

export function isSignificant(difference: PairedDifference): boolean {
  return Number.isFinite(difference.pValue) && difference.pValue < SIGNIFICANCE_LEVEL;
}

/** "+0.031 [+0.010, +0.052] p=0.004 *". */
export function formatDifference(difference: PairedDifference, decimals: number): string {
  const mark = isSignificant(difference) ? ` ${SIGNIFICANT_MARK}` : '';
  return `${formatSignedInterval(difference.difference, difference.low, difference.high, decimals)} ${formatPValue(difference.pValue)}${mark}`;
}

/** 1,234 below ten thousand; 12.3K, 4.57M, 1.10B above. */
export function formatCount(count: number): string {
  if (!Number.isFinite(count)) return MISSING;
  const magnitude = Math.abs(count);
  if (magnitude < 10_000) return Math.round(count).toLocaleString('en-US');
  const [divisor, suffix] = magnitude >= 1e9 ? [1e9, 'B'] : magnitude >= 1e6 ? [1e6, 'M'] : [1e3, 'K'];
  const scaled = count / divisor;
  return `${scaled.toFixed(Math.abs(scaled) >= 100 ? 0 : Math.abs(scaled) >= 10 ? 1 : 2)}${suffix}`;
}

/** A share of a whole as a percentage with enough digits to tell small shares apart: 100%, 1.23%, 0.0041%. */
export function formatPercent(part: number, whole: number): string {
  if (!Number.isFinite(part) || !Number.isFinite(whole) || whole <= 0) return MISSING;
  const percent = (100 * part) / whole;
  if (percent === 0 || percent === 100) return `${percent}%`;
  if (percent >= 10) return `${percent.toFixed(1)}%`;
  if (percent >= 0.1) return `${percent.toFixed(2)}%`;
  return `${percent.toPrecision(2)}%`;
}

/** "294.91K (1.23%)": trainable parameters with their share of all parameters. */
export function formatParameters(trainable: number | undefined, total: number | undefined): string {
  if (trainable === undefined) return MISSING;
  const share = total === undefined ? '' : ` (${formatPercent(trainable, total)})`;
  return `${formatCount(trainable)}${share}`;
}

/** "0.8 s", "42.3 s", "3 min 12 s", "1 h 05 min". */
export function formatSeconds(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return MISSING;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const wholeSeconds = Math.round(seconds);
  if (wholeSeconds < 3600) return `${Math.floor(wholeSeconds / 60)} min ${String(wholeSeconds % 60).padStart(2, '0')} s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** Binary units: "512 B", "3.4 KiB", "312.5 MiB", "1.50 GiB". */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return MISSING;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  return `${value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2)} ${units[unit]}`;
}

/** At most `limit` characters (whole code points), ending in "…" when cut. */
export function truncate(text: string, limit: number): string {
  const characters = Array.from(text);
  if (characters.length <= limit) return text;
  return `${characters.slice(0, Math.max(0, limit - 1)).join('').trimEnd()}…`;
}
