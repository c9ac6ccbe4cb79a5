import { TunekitError } from '../errors.js';

/** What a DecodeStream needs from a tokenizer. */
export interface Decoding {
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
}

export interface DecodeStreamOptions {
  skipSpecialTokens?: boolean;
  /**
   * Ids already shown to the reader (the prompt). The last few serve as context, so the first new piece keeps
   * the leading space that decoding it alone would strip (Llama's Strip, Metaspace).
   */
  promptIds?: readonly number[];
}

const REPLACEMENT_CHARACTER = '\uFFFD';
const PROMPT_CONTEXT_IDS = 6;

/**
 * Turns ids that arrive one at a time into text pieces whose concatenation is the decoded text. A piece is
 * held back while the text ends in U+FFFD, which is how a byte-fallback or byte-level character split across
 * tokens decodes until its last byte arrives. Only a window of recent ids is decoded at each step.
 */
export class DecodeStream {
  private readonly skipSpecialTokens: boolean;
  private ids: number[] = [];
  private prefix = '';
  private prefixIndex = 0;

  constructor(
    private readonly tokenizer: Decoding,
    options: DecodeStreamOptions = {},
  ) {
    this.skipSpecialTokens = options.skipSpecialTokens ?? false;
    if (options.promptIds !== undefined && options.promptIds.length > 0) {
      this.ids = options.promptIds.slice(-PROMPT_CONTEXT_IDS);
      this.prefix = this.decodeWindow();
      this.prefixIndex = this.ids.length;
    }
  }

  /** Adds one id; returns the new text it completes ('' while a character is still incomplete). */
  step(id: number): string {
    this.ids.push(id);
    const text = this.decodeWindow();
    if (text.length <= this.prefix.length || text.endsWith(REPLACEMENT_CHARACTER)) return '';
    return this.emit(text);
  }

  /** Returns whatever is held back, incomplete characters included (as U+FFFD), at the end of a stream. */
  flush(): string {
    const text = this.decodeWindow();
    if (text.length <= this.prefix.length) return '';
    return this.emit(text);
  }

  private emit(text: string): string {
    if (!text.startsWith(this.prefix)) {
      throw new TunekitError(
        'decode-stream',
        `decoding more ids changed text already emitted (${JSON.stringify(this.prefix)} became ${JSON.stringify(text)}); ` +
          'this tokenizer decoder is not incremental',
      );
    }
    const piece = text.slice(this.prefix.length);
    this.ids = this.ids.slice(this.prefixIndex);
    this.prefix = this.decodeWindow();
    this.prefixIndex = this.ids.length;
    return piece;
  }

  private decodeWindow(): string {
    return this.ids.length === 0 ? '' : this.tokenizer.decode(this.ids, { skipSpecialTokens: this.skipSpecialTokens });
  }
}

/** Yields the text pieces of `ids` as a stream would produce them, then any held-back remainder. */
export function* incrementalDecode(tokenizer: Decoding, ids: Iterable<number>, options: DecodeStreamOptions = {}): Generator<string> {
  const stream = new DecodeStream(tokenizer, options);
  for (const id of ids) {
    const piece = stream.step(id);
    if (piece !== '') yield piece;
  }
  const rest = stream.flush();
  if (rest !== '') yield rest;
}
