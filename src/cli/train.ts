import { dryRunTraining, evaluate, type DryRunReport, type MemoryEstimate, parseConfigValue, parseRunConfig, processGroupFromEnvironment, readRunConfigFile, requireDistributed, runConfigKeys, runTraining, TunekitError } from '../index.js';
import { type FlagSpec, flagBoolean, flagNumber, flagString, noExtraPositionals, parseArgs, type ParsedArgs } from './args.js';
import { forgettingTable } from './forgetting.js';
import { launchWorkers, type LaunchOptions } from './launch.js';
import { threadsFromFlags } from './model-options.js';
import { Progress } from './progress.js';
import type { Verb } from './verb.js';

const flagOf = (key: string) => key.replace(/_/g, '-');

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** A mixture's realized share of each task, one line per task. */
function printMixture(mixture: DryRunReport['mixture']): void {
  for (const [task, realized] of Object.entries(mixture ?? {})) console.log(`  ${task}: ${realized.count} examples (${(100 * realized.proportion).toFixed(1)}%, rate ${(100 * realized.rate).toFixed(1)}%)`);
}

function formatMemory(estimate: MemoryEstimate): string {
  return `${mib(estimate.total)} (weights ${mib(estimate.weights)}, gradients ${mib(estimate.gradients)}, optimizer ${mib(estimate.optimizer)}, activations ${mib(estimate.activations)})`;
}
const SWITCH_KEYS = new Set(['overwrite_output_dir', 'predict_with_generate']);

const LAUNCH_FLAGS = ['nproc', 'nnodes', 'node-rank', 'master-addr', 'master-port', 'dist-timeout'];

function flagSpec(): FlagSpec {
  const spec: FlagSpec = { config: 'value', json: 'switch', threads: 'value', 'dry-run': 'switch' };
  for (const flag of LAUNCH_FLAGS) spec[flag] = 'value';
  spec['shard-optimizer'] = 'switch';
  for (const key of runConfigKeys()) spec[flagOf(key)] = SWITCH_KEYS.has(key) ? 'switch' : 'value';
  return spec;
}

/** The config file's keys, then the flags over them (a flag's value is read as YAML: 2e-4, true, [q_proj, v_proj]). */
/** `--resume-from-checkpoint` alone (last, or before another flag) means the newest checkpoint: true. */
function resumeFlagDefault(argv: string[]): string[] {
  return argv.map((arg, index) => (arg === '--resume-from-checkpoint' && (index === argv.length - 1 || argv[index + 1].startsWith('--')) ? '--resume-from-checkpoint=true' : arg));
}

/** --nproc and its companions, as torchrun's --nproc-per-node, --nnodes, --node-rank, --master-addr, --master-port. */
function launchOptions(args: ParsedArgs): LaunchOptions | null {
  const given = LAUNCH_FLAGS.filter((flag) => args.flags.has(flag));
  if (given.length === 0) return null;
  const nproc = flagNumber(args, 'nproc', { integer: true, min: 1, max: 1024 });
  if (nproc === undefined) throw new TunekitError('E_FLAG', `--${given[0]} needs --nproc N (the processes to start on this machine)`);
  const nnodes = flagNumber(args, 'nnodes', { integer: true, min: 1, max: 65536 }) ?? 1;
  const nodeRank = flagNumber(args, 'node-rank', { integer: true, min: 0, max: nnodes - 1 }) ?? 0;
  return {
    nproc,
    nnodes,
    nodeRank,
    masterAddr: flagString(args, 'master-addr') ?? '127.0.0.1',
    masterPort: flagNumber(args, 'master-port', { integer: true, min: 1, max: 65535 }) ?? 29500,
    timeoutSeconds: flagNumber(args, 'dist-timeout', { min: 0, exclusiveMin: true }) ?? 60,
  };
}

/** argv without the launcher's flags: what each worker runs. */
function workerArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2).split('=')[0] : '';
    if (!LAUNCH_FLAGS.includes(name)) out.push(argv[i]);
    else if (!argv[i].includes('=')) i++;
  }
  return out;
}

function rawConfig(argv: string[]): { raw: Record<string, unknown>; source: string; json: boolean; dryRun: boolean; launch: LaunchOptions | null; shardOptimizer: boolean } {
  const args = parseArgs(resumeFlagDefault(argv), flagSpec());
  noExtraPositionals(args);
  const launch = launchOptions(args);
  threadsFromFlags(args);
  const file = flagString(args, 'config');
  const raw = file === undefined ? {} : readRunConfigFile(file);
  for (const key of runConfigKeys()) {
    const flag = flagOf(key);
    if (!args.flags.has(flag)) continue;
    if (SWITCH_KEYS.has(key)) raw[key] = flagBoolean(args, flag);
    else raw[key] = parseConfigValue(flagString(args, flag) as string);
  }
  return { raw, source: file ?? 'the flags', json: flagBoolean(args, 'json') || !process.stdout.isTTY, dryRun: flagBoolean(args, 'dry-run'), launch, shardOptimizer: flagBoolean(args, 'shard-optimizer') };
}

/** A worker `tunekit train --nproc` started ends when its launcher is gone (checked whenever the loop yields). */
function watchLauncher(): void {
  const launcher = Number(process.env.TUNEKIT_LAUNCHER_PID);
  if (!Number.isInteger(launcher) || launcher <= 0) return;
  setInterval(() => {
    if (process.ppid !== launcher) process.exit(1);
  }, 1000).unref();
}

export const trainVerb: Verb = {
  name: 'train',
  summary: 'fine-tune a model (full or any PEFT method) from a config file and/or flags, as transformers\' Trainer does',
  help: [
    'usage: tunekit train [--config run.yaml] [--KEY VALUE ...]',
    '',
    'Every config key is also a flag, with dashes (learning_rate → --learning-rate 2e-4); flags override the file.',
    'Ours: model, method (full | lora | qlora | prompt_tuning | ia3 | adapter | selective), adapter (an adapter',
    '  folder to keep training), dataset, eval_dataset, test_dataset, split ("0.8,0.1,0.1": train/validation/test',
    '  of dataset), shuffle (default true), dataset_split / eval_dataset_split / test_dataset_split (hub or folder',
    '  splits; default train, validation, test), dataset_config (a hub dataset\'s configuration), template (file or',
    '  bundled name; absent: TRL records), overwrite_output_dir, early_stopping_patience, early_stopping_threshold,',
    '  generation_samples, max_train_samples (train on the first N training examples), mixture ({tasks: [{name,',
    '  dataset, template, split}], method: proportional | temperature, cap, temperature, count}: a FLAN-style',
    '  multitask mixture as the training data).',
    'Forgetting: forgetting_tasks ([t1, t2]: lm-eval tasks scored on the base model and the trained one at the end),',
    '  forgetting_include_path (task YAML folders), forgetting_text (general text for perplexity), forgetting_limit',
    '  (documents per task); writes output_dir/forgetting.json with each delta and its paired bootstrap interval.',
    "Seq2SeqTrainingArguments': predict_with_generate (evaluate by generating + ROUGE), generation_max_length,",
    '  generation_num_beams.',
    "TRL's: max_length (1024), completion_only_loss, assistant_only_loss, dataset_text_field.",
    "PEFT's: r, lora_alpha, lora_dropout, target_modules, use_rslora, bias, modules_to_save, num_virtual_tokens,",
    '  prompt_tuning_init, prompt_tuning_init_text, feedforward_modules, bottleneck_size, non_linearity, placement,',
    '  train_only, last_blocks, bitfit.',
    "transformers' TrainingArguments: output_dir (required), learning_rate, num_train_epochs, max_steps,",
    '  per_device_train_batch_size, per_device_eval_batch_size, gradient_accumulation_steps, warmup_steps,',
    '  warmup_ratio, lr_scheduler_type, weight_decay, adam_beta1, adam_beta2, adam_epsilon, max_grad_norm,',
    '  logging_steps, eval_strategy, eval_steps, save_strategy, save_steps, save_total_limit, save_only_model,',
    '  load_best_model_at_end, metric_for_best_model, greater_is_better, resume_from_checkpoint, bf16,',
    '  gradient_checkpointing (decoder-only models), seed,',
    '  data_seed.',
    'Writes output_dir as Trainer does: checkpoint-N/ folders (atomic; resumable), then the model (full) or the',
    '  adapter (PEFT), trainer_state.json, train_results.json, test_results.json (with a test set), all_results.json;',
    '  and config.yaml (resolved config) and metrics.jsonl (one line per logged step and evaluation).',
    'Ctrl-C or SIGTERM: a checkpoint after the current step, exit status 130; --resume-from-checkpoint [DIR] continues',
    '  (default: the newest complete checkpoint in output_dir) with the same losses as an uninterrupted run.',
    '  --dry-run      print the resolved config, dataset statistics, parameters and estimated peak memory; train nothing',
    '  --json         JSON lines on stdout (the default when stdout is not a terminal)',
    '  --threads T    libtorch threads',
    'Data parallel (DDP on torch.distributed\'s c10d: Gloo over TCP; rank 0 writes output_dir):',
    '  --nproc N      start N worker processes on this machine (each gets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,',
    '                 MASTER_PORT as torchrun sets them; workers started by torchrun or any launcher need no flag)',
    '  --nnodes M --node-rank I --master-addr HOST --master-port P   the same over M machines (default 1, 0,',
    '                 127.0.0.1, 29500); per_device_train_batch_size is per process',
    '  --dist-timeout S   seconds a rendezvous or collective may wait for a rank (60); a dead rank ends the job',
    '  --shard-optimizer  ZeRO stage 1: each rank keeps 1/N of the AdamW state (results equal unsharded DDP)',
  ].join('\n'),
  async run(argv) {
    const { raw, source, json: jsonFlag, dryRun, launch, shardOptimizer } = rawConfig(argv);
    const config = parseRunConfig(raw, source);
    if (launch !== null && !dryRun) {
      requireDistributed();
      return launchWorkers(workerArgv(argv), launch);
    }
    if (dryRun) {
      const report = await dryRunTraining(config);
      if (jsonFlag) console.log(JSON.stringify({ event: 'dry_run', ...report }));
      else {
        for (const [key, value] of Object.entries(report.config)) console.log(`${key}: ${JSON.stringify(value)}`);
        for (const [name, stats] of Object.entries(report.datasets)) {
          if (stats !== null) console.log(`${name}: ${stats.examples} examples, ${stats.tokens} tokens (${stats.supervised_tokens} supervised), longest ${stats.longest}`);
        }
        console.log(`${report.max_steps} optimizer steps; ${report.trainable_parameters.toLocaleString('en-US')} of ${report.total_parameters.toLocaleString('en-US')} parameters trainable`);
        printMixture(report.mixture);
        console.log(`estimated peak memory ${formatMemory(report.memory_estimate)}`);
      }
      return 0;
    }
    const group = dryRun ? null : processGroupFromEnvironment();
    if (shardOptimizer && group === null && !dryRun) throw new TunekitError('E_FLAG', '--shard-optimizer shards the optimizer state over data parallel ranks: give --nproc N (or start the workers with torchrun)');
    watchLauncher();
    // Only rank 0 reports; the other ranks' stdout stays quiet (their errors still reach stderr).
    const quiet = group !== null && group.rank !== 0;
    const json = jsonFlag || quiet;
    const log = quiet ? () => {} : (line: string) => console.log(line);
    let bar: Progress | undefined;
    // The first Ctrl-C (or SIGTERM) ends the run after the current step with a checkpoint; a second one ends it now.
    const stop = new AbortController();
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stop.signal.aborted) process.exit(130);
      stop.abort();
      if (!json) console.error(`\n${signal}: saving a checkpoint after this step (again to quit at once)`);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let result: Awaited<ReturnType<typeof runTraining>>;
    let forgetting: Awaited<ReturnType<typeof evaluate.trainWithForgetting>> | null = null;
    try {
      const runOptions: Parameters<typeof runTraining>[1] = {
        signal: stop.signal,
        processGroup: group ?? undefined,
        shardOptimizer,
        onStart: (start) => {
          if (json) log(JSON.stringify({ event: 'start', mixture: start.mixture, max_steps: start.maxSteps, train_examples: start.trainExamples, eval_examples: start.evalExamples, test_examples: start.testExamples, trainable_parameters: start.trainable, total_parameters: start.total }));
          else {
            console.log(`${start.trainExamples} training, ${start.evalExamples} evaluation and ${start.testExamples} test examples, ${start.maxSteps} optimizer steps, ${start.trainable.toLocaleString('en-US')} of ${start.total.toLocaleString('en-US')} parameters trainable`);
            printMixture(start.mixture);
            bar = new Progress({ total: start.maxSteps, label: 'train', json: false, stream: process.stderr });
          }
        },
        onEvent: (event) => {
          if (json) {
            log(JSON.stringify(event));
            return;
          }
          if (event.event === 'step') bar?.update(event.step, { loss: Number(event.loss.toFixed(4)), lr: event.learning_rate, 'tokens/s': Math.round(event.tokens_per_second) });
          else if (event.event === 'eval') {
            const shown = Object.entries(event).filter(([key]) => key.startsWith('eval_')).map(([key, value]) => `${key} ${(value as number).toFixed(4)}`);
            console.error(`\nstep ${event.step}: ${shown.join(', ')}`);
          } else if (event.event === 'save') console.error(`\nsaved ${event.checkpoint}${event.deleted.length > 0 ? ` (deleted ${event.deleted.length} older)` : ''}`);
          else if (event.event === 'resume') console.log(`resuming from ${event.checkpoint} at step ${event.step}`);
        },
      };
      if (evaluate.measuresForgetting(config)) {
        if (group !== null) throw new TunekitError('E_FLAG', 'forgetting_tasks is not measured under data parallel training yet: train with --nproc, then score forgetting with `tunekit eval`');
        forgetting = await evaluate.trainWithForgetting(config, { ...runOptions, onForgettingEvent: (event) => (event.type === 'system' && !json ? console.error(`forgetting: scoring ${event.system} (${event.index + 1}/${event.systems})`) : undefined) });
        result = forgetting.run;
      } else result = await runTraining(config, runOptions);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      group?.destroy();
    }
    bar?.finish();
    const summary = {
      event: 'result',
      output_dir: result.outputDir,
      global_step: result.globalStep,
      train_loss: result.trainLoss,
      interrupted: result.interrupted,
      early_stopped: result.earlyStopped,
      best_metric: result.bestMetric,
      best_model_checkpoint: result.bestModelCheckpoint,
      train_examples: result.trainExamples,
      eval_examples: result.evalExamples,
      test_examples: result.testExamples,
      test_metrics: result.testMetrics,
      trainable_parameters: result.trainable,
      total_parameters: result.total,
      memory_estimate: result.memoryEstimate,
      peak_rss_bytes: result.peakRssBytes,
    };
    const measured = forgetting?.forgetting ?? null;
    if (json) {
      log(JSON.stringify(summary));
      if (measured !== null) log(JSON.stringify({ event: 'forgetting', file: forgetting?.forgettingFile, rows: measured.forgetting }));
    } else if (result.interrupted) console.log(`stopped at step ${result.globalStep}; resume with --resume-from-checkpoint (output_dir ${result.outputDir})`);
    else {
      console.log(`trained ${result.globalStep} steps (train_loss ${result.trainLoss.toFixed(4)}${result.earlyStopped ? ', stopped early' : ''}) into ${result.outputDir}`);
      console.log(`peak memory ${mib(result.peakRssBytes)} measured, ${mib(result.memoryEstimate.total)} estimated`);
      if (result.testMetrics !== null) console.log(`test: ${Object.entries(result.testMetrics).map(([key, value]) => `${key} ${Number.isInteger(value) ? value : value.toFixed(4)}`).join(', ')}`);
      if (measured !== null) console.log(`forgetting (${forgetting?.forgettingFile}):\n${forgettingTable(measured.forgetting ?? [])}`);
    }
    return result.interrupted ? 130 : 0;
  },
};
