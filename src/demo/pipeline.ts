/**
 * `tunekit demo`: the whole story of instruction fine-tuning on one small model, offline. Raw dialogue records →
 * prompt template → instruction dataset → train/validation/test split → in-context baselines (zero- and few-shot
 * prompting of the base) → full fine-tuning, LoRA and prompt tuning (and any other PEFT method asked for) → test
 * ROUGE and BLEU with bootstrap intervals and paired tests against zero-shot → catastrophic forgetting of the base
 * task and held-out text → merged LoRA equals unmerged → the comparison report. Every stage reports through `onEvent`; nothing prints.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { applyTemplate, bundledTemplate, openDataset, sftPadTokenId, splitRecords, syntheticDialogues, templatesFrom, tokenizeSftDataset, type TemplateSet } from '../data/index.js';
import { comparisonReport, generateCompletions, inContextPrompts, lossCurveFromState, measureForgetting, type InstructionPair, type SystemOutputs } from '../evaluate/index.js';
import { loadModel, type Batch, type LanguageModel } from '../models/index.js';
import { getPeftModel, PeftModel } from '../peft/index.js';
import type { ComparisonReport, ForgettingRow, ReportCheck } from '../report/index.js';
import type { Tokenizer } from '../tokenize/index.js';
import { manualSeed, noGrad, tidy, type Device } from '../torch/index.js';
import { adapterConfigFor, train, type TrainExample, type TrainingArguments } from '../train/index.js';
import { DEMO_BASE_RECIPE, demoBaseDir, demoBaseModel } from './base-model.js';
import { writeBaseTask } from './base-task.js';

export const DEMO_METHODS = ['full', 'lora', 'qlora', 'prompt_tuning', 'ia3', 'adapter'] as const;
export type DemoMethod = (typeof DEMO_METHODS)[number];

export interface DemoOptions {
  /** A model folder or hub id instead of the demo's own base (which is pre-trained and cached on first use). */
  model?: string;
  /** A dataset (file, folder or hub id) of {dialogue, summary} records instead of the synthetic dialogues. */
  dataset?: string;
  /** A template file or bundled template name (default summarize_dialogue, its "summarize" template). */
  template?: string;
  methods?: readonly DemoMethod[];
  /** Training examples (default 1200). */
  trainSize?: number;
  /** Validation examples (default 48). */
  validationSize?: number;
  /** Test examples (default 80). */
  testSize?: number;
  /** Solved examples in the few-shot prompt (default 2). */
  shots?: number;
  /** Optimizer steps per method (default: one epoch at batch 8). */
  steps?: number;
  seed?: number;
  /** Bootstrap resamples for the intervals (default 1000). */
  bootstrapSamples?: number;
  cacheDir?: string;
  /** Where the models run (default cpu). */
  device?: Device;
  onEvent?: (event: DemoEvent) => void;
}

export type DemoEvent =
  | { event: 'stage'; stage: string; message: string; [key: string]: unknown }
  | { event: 'progress'; stage: string; done: number; total: number; loss?: number }
  | { event: 'system'; system: string; metrics: Record<string, number>; trainable_parameters: number; train_seconds: number };

export interface DemoSystemResult {
  rouge1: number;
  rouge2: number;
  rougeL: number;
  rougeLsum: number;
  bleu: number;
  trainable_parameters: number;
  train_seconds: number;
}

export interface DemoRun {
  report: ComparisonReport;
  results: Record<string, DemoSystemResult>;
  /** The trained models, for the stages after the comparison (forgetting, the merge check); caller disposes. */
  base: LanguageModel;
  tokenizer: Tokenizer;
  tuned: Map<string, LanguageModel>;
  test: InstructionPair[];
}

/** Each method's adapter settings and learning rate for the demo (PEFT's defaults where they serve). */
const METHOD_SETTINGS: Record<DemoMethod, { label: string; learningRate: number }> = {
  full: { label: 'Full fine-tuning', learningRate: 2e-3 },
  lora: { label: 'LoRA (r 8, q and v)', learningRate: 1e-2 },
  qlora: { label: 'QLoRA (NF4 base, r 8)', learningRate: 1e-2 },
  prompt_tuning: { label: 'Prompt tuning (20 tokens)', learningRate: 3e-1 },
  ia3: { label: 'IA³', learningRate: 3e-2 },
  adapter: { label: 'Bottleneck adapters', learningRate: 5e-3 },
};

/** The attention's query and value projections, by each architecture's names. */
function queryValueTargets(model: LanguageModel): string[] {
  const names = new Set(model.namedParameters().map(([key]) => key.split('.').at(-2) ?? ''));
  return ['q_proj', 'v_proj', 'q', 'v', 'c_attn'].filter((name) => names.has(name));
}

function stage(options: DemoOptions, name: string, message: string, data: Record<string, unknown> = {}): void {
  options.onEvent?.({ event: 'stage', stage: name, message, ...data });
}

async function rawRecords(options: DemoOptions, count: number): Promise<Record<string, unknown>[]> {
  if (options.dataset === undefined) return syntheticDialogues(options.seed ?? 0, count).map((record) => ({ ...record }));
  const dataset = await openDataset(options.dataset, { limit: count });
  const records: Record<string, unknown>[] = [];
  for await (const { record } of dataset.records()) records.push(record);
  if (records.length < count) throw new TunekitError('E_DEMO', `${options.dataset}: ${records.length} records, but train + validation + test need ${count}`);
  return records;
}

async function templateSet(options: DemoOptions): Promise<{ set: TemplateSet; name: string | undefined }> {
  if (options.template !== undefined) return { set: await templatesFrom(options.template), name: undefined };
  return { set: bundledTemplate('summarize_dialogue'), name: 'summarize' };
}

/** The demo's model for a method: the base itself for full fine-tuning, else the base wrapped with a new adapter. */
function modelFor(method: DemoMethod, base: LanguageModel): { model: LanguageModel; trainable: number; total: number } {
  if (method === 'full') {
    base.unfreeze();
    const counts = base.parameterCount();
    return { model: base, trainable: counts.trainable, total: counts.total };
  }
  const settings = method === 'prompt_tuning' ? { numVirtualTokens: 20 } : ['lora', 'qlora'].includes(method) ? { r: 8, loraAlpha: 16, loraDropout: 0.05, targetModules: queryValueTargets(base) } : {};
  const peft = getPeftModel(base, adapterConfigFor(method, settings, base));
  const summary = peft.trainableSummary();
  return { model: peft, trainable: summary.trainable, total: summary.total };
}

/** Logits (over prompt and reference) and greedy outputs of the LoRA model before and after merging the adapter. */
function mergeCheck(peft: PeftModel, tokenizer: Tokenizer, pairs: readonly InstructionPair[]): ReportCheck {
  const batches = pairs.map((pair): Batch => {
    const prompt = tokenizer.encode(pair.prompt);
    if (peft.kind === 'seq2seq') return { inputIds: [prompt], labels: [tokenizer.encode(pair.completion)] };
    return { inputIds: [[...prompt, ...tokenizer.encode(pair.completion, { addSpecialTokens: false })]] };
  });
  const logits = () => noGrad(() => batches.map((batch) => tidy(() => peft.logits(batch).toFloat32Array())));
  const prompts = pairs.map((pair) => pair.prompt);
  peft.eval();
  const before = logits();
  const generatedBefore = generateCompletions(peft, tokenizer, prompts, { maxNewTokens: 24 }).texts;
  peft.mergeAdapter();
  const after = logits();
  const generatedAfter = generateCompletions(peft, tokenizer, prompts, { maxNewTokens: 24 }).texts;
  peft.unmergeAdapter();
  let largest = 0;
  before.forEach((values, row) => values.forEach((value, index) => (largest = Math.max(largest, Math.abs(value - after[row][index])))));
  const same = generatedBefore.every((text, index) => text === generatedAfter[index]);
  const passed = largest < 1e-4 && same;
  return { name: 'merged LoRA equals unmerged', passed, detail: `largest logit difference ${largest.toExponential(2)} over ${pairs.length} examples; greedy outputs ${same ? 'identical' : 'differ'}` };
}

/** Runs the pipeline up to the comparison report (see the module comment). */
export async function runDemoPipeline(options: DemoOptions): Promise<DemoRun> {
  const seed = options.seed ?? 0;
  const methods = [...(options.methods ?? ['full', 'lora', 'prompt_tuning'])];
  for (const method of methods) if (!DEMO_METHODS.includes(method)) throw new TunekitError('E_DEMO', `unknown method "${method}" (known: ${DEMO_METHODS.join(', ')})`);
  const trainSize = options.trainSize ?? 1200;
  const validationSize = options.validationSize ?? 48;
  const testSize = options.testSize ?? 80;

  // The base model.
  // The base model: tunekit's own (pre-trained and cached on first use) or the one asked for; each method trains a fresh copy.
  const id = options.model;
  const load = async (): Promise<{ model: LanguageModel; tokenizer: Tokenizer }> => {
    const loaded = await loadModel(id ?? demoBaseDir(options.cacheDir), { device: options.device });
    if (loaded.tokenizer === null) throw new TunekitError('E_DEMO', `${id}: the model has no tokenizer.json`);
    return { model: loaded.model, tokenizer: loaded.tokenizer };
  };
  let first: { model: LanguageModel; tokenizer: Tokenizer };
  if (id === undefined) {
    const demoBase = await demoBaseModel({ cacheDir: options.cacheDir, device: options.device, onStep: (event) => options.onEvent?.({ event: 'progress', stage: 'pretrain', done: event.step, total: DEMO_BASE_RECIPE.pretraining.steps, loss: event.loss }) });
    stage(options, 'base', demoBase.cached ? `base model loaded from the cache: ${demoBase.dir}` : `base model pre-trained on synthetic stories and conversations in ${demoBase.seconds.toFixed(1)} s (loss ${demoBase.loss.toFixed(3)}), cached in ${demoBase.dir}`, { cached: demoBase.cached, dir: demoBase.dir, parameters: demoBase.model.parameterCount().total, pretrain_loss: demoBase.loss, seconds: demoBase.seconds });
    first = demoBase;
  } else first = await load();
  const baseName = id ?? 'tunekit demo base (2-layer Llama)';
  const { model: base, tokenizer } = first;
  const tuned = new Map<string, LanguageModel>();
  try {

    // Raw records → template → instruction dataset → split.
    const raw = await rawRecords(options, trainSize + validationSize + testSize);
    const { set, name: templateName } = await templateSet(options);
    const pairs = raw.map((record, index) => applyTemplate(set, record, index, { seed, templateName }) as unknown as InstructionPair);
    const { splits } = splitRecords(pairs, { sizes: { counts: [trainSize, validationSize, testSize] }, seed, names: ['train', 'validation', 'test'] });
    const [trainPairs, validationPairs, testPairs] = [splits.train, splits.validation, splits.test];
    stage(options, 'data', `${raw.length} raw records → "${set.name}" template → ${trainPairs.length} train / ${validationPairs.length} validation / ${testPairs.length} test`, { records: raw.length, template: set.name, train: trainPairs.length, validation: validationPairs.length, test: testPairs.length, example: testPairs[0] });

    const seq2seq = base.kind === 'seq2seq';
    const tokenize = (list: readonly InstructionPair[]) => tokenizeSftDataset(tokenizer, list, { maxLength: base.contextLength ?? 512, seq2seq }).examples as TrainExample[];
    const trainExamples = tokenize(trainPairs);
    const validationExamples = tokenize(validationPairs);
    const { padTokenId } = sftPadTokenId(tokenizer);
    const maxNewTokens = Math.max(...testPairs.map((pair) => tokenizer.encode(pair.completion).length)) + 8;
    const references = testPairs.map((pair) => pair.completion);
    const completions = (model: LanguageModel, prompts: string[], label: string) =>
      generateCompletions(model, tokenizer, prompts, { maxNewTokens, batchSize: 16, stop: ['\n\n'], onProgress: (done, total) => options.onEvent?.({ event: 'progress', stage: `generate ${label}`, done, total }) }).texts;

    const systems: SystemOutputs[] = [];
    const baseCounts = base.parameterCount();
    // In-context baselines: the base model prompted with the template alone, and with solved training examples first.
    const contextLength = base.contextLength ?? 512;
    const shots = options.shots ?? 2;
    for (const [name, label, k] of [['zero_shot', 'Zero-shot prompt', 0], ['few_shot', `${shots}-shot prompt`, shots]] as const) {
      const prompts = inContextPrompts(trainPairs, testPairs, { shots: k, maxLength: contextLength - maxNewTokens, length: (text) => tokenizer.encode(text).length });
      const outputs = completions(base, prompts.map((prompt) => prompt.prompt), name);
      systems.push({ name, label, method: 'prompting', outputs, trainableParameters: 0, totalParameters: baseCounts.total, trainSeconds: 0, details: { shots: k } });
      stage(options, 'baseline', `${label}: ${outputs.length} test outputs`, { system: name });
    }

    const steps = options.steps ?? Math.ceil(trainExamples.length / 8);
    for (const method of methods) {
      manualSeed(seed);
      const { model: fresh } = await load();
      const { model, trainable, total } = modelFor(method, fresh);
      const settings = METHOD_SETTINGS[method];
      const args: Partial<TrainingArguments> = {
        max_steps: steps, per_device_train_batch_size: 8, learning_rate: settings.learningRate, weight_decay: 0.01, warmup_steps: Math.min(10, steps), lr_scheduler_type: 'cosine',
        logging_steps: 5, eval_strategy: 'steps', eval_steps: Math.max(1, Math.floor(steps / 5)), per_device_eval_batch_size: 16, seed, save_strategy: 'no',
      };
      const started = performance.now();
      const result = await train(model, trainExamples, args, {
        padTokenId,
        evalExamples: validationExamples,
        onEvent: (event) => {
          if (event.event !== 'step') return;
          options.onEvent?.({ event: 'progress', stage: `train ${method}`, done: event.step, total: steps, loss: event.loss });
        },
      });
      const trainSeconds = (performance.now() - started) / 1000;
      const outputs = completions(model, testPairs.map((pair) => pair.prompt), method);
      systems.push({ name: method, label: settings.label, method, outputs, trainableParameters: trainable, totalParameters: total, trainSeconds, loss: lossCurveFromState(result.state), details: { steps, learning_rate: settings.learningRate } });
      tuned.set(method, model);
      stage(options, 'train', `${settings.label}: ${trainable} of ${total} parameters trained (${((100 * trainable) / total).toFixed(2)}%) in ${trainSeconds.toFixed(1)} s, final loss ${result.trainLoss.toFixed(3)}`, { system: method, trainable_parameters: trainable, total_parameters: total, train_seconds: trainSeconds });
    }

    // Catastrophic forgetting: the base task and held-out pre-training text, before and after each method.
    const workDir = mkdtempSync(path.join(tmpdir(), 'tunekit-demo-'));
    let forgetting: ForgettingRow[];
    try {
      const baseTask = writeBaseTask(workDir, seed);
      const started = performance.now();
      forgetting = await measureForgetting({
        base: { model: base, tokenizer, name: 'base' },
        tuned: [...tuned].map(([name, model]) => ({ name, model, method: name, label: METHOD_SETTINGS[name as DemoMethod].label })),
        tasks: [baseTask.taskFile],
        generalText: baseTask.generalText,
        options: { samples: options.bootstrapSamples ?? 1000, seed, batchSize: 16 },
      });
      stage(options, 'forgetting', `base task (${baseTask.task}) and held-out text before and after each method, in ${((performance.now() - started) / 1000).toFixed(1)} s`, { rows: forgetting });
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }

    const checks: ReportCheck[] = [];
    const lora = tuned.get('lora');
    if (lora instanceof PeftModel) checks.push(mergeCheck(lora, tokenizer, testPairs.slice(0, 4)));

    const report = comparisonReport(systems, {
      title: 'tunekit demo: dialogue summarization, prompting vs fine-tuning',
      baseline: 'zero_shot',
      references,
      inputs: testPairs.map((pair) => pair.prompt),
      bootstrap: { samples: options.bootstrapSamples ?? 1000, seed },
      checks,
      forgetting,
      notes: [
        `Base model: ${baseName}, ${baseCounts.total} parameters.`,
        `Data: ${options.dataset ?? 'synthetic planning dialogues with rule-written summaries (tunekit\'s own generator)'}; template "${set.name}"; ${trainPairs.length} train, ${validationPairs.length} validation, ${testPairs.length} test examples (seed ${seed}).`,
        `Each method trained ${steps} steps at batch 8; outputs decoded greedily; ROUGE with the Porter stemmer, BLEU as sacreBLEU; 95% bootstrap intervals over test documents; p-values from the paired bootstrap against zero-shot.`,
      ],
    });
    const results: Record<string, DemoSystemResult> = {};
    for (const system of report.systems) {
      const value = (metric: string) => system.metrics[metric]?.value ?? NaN;
      results[system.name] = { rouge1: value('rouge1'), rouge2: value('rouge2'), rougeL: value('rougeL'), rougeLsum: value('rougeLsum'), bleu: value('bleu'), trainable_parameters: system.trainableParameters ?? 0, train_seconds: system.trainSeconds ?? 0 };
      options.onEvent?.({ event: 'system', system: system.name, metrics: Object.fromEntries(Object.entries(system.metrics).map(([metric, interval]) => [metric, interval.value])), trainable_parameters: system.trainableParameters ?? 0, train_seconds: system.trainSeconds ?? 0 });
    }
    return { report, results, base, tokenizer, tuned, test: testPairs };
  } catch (error) {
    base.dispose();
    for (const model of tuned.values()) model.dispose();
    throw error;
  }
}
