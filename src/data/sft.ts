/**
 * Instruction records to token ids and labels, exactly as TRL 1.13's SFTTrainer prepares a dataset
 * (trl/trainer/sft_trainer.py, SFTTrainer._prepare_dataset and the rules SFTTrainer.__init__ sets up):
 *
 * - Format: a record with `input_ids` is already tokenized; one with `prompt` is prompt-completion; otherwise it is
 *   language modelling (`messages`, or the `datasetTextField` string, default "text"). Conversational means TRL's
 *   is_conversational: the field is a list whose first item is an object with a `role`. `conversations` lists of
 *   `{from, value}` are turned into `messages` of `{role, content}` first (maybe_convert_to_chatml).
 * - EOS (add_eos, non-conversational only): when the record has a `text` key (that literal key, whatever
 *   datasetTextField says) not ending with the eos token string, the eos string is appended to it; else when it has
 *   `completion` not ending with it, to the completion. The text is then tokenized, so the eos string becomes the eos id.
 * - Text is tokenized as `tokenizer(text)` does: with the special tokens the post-processor adds (BOS for Llama).
 *   Prompt-completion: ids of prompt+completion, and a completion mask that is 0 over the first len(ids of prompt)
 *   tokens (a mismatch between the two is only warned about by TRL; we count it).
 * - Conversational: apply_chat_template(tokenize=True) (no special tokens added), the prompt with
 *   add_generation_prompt=True, `tools` and `chat_template_kwargs` from the record; assistant_only_loss uses
 *   return_assistant_tokens_mask, which needs `{% generation %}` markers: TRL swaps in a patched template for a
 *   list of known model templates and raises otherwise; we raise (we do not ship TRL's patched templates).
 * - Labels (build_labels): a record's own `labels` are kept; otherwise a token is -100 unless every applicable mask
 *   is 1: `assistant_masks` always, `completion_mask` only when completionOnlyLoss (default: true exactly when the
 *   dataset's first record has both `prompt` and `completion`).
 * - Truncation (unless packing): to maxLength (default 1024; null for none), keep_start (default) or keep_end; then
 *   examples whose labels are all -100 are dropped (TRL drops them silently; we count and name them).
 * - attention_mask is all ones: TRL's collator builds it from the lengths and ignores a record's own.
 *
 * Seq2seq (T5, `seq2seq: true`) is not TRL's (SFTTrainer targets causal LMs): we follow transformers'
 * examples/pytorch/summarization/run_summarization.py: input_ids = tokenizer(prompt, max_length=maxLength,
 * truncation=True) and labels = tokenizer(text_target=completion, max_length=maxTargetLength, truncation=True), both
 * with the post-processor's special tokens (T5 appends `</s>`), defaults 1024 and 128 as in that script.
 */
import { TunekitError } from '../errors.js';
import type { ChatMessage, Tokenizer } from '../tokenize/index.js';
import { hasGenerationMarkers } from '../tokenize/index.js';

export const SFT_ERROR = 'E_SFT_RECORD';

export type SftFormat = 'tokenized' | 'prompt-completion' | 'conversational-prompt-completion' | 'text' | 'conversational';
export type TruncationMode = 'keep_start' | 'keep_end';

export interface SftOptions {
  /** TRL's max_length: default 1024; null: no truncation. Ignored with packing (packing cuts instead). */
  maxLength?: number | null;
  /** TRL's truncation_mode (keep_end is deprecated in TRL 1.13 but still applied). Default keep_start. */
  truncationMode?: TruncationMode;
  /** TRL's completion_only_loss; default true when the (first) record has prompt and completion. */
  completionOnlyLoss?: boolean;
  /** TRL's assistant_only_loss (conversational records only, needs `{% generation %}` markers). Default false. */
  assistantOnlyLoss?: boolean;
  /** TRL's dataset_text_field. Default "text". */
  datasetTextField?: string;
  /** TRL's eos_token: default the tokenizer's eos token. */
  eosToken?: string;
  /** A chat template to use instead of the tokenizer's. */
  chatTemplate?: string;
  /** TRL's packing: when true no truncation or dropping happens here (see packing.ts). */
  packing?: boolean;
  /** Encoder-decoder form (see the file comment). */
  seq2seq?: boolean;
  /** Seq2seq only: longest labels, default 128. */
  maxTargetLength?: number;
}

/** One tokenized example. For seq2seq, labels are the decoder targets and may differ in length from input_ids. */
export interface SftExample {
  input_ids: number[];
  labels: number[];
  attention_mask: number[];
}

export interface SftRecordResult {
  format: SftFormat;
  /** null when the example was dropped: no supervised token left after truncation. */
  example: SftExample | null;
  truncated: boolean;
  /** The prompt's ids were not a prefix of prompt+completion's (TRL logs a warning). */
  promptMismatch: boolean;
}

export interface SftDatasetResult {
  format: SftFormat;
  completionOnlyLoss: boolean;
  examples: SftExample[];
  stats: { records: number; examples: number; truncated: number; dropped: string[]; promptMismatch: string[] };
}

type Json = Record<string, unknown>;

function fail(where: string, message: string): never {
  throw new TunekitError(SFT_ERROR, `${where}: ${message}`);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** TRL's is_conversational on one field. */
function isMessageList(value: unknown): value is ChatMessage[] {
  return Array.isArray(value) && value.length > 0 && isObject(value[0]) && 'role' in value[0];
}

/** TRL's maybe_convert_to_chatml: from/value -> role/content, conversations -> messages (on a copy). */
function toChatMl(record: Json): Json {
  const conversations = record.conversations;
  if (!(Array.isArray(conversations) && isObject(conversations[0]) && 'from' in conversations[0] && 'value' in conversations[0])) return record;
  const out: Json = { ...record };
  for (const key of ['prompt', 'completion', 'chosen', 'rejected', 'messages', 'conversations']) {
    if (!Array.isArray(out[key])) continue;
    out[key] = (out[key] as unknown[]).map((message) => {
      if (!isObject(message)) return message;
      const { from, value, ...rest } = message;
      return { ...rest, ...(from !== undefined ? { role: from } : {}), ...(value !== undefined ? { content: value } : {}) };
    });
  }
  out.messages = out.conversations;
  delete out.conversations;
  return out;
}

/** Which of TRL's formats a record is in. */
export function detectSftFormat(record: unknown, where: string, options: Pick<SftOptions, 'datasetTextField'> = {}): SftFormat {
  if (!isObject(record)) fail(where, `expected a JSON object, got ${Array.isArray(record) ? 'an array' : record === null ? 'null' : typeof record}`);
  const chat = toChatMl(record);
  if ('input_ids' in chat) return 'tokenized';
  if ('prompt' in chat) {
    if (!('completion' in chat)) fail(where, 'has "prompt" but no "completion"');
    return isMessageList(chat.prompt) || isMessageList(chat.completion) ? 'conversational-prompt-completion' : 'prompt-completion';
  }
  if ('messages' in chat) return 'conversational';
  const field = options.datasetTextField ?? 'text';
  if (field in chat) return 'text';
  fail(
    where,
    `fits no SFT format: expected "input_ids", "prompt"+"completion", "messages", "conversations" or "${field}"; it has ${Object.keys(record).map((key) => `"${key}"`).join(', ') || 'no fields'}`,
  );
}

function requireString(value: unknown, where: string, field: string): string {
  if (typeof value !== 'string') fail(where, `"${field}" must be a string, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  return value;
}

function requireMessages(value: unknown, where: string, field: string): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) fail(where, `"${field}" must be a non-empty list of messages`);
  value.forEach((message, index) => {
    if (!isObject(message) || typeof message.role !== 'string') fail(where, `"${field}"[${index}] must be an object with a string "role"`);
    if (typeof message.content !== 'string' && !Array.isArray(message.content)) fail(where, `"${field}"[${index}].content must be a string or a list of parts`);
  });
  return value as ChatMessage[];
}

function requireIntegers(value: unknown, where: string, field: string, length?: number): number[] {
  if (!Array.isArray(value) || !value.every((id) => Number.isInteger(id))) fail(where, `"${field}" must be a list of integers`);
  if (length !== undefined && value.length !== length) fail(where, `"${field}" has ${value.length} items but "input_ids" has ${length}`);
  return value as number[];
}

function chatOptions(record: Json, options: SftOptions, where: string) {
  let tools = record.tools;
  if (typeof tools === 'string') {
    try {
      tools = JSON.parse(tools);
    } catch {
      fail(where, '"tools" is a string that is not valid JSON');
    }
  }
  if (tools !== undefined && tools !== null && !Array.isArray(tools)) fail(where, '"tools" must be a list');
  const kwargs = record.chat_template_kwargs;
  if (kwargs !== undefined && kwargs !== null && !isObject(kwargs)) fail(where, '"chat_template_kwargs" must be an object');
  return {
    ...(options.chatTemplate !== undefined ? { chatTemplate: options.chatTemplate } : {}),
    ...(Array.isArray(tools) ? { tools: tools as Array<Record<string, unknown>> } : {}),
    ...(isObject(kwargs) ? { variables: kwargs } : {}),
  };
}

function renderChat(tokenizer: Tokenizer, messages: ChatMessage[], record: Json, options: SftOptions, where: string, extra: { addGenerationPrompt?: boolean; assistantMask?: boolean }) {
  const chat = chatOptions(record, options, where);
  try {
    if (extra.assistantMask) return tokenizer.applyChatTemplateWithAssistantMask(messages, chat);
    return { inputIds: tokenizer.applyChatTemplate(messages, { ...chat, addGenerationPrompt: extra.addGenerationPrompt ?? false, tokenize: true }) };
  } catch (error) {
    if (error instanceof TunekitError) throw new TunekitError(error.code, `${where}: ${error.message}`);
    throw error;
  }
}

/** The assistant_only_loss preconditions TRL checks in SFTTrainer.__init__. */
function checkAssistantOnly(tokenizer: Tokenizer, format: SftFormat, options: SftOptions, where: string): void {
  if (format !== 'conversational' && format !== 'conversational-prompt-completion') {
    fail(where, 'assistantOnlyLoss is only supported for conversational records ("messages" or prompt/completion message lists)');
  }
  const template = options.chatTemplate ?? tokenizer.chatTemplateText();
  if (!hasGenerationMarkers(template)) {
    throw new TunekitError(
      'E_SFT_NO_GENERATION_MARKERS',
      `${where}: assistantOnlyLoss needs a chat template with {% generation %}…{% endgeneration %} around assistant turns ` +
        `(transformers' return_assistant_tokens_mask); ${options.chatTemplate !== undefined ? 'the chatTemplate option' : `${tokenizer.folder}'s template`} has none. ` +
        'TRL 1.13 patches a few known model templates and refuses the rest; add the markers or pass chatTemplate',
    );
  }
}

function truncate(ids: number[], maxLength: number, mode: TruncationMode): number[] {
  return mode === 'keep_start' ? ids.slice(0, maxLength) : ids.slice(Math.max(0, ids.length - maxLength));
}

function tokenizeSeq2Seq(tokenizer: Tokenizer, record: Json, format: SftFormat, options: SftOptions, where: string): SftRecordResult {
  if (format !== 'prompt-completion') fail(where, `seq2seq needs text "prompt" and "completion" fields (got a ${format} record)`);
  const prompt = requireString(record.prompt, where, 'prompt');
  const completion = requireString(record.completion, where, 'completion');
  const maxLength = options.maxLength === undefined ? 1024 : options.maxLength;
  const maxTargetLength = options.maxTargetLength ?? 128;
  const full = tokenizer.encode(prompt);
  const fullLabels = tokenizer.encode(completion);
  const input_ids = maxLength === null ? full : tokenizer.encode(prompt, { truncation: true, maxLength, truncationSide: 'right' });
  const labels = tokenizer.encode(completion, { truncation: true, maxLength: maxTargetLength, truncationSide: 'right' });
  return {
    format,
    example: { input_ids, labels, attention_mask: input_ids.map(() => 1) },
    truncated: input_ids.length < full.length || labels.length < fullLabels.length,
    promptMismatch: false,
  };
}

/**
 * Tokenizes one record as TRL's SFTTrainer would. `completionOnlyLoss` undefined means TRL's default for this
 * record's own format; tokenizeSftDataset decides it once from the first record, as TRL does.
 */
export function tokenizeSftRecord(tokenizer: Tokenizer, record: unknown, options: SftOptions = {}, where = 'record'): SftRecordResult {
  const format = detectSftFormat(record, where, options);
  const chat = toChatMl(record as Json);
  if (options.seq2seq) return tokenizeSeq2Seq(tokenizer, chat, format, options, where);
  if (options.assistantOnlyLoss) checkAssistantOnly(tokenizer, format, options, where);
  const eos = options.eosToken ?? tokenizer.eosToken;
  let inputIds: number[];
  let labels: number[] | undefined;
  const masks: number[][] = [];
  let promptMismatch = false;
  const completionOnlyLoss = options.completionOnlyLoss ?? (format === 'prompt-completion' || format === 'conversational-prompt-completion');

  if (format === 'tokenized') {
    inputIds = requireIntegers(chat.input_ids, where, 'input_ids');
    if (chat.attention_mask !== undefined) requireIntegers(chat.attention_mask, where, 'attention_mask', inputIds.length);
    if (chat.labels !== undefined) labels = requireIntegers(chat.labels, where, 'labels', inputIds.length);
    else {
      if (completionOnlyLoss && chat.completion_mask !== undefined) masks.push(requireIntegers(chat.completion_mask, where, 'completion_mask', inputIds.length));
      if (chat.assistant_masks !== undefined) masks.push(requireIntegers(chat.assistant_masks, where, 'assistant_masks', inputIds.length));
    }
  } else {
    // add_eos: the literal "text" key first, then "completion"; conversational records get none.
    const withEos: Json = { ...chat };
    if (format === 'text' || format === 'prompt-completion') {
      if (eos === undefined) fail(where, `the tokenizer in ${tokenizer.folder} has no eos token; pass eosToken`);
      if ('text' in withEos && typeof withEos.text === 'string') {
        if (!withEos.text.endsWith(eos)) withEos.text = withEos.text + eos;
      } else if ('completion' in withEos && typeof withEos.completion === 'string' && !withEos.completion.endsWith(eos)) {
        withEos.completion = withEos.completion + eos;
      }
    }
    if (format === 'prompt-completion') {
      const prompt = requireString(withEos.prompt, where, 'prompt');
      const completion = requireString(withEos.completion, where, 'completion');
      const promptIds = tokenizer.encode(prompt);
      inputIds = tokenizer.encode(prompt + completion);
      promptMismatch = !promptIds.every((id, index) => inputIds[index] === id);
      masks.push(inputIds.map((_, index) => (index < promptIds.length ? 0 : 1)));
      if (!completionOnlyLoss) masks.pop();
    } else if (format === 'conversational-prompt-completion') {
      const prompt = requireMessages(withEos.prompt, where, 'prompt');
      const completion = requireMessages(withEos.completion, where, 'completion');
      const promptIds = renderChat(tokenizer, prompt, withEos, options, where, { addGenerationPrompt: true }).inputIds;
      const rendered = renderChat(tokenizer, [...prompt, ...completion], withEos, options, where, { assistantMask: options.assistantOnlyLoss });
      inputIds = rendered.inputIds;
      promptMismatch = !promptIds.every((id, index) => inputIds[index] === id);
      if (completionOnlyLoss) masks.push(inputIds.map((_, index) => (index < promptIds.length ? 0 : 1)));
      if ('assistantMasks' in rendered) masks.push(rendered.assistantMasks);
    } else if (format === 'conversational') {
      const messages = requireMessages(withEos.messages, where, 'messages');
      const rendered = renderChat(tokenizer, messages, withEos, options, where, { assistantMask: options.assistantOnlyLoss });
      inputIds = rendered.inputIds;
      if ('assistantMasks' in rendered) masks.push(rendered.assistantMasks);
    } else {
      const field = options.datasetTextField ?? 'text';
      inputIds = tokenizer.encode(requireString(withEos[field], where, field));
    }
    if (options.assistantOnlyLoss && !masks[masks.length - 1].includes(1)) {
      fail(where, 'assistantOnlyLoss: the rendered conversation has no assistant tokens inside {% generation %} blocks');
    }
  }
  labels ??= inputIds.map((id, index) => (masks.every((mask) => mask[index] === 1) ? id : -100));

  let truncated = false;
  const maxLength = options.maxLength === undefined ? 1024 : options.maxLength;
  if (maxLength !== null && !options.packing) {
    if (!Number.isInteger(maxLength) || maxLength < 1) throw new TunekitError('invalid-option', `maxLength must be a positive integer or null, got ${maxLength}`);
    const mode = options.truncationMode ?? 'keep_start';
    if (mode !== 'keep_start' && mode !== 'keep_end') throw new TunekitError('invalid-option', `truncationMode must be "keep_start" or "keep_end", got ${String(mode)}`);
    truncated = inputIds.length > maxLength;
    inputIds = truncate(inputIds, maxLength, mode);
    labels = truncate(labels, maxLength, mode);
    if (!labels.some((label) => label !== -100)) return { format, example: null, truncated, promptMismatch };
  }
  return { format, example: { input_ids: inputIds, labels, attention_mask: inputIds.map(() => 1) }, truncated, promptMismatch };
}

export interface SftDatasetOptions extends SftOptions {
  /** Names record `index` (0-based) in errors and stats; default `record N` (1-based). */
  where?: (index: number) => string;
}

/**
 * Tokenizes a dataset as TRL's SFTTrainer does: the format and the completion_only_loss default come from the first
 * record, and every record must be in that format (a datasets.Dataset cannot mix them either).
 */
export function tokenizeSftDataset(tokenizer: Tokenizer, records: readonly unknown[], options: SftDatasetOptions = {}): SftDatasetResult {
  const where = options.where ?? ((index: number) => `record ${index + 1}`);
  if (records.length === 0) throw new TunekitError(SFT_ERROR, 'the dataset has no records');
  const format = detectSftFormat(records[0], where(0), options);
  const completionOnlyLoss =
    options.completionOnlyLoss ?? (format === 'tokenized' ? false : 'prompt' in (records[0] as Json) && 'completion' in (records[0] as Json));
  const examples: SftExample[] = [];
  const stats = { records: records.length, examples: 0, truncated: 0, dropped: [] as string[], promptMismatch: [] as string[] };
  records.forEach((record, index) => {
    const name = where(index);
    const own = detectSftFormat(record, name, options);
    if (own !== format) fail(name, `is a ${own} record but the dataset's first record is ${format}; one dataset holds one format`);
    const result = tokenizeSftRecord(tokenizer, record, { ...options, completionOnlyLoss }, name);
    if (result.truncated) stats.truncated++;
    if (result.promptMismatch) stats.promptMismatch.push(name);
    if (result.example === null) stats.dropped.push(name);
    else examples.push(result.example);
  });
  stats.examples = examples.length;
  return { format, completionOnlyLoss, examples, stats };
}

/** tokenizeSftDataset over parsed JSON Lines, naming records `file:line`. */
export function tokenizeSftJsonl(tokenizer: Tokenizer, records: ReadonlyArray<{ line: number; value: unknown }>, source: string, options: SftOptions = {}): SftDatasetResult {
  return tokenizeSftDataset(
    tokenizer,
    records.map((record) => record.value),
    { ...options, where: (index) => `${source}:${records[index].line}` },
  );
}
