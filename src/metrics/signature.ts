/**
 * sacreBLEU's signature strings: `key:value` pairs joined by '|', in sacreBLEU's order — nrefs, then bootstrap
 * trials and seed when resampling was used, then the metric's own keys, version last.
 */

/** The sacreBLEU release whose semantics BLEU and chrF reproduce; it appears in every signature. */
export const SACREBLEU_VERSION = '2.6.0';

export function formatSignature(
  numberOfReferences: number | 'var',
  bootstrap: { samples: number; seed: number } | undefined,
  metricEntries: readonly (readonly [string, string | number])[],
): string {
  const pairs = [`nrefs:${numberOfReferences}`];
  if (bootstrap !== undefined) pairs.push(`bs:${bootstrap.samples}`, `seed:${bootstrap.seed}`);
  for (const [key, value] of metricEntries) pairs.push(`${key}:${value}`);
  return pairs.join('|');
}
