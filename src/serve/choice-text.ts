import { DecodeStream, type Decoding } from '../tokenize/decode-stream.js';

/** Ids before a token used as context when naming it (logprobs), so it keeps the space a lone decode strips. */
const CONTEXT_IDS = 6;

/**
 * The text of one choice as its tokens arrive, decoded incrementally (a DecodeStream with the prompt's last ids
 * as context, special tokens skipped, incomplete characters held back). Text is released only when final: not
 * while its end could be the start of a stop string. A stop string anywhere in the text ends the choice, the stop
 * string and anything after it left out (OpenAI's rule). Each token costs a decode of a few ids, however long
 * the choice grows.
 */
export class ChoiceText {
  readonly #stream: DecodeStream;
  readonly #recent: number[];
  readonly #longestStop: number;
  #text = '';
  #released = 0;

  constructor(
    private readonly tokenizer: Decoding,
    promptIds: readonly number[],
    private readonly stop: readonly string[],
  ) {
    this.#stream = new DecodeStream(tokenizer, { skipSpecialTokens: true, promptIds });
    this.#recent = promptIds.slice(-CONTEXT_IDS);
    this.#longestStop = Math.max(0, ...stop.map((text) => text.length));
  }

  /** The text `id` adds after the tokens so far (logprobs' token strings), without adding it. */
  tokenText(id: number): string {
    const before = this.tokenizer.decode(this.#recent, { skipSpecialTokens: false });
    const after = this.tokenizer.decode([...this.#recent, id], { skipSpecialTokens: false });
    return after.startsWith(before) ? after.slice(before.length) : this.tokenizer.decode([id], { skipSpecialTokens: false });
  }

  /** Adds a token; returns the newly final text and whether a stop string was reached. */
  push(id: number): { text: string; stopped: boolean } {
    this.#recent.push(id);
    if (this.#recent.length > CONTEXT_IDS) this.#recent.shift();
    const searchFrom = Math.max(0, this.#text.length - this.#longestStop + 1);
    this.#text += this.piece(id);
    let stopAt = -1;
    for (const stop of this.stop) {
      const at = this.#text.indexOf(stop, searchFrom);
      if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
    }
    if (stopAt >= 0) return { text: this.release(Math.max(stopAt, this.#released)), stopped: true };
    return { text: this.release(this.finalLength()), stopped: false };
  }

  /** The text `id` completes; a decoder that rewrites earlier text makes the stream refuse, then `id` decodes alone. */
  private piece(id: number): string {
    try {
      return this.#stream.step(id);
    } catch {
      return this.tokenizer.decode([id], { skipSpecialTokens: true });
    }
  }

  /** Everything not yet released (the choice ended by length or an end-of-sequence token). */
  finish(): string {
    this.#text += this.#stream.flush();
    return this.release(this.#text.length);
  }

  /** The end of the text that no stop string can still claim. */
  private finalLength(): number {
    const end = this.#text.length;
    let safe = end;
    for (const stop of this.stop) {
      for (let overlap = Math.min(stop.length - 1, end - this.#released); overlap > 0; overlap--) {
        if (this.#text.endsWith(stop.slice(0, overlap))) {
          safe = Math.min(safe, end - overlap);
          break;
        }
      }
    }
    return safe;
  }

  private release(end: number): string {
    const piece = this.#text.slice(this.#released, end);
    this.#released = Math.max(this.#released, end);
    return piece;
  }
}
