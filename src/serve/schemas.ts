// JSON schemas of the request bodies, with OpenAI's field names; Fastify validates bodies against them (Ajv, no
// type coercion, unknown fields refused) before a handler runs.

const nullable = (type: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: [type, 'null'], ...extra });
const tokenIds = { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1 };

/** What a field that takes several shapes expects, for the 400 message (Ajv's own names each branch). */
export const SHAPES: Record<string, string> = {
  prompt: 'a string, a list of strings, a list of token ids, or a list of lists of token ids',
  stop: 'a string, a list of up to 4 strings, or null',
  content: 'a string, a list of {"type": "text", "text": …} parts, or null',
};

const sampling = {
  model: { type: 'string', minLength: 1 },
  max_tokens: nullable('integer', { minimum: 1 }),
  temperature: nullable('number', { minimum: 0, maximum: 2 }),
  top_p: nullable('number', { minimum: 0, maximum: 1 }),
  n: nullable('integer', { minimum: 1, maximum: 128 }),
  stream: nullable('boolean'),
  stream_options: {
    type: ['object', 'null'],
    properties: { include_usage: nullable('boolean') },
    additionalProperties: false,
  },
  stop: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: 4 }, { type: 'null' }] },
  seed: nullable('integer'),
  user: { type: 'string' },
  presence_penalty: nullable('number', { minimum: -2, maximum: 2 }),
  frequency_penalty: nullable('number', { minimum: -2, maximum: 2 }),
  logit_bias: { type: ['object', 'null'] },
  return_tokens_as_token_ids: nullable('boolean'),
};

export const completionSchema = {
  type: 'object',
  required: ['model', 'prompt'],
  additionalProperties: false,
  properties: {
    ...sampling,
    prompt: {
      anyOf: [
        { type: 'string' },
        { type: 'array', items: { type: 'string' }, minItems: 1 },
        tokenIds,
        { type: 'array', items: tokenIds, minItems: 1 },
      ],
    },
    logprobs: nullable('integer', { minimum: 0, maximum: 5 }),
    echo: nullable('boolean'),
    best_of: nullable('integer', { minimum: 1 }),
    suffix: nullable('string'),
  },
};

const textPart = {
  type: 'object',
  required: ['type', 'text'],
  additionalProperties: false,
  properties: { type: { const: 'text' }, text: { type: 'string' } },
};

export const chatSchema = {
  type: 'object',
  required: ['model', 'messages'],
  additionalProperties: false,
  properties: {
    ...sampling,
    messages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['role'],
        additionalProperties: false,
        properties: {
          role: { enum: ['system', 'developer', 'user', 'assistant'] },
          content: { anyOf: [{ type: 'string' }, { type: 'array', items: textPart }, { type: 'null' }] },
          name: { type: 'string' },
        },
      },
    },
    max_completion_tokens: nullable('integer', { minimum: 1 }),
    logprobs: nullable('boolean'),
    top_logprobs: nullable('integer', { minimum: 0, maximum: 20 }),
  },
};

export const loadAdapterSchema = {
  type: 'object',
  required: ['lora_name', 'lora_path'],
  additionalProperties: false,
  properties: { lora_name: { type: 'string', minLength: 1, maxLength: 128 }, lora_path: { type: 'string', minLength: 1, maxLength: 4096 } },
};

export const unloadAdapterSchema = {
  type: 'object',
  required: ['lora_name'],
  additionalProperties: false,
  properties: { lora_name: { type: 'string', minLength: 1 }, lora_int_id: { type: 'integer' } },
};

export type CompletionBody = {
  model: string;
  prompt: string | string[] | number[] | number[][];
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  n?: number | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean | null } | null;
  stop?: string | string[] | null;
  seed?: number | null;
  user?: string;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  logit_bias?: Record<string, unknown> | null;
  return_tokens_as_token_ids?: boolean | null;
  logprobs?: number | null;
  echo?: boolean | null;
  best_of?: number | null;
  suffix?: string | null;
};

export type ChatBody = Omit<CompletionBody, 'prompt' | 'logprobs' | 'echo' | 'best_of' | 'suffix'> & {
  messages: { role: string; content?: string | { type: 'text'; text: string }[] | null; name?: string }[];
  max_completion_tokens?: number | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
};
