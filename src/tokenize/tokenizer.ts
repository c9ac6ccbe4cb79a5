import path from 'node:path';
import { Tokenizer as HuggingFaceTokenizer } from '@huggingface/tokenizers';
import { TunekitError } from '../errors.js';
import { oneLine } from '../io/text.js';
import { padRows, requirePositiveInteger, truncateIds, type BatchEncoding, type Side } from './batch.js';
import { renderChatTemplate, renderChatTemplateWithGenerationSpans, selectChatTemplate, type ChatMessage, type RenderChatOptions } from './chat-template.js';
import { DecodeStream, incrementalDecode, type DecodeStreamOptions } from './decode-stream.js';
import { readJsonFile, readTokenizerFolderSettings, type JsonObject, type NamedChatTemplate, type TokenizerFolderSettings } from './files.js';
import {
  decoderUsesByteFallback,
  postProcessorSpecialTokenIds,
  readConfigAddedTokens,
  readTokenizerJson,
  withConfigSpecialTokens,
  withDefaultPostProcessor,
} from './tokenizer-json.js';

export interface EncodeOptions {
  /** Add the tokens tokenizer.json's post-processor adds (BOS for Llama, `</s>` for T5). Default true. */
  addSpecialTokens?: boolean;
  /** Cut to at most maxLength ids, special tokens included (default false). */
  truncation?: boolean;
  /** Default model_max_length from tokenizer_config.json. */
  maxLength?: number;
  /** Side that loses ids; default truncation_side from tokenizer_config.json, else right. */
  truncationSide?: Side;
}

export interface EncodeBatchOptions extends EncodeOptions {
  /** 'longest' pads to the longest row, 'max_length' to maxLength, false not at all (default 'longest'). */
  padding?: 'longest' | 'max_length' | false;
  /** Default padding_side from tokenizer_config.json, else right. */
  paddingSide?: Side;
  /** Pad with this id instead of the tokenizer's pad token (needed when it has none). */
  padTokenId?: number;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
  /** Default clean_up_tokenization_spaces from tokenizer_config.json (never for BPE models, as in transformers 5). */
  cleanUpTokenizationSpaces?: boolean;
}

export interface ApplyChatTemplateOptions extends RenderChatOptions {
  /** Return ids (encoded without added special tokens, as transformers does) instead of text. Default false. */
  tokenize?: boolean;
}

const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;

/** transformers' clean_up_tokenization: removes the spaces WordPiece-era decoders leave before punctuation. */
function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

/** Rust's ByteFallback decoder gives one U+FFFD per byte of a run that is not valid UTF-8. */
function replaceInvalidByteRuns(tokens: string[]): string[] {
  const result: string[] = [];
  let run: string[] = [];
  const flush = () => {
    if (run.length === 0) return;
    const bytes = Uint8Array.from(run, (token) => parseInt(token.slice(3, 5), 16));
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      result.push(...run);
    } catch {
      result.push(...run.map(() => '\uFFFD'));
    }
    run = [];
  };
  for (const token of tokens) {
    if (BYTE_TOKEN.test(token)) {
      run.push(token);
    } else {
      flush();
      result.push(token);
    }
  }
  flush();
  return result;
}

/**
 * A tokenizer read from a Hugging Face model folder: tokenizer.json through @huggingface/tokenizers, the special
 * tokens, padding and chat templates from tokenizer_config.json and its neighbours.
 */
export class Tokenizer {
  readonly folder: string;
  readonly bosToken?: string;
  readonly eosToken?: string;
  readonly padToken?: string;
  readonly unkToken?: string;
  readonly bosTokenId?: number;
  /** A list when generation_config.json / config.json give several and the tokenizer names none. */
  readonly eosTokenId?: number | number[];
  readonly padTokenId?: number;
  readonly unkTokenId?: number;
  readonly decoderStartTokenId?: number;
  /** Ids of every special added token, ascending. */
  readonly specialTokenIds: readonly number[];
  /** Largest id + 1, added tokens included (what the embedding must cover at least). */
  readonly vocabSize: number;
  readonly modelMaxLength?: number;
  readonly paddingSide: Side;
  readonly truncationSide: Side;
  readonly chatTemplates: readonly NamedChatTemplate[];
  readonly modelType: string;

  private readonly backend: HuggingFaceTokenizer;
  private readonly settings: TokenizerFolderSettings;
  private readonly specialIdSet: Set<number>;
  private readonly prefixIds: number[];
  private readonly suffixIds: number[];
  private readonly usesByteFallback: boolean;

  constructor(folder: string, tokenizerJson: JsonObject, settings: TokenizerFolderSettings, configAddedTokens: TokenizerAddedTokens = []) {
    this.folder = folder;
    this.settings = settings;
    const withSpecials = withConfigSpecialTokens(tokenizerJson, settings, configAddedTokens);
    const addedIds = new Map((withSpecials.added_tokens as Array<{ content: string; id: number }>).map((token) => [token.content, token.id]));
    const json = withDefaultPostProcessor(withSpecials, settings, (token) => addedIds.get(token));
    try {
      this.backend = new HuggingFaceTokenizer(json, {
        additional_special_tokens: settings.additionalSpecialTokens,
        clean_up_tokenization_spaces: false,
      });
    } catch (error) {
      throw new TunekitError('tokenizer-json', `${path.join(folder, 'tokenizer.json')}: ${oneLine(String((error as Error)?.message ?? error))}`);
    }
    this.modelType = (json.model as JsonObject).type as string;
    this.usesByteFallback = decoderUsesByteFallback(json.decoder);

    const added = this.backend.get_added_tokens_decoder();
    this.specialIdSet = new Set([...added.values()].filter((token) => token.special).map((token) => token.id));
    this.specialTokenIds = [...this.specialIdSet].sort((a, b) => a - b);
    let largestId = -1;
    for (const id of this.backend.get_vocab(true).values()) largestId = Math.max(largestId, id);
    this.vocabSize = largestId + 1;

    this.bosToken = settings.bosToken;
    this.eosToken = settings.eosToken;
    this.padToken = settings.padToken;
    this.unkToken = settings.unkToken ?? this.backend.model?.unk_token ?? undefined;
    this.bosTokenId = this.idOfNamedToken(settings.bosToken, 'bos_token') ?? settings.bosTokenId;
    this.eosTokenId = this.idOfNamedToken(settings.eosToken, 'eos_token') ?? settings.eosTokenId;
    this.padTokenId = this.idOfNamedToken(settings.padToken, 'pad_token') ?? settings.padTokenId;
    this.unkTokenId = this.idOfNamedToken(this.unkToken, 'unk_token');
    this.decoderStartTokenId = settings.decoderStartTokenId;
    this.modelMaxLength = settings.modelMaxLength;
    this.paddingSide = settings.paddingSide ?? 'right';
    this.truncationSide = settings.truncationSide ?? 'right';
    this.chatTemplates = settings.chatTemplates;

    [this.prefixIds, this.suffixIds] = this.specialTokenLayout(json.post_processor);
  }

  /** Ids of `text`, with the special tokens tokenizer.json's post-processor adds unless told otherwise. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TunekitError('invalid-input', `encode expects a string, got ${typeof text}`);
    const addSpecialTokens = options.addSpecialTokens ?? true;
    let ids = this.backend.encode(text, { add_special_tokens: false }).ids;
    const prefix = addSpecialTokens ? this.prefixIds : [];
    const suffix = addSpecialTokens ? this.suffixIds : [];
    if (options.truncation) {
      const maxLength = this.resolveMaxLength(options.maxLength, 'truncation');
      const keep = maxLength - prefix.length - suffix.length;
      if (keep < 0) {
        throw new TunekitError('invalid-option', `maxLength ${maxLength} is shorter than the ${prefix.length + suffix.length} special tokens this tokenizer adds`);
      }
      ids = truncateIds(ids, keep, options.truncationSide ?? this.truncationSide);
    }
    return [...prefix, ...ids, ...suffix];
  }

  /** Encodes several texts and pads them into rectangular rows with an attention mask. */
  encodeBatch(texts: readonly string[], options: EncodeBatchOptions = {}): BatchEncoding {
    const padding = options.padding ?? 'longest';
    const rows = texts.map((text) => this.encode(text, options));
    if (padding === false) return { inputIds: rows, attentionMask: rows.map((row) => row.map(() => 1)) };
    const padTokenId = options.padTokenId ?? this.padTokenId;
    if (padTokenId === undefined) {
      throw new TunekitError(
        'pad-token-missing',
        `${this.folder}: the tokenizer has no pad token (pad_token in tokenizer_config.json or pad_token_id in ` +
          'generation_config.json / config.json); pass padTokenId, e.g. the eos id',
      );
    }
    const length =
      padding === 'max_length' ? this.resolveMaxLength(options.maxLength, 'padding "max_length"') : Math.max(0, ...rows.map((row) => row.length));
    return padRows(rows, length, padTokenId, options.paddingSide ?? this.paddingSide);
  }

  /** Text of `ids`, as transformers' decode gives it (tokenizer.json decoder, then optional clean-up). */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skipSpecialTokens = options.skipSpecialTokens ?? false;
    let tokens: string[] = [];
    for (const id of ids) {
      if (skipSpecialTokens && this.specialIdSet.has(id)) continue;
      const token = this.backend.id_to_token(id);
      if (token !== undefined) tokens.push(token);
    }
    if (tokens.length === 0) return '';
    if (this.usesByteFallback) tokens = replaceInvalidByteRuns(tokens);
    const decoder = this.backend.decoder;
    let text = decoder ? decoder(tokens) : tokens.join(' ');
    const endOfWordSuffix = decoder?.end_of_word_suffix;
    if (endOfWordSuffix) {
      text = text.replaceAll(endOfWordSuffix, ' ');
      if (skipSpecialTokens) text = text.trim();
    }
    const cleanUp = options.cleanUpTokenizationSpaces ?? this.settings.cleanUpTokenizationSpaces;
    if (cleanUp && (this.modelType !== 'BPE' || this.settings.cleanUpForBpe)) text = cleanUpTokenization(text);
    return text;
  }

  tokenToId(token: string): number | undefined {
    return this.backend.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.backend.id_to_token(id);
  }

  convertIdsToTokens(ids: readonly number[]): Array<string | undefined> {
    return ids.map((id) => this.backend.id_to_token(id));
  }

  /** Token strings of `text` as the model sees them (byte-level or ▁-prefixed), without special tokens. */
  tokenize(text: string): string[] {
    return this.backend.tokenize(text, { add_special_tokens: false });
  }

  /** Every id that should end generation: the tokenizer's eos plus generation_config.json's list. */
  get stopTokenIds(): number[] {
    const ids = new Set<number>();
    for (const value of [this.eosTokenId, this.settings.eosTokenId]) {
      for (const id of Array.isArray(value) ? value : value === undefined ? [] : [value]) ids.add(id);
    }
    return [...ids];
  }

  /** Named special tokens as strings, as transformers passes them to chat templates. */
  get specialTokensMap(): Record<string, string> {
    const map: Record<string, string> = {};
    const entries: Array<[string, string | undefined]> = [
      ['bos_token', this.bosToken],
      ['eos_token', this.eosToken],
      ['unk_token', this.unkToken],
      ['pad_token', this.padToken],
    ];
    for (const [name, value] of entries) if (value !== undefined) map[name] = value;
    return map;
  }

  /** Renders a conversation with the tokenizer's chat template (text by default, ids with tokenize: true). */
  applyChatTemplate(messages: ChatMessage[], options: ApplyChatTemplateOptions & { tokenize: true }): number[];
  applyChatTemplate(messages: ChatMessage[], options?: ApplyChatTemplateOptions & { tokenize?: false }): string;
  applyChatTemplate(messages: ChatMessage[], options: ApplyChatTemplateOptions = {}): string | number[] {
    const selected = selectChatTemplate([...this.chatTemplates], this.folder, options);
    const text = renderChatTemplate(selected, messages, this.specialTokensMap, options);
    return options.tokenize ? this.encode(text, { addSpecialTokens: false }) : text;
  }

  /** The template text applyChatTemplate would use with these options. */
  chatTemplateText(options: RenderChatOptions = {}): string {
    return selectChatTemplate([...this.chatTemplates], this.folder, options).template;
  }

  /**
   * applyChatTemplate with tokenize and transformers' return_assistant_tokens_mask: 1 for every token from the one
   * holding a `{% generation %}` block's first character to the one holding its last (char_to_token). Without
   * offsets from the tokenizer, the token holding character c is found by encoding the text before c: where that
   * encoding stops agreeing with the whole text's, the token there holds c (or starts at c, when it agrees fully).
   */
  applyChatTemplateWithAssistantMask(messages: ChatMessage[], options: RenderChatOptions = {}): { inputIds: number[]; assistantMasks: number[] } {
    const selected = selectChatTemplate([...this.chatTemplates], this.folder, options);
    const { text, spans } = renderChatTemplateWithGenerationSpans(selected, messages, this.specialTokensMap, options);
    const inputIds = this.encode(text, { addSpecialTokens: false });
    const assistantMasks = inputIds.map(() => 0);
    const tokenAt = (char: number): { index: number; starts: boolean } => {
      const prefix = this.encode(text.slice(0, char), { addSpecialTokens: false });
      let index = 0;
      while (index < prefix.length && index < inputIds.length && prefix[index] === inputIds[index]) index++;
      return { index, starts: index === prefix.length };
    };
    for (const [start, end] of spans) {
      if (end <= start) continue;
      const first = tokenAt(start).index;
      if (first >= inputIds.length) break;
      const last = tokenAt(end);
      const lastIndex = last.starts ? last.index - 1 : last.index;
      // transformers: range(start_token, end_token + 1 if end_token else len(input_ids)) -- a 0 reads as "to the end"
      const stop = lastIndex > 0 ? Math.min(lastIndex + 1, inputIds.length) : inputIds.length;
      for (let index = first; index < stop; index++) assistantMasks[index] = 1;
    }
    return { inputIds, assistantMasks };
  }

  /** A stream that turns generated ids into text pieces without splitting characters. */
  decodeStream(options: DecodeStreamOptions = {}): DecodeStream {
    return new DecodeStream(this, options);
  }

  /** The text pieces a stream would emit for `ids`. */
  incrementalDecode(ids: Iterable<number>, options: DecodeStreamOptions = {}): Generator<string> {
    return incrementalDecode(this, ids, options);
  }

  private idOfNamedToken(token: string | undefined, field: string): number | undefined {
    if (token === undefined) return undefined;
    const id = this.backend.token_to_id(token);
    if (id === undefined) {
      throw new TunekitError('tokenizer-config', `${this.folder}: ${field} ${oneLine(JSON.stringify(token))} is not in tokenizer.json's vocabulary`);
    }
    return id;
  }

  private resolveMaxLength(maxLength: number | undefined, purpose: string): number {
    const value = maxLength ?? this.modelMaxLength;
    if (value === undefined) {
      throw new TunekitError('invalid-option', `${purpose} needs maxLength (tokenizer_config.json gives no model_max_length)`);
    }
    return requirePositiveInteger(value, 'maxLength');
  }

  /** The special ids the post-processor puts before and after a single sequence. */
  private specialTokenLayout(postProcessorConfig: unknown): [number[], number[]] {
    const postProcessor = this.backend.post_processor;
    if (postProcessor === null) return [[], []];
    const marker = '\u0000tunekit-sequence\u0000';
    const tokens = postProcessor([marker], null, true).tokens;
    const markerIndex = tokens.indexOf(marker);
    if (markerIndex < 0) throw new TunekitError('tokenizer-json', `${this.folder}: the post-processor drops the input sequence`);
    const templateIds = postProcessorSpecialTokenIds(postProcessorConfig);
    const toIds = (names: string[]) =>
      names.flatMap((name) => {
        const vocabularyId = this.backend.token_to_id(name);
        const ids = templateIds.get(name) ?? (vocabularyId === undefined ? undefined : [vocabularyId]);
        if (ids === undefined) {
          throw new TunekitError('tokenizer-json', `${path.join(this.folder, 'tokenizer.json')}: post_processor adds ${oneLine(JSON.stringify(name))}, which has no id`);
        }
        return ids;
      });
    return [toIds(tokens.slice(0, markerIndex)), toIds(tokens.slice(markerIndex + 1))];
  }
}

export type TokenizerAddedTokens = ReturnType<typeof readConfigAddedTokens>;

/** Reads a tokenizer from a model folder (tokenizer.json required; tokenizer_config.json and friends optional). */
export function loadTokenizer(folder: string): Tokenizer {
  const json = readTokenizerJson(folder);
  const settings = readTokenizerFolderSettings(folder);
  const configFile = path.join(folder, 'tokenizer_config.json');
  const configAddedTokens = readConfigAddedTokens(readJsonFile(configFile, false), configFile);
  try {
    return new Tokenizer(folder, json, settings, configAddedTokens);
  } catch (error) {
    if (error instanceof TunekitError) throw error;
    // The tokenizers library checks tokenizer.json lazily: a malformed part (a post-processor whose fields have the
    // wrong types) fails inside it with a TypeError when the constructor first runs it.
    throw new TunekitError('tokenizer-json', `${path.join(folder, 'tokenizer.json')}: not a valid tokenizer (${oneLine(String((error as Error)?.message ?? error))})`);
  }
}
