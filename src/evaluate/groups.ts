/**
 * Group rows as lm-eval's aggregate_groups computes them, children before parents: a group with an
 * aggregate_metric_list gets, per metric and filter, the mean of its tasks' values (weighted by their document
 * counts unless weight_by_size is false) and the pooled standard error (or, unweighted, √Σse² / k); every group
 * gets its version, its n-shot when its children agree, and its children's higher_is_better.
 */
import type { EvaluationResults } from './evaluate.js';
import type { ResolvedGroup } from './task-index.js';

function pooledStderr(stderrs: readonly number[], sizes: readonly number[]): number {
  let numerator = 0;
  sizes.forEach((size, i) => (numerator += (size - 1) * stderrs[i] ** 2 * size));
  const total = sizes.reduce((sum, size) => sum + size, 0);
  return Math.sqrt(numerator / (total - sizes.length) / total);
}

function unweightedStderr(stderrs: readonly number[]): number {
  let total = 0;
  for (const stderr of stderrs) total += stderr ** 2;
  return Math.sqrt(total) / stderrs.length;
}

function groupRow(group: ResolvedGroup, taskResults: EvaluationResults['results']): Record<string, unknown> {
  const { config, leaves } = group;
  const row: Record<string, unknown> = { alias: config.groupAlias ?? config.group, name: config.group };
  if (config.aggregateMetricList.length === 0) return row;
  row.sample_len = leaves.reduce((sum, task) => sum + Number(taskResults[task]?.sample_len ?? 0), 0);
  const sampleCount: Record<string, number> = {};
  for (const aggregate of config.aggregateMetricList) {
    const filters =
      aggregate.filterList ??
      [...new Set(leaves.flatMap((task) => Object.keys(taskResults[task] ?? {}).filter((key) => key.startsWith(`${aggregate.metric},`)).map((key) => key.slice(aggregate.metric.length + 1))))].sort();
    for (const filter of filters) {
      const key = `${aggregate.metric},${filter}`;
      const values: number[] = [];
      const stderrs: unknown[] = [];
      const sizes: number[] = [];
      for (const task of leaves) {
        const result = taskResults[task];
        if (result === undefined || !(key in result)) continue;
        values.push(result[key] as number);
        sizes.push(Number(result.sample_len ?? 0));
        const stderr = result[`${aggregate.metric}_stderr,${filter}`];
        if (stderr !== undefined && stderr !== null) stderrs.push(stderr);
      }
      if (values.length === 0) continue;
      const weights = aggregate.weightBySize ? sizes : sizes.map(() => 1);
      let weighted = 0;
      values.forEach((value, i) => (weighted += value * weights[i]));
      row[key] = weighted / weights.reduce((sum, weight) => sum + weight, 0);
      sampleCount[key] = sizes.reduce((sum, size) => sum + size, 0);
      const stderrKey = `${aggregate.metric}_stderr,${filter}`;
      if (stderrs.length === values.length && !stderrs.includes('N/A')) {
        row[stderrKey] = aggregate.weightBySize ? pooledStderr(stderrs as number[], sizes) : unweightedStderr(stderrs as number[]);
      } else row[stderrKey] = 'N/A';
    }
  }
  if (Object.keys(sampleCount).length > 0) row.sample_count = sampleCount;
  return row;
}

function sortedEntries<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Adds the groups' rows, `groups`, `group_subtasks` and their versions, n-shot and higher_is_better. */
export function aggregateGroups(results: EvaluationResults, groups: readonly ResolvedGroup[]): EvaluationResults {
  if (groups.length === 0) return results;
  const taskRows = { ...results.results };
  const rows: Record<string, Record<string, unknown>> = {};
  for (const group of groups) rows[group.config.group] = groupRow(group, taskRows);
  const versions = { ...results.versions };
  const nShot = { ...results['n-shot'] };
  const higherIsBetter = { ...results.higher_is_better };
  for (const group of groups) {
    versions[group.config.group] = group.config.version;
    const shots = new Set(group.children.filter((child) => child in nShot).map((child) => nShot[child]));
    if (shots.size === 1) nShot[group.config.group] = [...shots][0];
    const merged: Record<string, boolean | null> = {};
    for (const child of group.children) {
      for (const [metric, better] of Object.entries(higherIsBetter[child] ?? {})) {
        if (!(metric in merged)) merged[metric] = better;
        else if (merged[metric] !== null && merged[metric] !== better) merged[metric] = null;
      }
    }
    if (Object.keys(merged).length > 0) higherIsBetter[group.config.group] = merged as Record<string, boolean>;
  }
  const withAggregation = Object.fromEntries(groups.filter((group) => group.config.aggregateMetricList.length > 0).map((group) => [group.config.group, rows[group.config.group]]));
  const { results: _results, group_subtasks: _subtasks, configs, versions: _versions, 'n-shot': _nShot, higher_is_better: _better, ...rest } = results;
  return {
    results: { ...taskRows, ...rows },
    ...(Object.keys(withAggregation).length > 0 ? { groups: withAggregation } : {}),
    group_subtasks: Object.fromEntries(groups.map((group) => [group.config.group, group.children])),
    configs,
    versions: sortedEntries(versions),
    'n-shot': sortedEntries(nShot),
    higher_is_better: sortedEntries(higherIsBetter),
    ...rest,
  };
}
