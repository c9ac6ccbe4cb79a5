import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { oneLine, readTextFileSync } from '../io/text.js';

export type JsonObject = Record<string, unknown>;

/** One named chat template, as tokenizer_config.json lists them (`[{name, template}]`) or `chat_template.jinja` holds it. */
export interface NamedChatTemplate {
  name: string;
  template: string;
  source: string;
}

/** The special token strings and ids a tokenizer folder declares, before they are checked against the vocabulary. */
export interface TokenizerFolderSettings {
  bosToken?: string;
  eosToken?: string;
  padToken?: string;
  unkToken?: string;
  additionalSpecialTokens: string[];
  addBosToken?: boolean;
  addEosToken?: boolean;
  modelMaxLength?: number;
  paddingSide?: 'left' | 'right';
  truncationSide?: 'left' | 'right';
  cleanUpTokenizationSpaces: boolean;
  cleanUpForBpe: boolean;
  chatTemplates: NamedChatTemplate[];
  /** Ids from generation_config.json, then config.json, used when no token string names them. */
  bosTokenId?: number;
  eosTokenId?: number | number[];
  padTokenId?: number;
  decoderStartTokenId?: number;
}

/** transformers writes 1e30 (VERY_LARGE_INTEGER) when a model has no length limit. */
const NO_LENGTH_LIMIT = 1e18;

export function readJsonFile(file: string, required: boolean): JsonObject | undefined {
  if (!existsSync(file)) {
    if (required) throw new TunekitError('file-missing', `${file} not found`);
    return undefined;
  }
  // Strict UTF-8 (a BOM is dropped): readFileSync's 'utf8' would turn bad bytes into U+FFFD inside token strings.
  const text = readTextFileSync(file, 'json-invalid');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TunekitError('json-invalid', `${file} is not valid JSON: ${oneLine((error as Error).message)}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new TunekitError('json-invalid', `${file} must hold a JSON object`);
  }
  return parsed as JsonObject;
}

/** A special token is written as a string or as an AddedToken object `{content: ...}`. */
function readTokenString(value: unknown, file: string, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && !Array.isArray(value) && typeof (value as JsonObject).content === 'string') {
    return (value as JsonObject).content as string;
  }
  throw new TunekitError('tokenizer-config', `${file}: ${field} must be a string or an object with a string "content"`);
}

function readOptionalBoolean(config: JsonObject, file: string, field: string): boolean | undefined {
  const value = config[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new TunekitError('tokenizer-config', `${file}: ${field} must be true or false`);
  return value;
}

function readSide(config: JsonObject, file: string, field: string): 'left' | 'right' | undefined {
  const value = config[field];
  if (value === undefined || value === null) return undefined;
  if (value !== 'left' && value !== 'right') {
    throw new TunekitError('tokenizer-config', `${file}: ${field} must be "left" or "right", got ${JSON.stringify(value)}`);
  }
  return value;
}

function readTokenId(config: JsonObject | undefined, file: string, field: string): number | undefined {
  const value = config?.[field];
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value) || (value as number) < 0) {
    throw new TunekitError('model-config', `${file}: ${field} must be a non-negative integer`);
  }
  return value as number;
}

function readTokenIds(config: JsonObject | undefined, file: string, field: string): number | number[] | undefined {
  const value = config?.[field];
  if (Array.isArray(value)) {
    if (!value.every((item) => Number.isInteger(item) && item >= 0)) {
      throw new TunekitError('model-config', `${file}: ${field} must be an integer or a list of integers`);
    }
    return value.length === 1 ? (value[0] as number) : (value as number[]);
  }
  return readTokenId(config, file, field);
}

function readChatTemplates(folder: string, config: JsonObject, configFile: string): NamedChatTemplate[] {
  const templates: NamedChatTemplate[] = [];
  const value = config.chat_template;
  if (typeof value === 'string') {
    templates.push({ name: 'default', template: value, source: `${configFile} chat_template` });
  } else if (Array.isArray(value)) {
    value.forEach((entry, index) => {
      const name = (entry as JsonObject | null)?.name;
      const template = (entry as JsonObject | null)?.template;
      if (typeof name !== 'string' || typeof template !== 'string') {
        throw new TunekitError('tokenizer-config', `${configFile}: chat_template[${index}] must be {"name": string, "template": string}`);
      }
      templates.push({ name, template, source: `${configFile} chat_template[${index}] (${name})` });
    });
  } else if (value !== undefined && value !== null) {
    throw new TunekitError('tokenizer-config', `${configFile}: chat_template must be a string or a list of {name, template}`);
  }
  // transformers 5 saves templates as separate files, which take priority over tokenizer_config.json.
  const jinjaFile = path.join(folder, 'chat_template.jinja');
  const fromFiles: NamedChatTemplate[] = [];
  if (existsSync(jinjaFile)) fromFiles.push({ name: 'default', template: readTextFileSync(jinjaFile, 'tokenizer-config'), source: jinjaFile });
  const additionalFolder = path.join(folder, 'additional_chat_templates');
  if (existsSync(additionalFolder)) {
    for (const entry of readdirSync(additionalFolder).sort()) {
      if (!entry.endsWith('.jinja')) continue;
      const file = path.join(additionalFolder, entry);
      fromFiles.push({ name: entry.slice(0, -'.jinja'.length), template: readTextFileSync(file, 'tokenizer-config'), source: file });
    }
  }
  if (fromFiles.length > 0) {
    const overridden = new Set(fromFiles.map((template) => template.name));
    return [...fromFiles, ...templates.filter((template) => !overridden.has(template.name))];
  }
  return templates;
}

/**
 * Reads tokenizer_config.json, special_tokens_map.json, generation_config.json and config.json from a model folder.
 * tokenizer_config.json wins over special_tokens_map.json, as in transformers; generation_config.json wins over
 * config.json for ids.
 */
export function readTokenizerFolderSettings(folder: string): TokenizerFolderSettings {
  const configFile = path.join(folder, 'tokenizer_config.json');
  const mapFile = path.join(folder, 'special_tokens_map.json');
  const generationFile = path.join(folder, 'generation_config.json');
  const modelFile = path.join(folder, 'config.json');
  const config = readJsonFile(configFile, false) ?? {};
  const specialTokensMap = readJsonFile(mapFile, false) ?? {};
  const generation = readJsonFile(generationFile, false);
  const model = readJsonFile(modelFile, false);

  const tokenString = (field: string): string | undefined =>
    readTokenString(config[field], configFile, field) ?? readTokenString(specialTokensMap[field], mapFile, field);

  const additional: string[] = [];
  for (const [source, file] of [[config, configFile], [specialTokensMap, mapFile]] as const) {
    for (const field of ['additional_special_tokens', 'extra_special_tokens']) {
      const list = source[field];
      if (list === undefined || list === null) continue;
      const entries = Array.isArray(list) ? list : typeof list === 'object' ? Object.values(list as JsonObject) : undefined;
      if (entries === undefined) throw new TunekitError('tokenizer-config', `${file}: ${field} must be a list of tokens`);
      entries.forEach((entry, index) => {
        const token = readTokenString(entry, file, `${field}[${index}]`);
        if (token !== undefined && !additional.includes(token)) additional.push(token);
      });
    }
  }

  const maxLength = config.model_max_length;
  if (maxLength !== undefined && maxLength !== null && (typeof maxLength !== 'number' || !(maxLength > 0))) {
    throw new TunekitError('tokenizer-config', `${configFile}: model_max_length must be a positive number`);
  }
  const cleanUp = readOptionalBoolean(config, configFile, 'clean_up_tokenization_spaces');
  const cleanUpForBpe = readOptionalBoolean(
    config,
    configFile,
    'clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output',
  );

  return {
    bosToken: tokenString('bos_token'),
    eosToken: tokenString('eos_token'),
    padToken: tokenString('pad_token'),
    unkToken: tokenString('unk_token'),
    additionalSpecialTokens: additional,
    addBosToken: readOptionalBoolean(config, configFile, 'add_bos_token'),
    addEosToken: readOptionalBoolean(config, configFile, 'add_eos_token'),
    modelMaxLength: typeof maxLength === 'number' && maxLength < NO_LENGTH_LIMIT ? maxLength : undefined,
    paddingSide: readSide(config, configFile, 'padding_side'),
    truncationSide: readSide(config, configFile, 'truncation_side'),
    cleanUpTokenizationSpaces: cleanUp ?? false,
    cleanUpForBpe: cleanUpForBpe ?? false,
    chatTemplates: readChatTemplates(folder, config, configFile),
    bosTokenId: readTokenId(generation, generationFile, 'bos_token_id') ?? readTokenId(model, modelFile, 'bos_token_id'),
    eosTokenId: readTokenIds(generation, generationFile, 'eos_token_id') ?? readTokenIds(model, modelFile, 'eos_token_id'),
    padTokenId: readTokenId(generation, generationFile, 'pad_token_id') ?? readTokenId(model, modelFile, 'pad_token_id'),
    decoderStartTokenId:
      readTokenId(generation, generationFile, 'decoder_start_token_id') ??
      readTokenId(model, modelFile, 'decoder_start_token_id'),
  };
}
