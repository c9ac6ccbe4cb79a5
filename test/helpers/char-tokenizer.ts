// A T5-style tokenizer.json (Unigram over single characters, Metaspace, </s> appended) small enough for the hf-tiny
// T5's 256-token vocabulary, so that model can be fine-tuned on text in tests. Made here, not downloaded.
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const CHARACTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?\'"#:;-()$%&/@+=*';

export function writeCharTokenizer(dir: string): void {
  const special = ['<pad>', '</s>', '<unk>'];
  const vocab: [string, number][] = [...special.map((token): [string, number] => [token, 0]), ['▁', -2], ...[...CHARACTERS].map((char): [string, number] => [char, -3])];
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: special.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 2, vocab, byte_fallback: false },
  };
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>', tokenizer_class: 'T5Tokenizer', model_max_length: 512 }));
}

/** A copy of a model folder's files (weights, config) with the character tokenizer beside them. */
export function modelWithCharTokenizer(modelDir: string, into: string): string {
  mkdirSync(into, { recursive: true });
  for (const name of readdirSync(modelDir)) if (/\.(json|safetensors)$/.test(name) && name !== 'golden.json') copyFileSync(path.join(modelDir, name), path.join(into, name));
  writeCharTokenizer(into);
  return into;
}
