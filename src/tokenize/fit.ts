import { TunekitError } from '../errors.js';
import { oneLine } from '../io/text.js';
import type { Tokenizer } from './tokenizer.js';

/** What the check reads from a tokenizer (a Tokenizer, or anything shaped like one in tests). */
export type TokenizerIds = Pick<Tokenizer, 'folder' | 'vocabSize' | 'idToToken' | 'bosTokenId' | 'eosTokenId' | 'padTokenId' | 'unkTokenId' | 'decoderStartTokenId'>;

/**
 * Fails when the tokenizer can produce an id the model has no embedding row for: its vocabulary plus added tokens
 * reach past `vocabSize` (config.json's `vocab_size`), or one of its special token ids does. A tokenizer smaller
 * than the model is fine (checkpoints often pad the embedding). `source` names the model's config.json in the
 * message. Error code `E_TOKENIZER_VOCAB`; the message is one line.
 */
export function checkTokenizerFitsModel(tokenizer: TokenizerIds, vocabSize: number, source: string): void {
  const where = `${source}: "vocab_size" is ${vocabSize}, but the tokenizer in ${tokenizer.folder}`;
  if (tokenizer.vocabSize > vocabSize) {
    const largest = tokenizer.vocabSize - 1;
    const token = tokenizer.idToToken(largest);
    const named = token === undefined ? '' : ` (${oneLine(JSON.stringify(token))})`;
    throw new TunekitError('E_TOKENIZER_VOCAB', `${where} has ids up to ${largest}${named}: the model has no embedding for ids ${vocabSize} to ${largest}`);
  }
  const special: Array<[string, number | number[] | undefined]> = [
    ['bos_token', tokenizer.bosTokenId],
    ['eos_token', tokenizer.eosTokenId],
    ['pad_token', tokenizer.padTokenId],
    ['unk_token', tokenizer.unkTokenId],
    ['decoder_start_token_id', tokenizer.decoderStartTokenId],
  ];
  for (const [name, ids] of special) {
    for (const id of ids === undefined ? [] : Array.isArray(ids) ? ids : [ids]) {
      if (id >= vocabSize) throw new TunekitError('E_TOKENIZER_VOCAB', `${where} gives ${name} id ${id}, outside the model's vocabulary`);
    }
  }
}
