// `tunekit eval --holistic`: the systems (the model, then the model with each adapter), the HELM-style run and
// its side-by-side table. eval.ts calls in here so that its own flow stays as it was.
import path from 'node:path';
import { evaluate, type LoadedModel, type LanguageModel, PeftModel, TunekitError } from '../index.js';
import { flagBoolean, flagNumber, flagString, type ParsedArgs } from './args.js';

export const HOLISTIC_FLAGS = { holistic: 'switch', perturbations: 'value', 'perturbation-seed': 'value' } as const;

export const HOLISTIC_FLAGS_HELP = [
  '  --holistic             also report a HELM-style view per task and system, side by side: accuracy (the task\'s',
  '                         first metric ± stderr), calibration (multiple_choice: ECE over 10 equal-mass bins and',
  '                         over 1 bin, from the softmax of the choices\' log-likelihoods), robustness (the metric',
  '                         with each perturbation of the documents\' input text, and the worst case per document)',
  '                         and efficiency (documents/s, seconds, peak memory). Systems: the model, then the model',
  '                         with each adapter of --adapter A1,A2,… (comma-separated with --holistic). The results',
  '                         (--json, --output-path) stay those of the plain run (the adapter, or the first one),',
  '                         with the view under "holistic"',
  `  --perturbations LIST   with --holistic: ${evaluate.PERTURBATION_NAMES.join(', ')} (typo:P, space:N,`,
  `                         whitespace:N set the typo rate and the longest run; default ${evaluate.DEFAULT_PERTURBATIONS})`,
  '  --perturbation-seed S  with --holistic: seeds the perturbations as HELM does (default: HELM\'s unseeded one)',
];

export interface HolisticFlags {
  perturbations: evaluate.Perturbation[];
  perturbationSeed: number | undefined;
}

/** --holistic and its options (checked before any model loads), or null without --holistic. */
export function holisticFromFlags(args: ParsedArgs): HolisticFlags | null {
  if (!flagBoolean(args, 'holistic')) {
    for (const flag of ['perturbations', 'perturbation-seed']) if (args.flags.has(flag)) throw new TunekitError('E_FLAG', `--${flag} needs --holistic`);
    return null;
  }
  const list = flagString(args, 'perturbations');
  let perturbations: evaluate.Perturbation[];
  try {
    perturbations = evaluate.parsePerturbations(list ?? evaluate.DEFAULT_PERTURBATIONS);
  } catch (error) {
    if (error instanceof TunekitError) throw new TunekitError('E_FLAG', `--perturbations: ${error.message}`);
    throw error;
  }
  return { perturbations, perturbationSeed: flagNumber(args, 'perturbation-seed', { integer: true, min: 0 }) };
}

/** --adapter as a list: several comma-separated adapters only with --holistic. */
export function adapterList(args: ParsedArgs, holistic: HolisticFlags | null): string[] {
  const value = flagString(args, 'adapter');
  if (value === undefined) return [];
  if (holistic === null) return [value];
  const list = value.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (list.length === 0) throw new TunekitError('E_FLAG', '--adapter needs at least one adapter');
  return list;
}

export interface HolisticCliRun {
  /** The lm-eval results of the system a plain run evaluates (the adapter, the first of several, or the model). */
  results: evaluate.EvaluationResults;
  holistic: evaluate.HolisticView;
}

/** Evaluates the model and each adapter (loaded side by side into one PeftModel, switched between). */
export async function runHolistic(flags: HolisticFlags, loaded: LoadedModel, adapters: readonly string[], tasks: readonly string[], options: evaluate.HolisticOptions): Promise<HolisticCliRun> {
  const systems: evaluate.HolisticSystem[] = [];
  let peft: PeftModel | null = null;
  const onWarning = (message: string) => console.error(`tunekit: warning: ${message}`);
  for (const [i, adapter] of adapters.entries()) {
    const name = `adapter_${i + 1}`;
    if (peft === null) peft = await PeftModel.fromPretrained(loaded.model, adapter, { adapterName: name, onWarning });
    else await peft.loadAdapter(adapter, name, { onWarning });
  }
  const model: LanguageModel = peft ?? loaded.model;
  systems.push({ name: 'base', model, activate: () => peft?.setAdapter(null) });
  adapters.forEach((adapter, i) => systems.push({ name: adapter, model, activate: () => peft?.setAdapter(`adapter_${i + 1}`) }));
  const run = await evaluate.runHolisticEvaluation(systems, loaded.tokenizer, tasks, { ...options, ...flags });
  const primary = adapters.length === 0 ? 'base' : adapters[0];
  return { results: run.results[primary], holistic: run.holistic };
}

function formatNumber(value: number | null | undefined): string {
  return value === null || value === undefined || Number.isNaN(value) ? '—' : value.toFixed(4);
}

/** The view as one Markdown table: a row per task and measure, a column per system. */
export function holisticTable(view: evaluate.HolisticView): string {
  const header = (name: string) => (name === 'base' ? name : path.basename(name));
  const lines = [`|Task|Measure|${view.systems.map(header).join('|')}|`, `|----|-------|${view.systems.map(() => '----:').join('|')}|`];
  for (const [task, entry] of Object.entries(view.tasks)) {
    const cells = view.systems.map((system) => entry.systems[system]);
    const arrow = entry.higher_is_better ? '↑' : '↓';
    const rows: [string, (cell: evaluate.HolisticCell) => string][] = [
      [`${entry.metric} ${arrow}`, (cell) => `${formatNumber(cell.accuracy.value)}${typeof cell.accuracy.stderr === 'number' ? ` ± ${formatNumber(cell.accuracy.stderr)}` : ''}`],
    ];
    if (cells.some((cell) => cell.calibration !== null)) {
      rows.push([`ECE ${cells.find((cell) => cell.calibration !== null)?.calibration?.num_bins}-bin ↓`, (cell) => formatNumber(cell.calibration?.ece)]);
      rows.push(['ECE 1-bin ↓', (cell) => formatNumber(cell.calibration?.ece_1_bin)]);
    }
    if (cells.some((cell) => cell.robustness !== null)) {
      for (const label of view.perturbations) rows.push([`${entry.metric} · ${label}`, (cell) => formatNumber(cell.robustness?.perturbations[label])]);
      rows.push([`${entry.metric} · worst case ${arrow}`, (cell) => formatNumber(cell.robustness?.worst_case)]);
    }
    rows.push(['docs/s', (cell) => cell.efficiency.docs_per_second.toFixed(2)]);
    rows.push(['seconds', (cell) => cell.efficiency.seconds.toFixed(2)]);
    rows.push(['peak RSS MiB', (cell) => (cell.efficiency.peak_bytes / 2 ** 20).toFixed(1)]);
    rows.forEach(([measure, format], i) => lines.push(`|${i === 0 ? task : ''}|${measure}|${cells.map((cell) => (cell === undefined ? '—' : format(cell))).join('|')}|`));
  }
  return [...lines, '', view.signature].join('\n');
}
