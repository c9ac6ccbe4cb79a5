// OpenAI's response objects for completions and chat completions, whole and as stream chunks.
import type { ChoiceDelta, FinishReason, TokenLogprob } from './messages.js';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usage(promptTokens: number, completionTokens: number): Usage {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/** One choice as its deltas arrive. */
export class ChoiceState {
  text = '';
  readonly logprobs: TokenLogprob[] = [];
  finishReason: FinishReason | null = null;
  /** Where each logprob token starts in the text (completions' text_offset). */
  readonly offsets: number[] = [];
  #tokenTextLength = 0;

  add(delta: ChoiceDelta): void {
    this.text += delta.text;
    if (delta.logprob !== undefined) {
      this.offsets.push(this.#tokenTextLength);
      this.#tokenTextLength += delta.logprob.token.length;
      this.logprobs.push(delta.logprob);
    }
    if (delta.finishReason !== undefined) this.finishReason = delta.finishReason;
  }
}

/** How one endpoint lays out its objects. */
export interface ResponseShape {
  object: string;
  chunkObject: string;
  idPrefix: string;
  choice(index: number, state: ChoiceState, wantLogprobs: boolean): Record<string, unknown>;
  /** The stream choices a delta becomes (its state already updated). */
  chunkChoices(delta: ChoiceDelta, state: ChoiceState): Record<string, unknown>[];
  /** Stream choices sent before any token (chat: each choice's role). */
  openingChoices(choices: number): Record<string, unknown>[];
}

function completionLogprobs(entries: TokenLogprob[], offsets: number[]): Record<string, unknown> {
  return {
    tokens: entries.map((entry) => entry.token),
    token_logprobs: entries.map((entry) => entry.logprob),
    top_logprobs: entries.map((entry) => Object.fromEntries(entry.top.map((alternative) => [alternative.token, alternative.logprob]))),
    text_offset: offsets,
  };
}

function chatLogprob(entry: TokenLogprob): Record<string, unknown> {
  return {
    token: entry.token,
    logprob: entry.logprob,
    bytes: entry.bytes,
    top_logprobs: entry.top.map((alternative) => ({ token: alternative.token, logprob: alternative.logprob, bytes: alternative.bytes })),
  };
}

export const completionShape: ResponseShape = {
  object: 'text_completion',
  chunkObject: 'text_completion',
  idPrefix: 'cmpl-',
  choice: (index, state, wantLogprobs) => ({
    index,
    text: state.text,
    logprobs: wantLogprobs ? completionLogprobs(state.logprobs, state.offsets) : null,
    finish_reason: state.finishReason,
  }),
  chunkChoices: (delta, state) => {
    if (delta.text === '' && delta.logprob === undefined && delta.finishReason === undefined) return [];
    const logprobs = delta.logprob === undefined ? null : completionLogprobs([delta.logprob], state.offsets.slice(-1));
    return [{ index: delta.index, text: delta.text, logprobs, finish_reason: delta.finishReason ?? null }];
  },
  openingChoices: () => [],
};

export const chatShape: ResponseShape = {
  object: 'chat.completion',
  chunkObject: 'chat.completion.chunk',
  idPrefix: 'chatcmpl-',
  choice: (index, state, wantLogprobs) => ({
    index,
    message: { role: 'assistant', content: state.text },
    logprobs: wantLogprobs ? { content: state.logprobs.map(chatLogprob) } : null,
    finish_reason: state.finishReason,
  }),
  chunkChoices: (delta) => {
    const choices: Record<string, unknown>[] = [];
    if (delta.text !== '' || delta.logprob !== undefined) {
      const logprobs = delta.logprob === undefined ? null : { content: [chatLogprob(delta.logprob)] };
      choices.push({ index: delta.index, delta: { content: delta.text }, logprobs, finish_reason: null });
    }
    if (delta.finishReason !== undefined) choices.push({ index: delta.index, delta: {}, logprobs: null, finish_reason: delta.finishReason });
    return choices;
  },
  openingChoices: (choices) => Array.from({ length: choices }, (_, index) => ({ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null })),
};
