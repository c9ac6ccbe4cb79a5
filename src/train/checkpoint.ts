/**
 * checkpoint-N folders as transformers' Trainer lays them out: the model (a transformers model folder) or adapter
 * (a PEFT folder), trainer_state.json in Trainer's shape, and what an exact resume needs beside it: the optimizer
 * state (optimizer.safetensors, instead of Trainer's pickled optimizer.pt), the scheduler step, the CPU generator's
 * state and the loop's position and running sums (tunekit_state.json). A folder is written as `checkpoint-N.tmp-…`
 * and renamed when whole, so a process killed at any moment leaves either a complete checkpoint or none.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { withAtomicDirectory, writeFileAtomic } from '../io/atomic.js';
import { loadSafetensorsFile, loadSafetensorsFolder, saveSafetensorsFile } from '../io/tensors.js';
import { saveModel } from '../models/save.js';
import type { LanguageModel } from '../models/types.js';
import type { OptimizerState } from '../optim/optimizer.js';
import { adapterStateDict, ADAPTER_WEIGHTS_FILE, canonicalKey, PeftModel, saveAdapter } from '../peft/index.js';
import { noGrad } from '../torch/runtime.js';
import type { Tensor } from '../torch/tensor.js';

export const CHECKPOINT_ERROR = 'E_CHECKPOINT';
export const TRAINER_STATE_FILE = 'trainer_state.json';
const LOOP_STATE_FILE = 'tunekit_state.json';
const OPTIMIZER_FILE = 'optimizer.safetensors';
const RNG_FILE = 'rng_state.bin';
const CHECKPOINT_NAME = /^checkpoint-(\d+)$/;

/** transformers' TrainerState, as trainer_state.json holds it. */
export interface TrainerState {
  best_global_step: number | null;
  best_metric: number | null;
  best_model_checkpoint: string | null;
  epoch: number;
  eval_steps: number;
  global_step: number;
  is_hyper_param_search: boolean;
  is_local_process_zero: boolean;
  is_world_process_zero: boolean;
  log_history: Record<string, number>[];
  logging_steps: number;
  max_steps: number;
  num_input_tokens_seen: number;
  num_train_epochs: number;
  save_steps: number;
  stateful_callbacks: Record<string, unknown>;
  total_flos: number;
  train_batch_size: number;
  trial_name: null;
  trial_params: null;
}

/** Where the loop stood and its running sums, so that what follows a resume equals what would have followed. */
export interface LoopState {
  /** What must match for the resumed run to be the same run. */
  fingerprint: Record<string, number | string>;
  epoch: number;
  /** Optimizer steps already done in `epoch`. */
  updatesInEpoch: number;
  trLoss: number;
  totalLoss: number;
  lastLogged: number;
  patience: number;
  optimizerSteps: number;
}

export interface CheckpointContents {
  model: LanguageModel;
  trainerState: TrainerState;
  /** Absent with save_only_model. */
  loop?: LoopState;
  optimizer?: OptimizerState;
  schedulerStep?: number;
  rngState?: Uint8Array;
  /** Data parallel: ranks 1… CPU generator states (rank 0's is rngState), as rng_state_<rank>.bin. */
  otherRankRngStates?: Uint8Array[];
}

/** The file a rank's generator state is kept in: rank 0's keeps the single-process name. */
function rngFile(rank: number): string {
  return rank === 0 ? RNG_FILE : `rng_state_${rank}.bin`;
}

export function checkpointName(step: number): string {
  return `checkpoint-${step}`;
}

/** Writes the model or adapter a run trains: a PEFT folder for a PeftModel, a transformers model folder otherwise. */
export async function saveTrainedModel(model: LanguageModel, dir: string): Promise<void> {
  if (model instanceof PeftModel) await saveAdapter(model, dir);
  else await saveModel(model, dir);
}

/** Writes output_dir/checkpoint-N whole or not at all. */
export async function writeCheckpoint(outputDir: string, contents: CheckpointContents): Promise<string> {
  const dir = path.join(outputDir, checkpointName(contents.trainerState.global_step));
  await withAtomicDirectory(dir, async (folder) => {
    await saveTrainedModel(contents.model, folder);
    if (contents.optimizer !== undefined) {
      const { tensors, ...rest } = contents.optimizer;
      await saveSafetensorsFile(path.join(folder, OPTIMIZER_FILE), tensors as Map<string, Tensor>, { optimizer: JSON.stringify(rest), scheduler_step: String(contents.schedulerStep ?? 0) });
    }
    if (contents.rngState !== undefined) await writeFileAtomic(path.join(folder, RNG_FILE), contents.rngState);
    for (const [index, state] of (contents.otherRankRngStates ?? []).entries()) await writeFileAtomic(path.join(folder, rngFile(index + 1)), state);
    if (contents.loop !== undefined) await writeFileAtomic(path.join(folder, LOOP_STATE_FILE), JSON.stringify(contents.loop, null, 2) + '\n');
    // Last, as Trainer does: a checkpoint with trainer_state.json is one whose other files are written.
    await writeFileAtomic(path.join(folder, TRAINER_STATE_FILE), JSON.stringify(contents.trainerState, null, 2) + '\n');
  });
  return dir;
}

/** The complete checkpoint-N folders of output_dir, oldest step first. */
export function listCheckpoints(outputDir: string): { step: number; dir: string }[] {
  if (!existsSync(outputDir)) return [];
  const found: { step: number; dir: string }[] = [];
  for (const name of readdirSync(outputDir)) {
    const match = CHECKPOINT_NAME.exec(name);
    const dir = path.join(outputDir, name);
    if (match === null || !statSync(dir).isDirectory() || !existsSync(path.join(dir, TRAINER_STATE_FILE))) continue;
    found.push({ step: Number(match[1]), dir });
  }
  return found.sort((a, b) => a.step - b.step);
}

/**
 * Deletes the oldest checkpoints beyond `limit` (Trainer._rotate_checkpoints): the best one is never deleted, and
 * with a limit of 1 a best checkpoint that is not the newest is kept beside it.
 */
export function rotateCheckpoints(outputDir: string, limit: number | null, best: string | null): string[] {
  if (limit === null) return [];
  const dirs = listCheckpoints(outputDir).map((checkpoint) => checkpoint.dir);
  const bestDir = best === null ? null : path.resolve(best);
  let keep = limit;
  if (bestDir !== null && limit === 1 && path.resolve(dirs[dirs.length - 1] ?? '') !== bestDir) keep = 2;
  const ordered = bestDir === null ? dirs : [...dirs.filter((dir) => path.resolve(dir) !== bestDir), ...dirs.filter((dir) => path.resolve(dir) === bestDir)];
  const doomed = ordered.slice(0, Math.max(0, ordered.length - keep));
  for (const dir of doomed) rmSync(dir, { recursive: true, force: true });
  return doomed;
}

function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (error) {
    throw new TunekitError(CHECKPOINT_ERROR, `${file}: cannot be read as JSON (${(error as Error).message.split('\n')[0]})`);
  }
}

/** The checkpoint to resume from: a folder given, or the newest complete one in output_dir for `true`. */
export function resolveResumeCheckpoint(value: string | boolean, outputDir: string | null): string {
  if (typeof value === 'string') {
    if (!existsSync(path.join(value, TRAINER_STATE_FILE))) {
      throw new TunekitError(CHECKPOINT_ERROR, `resume_from_checkpoint: ${value} is not a complete checkpoint (no ${TRAINER_STATE_FILE})`);
    }
    return value;
  }
  if (outputDir === null) throw new TunekitError(CHECKPOINT_ERROR, 'resume_from_checkpoint: true needs output_dir to look for checkpoints in');
  const newest = listCheckpoints(outputDir).pop();
  if (newest === undefined) throw new TunekitError(CHECKPOINT_ERROR, `resume_from_checkpoint: no complete checkpoint-N folder in ${outputDir}`);
  return newest.dir;
}

export interface ResumeState {
  dir: string;
  trainerState: TrainerState;
  loop: LoopState;
  optimizer: OptimizerState;
  schedulerStep: number;
  rngState: Uint8Array;
}

/**
 * Reads what a resume needs from a checkpoint (for data parallel `rank`, its own generator state); a checkpoint
 * written with save_only_model cannot be resumed.
 */
export async function readCheckpoint(dir: string, rank = 0): Promise<ResumeState> {
  const loopFile = path.join(dir, LOOP_STATE_FILE);
  if (!existsSync(loopFile) || !existsSync(path.join(dir, OPTIMIZER_FILE))) {
    throw new TunekitError(CHECKPOINT_ERROR, `${dir}: holds only the model (save_only_model), not the optimizer and loop state a resume needs`);
  }
  if (!existsSync(path.join(dir, rngFile(rank)))) {
    throw new TunekitError(CHECKPOINT_ERROR, `${dir}: holds no generator state for rank ${rank}: it was written by a run with fewer processes; resume with the world size it was trained with`);
  }
  const { tensors, metadata } = await loadSafetensorsFile(path.join(dir, OPTIMIZER_FILE));
  const rest = JSON.parse(metadata.optimizer ?? '{}') as Omit<OptimizerState, 'tensors'>;
  return {
    dir,
    trainerState: readJson<TrainerState>(path.join(dir, TRAINER_STATE_FILE)),
    loop: readJson<LoopState>(loopFile),
    optimizer: { ...rest, tensors },
    schedulerStep: Number(metadata.scheduler_step ?? 0),
    rngState: new Uint8Array(readFileSync(path.join(dir, rngFile(rank)))),
  };
}

/**
 * Copies a checkpoint's trained weights into `model`: the adapter's tensors for a PeftModel, every parameter of a
 * full model (tied ones through the tensor they share). Every tensor the run trains must be in the checkpoint.
 */
export async function loadTrainedWeights(model: LanguageModel, dir: string): Promise<void> {
  let targets: Map<string, Tensor>;
  let stored: Map<string, Tensor>;
  if (model instanceof PeftModel) {
    targets = adapterStateDict(model, model.activeAdapter ?? 'default');
    stored = (await loadSafetensorsFile(path.join(dir, ADAPTER_WEIGHTS_FILE))).tensors;
  } else {
    targets = new Map(model.stateDict());
    stored = await loadSafetensorsFolder(dir);
  }
  const byKey = new Map([...stored].map(([key, value]) => [canonicalKey(key), value]));
  try {
    const loaded = new Set<Tensor>();
    const missing: string[] = [];
    noGrad(() => {
      for (const [key, target] of targets) {
        const source = byKey.get(canonicalKey(key));
        if (source === undefined) {
          missing.push(key);
          continue;
        }
        if (source.shape.join() !== target.shape.join()) throw new TunekitError(CHECKPOINT_ERROR, `${dir}: tensor "${key}" has shape [${source.shape}], the model has [${target.shape}]`);
        target.copy_(source);
        loaded.add(target);
      }
    });
    // A tied tensor (lm_head = embed_tokens) is written once, under the key of the tensor it shares.
    const absent = missing.filter((key) => !loaded.has(targets.get(key) as Tensor) && (model instanceof PeftModel || (targets.get(key) as Tensor).requiresGrad));
    if (absent.length > 0) throw new TunekitError(CHECKPOINT_ERROR, `${dir}: tensor "${absent[0]}" is missing from the checkpoint${absent.length > 1 ? ` (and ${absent.length - 1} more)` : ''}`);
  } finally {
    for (const tensor of stored.values()) tensor.dispose();
  }
}
