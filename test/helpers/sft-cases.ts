import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadTokenizer, type Tokenizer } from '../../src/tokenize/index.js';
import { tokenizeSftDataset, type SftOptions } from '../../src/data/sft.js';
import { packExamples, type PackingStrategy } from '../../src/data/packing.js';
import { collateLanguageModeling, sftPadTokenId } from '../../src/data/collate.js';
import { repoRoot, sharedDir } from './paths.js';

export interface SftCase {
  name: string;
  tokenizer: string;
  template?: string;
  config: Record<string, unknown>;
  records: unknown[];
}
export interface TrlResult {
  name: string;
  examples?: Array<{ input_ids: number[]; labels: number[]; seq_lengths?: number[] }>;
  batch?: Record<string, number[][]>;
  error?: string;
  skipped?: string;
}

export const casesPath = path.join(repoRoot, 'test', 'fixtures', 'data', 'sft-cases.json');
export const recordedPath = path.join(repoRoot, 'test', 'fixtures', 'data', 'sft-trl.json');
export const peerScript = path.join(repoRoot, 'bench', 'peer', 'trl_tokenize.py');
export const spec = JSON.parse(readFileSync(casesPath, 'utf8')) as { templates: Record<string, string>; cases: SftCase[] };
export const recorded = JSON.parse(readFileSync(recordedPath, 'utf8')) as { trl: string; cases: TrlResult[] };

const folders: Record<string, string> = {
  stories260K: path.join(sharedDir, 'reference', 'models', 'stories260K'),
  'gpt2-bpe': path.join(repoRoot, 'test', 'fixtures', 'tokenize', 'gpt2-bpe'),
};
const tokenizers = new Map<string, Tokenizer>();
export function caseTokenizer(name: string): Tokenizer | undefined {
  if (!existsSync(folders[name])) return undefined;
  if (!tokenizers.has(name)) tokenizers.set(name, loadTokenizer(folders[name]));
  return tokenizers.get(name);
}

/** SFTConfig keys (as the case gives them) to our options. */
export function optionsOf(testCase: SftCase): SftOptions & { packingStrategy?: PackingStrategy; padToMultipleOf?: number } {
  const c = testCase.config as Record<string, never>;
  return {
    ...(c.max_length !== undefined ? { maxLength: c.max_length } : {}),
    ...(c.truncation_mode !== undefined ? { truncationMode: c.truncation_mode } : {}),
    ...(c.completion_only_loss !== undefined ? { completionOnlyLoss: c.completion_only_loss } : {}),
    ...(c.assistant_only_loss !== undefined ? { assistantOnlyLoss: c.assistant_only_loss } : {}),
    ...(c.dataset_text_field !== undefined ? { datasetTextField: c.dataset_text_field } : {}),
    ...(c.packing !== undefined ? { packing: c.packing } : {}),
    ...(c.packing_strategy !== undefined ? { packingStrategy: c.packing_strategy } : {}),
    ...(c.pad_to_multiple_of !== undefined ? { padToMultipleOf: c.pad_to_multiple_of } : {}),
    ...(testCase.template !== undefined ? { chatTemplate: spec.templates[testCase.template] } : {}),
  };
}

/** Our whole pipeline for one case, shaped like the peer's output. */
export function runOurs(testCase: SftCase, tokenizer: Tokenizer): TrlResult {
  const options = optionsOf(testCase);
  let examples: TrlResult['examples'] = tokenizeSftDataset(tokenizer, testCase.records, options).examples.map((example) => ({
    input_ids: example.input_ids,
    labels: example.labels,
  }));
  const strategy = options.packingStrategy ?? 'bfd';
  if (options.packing) examples = packExamples(examples, options.maxLength ?? 1024, strategy);
  const batch = collateLanguageModeling(examples, {
    padTokenId: sftPadTokenId(tokenizer).padTokenId,
    paddingFree: options.packing === true && strategy !== 'wrapped',
    ...(options.padToMultipleOf !== undefined ? { padToMultipleOf: options.padToMultipleOf } : {}),
  });
  const shaped: Record<string, number[][]> = { input_ids: batch.inputIds, labels: batch.labels };
  if (batch.attentionMask) shaped.attention_mask = batch.attentionMask;
  if (batch.positionIds) shaped.position_ids = batch.positionIds;
  return { name: testCase.name, examples, batch: shaped };
}
