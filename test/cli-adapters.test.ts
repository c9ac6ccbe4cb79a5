/**
 * `tunekit generate --adapter`, `merge` and `export-gguf` refuse an adapter that does not fit the base: exit code 1,
 * exactly one stderr line naming the file and the field or tensor, and nothing in the working folder changes (no
 * destination, no temporary). The reference model and adapters are copied into a scratch folder first, and only
 * the copies are altered.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { copyAdapter, setFloat32InSafetensors } from './helpers/adapters.js';
import { snapshotTree } from './helpers/filesystem.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const tiny = path.join(sharedDir, 'reference', 'models', 'hf-tiny');
const baseFiles = ['config.json', 'generation_config.json', 'model.safetensors'];

describe('tunekit refuses adapters that do not fit the base', { skip: hasShared ? false : 'no ../shared' }, () => {
  const root = mkdtempSync(path.join(tmpdir(), 'tunekit-cli-adapters-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  let counter = 0;
  /** A scratch folder with a copy of the tiny Llama (`base/`) and of `adapter` (`adapter/`), its config keys rewritten by `config`. */
  function freshCase(adapter: string, config: Record<string, unknown> = {}): string {
    const directory = path.join(root, `case-${counter++}`);
    mkdirSync(path.join(directory, 'base'), { recursive: true });
    for (const name of baseFiles) copyFileSync(path.join(tiny, 'llama', name), path.join(directory, 'base', name));
    copyAdapter(path.join(tiny, adapter), path.join(directory, 'adapter'), config);
    return directory;
  }

  const run = (directory: string, args: string[]) =>
    spawnSync(process.execPath, [cli, ...args], { cwd: directory, encoding: 'utf8', env: { ...process.env, TUNEKIT_THREADS: '1' } });
  const generate = (directory: string) => run(directory, ['generate', '--model', 'base', '--adapter', 'adapter', '--prompt-ids', '1,5,9', '--max-new-tokens', '2']);
  const merge = (directory: string) => run(directory, ['merge', '--model', 'base', '--adapter', 'adapter', '--out', 'merged']);
  const exportGguf = (directory: string) => run(directory, ['export-gguf', '--model', 'base', '--adapter', 'adapter', '--out', 'adapter.gguf']);

  /** Runs the command; asserts exit code 1, one stderr line matching `line`, and an unchanged folder. */
  function assertRefused(directory: string, command: (directory: string) => ReturnType<typeof run>, line: RegExp): void {
    const before = snapshotTree(directory);
    const result = command(directory);
    assert.equal(result.status, 1, `${result.stdout}\n${result.stderr}`);
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], line);
    assert.deepEqual(snapshotTree(directory), before);
  }

  /** `adapter/<file>` as the CLI names it (relative or resolved). */
  const inAdapter = (file: string) => `(?:.*[/\\\\])?adapter[/\\\\]${file.replace(/\./g, '\\.')}`;

  it('generate --adapter with a T5 prompt-tuning adapter on a Llama model: task_type, then the soft prompt layout', () => {
    assertRefused(
      freshCase('t5_flan/adapters/prompt_tuning'),
      generate,
      new RegExp(`^tunekit: ${inAdapter('adapter_config.json')}: "task_type" is "SEQ_2_SEQ_LM" \\(an adapter for encoder-decoder models\\), but the base model \\(llama\\) is decoder-only \\(CAUSAL_LM\\)$`),
    );
    assertRefused(
      freshCase('t5_flan/adapters/prompt_tuning', { task_type: 'CAUSAL_LM' }),
      generate,
      new RegExp(`^tunekit: ${inAdapter('adapter_config.json')}: "num_transformer_submodules" is 2 \\(a soft prompt for encoder-decoder models such as T5\\), but the base model \\(llama\\) is decoder-only, which takes 1$`),
    );
  });

  it('an adapter whose task_type is wrong, for generate, merge and export-gguf', () => {
    const line = new RegExp(`^tunekit: ${inAdapter('adapter_config.json')}: "task_type" is "SEQ_2_SEQ_LM" .*, but the base model \\(llama\\) is decoder-only \\(CAUSAL_LM\\)$`);
    const directory = freshCase('llama/adapters/lora_default', { task_type: 'SEQ_2_SEQ_LM' });
    assertRefused(directory, generate, line);
    assertRefused(directory, merge, line);
    assertRefused(directory, exportGguf, line);
  });

  const poisoned = 'base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight';
  /** A copy of the Llama LoRA adapter with one NaN in `poisoned`. */
  function nanCase(): string {
    const directory = freshCase('llama/adapters/lora_default');
    setFloat32InSafetensors(path.join(directory, 'adapter', 'adapter_model.safetensors'), poisoned, 3, Number.NaN);
    return directory;
  }
  const nanLine = (refused: string) =>
    new RegExp(`^tunekit: ${inAdapter('adapter_model.safetensors')}: tensor "${poisoned.replace(/\./g, '\\.')}" holds NaN or infinite values; ${refused}$`);

  it('a NaN in adapter_model.safetensors: generate', () => {
    assertRefused(nanCase(), generate, nanLine('the adapter was not loaded'));
  });

  it('a NaN in adapter_model.safetensors: merge writes no model', () => {
    assertRefused(nanCase(), merge, nanLine('the adapter was not loaded'));
  });

  it('a NaN in adapter_model.safetensors: export-gguf writes no file', () => {
    assertRefused(nanCase(), exportGguf, nanLine('nothing was exported'));
  });

  it('export-gguf names the base model\'s config.json and key when a size is missing', () => {
    const directory = freshCase('llama/adapters/lora_default');
    const configFile = path.join(directory, 'base', 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    delete config.num_attention_heads;
    writeFileSync(configFile, JSON.stringify(config));
    assertRefused(directory, exportGguf, /^tunekit: (?:.*[/\\])?base[/\\]config\.json: "num_attention_heads" must be a whole number from 1 to \d+, found nothing$/);
  });
});
