export {
  Tokenizer,
  loadTokenizer,
  type ApplyChatTemplateOptions,
  type DecodeOptions,
  type EncodeBatchOptions,
  type EncodeOptions,
} from './tokenizer.js';
export type { BatchEncoding, Side } from './batch.js';
export type { ChatMessage, RenderChatOptions } from './chat-template.js';
export { hasGenerationMarkers } from './chat-template.js';
export type { NamedChatTemplate } from './files.js';
export { DecodeStream, incrementalDecode, type DecodeStreamOptions, type Decoding } from './decode-stream.js';
export { checkTokenizerFitsModel, type TokenizerIds } from './fit.js';
