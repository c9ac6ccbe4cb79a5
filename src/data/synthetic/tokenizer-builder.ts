// A small deterministic tokenizer.json for a closed vocabulary: Unigram over whole words seen in a corpus (with the
// Metaspace word-start mark "▁"), backed by every printable ASCII character so that no ASCII text is unknown.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TunekitError } from '../../errors.js';

export const WORD_TOKENIZER_SPECIALS = { pad: '<pad>', bos: '<s>', eos: '</s>', unk: '<unk>' } as const;
const WORD_START = '▁';
const PIECE = /#Person\d+#:|[A-Za-z0-9']+|[^A-Za-z0-9']/g;

/** Every printable ASCII character and the newline: the fallback pieces. */
function fallbackCharacters(): string[] {
  const characters = ['\n'];
  for (let code = 0x21; code < 0x7f; code++) characters.push(String.fromCharCode(code));
  return characters;
}

/** The pieces a text splits into as the built tokenizer sees words: "Hi Ben!" -> ["▁Hi", "▁Ben", "!"]. */
export function wordPieces(text: string): string[] {
  const pieces: string[] = [];
  for (const chunk of text.split(' ')) {
    // PIECE matches every character, so the first piece starts the chunk and carries the mark.
    const matches = chunk.match(PIECE) ?? [];
    if (matches.length === 0) pieces.push(WORD_START);
    matches.forEach((piece, index) => pieces.push(index === 0 ? WORD_START + piece : piece));
  }
  return pieces;
}

export interface WordTokenizerOptions {
  /** Most tokens in all (specials and fallback characters included); the rarest words are left out. Default 1000. */
  maxVocabSize?: number;
  /** model_max_length in tokenizer_config.json (default 256). */
  modelMaxLength?: number;
}

export interface WordTokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  vocabSize: number;
}

/** tokenizer.json and tokenizer_config.json for `texts`; the same texts give byte-identical files on any machine. */
export function buildWordTokenizer(texts: Iterable<string>, options: WordTokenizerOptions = {}): WordTokenizerFiles {
  const maxVocabSize = options.maxVocabSize ?? 1000;
  const specials = [WORD_TOKENIZER_SPECIALS.pad, WORD_TOKENIZER_SPECIALS.bos, WORD_TOKENIZER_SPECIALS.eos, WORD_TOKENIZER_SPECIALS.unk];
  const characters = [WORD_START, ...fallbackCharacters()];
  const room = maxVocabSize - specials.length - characters.length;
  if (room < 0) throw new TunekitError('E_TOKENIZER_SIZE', `maxVocabSize ${maxVocabSize} is below the ${specials.length + characters.length} special and character tokens`);

  const counts = new Map<string, number>();
  for (const text of texts) for (const piece of wordPieces(text)) counts.set(piece, (counts.get(piece) ?? 0) + 1);
  const characterSet = new Set(characters);
  const words = [...counts.entries()]
    .filter(([piece]) => !characterSet.has(piece))
    .sort(([a, countA], [b, countB]) => countB - countA || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, room);
  const total = words.reduce((sum, [, count]) => sum + count, 0) || 1;
  // Log-probabilities rounded so the JSON is the same everywhere; characters score far below any word.
  const score = (count: number) => Math.round(Math.log(count / total) * 1e4) / 1e4;
  const lowest = words.length > 0 ? score(words[words.length - 1][1]) : 0;
  const vocab: [string, number][] = [
    ...specials.map((token): [string, number] => [token, 0]),
    ...characters.map((token): [string, number] => [token, lowest - 10]),
    ...words.map(([piece, count]): [string, number] => [piece, score(count)]),
  ];
  const bosId = specials.indexOf(WORD_TOKENIZER_SPECIALS.bos);
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: WORD_START, prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: WORD_TOKENIZER_SPECIALS.bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: WORD_TOKENIZER_SPECIALS.bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: WORD_TOKENIZER_SPECIALS.bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [WORD_TOKENIZER_SPECIALS.bos]: { id: WORD_TOKENIZER_SPECIALS.bos, ids: [bosId], tokens: [WORD_TOKENIZER_SPECIALS.bos] } },
    },
    decoder: { type: 'Metaspace', replacement: WORD_START, prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: specials.indexOf(WORD_TOKENIZER_SPECIALS.unk), vocab, byte_fallback: false },
  };
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: WORD_TOKENIZER_SPECIALS.bos,
    eos_token: WORD_TOKENIZER_SPECIALS.eos,
    pad_token: WORD_TOKENIZER_SPECIALS.pad,
    unk_token: WORD_TOKENIZER_SPECIALS.unk,
    add_bos_token: true,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: options.modelMaxLength ?? 256,
    padding_side: 'right',
  };
  return { tokenizerJson, tokenizerConfig, vocabSize: vocab.length };
}

/** Writes tokenizer.json and tokenizer_config.json for `texts` into `dir` (created when missing); returns the vocabulary size. */
export function writeWordTokenizer(dir: string, texts: Iterable<string>, options: WordTokenizerOptions = {}): number {
  const files = buildWordTokenizer(texts, options);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(files.tokenizerJson, null, 1) + '\n');
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig, null, 2) + '\n');
  return files.vocabSize;
}
