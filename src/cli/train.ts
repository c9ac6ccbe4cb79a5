import { parseConfigValue, parseRunConfig, readRunConfigFile, runConfigKeys, runTraining } from '../index.js';
import { type FlagSpec, flagBoolean, flagString, noExtraPositionals, parseArgs } from './args.js';
import { threadsFromFlags } from './model-options.js';
import { Progress } from './progress.js';
import type { Verb } from './verb.js';

const flagOf = (key: string) => key.replace(/_/g, '-');
const SWITCH_KEYS = new Set(['overwrite_output_dir']);

function flagSpec(): FlagSpec {
  const spec: FlagSpec = { config: 'value', json: 'switch', threads: 'value' };
  for (const key of runConfigKeys()) spec[flagOf(key)] = SWITCH_KEYS.has(key) ? 'switch' : 'value';
  return spec;
}

/** The config file's keys, then the flags over them (a flag's value is read as YAML: 2e-4, true, [q_proj, v_proj]). */
function rawConfig(argv: string[]): { raw: Record<string, unknown>; source: string; json: boolean } {
  const args = parseArgs(argv, flagSpec());
  noExtraPositionals(args);
  threadsFromFlags(args);
  const file = flagString(args, 'config');
  const raw = file === undefined ? {} : readRunConfigFile(file);
  for (const key of runConfigKeys()) {
    const flag = flagOf(key);
    if (!args.flags.has(flag)) continue;
    if (SWITCH_KEYS.has(key)) raw[key] = flagBoolean(args, flag);
    else raw[key] = parseConfigValue(flagString(args, flag) as string);
  }
  return { raw, source: file ?? 'the flags', json: flagBoolean(args, 'json') || !process.stdout.isTTY };
}

export const trainVerb: Verb = {
  name: 'train',
  summary: 'fine-tune a model (full or any PEFT method) from a config file and/or flags, as transformers\' Trainer does',
  help: [
    'usage: tunekit train [--config run.yaml] [--KEY VALUE ...]',
    '',
    'Every config key is also a flag, with dashes (learning_rate → --learning-rate 2e-4); flags override the file.',
    'Ours: model, method (full | lora | qlora | prompt_tuning | ia3 | adapter | selective), dataset, eval_dataset,',
    '  dataset_split (hub/folder split, default train), template (file or bundled name; absent: TRL records),',
    '  overwrite_output_dir.',
    "TRL's: max_length (1024), completion_only_loss, assistant_only_loss, dataset_text_field.",
    "PEFT's: r, lora_alpha, lora_dropout, target_modules, use_rslora, bias, modules_to_save, num_virtual_tokens,",
    '  prompt_tuning_init, prompt_tuning_init_text, feedforward_modules, bottleneck_size, non_linearity, placement,',
    '  train_only, last_blocks, bitfit.',
    "transformers' TrainingArguments: output_dir (required), learning_rate, num_train_epochs, max_steps,",
    '  per_device_train_batch_size, per_device_eval_batch_size, gradient_accumulation_steps, warmup_steps,',
    '  warmup_ratio, lr_scheduler_type, weight_decay, adam_beta1, adam_beta2, adam_epsilon, max_grad_norm,',
    '  logging_steps, eval_strategy, eval_steps, save_strategy, save_steps, seed, data_seed.',
    'Writes output_dir: the model (full) or the adapter (PEFT), config.yaml and metrics.jsonl.',
    '  --json         JSON lines on stdout (the default when stdout is not a terminal)',
    '  --threads T    libtorch threads',
  ].join('\n'),
  async run(argv) {
    const { raw, source, json } = rawConfig(argv);
    const config = parseRunConfig(raw, source);
    let bar: Progress | undefined;
    const result = await runTraining(config, {
      onStart: ({ maxSteps, trainExamples, evalExamples }) => {
        if (!json) {
          console.log(`${trainExamples} training and ${evalExamples} evaluation examples, ${maxSteps} optimizer steps`);
          bar = new Progress({ total: maxSteps, label: 'train', json: false, stream: process.stderr });
        }
      },
      onEvent: (event) => {
        if (json) {
          console.log(JSON.stringify(event));
          return;
        }
        if (event.event === 'step') {
          bar?.update(event.step, { loss: Number(event.loss.toFixed(4)), lr: event.learning_rate });
        } else if (event.event === 'eval') console.log(`step ${event.step}: eval_loss ${event.eval_loss.toFixed(4)}`);
      },
    });
    bar?.finish();
    const summary = { event: 'result', output_dir: result.outputDir, global_step: result.globalStep, train_loss: result.trainLoss, train_examples: result.trainExamples, eval_examples: result.evalExamples, trainable_parameters: result.trainable, total_parameters: result.total };
    if (json) console.log(JSON.stringify(summary));
    else console.log(`trained ${result.globalStep} steps (train_loss ${result.trainLoss.toFixed(4)}, ${result.trainable.toLocaleString('en-US')} of ${result.total.toLocaleString('en-US')} parameters trainable) into ${result.outputDir}`);
    return 0;
  },
};
