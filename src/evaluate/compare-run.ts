/**
 * `tunekit compare` as a library call: the base model prompted (zero-shot, k-shot), fine-tuned model folders and
 * PEFT adapters (plain, or inside a `tunekit train` / Trainer output_dir) decode the same test prompts greedily, and
 * the outputs become one comparison report. What a training output_dir records comes along: the loss curves
 * (trainer_state.json's log_history), train_runtime and peak memory (train_results.json), and the size of the saved
 * weights.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { loadModel, type LanguageModel } from '../models/index.js';
import { readJsonFileSync } from '../io/json-file.js';
import { methodName, PeftModel } from '../peft/index.js';
import type { ComparisonReport, ForgettingRow } from '../report/index.js';
import type { Tokenizer } from '../tokenize/index.js';
import type { Device } from '../torch/index.js';
import { comparisonReport, type ComparisonMetric, type SystemOutputs } from './compare.js';
import { generateCompletions } from './completions.js';
import { inContextPrompts, type InstructionPair } from './in-context.js';
import type { IntervalOptions } from '../metrics/index.js';
import { TRAINER_STATE_FILE, type TrainerState } from '../train/index.js';
import { lossCurveFromState } from './train-forgetting.js';

export const COMPARE_ERROR = 'E_COMPARE';

/** One system: the base with a k-shot prompt, or a folder (a model, an adapter, or a training output_dir). */
export type CompareSystem = { name: string; label?: string; shots: number } | { name: string; label?: string; path: string };

export type CompareEvent = { type: 'system'; name: string; index: number; systems: number } | { type: 'progress'; name: string; done: number; total: number };

export interface CompareRunOptions {
  /** The base model: a folder or hub id. Adapters attach to it; prompting systems prompt it. */
  base: string;
  systems: readonly CompareSystem[];
  test: readonly InstructionPair[];
  /** Solved examples for k-shot prompts (lm-eval's draw). */
  fewshotPool?: readonly InstructionPair[];
  /** Default: the first system. */
  baseline?: string;
  metrics?: readonly ComparisonMetric[];
  bootstrap?: IntervalOptions;
  maxNewTokens?: number;
  batchSize?: number;
  /** Cut completions here (default the few-shot delimiter, "\n\n"). */
  stop?: string[];
  title?: string;
  forgetting?: ForgettingRow[];
  device?: Device;
  onEvent?: (event: CompareEvent) => void;
}

type FolderKind = 'adapter' | 'model';

function folderKind(dir: string): FolderKind {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new TunekitError(COMPARE_ERROR, `${dir}: not a folder (a system is a model folder, a PEFT adapter folder, or a training output_dir)`);
  if (existsSync(path.join(dir, 'adapter_config.json'))) return 'adapter';
  if (existsSync(path.join(dir, 'config.json'))) return 'model';
  throw new TunekitError(COMPARE_ERROR, `${dir}: neither adapter_config.json nor config.json is here, so it is no model or adapter`);
}

/** Bytes of the safetensors weights saved in a folder (an adapter's or a model's). */
export function safetensorsBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) if (name.endsWith('.safetensors')) total += statSync(path.join(dir, name)).size;
  return total;
}

/** What a training output_dir says about the run that made it. */
function trainingRecord(dir: string): Pick<SystemOutputs, 'loss' | 'trainSeconds' | 'peakMemoryBytes' | 'artifactBytes'> {
  const record: Pick<SystemOutputs, 'loss' | 'trainSeconds' | 'peakMemoryBytes' | 'artifactBytes'> = {};
  const readIfThere = (name: string) => (existsSync(path.join(dir, name)) ? (readJsonFileSync(path.join(dir, name), COMPARE_ERROR) as Record<string, unknown>) : null);
  const state = readIfThere(TRAINER_STATE_FILE);
  if (state !== null && Array.isArray(state.log_history)) {
    const loss = lossCurveFromState(state as unknown as TrainerState);
    if (loss.train.length + loss.eval.length > 0) record.loss = loss;
  }
  const results = readIfThere('train_results.json');
  if (typeof results?.train_runtime === 'number') record.trainSeconds = results.train_runtime;
  if (typeof results?.peak_rss_bytes === 'number') record.peakMemoryBytes = results.peak_rss_bytes;
  const bytes = safetensorsBytes(dir);
  if (bytes > 0) record.artifactBytes = bytes;
  return record;
}

function checkSystems(options: CompareRunOptions): void {
  if (options.systems.length === 0) throw new TunekitError(COMPARE_ERROR, 'nothing to compare: give at least one system');
  if (options.test.length === 0) throw new TunekitError(COMPARE_ERROR, 'the test set is empty');
  const names = options.systems.map((system) => system.name);
  for (const name of names) if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new TunekitError(COMPARE_ERROR, `system name "${name}": use letters, digits, _ . or -`);
  if (new Set(names).size !== names.length) throw new TunekitError(COMPARE_ERROR, `system names must differ, got ${names.join(', ')}`);
  for (const system of options.systems) {
    if ('path' in system) folderKind(system.path);
    else if (system.shots > 0 && (options.fewshotPool?.length ?? 0) < system.shots) throw new TunekitError(COMPARE_ERROR, `system "${system.name}": a ${system.shots}-shot prompt needs at least ${system.shots} solved examples (give a few-shot pool)`);
  }
}

/** Decodes the test set with every system and returns the comparison report. */
export async function compareOnTestSet(options: CompareRunOptions): Promise<ComparisonReport> {
  checkSystems(options);
  const baseline = options.baseline ?? options.systems[0].name;
  const prompts = options.test.map((pair) => pair.prompt);
  const references = options.test.map((pair) => pair.completion);
  const loaded = await loadModel(options.base, { device: options.device });
  const tokenizer = loaded.tokenizer as Tokenizer;
  if (loaded.tokenizer === null) {
    loaded.model.dispose();
    throw new TunekitError(COMPARE_ERROR, `${options.base}: the base model has no tokenizer.json`);
  }
  const maxNewTokens = options.maxNewTokens ?? Math.max(...references.map((reference) => tokenizer.encode(reference).length)) + 8;
  const contextLength = loaded.model.contextLength ?? 2048;
  const decode = (model: LanguageModel, name: string, texts: string[]) =>
    generateCompletions(model, tokenizer, texts, { maxNewTokens, batchSize: options.batchSize ?? 8, stop: options.stop ?? ['\n\n'], onProgress: (done, total) => options.onEvent?.({ type: 'progress', name, done, total }) }).texts;
  const systems: SystemOutputs[] = [];
  try {
    const baseTotal = loaded.model.parameterCount().total;
    for (const [index, system] of options.systems.entries()) {
      options.onEvent?.({ type: 'system', name: system.name, index, systems: options.systems.length });
      if (!('path' in system)) {
        const shaped = inContextPrompts(options.fewshotPool ?? [], options.test, { shots: system.shots, maxLength: contextLength - maxNewTokens, length: (text) => tokenizer.encode(text).length });
        const label = system.label ?? (system.shots === 0 ? 'Zero-shot prompt' : `${system.shots}-shot prompt`);
        systems.push({ name: system.name, label, method: 'prompting', outputs: decode(loaded.model, system.name, shaped.map((prompt) => prompt.prompt)), trainableParameters: 0, totalParameters: baseTotal, details: { shots: system.shots } });
        continue;
      }
      const kind = folderKind(system.path);
      const record = trainingRecord(system.path);
      if (kind === 'adapter') {
        // A fresh base per adapter: some methods change the base they attach to (QLoRA quantizes it).
        const fresh = await loadModel(options.base, { device: options.device });
        const peft = await PeftModel.fromPretrained(fresh.model, system.path);
        try {
          const method = methodName(peft.adapterConfig(peft.activeAdapter ?? 'default').peftType);
          const trainable = peft.adapterParameterCount(peft.activeAdapter ?? 'default');
          systems.push({ name: system.name, label: system.label ?? `${method} (${path.basename(system.path)})`, method, outputs: decode(peft, system.name, prompts), trainableParameters: trainable, totalParameters: peft.trainableSummary().total, ...record, details: { path: system.path } });
        } finally {
          peft.dispose();
        }
      } else {
        const tuned = await loadModel(system.path, { device: options.device });
        try {
          const total = tuned.model.parameterCount().total;
          systems.push({ name: system.name, label: system.label ?? `full (${path.basename(system.path)})`, method: 'full', outputs: decode(tuned.model, system.name, prompts), trainableParameters: total, totalParameters: total, ...record, details: { path: system.path } });
        } finally {
          tuned.model.dispose();
        }
      }
    }
  } finally {
    loaded.model.dispose();
  }
  return comparisonReport(systems, {
    title: options.title ?? `Comparison on ${options.test.length} test examples`,
    baseline,
    references,
    inputs: prompts,
    metrics: options.metrics,
    bootstrap: options.bootstrap,
    forgetting: options.forgetting,
    notes: [`Base model: ${options.base}.`, `Outputs decoded greedily (at most ${maxNewTokens} new tokens); 95% bootstrap intervals over test documents; paired differences against ${baseline}.`],
  });
}
