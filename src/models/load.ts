import { existsSync } from 'node:fs';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { type ModelSourceOptions, resolveModelSource } from '../io/hub.js';
import { readGenerationConfig, readModelConfig } from '../io/model-folder.js';
import { readSafetensorsFolderLayout } from '../io/sharded.js';
import { oneLine } from '../io/text.js';
import { readTensorsAt } from '../io/tensors.js';
import { withoutInitialization } from '../nn/layers.js';
import { type DType } from '../torch/dtype.js';
import { dispose, type Device, Tensor, tidy } from '../torch/tensor.js';
import { configDtype, type RawConfig } from './config.js';
import { architectureFor } from './registry.js';
import { checkTokenizerFitsModel, loadTokenizer, type Tokenizer } from '../tokenize/index.js';
import type { LanguageModel, ModelSource } from './types.js';
import { checkWeightDtypes, checkWeightsAgainstConfig, type WeightInfo } from './weights-check.js';

export interface LoadModelOptions {
  /** Compute dtype; defaults to the config's `torch_dtype`/`dtype` when it is float32 or bfloat16, else float32. */
  dtype?: DType;
  device?: Device;
  /** Called with one line for each non-fatal oddity (skipped keys). */
  onWarning?: (message: string) => void;
}

export async function readConfig(dir: string): Promise<RawConfig> {
  return { values: await readModelConfig(dir), source: path.join(dir, 'config.json') };
}

function computeDtype(config: RawConfig): DType {
  return configDtype(config) === 'bfloat16' ? 'bfloat16' : 'float32';
}

/**
 * transformers ties the output head to the input embedding only when the checkpoint has no head of its own (or an
 * identical one); a config that says "tied" next to a distinct saved head loads untied.
 */
function untieIfSaved(config: RawConfig, weights: Map<string, Tensor>): RawConfig {
  const head = weights.get('lm_head.weight');
  if (config.values.tie_word_embeddings === false || head === undefined) return config;
  const embedding = weights.get('model.embed_tokens.weight') ?? weights.get('shared.weight') ?? weights.get('transformer.wte.weight');
  const identical = embedding !== undefined && tidy(() => head.shape.join() === embedding.shape.join() && head.eq(embedding).all().item() === 1);
  if (identical) return config;
  const values: Record<string, unknown> = { ...config.values, tie_word_embeddings: false };
  // A T5 config without scale_decoder_outputs takes the scaling from the tie, which must survive the untie.
  if (values.model_type === 't5' || values.model_type === 'mt5') values.scale_decoder_outputs = config.values.scale_decoder_outputs ?? config.values.tie_word_embeddings ?? true;
  return { values, source: config.source };
}

/**
 * Builds the model config.json describes and loads its safetensors weights (single file or shards). `id` is what
 * the model is known by in `model.source` (default: the folder).
 */
export async function loadModelFromFolder(dir: string, options: LoadModelOptions & { id?: string } = {}): Promise<LanguageModel> {
  const config = await readConfig(dir);
  const architecture = architectureFor(config);
  const declaredDtype = computeDtype(config);
  const dtype = options.dtype ?? declaredDtype;
  const folder = await readSafetensorsFolderLayout(dir);
  // Everything below up to readTensorsAt reads the headers only: a config that cannot fit these weights fails
  // here, before libtorch allocates anything.
  const infos = new Map<string, WeightInfo>();
  for (const [name, record] of folder.tensors) {
    if (architecture.ignoredKeys?.test(name)) continue;
    infos.set(name, { dtype: record.dtype, shape: record.shape, file: folder.fileOfTensor.get(name) ?? dir });
  }
  checkWeightDtypes(infos);
  if (architecture.weightExpectations !== undefined) checkWeightsAgainstConfig(architecture.weightExpectations(config), infos, config.source, dir);
  const weights = readTensorsAt(folder.tensors, dir);
  const effective = untieIfSaved(config, weights);
  const model = withoutInitialization(() => architecture.create(effective, { dtype }));
  try {
    const tied = new Set(architecture.tiedKeys(effective));
    for (const key of [...weights.keys()]) {
      if (architecture.ignoredKeys?.test(key)) {
        weights.get(key)?.dispose();
        weights.delete(key);
        options.onWarning?.(`${dir}: skipped derived tensor "${key}"`);
      }
    }
    const result = model.loadStateDict(weights, { strict: false, source: dir, assign: true });
    const missing = result.missingKeys.filter((key) => !tied.has(key));
    if (missing.length > 0 || result.unexpectedKeys.length > 0) {
      const parts: string[] = [];
      if (missing.length > 0) parts.push(`missing: ${missing.join(', ')}`);
      if (result.unexpectedKeys.length > 0) parts.push(`unexpected: ${result.unexpectedKeys.join(', ')}`);
      throw new TunekitError('E_STATE_KEYS', `${dir}: the weights do not match the ${architecture.name} architecture of config.json (${oneLine(parts.join('; '))})`);
    }
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    dispose(weights);
  }
  if (options.device !== undefined && options.device !== 'cpu') model.to(options.device);
  model.eval();
  model.source = { id: options.id ?? dir, dir, config: effective.values, generationConfig: (await readGenerationConfig(dir)) ?? null };
  return model;
}

export interface LoadOptions extends LoadModelOptions {
  /** Hub options for repo ids (revision, token, offline, progress). */
  hub?: ModelSourceOptions;
}

/** Everything loading a model folder found. */
export interface LoadedModel {
  model: LanguageModel;
  /** From tokenizer.json (with tokenizer_config.json and chat templates); null when the folder has none. */
  tokenizer: Tokenizer | null;
  /** generation_config.json (see `generationOptionsFromConfig`); null when absent. */
  generationConfig: Record<string, unknown> | null;
  source: ModelSource;
}

/**
 * Loads a model, its tokenizer and its generation config from a local folder or a Hugging Face hub repo id
 * (downloaded into the shared cache), as `from_pretrained` does for each.
 */
export async function loadModel(idOrPath: string, options: LoadOptions = {}): Promise<LoadedModel> {
  const dir = await resolveModelSource(idOrPath, options.hub);
  const model = await loadModelFromFolder(dir, { ...options, id: idOrPath });
  try {
    const tokenizer = existsSync(path.join(dir, 'tokenizer.json')) ? loadTokenizer(dir) : null;
    if (tokenizer !== null) checkTokenizerFitsModel(tokenizer, model.config.vocabSize, path.join(dir, 'config.json'));
    const source = model.source as ModelSource;
    return { model, tokenizer, generationConfig: source.generationConfig, source };
  } catch (error) {
    model.dispose();
    throw error;
  }
}
