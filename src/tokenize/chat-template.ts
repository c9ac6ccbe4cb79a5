import { Template } from '@huggingface/jinja';
import { TunekitError } from '../errors.js';
import type { NamedChatTemplate } from './files.js';

/** A chat message; templates may read fields beyond role and content (tool calls, names). */
export interface ChatMessage {
  role: string;
  content: string | Array<Record<string, unknown>>;
  [field: string]: unknown;
}

export interface RenderChatOptions {
  addGenerationPrompt?: boolean;
  /** Pick one of several named templates; default "default" ("tool_use" when tools are given and it exists). */
  templateName?: string;
  /** Use this template text instead of the tokenizer's. */
  chatTemplate?: string;
  tools?: Array<Record<string, unknown>>;
  documents?: Array<Record<string, unknown>>;
  /** More variables for the template; they override the special tokens, as transformers' kwargs do. */
  variables?: Record<string, unknown>;
}

const compiledTemplates = new Map<string, Template>();

function compile(template: string, source: string): Template {
  let compiled = compiledTemplates.get(template);
  if (compiled === undefined) {
    try {
      compiled = new Template(template);
    } catch (error) {
      throw new TunekitError('chat-template', `${source}: the template does not parse: ${(error as Error).message}`);
    }
    compiledTemplates.set(template, compiled);
  }
  return compiled;
}

/** Chooses the template the way transformers' get_chat_template does. */
export function selectChatTemplate(
  templates: NamedChatTemplate[],
  folder: string,
  options: Pick<RenderChatOptions, 'templateName' | 'chatTemplate' | 'tools'>,
): NamedChatTemplate {
  if (options.chatTemplate !== undefined) {
    return { name: 'given', template: options.chatTemplate, source: 'the chatTemplate option' };
  }
  if (templates.length === 0) {
    throw new TunekitError(
      'chat-template-missing',
      `${folder}: the tokenizer has no chat template (no chat_template in tokenizer_config.json and no chat_template.jinja); ` +
        'pass chatTemplate, or format the prompt yourself',
    );
  }
  const names = templates.map((template) => template.name);
  let wanted = options.templateName;
  if (wanted === undefined) {
    if (templates.length === 1) return templates[0];
    wanted = options.tools !== undefined && names.includes('tool_use') ? 'tool_use' : 'default';
  }
  const found = templates.find((template) => template.name === wanted);
  if (found === undefined) {
    throw new TunekitError('chat-template-missing', `${folder}: no chat template named "${wanted}"; it has ${names.join(', ')}`);
  }
  return found;
}

/**
 * Renders one conversation with the variables transformers' apply_chat_template passes: messages,
 * add_generation_prompt, tools, documents, every named special token as a string, and the globals
 * raise_exception and strftime_now (provided by the template engine).
 */
export function renderChatTemplate(
  selected: NamedChatTemplate,
  messages: ChatMessage[],
  specialTokens: Record<string, string>,
  options: RenderChatOptions,
): string {
  if (messages.length === 0) {
    throw new TunekitError('chat-template', 'applyChatTemplate needs at least one message');
  }
  const template = compile(selected.template, selected.source);
  const variables: Record<string, unknown> = {
    ...specialTokens,
    ...options.variables,
    messages,
    add_generation_prompt: options.addGenerationPrompt ?? false,
  };
  if (options.tools !== undefined) variables.tools = options.tools;
  if (options.documents !== undefined) variables.documents = options.documents;
  try {
    return template.render(variables);
  } catch (error) {
    throw new TunekitError('chat-template', `${selected.source}: ${(error as Error).message}`);
  }
}

/** Whether a template has `{% generation %}` markers (TRL's has_generation_markers). */
export function hasGenerationMarkers(template: string): boolean {
  return /\{%-?\s*generation\s*-?%\}/.test(template);
}

const SPAN_START = '\uE000';
const SPAN_END = '\uE001';

/**
 * Renders like renderChatTemplate and also returns the character spans `[start, end)` that the template's
 * `{% generation %}…{% endgeneration %}` blocks produced (transformers' generation_indices). Each tag is replaced by
 * a block that prints a private-use marker, keeping the tag's whitespace control; the markers are then cut out.
 */
export function renderChatTemplateWithGenerationSpans(
  selected: NamedChatTemplate,
  messages: ChatMessage[],
  specialTokens: Record<string, string>,
  options: RenderChatOptions,
): { text: string; spans: Array<[number, number]> } {
  const marked = selected.template.replace(
    /\{%(-?)\s*(end)?generation\s*(-?)%\}/g,
    (_tag, lstrip: string, end: string | undefined, rstrip: string) =>
      `{%${lstrip} if true %}{{ '${end === undefined ? SPAN_START : SPAN_END}' }}{% endif ${rstrip}%}`,
  );
  const rendered = renderChatTemplate({ ...selected, template: marked }, messages, specialTokens, options);
  let text = '';
  const spans: Array<[number, number]> = [];
  let open: number | undefined;
  for (const char of rendered) {
    if (char === SPAN_START) open = text.length;
    else if (char === SPAN_END) {
      if (open !== undefined) spans.push([open, text.length]);
      open = undefined;
    } else text += char;
  }
  return { text, spans };
}
