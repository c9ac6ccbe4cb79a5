import { ApiError } from './api-error.js';
import type { PromptInput, SamplingParams } from './messages.js';
import type { ChatBody, CompletionBody } from './schemas.js';

/** OpenAI's legacy completions endpoint stops after 16 tokens when max_tokens is not given. */
export const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

/** Fields OpenAI defines that change decoding in ways this server does not: refused unless neutral. */
function refuseUnsupported(body: CompletionBody | ChatBody): void {
  for (const field of ['presence_penalty', 'frequency_penalty'] as const) {
    const value = body[field];
    if (value !== undefined && value !== null && value !== 0) throw new ApiError(400, `${field} is not supported by this server (only 0)`, field, 'unsupported_parameter');
  }
  if (body.logit_bias !== undefined && body.logit_bias !== null && Object.keys(body.logit_bias).length > 0) {
    throw new ApiError(400, 'logit_bias is not supported by this server', 'logit_bias', 'unsupported_parameter');
  }
  if (body.stream_options !== undefined && body.stream_options !== null && body.stream !== true) {
    throw new ApiError(400, 'stream_options is only allowed when stream is true', 'stream_options');
  }
}

function stopStrings(stop: string | string[] | null | undefined): string[] {
  if (stop === undefined || stop === null) return [];
  return (typeof stop === 'string' ? [stop] : stop).filter((text) => text.length > 0);
}

function baseParams(body: CompletionBody | ChatBody, maxTokens: number | null, logprobs: number | null): SamplingParams {
  const params: SamplingParams = {
    maxTokens,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    n: body.n ?? 1,
    stop: stopStrings(body.stop),
    logprobs,
    tokensAsIds: body.return_tokens_as_token_ids === true,
  };
  if (body.seed !== undefined && body.seed !== null) params.seed = body.seed;
  return params;
}

/** The prompts and sampling parameters of a /v1/completions body. */
export function completionRequest(body: CompletionBody): { prompts: PromptInput[]; params: SamplingParams } {
  refuseUnsupported(body);
  if (body.echo === true) throw new ApiError(400, 'echo is not supported by this server', 'echo', 'unsupported_parameter');
  if (body.suffix !== undefined && body.suffix !== null) throw new ApiError(400, 'suffix is not supported by this server', 'suffix', 'unsupported_parameter');
  if (body.best_of !== undefined && body.best_of !== null && body.best_of !== (body.n ?? 1)) {
    throw new ApiError(400, 'best_of other than n is not supported by this server', 'best_of', 'unsupported_parameter');
  }
  const prompt = body.prompt;
  let prompts: PromptInput[];
  if (typeof prompt === 'string') prompts = [{ kind: 'text', text: prompt }];
  else if (prompt.every((item) => typeof item === 'number')) prompts = [{ kind: 'ids', ids: prompt as number[] }];
  else prompts = (prompt as (string | number[])[]).map((item) => (typeof item === 'string' ? { kind: 'text', text: item } : { kind: 'ids', ids: item }));
  return { prompts, params: baseParams(body, body.max_tokens ?? COMPLETIONS_DEFAULT_MAX_TOKENS, body.logprobs ?? null) };
}

/** The conversation and sampling parameters of a /v1/chat/completions body. */
export function chatRequest(body: ChatBody): { prompts: PromptInput[]; params: SamplingParams } {
  refuseUnsupported(body);
  if (body.top_logprobs !== undefined && body.top_logprobs !== null && body.logprobs !== true) {
    throw new ApiError(400, 'top_logprobs needs logprobs: true', 'top_logprobs');
  }
  const messages = body.messages.map((message) => {
    const content = message.content;
    const text = content === undefined || content === null ? '' : typeof content === 'string' ? content : content.map((part) => part.text).join('');
    return message.name === undefined ? { role: message.role, content: text } : { role: message.role, content: text, name: message.name };
  });
  const logprobs = body.logprobs === true ? body.top_logprobs ?? 0 : null;
  return { prompts: [{ kind: 'chat', messages }], params: baseParams(body, body.max_completion_tokens ?? body.max_tokens ?? null, logprobs) };
}
