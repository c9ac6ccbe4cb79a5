import type { Tokenizer } from '../tokenize/tokenizer.js';
import { ApiError } from './api-error.js';
import type { JobRequest } from './messages.js';

/**
 * The token ids of each prompt of a request: text encoded as `tunekit generate --prompt` encodes it (special
 * tokens added), token ids used exactly as given, a conversation rendered with the model's chat template and its
 * generation prompt (as `tunekit generate --chat` does). Errors name the request field.
 */
export function preparePrompts(request: JobRequest, tokenizer: Tokenizer | null, vocabSize: number, kind: 'causal' | 'seq2seq'): number[][] {
  const field = request.promptField;
  return request.prompts.map((prompt, index) => {
    const where = request.prompts.length > 1 ? `${field}[${index}]` : field;
    let ids: number[];
    if (prompt.kind === 'ids') ids = prompt.ids;
    else {
      if (tokenizer === null) throw new ApiError(400, `this model has no tokenizer.json: send ${field} as a list of token ids`, where);
      if (prompt.kind === 'text') ids = tokenizer.encode(prompt.text);
      else {
        try {
          ids = tokenizer.applyChatTemplate(prompt.messages, { addGenerationPrompt: true, tokenize: true });
        } catch (error) {
          throw new ApiError(400, `the chat template could not render these messages: ${(error as Error).message}`, field);
        }
      }
    }
    if (ids.length === 0 && kind === 'causal') throw new ApiError(400, `${where} is empty: a completion needs at least one prompt token`, where);
    const bad = ids.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
    if (bad >= 0) throw new ApiError(400, `${where} has token id ${ids[bad]} at position ${bad}, outside the model's vocabulary (0 to ${vocabSize - 1})`, where);
    return ids;
  });
}
