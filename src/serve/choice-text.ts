import type { Decoding } from '../tokenize/decode-stream.js';

/** Prompt ids kept as decoding context, so the first new token keeps the space a lone decode would strip. */
const CONTEXT_IDS = 6;
const REPLACEMENT_CHARACTER = '\uFFFD';

/**
 * The text of one choice as its tokens arrive: decoded with the prompt's last ids as context, special tokens
 * skipped. Text is released only when final: not while it ends in an incomplete character (U+FFFD), and not
 * while its end could be the start of a stop string. A stop string anywhere in the text ends the choice, the
 * stop string and anything after it left out (OpenAI's rule).
 */
export class ChoiceText {
  readonly #context: number[];
  readonly #contextText: string;
  readonly #ids: number[] = [];
  #text = '';
  #released = 0;

  constructor(
    private readonly tokenizer: Decoding,
    promptIds: readonly number[],
    private readonly stop: readonly string[],
  ) {
    this.#context = promptIds.slice(-CONTEXT_IDS);
    this.#contextText = this.decodeWithContext([]);
  }

  private decodeWithContext(ids: readonly number[]): string {
    return this.tokenizer.decode([...this.#context, ...ids], { skipSpecialTokens: true });
  }

  private decode(ids: readonly number[]): string {
    const whole = this.decodeWithContext(ids);
    return whole.startsWith(this.#contextText) ? whole.slice(this.#contextText.length) : this.tokenizer.decode(ids, { skipSpecialTokens: true });
  }

  /** The text `id` adds after the tokens so far (logprobs' token strings), without adding it. */
  tokenText(id: number): string {
    const window = [...this.#context, ...this.#ids].slice(-CONTEXT_IDS);
    const before = this.tokenizer.decode(window, { skipSpecialTokens: false });
    const after = this.tokenizer.decode([...window, id], { skipSpecialTokens: false });
    return after.startsWith(before) ? after.slice(before.length) : this.tokenizer.decode([id], { skipSpecialTokens: false });
  }

  /** Adds a token; returns the newly final text and whether a stop string was reached. */
  push(id: number): { text: string; stopped: boolean } {
    this.#ids.push(id);
    this.#text = this.decode(this.#ids);
    let stopAt = -1;
    for (const stop of this.stop) {
      const at = this.#text.indexOf(stop);
      if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
    }
    if (stopAt >= 0) return { text: this.release(Math.max(stopAt, this.#released)), stopped: true };
    return { text: this.release(this.finalLength()), stopped: false };
  }

  /** Everything not yet released (the choice ended by length or an end-of-sequence token). */
  finish(): string {
    return this.release(this.#text.length);
  }

  private finalLength(): number {
    let end = this.#text.length;
    while (end > this.#released && this.#text[end - 1] === REPLACEMENT_CHARACTER) end--;
    let safe = end;
    for (const stop of this.stop) {
      for (let overlap = Math.min(stop.length - 1, end - this.#released); overlap > 0; overlap--) {
        if (this.#text.slice(end - overlap, end) === stop.slice(0, overlap)) {
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
