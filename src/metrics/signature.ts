/**
 * sacreBLEU's signature strings: `key:value` pairs joined by '|', in sacreBLEU's order — nrefs, then bootstrap
 * trials and seed (and, for ROUGE's intervals, their confidence) when resampling was used, then the metric's own
 * keys, version last.
 */
import type { SignatureBootstrap } from './metric.js';

/** One `key:value` pair of a signature. */
export type SignatureEntry = readonly [key: string, value: string | number];

/** The sacreBLEU release whose semantics BLEU and chrF reproduce; it appears in every signature. */
export const SACREBLEU_VERSION = '2.6.0';

export function formatSignature(
  numberOfReferences: number | 'var',
  bootstrap: SignatureBootstrap | undefined,
  metricEntries: readonly SignatureEntry[],
): string {
  const pairs = [`nrefs:${numberOfReferences}`];
  if (bootstrap !== undefined) {
    pairs.push(`bs:${bootstrap.samples}`, `seed:${bootstrap.seed}`);
    if (bootstrap.confidence !== undefined) pairs.push(`conf:${bootstrap.confidence}`);
  }
  for (const [key, value] of metricEntries) pairs.push(`${key}:${value}`);
  return pairs.join('|');
}
