// The messages between the HTTP thread and the model worker (structured-clone plain data only).
import type { ChatMessage } from '../tokenize/chat-template.js';

/** What to decode from: text, token ids, or a conversation for the chat template. */
export type PromptInput = { kind: 'text'; text: string } | { kind: 'ids'; ids: number[] } | { kind: 'chat'; messages: ChatMessage[] };

/** OpenAI's sampling parameters, validated (temperature 0 or top_p 0 is greedy). */
export interface SamplingParams {
  /** null: up to the end of the context. */
  maxTokens: number | null;
  temperature: number;
  topP: number;
  /** Choices per prompt. */
  n: number;
  seed?: number;
  stop: string[];
  /** Alternatives to report per token; null: no logprobs at all, 0: the chosen token's only. */
  logprobs: number | null;
  /** vLLM's `return_tokens_as_token_ids`: logprobs name tokens "token_id:<id>" (exact, and without a tokenizer). */
  tokensAsIds: boolean;
}

export interface JobRequest {
  id: number;
  /** null: the base model. */
  adapter: string | null;
  prompts: PromptInput[];
  params: SamplingParams;
  /** The request field the prompts came from, named in errors ("prompt" or "messages"). */
  promptField: string;
}

export interface TokenAlternative {
  token: string;
  bytes: number[];
  logprob: number;
}

export interface TokenLogprob extends TokenAlternative {
  top: TokenAlternative[];
}

export type FinishReason = 'stop' | 'length';

/** One choice's progress in one decoding step. */
export interface ChoiceDelta {
  index: number;
  tokenId: number;
  /** Text that became final with this token (held back while it could still be part of a stop string). */
  text: string;
  logprob?: TokenLogprob;
  finishReason?: FinishReason;
}

/** An error as OpenAI's API reports it, with its HTTP status. */
export interface ApiErrorBody {
  status: number;
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

export interface AdapterInfo {
  name: string;
  dir: string;
}

export type ToWorker =
  | { type: 'submit'; job: JobRequest }
  | { type: 'cancel'; id: number }
  | { type: 'load-adapter'; requestId: number; adapter: AdapterInfo }
  | { type: 'unload-adapter'; requestId: number; name: string }
  | { type: 'shutdown' };

export type FromWorker =
  | { type: 'ready'; threads: number; contextLength: number | null; adapters: AdapterInfo[]; modelDir: string; hasChatTemplate: boolean }
  | { type: 'init-failed'; message: string }
  | { type: 'started'; id: number; promptTokens: number }
  | { type: 'deltas'; id: number; deltas: ChoiceDelta[] }
  | { type: 'done'; id: number; completionTokens: number }
  | { type: 'failed'; id: number; error: ApiErrorBody }
  | { type: 'step'; rows: number; durationMs: number; liveTensors: number }
  | { type: 'reply'; requestId: number; error: ApiErrorBody | null }
  | { type: 'warning'; message: string };

/** The options the worker starts with. */
export interface WorkerOptions {
  model: string;
  adapters: AdapterInfo[];
  maxBatch: number;
  threads?: number;
  dtype?: 'float32' | 'bfloat16';
}
