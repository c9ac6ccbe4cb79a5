import { existsSync } from 'node:fs';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { oneLine } from '../io/text.js';
import { readJsonFile, type JsonObject, type TokenizerFolderSettings } from './files.js';

export interface AddedTokenEntry {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/**
 * The largest token id accepted. The tokenizers library keeps the vocabulary as an array indexed by id and walks it
 * whole, so an added token at id 1e9 took minutes to load; no shipped vocabulary comes near 2^24 (the largest are
 * about 262k).
 */
export const MAX_TOKEN_ID = 2 ** 24 - 1;

function checkTokenIdBound(id: number, file: string, field: string): void {
  if (id > MAX_TOKEN_ID) throw new TunekitError('tokenizer-json', `${file}: ${field} is ${id}, above the largest token id tunekit accepts (${MAX_TOKEN_ID})`);
}

/** Reads tokenizer.json, or explains that tunekit needs the fast-tokenizer file. */
export function readTokenizerJson(folder: string): JsonObject {
  const file = path.join(folder, 'tokenizer.json');
  if (!existsSync(file)) {
    const slowFiles = ['tokenizer.model', 'spiece.model', 'vocab.json', 'vocab.txt'].filter((name) => existsSync(path.join(folder, name)));
    const found = slowFiles.length > 0 ? ` (found ${slowFiles.join(', ')}, which only the slow Python tokenizers read)` : '';
    throw new TunekitError(
      'tokenizer-json-missing',
      `${folder}: tokenizer.json is needed${found}. tunekit reads the fast-tokenizer format; convert with Python ` +
        `transformers: AutoTokenizer.from_pretrained(folder).save_pretrained(folder)`,
    );
  }
  const json = readJsonFile(file, true) as JsonObject;
  const model = json.model as JsonObject | undefined;
  if (model === undefined || model === null || typeof model !== 'object' || typeof model.type !== 'string') {
    throw new TunekitError('tokenizer-json', `${file}: "model" must be an object with a "type" (BPE, Unigram, WordPiece)`);
  }
  if (json.added_tokens !== undefined && !Array.isArray(json.added_tokens)) {
    throw new TunekitError('tokenizer-json', `${file}: "added_tokens" must be a list`);
  }
  ((json.added_tokens as unknown[] | undefined) ?? []).forEach((token, index) => {
    const entry = token as JsonObject | null;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry) || typeof entry.content !== 'string' || !Number.isSafeInteger(entry.id) || (entry.id as number) < 0) {
      throw new TunekitError('tokenizer-json', `${file}: added_tokens[${index}] must be {"id": whole number ≥ 0, "content": string, ...}`);
    }
    checkTokenIdBound(entry.id as number, file, `added_tokens[${index}].id`);
  });
  if (model.vocab !== null && typeof model.vocab === 'object' && !Array.isArray(model.vocab)) {
    for (const [piece, id] of Object.entries(model.vocab as JsonObject)) {
      if (typeof id === 'number') checkTokenIdBound(id, file, `model.vocab[${oneLine(JSON.stringify(piece))}]`);
    }
  }
  return json;
}

function modelVocabularyIds(model: JsonObject): Map<string, number> {
  const ids = new Map<string, number>();
  const vocab = model.vocab;
  if (Array.isArray(vocab)) {
    vocab.forEach((entry, index) => {
      const piece = Array.isArray(entry) ? entry[0] : undefined;
      if (typeof piece === 'string' && !ids.has(piece)) ids.set(piece, index);
    });
  } else if (vocab !== null && typeof vocab === 'object') {
    for (const [piece, id] of Object.entries(vocab as JsonObject)) if (typeof id === 'number') ids.set(piece, id);
  }
  return ids;
}

/**
 * Registers the special tokens named by tokenizer_config.json / special_tokens_map.json the way transformers does
 * when it loads a folder: a token already in the vocabulary becomes a special added token with its id, a token
 * missing from it gets the next free id.
 */
export function withConfigSpecialTokens(json: JsonObject, settings: TokenizerFolderSettings, configAddedTokens: AddedTokenEntry[]): JsonObject {
  const addedTokens = ((json.added_tokens as AddedTokenEntry[] | undefined) ?? []).map((token) => ({ ...token }));
  const byContent = new Map(addedTokens.map((token) => [token.content, token]));
  const vocabularyIds = modelVocabularyIds(json.model as JsonObject);
  // A loop, not Math.max(...ids): spreading a 256k-entry vocabulary overflows the call stack.
  let nextId = 0;
  for (const id of vocabularyIds.values()) nextId = Math.max(nextId, id + 1);
  for (const token of addedTokens) nextId = Math.max(nextId, token.id + 1);

  for (const token of configAddedTokens) {
    if (!byContent.has(token.content)) {
      addedTokens.push(token);
      byContent.set(token.content, token);
      nextId = Math.max(nextId, token.id + 1);
    }
  }
  const named = [settings.bosToken, settings.eosToken, settings.unkToken, settings.padToken, ...settings.additionalSpecialTokens];
  for (const content of named) {
    if (content === undefined) continue;
    const existing = byContent.get(content);
    if (existing !== undefined) {
      existing.special = true;
      continue;
    }
    const id = vocabularyIds.get(content) ?? nextId++;
    const token: AddedTokenEntry = { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
    addedTokens.push(token);
    byContent.set(content, token);
  }
  return { ...json, added_tokens: addedTokens };
}

/** tokenizer_config.json's added_tokens_decoder: `{"<id>": {content, special, lstrip, ...}}`. */
export function readConfigAddedTokens(config: JsonObject | undefined, file: string): AddedTokenEntry[] {
  const decoder = config?.added_tokens_decoder;
  if (decoder === undefined || decoder === null) return [];
  if (typeof decoder !== 'object' || Array.isArray(decoder)) {
    throw new TunekitError('tokenizer-config', `${file}: added_tokens_decoder must map ids to token objects`);
  }
  return Object.entries(decoder as JsonObject).map(([key, value]) => {
    const entry = value as JsonObject | null;
    const id = Number(key);
    if (!Number.isInteger(id) || id < 0 || entry === null || typeof entry !== 'object' || typeof entry.content !== 'string') {
      throw new TunekitError('tokenizer-config', `${file}: added_tokens_decoder[${oneLine(JSON.stringify(key))}] must be {"content": string, ...} under an integer id`);
    }
    checkTokenIdBound(id, file, `added_tokens_decoder[${oneLine(JSON.stringify(key))}]`);
    return {
      id,
      content: entry.content,
      single_word: entry.single_word === true,
      lstrip: entry.lstrip === true,
      rstrip: entry.rstrip === true,
      normalized: entry.normalized === true,
      special: entry.special === true,
    };
  });
}

/**
 * tokenizer.json's post-processor decides which special tokens encode adds (as in transformers 5). Only when the
 * file has none do add_bos_token / add_eos_token build one, the template transformers' update_post_processor makes.
 */
export function withDefaultPostProcessor(json: JsonObject, settings: TokenizerFolderSettings, tokenId: (token: string) => number | undefined): JsonObject {
  if (json.post_processor !== undefined && json.post_processor !== null) return json;
  const single: JsonObject[] = [];
  const specialTokens: JsonObject = {};
  const addSpecial = (token: string | undefined) => {
    const id = token === undefined ? undefined : tokenId(token);
    if (token === undefined || id === undefined) return;
    single.push({ SpecialToken: { id: token, type_id: 0 } });
    specialTokens[token] = { id: token, ids: [id], tokens: [token] };
  };
  if (settings.addBosToken) addSpecial(settings.bosToken);
  single.push({ Sequence: { id: 'A', type_id: 0 } });
  if (settings.addEosToken) addSpecial(settings.eosToken);
  if (single.length === 1) return json;
  const pair = [...single, ...single.map((item) => ('Sequence' in item ? { Sequence: { id: 'B', type_id: 1 } } : item))];
  return { ...json, post_processor: { type: 'TemplateProcessing', single, pair, special_tokens: specialTokens } };
}

/** Ids of every SpecialToken the post-processor can insert, by the name its template uses. */
export function postProcessorSpecialTokenIds(config: unknown, found = new Map<string, number[]>()): Map<string, number[]> {
  if (config === null || typeof config !== 'object') return found;
  const node = config as JsonObject;
  const specialTokens = node.special_tokens as Record<string, { ids?: number[] }> | undefined;
  if (specialTokens !== undefined && specialTokens !== null && typeof specialTokens === 'object') {
    for (const [name, value] of Object.entries(specialTokens)) if (Array.isArray(value?.ids)) found.set(name, value.ids);
  }
  for (const child of (node.processors as unknown[] | undefined) ?? []) postProcessorSpecialTokenIds(child, found);
  return found;
}

export function decoderUsesByteFallback(config: unknown): boolean {
  if (config === null || typeof config !== 'object') return false;
  const node = config as JsonObject;
  if (node.type === 'ByteFallback') return true;
  return ((node.decoders as unknown[] | undefined) ?? []).some(decoderUsesByteFallback);
}
