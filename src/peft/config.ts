/**
 * adapter_config.json: the fields every PEFT config has, a reader with errors naming the file and key, and parsing
 * and writing dispatched to the registered method of the file's `peft_type`. Each method's own fields, defaults and
 * typed builder live in its file (lora.ts, ia3.ts, …).
 */
import { TunekitError } from '../errors.js';
import { filePeftTypes, peftMethod, peftMethodForFile } from './method.js';
import type { TargetModules } from './targets.js';
import type { LoraConfig } from './lora.js';
import type { QLoraConfig } from './qlora.js';
import type { PromptTuningConfig } from './prompt-tuning.js';
import type { IA3Config } from './ia3.js';
import type { BottleneckConfig } from './bottleneck.js';
import type { SelectiveConfig } from './selective.js';

export type TaskType = 'CAUSAL_LM' | 'SEQ_2_SEQ_LM';
export type Json = Record<string, unknown>;

/** The task_type of adapters for each kind of model, and how errors name the kind. */
const TASK_TYPES: Readonly<Record<'causal' | 'seq2seq', { taskType: TaskType; kind: string }>> = {
  causal: { taskType: 'CAUSAL_LM', kind: 'decoder-only' },
  seq2seq: { taskType: 'SEQ_2_SEQ_LM', kind: 'encoder-decoder' },
};

/**
 * Refuses (E_ADAPTER) an adapter whose `task_type` is for the other kind of model than the base (`modelKind`,
 * model_type `modelType`), naming `source` (its adapter_config.json, or the adapter) and both kinds. An unset
 * task_type fits any base, as in PEFT.
 */
export function checkTaskType(taskType: TaskType | null | undefined, modelKind: 'causal' | 'seq2seq', modelType: string, source: string): void {
  const base = TASK_TYPES[modelKind];
  if (taskType === null || taskType === undefined || taskType === base.taskType) return;
  const other = Object.values(TASK_TYPES).find((entry) => entry.taskType === taskType);
  throw new TunekitError(
    'E_ADAPTER',
    `${source}: "task_type" is ${JSON.stringify(taskType)}${other === undefined ? '' : ` (an adapter for ${other.kind} models)`}, but the base model (${modelType}) is ${base.kind} (${base.taskType})`,
  );
}

/** The fields every PEFT config carries, whatever the method. */
export interface AdapterConfigBase {
  peftType: string;
  taskType: TaskType | null;
  baseModelNameOrPath: string | null;
  revision: string | null;
  inferenceMode: boolean;
}

/** PEFT's defaults for the common fields. */
export const COMMON_DEFAULTS: Omit<AdapterConfigBase, 'peftType'> = { taskType: null, baseModelNameOrPath: null, revision: null, inferenceMode: false };

/** The options of a typed config builder: any field of the method's config, the rest PEFT's defaults. */
export type ConfigOptions<C extends AdapterConfigBase> = Partial<Omit<C, 'peftType'>>;

/** Every config of the built-in methods. */
export type AdapterConfig = LoraConfig | QLoraConfig | PromptTuningConfig | IA3Config | BottleneckConfig | SelectiveConfig;

function check<T>(ok: boolean, file: string, key: string, expected: string, value: unknown): T {
  if (!ok) throw new TunekitError('E_ADAPTER_CONFIG', `${file}: "${key}" must be ${expected}, found ${JSON.stringify(value)}`);
  return value as T;
}

/** Typed reads of adapter_config.json keys: absent keys take the fallback, wrong types name the file and key. */
export function configReader(json: Json, file: string) {
  return {
    number: (key: string, fallback?: number): number => {
      const v = json[key] ?? fallback;
      return check<number>(typeof v === 'number' && Number.isFinite(v), file, key, 'a number', json[key]);
    },
    boolean: (key: string, fallback: boolean): boolean => {
      const v = json[key] ?? fallback;
      return check<boolean>(typeof v === 'boolean', file, key, 'true or false', json[key]);
    },
    string: <S extends string>(key: string, fallback: S | null, allowed?: readonly S[]): S | null => {
      const v = json[key] ?? fallback;
      if (v === null) return null;
      return check<S>(typeof v === 'string' && (allowed === undefined || allowed.includes(v as S)), file, key, allowed === undefined ? 'a string' : `one of ${allowed.join(', ')}`, json[key]);
    },
    targets: (key: string): TargetModules | null => {
      const v = json[key];
      if (v === undefined || v === null) return null;
      return check<TargetModules>(typeof v === 'string' || (Array.isArray(v) && v.every((t) => typeof t === 'string')), file, key, 'a module name list or a regex string', v);
    },
    stringList: (key: string): string[] | null => {
      const v = json[key];
      if (v === undefined || v === null) return null;
      return check<string[]>(Array.isArray(v) && v.every((t) => typeof t === 'string'), file, key, 'a list of strings', v);
    },
    numberMap: (key: string): Record<string, number> => {
      const v = json[key] ?? {};
      return check<Record<string, number>>(typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((n) => typeof n === 'number'), file, key, 'an object of numbers', v);
    },
    integers: (key: string): number[] | number | null => {
      const v = json[key] ?? null;
      const integer = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 0;
      return check<number[] | number | null>(v === null || integer(v) || (Array.isArray(v) && v.every(integer)), file, key, 'a layer index or a list of them', v);
    },
    stringOrList: (key: string): string | string[] | null => {
      const v = json[key] ?? null;
      return check<string | string[] | null>(v === null || typeof v === 'string' || (Array.isArray(v) && v.every((t) => typeof t === 'string')), file, key, 'a string or a list of strings', v);
    },
  };
}

export type ConfigReader = ReturnType<typeof configReader>;

const COMMON_KEYS = ['peft_type', 'task_type', 'base_model_name_or_path', 'revision', 'inference_mode', 'auto_mapping', 'peft_version'];

/** Parses adapter_config.json. Unknown keys go to `onWarning`; settings tunekit cannot honour are errors. */
export function parseAdapterConfig(json: Json, file: string, onWarning: (message: string) => void = () => {}): AdapterConfig {
  const read = configReader(json, file);
  const fileType = read.string('peft_type', null);
  if (fileType === null) throw new TunekitError('E_ADAPTER_CONFIG', `${file}: "peft_type" is missing`);
  const method = peftMethodForFile(fileType);
  if (method === undefined) throw new TunekitError('E_ADAPTER_CONFIG', `${file}: "peft_type" must be one of ${filePeftTypes().join(', ')}, found ${JSON.stringify(fileType)}`);
  const isUnset = (value: unknown) =>
    value === null || value === false || (Array.isArray(value) && value.length === 0) || (typeof value === 'object' && value !== null && Object.keys(value).length === 0);
  // Settings newer PEFT versions add are ignored; only those set to something other than "off" are worth a warning.
  const unknown = Object.keys(json).filter((key) => !COMMON_KEYS.includes(key) && !method.configKeys.includes(key) && !isUnset(json[key]));
  if (unknown.length > 0) onWarning(`${file}: ignoring keys this tunekit does not know (from a newer PEFT?): ${unknown.join(', ')}`);
  const common = {
    taskType: read.string('task_type', null, ['CAUSAL_LM', 'SEQ_2_SEQ_LM'] as const),
    baseModelNameOrPath: read.string('base_model_name_or_path', null),
    revision: read.string('revision', null),
    inferenceMode: read.boolean('inference_mode', true),
  };
  return { ...common, peftType: method.peftType, ...method.parseConfig(read, json, file) } as AdapterConfig;
}

/** adapter_config.json as PEFT writes it (snake_case, every key present, sorted). */
export function serializeAdapterConfig(config: AdapterConfigBase): Json {
  const method = peftMethod(config.peftType);
  const merged: Json = {
    auto_mapping: null,
    base_model_name_or_path: config.baseModelNameOrPath,
    inference_mode: config.inferenceMode,
    peft_type: method.filePeftType ?? method.peftType,
    revision: config.revision,
    task_type: config.taskType,
    ...method.serializeConfig(config),
  };
  return Object.fromEntries(Object.keys(merged).sort().map((key) => [key, merged[key]]));
}
