/**
 * Export a Hugging Face PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors) to a GGUF LoRA adapter
 * that llama.cpp (`--lora`, llama-export-lora) and Ollama (`ADAPTER`) load on top of a GGUF of the base model.
 * TypeScript, no Python; libtorch only checks that the weights are finite.
 *
 * What llama.cpp expects (read from llama.cpp's convert_lora_to_gguf.py, convert_hf_to_gguf.py, src/llama-adapter.cpp
 * and src/llama-graph.cpp; format facts only):
 * - Metadata: general.architecture = the base GGUF's architecture (must equal the model's, checked at load),
 *   general.type = "adapter", adapter.type = "lora", adapter.lora.alpha (float32).
 * - Tensors: `<base GGUF tensor name>.lora_a` / `.lora_b`, the base name including `.weight`, e.g.
 *   `blk.0.attn_q.weight.lora_a`. The loader pairs them and looks the base name up in the model.
 * - Shapes: A and B exactly as PEFT stores them, not transposed. A [r, in] has ggml dims [in, r] and B [out, r] has
 *   [r, out]; the loader checks a.ne[0] = W.ne[0] (in), b.ne[1] = W.ne[1] (out), a.ne[1] = b.ne[0] (r). The graph
 *   computes W·x + scale·B·(A·x) with scale = alpha / r, r read from B per tensor (alpha = 0 means scale 1).
 * - Token embeddings are the exception: lora_a is PEFT's lora_embedding_A transposed, [vocab, r] (ggml [r, vocab]),
 *   because the graph gathers rows of lora_a by token id, then multiplies by lora_b = lora_embedding_B [n_embd, r].
 * - Llama and Mistral (MistralForCausalLM converts as LlamaModel, arch "llama") have q_proj/k_proj rows permuted by
 *   the converter, from Hugging Face's rotate-half RoPE layout to ggml's interleaved pairs: per head of d rows,
 *   row h·d + 2j + t of the GGUF is row h·d + t·d/2 + j of Hugging Face's (j < d/2, t ∈ {0, 1}); q uses
 *   num_attention_heads, k num_key_value_heads. The delta B·A must be permuted the same way, which only touches
 *   B's rows. Qwen2 (arch "qwen2") uses NeoX RoPE and is not permuted.
 * - Types: the converter writes f32 by default, or every LoRA tensor as F16 / BF16.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import {
  bfloat16BitsToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
} from '../io/half-float.js';
import { readSafetensors, type TensorRecord } from '../io/safetensors.js';
import { recordsToTensors } from '../io/tensors.js';
import { GGML_TYPE, ggufValue, writeGguf, type GgufTensorInput, type GgufValue } from '../io/gguf-writer.js';
import { parseLlamaConfig } from '../models/llama.js';
import { dispose } from '../torch/tensor.js';
import './builtin.js';
import { checkTaskType, type Json, parseAdapterConfig } from './config.js';
import { checkFiniteWeights, readAdapterConfigJson } from './format.js';
import type { LoraConfig } from './lora.js';

export const GGUF_EXPORT_ERROR = 'E_GGUF_EXPORT';

export type GgufOutType = 'f32' | 'f16' | 'bf16';

export interface ExportLoraToGgufOptions {
  /** Folder with adapter_config.json and adapter_model.safetensors. */
  adapterDir: string;
  /** The base model's config.json, parsed. */
  baseConfig: Record<string, unknown>;
  /** Where baseConfig came from, named in its errors; default "base config.json". */
  baseConfigSource?: string;
  /** Unknown adapter_config.json keys (from a newer PEFT) are reported here; default: ignored. */
  onWarning?: (message: string) => void;
  outPath: string;
  /** Type of every LoRA tensor; default 'f32', as llama.cpp's converter. */
  outType?: GgufOutType;
  /** general.name; default: the adapter folder's name. */
  name?: string;
}

export interface ExportLoraToGgufResult {
  outPath: string;
  /** general.architecture written. */
  architecture: string;
  /** adapter.lora.alpha written (see the rsLoRA note in exportLoraToGguf). */
  alpha: number;
  /** LoRA ranks found, one per module pair (the same unless rank_pattern was used). */
  ranks: number[];
  /** Number of GGUF tensors (two per adapted module). */
  tensorCount: number;
  outType: GgufOutType;
  bytes: number;
}

/** model_type → the GGUF architecture llama.cpp's converter gives it, and whether q/k rows are permuted. */
const ARCHITECTURES: Readonly<Record<string, { arch: string; permuteQk: boolean }>> = {
  llama: { arch: 'llama', permuteQk: true },
  mistral: { arch: 'llama', permuteQk: true },
  qwen2: { arch: 'qwen2', permuteQk: false },
};

/** Hugging Face module (under model.layers.N.) → GGUF tensor base (under blk.N.). */
const LAYER_MODULES: Readonly<Record<string, string>> = {
  'self_attn.q_proj': 'attn_q',
  'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
};
const LAYER_ORDER = Object.values(LAYER_MODULES);
const SUPPORTED_TARGETS = 'q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, embed_tokens, lm_head';

const FILE_TYPE: Readonly<Record<GgufOutType, number>> = { f32: 0, f16: 1, bf16: 32 }; // LlamaFileType
const GGML_OUT_TYPE: Readonly<Record<GgufOutType, number>> = { f32: GGML_TYPE.F32, f16: GGML_TYPE.F16, bf16: GGML_TYPE.BF16 };
const GGML_QUANT_VERSION = 2;
const FLOAT_DTYPES: ReadonlySet<string> = new Set(['F32', 'F16', 'BF16']);

function fail(message: string): never {
  throw new TunekitError(GGUF_EXPORT_ERROR, message);
}

interface ModulePair {
  /** The GGUF base tensor name, e.g. blk.0.attn_q.weight. */
  gguf: string;
  /** The Hugging Face module path, e.g. model.layers.0.self_attn.q_proj. */
  module: string;
  kind: 'linear' | 'embedding';
  layer: number | null;
  /** Position in the output order. */
  order: number;
  a?: { key: string; record: TensorRecord };
  b?: { key: string; record: TensorRecord };
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

interface AdapterSettings {
  config: LoraConfig;
  invocationTokens: number[] | null;
}

const CANNOT_CARRY = 'llama.cpp LoRA adapters hold only the lora_a/lora_b pairs and one alpha';

/**
 * Refusals on adapter_config.json keys the parsed LoRA config does not keep (DoRA, lora_bias, layer replication,
 * …): checked on the raw JSON before parsing, so the reason names what llama.cpp cannot carry.
 */
function checkRawAdapterKeys(json: Json, file: string): number[] | null {
  if (json.use_dora === true) fail(`${file}: use_dora is true; DoRA's magnitude vectors cannot be carried (${CANNOT_CARRY}). Merge the adapter into the base model instead`);
  if (json.lora_bias === true) fail(`${file}: lora_bias is true; a bias on lora_B cannot be carried (${CANNOT_CARRY})`);
  if (!isEmpty(json.layer_replication)) fail(`${file}: layer_replication is set; llama.cpp cannot replicate base layers`);
  if (!isEmpty(json.target_parameters)) fail(`${file}: target_parameters is set; only LoRA on nn.Linear / nn.Embedding modules can be exported`);
  if (json.use_qalora === true) fail(`${file}: use_qalora is true; llama.cpp applies plain LoRA only`);
  if (!isEmpty(json.alora_invocation_tokens)) {
    const tokens = json.alora_invocation_tokens;
    if (!Array.isArray(tokens) || !tokens.every((t) => Number.isInteger(t) && t >= 0 && t <= 0xffffffff)) {
      fail(`${file}: alora_invocation_tokens must be a list of token ids`);
    }
    return tokens as number[];
  }
  if (typeof json.invocation_string === 'string' && json.invocation_string !== '') {
    fail(`${file}: an aLoRA with invocation_string but no alora_invocation_tokens; tokenize the invocation string and set alora_invocation_tokens`);
  }
  return null;
}

/** adapter_config.json through the shared PEFT parser, then what a llama.cpp LoRA adapter cannot represent. */
async function readExportableAdapter(adapterDir: string, modelType: string, onWarning?: (message: string) => void): Promise<AdapterSettings> {
  const { json, file } = await readAdapterConfigJson(adapterDir);
  const invocationTokens = checkRawAdapterKeys(json, file);
  const parsed = parseAdapterConfig(json, file, onWarning);
  if (parsed.peftType !== 'LORA') {
    fail(`${file}: peft_type is ${JSON.stringify(json.peft_type)}; only LoRA adapters (peft_type "LORA") can be exported to GGUF, the one adapter kind llama.cpp loads`);
  }
  const config = parsed as LoraConfig;
  // Every architecture llama.cpp adapters exist for is decoder-only.
  checkTaskType(config.taskType, 'causal', modelType, file);
  if (config.bias !== 'none') {
    fail(`${file}: bias is ${JSON.stringify(config.bias)}; trained biases cannot be carried (${CANNOT_CARRY}). Train with bias "none" or merge the adapter`);
  }
  if (!isEmpty(config.modulesToSave)) {
    fail(`${file}: modules_to_save is ${JSON.stringify(config.modulesToSave)}; fully trained module copies cannot be carried (${CANNOT_CARRY}). Merge the adapter into the base model instead`);
  }
  if (!isEmpty(config.alphaPattern)) {
    fail(`${file}: alpha_pattern is not empty; llama.cpp has one alpha per adapter, so per-module alphas cannot be exported`);
  }
  // llama.cpp reads alpha 0 as "no scaling" (scale 1), which would not match PEFT's scale of 0.
  if (config.loraAlpha <= 0) fail(`${file}: lora_alpha must be a positive number, not ${JSON.stringify(config.loraAlpha)}`);
  if (!Number.isInteger(config.r) || config.r <= 0) fail(`${file}: r must be a positive integer, not ${JSON.stringify(config.r)}`);
  if (!isEmpty(config.rankPattern) && config.useRslora) {
    fail(`${file}: rank_pattern with use_rslora cannot be exported: rsLoRA scales by alpha/√r per module while llama.cpp applies one alpha as alpha/r, so only a single rank can be matched`);
  }
  return { config, invocationTokens };
}

interface BaseShapes {
  modelType: string;
  arch: string;
  permuteQk: boolean;
  heads: number;
  kvHeads: number;
  layers: number;
  tied: boolean;
  /** Expected [out, in] of each module kind. */
  expected: Map<string, [number, number]>;
  describe: string;
}

/** The base's architecture from its model_type, and its sizes from the shared Llama-family config parser. */
function checkBaseConfig(values: Record<string, unknown>, source: string): BaseShapes {
  if (typeof values !== 'object' || values === null || Array.isArray(values)) fail(`${source}: must be a JSON object`);
  const modelType = values.model_type;
  const entry = typeof modelType === 'string' && Object.hasOwn(ARCHITECTURES, modelType) ? ARCHITECTURES[modelType] : undefined;
  if (entry === undefined) {
    fail(`${source}: model_type ${JSON.stringify(modelType)} cannot be exported to a GGUF LoRA adapter (supported: ${Object.keys(ARCHITECTURES).join(', ')})`);
  }
  const config = parseLlamaConfig({ values, source });
  const { hiddenSize: hidden, intermediateSize: intermediate, vocabSize: vocab, numHeads: heads, numKeyValueHeads: kvHeads, headDim } = config;
  const qOut = heads * headDim;
  const kvOut = kvHeads * headDim;
  const expected = new Map<string, [number, number]>([
    ['attn_q', [qOut, hidden]],
    ['attn_k', [kvOut, hidden]],
    ['attn_v', [kvOut, hidden]],
    ['attn_output', [hidden, qOut]],
    ['ffn_gate', [intermediate, hidden]],
    ['ffn_up', [intermediate, hidden]],
    ['ffn_down', [hidden, intermediate]],
    ['output', [vocab, hidden]],
    ['token_embd', [vocab, hidden]], // [vocab, n_embd] as nn.Embedding stores it
  ]);
  const describe = `model_type ${modelType}, hidden_size ${hidden}, intermediate_size ${intermediate}, ` +
    `num_attention_heads ${heads}, num_key_value_heads ${kvHeads}, head_dim ${headDim}, vocab_size ${vocab}`;
  return {
    modelType: modelType as string,
    arch: entry.arch, permuteQk: entry.permuteQk, heads, kvHeads, layers: config.numLayers, tied: config.tieWordEmbeddings, expected, describe,
  };
}

const LINEAR_KEY = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/;
const EMBEDDING_KEY = /^base_model\.model\.(.+)\.lora_embedding_([AB])$/;
const LAYER_MODULE = /^model\.layers\.(\d+)\.(.+)$/;

/** Maps a Hugging Face module path to its GGUF tensor, or explains why it cannot be exported. */
function mapModule(module: string, key: string, file: string, base: BaseShapes): Omit<ModulePair, 'kind' | 'a' | 'b'> {
  if (module === 'model.embed_tokens') return { gguf: 'token_embd.weight', module, layer: null, order: -1 };
  if (module === 'lm_head') {
    if (base.tied) {
      fail(`${file}: tensor "${key}" adapts lm_head, but the base model ties it to the embeddings (tie_word_embeddings), so its GGUF has no output tensor for llama.cpp to adapt`);
    }
    return { gguf: 'output.weight', module, layer: null, order: Number.MAX_SAFE_INTEGER };
  }
  const match = LAYER_MODULE.exec(module);
  const mapped = match ? LAYER_MODULES[match[2]] : undefined;
  if (!match || mapped === undefined) {
    fail(`${file}: tensor "${key}" adapts module "${module}", which has no llama.cpp tensor for this architecture (supported targets: ${SUPPORTED_TARGETS})`);
  }
  const layer = Number(match[1]);
  if (layer >= base.layers) {
    fail(`${file}: tensor "${key}" is for layer ${layer}, but the base model has ${base.layers} layers`);
  }
  return { gguf: `blk.${layer}.${mapped}.weight`, module, layer, order: layer * LAYER_ORDER.length + LAYER_ORDER.indexOf(mapped) };
}

function collectPairs(tensors: Map<string, TensorRecord>, file: string, base: BaseShapes): ModulePair[] {
  const pairs = new Map<string, ModulePair>();
  for (const [key, record] of tensors) {
    const linear = LINEAR_KEY.exec(key);
    const embedding = linear ? null : EMBEDDING_KEY.exec(key);
    if (!linear && !embedding) {
      if (key.includes('lora_magnitude_vector')) fail(`${file}: tensor "${key}" is a DoRA magnitude vector; llama.cpp LoRA adapters cannot carry DoRA`);
      if (key.includes('modules_to_save')) fail(`${file}: tensor "${key}" is a fully trained module copy (modules_to_save); llama.cpp LoRA adapters cannot carry it`);
      if (key.endsWith('.bias')) fail(`${file}: tensor "${key}" is a trained bias; llama.cpp LoRA adapters cannot carry biases`);
      fail(`${file}: tensor "${key}" is not a LoRA A/B weight (expected base_model.model.<module>.lora_A.weight / lora_B.weight)`);
    }
    const match = (linear ?? embedding) as RegExpExecArray;
    const module = match[1];
    const which = match[2] as 'A' | 'B';
    const kind = linear ? 'linear' : 'embedding';
    const mapped = mapModule(module, key, file, base);
    if ((kind === 'embedding') !== (mapped.gguf === 'token_embd.weight')) {
      fail(`${file}: tensor "${key}": ${kind === 'embedding' ? 'embedding LoRA weights on a module that is not embed_tokens' : 'embed_tokens must carry lora_embedding_A/B, not lora_A/B'}`);
    }
    let pair = pairs.get(module);
    if (pair === undefined) {
      pair = { ...mapped, kind };
      pairs.set(module, pair);
    }
    if (pair.kind !== kind) fail(`${file}: module "${module}" mixes lora_A/B and lora_embedding_A/B tensors`);
    const slot = which === 'A' ? 'a' : 'b';
    if (pair[slot] !== undefined) fail(`${file}: module "${module}" has two lora_${which} tensors ("${pair[slot]?.key}", "${key}")`);
    pair[slot] = { key, record };
  }
  if (pairs.size === 0) fail(`${file}: holds no LoRA tensors`);
  const list = [...pairs.values()];
  for (const pair of list) {
    if (pair.a === undefined || pair.b === undefined) {
      fail(`${file}: module "${pair.module}" has lora_${pair.a === undefined ? 'A' : 'B'} missing (its lora_${pair.a === undefined ? 'B' : 'A'} is "${(pair.a ?? pair.b)?.key}")`);
    }
  }
  return list.sort((x, y) => x.order - y.order);
}

/** float32 values of a F32 / F16 / BF16 record (little-endian). */
function toFloat32(record: TensorRecord, key: string, file: string): Float32Array {
  const { dtype, data } = record;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = record.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(count);
  if (dtype === 'F32') for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  else if (dtype === 'F16') for (let i = 0; i < count; i++) out[i] = float16BitsToFloat32(view.getUint16(i * 2, true));
  else if (dtype === 'BF16') for (let i = 0; i < count; i++) out[i] = bfloat16BitsToFloat32(view.getUint16(i * 2, true));
  else fail(`${file}: tensor "${key}" has dtype ${dtype}; LoRA weights must be F32, F16 or BF16`);
  return out;
}

function encode(values: Float32Array, outType: GgufOutType): Uint8Array {
  if (outType === 'f32') {
    const out = new Uint8Array(values.length * 4);
    const view = new DataView(out.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
    return out;
  }
  const toBits = outType === 'f16' ? float32ToFloat16Bits : float32ToBfloat16Bits;
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(i * 2, toBits(values[i]), true);
  return out;
}

/**
 * Rows of a row-major [rows, cols] matrix reordered from Hugging Face's rotate-half layout to ggml's interleaved
 * RoPE layout, `heads` heads of rows/heads rows each (what llama.cpp's converter does to q_proj / k_proj).
 */
export function permuteRotaryRows(values: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const headRows = rows / heads;
  if (!Number.isInteger(headRows) || headRows % 2 !== 0) {
    throw new TunekitError(GGUF_EXPORT_ERROR, `cannot split ${rows} rows into ${heads} heads of an even number of rows`);
  }
  const half = headRows / 2;
  const out = new Float32Array(values.length);
  for (let head = 0; head < heads; head++) {
    for (let j = 0; j < half; j++) {
      for (let t = 0; t < 2; t++) {
        const from = head * headRows + t * half + j;
        const to = head * headRows + 2 * j + t;
        out.set(values.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}

function checkShapes(pair: ModulePair, file: string, base: BaseShapes): { rank: number; out: number; in: number } {
  const a = pair.a as { key: string; record: TensorRecord };
  const b = pair.b as { key: string; record: TensorRecord };
  if (a.record.shape.length !== 2) fail(`${file}: tensor "${a.key}" has shape [${a.record.shape.join(', ')}]; expected 2 dimensions`);
  if (b.record.shape.length !== 2) fail(`${file}: tensor "${b.key}" has shape [${b.record.shape.join(', ')}]; expected 2 dimensions`);
  const [rankA, inDim] = a.record.shape;
  const [outDim, rankB] = b.record.shape;
  if (rankA !== rankB) {
    fail(`${file}: module "${pair.module}": lora_A [${a.record.shape.join(', ')}] and lora_B [${b.record.shape.join(', ')}] disagree on the rank`);
  }
  // For embeddings A is [r, vocab] and B [n_embd, r]: in = vocab, out = n_embd; the weight is [vocab, n_embd].
  const [wantOut, wantIn] = base.expected.get(pair.gguf.replace(/^blk\.\d+\./, '').replace(/\.weight$/, '')) as [number, number];
  const [gotOut, gotIn] = pair.kind === 'embedding' ? [inDim, outDim] : [outDim, inDim];
  if (gotOut !== wantOut || gotIn !== wantIn) {
    fail(`${file}: module "${pair.module}" adapts a [${gotOut}, ${gotIn}] weight, but the base config gives [${wantOut}, ${wantIn}] (${base.describe}); is baseConfig the adapter's base model?`);
  }
  return { rank: rankA, out: outDim, in: inDim };
}

/**
 * Writes `outPath` (atomically) as a GGUF LoRA adapter for llama.cpp / Ollama. Supports Llama, Mistral and Qwen2
 * bases and LoRA on q/k/v/o_proj, gate/up/down_proj, embed_tokens and lm_head. Refuses, naming the file and field,
 * what a llama.cpp adapter cannot represent: DoRA, modules_to_save, trained biases, alpha_pattern, other PEFT
 * methods, other architectures.
 *
 * Scaling: PEFT scales by lora_alpha / r, or lora_alpha / √r with use_rslora; llama.cpp always applies
 * alpha / r with r read from each lora_b. Plain LoRA writes lora_alpha as is, which also keeps per-module ranks
 * (rank_pattern) right. rsLoRA writes alpha = lora_alpha · √r, so that alpha / r = lora_alpha / √r: the same scale
 * with the weights untouched (hence rank_pattern with rsLoRA, which would need one alpha per rank, is refused).
 */
export async function exportLoraToGguf(options: ExportLoraToGgufOptions): Promise<ExportLoraToGgufResult> {
  const outType = options.outType ?? 'f32';
  if (!Object.hasOwn(FILE_TYPE, outType)) fail(`outType must be one of f32, f16, bf16, not ${JSON.stringify(outType)}`);
  const base = checkBaseConfig(options.baseConfig, options.baseConfigSource ?? 'base config.json');
  const { config, invocationTokens } = await readExportableAdapter(options.adapterDir, base.modelType, options.onWarning);
  const rankPattern = !isEmpty(config.rankPattern);

  const weightsPath = path.join(options.adapterDir, 'adapter_model.safetensors');
  if (!(existsSync(weightsPath))) {
    const pickle = path.join(options.adapterDir, 'adapter_model.bin');
    if (existsSync(pickle)) {
      fail(`${weightsPath}: no such file; ${pickle} is a pickle, which tunekit does not read: save the adapter with safe_serialization=True`);
    }
    throw new TunekitError('E_NOT_FOUND', `${weightsPath}: no such file`);
  }
  const { tensors } = await readSafetensors(weightsPath);
  const pairs = collectPairs(tensors, weightsPath, base);

  const ranks: number[] = [];
  const ggufTensors: GgufTensorInput[] = [];
  const ggmlType = GGML_OUT_TYPE[outType];
  for (const pair of pairs) {
    const { rank, out, in: inDim } = checkShapes(pair, weightsPath, base);
    if (!rankPattern && rank !== config.r) {
      fail(`${weightsPath}: module "${pair.module}" has rank ${rank}, but adapter_config.json says r = ${config.r} and has no rank_pattern`);
    }
    ranks.push(rank);
    const a = pair.a as { key: string; record: TensorRecord };
    const b = pair.b as { key: string; record: TensorRecord };
    const permuteHeads = !base.permuteQk ? undefined
      : pair.gguf.endsWith('.attn_q.weight') ? base.heads
      : pair.gguf.endsWith('.attn_k.weight') ? base.kvHeads
      : undefined;
    if (permuteHeads !== undefined && out % (2 * permuteHeads) !== 0) {
      fail(`${weightsPath}: module "${pair.module}" has ${out} output rows, which do not split into ${permuteHeads} heads of an even size`);
    }
    // A: [r, in] as is; for embeddings [vocab, r], the transpose of lora_embedding_A [r, vocab].
    const aShape = pair.kind === 'embedding' ? [inDim, rank] : [rank, inDim];
    ggufTensors.push({
      name: `${pair.gguf}.lora_a`,
      type: ggmlType,
      shape: aShape,
      data: () => {
        const values = toFloat32(a.record, a.key, weightsPath);
        return encode(pair.kind === 'embedding' ? transpose(values, rank, inDim) : values, outType);
      },
    });
    ggufTensors.push({
      name: `${pair.gguf}.lora_b`,
      type: ggmlType,
      shape: [out, rank],
      data: () => {
        const values = toFloat32(b.record, b.key, weightsPath);
        return encode(permuteHeads === undefined ? values : permuteRotaryRows(values, out, rank, permuteHeads), outType);
      },
    });
  }

  // Checked in libtorch (one reduction per tensor) before anything is written: llama.cpp would apply NaN as is.
  const floats = new Map<string, TensorRecord>();
  for (const pair of pairs) for (const t of [pair.a, pair.b]) if (t !== undefined && FLOAT_DTYPES.has(t.record.dtype)) floats.set(t.key, t.record);
  const loaded = recordsToTensors(floats, weightsPath);
  try {
    checkFiniteWeights(loaded, weightsPath, 'nothing was exported');
  } finally {
    dispose(loaded);
  }

  let alpha = config.loraAlpha;
  if (config.useRslora) {
    const rank = ranks[0];
    if (ranks.some((r) => r !== rank)) fail(`${weightsPath}: rsLoRA adapter with modules of different ranks cannot be given one llama.cpp alpha`);
    alpha = config.loraAlpha * Math.sqrt(rank);
  }

  const metadata: [string, GgufValue][] = [
    ['general.architecture', ggufValue.string(base.arch)],
    ['general.type', ggufValue.string('adapter')],
    ['general.name', ggufValue.string(options.name ?? path.basename(path.resolve(options.adapterDir)))],
    ['adapter.type', ggufValue.string('lora')],
    ['adapter.lora.alpha', ggufValue.float32(alpha)],
    ['general.file_type', ggufValue.uint32(FILE_TYPE[outType])],
    ['general.quantization_version', ggufValue.uint32(GGML_QUANT_VERSION)],
  ];
  if (config.baseModelNameOrPath !== null && config.baseModelNameOrPath !== '') {
    metadata.push(['general.base_model.count', ggufValue.uint32(1)]);
    metadata.push(['general.base_model.0.name', ggufValue.string(config.baseModelNameOrPath)]);
  }
  if (invocationTokens !== null) {
    metadata.push(['adapter.alora.invocation_tokens', ggufValue.array('uint32', invocationTokens)]);
  }

  const written = await writeGguf(options.outPath, { metadata, tensors: ggufTensors });
  return {
    outPath: options.outPath,
    architecture: base.arch,
    alpha: Math.fround(alpha),
    ranks,
    tensorCount: ggufTensors.length,
    outType,
    bytes: written.bytes,
  };
}
